"""Reading tool results with the built-in profiles: fields mapped, unknown keys kept, bad shapes refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.errors import ConfigError, MalformedResultError
from visionflow.sources.mapping import (
    MAX_ID_CHARS,
    map_agents,
    map_messages,
    map_records,
    map_tasks,
    parse_json_text,
    with_task_work,
)
from visionflow.sources.profile import FieldSpec, TaskPhase, ToolSpec, load_profile
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


def test_claude_flow_fields_map_unknown_kept_missing_defaulted() -> None:
    profile = load_profile("claude-flow")
    records, skipped = map_agents(CLAUDE_FLOW_AGENTS, profile.agents)
    assert skipped == 2
    first, second = (r.to_agent() for r in records)
    assert first.type is AgentType.COORDINATOR and first.metadata["orchestrator_type"] == "hierarchical-coordinator"
    assert first.health == 50.0 and first.status is AgentStatus.IDLE
    assert first.tasks_completed == 2 and first.tasks_active == 0, "taskCount counts completed tasks"
    assert first.created_at == pytest.approx(1795687200.0)
    assert first.metadata["domain"] == "core"
    assert second.status is AgentStatus.BUSY
    assert second.health == 100.0 and second.metadata["raw_health"] == "lots"  # wrong type -> default, raw kept
    assert second.tasks_completed == 0
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
    spec = profile.agents.model_copy(update={"path": "log", "fields": {"from": FieldSpec(keys=("from",)),
                                   "to": FieldSpec(keys=("to",)), "bytes": FieldSpec(keys=("size",))}})  # fmt: skip
    got = map_messages({"log": [{"from": "a", "to": "b", "size": 10}, {"from": "a", "to": "*"}, {"to": "b"}]}, spec)
    assert got == [("a", "b", 10), ("a", None, 0)]


def test_an_unknown_status_word_becomes_idle_with_the_raw_word_kept() -> None:
    records, _ = map_agents({"agents": [{"agentId": "a", "status": "sleepy"}]}, load_profile("claude-flow").agents)
    (agent,) = (r.to_agent() for r in records)
    assert agent.status is AgentStatus.IDLE and agent.metadata["raw_status"] == "sleepy"


def test_one_of_our_own_type_names_is_not_kept_as_the_orchestrators() -> None:
    records, _ = map_agents({"agents": [{"agentId": "a", "agentType": " Coder "}]}, load_profile("claude-flow").agents)
    (agent,) = (r.to_agent() for r in records)
    assert agent.type is AgentType.CODER and "orchestrator_type" not in agent.metadata


def test_records_without_a_usable_id_are_counted_not_mapped() -> None:
    spec = ToolSpec(tool="t", fields={"id": FieldSpec(keys=("id",)), "cpu": FieldSpec(keys=("load",), scale=2.0)})
    items = [{"id": "ok", "load": 3, "extra": 1}, {"id": "x" * (MAX_ID_CHARS + 1)}, {"id": True}, {"id": " "}, 7]
    mapped, extras, skipped = map_records(items, spec)
    assert mapped == {"ok": {"cpu": (3, 2.0)}} and extras == {"ok": {"extra": 1}} and skipped == 4


def test_a_list_of_records_none_of_which_has_an_id_is_malformed() -> None:
    with pytest.raises(MalformedResultError, match="usable id"):
        map_agents({"agents": [{"name": "anonymous"}]}, load_profile("claude-flow").agents)


CLAUDE_FLOW_TASKS = {
    "tasks": [
        {"taskId": "t-new", "description": "fix it", "status": "pending", "assignedTo": ["a-1"]},
        {"taskId": "t-run", "description": "ship it", "status": "in_progress", "assignedTo": ["a-1", "a-2"]},
        {"taskId": "t-run2", "type": "review", "status": "IN_PROGRESS", "assignedTo": ["a-2"]},
        {"taskId": "t-done", "description": "old news", "status": "completed", "assignedTo": ["a-2"]},
    ]
}


def test_a_tasks_status_decides_its_phase_and_the_agents_work() -> None:
    profile = load_profile("claude-flow")
    assert profile.tasks is not None
    tasks, _ = map_tasks(CLAUDE_FLOW_TASKS, profile.tasks)
    assert [t.phase for t in tasks] == [TaskPhase.OPEN, TaskPhase.ACTIVE, TaskPhase.ACTIVE, TaskPhase.DONE]
    listed = {"agents": [{"agentId": "a-1"}, {"agentId": "a-2"}, {"agentId": "a-3", "currentTask": "own"}]}
    agents, _ = map_agents(listed, profile.agents)
    first, second, third = (r.to_agent() for r in with_task_work(agents, tasks))
    assert (first.tasks_active, first.current_task) == (1, "ship it"), "pending work is not active"
    assert (second.tasks_active, second.current_task) == (2, "ship it")
    assert (third.tasks_active, third.current_task) == (0, "own"), "the agent list's own value wins"


def test_a_task_without_a_description_is_named_by_its_type_or_id() -> None:
    profile = load_profile("claude-flow")
    assert profile.tasks is not None
    tasks, _ = map_tasks({"tasks": [{"taskId": "t9", "status": "in_progress", "assignedTo": "a"}]}, profile.tasks)
    (agent,) = with_task_work(map_agents({"agents": [{"agentId": "a"}]}, profile.agents)[0], tasks)
    assert agent.fields["current_task"] == "t9"


def test_a_profile_cannot_call_a_status_both_active_and_done(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    tasks = "tasks: {tool: t, fields: {id: i}, active_statuses: [Running], done_statuses: [running]}\n"
    path.write_text("name: x\nagents: {tool: l, fields: {id: i}}\n" + tasks)
    with pytest.raises(ConfigError, match="both active and done"):
        load_profile(str(path))
