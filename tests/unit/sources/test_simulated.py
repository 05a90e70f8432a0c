from __future__ import annotations

import asyncio

import pytest

from visionflow.sources import AgentSource, SimulatedSource
from visionflow.swarm import AgentStatus, AgentType, EventKind, SwarmState


def run(source: SimulatedSource, ticks: int, dt: float = 1 / 60) -> SwarmState:
    state = SwarmState()
    asyncio.run(source.start(state, 0.0))
    for i in range(ticks):
        source.tick(state, (i + 1) * dt, dt)
    return state


def fingerprint(state: SwarmState) -> list[tuple[str, str, str, int]]:
    return sorted((a.id, a.status.value, str(a.current_task), a.node_id) for a in state)


def test_it_is_an_agent_source() -> None:
    assert isinstance(SimulatedSource(5), AgentSource)


def test_same_seed_same_swarm_different_seed_different_swarm() -> None:
    a = run(SimulatedSource(80, seed=1), 600)
    b = run(SimulatedSource(80, seed=1), 600)
    c = run(SimulatedSource(80, seed=2), 600)
    assert fingerprint(a) == fingerprint(b)
    assert len(a.links) == len(b.links)
    assert fingerprint(a) != fingerprint(c)


def test_initial_swarm_is_a_hierarchy_under_one_queen() -> None:
    state = SwarmState()
    asyncio.run(SimulatedSource(200, seed=0).start(state, 0.0))
    assert len(state) == 200
    queens = [a for a in state if a.type is AgentType.QUEEN]
    assert len(queens) == 1 and queens[0].parent_id is None
    coordinators = [a for a in state if a.type is AgentType.COORDINATOR]
    assert len(coordinators) == 10
    assert all(a.parent_id == queens[0].id for a in coordinators)
    assert all(a.parent_id in state.agents for a in state if a.type not in (AgentType.QUEEN,))


def test_a_minute_of_activity_looks_like_a_swarm() -> None:
    source = SimulatedSource(200, seed=4, churn_rate=0.01)
    state = run(source, 60 * 60)
    assert 180 <= len(state) <= 220
    statuses = {a.status for a in state}
    assert {AgentStatus.BUSY, AgentStatus.ACTIVE} <= statuses
    assert sum(a.tasks_completed for a in state) > 20
    assert sum(a.tokens for a in state) > 0
    assert len(state.links) > 50
    added = sum(event.kind is EventKind.ADDED for event in state.drain().events)
    assert added > 200, "agents were spawned to replace those that left"
    intensities = state.links.intensities(60.0)
    assert 0 < intensities.min() <= intensities.max() <= 1


def test_single_agent_swarm_runs() -> None:
    state = run(SimulatedSource(1), 120)
    assert len(state) == 1


@pytest.mark.parametrize("agents", [0, 100_001])
def test_agent_count_is_bounded(agents: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 100000"):
        SimulatedSource(agents)
