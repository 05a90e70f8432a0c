"""Tool mappings: which orchestrator tools to call and how their JSON maps onto ``Agent``.

A mapping is YAML (see ``profiles/``). Each section names a tool, where the list sits in
its JSON result (a dotted ``path``), and for every Agent field the result keys to try in
order. Reading a result never raises on a bad value: a field of the wrong type falls back
to its default, a key the mapping does not name is kept in ``Agent.metadata``, and only a
result whose overall shape is wrong raises ``MalformedResultError`` so the caller can count it
and keep the last good state.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from visionflow.errors import ConfigError, SourceError
from visionflow.swarm import Agent, AgentStatus, AgentType

__all__ = [
    "BUILTIN_PROFILES",
    "AgentRecord",
    "ControlSpec",
    "FieldSpec",
    "MalformedResultError",
    "ProfileMapping",
    "TaskRecord",
    "ToolSpec",
    "agent_status",
    "agent_type",
    "load_profile",
    "map_agents",
    "map_messages",
    "map_records",
    "map_tasks",
    "parse_json_text",
]

_PROFILE_DIR = Path(__file__).with_name("profiles")
BUILTIN_PROFILES = ("claude-flow", "ruv-swarm")

MAX_ID_CHARS = 256


class MalformedResultError(SourceError):
    """A tool result whose shape does not match the mapping (not JSON, wrong types, too large)."""


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
    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    path: str = ""
    fields: dict[str, FieldSpec] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        return _field_specs(value)


class ControlSpec(BaseModel):
    """A control action: the tool, and which tool argument each of our request fields becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str = Field(min_length=1)
    arguments: dict[str, str] = Field(default_factory=dict)


_AGENT_FIELDS = frozenset(
    {"id", "name", "type", "status", "health", "cpu", "memory_mb", "workload", "tokens", "token_rate",
     "current_task", "tasks_active", "tasks_completed", "success_rate", "swarm_id", "parent_id", "created_at"}
)  # fmt: skip


class ProfileMapping(BaseModel):
    """One orchestrator's tools and field names."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    agents: ToolSpec
    tasks: ToolSpec | None = None
    metrics: ToolSpec | None = None
    messages: ToolSpec | None = None
    status: ToolSpec | None = None
    extra_status: tuple[ToolSpec, ...] = ()
    control: dict[str, ControlSpec] = Field(default_factory=dict)
    busy_statuses: tuple[str, ...] = ("busy", "active")

    @field_validator("agents")
    @classmethod
    def _agents_have_ids(cls, spec: ToolSpec) -> ToolSpec:
        if "id" not in spec.fields:
            raise ValueError("agents.fields must map 'id'")
        unknown = set(spec.fields) - _AGENT_FIELDS
        if unknown:
            raise ValueError(f"agents.fields has unknown Agent fields: {sorted(unknown)}")
        return spec

    def tools(self) -> list[ToolSpec]:
        """Every tool a poll calls, agents first."""
        optional = [self.tasks, self.metrics, self.messages, self.status, *self.extra_status]
        return [self.agents, *(spec for spec in optional if spec is not None)]


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


# ------------------------------------------------------------------ results
def parse_json_text(texts: list[str], max_bytes: int) -> Any:
    """The JSON a tool returned as text; several blocks are joined. Raises ``MalformedResultError``."""
    total = sum(len(t) for t in texts)
    if total > max_bytes:
        raise MalformedResultError(f"result of {total} characters exceeds the limit of {max_bytes}")
    if not texts:
        raise MalformedResultError("result has no text content")
    text = texts[0] if len(texts) == 1 else "".join(texts)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MalformedResultError(f"result is not JSON: {exc}") from None


def _at_path(payload: Any, path: str) -> list[Any]:
    """The list at dotted ``path``; a bare list is accepted at any path the payload lacks."""
    node = payload
    if path:
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(payload, list):
                node = payload
                break
            else:
                raise MalformedResultError(f"result has no {path!r}")
    if isinstance(node, dict):  # some servers key records by id
        node = [dict(v, id=k) if isinstance(v, dict) and "id" not in v else v for k, v in node.items()]
    if not isinstance(node, list):
        raise MalformedResultError(f"{path or 'result'} is {type(node).__name__}, not a list")
    return node


def _first(record: dict[str, Any], spec: FieldSpec) -> Any:
    for key in spec.keys:
        value = record.get(key)
        if value is not None:
            return value
    return None


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= MAX_ID_CHARS else None


def _number(value: Any, scale: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value) * scale
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _timestamp(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    number = _number(value, 1.0)
    if number is None:
        return None
    return number / 1000.0 if number > 1e11 else number  # milliseconds since the epoch


_STATUS_ALIASES = {
    "working": AgentStatus.BUSY, "running": AgentStatus.BUSY, "executing": AgentStatus.BUSY,
    "spawning": AgentStatus.INITIALIZING, "starting": AgentStatus.INITIALIZING, "pending": AgentStatus.INITIALIZING,
    "registered": AgentStatus.INITIALIZING, "ready": AgentStatus.IDLE, "available": AgentStatus.IDLE,
    "completed": AgentStatus.IDLE, "done": AgentStatus.IDLE, "waiting": AgentStatus.IDLE,
    "failed": AgentStatus.ERROR, "errored": AgentStatus.ERROR, "unhealthy": AgentStatus.ERROR,
    "stopping": AgentStatus.TERMINATING, "stopped": AgentStatus.OFFLINE, "terminated": AgentStatus.OFFLINE,
    "dead": AgentStatus.OFFLINE, "paused": AgentStatus.OFFLINE,
}  # fmt: skip

_TYPE_HINTS = (
    ("queen", AgentType.QUEEN), ("coordinator", AgentType.COORDINATOR), ("architect", AgentType.ARCHITECT),
    ("review", AgentType.REVIEWER), ("test", AgentType.TESTER), ("research", AgentType.RESEARCHER),
    ("analy", AgentType.ANALYST), ("optimi", AgentType.OPTIMIZER), ("perf", AgentType.OPTIMIZER),
    ("doc", AgentType.DOCUMENTER), ("monitor", AgentType.MONITOR), ("cod", AgentType.CODER),
    ("develop", AgentType.CODER), ("engineer", AgentType.CODER),
)  # fmt: skip


def agent_status(value: Any) -> AgentStatus | None:
    """Our status for an orchestrator's word for it; None when there is no sensible match."""
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    try:
        return AgentStatus(word)
    except ValueError:
        return _STATUS_ALIASES.get(word)


def agent_type(value: Any) -> AgentType:
    """Our type for an orchestrator's type name (``hierarchical-coordinator`` -> coordinator)."""
    if not isinstance(value, str):
        return AgentType.SPECIALIST
    word = value.strip().lower()
    try:
        return AgentType(word)
    except ValueError:
        pass
    for hint, kind in _TYPE_HINTS:
        if hint in word:
            return kind
    return AgentType.SPECIALIST


_INT_FIELDS = frozenset({"tokens", "tasks_active", "tasks_completed"})
_FLOAT_FIELDS = frozenset({"health", "cpu", "memory_mb", "workload", "token_rate", "success_rate"})
_TEXT_FIELDS = frozenset({"current_task", "swarm_id", "parent_id"})
_TYPE_VALUES = frozenset(t.value for t in AgentType)


class AgentRecord(BaseModel):
    """An agent as one poll saw it: Agent fields plus the keys the mapping did not name."""

    model_config = ConfigDict(frozen=True)
    id: str
    fields: dict[str, Any]
    metadata: dict[str, Any]

    def to_agent(self) -> Agent:
        agent = Agent(id=self.id, name=self.id, type=AgentType.SPECIALIST)
        for name, value in self.fields.items():
            setattr(agent, name, value)
        agent.metadata = dict(self.metadata)
        return agent


def map_records(items: list[Any], spec: ToolSpec) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], int]:
    """Mapped fields and unmapped extras per record id, and how many records had no usable id."""
    mapped: dict[str, dict[str, Any]] = {}
    extras: dict[str, dict[str, Any]] = {}
    skipped = 0
    id_spec = spec.fields["id"]
    named = {key for fs in spec.fields.values() for key in fs.keys}
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        record_id = _identifier(_first(item, id_spec))
        if record_id is None:
            skipped += 1
            continue
        values: dict[str, Any] = {}
        for name, fs in spec.fields.items():
            if name != "id":
                raw = _first(item, fs)
                if raw is not None:
                    values[name] = (raw, fs.scale)
        mapped[record_id] = values
        extras[record_id] = {k: v for k, v in item.items() if k not in named}
    return mapped, extras, skipped


def _coerce(name: str, raw: Any, scale: float) -> Any:
    """An Agent field's value from a raw result value, or None when it cannot be one."""
    if name == "status":
        return agent_status(raw)
    if name == "type":
        return agent_type(raw)
    if name == "name":
        return _identifier(raw)
    if name in _TEXT_FIELDS:
        return _identifier(raw)
    if name == "created_at":
        return _timestamp(raw)
    number = _number(raw, scale)
    if number is None:
        return None
    if name in _INT_FIELDS:
        return max(0, int(number))
    if name == "health":
        return min(100.0, max(0.0, number))
    if name in ("workload", "success_rate"):
        return min(1.0, max(0.0, number))
    return max(0.0, number) if name in _FLOAT_FIELDS else number


def map_agents(
    payload: Any, spec: ToolSpec, metrics: tuple[Any, ToolSpec] | None = None
) -> tuple[list[AgentRecord], int]:
    """Agents from an agent-list result (and optionally a metrics result merged by id).

    Returns the records and the number of items skipped for want of an id.
    """
    items = _at_path(payload, spec.path)
    mapped, extras, skipped = map_records(items, spec)
    if items and not mapped:
        raise MalformedResultError(f"none of the {len(items)} agent records has a usable id")
    if metrics is not None:
        metric_payload, metric_spec = metrics
        more, _, _ = map_records(_at_path(metric_payload, metric_spec.path), metric_spec)
        for agent_id, values in more.items():
            if agent_id in mapped:
                mapped[agent_id].update(values)
    records = []
    for agent_id, values in mapped.items():
        fields: dict[str, Any] = {}
        metadata = dict(extras[agent_id])
        for name, (raw, scale) in values.items():
            value = _coerce(name, raw, scale)
            if value is None:
                metadata[f"raw_{name}"] = raw  # kept so nothing the orchestrator said is lost
            else:
                fields[name] = value
            if name == "type" and isinstance(raw, str) and raw.strip().lower() not in _TYPE_VALUES:
                metadata["orchestrator_type"] = raw  # the original name, when ours is an approximation
        if "status" in values and fields.get("status") is None and isinstance(values["status"][0], str):
            fields["status"] = AgentStatus.IDLE
        fields.setdefault("name", agent_id)
        records.append(AgentRecord(id=agent_id, fields=fields, metadata=metadata))
    return records, skipped


class TaskRecord(BaseModel):
    """A task as one poll saw it: who works on it, and who handed it out."""

    model_config = ConfigDict(frozen=True)
    id: str
    assigned: tuple[str, ...]
    status: str | None = None
    created_by: str | None = None


def map_tasks(payload: Any, spec: ToolSpec) -> tuple[list[TaskRecord], int]:
    mapped, _, skipped = map_records(_at_path(payload, spec.path), spec)
    tasks = []
    for task_id, values in mapped.items():
        raw_assigned = values.get("assigned", (None, 1.0))[0]
        if isinstance(raw_assigned, str | int) and not isinstance(raw_assigned, bool):
            raw_assigned = [raw_assigned]
        assigned = tuple(
            a for a in (_identifier(x) for x in (raw_assigned if isinstance(raw_assigned, list) else [])) if a
        )
        status = values.get("status", (None, 1.0))[0]
        created_by = _identifier(values.get("created_by", (None, 1.0))[0])
        tasks.append(
            TaskRecord(
                id=task_id,
                assigned=assigned,
                status=status if isinstance(status, str) else None,
                created_by=created_by,
            )
        )
    return tasks, skipped


def map_messages(payload: Any, spec: ToolSpec) -> list[tuple[str, str | None, int]]:
    """``(sender, receiver, bytes)`` from a message log; a receiver of None (or ``*``) is a broadcast."""
    out: list[tuple[str, str | None, int]] = []
    for item in _at_path(payload, spec.path):
        if not isinstance(item, dict):
            continue
        values = {name: _first(item, fs) for name, fs in spec.fields.items()}
        sender = _identifier(values.get("from"))
        if sender is None:
            continue
        receiver = _identifier(values.get("to"))
        if receiver in ("*", "all", "broadcast"):
            receiver = None
        size = _number(values.get("bytes"), 1.0) or 0.0
        out.append((sender, receiver, max(0, int(size))))
    return out
