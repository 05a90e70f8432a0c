"""The alert receiver's memory: alerts Alertmanager posted, and what the playbook did about each.

Bounded in count and in bytes (oldest forgotten first). One playbook runs at a time per alert
name, whatever the other labels say: an alert of that name arriving while it runs joins it
(``coalesced``) instead of starting another, so a thousand ServiceDown alerts with a thousand
different ``instance`` labels are one run, one restart at most and one escalation at most.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from visionflow.observability.logging import log_event
from visionflow.ops.playbook import Action, Incident, Playbook

__all__ = ["AlertDesk"]

log = logging.getLogger("visionflow.alerts")

_LOGGED_NAMES = 10
_LOGGED_CHARS = 100


@dataclass(slots=True)
class _Run:
    record_id: int
    incident: Incident
    task: asyncio.Task[None]


def _size(record: Mapping[str, Any]) -> int:
    return len(orjson.dumps(record, default=str))


class AlertDesk:
    """Records alerts and runs their playbooks in the background."""

    def __init__(self, playbook: Playbook, *, keep: int = 1000, max_bytes: int = 16 << 20) -> None:
        self.playbook = playbook
        self.keep = keep
        self.max_bytes = max_bytes
        self._alerts: deque[dict[str, Any]] = deque()
        self._sizes: dict[int, int] = {}
        self._bytes = 0
        self._ids = itertools.count(1)
        self._running: dict[str, _Run] = {}
        self.on_record: Callable[[dict[str, Any]], None] | None = None
        """Told of every record when it is kept and again when its playbook finishes (the store saves them)."""

    def restore(self, records: Sequence[Mapping[str, Any]], next_id: int) -> None:
        """Take back records saved before a restart (oldest first); new alerts are numbered from ``next_id``."""
        for record in records:
            kept = dict(record)
            if kept.get("playbook") in ("pending", "running"):
                kept["playbook"] = "interrupted"  # the process that ran it is gone
            self._alerts.append(kept)
            self._sizes[kept["id"]] = size = _size(kept)
            self._bytes += size
        self._evict()
        self._ids = itertools.count(max(next_id, 1))

    def receive(self, receiver: str, alerts: Sequence[Mapping[str, Any]]) -> list[int]:
        """Record ``alerts`` and start their playbooks; returns the ids given to them."""
        ids = []
        coalesced = 0
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
                "playbook": "none",
                "actions": [],
            }
            ids.append(record["id"])
            if self.playbook.handles(alert):
                run = self._running.get(record["alertname"])
                if run is None:
                    self._start(record, alert)
                else:
                    run.incident.joined += 1
                    coalesced += 1
                    record["playbook"] = "coalesced"
                    record["actions"].append(Action("coalesced", True, {"into": run.record_id}).to_dict())
            self._append(record)
        self._log_received(receiver, alerts, coalesced)
        return ids

    def _start(self, record: dict[str, Any], alert: Mapping[str, Any]) -> None:
        record["playbook"] = "pending"
        name = record["alertname"]
        incident = Incident(alert)
        task = asyncio.get_running_loop().create_task(self._run(record, incident))
        self._running[name] = _Run(record["id"], incident, task)
        log_event(log, "WARN", "playbook_started", category="system", alertname=str(name)[:_LOGGED_CHARS],
                  instance=str(record["labels"].get("instance", ""))[:_LOGGED_CHARS])  # fmt: skip

    def _log_received(self, receiver: str, alerts: Sequence[Mapping[str, Any]], coalesced: int) -> None:
        """One line a request, however many alerts it holds."""
        if not alerts:
            return
        statuses = Counter(str(a.get("status")) for a in alerts)
        names = list(dict.fromkeys(str(a.get("labels", {}).get("alertname", ""))[:_LOGGED_CHARS] for a in alerts))
        log_event(log, "WARN" if statuses["firing"] else "INFO", "alert_received", category="system",
                  receiver=receiver[:_LOGGED_CHARS], alerts=len(alerts), firing=statuses["firing"],
                  resolved=statuses["resolved"], coalesced=coalesced, alertnames=names[:_LOGGED_NAMES],
                  more_alertnames=max(0, len(names) - _LOGGED_NAMES))  # fmt: skip

    # ------------------------------------------------------------------ store
    def _append(self, record: dict[str, Any]) -> None:
        self._alerts.append(record)
        self._sizes[record["id"]] = size = _size(record)
        self._bytes += size
        self._evict()
        if self.on_record is not None:
            self.on_record(record)

    def _finish(self, record: dict[str, Any]) -> None:
        """Alerts from now on start a new run (in the same step that shows this one as finished)."""
        run = self._running.get(record["alertname"])
        if run is not None and run.record_id == record["id"]:
            del self._running[record["alertname"]]

    def _settle(self, record: dict[str, Any]) -> None:
        """Account for ``record``'s actions, unless it has been forgotten meanwhile."""
        old = self._sizes.get(record["id"])
        if old is not None:
            self._sizes[record["id"]] = size = _size(record)
            self._bytes += size - old
            self._evict()
        if self.on_record is not None:
            self.on_record(record)

    def _evict(self) -> None:
        """Forget the oldest until both caps hold; the newest record always stays."""
        while len(self._alerts) > 1 and (len(self._alerts) > self.keep or self.stored_bytes > self.max_bytes):
            old = self._alerts.popleft()
            self._bytes -= self._sizes.pop(old["id"])

    @property
    def stored_bytes(self) -> int:
        """The size of every record kept as one JSON list (the ``alerts`` of ``GET /api/alerts?limit=keep``)."""
        return self._bytes + max(len(self._alerts) - 1, 0) + 2

    # -------------------------------------------------------------- playbooks
    async def _run(self, record: dict[str, Any], incident: Incident) -> None:
        record["playbook"] = "running"
        try:
            actions = await self.playbook.respond(incident)
        except Exception as exc:  # a playbook bug must not take the receiver down; record it instead
            self._finish(record)
            record["playbook"] = "failed"
            record["actions"].append(Action("playbook_error", False, {"error": repr(exc)}).to_dict())
            log.exception("playbook failed", extra={"event": "playbook_failed", "category": "system",
                                                    "fields": {"alertname": record["alertname"]}})  # fmt: skip
            self._settle(record)
            return
        self._finish(record)
        record["actions"].extend(a.to_dict() for a in actions)
        record["playbook"] = "done"
        record["coalesced"] = incident.joined
        steps = [f"{a.name}:{'ok' if a.ok else 'failed'}" for a in actions]
        log_event(log, "INFO" if all(a.ok for a in actions) else "WARN", "playbook_done", category="system",
                  alertname=str(record["alertname"])[:_LOGGED_CHARS], actions=steps,
                  coalesced=incident.joined)  # fmt: skip
        self._settle(record)

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
            await asyncio.gather(*(run.task for run in self._running.values()), return_exceptions=True)
