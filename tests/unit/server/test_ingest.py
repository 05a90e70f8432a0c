from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from visionflow.observability.metrics import Metrics
from visionflow.server.runtime import Runtime

Api = Callable[..., httpx.Response]
MakeRuntime = Callable[..., Runtime]


def test_pushed_agents_join_the_simulated_swarm_and_show_in_the_api(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    response = api(rt, "POST", "/api/bots/update", json={"agents": [{"id": "ext-1", "type": "coder"}, {"id": "ext-2"}],
                                             "messages": [{"from": "ext-1", "to": "ext-2", "bytes": 64}]})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["applied"]["messages"] == 1
    assert response.json()["instance_id"] == rt.instance_id == api(rt, "GET", "/api/health").json()["instance_id"]
    rt.pipeline.tick_inline()
    body = api(rt, "GET", "/api/bots/data").json()
    assert {"ext-1", "ext-2"} <= {a["id"] for a in body["agents"]} and body["total_agents"] == 7


def test_a_bad_item_is_a_422_naming_it_and_nothing_is_applied(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    before = rt.state.version
    response = api(rt, "POST", "/api/bots/update", json={"agents": [{"id": "ok"}, {"id": "bad", "health": 500}]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "agents", 1, "health"]
    assert response.json()["instance_id"] == rt.instance_id, "a refusal tells a client about restarts too"
    assert rt.state.version == before and "ok" not in rt.state


def test_conflicts_with_another_sources_agent(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    sim_id = next(iter(rt.state.agents))
    response = api(rt, "POST", "/api/bots/update", json={"agents": [{"id": "fine"}], "remove": [sim_id]})
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
def test_limits(make_runtime: MakeRuntime, api: Api, settings: dict[str, Any], body: bytes, status: int) -> None:
    rt = make_runtime(agents=5, **settings)
    assert api(rt, "POST", "/api/bots/update", content=body).status_code == status


def test_bearer_token(make_runtime: MakeRuntime, api: Api, metrics: Metrics) -> None:
    rt = make_runtime(agents=5, ingest_token="s3cret")
    assert api(rt, "POST", "/api/bots/update", json={}).status_code == 401
    assert api(rt, "POST", "/api/bots/update", json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api(rt, "POST", "/api/bots/update", json={}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert metrics.registry.get_sample_value("visionflow_ingest_rejected_total", {"reason": "auth"}) == 2


def test_control_needs_the_mcp_source(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    assert api(rt, "POST", "/api/bots/spawn-agent", json={"type": "coder"}).status_code == 409
    response = api(rt, "POST", "/api/bots/spawn-agent", json={"kind": "coder"})
    assert response.status_code == 422


def test_push_source_runs_without_the_simulator(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5, source="push")
    assert len(rt.state) == 0 and rt.source.name == "push"
    assert api(rt, "POST", "/api/bots/update", json={"agents": [{"id": "only"}]}).status_code == 200
    assert set(rt.state.agents) == {"only"}
    assert rt.health()["components"]["source"]["status"] == "ok"
