from __future__ import annotations

from visionflow.sources.mapping import AgentRecord, TaskRecord
from visionflow.sources.snapshot import OrchestratorSnapshot, SnapshotApplier, observed_links
from visionflow.swarm import Agent, AgentStatus, AgentType, SwarmState


def rec(agent_id: str, kind: AgentType = AgentType.CODER, **fields: object) -> AgentRecord:
    return AgentRecord(id=agent_id, fields={"type": kind, **fields}, metadata={})


def pairs(links: list) -> set[tuple[str, str, bool]]:  # type: ignore[type-arg]
    return {(min(x.source, x.target), max(x.source, x.target), x.inferred) for x in links}


def test_shared_tasks_parents_and_broadcasts_are_observed_links() -> None:
    agents = [rec("q", AgentType.QUEEN), rec("a"), rec("b"), rec("c", parent_id="q")]
    tasks = [TaskRecord(id="t", assigned=("a", "b", "ghost"), created_by="q")]
    links = observed_links(agents, tasks, [("b", None, 10)])
    assert pairs(links) == {("a", "b", False), ("a", "q", False), ("b", "q", False), ("c", "q", False),
                            ("b", "c", False)}  # fmt: skip


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
