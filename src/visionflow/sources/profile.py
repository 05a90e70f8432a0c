"""Profiles: which tools an MCP orchestrator offers and where our fields sit in their results.

A profile is YAML: the built-in ones are in ``profiles/`` (``claude-flow``, ``ruv-swarm``),
and a user's own file is read the same way. Each section names a tool, where the list sits
in its JSON result (a dotted ``path``), and for every Agent field the result keys to try in
order. A tool marked ``rare`` changes seldom (a swarm's status) and is called at the idle
interval only. The ``tasks`` section also says which task statuses mean the work is under
way (the task counts toward its agents' ``tasks_active`` and gives their ``current_task``)
and which mean it is over (its links are no longer live and fade like a silent pair's);
any other status is open: its links are live, but nobody is working on it yet.

The schema is strict (an unknown key is an error, not a silent no-op), because a misspelt
key in a hand-written profile would otherwise show up only as missing agents.
Reading results with a profile is ``mapping.py``'s job.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from visionflow.errors import ConfigError
from visionflow.swarm import BUSY_STATUSES, AgentStatus

__all__ = [
    "BUILTIN_PROFILES",
    "ControlSpec",
    "FieldSpec",
    "ProfileMapping",
    "TaskPhase",
    "TaskSpec",
    "ToolSpec",
    "load_profile",
]

_PROFILE_DIR = Path(__file__).with_name("profiles")
BUILTIN_PROFILES = ("claude-flow", "ruv-swarm")

_AGENT_FIELDS = frozenset(
    {"id", "name", "type", "status", "health", "cpu", "memory_mb", "workload", "tokens", "token_rate",
     "current_task", "tasks_active", "tasks_completed", "success_rate", "swarm_id", "parent_id", "created_at"}
)  # fmt: skip
"""The Agent fields a profile may map results onto."""


class FieldSpec(BaseModel):
    """Result keys to try in order, and a factor applied to numbers (health 0-1 -> 0-100)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    keys: tuple[str, ...] = Field(min_length=1)
    scale: float = 1.0


def _field_specs(value: Any) -> Any:
    """Accept the short forms ``[a, b]`` and ``a`` as well as ``{keys: [...], scale: ...}``."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for name, spec in value.items():
        if isinstance(spec, str):
            out[name] = {"keys": [spec]}
        elif isinstance(spec, list):
            out[name] = {"keys": spec}
        else:
            out[name] = spec
    return out


class ToolSpec(BaseModel):
    """One tool to call, its arguments, where its list sits, and which keys feed which field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    path: str = ""
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    rare: bool = False
    """Its result changes seldom: call it at the idle interval, not on every poll."""

    @field_validator("fields", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        return _field_specs(value)


class TaskPhase(enum.Enum):
    """Where a task stands, as its status word says."""

    OPEN = "open"
    """Listed, perhaps assigned, not started: its links are live, nobody counts it as work."""
    ACTIVE = "active"
    """Under way: counts toward its agents' ``tasks_active`` and gives their ``current_task``."""
    DONE = "done"
    """Over (completed, failed, cancelled): its links are no longer live and fade."""


def _words(values: Any) -> Any:
    if isinstance(values, list | tuple | set | frozenset):
        return frozenset(str(v).strip().lower() for v in values)
    return values


class TaskSpec(ToolSpec):
    """The task list, and which status words mean under way and over."""

    active_statuses: frozenset[str] = frozenset({"in_progress", "running", "active", "started", "busy"})
    done_statuses: frozenset[str] = frozenset(
        {"completed", "complete", "done", "succeeded", "success", "failed", "error", "cancelled", "canceled"}
    )

    @field_validator("active_statuses", "done_statuses", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return _words(value)

    def phase(self, status: str | None) -> TaskPhase:
        word = (status or "").strip().lower()
        if word in self.active_statuses:
            return TaskPhase.ACTIVE
        if word in self.done_statuses:
            return TaskPhase.DONE
        return TaskPhase.OPEN


class ControlSpec(BaseModel):
    """A control action: the tool, and which tool argument each of our request fields becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str = Field(min_length=1)
    arguments: dict[str, str] = Field(default_factory=dict)


class ProfileMapping(BaseModel):
    """One orchestrator's tools and field names."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    agents: ToolSpec
    tasks: TaskSpec | None = None
    metrics: ToolSpec | None = None
    messages: ToolSpec | None = None
    status: ToolSpec | None = None
    extra_status: tuple[ToolSpec, ...] = ()
    control: dict[str, ControlSpec] = Field(default_factory=dict)
    busy_statuses: frozenset[AgentStatus] = BUSY_STATUSES
    """While any agent has one of these statuses (ours, after mapping), polls use the busy interval."""

    def polled(self) -> list[ToolSpec]:
        """The tools a poll may call, the agent list first."""
        optional = (self.metrics, self.tasks, self.messages, self.status, *self.extra_status)
        return [self.agents, *(spec for spec in optional if spec is not None)]

    def tools(self) -> set[str]:
        """Every tool the profile names: the ones polled and the control actions'."""
        return {spec.tool for spec in self.polled()} | {spec.tool for spec in self.control.values()}

    @model_validator(mode="after")
    def _statuses_do_not_overlap(self) -> ProfileMapping:
        if self.tasks is not None and (both := self.tasks.active_statuses & self.tasks.done_statuses):
            raise ValueError(f"tasks: {sorted(both)} cannot be both active and done")
        return self

    @field_validator("agents")
    @classmethod
    def _agents_have_ids(cls, spec: ToolSpec) -> ToolSpec:
        if "id" not in spec.fields:
            raise ValueError("agents.fields must map 'id'")
        unknown = set(spec.fields) - _AGENT_FIELDS
        if unknown:
            raise ValueError(f"agents.fields has unknown Agent fields: {sorted(unknown)}")
        return spec


def load_profile(spec: str) -> ProfileMapping:
    """A built-in profile by name, or a YAML file by path; ``ConfigError`` names what is wrong."""
    path = _PROFILE_DIR / f"{spec}.yaml" if spec in BUILTIN_PROFILES else Path(spec)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError("mcp_profile", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("mcp_profile", f"{path} is not valid YAML: {exc}") from None
    try:
        return ProfileMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError("mcp_profile", f"{path}: {where}: {first['msg']}") from None
