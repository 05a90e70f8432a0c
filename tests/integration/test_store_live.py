"""The store with a real server: nothing acknowledged is lost to SIGKILL or to a database that goes away,
and a replay over the WebSocket delivers the frames that were stored. SQLite always; PostgreSQL when the
machine has it (each test in a database of its own, dropped afterwards)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from tests.support.live import LiveServer, start_server
from tests.support.postgres import HOST, PORT, temporary_database
from tests.support.proxy import CuttableProxy
from visionflow.protocol.binary import decode

pytestmark = pytest.mark.integration

AGENTS = 500


class Database:
    """Where a test's server keeps its store, and a way to look inside it."""

    def __init__(self, data_dir: Path, url: str | None) -> None:
        self.data_dir = data_dir
        self.url = url

    @property
    def env(self) -> dict[str, str]:
        env = {"VISIONFLOW_DATA_DIR": str(self.data_dir)}
        if self.url:
            env["VISIONFLOW_DATABASE_URL"] = self.url
        return env

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url is None:
            with sqlite3.connect(self.data_dir / "visionflow.db") as db:
                return db.execute(sql).fetchall()

        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.url)
            try:
                return [tuple(r) for r in await conn.fetch(sql)]
            finally:
                await conn.close()

        return asyncio.run(fetch())


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database(tmp_path / "data", None)
        return
    for url in temporary_database():
        yield Database(tmp_path / "data", url)


def spawn_batch(n: int) -> dict[str, Any]:
    agents = [{"id": f"agent-{i}", "type": ("coder", "tester", "reviewer")[i % 3], "status": "busy", "tokens": 0}
              for i in range(n)]  # fmt: skip
    messages = [{"from": f"agent-{i}", "to": f"agent-{(i + j) % n}", "bytes": 64} for i in range(n) for j in (1, 7)]
    return {"agents": agents, "messages": messages}


def layout(server: LiveServer, path: str = "/api/bots/data?limit=100000") -> dict[str, np.ndarray]:
    body = server.get(path).json()
    return {a["id"]: np.array([a["position"][k] for k in "xyz"]) for a in body["agents"] if a["position"]}


def test_a_killed_server_comes_back_with_everything_it_acknowledged(tmp_path: Path, database: Database) -> None:
    env = {**database.env, "VISIONFLOW_HISTORY_HZ": "5"}
    server = start_server(tmp_path / "first.log", "--source", "push", env=env)
    acked_tokens: dict[str, int] = {}
    acked_messages: Counter[tuple[str, str]] = Counter()
    try:
        with httpx.Client(base_url=server.http, timeout=30) as api:
            assert api.post("/api/bots/update", json=spawn_batch(AGENTS)).status_code == 200
            for i in range(AGENTS):
                for j in (1, 7):
                    acked_messages[tuple(sorted((f"agent-{i}", f"agent-{(i + j) % AGENTS}")))] += 1  # type: ignore[index]
            assert api.patch("/api/physics/params", json={"theta": 0.55, "damping": 0.8}).status_code == 200
        time.sleep(2.0)  # the layout unfolds; positions are sampled five times a second
        stop = threading.Event()

        def push() -> None:
            n = 0
            with httpx.Client(base_url=server.http, timeout=30) as api:
                while not stop.is_set():
                    n += 1
                    chosen = [f"agent-{(n * 37 + k) % AGENTS}" for k in range(50)]
                    pairs = [(chosen[k], chosen[(k + 1) % 50]) for k in range(0, 50, 5)]
                    batch = {"agents": [{"id": a, "tokens": n} for a in chosen],
                             "messages": [{"from": a, "to": b, "bytes": 10} for a, b in pairs]}  # fmt: skip
                    try:
                        answer = api.post("/api/bots/update", json=batch)
                    except httpx.TransportError:
                        return  # killed mid-request: not acknowledged
                    if answer.status_code == 200:
                        acked_tokens.update(dict.fromkeys(chosen, n))
                        for a, b in pairs:
                            acked_messages[tuple(sorted((a, b)))] += 1  # type: ignore[index]

        pusher = threading.Thread(target=push)
        pusher.start()
        time.sleep(2.0)
        killed_at = time.time()
        server.process.kill()  # SIGKILL: no shutdown, no flush
        server.process.wait()
        stop.set()
        pusher.join(timeout=30)
    finally:
        server.stop()
    assert len(acked_tokens) > 100, "the stream of pushes was too short to mean anything"

    server = start_server(tmp_path / "second.log", "--source", "push", env=env)
    try:
        body = server.get("/api/bots/data?limit=100000").json()
        agents = {a["id"]: a for a in body["agents"]}
        assert len(agents) == AGENTS
        for agent_id, tokens in acked_tokens.items():
            # a batch in flight when the server died may have been saved too, so never less than acknowledged
            assert agents[agent_id]["tokens"] >= tokens, agent_id
        edges = {tuple(sorted((e["source"], e["target"]))): e["message_count"] for e in body["edges"]}
        for pair, count in acked_messages.items():
            assert edges.get(pair, 0) >= count, pair
        params = server.get("/api/physics/params").json()["params"]
        assert (params["theta"], params["damping"]) == (0.55, 0.8)
        now = layout(server)
        stored = layout(server, f"/api/bots/history/frame?at={killed_at}&limit=20000")
        assert set(stored) == set(now)
        moved = np.array([np.linalg.norm(now[a] - stored[a]) for a in now])
        spread = np.median([np.linalg.norm(p) for p in stored.values()])
        # The layout resumes where it stood when killed: agents are where they were saved, give or take the
        # few ticks since the start, not strewn anew (which would move the typical agent by about the spread).
        # The last sample is up to a second older than the kill, and on a loaded machine the layout pushed two
        # seconds earlier is still unfolding then: a tenth of the spread was seen here, so a quarter is the bound.
        assert np.median(moved) < 0.25 * spread, (np.median(moved), spread)
    finally:
        server.stop()


class FrameCounter:
    """Counts binary frames arriving on the stream, from a thread."""

    def __init__(self, url: str) -> None:
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        with connect(url, open_timeout=10) as ws:
            while not self._stop.is_set():
                try:
                    message = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                if isinstance(message, bytes):
                    self.times.append(time.monotonic())

    def between(self, start: float, end: float) -> int:
        return sum(start <= t <= end for t in self.times)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def ride_out_an_outage(server: LiveServer, database: Database, break_it: Any, mend_it: Any) -> None:
    """Push through an outage: every push answered 200, frames keep flowing, health degraded; after it, every
    acknowledged agent is in the database and health is back."""
    frames = FrameCounter(server.ws)
    acked: list[str] = []
    with httpx.Client(base_url=server.http, timeout=30) as api:
        assert api.post("/api/bots/update", json=spawn_batch(50)).status_code == 200
        time.sleep(1.0)
        break_it()
        began = time.monotonic()
        reason = None
        for n in range(40):
            batch = {"agents": [{"id": f"late-{n}", "type": "analyst"}],
                     "messages": [{"from": f"late-{n}", "to": f"agent-{n}", "bytes": 1}]}  # fmt: skip
            answer = api.post("/api/bots/update", json=batch)
            assert answer.status_code == 200, answer.text
            acked.append(f"late-{n}")
            health = api.get("/api/health").json()
            if health["components"]["store"]["status"] == "degraded":
                reason = health["components"]["store"]["reason"]
                assert health["status"] == "degraded"
            time.sleep(0.1)
        ended = time.monotonic()
        mend_it()
        assert reason is not None and "database unavailable" in reason, reason
        assert frames.between(began, ended) > 10, "the stream stalled while the database was away"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            store = api.get("/api/health").json()["components"]["store"]
            if store["status"] == "ok" and store["spooled"] == 0:
                break
            time.sleep(0.25)
        assert store["status"] == "ok" and store["spooled"] == 0, store
    frames.close()
    saved = {row[0] for row in database.rows("SELECT id FROM agents")}
    assert set(acked) <= saved, sorted(set(acked) - saved)
    links = {tuple(row) for row in database.rows("SELECT source, target FROM communication_links")}
    assert all(tuple(sorted((f"late-{n}", f"agent-{n}"))) in links for n in range(40))


def test_sqlite_locked_by_someone_else_loses_nothing_acknowledged(tmp_path: Path) -> None:
    database = Database(tmp_path / "data", None)
    env = {**database.env, "VISIONFLOW_STORE_TIMEOUT_S": "0.5", "VISIONFLOW_HISTORY_HZ": "5"}
    server = start_server(tmp_path / "vf.log", "--source", "push", env=env)
    holder: list[sqlite3.Connection] = []

    def lock() -> None:  # another process taking the write lock and sitting on it (a stuck backup, a long query)
        conn = sqlite3.connect(database.data_dir / "visionflow.db", isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        holder.append(conn)

    def unlock() -> None:
        holder[0].execute("ROLLBACK")
        holder[0].close()

    try:
        ride_out_an_outage(server, database, lock, unlock)
    finally:
        server.stop()


def test_postgresql_cut_off_loses_nothing_acknowledged(tmp_path: Path) -> None:
    for url in temporary_database():
        proxy = CuttableProxy(HOST, PORT)
        through_proxy = url.replace(f"{HOST}:{PORT}", f"127.0.0.1:{proxy.port}")
        database = Database(tmp_path / "data", url)
        env = {"VISIONFLOW_DATA_DIR": str(database.data_dir), "VISIONFLOW_DATABASE_URL": through_proxy,
               "VISIONFLOW_STORE_TIMEOUT_S": "1", "VISIONFLOW_HISTORY_HZ": "5"}  # fmt: skip
        server = start_server(tmp_path / "vf.log", "--source", "push", env=env)
        try:
            ride_out_an_outage(server, database, proxy.cut, proxy.mend)
        finally:
            server.stop()
            proxy.close()


def test_a_replay_over_the_websocket_delivers_the_frames_that_were_stored(tmp_path: Path) -> None:
    database = Database(tmp_path / "data", None)
    server = start_server(tmp_path / "vf.log", "--source", "push", env={**database.env, "VISIONFLOW_HISTORY_HZ": "5"})
    try:
        with httpx.Client(base_url=server.http, timeout=30) as api:
            start = time.time()
            assert api.post("/api/bots/update", json=spawn_batch(30)).status_code == 200
        time.sleep(3.0)
        asked_at = time.time()
        frames: list[tuple[float, bytes]] = []
        with connect(server.ws, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "replay", "from": start, "speed": 20}))
            marker: float | None = None
            replaying = False
            while True:
                message = ws.recv(timeout=20)
                if isinstance(message, bytes):
                    if replaying and marker is not None:
                        frames.append((marker, message))
                    marker = None
                    continue
                body = json.loads(message)
                if body["type"] == "replay":
                    replaying = body["state"] == "started"
                    if body["state"] != "started":
                        assert body["state"] == "ended", body
                        break
                elif body["type"] == "frame" and replaying:
                    marker = body.get("t")
    finally:
        server.stop()
    assert frames and frames[0][0] == start
    stored: dict[float, dict[int, tuple[float, float, float]]] = {}
    for node, t, x, y, z in database.rows(f"SELECT node_id, t, x, y, z FROM agent_positions WHERE t > {start} "
                                          f"AND t <= {asked_at - 0.5} ORDER BY t"):  # fmt: skip
        stored.setdefault(t, {})[node] = (x, y, z)
    assert len(stored) >= 10
    replayed = {t: decode(frame) for t, frame in frames[1:]}
    for t, records in stored.items():
        assert t in replayed, f"the sample at {t} was not replayed"
        got = replayed[t]
        assert dict(zip(got.node_ids.tolist(), map(tuple, got.positions.tolist()), strict=True)) == records
