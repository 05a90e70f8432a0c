"""``agents_data``: agents with the engine's positions, paged, with the edges a page needs."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from tests.fakes import FakeClock

from visionflow.physics import PhysicsEngine
from visionflow.server.pipeline import Pipeline
from visionflow.server.views import agents_data
from visionflow.swarm import Agent, AgentType, SwarmState

MakePipeline = Callable[..., Pipeline]


@pytest.fixture
def pipeline(make_pipeline: MakePipeline, clock: FakeClock) -> Pipeline:
    pipeline = make_pipeline(agents=12)
    for _ in range(3):
        clock.advance()
        pipeline.tick_inline()
    ids = sorted(pipeline.state.agents)
    for a, b in itertools.pairwise(ids):
        pipeline.state.record_message(a, b, clock())
    clock.advance()
    pipeline.tick_inline()
    return pipeline


def test_every_agent_carries_its_position_and_velocity_from_the_engine(pipeline: Pipeline, clock: FakeClock) -> None:
    body = agents_data(pipeline.state, pipeline.engine, tick=pipeline.seq, now=clock())
    assert body["tick"] == pipeline.seq and body["timestamp"] == clock()
    assert body["total_agents"] == len(body["agents"]) == len(pipeline.state)
    engine = pipeline.engine
    for item in body["agents"]:
        slot = engine.slot(item["node_id"])
        expected = engine.positions[slot]
        assert [item["position"][k] for k in "xyz"] == pytest.approx(expected.tolist())
        assert [item["velocity"][k] for k in "xyz"] == pytest.approx(engine.velocities[slot].tolist())
    assert body["total_edges"] == len(body["edges"]) == len(pipeline.state.links) > 0


def test_a_page_has_its_agents_and_only_their_edges(pipeline: Pipeline, clock: FakeClock) -> None:
    whole = agents_data(pipeline.state, pipeline.engine, tick=0, now=clock())
    page = agents_data(pipeline.state, pipeline.engine, tick=0, now=clock(), offset=2, limit=3)
    assert [a["id"] for a in page["agents"]] == [a["id"] for a in whole["agents"][2:5]]
    ids = {a["id"] for a in page["agents"]}
    expected = {(e["source"], e["target"]) for e in whole["edges"] if e["source"] in ids or e["target"] in ids}
    assert {(e["source"], e["target"]) for e in page["edges"]} == expected
    assert page["total_edges"] == whole["total_edges"] and page["offset"] == 2


def test_an_agent_the_engine_has_not_placed_yet_has_no_position() -> None:
    state = SwarmState()
    state.add(Agent(id="new", name="new", type=AgentType.CODER))
    engine = PhysicsEngine()
    body = agents_data(state, engine, tick=0, now=0.0)
    assert body["agents"][0]["position"] is None and body["agents"][0]["velocity"] is None
    engine.add_nodes(np.array([state.agents["new"].node_id], dtype=np.uint32))
    assert agents_data(state, engine, tick=0, now=0.0)["agents"][0]["position"] is not None
