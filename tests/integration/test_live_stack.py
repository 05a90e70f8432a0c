"""The monitoring stack for real: Prometheus scrapes the app, ServiceDown reaches VisionFlow's receiver.

Debian's ``prometheus`` and ``prometheus-alertmanager`` run on loopback with temporary storage.
The rules are deploy/prometheus/alerts.yml with ServiceDown's ``for`` shortened (a test-only
copy); Alertmanager runs deploy/alertmanager/alertmanager.yml with its webhooks pointed at a
second VisionFlow instance and its token file pointed at a temporary one; that instance takes
alerts only with the token, and its playbook probes the app, runs the restart command from its
settings and escalates to a local webhook.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
import yaml

from tests.support.live import free_port, start_server
from tests.support.promql import ALERTS, DEPLOY, all_expressions, metric_names

T = TypeVar("T")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus (Debian package prometheus) missing"),
    pytest.mark.skipif(
        shutil.which("prometheus-alertmanager") is None,
        reason="prometheus-alertmanager (Debian package prometheus-alertmanager) missing",
    ),
]


class Escalations(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        Escalations.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, logs: list[Path]) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.TransportError, ValueError):  # not up yet, or not ready (Prometheus answers 503 in text)
            value = None
        if value:
            return value
        time.sleep(0.25)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")


@pytest.fixture
def escalation_url() -> Iterator[str]:
    Escalations.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Escalations)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/escalate"
    server.shutdown()
    server.server_close()


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_prometheus_scrapes_the_app_and_service_down_reaches_the_receiver(tmp_path: Path, escalation_url: str) -> None:
    marker = tmp_path / "restart-ran"
    token = "live-stack-" + secrets.token_hex(16)
    (tmp_path / "webhook-token").write_text(token + "\n")
    app = start_server(tmp_path / "app.log", "--agents", "50", "--seed", "2")
    receiver = start_server(
        tmp_path / "receiver.log",
        "--agents", "5",
        env={
            "VISIONFLOW_ALERT_HEALTH_URLS": json.dumps([app.http + "/api/health"]),
            "VISIONFLOW_ALERT_RESTART_COMMAND": f"{sys.executable} -c \"open('{marker}', 'w').write('ran')\"",
            "VISIONFLOW_ALERT_RESTART_WAIT_S": "0.5",
            "VISIONFLOW_ALERT_ESCALATION_URL": escalation_url,
            "VISIONFLOW_ALERT_WEBHOOK_TOKEN": token,
        },
    )  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / "prometheus.log", tmp_path / "alertmanager.log", tmp_path / "receiver.log"]
    try:
        # Alertmanager: the deployed routing, webhooks pointed at the receiver, no waiting.
        am_port = free_port()
        am = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
        am["route"].update(group_wait="0s", group_interval="1s")
        for route in am["route"]["routes"]:
            route["group_wait"] = "0s"
        for rcv in am["receivers"]:
            for hook in rcv["webhook_configs"]:
                hook["url"] = receiver.http + "/api/alerts"
                assert hook["http_config"]["authorization"]["type"] == "Bearer"
                hook["http_config"]["authorization"]["credentials_file"] = str(tmp_path / "webhook-token")
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am))
        processes.append(spawn(["prometheus-alertmanager", f"--config.file={tmp_path / 'alertmanager.yml'}",
                                f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                                "--cluster.listen-address="], logs[1]))  # fmt: skip

        # Prometheus: the deployed rules with ServiceDown's "for" cut to 2 s, 1 s scrapes and evaluations.
        rules = yaml.safe_load(ALERTS.read_text())
        for rule in rules["groups"][0]["rules"]:
            if rule["alert"] == "ServiceDown":
                rule["for"] = "2s"
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
        prom_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [{"job_name": "visionflow", "metrics_path": "/metrics",
                                "static_configs": [{"targets": [app.http.removeprefix("http://")]}]}],
        }  # fmt: skip
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        processes.append(spawn(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                                f"--web.listen-address=127.0.0.1:{prom_port}"], logs[0]))  # fmt: skip
        prom = f"http://127.0.0.1:{prom_port}"

        def query(expr: str) -> dict[str, Any]:
            body: dict[str, Any] = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
            return body

        # A query through Prometheus's HTTP API returns the app's series.
        def results(expr: str) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = query(expr)["data"]["result"]
            return found

        selector = 'visionflow_active_agents{job="visionflow"}'
        agents = wait_for("the app's series in Prometheus", lambda: results(selector), 60, logs)
        assert 25 <= float(agents[0]["value"][1]) <= 100  # 50 simulated agents, some coming and going
        wait_for("a second scrape", lambda: results('rate(visionflow_ticks_total{job="visionflow"}[5s]) > 0'), 30, logs)

        # Every rule and dashboard expression evaluates; every series they read has data (bar the allow-list).
        names: set[str] = set()
        for where, expr in all_expressions().items():
            answer = query(expr)
            assert answer["status"] == "success", (where, answer)
            names |= metric_names(expr)
        for name in sorted(names):
            assert results(name), f"Prometheus has no {name}"

        # The receiver refuses alerts without the token Alertmanager reads from its file.
        unsigned = {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "ServiceDown"}}]}
        assert httpx.post(receiver.http + "/api/alerts", json=unsigned, timeout=10).status_code == 401

        # Stopping the app fires ServiceDown, which reaches the receiver through Alertmanager.
        app.stop()

        def service_down_handled() -> dict[str, Any] | None:
            alerts = receiver.get("/api/alerts?alertname=ServiceDown&status=firing").json()["alerts"]
            done = [a for a in alerts if a["playbook"] == "done"]
            return done[0] if done else None

        record = wait_for("ServiceDown handled by the receiver", service_down_handled, 90, logs)
        assert record["receiver"] == "critical-alerts"
        assert record["labels"]["job"] == "visionflow" and record["severity"] == "critical"
        steps = [(a["name"], a["ok"]) for a in record["actions"]]
        assert steps == [("health_probe", False), ("restart", True), ("health_probe_after_restart", False),
                         ("escalate", True)]  # fmt: skip
        assert marker.read_text() == "ran"
        assert Escalations.received[0]["alert"]["labels"]["alertname"] == "ServiceDown"
        alerts = httpx.get(f"http://127.0.0.1:{am_port}/api/v2/alerts", timeout=10).json()
        assert any(a["labels"]["alertname"] == "ServiceDown" for a in alerts)
    finally:
        for process in processes:
            stop(process)
        app.stop()
        receiver.stop()
