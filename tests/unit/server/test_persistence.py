"""The store wired into a running server: pushes and parameter changes saved before they are answered,
and the swarm, its parameters and its alerts back after a restart; history limits; health."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client import CollectorRegistry

from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings


def settings(tmp_path: Path, **options: Any) -> Settings:
    return Settings(**{"source": "push", "physics": "cpu", "seed": 1, "ws_port": 0, "data_dir": tmp_path,
                       "history_hz": 20.0, **options})  # fmt: skip


async def started(config: Settings) -> tuple[Runtime, httpx.AsyncClient]:
    runtime = Runtime(config, metrics=Metrics(CollectorRegistry(), process_metrics=False))
    app = create_app(runtime)
    await runtime.start()
    return runtime, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


BATCH = {
    "agents": [{"id": f"w{i}", "type": "coder", "status": "busy", "health": 50 + i, "tokens": i} for i in range(20)],
    "messages": [{"from": f"w{i}", "to": f"w{(i + 1) % 20}", "bytes": 100} for i in range(20)],
}


def test_what_was_acknowledged_is_saved_at_once_and_restored_after_a_restart(tmp_path: Path) -> None:
    async def go() -> None:
        runtime, api = await started(settings(tmp_path))
        try:
            assert (await api.post("/api/bots/update", json=BATCH)).status_code == 200
            with sqlite3.connect(tmp_path / "visionflow.db") as db:  # saved before the answer, not at shutdown
                assert db.execute("SELECT count(*) FROM agents WHERE active").fetchone() == (20,)
                assert db.execute("SELECT count(*) FROM communication_links").fetchone() == (20,)
            assert (await api.patch("/api/physics/params", json={"theta": 0.6})).status_code == 200
            with sqlite3.connect(tmp_path / "visionflow.db") as db:
                assert db.execute("SELECT params ->> '$.theta' FROM physics_params").fetchone() == (0.6,)
            alert = {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "Probe"}}]}
            assert (await api.post("/api/alerts", json=alert)).status_code == 200
            await api.post("/api/bots/update", json={"remove": ["w19"]})
            before = {a["id"]: a for a in (await api.get("/api/bots/data")).json()["agents"]}
            await asyncio.sleep(0.5)  # position samples at 20 Hz
            health = (await api.get("/api/health")).json()["components"]["store"]
            assert health["status"] == "ok" and health["backend"] == "sqlite"
        finally:
            await runtime.stop()
            await api.aclose()
        with sqlite3.connect(tmp_path / "visionflow.db") as db:
            last = {agent_id: (x, y, z) for agent_id, x, y, z in db.execute(
                "SELECT a.id, p.x, p.y, p.z FROM agent_positions p JOIN agents a ON a.key = p.agent_key "
                "WHERE p.t = (SELECT max(t) FROM agent_positions q WHERE q.agent_key = p.agent_key)")}  # fmt: skip

        runtime, api = await started(settings(tmp_path))
        try:
            body = (await api.get("/api/bots/data")).json()
            after = {a["id"]: a for a in body["agents"]}
            assert set(after) == {f"w{i}" for i in range(19)}
            for agent_id, agent in after.items():
                old = before[agent_id]
                assert agent["node_id"] == old["node_id"] and agent["health"] == old["health"]
                assert agent["tokens"] == old["tokens"] and agent["status"] == "busy"
                # where it was last saved, give or take the few ticks since the start (a fresh layout would
                # put it anywhere in a ball of radius ~11)
                assert np.allclose([agent["position"][k] for k in "xyz"], last[agent_id], atol=1.0), agent_id
            assert len(body["edges"]) == 18 and all(e["message_count"] == 1 for e in body["edges"])
            assert (await api.get("/api/physics/params")).json()["params"]["theta"] == 0.6
            alerts = (await api.get("/api/alerts")).json()["alerts"]
            assert [a["alertname"] for a in alerts] == ["Probe"]
            update = await api.post("/api/bots/update", json={"agents": [{"id": "w3", "status": "idle"}]})
            assert update.status_code == 200  # still this ingest's agent: no conflict
        finally:
            await runtime.stop()
            await api.aclose()

    asyncio.run(go())


def test_history_requests_over_the_limits_are_422s_naming_the_limit(tmp_path: Path) -> None:
    async def go() -> None:
        runtime, api = await started(settings(tmp_path, history_max_agents=2))
        try:
            now = time.time()
            cases = {
                f"/api/bots/history?from={now - 100_000}&to={now}": ("to", "history_max_window_s"),
                f"/api/bots/history?from={now - 3600}&to={now}&step=0.001": ("step", "history_max_points"),
                f"/api/bots/history?agents=a,b,c&from={now - 10}&to={now}": ("agents", "history_max_agents"),
                f"/api/bots/history?from={now}&to={now - 10}": ("to", "after"),
            }
            for url, (field, words) in cases.items():
                answer = await api.get(url)
                detail = answer.json()["detail"][0]
                assert answer.status_code == 422 and detail["loc"] == ["query", field] and words in detail["msg"], url
            assert (await api.get("/api/bots/history/frame")).status_code == 422  # ``at`` is required
            ok = await api.get(f"/api/bots/history?from={now - 60}&to={now + 1}")
            assert ok.status_code == 200 and ok.json()["agents"] == []
            assert (await api.post("/api/bots/update", json=BATCH)).status_code == 200
            await asyncio.sleep(0.6)  # a dozen samples at 20 Hz
            answer = await api.get(f"/api/bots/history?from={now - 1}&to={time.time()}&step=0.1&agents=w1,w2")
            page = answer.json()
            assert answer.status_code == 200 and [a["id"] for a in page["agents"]] == ["w1", "w2"]
            first = page["agents"][0]
            assert len(first["t"]) == len(first["x"]) == len(first["vz"]) > 2 and first["t"] == sorted(first["t"])
            assert first["status"] == [{"at": first["status"][0]["at"], "status": "busy"}]
            frame = (await api.get(f"/api/bots/history/frame?at={time.time()}")).json()
            assert frame["total_agents"] == 20 and all(a["position"] is not None for a in frame["agents"])
            assert len(frame["links"]) == 20
        finally:
            await runtime.stop()
            await api.aclose()

    asyncio.run(go())


def test_with_the_store_off_nothing_is_written_and_history_says_so(tmp_path: Path) -> None:
    async def go() -> None:
        runtime, api = await started(settings(tmp_path, store=False))
        try:
            assert (await api.post("/api/bots/update", json=BATCH)).status_code == 200
            assert (await api.get("/api/health")).json()["components"]["store"] == {"status": "disabled"}
            answer = await api.get("/api/bots/history/frame?at=1")
            assert answer.status_code == 503 and "store: false" in answer.json()["detail"][0]["msg"]
        finally:
            await runtime.stop()
            await api.aclose()
        assert not (tmp_path / "visionflow.db").exists()

    asyncio.run(go())
