"""A pipeline over a simulated swarm, with a hand-moved clock and a recording hub (server and tracing tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes import FakeClock, RecordingHub
from visionflow.observability.metrics import Metrics
from visionflow.physics import PhysicsEngine
from visionflow.protocol.binary import DeltaEncoder
from visionflow.server.pipeline import Pipeline
from visionflow.sources import SimulatedSource
from visionflow.swarm import SwarmState


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recording_hub() -> RecordingHub:
    return RecordingHub()


@pytest.fixture
def make_pipeline(metrics: Metrics, clock: FakeClock, recording_hub: RecordingHub) -> Callable[..., Pipeline]:
    """``make_pipeline(agents=50, **pipeline_options)``: a churning seeded swarm, its first load not yet ticked.

    Its wall clock is ``clock`` and its ticks go to ``recording_hub``.
    """

    def make(agents: int = 50, **options: Any) -> Pipeline:
        state = SwarmState()
        source = SimulatedSource(agents, seed=7, churn_rate=0.05)
        asyncio.run(source.start(state, clock()))
        options.setdefault("delta", DeltaEncoder(threshold=0.01, full_every=30))
        return Pipeline(state, source, PhysicsEngine(seed=7), metrics, hub=recording_hub, wall_clock=clock, **options)

    return make
