"""Profiles: the built-in ones load, short forms read as long ones, and a bad file names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionflow.errors import ConfigError
from visionflow.sources.profile import BUILTIN_PROFILES, FieldSpec, ToolSpec, load_profile
from visionflow.swarm import AgentStatus


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_load(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.agents.tool == "agent_list"
    assert {"initialize_swarm", "spawn_agent"} <= set(profile.control)
    assert profile.busy_statuses == {AgentStatus.BUSY, AgentStatus.ACTIVE}


def test_field_short_forms_read_as_keys() -> None:
    spec = ToolSpec.model_validate({"tool": "t", "fields": {"id": "agentId", "name": ["n", "name"],
                                                            "health": {"keys": ["h"], "scale": 100}}})  # fmt: skip
    assert spec.fields == {
        "id": FieldSpec(keys=("agentId",)),
        "name": FieldSpec(keys=("n", "name")),
        "health": FieldSpec(keys=("h",), scale=100.0),
    }


def write(tmp_path: Path, body: object) -> str:
    path = tmp_path / "profile.yaml"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return str(path)


def test_a_profile_of_ones_own_loads_with_its_busy_statuses(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, {"name": "mine", "agents": {"tool": "list", "fields": {"id": "key"}},
                                            "busy_statuses": ["busy"]}))  # fmt: skip
    assert profile.name == "mine" and profile.busy_statuses == {AgentStatus.BUSY}
    assert profile.tasks is None and profile.control == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "agents": {"tool": "agent_list", "fields": {"name": ["n"]}}}, "must map 'id'"),
        ({"name": "x", "agents": {"tool": "l", "fields": {"id": "i", "mood": "m"}}}, "unknown Agent fields"),
        ({"name": "x", "agents": {"tool": "l", "fields": {"id": "i"}}, "agnets": {}}, "agnets"),
        ({"name": "x", "agents": {"tool": "l", "fields": {"id": "i"}}, "busy_statuses": ["toiling"]}, "busy_statuses"),
        ("agents: [unclosed", "not valid YAML"),
    ],
)
def test_profile_errors_name_the_problem(tmp_path: Path, body: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_profile(write(tmp_path, body))
    assert info.value.field == "mcp_profile"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(str(tmp_path / "missing.yaml"))
