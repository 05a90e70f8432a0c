from __future__ import annotations

import asyncio

import numpy as np
import orjson
import pytest

from visionflow.observability.metrics import Metrics
from visionflow.physics import PhysicsEngine
from visionflow.protocol.binary import DeltaEncoder, decode
from visionflow.server.pipeline import Pipeline
from visionflow.sources import SimulatedSource
from visionflow.stream import TickMessages
from visionflow.swarm import SwarmState


class RecordingHub:
    def __init__(self) -> None:
        self.ticks: list[TickMessages] = []

    def publish(self, tick: TickMessages) -> None:
        self.ticks.append(tick)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(metrics: Metrics, agents: int = 50, **kwargs: object) -> tuple[Pipeline, RecordingHub, FakeClock]:
    clock = FakeClock()
    state = SwarmState()
    source = SimulatedSource(agents, seed=7, churn_rate=0.05)
    asyncio.run(source.start(state, clock()))
    hub = RecordingHub()
    pipeline = Pipeline(
        state,
        source,
        PhysicsEngine(seed=7),
        metrics,
        hub=hub,  # type: ignore[arg-type]
        wall_clock=clock,
        delta=DeltaEncoder(threshold=0.01, full_every=30),
        **kwargs,  # type: ignore[arg-type]
    )
    return pipeline, hub, clock


def test_ticks_keep_engine_in_step_with_the_swarm(metrics: Metrics) -> None:
    pipeline, hub, clock = make(metrics)
    for _ in range(600):
        clock.t += 1 / 60
        pipeline.tick_sync()
    engine = pipeline.engine
    assert sorted(engine.ids.tolist()) == sorted(a.node_id for a in pipeline.state)
    assert engine.edge_count == len(pipeline.state.links)
    assert np.isfinite(engine.positions).all()
    assert len(hub.ticks) == 600
    assert hub.ticks[0].full and hub.ticks[30].full and not hub.ticks[1].full


def test_clients_can_rebuild_the_state_from_the_messages(metrics: Metrics) -> None:
    """Replaying every message a client gets reproduces the server's agents and positions."""
    pipeline, hub, clock = make(metrics)
    snapshot = pipeline.snapshot()
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
        clock.t += 1 / 60
        pipeline.tick_sync()
        apply(hub.ticks[-1])
    clock.t += 1 / 60
    pipeline.seq = pipeline.metadata_every * 1000 - 1  # the next tick flushes pending metadata
    pipeline.tick_sync()
    apply(hub.ticks[-1])
    live = {a.node_id: a for a in pipeline.state}
    assert set(agents) == set(live)
    assert all(agents[n]["status"] == live[n].status.value for n in live)
    engine = pipeline.engine
    for node in live:
        slot = engine.slot(node)
        assert np.linalg.norm(positions[node] - engine.positions[slot]) <= pipeline.delta.threshold + 1e-6


def test_each_stage_is_timed_into_the_histogram(metrics: Metrics) -> None:
    pipeline, _, clock = make(metrics)
    for _ in range(10):
        clock.t += 1 / 60
        pipeline.tick_sync()
    for stage in ("source", "swarm", "physics", "encode", "broadcast", "total"):
        count = metrics.registry.get_sample_value("visionflow_processing_duration_seconds_count", {"stage": stage})
        assert count == 10
    assert metrics.registry.get_sample_value("visionflow_ticks_total") == 10


def test_loop_counts_overruns_and_does_not_pile_up(metrics: Metrics) -> None:
    pipeline, _, _ = make(metrics, agents=5, tick_hz=200.0)
    slow = pipeline.run_physics

    def sluggish() -> None:
        import time

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


def test_a_failing_tick_is_counted_and_the_loop_goes_on(metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    pipeline, _, _ = make(metrics, agents=5, tick_hz=100.0)
    calls = {"n": 0}
    real = pipeline.run_physics

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        real()

    pipeline.run_physics = flaky  # type: ignore[method-assign]

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(pipeline.run(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await task

    asyncio.run(go())
    assert calls["n"] > 5
    assert metrics.registry.get_sample_value("visionflow_errors_total", {"component": "pipeline"}) == 1


def test_a_settled_layout_rests_and_sends_nothing_until_a_change(metrics: Metrics) -> None:
    from visionflow.server.pipeline import MIN_AWAKE_STEPS

    pipeline, hub, clock = make(metrics, agents=12)
    pipeline.source.rates.update(message=0.0, status=0.0, metrics=0.0, task=0.0, churn=0.0)  # type: ignore[attr-defined]
    pipeline.engine.params = pipeline.engine.params.replace(rest_energy=0.05)
    for _ in range(3000):
        clock.t += 1 / 60
        pipeline.tick_sync()
        if pipeline.resting:
            break
    assert pipeline.resting, pipeline.engine.kinetic_energy / pipeline.engine.n
    steps, sent = pipeline.engine.steps, len(hub.ticks)
    before = pipeline.engine.positions.copy()
    for _ in range(100):
        clock.t += 1 / 60
        pipeline.tick_sync()
    assert pipeline.engine.steps == steps  # no physics at rest
    assert len(hub.ticks) == sent  # and nothing sent
    np.testing.assert_array_equal(pipeline.engine.positions, before)
    pipeline.wake()
    clock.t += 1 / 60
    pipeline.tick_sync()
    assert not pipeline.resting
    assert pipeline.engine.steps == steps + 1
    for _ in range(MIN_AWAKE_STEPS - 2):
        pipeline.tick_sync()
    assert not pipeline.resting  # a woken layout gets time to respond


def test_a_new_agent_wakes_a_resting_layout(metrics: Metrics) -> None:
    pipeline, _, clock = make(metrics, agents=10)
    pipeline.resting = True
    steps = pipeline.engine.steps
    pipeline.source._spawn_worker(pipeline.state, clock())  # type: ignore[attr-defined]
    clock.t += 1 / 60
    pipeline.tick_sync()
    assert not pipeline.resting
    assert pipeline.engine.steps == steps + 1
