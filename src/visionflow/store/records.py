"""What the server hands the writer: durable records, and samples it may drop.

Durable records (agents, their statuses and departures, links, parameter sets, alerts) are
written or spooled, never dropped: each is what some client was, or will be, told is saved.
They are plain frozen dataclasses so the spool can write them as one JSON line each and read
them back as the same objects.

Samples (positions, KPI rows) are measurements taken again a second or a minute later; when
the database falls behind the oldest are dropped first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import orjson

__all__ = [
    "AgentGone",
    "AgentSeen",
    "AlertSaved",
    "Durable",
    "KpiSample",
    "LinkSeen",
    "ParamsSaved",
    "PositionSample",
    "StatusChanged",
    "decode",
    "encode",
]


@dataclass(frozen=True, slots=True)
class AgentSeen:
    """An agent as it is now: inserted the first time, its fields replaced after that."""

    kind: ClassVar[str] = "agent"
    key: int
    id: str
    node_id: int
    name: str
    type: str
    status: str
    source: str
    seen_at: float
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentGone:
    """An agent left the swarm at ``at`` (its row stays, no longer active)."""

    kind: ClassVar[str] = "gone"
    key: int
    at: float


@dataclass(frozen=True, slots=True)
class StatusChanged:
    kind: ClassVar[str] = "status"
    key: int
    at: float
    status: str
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class LinkSeen:
    """A link's state after its last message; ``source`` < ``target``."""

    kind: ClassVar[str] = "link"
    source: str
    target: str
    message_count: int
    bytes: int
    intensity: float
    last_message_at: float
    inferred: bool = False


@dataclass(frozen=True, slots=True)
class ParamsSaved:
    kind: ClassVar[str] = "params"
    version: int
    changed_at: float
    params: dict[str, Any]
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertSaved:
    """An alert receiver's record, saved when it arrives and again when its playbook finishes."""

    kind: ClassVar[str] = "alert"
    id: int
    received_at: float
    status: str | None
    alertname: str
    severity: str | None
    playbook: str
    record: dict[str, Any]


Durable = AgentSeen | AgentGone | StatusChanged | LinkSeen | ParamsSaved | AlertSaved

_KINDS: dict[str, type[Durable]] = {
    cls.kind: cls for cls in (AgentSeen, AgentGone, StatusChanged, LinkSeen, ParamsSaved, AlertSaved)
}


def encode(record: Durable) -> bytes:
    """One spool line (no newline): the record's fields and its kind."""
    body = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    body["kind"] = record.kind
    return orjson.dumps(body, default=str)


def decode(line: bytes) -> Durable:
    """The record a spool line holds; ``ValueError`` for a line that is not one."""
    try:
        body = orjson.loads(line)
        cls = _KINDS[body.pop("kind")]
        return cls(**body)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a spooled record: {exc}") from None


@dataclass(frozen=True, slots=True)
class PositionSample:
    """Every node's position and velocity at ``t``, copied off the engine between two ticks.

    ``keys`` are the agents' store keys, in the same order as ``node_ids`` (0 for a node the
    store does not know, which is not written).
    """

    t: float
    keys: npt.NDArray[np.int64]
    node_ids: npt.NDArray[np.uint32]
    positions: npt.NDArray[np.float32]
    velocities: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True, slots=True)
class KpiSample:
    at: float
    cpu_percent: float | None
    memory_bytes: int | None
    agents: int
    clients: int
    tick_p50_ms: float | None
    tick_p95_ms: float | None
    frames_per_s: float
    errors_per_s: float
    api_p95_ms: float | None = None
