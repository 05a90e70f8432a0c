from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings


def make(metrics: Metrics, **settings: Any) -> Runtime:
    rt = Runtime(Settings(**{"agents": 5, "seed": 2, **settings}), metrics=metrics)
    asyncio.run(rt.source.start(rt.state, time.time()))
    rt.pipeline.tick_sync()
    return rt


def post(rt: Runtime, path: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if isinstance(body, dict):
                return await client.post(path, json=body, headers=headers)
            return await client.post(path, content=body, headers=headers)

    return asyncio.run(go())


def test_pushed_agents_join_the_simulated_swarm_and_show_in_the_api(metrics: Metrics) -> None:
    rt = make(metrics)
    response = post(rt, "/api/bots/update", {"agents": [{"id": "ext-1", "type": "coder"}, {"id": "ext-2"}],
                                             "messages": [{"from": "ext-1", "to": "ext-2", "bytes": 64}]})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["applied"]["messages"] == 1
    rt.pipeline.tick_sync()
    body = rt.pipeline.agents_data()
    assert {"ext-1", "ext-2"} <= {a["id"] for a in body["agents"]} and body["total_agents"] == 7


def test_a_bad_item_is_a_422_naming_it_and_nothing_is_applied(metrics: Metrics) -> None:
    rt = make(metrics)
    before = rt.state.version
    response = post(rt, "/api/bots/update", {"agents": [{"id": "ok"}, {"id": "bad", "health": 500}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "agents", 1, "health"]
    assert rt.state.version == before and "ok" not in rt.state


def test_conflicts_with_another_sources_agent(metrics: Metrics) -> None:
    rt = make(metrics)
    sim_id = next(iter(rt.state.agents))
    response = post(rt, "/api/bots/update", {"agents": [{"id": "fine"}], "remove": [sim_id]})
    assert response.status_code == 409 and response.json()["detail"][0]["loc"] == ["body", "remove", 0]
    assert sim_id in rt.state and "fine" not in rt.state


@pytest.mark.parametrize(
    ("settings", "body", "status"),
    [
        ({"ingest_max_body_bytes": 1024}, b'{"agents": [' + b'{"id": "x"},' * 200 + b'{"id": "y"}]}', 413),
        ({"ingest_max_batch": 2}, b'{"agents": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}', 422),
        ({}, b"{not json", 422),
        ({"ingest": False}, b"{}", 404),
    ],
)
def test_limits(metrics: Metrics, settings: dict[str, Any], body: bytes, status: int) -> None:
    rt = make(metrics, **settings)
    assert post(rt, "/api/bots/update", body).status_code == status


def test_bearer_token(metrics: Metrics) -> None:
    rt = make(metrics, ingest_token="s3cret")
    assert post(rt, "/api/bots/update", {}).status_code == 401
    assert post(rt, "/api/bots/update", {}, {"Authorization": "Bearer wrong"}).status_code == 401
    assert post(rt, "/api/bots/update", {}, {"Authorization": "Bearer s3cret"}).status_code == 200
    assert metrics.registry.get_sample_value("visionflow_ingest_rejected_total", {"reason": "auth"}) == 2


def test_control_needs_the_mcp_source(metrics: Metrics) -> None:
    rt = make(metrics)
    assert post(rt, "/api/bots/spawn-agent", {"type": "coder"}).status_code == 409
    response = post(rt, "/api/bots/spawn-agent", {"kind": "coder"})
    assert response.status_code == 422


def test_push_source_runs_without_the_simulator(metrics: Metrics) -> None:
    rt = make(metrics, source="push")
    assert len(rt.state) == 0 and rt.source.name == "push"
    assert post(rt, "/api/bots/update", {"agents": [{"id": "only"}]}).status_code == 200
    assert set(rt.state.agents) == {"only"}
    assert rt.health()["components"]["source"]["status"] == "ok"
