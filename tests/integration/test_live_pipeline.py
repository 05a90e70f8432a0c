"""The walking skeleton end to end: a real server, real WebSocket clients, the real API."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.live import LiveServer, start_server
from visionflow.protocol.binary import decode

pytestmark = pytest.mark.integration


class StreamView:
    """What a client knows: agent metadata, the latest position of every node, and the tick it is at."""

    def __init__(self) -> None:
        self.agents: dict[int, dict[str, object]] = {}
        self.positions: dict[int, np.ndarray] = {}
        self.frames = 0
        self.seq = -1
        self.history: dict[int, dict[int, np.ndarray]] = {}
        """Positions as they stood after each tick's frame."""

    def apply(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            frame = decode(message)
            self.positions.update({int(i): p for i, p in zip(frame.node_ids, frame.positions, strict=True)})
            self.frames += 1
            self.history[self.seq] = dict(self.positions)
            return
        body = json.loads(message)
        if body["type"] == "frame":
            self.seq = body["seq"]
        if body["type"] != "agents":
            return
        if body["full"]:
            self.agents.clear()
        for node in body.get("removed", []):
            self.agents.pop(node, None)
            self.positions.pop(node, None)
        for agent in body["agents"]:
            self.agents[agent["node_id"]] = agent

    def at(self, tick: int) -> dict[int, np.ndarray]:
        """The view as it stood after ``tick`` (frames are only sent for ticks where something moved)."""
        return self.history[max(seq for seq in self.history if seq <= tick)]


def test_stream_and_api_agree(live_server: LiveServer) -> None:
    view = StreamView()
    with connect(live_server.ws, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "subscribe", "frame_markers": True}))
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "agents" and first["full"] is True
        view.apply(json.dumps(first))
        while view.frames < 60:
            view.apply(ws.recv(timeout=5))
        body = live_server.get("/api/bots/data").json()
        while view.seq <= body["tick"]:
            view.apply(ws.recv(timeout=5))
    seen = view.at(body["tick"])
    api = {a["node_id"]: a for a in body["agents"]}
    assert len(api) == body["total_agents"] >= 190
    assert set(api) == set(seen), "the same nodes at the same tick"
    threshold = 0.01  # the server's default delta threshold
    for node, agent in api.items():
        api_pos = np.array([agent["position"][k] for k in "xyz"])
        assert np.linalg.norm(seen[node] - api_pos) <= threshold + 1e-4, agent["name"]


def test_frames_arrive_at_about_sixty_per_second(live_server: LiveServer) -> None:
    with connect(live_server.ws, open_timeout=10) as ws:
        ws.recv(timeout=5)
        start = time.monotonic()
        frames = 0
        while time.monotonic() - start < 2.0:
            if isinstance(ws.recv(timeout=5), bytes):
                frames += 1
    assert 90 <= frames <= 130


def test_health_metrics_and_binary_test(live_server: LiveServer) -> None:
    health = live_server.get("/api/health").json()
    assert health["status"] == "healthy", health
    assert health["components"]["physics"]["backend"] == "cpu"
    with connect(live_server.ws, open_timeout=10) as ws:
        ws.recv(timeout=5)
        time.sleep(0.3)
        metrics = live_server.get("/metrics").text
        assert "visionflow_websocket_connections 1.0" in metrics
    assert live_server.get("/api/bots/binary-test").json()["ok"] is True
    sent = [line for line in metrics.splitlines() if line.startswith("visionflow_binary_bytes_transmitted ")]
    assert float(sent[0].split()[1]) > 0


def test_ping_is_answered_and_bad_messages_get_an_error(live_server: LiveServer) -> None:
    with connect(live_server.ws, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "ping", "seq": 1, "t": 12.5}))
        ws.send("{not json")
        ws.send(json.dumps({"type": "teleport"}))
        ws.send(json.dumps({"type": "subscribe", "frame_markers": "yes"}))
        replies = []
        deadline = time.monotonic() + 5
        while len(replies) < 4 and time.monotonic() < deadline:
            message = ws.recv(timeout=5)
            if isinstance(message, str):
                body = json.loads(message)
                if body["type"] in ("pong", "error"):
                    replies.append(body)
    assert replies[0] == {"type": "pong", "seq": 1, "t": 12.5}
    assert replies[1]["error"] == "bad_message"
    assert replies[2]["error"] == "unknown_type"
    assert replies[3]["error"] == "bad_message" and "frame_markers" in replies[3]["detail"]
    assert live_server.get("/api/health").json()["status"] == "healthy"


def test_wrong_path_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(Exception, match="404"):
        connect(live_server.ws.replace("/ws", "/nope"), open_timeout=5)


def _slow_client(url: str) -> ClientConnection:
    """A client that never reads: a tiny receive buffer and a one-message queue."""
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    return connect(url, sock=sock, max_queue=1, open_timeout=10)


def test_a_stalled_client_neither_slows_others_nor_stays_forever(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "server.log",
        "--agents", "1500",
        env={"VISIONFLOW_STALL_TIMEOUT_S": "2", "VISIONFLOW_MAX_BUFFER_BYTES": "65536"},
    )  # fmt: skip
    try:
        with _slow_client(server.ws) as slow:
            _fast_client_keeps_its_rate_while(server, slow)
    finally:
        assert server.stop() == 0


def _ticks(server: LiveServer) -> float:
    for line in server.get("/metrics").text.splitlines():
        if line.startswith("visionflow_ticks_total "):
            return float(line.split()[1])
    raise AssertionError("visionflow_ticks_total missing")


def _fast_client_keeps_its_rate_while(server: LiveServer, slow: ClientConnection) -> None:
    """While ``slow`` reads nothing, another client still gets a frame for (nearly) every tick."""
    counts: list[int] = []
    ticks: list[float] = []

    def count_frames() -> None:
        with connect(server.ws, open_timeout=10, max_size=None) as ws:
            ws.recv(timeout=5)
            ticks.append(_ticks(server))
            start = time.monotonic()
            frames = 0
            while time.monotonic() - start < 5.0:
                if isinstance(ws.recv(timeout=5), bytes):
                    frames += 1
            ticks.append(_ticks(server))
            counts.append(frames)

    reader = threading.Thread(target=count_frames)
    reader.start()
    reader.join(timeout=30)
    assert counts, "the reader finished"
    produced = ticks[1] - ticks[0]
    assert produced > 0
    assert counts[0] >= 0.9 * produced, (counts[0], produced)
    deadline = time.monotonic() + 20
    metrics = server.get("/metrics").text
    while 'visionflow_websocket_disconnections{reason="stalled"} 1.0' not in metrics:
        assert time.monotonic() < deadline, "the stalled client was never disconnected"
        time.sleep(0.5)
        metrics = server.get("/metrics").text
    assert "visionflow_frames_dropped_total" in metrics
    with pytest.raises(ConnectionClosed):
        for _ in range(100_000):
            slow.recv(timeout=5)


def test_connection_limit_closes_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server.log", "--agents", "20", env={"VISIONFLOW_MAX_CONNECTIONS": "2"})
    try:
        with connect(server.ws, open_timeout=10), connect(server.ws, open_timeout=10):
            with connect(server.ws, open_timeout=10) as third, pytest.raises(ConnectionClosed) as info:
                while True:
                    third.recv(timeout=5)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1013
    finally:
        assert server.stop() == 0
    assert '"shutting_down"' in server.log_text()


def test_a_flooding_client_is_disconnected_and_the_loop_keeps_ticking(live_server: LiveServer) -> None:
    before = _ticks(live_server)
    with connect(live_server.ws, open_timeout=10) as ws, pytest.raises(ConnectionClosed) as info:
        for seq in range(5000):
            ws.send(json.dumps({"type": "ping", "seq": seq}))
        while True:
            ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    time.sleep(0.5)
    assert _ticks(live_server) > before
    assert live_server.get("/api/health").json()["status"] == "healthy"
