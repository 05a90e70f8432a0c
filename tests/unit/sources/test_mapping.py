from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionflow.errors import ConfigError
from visionflow.sources.mapping import (
    BUILTIN_PROFILES,
    MalformedResultError,
    agent_status,
    agent_type,
    load_profile,
    map_agents,
    map_messages,
    map_tasks,
    parse_json_text,
)
from visionflow.swarm import AgentStatus, AgentType

CLAUDE_FLOW_AGENTS = {
    "agents": [
        {"agentId": "a-1", "agentType": "hierarchical-coordinator", "status": "idle", "health": 0.5, "taskCount": 2,
         "createdAt": "2026-11-26T10:00:00Z", "domain": "core"},
        {"agentId": "a-2", "agentType": "coder", "status": "running", "health": "lots", "taskCount": -3},
        {"agentType": "coder"},
        "not a record",
    ],
    "total": 2,
}  # fmt: skip


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_load(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.agents.tool == "agent_list"
    assert {"initialize_swarm", "spawn_agent"} <= set(profile.control)


def test_claude_flow_fields_map_unknown_kept_missing_defaulted() -> None:
    profile = load_profile("claude-flow")
    records, skipped = map_agents(CLAUDE_FLOW_AGENTS, profile.agents)
    assert skipped == 2
    first, second = (r.to_agent() for r in records)
    assert first.type is AgentType.COORDINATOR and first.metadata["orchestrator_type"] == "hierarchical-coordinator"
    assert first.health == 50.0 and first.tasks_active == 2 and first.status is AgentStatus.IDLE
    assert first.created_at == pytest.approx(1795687200.0)
    assert first.metadata["domain"] == "core"
    assert second.status is AgentStatus.BUSY
    assert second.health == 100.0 and second.metadata["raw_health"] == "lots"  # wrong type -> default, raw kept
    assert second.tasks_active == 0
    assert second.name == "a-2" and second.cpu == 0.0


def test_ruv_swarm_merges_metrics_by_id() -> None:
    profile = load_profile("ruv-swarm")
    assert profile.metrics is not None
    agents = {"agents": [{"id": "r1", "name": "Alice", "type": "researcher", "status": "busy", "capabilities": ["x"]}]}
    metrics = {"agents": [{"agent_id": "r1", "cpu_usage": 42.5, "memory": 300, "tasks_completed": 7},
                          {"agent_id": "ghost", "cpu_usage": 1}]}  # fmt: skip
    records, _ = map_agents(agents, profile.agents, (metrics, profile.metrics))
    (agent,) = (r.to_agent() for r in records)
    assert (agent.name, agent.type, agent.cpu, agent.memory_mb, agent.tasks_completed) == (
        "Alice", AgentType.RESEARCHER, 42.5, 300.0, 7)  # fmt: skip
    assert agent.metadata["capabilities"] == ["x"]


@pytest.mark.parametrize(
    ("texts", "limit", "message"),
    [
        (["not json at all"], 1000, "not JSON"),
        ([], 1000, "no text"),
        (["[" + "1," * 600 + "1]"], 1000, "exceeds"),
    ],
)
def test_parse_json_text_rejects(texts: list[str], limit: int, message: str) -> None:
    with pytest.raises(MalformedResultError, match=message):
        parse_json_text(texts, limit)


@pytest.mark.parametrize("payload", [{"agents": "three"}, {"nothing": []}, 42, {"agents": 7}])
def test_wrong_shapes_are_malformed(payload: object) -> None:
    with pytest.raises(MalformedResultError):
        map_agents(payload, load_profile("claude-flow").agents)


def test_agents_keyed_by_id_and_bare_lists_are_accepted() -> None:
    spec = load_profile("claude-flow").agents
    records, _ = map_agents({"agents": {"x": {"agentType": "tester"}}}, spec)
    assert records[0].id == "x"
    records, _ = map_agents([{"agentId": "y"}], spec)
    assert records[0].id == "y"


def test_tasks_and_messages() -> None:
    profile = load_profile("claude-flow")
    assert profile.tasks is not None
    tasks, _ = map_tasks({"tasks": [{"taskId": "t", "assignedTo": ["a", "b", 3, None]}, {"taskId": "u",
                                     "assignedTo": "c"}]}, profile.tasks)  # fmt: skip
    assert tasks[0].assigned == ("a", "b", "3") and tasks[1].assigned == ("c",)
    spec = profile.agents.model_copy(update={"fields": {}})
    from visionflow.sources.mapping import FieldSpec

    spec = spec.model_copy(update={"path": "log", "fields": {"from": FieldSpec(keys=("from",)),
                                   "to": FieldSpec(keys=("to",)), "bytes": FieldSpec(keys=("size",))}})  # fmt: skip
    got = map_messages({"log": [{"from": "a", "to": "b", "size": 10}, {"from": "a", "to": "*"}, {"to": "b"}]}, spec)
    assert got == [("a", "b", 10), ("a", None, 0)]


def test_status_and_type_vocabularies() -> None:
    assert agent_status("Working") is AgentStatus.BUSY
    assert agent_status("busy") is AgentStatus.BUSY
    assert agent_status("sleepy") is None and agent_status(3) is None
    assert agent_type("system-architect") is AgentType.ARCHITECT
    assert agent_type("perf-analyzer") is AgentType.ANALYST
    assert agent_type("mystery") is AgentType.SPECIALIST


def test_profile_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"name": "x", "agents": {"tool": "agent_list", "fields": {"name": ["n"]}}}))
    with pytest.raises(ConfigError, match="must map 'id'"):
        load_profile(str(bad))
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(str(tmp_path / "missing.yaml"))
    bad.write_text("agents: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(str(bad))
