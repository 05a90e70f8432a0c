from __future__ import annotations

import math

import pytest

from visionflow.errors import ConfigError, ImmutableFieldError, UnknownAgentError
from visionflow.swarm import (
    AGENT_FLAG,
    Agent,
    AgentType,
    EventKind,
    LinkTable,
    SwarmState,
    agent_node_id,
    link_key,
    node_index,
)


def agent(agent_id: str, parent: str | None = None) -> Agent:
    return Agent(id=agent_id, name=agent_id, type=AgentType.CODER, parent_id=parent)


def test_node_ids_are_flagged_stable_and_reused_lowest_first() -> None:
    state = SwarmState()
    a, b, c = (state.add(agent(x)) for x in "abc")
    assert [node_index(x.node_id) for x in (a, b, c)] == [0, 1, 2]
    assert all(x.node_id & AGENT_FLAG for x in (a, b, c))
    state.update("b", cpu=50.0)
    assert state.get("b").node_id == b.node_id  # type: ignore[union-attr]
    state.remove("a")
    state.remove("b")
    d = state.add(agent("d"))
    assert node_index(d.node_id) == 0
    assert state.by_node_id(d.node_id) is d
    assert state.by_node_id(b.node_id) is None


def test_events_are_recorded_in_order_and_drained_once() -> None:
    state = SwarmState()
    seen: list[EventKind] = []
    unsubscribe = state.subscribe(lambda e: seen.append(e.kind))
    state.add(agent("p"))
    state.add(agent("k", parent="p"))
    state.update("k", status="busy")
    state.remove("p")
    changes = state.drain()
    assert [e.kind for e in changes.events] == [EventKind.ADDED, EventKind.ADDED, EventKind.UPDATED, EventKind.REMOVED]
    assert changes.events[1].parent_node_id == changes.events[0].node_id
    assert seen == [e.kind for e in changes.events]
    assert changes.upserted_ids(state) == ["k"]
    assert not state.drain()
    unsubscribe()
    state.add(agent("z"))
    assert len(seen) == 4


def test_re_adding_an_agent_updates_it_in_place() -> None:
    state = SwarmState()
    first = state.add(agent("a"))
    again = Agent(id="a", name="renamed", type=AgentType.TESTER)
    assert state.add(again) is first
    assert first.name == "renamed" and first.type is AgentType.TESTER
    assert first.node_id == agent_node_id(0) and state.by_node_id(first.node_id) is first
    assert len(state) == 1
    assert [e.kind for e in state.drain().events] == [EventKind.ADDED, EventKind.UPDATED]


@pytest.mark.parametrize("field", ["id", "node_id"])
def test_update_refuses_identity_fields_and_changes_nothing(field: str) -> None:
    state = SwarmState()
    a = state.add(agent("a"))
    state.drain()
    with pytest.raises(ImmutableFieldError, match=field) as info:
        state.update("a", cpu=50.0, **{field: 5})
    assert info.value.field == field and isinstance(info.value, ValueError)
    assert a.cpu == 0.0 and (a.id, a.node_id) == ("a", agent_node_id(0)) and not state.drain()


def test_update_of_an_unknown_agent_names_it() -> None:
    with pytest.raises(UnknownAgentError, match="ghost") as info:
        SwarmState().update("ghost", cpu=1.0)
    assert info.value.agent_id == "ghost" and isinstance(info.value, KeyError)


@pytest.mark.parametrize(("kwargs", "field"), [({"decay_tau_s": 0.0}, "decay_tau_s"), ({"gain": 1.5}, "gain")])
def test_link_table_settings_are_checked(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        LinkTable(**kwargs)
    assert info.value.field == field


def test_messages_create_links_that_decay_and_are_pruned() -> None:
    table = LinkTable(decay_tau_s=10.0, gain=0.5, min_intensity=0.05)
    state = SwarmState(table)
    state.add(agent("a"))
    state.add(agent("b"))
    assert not state.record_message("a", "ghost", now=0.0)
    assert not state.record_message("a", "a", now=0.0)
    assert state.record_message("a", "b", now=0.0, nbytes=100)
    state.record_message("b", "a", now=0.0, nbytes=50)  # same undirected link
    assert state.drain().links_touched == {link_key("b", "a")} == {("a", "b")}
    link = table.get(("a", "b"), now=0.0)
    assert link is not None
    assert (link.source, link.target, link.message_count, link.bytes) == ("a", "b", 2, 150)
    assert link.intensity == pytest.approx(0.75)
    assert table.intensities(10.0)[0] == pytest.approx(0.75 * math.exp(-1), rel=1e-5)
    assert state.prune_links(20.0) == 0
    assert state.prune_links(40.0) == 1
    assert len(table) == 0
    assert state.drain().links_removed == {("a", "b")}


def test_removing_an_agent_removes_its_links_and_keeps_rows_consistent() -> None:
    state = SwarmState()
    for x in "abcd":
        state.add(agent(x))
    state.record_message("a", "b", 0.0)
    state.record_message("c", "d", 0.0)
    state.record_message("a", "c", 0.0)
    state.remove("a")
    links = state.links.links(0.0)
    assert {(link.source, link.target) for link in links} == {("c", "d")}
    src, dst = state.links.endpoints()
    assert (int(src[0]), int(dst[0])) == (state.agents["c"].node_id, state.agents["d"].node_id)


def test_link_table_grows() -> None:
    state = SwarmState(LinkTable(capacity=2))
    for i in range(40):
        state.add(agent(f"n{i}"))
    for i in range(39):
        state.record_message(f"n{i}", f"n{i + 1}", 0.0)
    assert len(state.links) == 39
    assert state.links.intensities(0.0).shape == (39,)


def two_agents(table: LinkTable | None = None) -> SwarmState:
    state = SwarmState(table)
    state.add(agent("a"))
    state.add(agent("b"))
    return state


def test_structure_seen_on_every_poll_is_not_a_message() -> None:
    table = LinkTable(decay_tau_s=10.0, gain=0.3, observed_intensity=0.6)
    state = two_agents(table)
    for poll in range(100):
        assert state.observe_link("a", "b", now=float(poll))
    link = table.get(("a", "b"), now=99.0)
    assert link is not None
    assert (link.message_count, link.bytes, link.last_message_at) == (0, 0, None)
    assert link.observed_at == 99.0 and link.intensity == pytest.approx(0.6)
    assert link.to_dict()["observed_at"] == 99.0
    state.record_message("b", "a", now=100.0, nbytes=10)
    link = table.get(("a", "b"), now=100.0)
    assert link is not None and (link.message_count, link.last_message_at, link.observed_at) == (1, 100.0, 99.0)
    assert link.intensity == pytest.approx(1 - (1 - 0.6 * math.exp(-0.1)) * 0.7, rel=1e-5)


def test_structure_no_longer_seen_fades_like_a_silent_pair() -> None:
    table = LinkTable(decay_tau_s=10.0, observed_intensity=0.5, min_intensity=0.05)
    state = two_agents(table)
    state.observe_link("a", "b", now=0.0)
    assert table.intensities(10.0)[0] == pytest.approx(0.5 * math.exp(-1), rel=1e-5)
    assert state.prune_links(20.0) == 0
    assert state.prune_links(30.0) == 1


def test_an_inferred_observation_never_hides_a_real_link() -> None:
    state = two_agents()
    state.observe_link("a", "b", 0.0, inferred=True)
    assert state.links.links(0.0)[0].inferred
    state.observe_link("a", "b", 1.0)
    state.observe_link("a", "b", 2.0, inferred=True)
    assert not state.links.links(2.0)[0].inferred


def test_a_summary_of_several_messages_counts_them_all() -> None:
    table = LinkTable(gain=0.5)
    state = two_agents(table)
    state.record_message("a", "b", 5.0, nbytes=300, count=3)
    link = table.get(("a", "b"), 5.0)
    assert link is not None and (link.message_count, link.bytes, link.last_message_at) == (3, 300, 5.0)
    assert link.intensity == pytest.approx(1 - 0.5**3)


def test_an_older_message_counts_without_moving_the_last_message_back() -> None:
    state = two_agents()
    state.record_message("a", "b", 10.0)
    state.record_message("a", "b", 4.0)
    link = state.links.get(("a", "b"), 10.0)
    assert link is not None and (link.message_count, link.last_message_at) == (2, 10.0)


def test_restoring_a_link_twice_is_restoring_it_once() -> None:
    table = LinkTable(decay_tau_s=10.0, gain=0.5)
    state = two_agents(table)
    for _ in range(2):
        assert state.restore_link("a", "b", 20.0, message_count=7, nbytes=700, last_message_at=10.0)
        link = table.get(("a", "b"), 20.0)
        assert link is not None and (link.message_count, link.bytes, link.last_message_at) == (7, 700, 10.0)
        assert link.intensity == pytest.approx(0.5 * math.exp(-1), rel=1e-5)
    state.record_message("a", "b", 21.0)
    state.restore_link("a", "b", 22.0, message_count=7, nbytes=700, last_message_at=10.0)
    link = table.get(("a", "b"), 22.0)
    assert link is not None and (link.message_count, link.last_message_at) == (8, 21.0)
    assert not state.restore_link("a", "ghost", 22.0, message_count=1, nbytes=0, last_message_at=None)


def test_observed_intensity_is_checked() -> None:
    with pytest.raises(ConfigError) as info:
        LinkTable(observed_intensity=0.0)
    assert info.value.field == "observed_intensity"
