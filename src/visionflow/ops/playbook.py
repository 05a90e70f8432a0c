"""The alert response playbook: what VisionFlow does when Alertmanager reports an alert.

It is the operations manual's critical-alert response, run by the receiver instead of a
shell script:

    ServiceDown     probe the configured health checks; if one fails, run the restart command,
                    wait, probe again, and escalate if the service is still down (or was not restarted)
    HighErrorRate   collect the recent errors from the log files; restart when the last
                    5 minutes hold more errors than the threshold
    other critical  escalate: there is no playbook for it
    anything else   recorded only

What an alert says never decides where the server connects or how often it acts:

- Probes go only to URLs from the settings. The alert's ``instance`` label is used as a key
  into ``known_instances`` (exact match) and never as part of a URL; without a match the
  playbook probes ``health_urls``, and with neither it probes nothing and restarts nothing.
- Probes report status and timing only, never what the probed service answered.
- Restarts are one at a time and at most ``restart_max_per_hour`` in any hour, whichever
  alerts ask; escalations are merged while one is being sent and at most
  ``escalation_max_per_hour`` go out. Their content is built here from a few label values.
- All outbound HTTP and log scanning run on the playbook's own threads (``AlertHTTP``), so a
  slow target cannot hold the threads the physics step runs on.

Every step is an ``Action`` (name, ok, detail) so the operator can read what happened from
``GET /api/alerts``.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from visionflow.observability.logging import log_event
from visionflow.ops import logs
from visionflow.ops.alert_http import AlertHTTP, display_url
from visionflow.ops.alert_limits import HourlyLimit

__all__ = ["SELF", "Action", "Incident", "Playbook", "PlaybookConfig", "summarize"]

log = logging.getLogger("visionflow.alerts")

SELF = "self"
"""In ``known_instances``: the instance is this server; its health is read in-process."""

_COMMAND_TIMEOUT_S = 120.0
_OUTPUT_TAIL = 2000
_SUMMARY_LABELS = ("alertname", "severity", "instance", "job")
"""The only label values an escalation carries, each cut to ``_SUMMARY_CHARS``."""
_SUMMARY_CHARS = 128
_ESCALATION_ALERTS = 20
"""Alerts listed by name in one escalation; the rest are counted."""
_ESCALATION_REASONS = 5


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    ok: bool
    detail: dict[str, Any]
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PlaybookConfig:
    health_urls: Sequence[str] = ()
    """Probed for ServiceDown when the alert's instance is not in ``known_instances``."""
    known_instances: Mapping[str, str] = field(default_factory=dict)
    """Instance label -> the health URL to probe for it, or ``SELF`` for this server."""
    restart_command: str | None = None
    restart_wait_s: float = 5.0
    restart_max_per_hour: int = 3
    error_restart_threshold: int = 20
    escalation_url: str | None = None
    escalation_max_per_hour: int = 10
    http_timeout_s: float = 5.0
    log_file: Path | None = None


@dataclass(slots=True)
class Incident:
    """One playbook run: the alert that opened it and how many alike joined while it ran."""

    alert: Mapping[str, Any]
    joined: int = 0


def _cut(value: Any) -> str | None:
    return None if value is None else str(value)[:_SUMMARY_CHARS]


def summarize(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The few fields of ``alert`` that leave this server, each cut short."""
    labels: Mapping[str, Any] = alert.get("labels", {})
    return {
        "alertname": _cut(labels.get("alertname", "")),
        "status": _cut(alert.get("status")),
        "severity": _cut(labels.get("severity")),
        "labels": {k: _cut(labels[k]) for k in _SUMMARY_LABELS if k in labels},
    }


@dataclass(slots=True)
class _Escalation:
    """Requests merged into one webhook post while the previous one is on its way."""

    reason: str
    actions: list[dict[str, Any]]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    count: int = 0
    task: asyncio.Task[tuple[bool, dict[str, Any]]] | None = None

    def add(self, incident: Incident, reason: str) -> None:
        self.count += 1 + incident.joined
        if len(self.alerts) < _ESCALATION_ALERTS:
            self.alerts.append(summarize(incident.alert))
        if reason not in self.reasons and len(self.reasons) < _ESCALATION_REASONS:
            self.reasons.append(reason)

    def body(self) -> bytes:
        return orjson.dumps({"source": "visionflow", "reason": self.reason, "alert": self.alerts[0],
                             "actions": self.actions, "alerts": self.alerts, "alert_count": self.count,
                             "reasons": self.reasons})  # fmt: skip


class Playbook:
    """Runs the responses; owns the restart and escalation budgets shared by every alert."""

    def __init__(
        self,
        config: PlaybookConfig,
        *,
        self_health: Callable[[], Mapping[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.http = AlertHTTP(config.http_timeout_s)
        self._self_health = self_health
        self._scans = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visionflow-alert-logs")
        self._restarts = HourlyLimit(config.restart_max_per_hour, clock=clock)
        self._restart: asyncio.Task[Action] | None = None
        self._escalations = HourlyLimit(config.escalation_max_per_hour, clock=clock)
        self._pending: _Escalation | None = None
        self._sending = asyncio.Lock()

    def handles(self, alert: Mapping[str, Any]) -> bool:
        """Whether ``alert`` has a response at all (anything else is only recorded)."""
        labels: Mapping[str, str] = alert.get("labels", {})
        if alert.get("status") != "firing":
            return False
        return labels.get("alertname") in ("ServiceDown", "HighErrorRate") or labels.get("severity") == "critical"

    async def respond(self, incident: Incident) -> list[Action]:
        alert = incident.alert
        if not self.handles(alert):
            return []
        name = alert.get("labels", {}).get("alertname", "")
        if name == "ServiceDown":
            return await self._service_down(incident)
        if name == "HighErrorRate":
            return await self._high_error_rate()
        return [await self.escalate(incident, "no playbook for this critical alert", [])]

    def close(self) -> None:
        """Let the playbook's threads end (each finishes the request it is on, within its deadline)."""
        self.http.close()
        self._scans.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------- playbooks
    async def _service_down(self, incident: Incident) -> list[Action]:
        targets = self.probe_targets(incident.alert)
        actions = [await self.probe(targets, "health_probe")]
        if actions[0].ok:
            return actions
        if not targets:
            reason = "service reported down; no health check is configured for its instance, so it was not restarted"
            actions.append(await self.escalate(incident, reason, actions))
            return actions
        if not self.config.restart_command:
            reason = "service is down and no restart command is configured"
            actions.append(await self.escalate(incident, reason, actions))
            return actions
        actions.append(await self.restart())
        if not actions[-1].ok:
            actions.append(await self.escalate(incident, "service is down and the restart did not run or failed",
                                               actions))  # fmt: skip
            return actions
        await asyncio.sleep(self.config.restart_wait_s)
        actions.append(await self.probe(targets, "health_probe_after_restart"))
        if not actions[-1].ok:
            actions.append(await self.escalate(incident, "failed to recover service", actions))
        return actions

    async def _high_error_rate(self) -> list[Action]:
        collected = await asyncio.get_running_loop().run_in_executor(self._scans, self.collect_errors)
        actions = [collected]
        recent = int(collected.detail.get("last_5m", 0))
        if recent > self.config.error_restart_threshold and self.config.restart_command:
            actions.append(await self.restart())
        return actions

    def probe_targets(self, alert: Mapping[str, Any]) -> list[str]:
        """Configured health checks for ``alert``: the label only selects among them."""
        instance = alert.get("labels", {}).get("instance")
        if isinstance(instance, str) and instance in self.config.known_instances:
            return [self.config.known_instances[instance]]
        return list(self.config.health_urls)

    # ----------------------------------------------------------------- steps
    async def probe(self, targets: Sequence[str], name: str) -> Action:
        """Check every target; ok when all answer 2xx (a redirect is a failure)."""
        if not targets:
            return Action(name, False, {"error": "no health check is configured for this alert's instance "
                                                 "(alert_health_urls, alert_known_instances)"})  # fmt: skip
        results = await asyncio.gather(*(self._probe_one(t) for t in targets))
        return Action(name, all(r.pop("ok") for r in results), {"probes": results})

    async def _probe_one(self, target: str) -> dict[str, Any]:
        if target == SELF:
            if self._self_health is None:
                return {"ok": False, "target": SELF, "status": None, "error": "this server's health is not available"}
            started = time.perf_counter()
            health = str(self._self_health().get("status"))
            status = 503 if health == "unhealthy" else 200  # as GET /api/health answers
            ms = round((time.perf_counter() - started) * 1000.0, 3)
            return {"ok": status == 200, "target": SELF, "status": status, "health": health, "ms": ms}
        outcome = await self.http.get(target)
        result: dict[str, Any] = {"ok": outcome.ok, "target": display_url(target), "status": outcome.status,
                                  "ms": outcome.ms}  # fmt: skip
        if outcome.error:
            result["error"] = outcome.error
        return result

    async def restart(self) -> Action:
        """Run the restart command, unless one is running (then share its result) or the budget is spent."""
        running = self._restart
        if running is not None and not running.done():
            shared = await asyncio.shield(running)
            return Action("restart", shared.ok, {**shared.detail, "shared_with_a_running_restart": True})
        command = self.config.restart_command or ""
        if not self._restarts.take():
            limit = self.config.restart_max_per_hour
            log_event(log, "WARN", "restart_limited", category="security", limit_per_hour=limit)
            return Action("restart", False, {"command": command, "retry_in_s": _rounded(self._restarts.retry_in_s()),
                                             "error": f"restart limit reached: {limit} per hour "
                                                      "(alert_restart_max_per_hour)"})  # fmt: skip
        task = asyncio.get_running_loop().create_task(self.run_command(command, "restart"))
        self._restart = task
        return await asyncio.shield(task)

    async def run_command(self, command: str, name: str) -> Action:
        """Run ``command`` (split like a shell line, no shell); ok when it exits 0 in time."""
        try:
            argv = shlex.split(command)
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
        except (OSError, ValueError) as exc:
            return Action(name, False, {"command": command, "error": str(exc)})
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=_COMMAND_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            return Action(name, False, {"command": command, "error": f"timed out after {_COMMAND_TIMEOUT_S:g} s"})
        text = output.decode(errors="replace")[-_OUTPUT_TAIL:]
        return Action(name, process.returncode == 0, {"command": command, "returncode": process.returncode,
                                                      "output": text})  # fmt: skip

    def collect_errors(self) -> Action:
        """The last 10 minutes of errors, grouped, and the count of the last 5."""
        path = self.config.log_file
        if path is None:
            return Action("collect_errors", False, {"error": "no log file configured (VISIONFLOW_LOG_FILE)"})
        try:
            groups = logs.errors(path, 600.0)
            last_5m = sum(g.error_count for g in logs.errors(path, 300.0))
        except FileNotFoundError as exc:
            return Action("collect_errors", False, {"error": str(exc)})
        top = logs.to_dicts(groups[:20])
        return Action("collect_errors", True, {"groups": top, "last_10m": sum(g.error_count for g in groups),
                                               "last_5m": last_5m})  # fmt: skip

    async def escalate(self, incident: Incident, reason: str, actions: Sequence[Action]) -> Action:
        """Tell the escalation webhook; requests made while one is on its way go out together in the next."""
        url = self.config.escalation_url
        if not url:
            return Action("escalate", False, {"reason": reason, "error": "no escalation webhook configured"})
        pending = self._pending
        if pending is None:
            pending = _Escalation(reason, [{"name": a.name, "ok": a.ok} for a in actions])
            pending.task = asyncio.get_running_loop().create_task(self._send(pending, url))
            self._pending = pending
        pending.add(incident, reason)
        assert pending.task is not None
        ok, detail = await asyncio.shield(pending.task)
        return Action("escalate", ok, {"reason": reason, **detail})

    async def _send(self, escalation: _Escalation, url: str) -> tuple[bool, dict[str, Any]]:
        async with self._sending:
            if self._pending is escalation:
                self._pending = None  # from here on, new requests gather for the next post
            if not self._escalations.take():
                limit = self.config.escalation_max_per_hour
                log_event(log, "WARN", "escalation_limited", category="security", limit_per_hour=limit,
                          alerts=escalation.count)  # fmt: skip
                return False, {"alerts": escalation.count, "retry_in_s": _rounded(self._escalations.retry_in_s()),
                               "error": f"escalation limit reached: {limit} per hour "
                                        "(alert_escalation_max_per_hour)"}  # fmt: skip
            outcome = await self.http.post_json(url, escalation.body())
        detail: dict[str, Any] = {"url": display_url(url), "status": outcome.status, "ms": outcome.ms,
                                  "alerts": escalation.count}  # fmt: skip
        if outcome.error:
            detail["error"] = outcome.error
        return outcome.ok, detail


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
