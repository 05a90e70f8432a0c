"""``/api/alerts``: the Alertmanager webhook records alerts and runs the playbook."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest

from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings


class Recorder(BaseHTTPRequestHandler):
    """A tiny HTTP service: /healthy answers 200, /down 503, /hook records POST bodies."""

    posts: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthy" else 503)
        self.end_headers()
        self.wfile.write(b'{"status":"x"}')

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Recorder.posts.append(orjson.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    Recorder.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def alert(name: str, status: str = "firing", severity: str = "critical", instance: str = "app:1") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "instance": instance, "job": "visionflow"},
        "annotations": {"summary": name},
        "startsAt": "2026-11-26T10:00:00Z",
        "fingerprint": f"{name}-{instance}",
    }


def payload(*alerts: dict[str, Any], receiver: str = "critical-alerts") -> dict[str, Any]:
    return {"version": "4", "receiver": receiver, "status": alerts[0]["status"], "alerts": list(alerts)}


def exchange(settings: Settings, metrics: Metrics, calls: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """POST/GET in order on one app, waiting for the playbooks before each GET."""

    async def go() -> list[httpx.Response]:
        app = create_app(Runtime(settings, metrics=metrics))
        out = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for method, path, body in calls:
                if method == "POST":
                    out.append(await client.post(path, json=body))
                else:
                    deadline = time.monotonic() + 30
                    while True:
                        response = await client.get(path)
                        pending = [a for a in response.json()["alerts"] if a["playbook"] in ("pending", "running")]
                        if not pending or time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.05)
                    out.append(response)
        return out

    return asyncio.run(go())


def test_service_down_probes_restarts_reprobes_and_escalates(service: str, tmp_path: Path, metrics: Metrics) -> None:
    marker = tmp_path / "restarted"
    settings = Settings(
        alert_health_urls=(f"{service}/down",),
        alert_restart_command=f"{sys.executable} -c \"open('{marker}', 'w').write('yes')\"",
        alert_restart_wait_s=0,
        alert_escalation_url=f"{service}/hook",
    )
    post, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(alert("ServiceDown"))),
                                                ("GET", "/api/alerts", None)])  # fmt: skip
    assert post.status_code == 200 and post.json()["accepted"] == 1
    record = listed.json()["alerts"][0]
    assert record["alertname"] == "ServiceDown" and record["receiver"] == "critical-alerts"
    steps = [(a["name"], a["ok"]) for a in record["actions"]]
    assert steps == [("health_probe", False), ("restart", True), ("health_probe_after_restart", False),
                     ("escalate", True)]  # fmt: skip
    assert marker.read_text() == "yes"
    assert Recorder.posts[0]["reason"] == "failed to recover service"
    assert Recorder.posts[0]["alert"]["labels"]["alertname"] == "ServiceDown"


def test_service_down_with_a_healthy_probe_stops_there(service: str, metrics: Metrics) -> None:
    settings = Settings(alert_health_urls=(f"{service}/healthy",), alert_restart_command="false")
    _, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(alert("ServiceDown"))),
                                             ("GET", "/api/alerts", None)])  # fmt: skip
    assert [(a["name"], a["ok"]) for a in listed.json()["alerts"][0]["actions"]] == [("health_probe", True)]


def test_high_error_rate_collects_recent_errors(tmp_path: Path, metrics: Metrics) -> None:
    log = tmp_path / "v.log"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    record = {"ts": stamp, "level": "ERROR", "component": "pipeline", "event": "tick_failed", "error": "boom"}
    log.write_bytes((orjson.dumps(record) + b"\n") * 3)
    _, listed = exchange(Settings(log_file=log), metrics, [("POST", "/api/alerts", payload(alert("HighErrorRate"))),
                                                          ("GET", "/api/alerts", None)])  # fmt: skip
    (action,) = listed.json()["alerts"][0]["actions"]
    assert action["name"] == "collect_errors" and action["ok"]
    assert action["detail"]["last_5m"] == 3
    assert action["detail"]["groups"][0]["error_message"] == "boom"


def test_resolved_and_warning_alerts_are_recorded_without_actions(metrics: Metrics) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/api/alerts", payload(alert("HighProcessingLatency", severity="warning"), receiver="warning-alerts")),
        ("POST", "/api/alerts", payload(alert("ServiceDown", status="resolved"))),
        ("GET", "/api/alerts", None),
        ("GET", "/api/alerts?status=resolved", None),
        ("GET", "/api/alerts?alertname=HighProcessingLatency&limit=1", None),
    ]
    *_, every, resolved, one = exchange(Settings(), metrics, calls)
    assert every.json()["total"] == 2
    assert [a["alertname"] for a in every.json()["alerts"]] == ["ServiceDown", "HighProcessingLatency"]
    assert all(a["actions"] == [] for a in every.json()["alerts"])
    assert [a["status"] for a in resolved.json()["alerts"]] == ["resolved"]
    assert one.json()["returned"] == 1


def test_unknown_critical_alert_escalates_and_says_when_it_cannot(metrics: Metrics) -> None:
    _, listed = exchange(Settings(), metrics, [("POST", "/api/alerts", payload(alert("DiskOnFire"))),
                                               ("GET", "/api/alerts", None)])  # fmt: skip
    (action,) = listed.json()["alerts"][0]["actions"]
    assert action["name"] == "escalate" and not action["ok"]
    assert "no escalation webhook" in action["detail"]["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "firing"}, "alerts"),
        ({"status": "boiling", "alerts": []}, "status"),
        ({"status": "firing", "alerts": [{"status": "firing"}]}, "labels"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1}}]}, "a"),
    ],
)
def test_bad_payload_is_a_422_naming_the_field(body: dict[str, Any], field: str, metrics: Metrics) -> None:
    (response,) = exchange(Settings(), metrics, [("POST", "/api/alerts", body)])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
