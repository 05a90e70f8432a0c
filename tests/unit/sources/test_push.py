"""The push validator (property tests) and the ingest's all-or-nothing apply."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from visionflow.errors import IngestConflictError, SourceError
from visionflow.observability.metrics import Metrics
from visionflow.sources import PushIngest, UpdateBatch
from visionflow.sources.mapping import map_agents
from visionflow.sources.profile import load_profile
from visionflow.swarm import Agent, AgentStatus, AgentType, SwarmState

ids = (
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
upserts = st.fixed_dictionaries(
    {"id": ids},
    optional={
        "type": st.sampled_from([t.value for t in AgentType] + ["hierarchical-coordinator"]),
        "status": st.sampled_from([s.value for s in AgentStatus]),
        "health": st.floats(0, 100),
        "workload": st.floats(0, 1),
        "tokens": st.integers(0, 10**9),
        "current_task": st.none() | st.text(max_size=30),
    },
)
messages = st.fixed_dictionaries({"from": ids, "to": ids}, optional={"bytes": st.integers(0, 10**6),
                                                                     "at": st.floats(0, 2e9)})  # fmt: skip
batches = st.fixed_dictionaries(
    {},
    optional={
        "agents": st.lists(upserts, max_size=8),
        "remove": st.lists(ids, max_size=4),
        "messages": st.lists(messages, max_size=8),
    },
)
CORRUPTIONS: list[tuple[str, Any]] = [
    ("health", 101), ("health", -1), ("health", "high"), ("workload", 2), ("tokens", -5), ("tokens", 1.5),
    ("status", "sleeping"), ("id", ""), ("id", "  padded  "), ("id", 7), ("id", "a\nb"),
    ("surprise", 1), ("metadata", [1]),
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(batches)
def test_valid_batches_validate_and_keep_every_item(body: dict[str, Any]) -> None:
    batch = UpdateBatch.model_validate_json(json.dumps(body))
    assert len(batch.agents) == len(body.get("agents", []))
    assert len(batch.messages) == len(body.get("messages", []))
    assert [a.id for a in batch.agents] == [a["id"] for a in body.get("agents", [])]


@settings(max_examples=150, deadline=None)
@given(st.lists(upserts, min_size=1, max_size=8), st.data(), st.sampled_from(CORRUPTIONS))
def test_one_bad_item_is_named_by_its_index(items: list[dict[str, Any]], data: st.DataObject,
                                            corruption: tuple[str, Any]) -> None:  # fmt: skip
    index = data.draw(st.integers(0, len(items) - 1))
    key, value = corruption
    items[index] = {**items[index], key: value}
    with pytest.raises(ValidationError) as info:
        UpdateBatch.model_validate_json(json.dumps({"agents": items}))
    locs = [e["loc"] for e in info.value.errors()]
    assert all(loc[:2] == ("agents", index) for loc in locs), locs
    assert any(key in loc or loc[-1] == key or len(loc) == 3 for loc in locs)


@settings(max_examples=100, deadline=None)
@given(batches)
def test_applying_a_batch_is_all_or_nothing_on_conflict(body: dict[str, Any]) -> None:
    state = SwarmState()
    state.add(Agent(id="sim-owned", name="s", type=AgentType.CODER))
    ingest = PushIngest(
        state, Metrics(process_metrics=False, registry=__import__("prometheus_client").CollectorRegistry())
    )
    body = {**body, "agents": [*body.get("agents", []), {"id": "sim-owned"}]}
    batch = UpdateBatch.model_validate_json(json.dumps(body))
    version = state.version
    with pytest.raises(IngestConflictError) as info:
        ingest.apply(batch)
    assert info.value.loc == ("body", "agents", len(batch.agents) - 1, "id")
    assert isinstance(info.value, SourceError) and "another source" in info.value.message
    assert state.version == version and set(state.agents) == {"sim-owned"}


def test_apply_upserts_then_messages_then_removals(metrics: Metrics) -> None:
    state = SwarmState()
    ingest = PushIngest(state, metrics, clock=lambda: 100.0)
    body = {"agents": [{"id": "a", "type": "coder"}, {"id": "b", "type": "llm-wrangler", "health": 80}],
            "messages": [{"from": "a", "to": "b", "bytes": 10}, {"from": "a", "to": "ghost"}],
            "remove": ["a"]}  # fmt: skip
    result = ingest.apply(UpdateBatch.model_validate(body))
    assert result == {"agents": 2, "removed": 1, "messages": 1, "links": 0, "unmatched_messages": 1,
                      "unmatched": {"messages": [1], "links": []}}  # fmt: skip
    assert set(state.agents) == {"b"} and state.agents["b"].metadata["orchestrator_type"] == "llm-wrangler"
    ingest.apply(UpdateBatch.model_validate({"agents": [{"id": "b", "status": "busy", "health": None}]}))
    assert state.agents["b"].status is AgentStatus.BUSY and state.agents["b"].health == 80
    assert metrics.registry.get_sample_value("visionflow_ingest_items_total", {"kind": "agent"}) == 3


@pytest.mark.parametrize("word", ["coder", " Coder", "hierarchical-coordinator", "perf-analyzer", "llm-wrangler"])
def test_pushed_and_polled_agents_read_type_words_alike(metrics: Metrics, word: str) -> None:
    """One vocabulary: an agent's type and kept orchestrator name do not depend on how it arrived."""
    state = SwarmState()
    PushIngest(state, metrics).apply(UpdateBatch.model_validate({"agents": [{"id": "p", "type": word}]}))
    records, _ = map_agents({"agents": [{"agentId": "m", "agentType": word}]}, load_profile("claude-flow").agents)
    pushed, polled = state.agents["p"], records[0].to_agent()
    assert pushed.type is polled.type
    assert pushed.metadata.get("orchestrator_type") == polled.metadata.get("orchestrator_type")


def test_a_summary_counts_its_messages_and_link_totals_are_merged_not_added(metrics: Metrics) -> None:
    state = SwarmState()
    ingest = PushIngest(state, metrics, clock=lambda: 100.0)
    ingest.apply(UpdateBatch.model_validate({"agents": [{"id": "a"}, {"id": "b"}],
                                             "messages": [{"from": "a", "to": "b", "count": 4, "bytes": 40,
                                                           "at": 90.0}]}))  # fmt: skip
    link = state.links.get(("a", "b"), 100.0)
    assert link is not None and (link.message_count, link.bytes, link.last_message_at) == (4, 40, 90.0)
    totals = {"links": [{"from": "a", "to": "b", "message_count": 9, "bytes": 90, "last_message_at": 95.0},
                        {"from": "a", "to": "ghost", "message_count": 1}]}  # fmt: skip
    for _ in range(2):
        result = ingest.apply(UpdateBatch.model_validate(totals))
        assert result["links"] == 1 and result["unmatched"]["links"] == [1]
        link = state.links.get(("a", "b"), 100.0)
        assert link is not None and (link.message_count, link.bytes, link.last_message_at) == (9, 90, 95.0)
    assert metrics.registry.get_sample_value("visionflow_ingest_items_total", {"kind": "message"}) == 4


def test_an_empty_batch_changes_nothing(metrics: Metrics) -> None:
    state = SwarmState()
    ingest = PushIngest(state, metrics)
    version = state.version
    assert ingest.apply(UpdateBatch())["unmatched_messages"] == 0
    assert state.version == version and ingest.last_update is None and ingest.batches == 0


@pytest.mark.parametrize("count", [0, -1, 2**31 + 1, 1.5])
def test_a_summary_counts_at_least_one_message(count: object) -> None:
    with pytest.raises(ValidationError) as info:
        UpdateBatch.model_validate({"messages": [{"from": "a", "to": "b", "count": count}]})
    assert info.value.errors()[0]["loc"] == ("messages", 0, "count")
