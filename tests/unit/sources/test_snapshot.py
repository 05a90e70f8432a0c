from __future__ import annotations

from visionflow.sources.mapping import AgentRecord, TaskRecord
from visionflow.sources.profile import TaskPhase
from visionflow.sources.snapshot import (
    LinkObservation,
    OrchestratorSnapshot,
    SnapshotApplier,
    message_pairs,
    observed_links,
)
from visionflow.swarm import Agent, AgentStatus, AgentType, LinkTable, SwarmState


def rec(agent_id: str, kind: AgentType = AgentType.CODER, **fields: object) -> AgentRecord:
    return AgentRecord(id=agent_id, fields={"type": kind, **fields}, metadata={})


def pairs(links: list) -> set[tuple[str, str, bool]]:  # type: ignore[type-arg]
    return {(min(x.source, x.target), max(x.source, x.target), x.inferred) for x in links}


def test_shared_tasks_and_parents_are_structure_and_broadcasts_are_messages() -> None:
    agents = [rec("q", AgentType.QUEEN), rec("a"), rec("b"), rec("c", parent_id="q")]
    tasks = [TaskRecord(id="t", assigned=("a", "b", "ghost"), created_by="q"),
             TaskRecord(id="old", assigned=("a", "c"), phase=TaskPhase.DONE)]  # fmt: skip
    links = observed_links(agents, tasks)
    assert pairs(links) == {("a", "b", False), ("a", "q", False), ("b", "q", False), ("c", "q", False)}
    assert sorted(message_pairs(agents, [("b", None, 10), ("a", "c", 5), ("ghost", "a", 1)])) == [
        ("a", "c", 5), ("b", "a", 10), ("b", "c", 10), ("b", "q", 10)]  # fmt: skip
    assert observed_links(agents[:3], messages_seen=True) == [], "messages are links: nothing is inferred"


def test_links_are_inferred_by_type_only_when_nothing_is_shown() -> None:
    agents = [rec("q", AgentType.QUEEN), rec("k", AgentType.COORDINATOR), rec("a"), rec("b")]
    links = observed_links(agents)
    assert links and all(link.inferred for link in links)
    assert ("a", "q", True) in pairs(links) and ("k", "q", True) in pairs(links)
    shown = observed_links(agents, [TaskRecord(id="t", assigned=("a", "b"))])
    assert pairs(shown) == {("a", "b", False)}


def test_apply_adds_updates_removes_only_its_own_agents() -> None:
    state = SwarmState()
    state.add(Agent(id="other", name="other", type=AgentType.CODER))
    applier = SnapshotApplier()
    first = OrchestratorSnapshot([rec("a", status=AgentStatus.BUSY, current_task="x"), rec("b"), rec("other")])
    applier.apply(state, first, 10.0)
    assert set(state.agents) == {"other", "a", "b"} and applier.owned == {"a", "b"}
    assert state.agents["other"].type is AgentType.CODER
    state.drain()
    applier.apply(state, OrchestratorSnapshot([rec("a", status=AgentStatus.IDLE), rec("b")]), 11.0)
    changes = state.drain()
    assert set(state.agents) == {"other", "a", "b"}  # "other" belongs to another source and stays
    assert state.agents["a"].status is AgentStatus.IDLE and state.agents["a"].current_task is None
    assert [e.agent_id for e in changes.events] == ["a"]  # b did not change: no event
    applier.apply(state, OrchestratorSnapshot([rec("b")]), 12.0)
    assert set(state.agents) == {"other", "b"}


def linked(state: SwarmState) -> dict[frozenset[str], tuple[int, float | None, float | None]]:
    return {frozenset((x.source, x.target)): (x.message_count, x.last_message_at, x.observed_at)
            for x in state.links.links(0.0)}  # fmt: skip


def test_structure_seen_on_every_poll_never_counts_as_messages() -> None:
    state = SwarmState()
    applier = SnapshotApplier(refresh_s=1.0)
    snapshot = OrchestratorSnapshot([rec("a"), rec("b")], links=[LinkObservation("a", "b")])
    for second in range(120):
        applier.apply(state, snapshot, float(second))
    assert linked(state) == {frozenset("ab"): (0, None, 119.0)}


def test_live_structure_is_refreshed_between_polls_and_fades_once_no_longer_shown() -> None:
    state = SwarmState(LinkTable(decay_tau_s=10.0, observed_intensity=0.5, min_intensity=0.05))
    applier = SnapshotApplier(refresh_s=1.0)
    applier.apply(state, OrchestratorSnapshot([rec("a"), rec("b")], links=[LinkObservation("a", "b")]), 0.0)
    for tick in range(1, 300):  # 30 s of ticks and no poll
        applier.refresh(state, tick / 10)
        assert state.prune_links(tick / 10) == 0
    link = state.links.get(("a", "b"), 29.9)
    assert link is not None and link.intensity > 0.45 and link.observed_at == 29.0
    applier.apply(state, OrchestratorSnapshot([rec("a"), rec("b")]), 30.0)  # the task completed
    for tick in range(301, 900):
        applier.refresh(state, tick / 10)
        if state.prune_links(tick / 10):
            break
    assert not len(state.links) and 50.0 < tick / 10 < 60.0, tick


def test_a_message_log_read_again_counts_only_its_new_entries() -> None:
    state = SwarmState()
    applier = SnapshotApplier()
    agents = [rec("a"), rec("b")]
    log = [("a", "b", 10), ("a", "b", 10)]
    applier.apply(state, OrchestratorSnapshot(agents, messages=list(log)), 1.0)
    applier.apply(state, OrchestratorSnapshot(agents, messages=list(log)), 2.0)
    assert linked(state) == {frozenset("ab"): (2, 1.0, None)}
    applier.apply(state, OrchestratorSnapshot(agents, messages=[*log, ("b", "a", 4)]), 3.0)
    link = state.links.get(("a", "b"), 3.0)
    assert link is not None and (link.message_count, link.bytes, link.last_message_at) == (3, 24, 3.0)
