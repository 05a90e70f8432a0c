"""The loop: stages in order and timed, one tick however physics runs, rest, overruns and failures."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import orjson
import pytest
from tests.fakes import FakeClock, RecordingHub

from visionflow.observability.metrics import Metrics
from visionflow.physics import PhysicsEngine
from visionflow.protocol.binary import decode
from visionflow.server.news import SwarmNews
from visionflow.server.pipeline import MIN_AWAKE_STEPS, Pipeline, run_in_thread
from visionflow.sources import SimulatedSource
from visionflow.stream import TickMessages
from visionflow.swarm import Agent, AgentStatus, AgentType, SwarmState

MakePipeline = Callable[..., Pipeline]


def quiet(pipeline: Pipeline) -> None:
    """No more messages, status changes or churn: the swarm only settles."""
    pipeline.source.rates.update(message=0.0, status=0.0, metrics=0.0, task=0.0, churn=0.0)  # type: ignore[attr-defined]


def settle(pipeline: Pipeline, clock: FakeClock) -> None:
    quiet(pipeline)
    pipeline.engine.params = pipeline.engine.params.replace(rest_energy=0.05)
    for _ in range(3000):
        clock.advance()
        pipeline.tick_inline()
        if pipeline.resting:
            return
    raise AssertionError(f"never came to rest: {pipeline.engine.kinetic_energy / pipeline.engine.n}")


def test_ticks_keep_engine_in_step_with_the_swarm(
    make_pipeline: MakePipeline, clock: FakeClock, recording_hub: RecordingHub
) -> None:
    pipeline = make_pipeline()
    for _ in range(600):
        clock.advance()
        pipeline.tick_inline()
    engine = pipeline.engine
    assert sorted(engine.ids.tolist()) == sorted(a.node_id for a in pipeline.state)
    assert engine.edge_count == len(pipeline.state.links)
    assert np.isfinite(engine.positions).all()
    ticks = recording_hub.ticks
    assert len(ticks) == 600 and [t.seq for t in ticks] == list(range(1, 601))
    assert ticks[0].full and ticks[30].full and not ticks[1].full


def test_clients_can_rebuild_the_state_from_the_messages(
    make_pipeline: MakePipeline, clock: FakeClock, recording_hub: RecordingHub
) -> None:
    """Replaying every message a client gets reproduces the server's agents and positions."""
    pipeline = make_pipeline()
    snapshot = pipeline.news.snapshot()
    agents = {a["node_id"]: a for a in orjson.loads(snapshot.agents_json)["agents"]}
    first = decode(snapshot.frame)
    positions = {int(i): p for i, p in zip(first.node_ids, first.positions, strict=True)}

    def apply(tick: TickMessages) -> None:
        for text in tick.text:
            message = orjson.loads(text)
            for node in message["removed"]:
                agents.pop(node, None)
                positions.pop(node, None)
            for agent in message["agents"]:
                agents[agent["node_id"]] = agent
        if tick.frame:
            frame = decode(tick.frame)
            positions.update({int(i): p for i, p in zip(frame.node_ids, frame.positions, strict=True)})

    for _ in range(400):
        clock.advance()
        pipeline.tick_inline()
        apply(recording_hub.ticks[-1])
    while True:  # up to the next metadata tick, which sends whatever news is still pending
        clock.advance()
        pipeline.tick_inline()
        apply(recording_hub.ticks[-1])
        if pipeline.seq % pipeline.news.metadata_every == 0:
            break
    live = {a.node_id: a for a in pipeline.state}
    assert set(agents) == set(live)
    assert all(agents[n]["status"] == live[n].status.value for n in live)
    engine = pipeline.engine
    for node in live:
        slot = engine.slot(node)
        assert np.linalg.norm(positions[node] - engine.positions[slot]) <= pipeline.delta.threshold + 1e-6


def test_each_stage_is_timed_into_the_histogram(
    make_pipeline: MakePipeline, clock: FakeClock, metrics: Metrics
) -> None:
    pipeline = make_pipeline()
    for _ in range(10):
        clock.advance()
        pipeline.tick_inline()
    for stage in ("source", "swarm", "physics", "encode", "broadcast", "total"):
        count = metrics.registry.get_sample_value("visionflow_processing_duration_seconds_count", {"stage": stage})
        assert count == 10
    assert metrics.registry.get_sample_value("visionflow_ticks_total") == 10


def test_physics_in_a_worker_thread_gives_the_same_ticks_as_physics_here(metrics: Metrics) -> None:
    """One tick implementation: where the step runs changes nothing in what the tick produces."""

    def build() -> tuple[Pipeline, RecordingHub, FakeClock]:
        clock, hub, state = FakeClock(), RecordingHub(), SwarmState()
        source = SimulatedSource(40, seed=3)
        asyncio.run(source.start(state, clock()))
        return Pipeline(state, source, PhysicsEngine(seed=3), metrics, hub=hub, wall_clock=clock), hub, clock

    here, here_hub, here_clock = build()
    threaded, threaded_hub, threaded_clock = build()
    steppers: set[int] = set()
    step = threaded.run_physics

    def recorded() -> None:
        steppers.add(threading.get_ident())
        step()

    threaded.run_physics = recorded  # type: ignore[method-assign]

    async def ticks() -> None:
        for _ in range(20):
            threaded_clock.advance()
            await threaded.tick(run_in_thread)

    for _ in range(20):
        here_clock.advance()
        here.tick_inline()
    asyncio.run(ticks())
    assert threading.get_ident() not in steppers and steppers
    np.testing.assert_array_equal(here.engine.positions, threaded.engine.positions)
    assert [(t.seq, t.text, t.frame) for t in here_hub.ticks] == [(t.seq, t.text, t.frame) for t in threaded_hub.ticks]


def test_the_loop_steps_large_graphs_in_a_worker_thread(make_pipeline: MakePipeline) -> None:
    pipeline = make_pipeline(agents=5, physics_thread_threshold=1)
    steppers: set[int] = set()
    step = pipeline.run_physics

    def recorded() -> None:
        steppers.add(threading.get_ident())
        step()

    pipeline.run_physics = recorded  # type: ignore[method-assign]

    async def go() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        await asyncio.sleep(0.1)
        stop.set()
        await task
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    assert steppers and loop_thread not in steppers


def test_news_goes_out_with_the_frames(
    make_pipeline: MakePipeline, clock: FakeClock, recording_hub: RecordingHub
) -> None:
    pipeline = make_pipeline(agents=10)
    quiet(pipeline)
    clock.advance()
    pipeline.tick_inline()
    agent = next(iter(pipeline.state.agents.values()))
    pipeline.state.update(agent.id, status=AgentStatus.ERROR)
    ticks = []
    for _ in range(pipeline.news.metadata_every):
        clock.advance()
        pipeline.tick_inline()
        ticks.append(recording_hub.ticks[-1])
    with_news = [t for t in ticks if t.text]
    assert len(with_news) == 1, "status news waits for the metadata tick, then goes out once"
    message = orjson.loads(with_news[0].text[0])
    assert message["seq"] == with_news[0].seq
    assert [a["status"] for a in message["agents"] if a["id"] == agent.id] == ["error"]


def test_loop_counts_overruns_and_does_not_pile_up(make_pipeline: MakePipeline) -> None:
    pipeline = make_pipeline(agents=5, tick_hz=200.0)
    slow = pipeline.run_physics

    def sluggish() -> None:
        time.sleep(0.012)
        slow()

    pipeline.run_physics = sluggish  # type: ignore[method-assign]

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await task

    asyncio.run(go())
    assert pipeline.overruns >= 10
    assert pipeline.seq <= 0.5 / 0.012 + 2  # never more ticks than fit


def test_a_failing_tick_is_counted_logged_once_and_the_loop_goes_on(
    make_pipeline: MakePipeline, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = make_pipeline(agents=5, tick_hz=100.0)
    calls = {"n": 0}
    real = pipeline.run_physics

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] in (2, 3):
            raise RuntimeError("boom")
        real()

    pipeline.run_physics = flaky  # type: ignore[method-assign]

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await task

    with caplog.at_level(logging.ERROR, logger="visionflow.pipeline"):
        asyncio.run(go())
    assert calls["n"] > 5
    assert metrics.registry.get_sample_value("visionflow_errors_total", {"component": "pipeline"}) == 2
    failed = [r for r in caplog.records if getattr(r, "event", None) == "tick_failed"]
    assert len(failed) == 1, "the second failure, within 5 s of the first, is counted but not logged"
    assert failed[0].exc_info is not None and failed[0].fields == {"failures": 1}  # type: ignore[attr-defined]


def test_slow_ticks_log_one_line_a_second_that_counts_the_rest(
    make_pipeline: MakePipeline, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    pipeline = make_pipeline(agents=5, slow_tick_ms=0.0, clock=lambda: now[0])  # every tick is slow
    with caplog.at_level(logging.WARNING, logger="visionflow.pipeline"):
        for _ in range(10):
            pipeline.tick_inline()
        now[0] = 1.0
        pipeline.tick_inline()
    lines = [r.fields for r in caplog.records if getattr(r, "event", None) == "slow_tick"]  # type: ignore[attr-defined]
    assert [line["slow_ticks"] for line in lines] == [1, 10]
    assert set(lines[1]["stages_ms"]) == {"source", "swarm", "physics", "encode", "broadcast"}


def test_a_settled_layout_rests_and_sends_nothing_until_a_change(
    make_pipeline: MakePipeline, clock: FakeClock, recording_hub: RecordingHub
) -> None:
    pipeline = make_pipeline(agents=12)
    settle(pipeline, clock)
    steps, sent = pipeline.engine.steps, len(recording_hub.ticks)
    before = pipeline.engine.positions.copy()
    for _ in range(100):
        clock.advance()
        pipeline.tick_inline()
    assert pipeline.engine.steps == steps  # no physics at rest
    assert len(recording_hub.ticks) == sent  # and nothing sent
    np.testing.assert_array_equal(pipeline.engine.positions, before)
    pipeline.wake()
    clock.advance()
    pipeline.tick_inline()
    assert not pipeline.resting
    assert pipeline.engine.steps == steps + 1
    for _ in range(MIN_AWAKE_STEPS - 2):
        pipeline.tick_inline()
    assert not pipeline.resting  # a woken layout gets time to respond


def test_at_rest_metadata_news_still_goes_out_without_a_frame(
    make_pipeline: MakePipeline, clock: FakeClock, recording_hub: RecordingHub
) -> None:
    pipeline = make_pipeline(agents=12)
    settle(pipeline, clock)
    steps, sent = pipeline.engine.steps, len(recording_hub.ticks)
    agent = next(iter(pipeline.state.agents.values()))
    pipeline.state.update(agent.id, status=AgentStatus.BUSY)
    clock.advance()
    times = pipeline.tick_inline()
    assert pipeline.resting and pipeline.engine.steps == steps  # a status change does not move the layout
    assert len(recording_hub.ticks) == sent + 1
    tick = recording_hub.ticks[-1]
    assert tick.frame is None and tick.records == 0 and tick.seq == pipeline.seq
    assert [a["status"] for a in orjson.loads(tick.text[0])["agents"]] == ["busy"]
    assert times.physics == times.encode == 0.0


def test_a_new_agent_wakes_a_resting_layout(make_pipeline: MakePipeline, clock: FakeClock) -> None:
    pipeline = make_pipeline(agents=10)
    settle(pipeline, clock)
    steps = pipeline.engine.steps
    pipeline.state.add(Agent(id="newcomer", name="newcomer", type=AgentType.CODER))
    clock.advance()
    pipeline.tick_inline()
    assert not pipeline.resting
    assert pipeline.engine.steps == steps + 1


def test_news_must_cover_the_pipelines_own_swarm(metrics: Metrics) -> None:
    state, engine = SwarmState(), PhysicsEngine()
    news = SwarmNews(SwarmState(), engine)
    with pytest.raises(ValueError, match="own state and engine"):
        Pipeline(state, SimulatedSource(1), engine, metrics, news=news)
