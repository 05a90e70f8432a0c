"""A real server writes JSON lines to its log file; ``visionflow logs`` reads them back."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner
from websockets.sync.client import connect

from tests.support.live import start_server
from visionflow.cli import app

pytestmark = pytest.mark.integration


def test_disconnects_are_logged_with_their_reason_and_queried(tmp_path: Path) -> None:
    logfile = tmp_path / "logs" / "visionflow.log"
    env = {"VISIONFLOW_LOG_FILE": str(logfile), "VISIONFLOW_LOG": "info,visionflow.stream=debug"}
    server = start_server(tmp_path / "stderr.log", "--agents", "20", env=env)
    try:
        with connect(server.ws, max_size=None) as polite:
            polite.recv(timeout=10)
        with contextlib.suppress(Exception), connect(server.ws, max_size=None, close_timeout=0.5) as rude:
            rude.recv(timeout=10)
            rude.socket.shutdown(socket.SHUT_RDWR)  # gone without a closing handshake

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = [json.loads(x) for x in logfile.read_text().splitlines()] if logfile.exists() else []
            if len([x for x in lines if x["event"] == "client_disconnected"]) >= 2:
                break
            time.sleep(0.2)
        metrics = server.get("/metrics").text
    finally:
        server.stop()

    for line in lines:
        assert {"ts", "level", "category", "component", "event"} <= line.keys()
    assert any(x["event"] == "client_connected" and x["level"] == "DEBUG" for x in lines)  # stream=debug took effect
    assert not any(x["level"] in ("DEBUG", "TRACE") and x["component"] != "stream" for x in lines)

    runner = CliRunner()
    result = runner.invoke(app, ["logs", "disconnects", "--since", "10m", "--file", str(logfile), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["disconnect_reason"] == "abnormal_closure" and row["session_duration"] >= 0
    result = runner.invoke(app, ["logs", "disconnects", "--include-normal", "--file", str(logfile), "--json"])
    assert sorted(r["disconnect_reason"] for r in json.loads(result.output)) == ["abnormal_closure", "normal_closure"]
    assert 'visionflow_websocket_disconnections{reason="abnormal_closure"} 1.0' in metrics
    assert 'visionflow_websocket_disconnections{reason="normal_closure"} 1.0' in metrics
