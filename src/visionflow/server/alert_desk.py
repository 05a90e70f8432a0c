"""The alert receiver's memory: alerts Alertmanager posted, and what the playbook did about each.

Bounded (oldest forgotten first). One playbook runs at a time per alert name and instance:
Alertmanager re-sends a group while it changes, and a restart must not be started twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from visionflow.observability.logging import log_event
from visionflow.ops.playbook import Action, Playbook

__all__ = ["AlertDesk"]

log = logging.getLogger("visionflow.alerts")


class AlertDesk:
    """Records alerts and runs their playbooks in the background."""

    def __init__(self, playbook: Playbook, *, keep: int = 1000) -> None:
        self.playbook = playbook
        self._alerts: deque[dict[str, Any]] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}

    def receive(self, receiver: str, alerts: list[Mapping[str, Any]]) -> list[int]:
        """Record ``alerts`` and start their playbooks; returns the ids given to them."""
        ids = []
        for alert in alerts:
            labels = dict(alert.get("labels", {}))
            record: dict[str, Any] = {
                "id": next(self._ids),
                "received_at": time.time(),
                "receiver": receiver,
                "status": alert.get("status"),
                "alertname": labels.get("alertname", ""),
                "severity": labels.get("severity"),
                "labels": labels,
                "annotations": dict(alert.get("annotations", {})),
                "starts_at": alert.get("startsAt"),
                "ends_at": alert.get("endsAt"),
                "fingerprint": alert.get("fingerprint"),
                "playbook": "pending",
                "actions": [],
            }
            self._alerts.append(record)
            ids.append(record["id"])
            level = "WARN" if record["status"] == "firing" else "INFO"
            log_event(log, level, "alert_received", category="system", alertname=record["alertname"],
                      status=record["status"], severity=record["severity"], receiver=receiver,
                      instance=labels.get("instance"))  # fmt: skip
            key = (record["alertname"], labels.get("instance", ""))
            if record["status"] != "firing":
                record["playbook"] = "none"
            elif key in self._running:
                record["playbook"] = "skipped"
                record["actions"].append(Action("skipped", True, {"reason": "a playbook for it is running"}).to_dict())
            else:
                task = asyncio.get_running_loop().create_task(self._run(record, alert))
                self._running[key] = task
                task.add_done_callback(lambda _t, k=key: self._running.pop(k, None))  # type: ignore[misc]
        return ids

    async def _run(self, record: dict[str, Any], alert: Mapping[str, Any]) -> None:
        record["playbook"] = "running"
        try:
            actions = await self.playbook.respond(alert)
        except Exception as exc:  # a playbook bug must not take the receiver down; record it instead
            record["playbook"] = "failed"
            record["actions"].append(Action("playbook_error", False, {"error": repr(exc)}).to_dict())
            log.exception("playbook failed", extra={"event": "playbook_failed", "category": "system",
                                                    "fields": {"alertname": record["alertname"]}})  # fmt: skip
            return
        record["actions"].extend(a.to_dict() for a in actions)
        record["playbook"] = "done"
        steps = [f"{a.name}:{'ok' if a.ok else 'failed'}" for a in actions]
        log_event(log, "INFO" if all(a.ok for a in actions) else "WARN", "playbook_done", category="system",
                  alertname=record["alertname"], actions=steps)  # fmt: skip

    def recent(
        self, *, status: str | None = None, alertname: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first."""
        out = []
        for record in reversed(self._alerts):
            if (status is None or record["status"] == status) and (
                alertname is None or record["alertname"] == alertname
            ):
                out.append(record)
                if len(out) >= limit:
                    break
        return out

    def __len__(self) -> int:
        return len(self._alerts)

    async def wait_idle(self) -> None:
        """Wait for every running playbook (tests and shutdown)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
