"""``visionflow serve --source mcp`` against a real MCP server written with the SDK, over stdio and HTTP.

The orchestrator is killed mid-run (and kept down by a ``down`` file): the API keeps the last
agents marked stale, health degrades, the error counter rises. Then it comes back and
VisionFlow recovers on its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.support.live import LiveServer, free_port, start_server

pytestmark = pytest.mark.integration

SERVER = Path(__file__).with_name("mcp") / "swarm_server.py"
POLL_S = 0.5
ENV = {"VISIONFLOW_MCP_BACKOFF_MAX_S": "1", "VISIONFLOW_MCP_STALE_S": "300"}


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.TransportError, KeyError, ValueError):
            last = None
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last saw {last!r}")


def metric(server: LiveServer, name: str) -> float:
    for line in server.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


def start_http_orchestrator(state: Path, port: int) -> subprocess.Popen[bytes]:
    with (state / "orchestrator.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, str(SERVER), "--state", str(state), "--transport", "http",
                                    "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    wait_for(lambda: _listening(port), "the MCP HTTP server to listen")
    return process


def _listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture(params=["stdio", "http"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, LiveServer, Path, list[Any]]]:
    state = tmp_path / "orchestrator"
    state.mkdir()
    held: list[Any] = []
    poll = ("--mcp-poll-busy", str(POLL_S), "--mcp-poll-idle", str(POLL_S), "--mcp-timeout", "3")
    if request.param == "stdio":
        command = f"{sys.executable} {SERVER} --state {state} --grow-every 1"
        server = start_server(tmp_path / "vf.log", "--source", "mcp", "--mcp-command", command, *poll, env=ENV)
    else:
        port = free_port()
        held.append(start_http_orchestrator(state, port))
        held.append(port)
        url = f"http://127.0.0.1:{port}/mcp"
        server = start_server(tmp_path / "vf.log", "--source", "mcp", "--mcp-url", url, *poll, env=ENV)
    yield request.param, server, state, held
    server.stop()
    for item in held:
        if isinstance(item, subprocess.Popen) and item.poll() is None:
            item.kill()
            item.wait()


def data(server: LiveServer) -> dict[str, Any]:
    body: dict[str, Any] = server.get("/api/bots/data").json()
    return body


def test_agents_arrive_go_stale_and_recover(setup: tuple[str, LiveServer, Path, list[Any]]) -> None:
    transport, server, state, held = setup
    body = wait_for(lambda: (b := data(server))["total_agents"] >= 3 and b, "the first agents")
    ids = {a["id"] for a in body["agents"]}
    assert {"queen-1", "coder-1", "coder-2"} <= ids
    coder = next(a for a in body["agents"] if a["id"] == "coder-1")
    assert coder["health"] == 90.0 and coder["type"] == "coder" and coder["metadata"]["model"] == "sonnet"
    wait_for(lambda: any({e["source"], e["target"]} == {"coder-1", "coder-2"} and not e["inferred"]
                         for e in data(server)["edges"]), "the shared-task link")  # fmt: skip
    assert body["source"]["connected"] and not body["source"]["stale"]

    # A new agent shows up in the API and on the stream within two poll intervals.
    with connect(server.ws, open_timeout=10) as ws:
        json.loads(ws.recv(timeout=5))
        sent = time.monotonic()
        response = httpx.post(server.http + "/api/bots/spawn-agent", json={"type": "tester", "name": "probe-1"},
                              timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        wait_for(lambda: "probe-1" in {a["id"] for a in data(server)["agents"]}, "the spawned agent in the API")
        seen_api = time.monotonic() - sent
        seen_stream = None
        while seen_stream is None and time.monotonic() - sent < 20:
            message = ws.recv(timeout=5)
            if isinstance(message, str) and "probe-1" in message:
                seen_stream = time.monotonic() - sent
    assert seen_api <= 2 * POLL_S + 3.0, seen_api  # generous margin for a loaded machine
    assert seen_stream is not None and seen_stream <= 2 * POLL_S + 3.0, seen_stream
    assert data(server)["source"]["connected"]

    # Kill the orchestrator and keep it down.
    (state / "down").write_text("1")
    os.kill(int((state / "pid").read_text()), signal.SIGKILL)
    errors_before = metric(server, 'visionflow_mcp_errors_total{kind="connect"}')
    wait_for(lambda: data(server)["source"]["stale"], "the data to be marked stale")
    wait_for(lambda: metric(server, "visionflow_mcp_up") == 0.0, "mcp_up to drop")
    wait_for(lambda: metric(server, 'visionflow_mcp_errors_total{kind="connect"}') > errors_before
             or metric(server, 'visionflow_mcp_errors_total{kind="timeout"}') > 0, "errors to be counted")  # fmt: skip
    stale = data(server)
    assert {"queen-1", "coder-1", "probe-1"} <= {a["id"] for a in stale["agents"]}, "the last state is kept"
    health = server.get("/api/health").json()
    assert health["status"] == "degraded" and health["components"]["source"]["connected"] is False
    assert health["components"]["source"]["data_age_s"] is not None

    # Bring it back: VisionFlow reconnects by itself.
    (state / "down").unlink()
    if transport == "http":
        held.append(start_http_orchestrator(state, held[1]))
    wait_for(lambda: not data(server)["source"]["stale"], "recovery", timeout=45)
    assert server.get("/api/health").json()["status"] == "healthy"
    assert metric(server, "visionflow_mcp_up") == 1.0
    assert server.process.poll() is None
