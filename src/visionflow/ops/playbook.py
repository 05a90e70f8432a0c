"""The alert response playbook: what VisionFlow does when Alertmanager reports an alert.

It is the operations manual's critical-alert response, run by the receiver instead of a
shell script:

    ServiceDown     probe the health endpoints; if any fails, run the restart command, wait,
                    probe again, and escalate if the service is still down (or cannot be restarted)
    HighErrorRate   collect the recent errors from the log files; restart when the last
                    5 minutes hold more errors than the threshold
    other critical  escalate: there is no playbook for it
    anything else   recorded only

Escalation posts the alert, the reason and every action taken to a configurable webhook.
Every step is an ``Action`` (name, ok, detail) so the operator can read what happened from
``GET /api/alerts``.
"""

from __future__ import annotations

import asyncio
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from visionflow.ops import logs

__all__ = ["Action", "Playbook", "PlaybookConfig"]

_PROBE_TIMEOUT_S = 5.0
_COMMAND_TIMEOUT_S = 120.0
_OUTPUT_TAIL = 2000


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
    """Probed for ServiceDown; empty means ``http://<instance label>/api/health``."""
    restart_command: str | None = None
    restart_wait_s: float = 5.0
    error_restart_threshold: int = 20
    escalation_url: str | None = None
    log_file: Path | None = None


def _get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT_S) as response:
            return int(response.status), response.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(2000).decode(errors="replace")


def _post_json(url: str, body: Mapping[str, Any]) -> int:
    data = orjson.dumps(body, default=str)
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class Playbook:
    """Runs the response for one alert at a time per alert name and instance."""

    def __init__(self, config: PlaybookConfig) -> None:
        self.config = config

    async def respond(self, alert: Mapping[str, Any]) -> list[Action]:
        labels: Mapping[str, str] = alert.get("labels", {})
        if alert.get("status") != "firing":
            return []
        name = labels.get("alertname", "")
        if name == "ServiceDown":
            return await self._service_down(alert)
        if name == "HighErrorRate":
            return await self._high_error_rate(alert)
        if labels.get("severity") == "critical":
            return [await self.escalate(alert, f"no playbook for critical alert {name!r}", [])]
        return []

    # ------------------------------------------------------------- playbooks
    async def _service_down(self, alert: Mapping[str, Any]) -> list[Action]:
        actions = [await self.probe(self._health_urls(alert), "health_probe")]
        if actions[0].ok:
            return actions
        if not self.config.restart_command:
            actions.append(await self.escalate(alert, "service is down and no restart command is configured", actions))
            return actions
        actions.append(await self.run_command(self.config.restart_command, "restart"))
        await asyncio.sleep(self.config.restart_wait_s)
        actions.append(await self.probe(self._health_urls(alert), "health_probe_after_restart"))
        if not actions[-1].ok:
            actions.append(await self.escalate(alert, "failed to recover service", actions))
        return actions

    async def _high_error_rate(self, alert: Mapping[str, Any]) -> list[Action]:
        collected = await asyncio.to_thread(self.collect_errors)
        actions = [collected]
        recent = int(collected.detail.get("last_5m", 0))
        if recent > self.config.error_restart_threshold and self.config.restart_command:
            actions.append(await self.run_command(self.config.restart_command, "restart"))
        return actions

    def _health_urls(self, alert: Mapping[str, Any]) -> list[str]:
        if self.config.health_urls:
            return list(self.config.health_urls)
        instance = alert.get("labels", {}).get("instance")
        return [f"http://{instance}/api/health"] if instance else []

    # ----------------------------------------------------------------- steps
    async def probe(self, urls: Sequence[str], name: str) -> Action:
        """GET every URL; ok when all answer 2xx."""
        if not urls:
            return Action(name, False, {"error": "no health URL configured and the alert names no instance"})
        results: list[dict[str, Any]] = []
        for url in urls:
            try:
                status, body = await asyncio.to_thread(_get, url)
                results.append({"url": url, "status": status, "body": body[:500]})
            except (OSError, ValueError) as exc:
                results.append({"url": url, "status": None, "error": str(exc)})
        ok = all(isinstance(r["status"], int) and 200 <= r["status"] < 300 for r in results)
        return Action(name, ok, {"probes": results})

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

    async def escalate(self, alert: Mapping[str, Any], reason: str, actions: Sequence[Action]) -> Action:
        url = self.config.escalation_url
        if not url:
            return Action("escalate", False, {"reason": reason, "error": "no escalation webhook configured"})
        body = {"alert": dict(alert), "reason": reason, "actions": [a.to_dict() for a in actions]}
        try:
            status = await asyncio.to_thread(_post_json, url, body)
        except (OSError, ValueError) as exc:
            return Action("escalate", False, {"reason": reason, "url": url, "error": str(exc)})
        return Action("escalate", 200 <= status < 300, {"reason": reason, "url": url, "status": status})
