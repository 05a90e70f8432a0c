"""Reading tool results with a profile: JSON text to ``AgentRecord``s, ``TaskRecord``s and messages.

A profile (``profile.py``) says where the list sits in a result and which keys feed each
Agent field. Reading a result never raises on a bad value: a field of the wrong type falls
back to its default (the raw value kept in metadata), a key the profile does not name is
kept in ``Agent.metadata``, and only a result whose overall shape is wrong raises
``MalformedResultError``, so the caller can count it and keep the last good state. Status
and type words are read with the swarm's one vocabulary, like every other source's.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from visionflow.errors import MalformedResultError
from visionflow.sources.profile import FieldSpec, TaskPhase, TaskSpec, ToolSpec
from visionflow.swarm import (
    ORCHESTRATOR_TYPE,
    Agent,
    AgentStatus,
    AgentType,
    foreign_type_name,
    parse_status,
    parse_type,
)

__all__ = [
    "MAX_ID_CHARS",
    "MAX_TASK_CHARS",
    "AgentRecord",
    "TaskRecord",
    "map_agents",
    "map_messages",
    "map_records",
    "map_tasks",
    "parse_json_text",
    "with_task_work",
]

MAX_ID_CHARS = 256
"""Ids and names longer than this are not ids: the record is skipped (or the field defaulted)."""

MAX_TASK_CHARS = 512
"""A task's description is cut to this length when it becomes an agent's ``current_task``."""


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


_INT_FIELDS = frozenset({"tokens", "tasks_active", "tasks_completed"})
_FLOAT_FIELDS = frozenset({"health", "cpu", "memory_mb", "workload", "token_rate", "success_rate"})
_TEXT_FIELDS = frozenset({"current_task", "swarm_id", "parent_id"})


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
        return parse_status(raw)
    if name == "type":
        return parse_type(raw)
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
            if name == "type" and (foreign := foreign_type_name(raw)) is not None:
                metadata[ORCHESTRATOR_TYPE] = foreign  # the original name, when ours is an approximation
        if "status" in values and fields.get("status") is None and isinstance(values["status"][0], str):
            fields["status"] = AgentStatus.IDLE
        fields.setdefault("name", agent_id)
        records.append(AgentRecord(id=agent_id, fields=fields, metadata=metadata))
    return records, skipped


class TaskRecord(BaseModel):
    """A task as one poll saw it: who works on it, who handed it out, and whether it is under way."""

    model_config = ConfigDict(frozen=True)
    id: str
    assigned: tuple[str, ...]
    status: str | None = None
    created_by: str | None = None
    description: str | None = None
    phase: TaskPhase = TaskPhase.OPEN


def map_tasks(payload: Any, spec: ToolSpec) -> tuple[list[TaskRecord], int]:
    """Tasks in the order the orchestrator lists them, each with its phase by the profile's status words."""
    phase_of = spec.phase if isinstance(spec, TaskSpec) else TaskSpec(tool=spec.tool).phase
    mapped, _, skipped = map_records(_at_path(payload, spec.path), spec)
    tasks = []
    for task_id, values in mapped.items():
        raw_assigned = values.get("assigned", (None, 1.0))[0]
        if isinstance(raw_assigned, str | int) and not isinstance(raw_assigned, bool):
            raw_assigned = [raw_assigned]
        assigned = tuple(
            a for a in (_identifier(x) for x in (raw_assigned if isinstance(raw_assigned, list) else [])) if a
        )
        raw_status = values.get("status", (None, 1.0))[0]
        status = raw_status if isinstance(raw_status, str) else None
        description = values.get("description", (None, 1.0))[0]
        tasks.append(
            TaskRecord(
                id=task_id,
                assigned=assigned,
                status=status,
                created_by=_identifier(values.get("created_by", (None, 1.0))[0]),
                description=description.strip()[:MAX_TASK_CHARS] or None if isinstance(description, str) else None,
                phase=phase_of(status),
            )
        )
    return tasks, skipped


def with_task_work(agents: list[AgentRecord], tasks: list[TaskRecord]) -> list[AgentRecord]:
    """Agents with ``tasks_active`` and ``current_task`` from the tasks under way, where the agent list has none.

    ``tasks_active`` counts the active tasks an agent is assigned to; ``current_task`` is the
    first of them in the orchestrator's order (its description, or its id). A value the
    agent list gives itself wins.
    """
    active: dict[str, list[TaskRecord]] = {}
    for task in tasks:
        if task.phase is TaskPhase.ACTIVE:
            for agent_id in dict.fromkeys(task.assigned):
                active.setdefault(agent_id, []).append(task)
    out = []
    for record in agents:
        work = active.get(record.id, [])
        update: dict[str, Any] = {}
        if "tasks_active" not in record.fields:
            update["tasks_active"] = len(work)
        if record.fields.get("current_task") is None and work:
            update["current_task"] = work[0].description or work[0].id
        out.append(record if not update else record.model_copy(update={"fields": {**record.fields, **update}}))
    return out


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
