from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from visionflow.server.runtime import Runtime

Api = Callable[..., httpx.Response]


def test_bots_data_lists_agents_with_positions_and_edges(runtime: Runtime, api: Api) -> None:
    body = api(runtime, "GET", "/api/bots/data").json()
    assert body["total_agents"] == len(body["agents"]) == 30
    agent = body["agents"][0]
    for key in ("id", "node_id", "name", "type", "status", "health", "cpu", "memory", "workload", "tokens",
                "current_task", "position", "velocity"):  # fmt: skip
        assert key in agent
    assert set(agent["position"]) == {"x", "y", "z"}
    assert body["tick"] == 5
    for edge in body["edges"]:
        assert {"source", "target", "intensity", "message_count", "last_message_at"} <= set(edge)


def test_bots_data_pages(runtime: Runtime, api: Api) -> None:
    body = api(runtime, "GET", "/api/bots/data?offset=25&limit=10").json()
    assert len(body["agents"]) == 5 and body["offset"] == 25


def test_a_page_carries_only_the_edges_of_its_agents(runtime: Runtime, api: Api) -> None:
    ids = sorted(runtime.state.agents)
    for a, b in zip(ids, ids[5:] + ids[:5], strict=True):
        runtime.state.record_message(a, b, time.time())
    runtime.pipeline.tick_inline()
    whole = api(runtime, "GET", "/api/bots/data").json()
    assert whole["total_edges"] == len(whole["edges"]) > 0
    page = api(runtime, "GET", "/api/bots/data?offset=0&limit=3").json()
    ids = {a["id"] for a in page["agents"]}
    expected = [e for e in whole["edges"] if e["source"] in ids or e["target"] in ids]
    assert {(e["source"], e["target"]) for e in page["edges"]} == {(e["source"], e["target"]) for e in expected}
    assert page["total_edges"] == whole["total_edges"]


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=abc"])
def test_bad_query_is_a_422_naming_the_field(runtime: Runtime, query: str, api: Api) -> None:
    response = api(runtime, "GET", f"/api/bots/data?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == query.split("=")[0]


def test_binary_test_round_trips_the_live_state(runtime: Runtime, api: Api) -> None:
    body = api(runtime, "GET", "/api/bots/binary-test").json()
    assert body == {"records": 30, "bytes": 30 * 28, "record_size": 28, "max_abs_error": 0.0, "ok": True}


def test_health_before_the_loop_runs_is_unhealthy_then_healthy(runtime: Runtime, api: Api) -> None:
    runtime.pipeline.last_tick_at = None
    response = api(runtime, "GET", "/api/health")
    assert response.status_code == 503 and response.json()["status"] == "unhealthy"
    runtime.pipeline.tick_inline()
    runtime.hub.bound_port = 1234
    body = api(runtime, "GET", "/api/health").json()
    assert body["status"] == "healthy"
    assert set(body["components"]) == {"physics", "source", "store", "stream"}
    assert body["components"]["physics"]["backend"] == "cpu"


def test_metrics_expose_the_required_series(runtime: Runtime, api: Api) -> None:
    for path in ("/metrics", "/api/metrics"):
        text = api(runtime, "GET", path).text
        for name in (
            "visionflow_active_agents 30.0",
            "visionflow_websocket_connections 0.0",
            'visionflow_processing_duration_seconds_bucket{le="0.0005",stage="physics"}',
            "visionflow_binary_bytes_transmitted 0.0",
            'visionflow_errors_total{component="api"}',
            "# TYPE visionflow_websocket_disconnections untyped",
        ):
            assert name in text, name


def test_openapi_is_served_and_docs_need_no_cdn(runtime: Runtime, api: Api) -> None:
    spec = api(runtime, "GET", "/openapi.json").json()
    assert "/api/bots/data" in spec["paths"]
    assert api(runtime, "GET", "/docs").status_code == 404
