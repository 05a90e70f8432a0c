"""Agent and link news: batched, membership at once, merged per agent and link; snapshots built once a tick."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from tests.fakes import FakeClock

from visionflow.physics import PhysicsEngine
from visionflow.protocol.binary import decode
from visionflow.server.news import PendingNews, SwarmNews
from visionflow.server.pipeline import Pipeline
from visionflow.swarm import Agent, AgentStatus, AgentType, SwarmState

MakePipeline = Callable[..., Pipeline]
NOW = 1000.0


def swarm(*ids: str) -> SwarmState:
    state = SwarmState()
    for agent_id in ids:
        state.add(Agent(id=agent_id, name=agent_id, type=AgentType.CODER))
    state.drain()
    return state


def news_over(state: SwarmState, **options: Any) -> SwarmNews:
    return SwarmNews(state, PhysicsEngine(), wall_clock=lambda: NOW, **options)


def take(news: SwarmNews, *, any_tick: bool = False) -> dict[str, Any] | None:
    news.next_tick()
    message = news.take(NOW, any_tick=any_tick)
    return None if message is None else orjson.loads(message)


def test_pending_news_keeps_each_agent_and_link_once_in_its_last_state() -> None:
    state = swarm("a", "b", "c")
    pending = PendingNews()
    state.update("a", status=AgentStatus.BUSY)
    state.update("a", workload=0.5)
    state.record_message("a", "b", NOW)
    pending.merge(state.drain())
    assert list(pending.upserts) == ["a"] and pending.links == {("a", "b")} and not pending.membership
    node_b = state.agents["b"].node_id
    state.update("b", status=AgentStatus.IDLE)
    state.remove("b")
    pending.merge(state.drain())
    assert list(pending.upserts) == ["a"] and pending.removed == [node_b]
    assert pending.links == set() and pending.links_removed == {("a", "b")} and pending.membership
    state.add(Agent(id="b", name="b", type=AgentType.TESTER))
    state.record_message("a", "b", NOW)
    pending.merge(state.drain())
    assert pending.links == {("a", "b")} and pending.links_removed == set()
    assert bool(pending) and not PendingNews()


def test_metadata_waits_for_its_tick_and_membership_goes_at_once() -> None:
    state = swarm("a", "b")
    news = news_over(state, tick_hz=60.0, metadata_hz=20.0)
    assert news.metadata_every == 3
    state.update("a", status=AgentStatus.BUSY)
    news.record(state.drain())
    assert take(news) is None and take(news) is None  # ticks 1 and 2
    message = take(news)  # tick 3
    assert message is not None and message["seq"] == 3 and not message["full"]
    assert [(a["id"], a["status"]) for a in message["agents"]] == [("a", "busy")]
    assert take(news) is None, "what was sent is forgotten"
    state.add(Agent(id="c", name="c", type=AgentType.ANALYST))
    news.record(state.drain())
    joined = take(news)  # tick 4: not a metadata tick, but an agent joined
    assert joined is not None and [a["id"] for a in joined["agents"]] == ["c"]


def test_at_rest_any_tick_carries_the_news_and_forget_drops_it() -> None:
    state = swarm("a")
    news = news_over(state, tick_hz=60.0, metadata_hz=1.0)
    state.update("a", health=50.0)
    news.record(state.drain())
    message = take(news, any_tick=True)
    assert message is not None and message["agents"][0]["health"] == 50.0
    state.update("a", health=40.0)
    news.record(state.drain())
    news.forget()
    assert take(news, any_tick=True) is None


def test_a_removed_agent_is_news_by_node_id_with_its_links(make_pipeline: MakePipeline, clock: FakeClock) -> None:
    pipeline = make_pipeline(agents=8)
    pipeline.tick_inline()
    state = pipeline.state
    a, b = list(state.agents)[:2]
    state.record_message(a, b, clock())
    pipeline.tick_inline()
    gone = state.agents[b].node_id
    state.remove(b)
    changes = state.drain()
    pipeline.news.record(changes)
    message = orjson.loads(pipeline.news.take(clock()) or b"null")
    assert gone in message["removed"] and sorted([a, b]) in message["links_removed"]


def test_snapshot_is_every_agent_and_link_and_a_full_frame(make_pipeline: MakePipeline, clock: FakeClock) -> None:
    pipeline = make_pipeline(agents=20)
    for _ in range(5):
        clock.advance()
        pipeline.tick_inline()
    snap = pipeline.news.snapshot()
    body = orjson.loads(snap.agents_json)
    assert body["full"] and body["seq"] == snap.seq == pipeline.seq == 5
    assert {a["id"] for a in body["agents"]} == set(pipeline.state.agents)
    assert len(body["links"]) == len(pipeline.state.links) and body["link_decay_s"] > 0
    frame = decode(snap.frame)
    engine = pipeline.engine
    assert snap.records == len(frame) == engine.n
    np.testing.assert_array_equal(frame.node_ids, engine.ids)
    np.testing.assert_array_equal(frame.positions, engine.positions)


def test_snapshot_text_is_built_once_per_tick_and_swarm_version(make_pipeline: MakePipeline) -> None:
    pipeline = make_pipeline(agents=10)
    pipeline.tick_inline()
    news = pipeline.news
    first = news.snapshot()
    assert news.snapshot().agents_json is first.agents_json  # a second client in the same tick
    agent = next(iter(pipeline.state.agents))
    pipeline.state.update(agent, status=AgentStatus.ERROR)
    changed = news.snapshot()
    assert changed.agents_json is not first.agents_json
    assert [a["status"] for a in orjson.loads(changed.agents_json)["agents"] if a["id"] == agent] == ["error"]
    news.next_tick()
    assert orjson.loads(news.snapshot().agents_json)["seq"] == first.seq + 1
