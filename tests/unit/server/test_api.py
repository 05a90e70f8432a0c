from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings


@pytest.fixture
def runtime(metrics: Metrics) -> Iterator[Runtime]:
    rt = Runtime(Settings(agents=30, seed=1), metrics=metrics)
    asyncio.run(rt.source.start(rt.state, time.time()))
    for _ in range(5):
        rt.pipeline.tick_sync()
    yield rt


def get(rt: Runtime, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(go())


def test_bots_data_lists_agents_with_positions_and_edges(runtime: Runtime) -> None:
    body = get(runtime, "/api/bots/data").json()
    assert body["total_agents"] == len(body["agents"]) == 30
    agent = body["agents"][0]
    for key in ("id", "node_id", "name", "type", "status", "health", "cpu", "memory", "workload", "tokens",
                "current_task", "position", "velocity"):  # fmt: skip
        assert key in agent
    assert set(agent["position"]) == {"x", "y", "z"}
    assert body["tick"] == 5
    for edge in body["edges"]:
        assert {"source", "target", "intensity", "message_count", "last_message_at"} <= set(edge)


def test_bots_data_pages(runtime: Runtime) -> None:
    body = get(runtime, "/api/bots/data?offset=25&limit=10").json()
    assert len(body["agents"]) == 5 and body["offset"] == 25


def test_a_page_carries_only_the_edges_of_its_agents(runtime: Runtime) -> None:
    ids = sorted(runtime.state.agents)
    for a, b in zip(ids, ids[5:] + ids[:5], strict=True):
        runtime.state.record_message(a, b, time.time())
    runtime.pipeline.tick_sync()
    whole = get(runtime, "/api/bots/data").json()
    assert whole["total_edges"] == len(whole["edges"]) > 0
    page = get(runtime, "/api/bots/data?offset=0&limit=3").json()
    ids = {a["id"] for a in page["agents"]}
    expected = [e for e in whole["edges"] if e["source"] in ids or e["target"] in ids]
    assert {(e["source"], e["target"]) for e in page["edges"]} == {(e["source"], e["target"]) for e in expected}
    assert page["total_edges"] == whole["total_edges"]


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=abc"])
def test_bad_query_is_a_422_naming_the_field(runtime: Runtime, query: str) -> None:
    response = get(runtime, f"/api/bots/data?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == query.split("=")[0]


def test_binary_test_round_trips_the_live_state(runtime: Runtime) -> None:
    body = get(runtime, "/api/bots/binary-test").json()
    assert body == {"records": 30, "bytes": 30 * 28, "record_size": 28, "max_abs_error": 0.0, "ok": True}


def test_health_before_the_loop_runs_is_unhealthy_then_healthy(runtime: Runtime) -> None:
    runtime.pipeline.last_tick_at = None
    response = get(runtime, "/api/health")
    assert response.status_code == 503 and response.json()["status"] == "unhealthy"
    runtime.pipeline.tick_sync()
    runtime.hub.bound_port = 1234
    body = get(runtime, "/api/health").json()
    assert body["status"] == "healthy"
    assert set(body["components"]) == {"physics", "source", "store", "stream"}
    assert body["components"]["physics"]["backend"] == "cpu"


def test_metrics_expose_the_required_series(runtime: Runtime) -> None:
    for path in ("/metrics", "/api/metrics"):
        text = get(runtime, path).text
        for name in (
            "visionflow_active_agents 30.0",
            "visionflow_websocket_connections 0.0",
            'visionflow_processing_duration_seconds_bucket{le="0.0005",stage="physics"}',
            "visionflow_binary_bytes_transmitted 0.0",
            'visionflow_errors_total{component="api"}',
            "# TYPE visionflow_websocket_disconnections untyped",
        ):
            assert name in text, name


def test_openapi_is_served_and_docs_need_no_cdn(runtime: Runtime) -> None:
    spec = get(runtime, "/openapi.json").json()
    assert "/api/bots/data" in spec["paths"]
    assert get(runtime, "/docs").status_code == 404
