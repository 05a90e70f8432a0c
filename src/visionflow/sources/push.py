"""The push source: agent frameworks POST batches of upserts, removals and messages.

A batch is validated whole before any of it is applied, so a bad item is a 422 that names
it and the state is untouched. Applying happens on the event loop between ticks, which is
where the 60 Hz loop runs too, so no lock is needed and an acknowledged batch is visible
to the very next read of ``/api/bots/data``. Within a batch, upserts go first, then link
totals, then messages, then removals, so "spawn, talk, finish" can travel together.

Every item is safe to send twice except a message: an upsert sets fields, a removal of an
absent agent does nothing, and a link item carries totals the server merges by taking the
larger, so a client that re-sends what a restarted server lost cannot double anything.

The ingest runs beside any source (pushed agents join the simulated swarm) and only
touches the agents it created: an id that another source owns is a conflict. With
``--source push`` it is the only source and the simulator stays off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from visionflow.errors import IngestConflictError
from visionflow.observability.metrics import Metrics
from visionflow.sources.base import SourceStatus
from visionflow.swarm import ORCHESTRATOR_TYPE, Agent, AgentStatus, SwarmState, foreign_type_name, parse_type

__all__ = ["AgentUpsert", "LinkItem", "MessageItem", "PushIngest", "PushSource", "UpdateBatch"]

AgentId = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=256, pattern=r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
    ),
]
"""Non-empty, at most 256 characters, no control characters, no leading or trailing white space."""

ShortText = Annotated[str, StringConstraints(max_length=512)]
MAX_METADATA_KEYS = 64


class AgentUpsert(BaseModel):
    """Create an agent, or change the fields given of one this ingest created before."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: AgentId
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    status: AgentStatus | None = None
    health: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    cpu: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    memory_mb: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] | None = None
    workload: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    tokens: Annotated[int, Field(ge=0, le=2**62)] | None = None
    token_rate: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] | None = None
    current_task: ShortText | None = None
    tasks_active: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    tasks_completed: Annotated[int, Field(ge=0, le=2**62)] | None = None
    success_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    swarm_id: AgentId | None = None
    parent_id: AgentId | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
        return value


class MessageItem(BaseModel):
    """One message from ``from`` to ``to``, or a summary of ``count`` of them (``bytes`` in all, the last ``at``).

    ``at`` is Unix seconds; a time in the future counts as now.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    sender: AgentId = Field(alias="from")
    to: AgentId
    bytes: Annotated[int, Field(ge=0, le=2**40)] = 0
    at: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    count: Annotated[int, Field(ge=1, le=2**31)] = 1


class LinkItem(BaseModel):
    """A link's totals as the sender knows them; the server keeps the larger of its own and these."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    sender: AgentId = Field(alias="from")
    to: AgentId
    message_count: Annotated[int, Field(ge=0, le=2**62)] = 0
    bytes: Annotated[int, Field(ge=0, le=2**62)] = 0
    last_message_at: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


class UpdateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agents: list[AgentUpsert] = Field(default_factory=list)
    remove: list[AgentId] = Field(default_factory=list)
    messages: list[MessageItem] = Field(default_factory=list)
    links: list[LinkItem] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.agents) + len(self.remove) + len(self.messages) + len(self.links)


_FIELDS = tuple(name for name in AgentUpsert.model_fields if name not in ("id", "type", "metadata"))


class PushIngest:
    """Applies validated batches to a SwarmState and keeps the tally."""

    def __init__(self, state: SwarmState, metrics: Metrics, *, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.metrics = metrics
        self._clock = clock
        self.owned: set[str] = set()
        self.batches = 0
        self.last_update: float | None = None
        self._agents_applied = metrics.ingest_items.labels("agent")
        self._removals_applied = metrics.ingest_items.labels("removal")
        self._messages_applied = metrics.ingest_items.labels("message")

    def check(self, batch: UpdateBatch) -> None:
        """Raise ``IngestConflictError`` if the batch touches an agent another source owns."""
        agents = self.state.agents
        for i, upsert in enumerate(batch.agents):
            if upsert.id in agents and upsert.id not in self.owned:
                raise IngestConflictError(("body", "agents", i, "id"), f"agent {upsert.id!r} belongs to another source")
        for i, agent_id in enumerate(batch.remove):
            if agent_id in agents and agent_id not in self.owned:
                raise IngestConflictError(("body", "remove", i), f"agent {agent_id!r} belongs to another source")

    def apply(self, batch: UpdateBatch) -> dict[str, Any]:
        """Apply a checked batch: upserts, link totals, messages, then removals.

        The tally names, by index, the messages and links whose agents are unknown (they
        are dropped), so a client can tell which of its items did nothing. An empty batch
        changes nothing, not even the source's data age: clients send one to learn the
        server's instance id.
        """
        self.check(batch)
        if not len(batch):
            return {"agents": 0, "removed": 0, "messages": 0, "links": 0, "unmatched_messages": 0,
                    "unmatched": {"messages": [], "links": []}}  # fmt: skip
        state = self.state
        now = self._clock()
        for upsert in batch.agents:
            self._upsert(state, upsert, now)
        unmatched_links = [i for i, link in enumerate(batch.links) if not self._restore(state, link, now)]
        delivered = 0
        unmatched_messages: list[int] = []
        for i, message in enumerate(batch.messages):
            at = now if message.at is None else min(message.at, now)
            if state.record_message(message.sender, message.to, at, message.bytes, count=message.count):
                delivered += message.count
            else:
                unmatched_messages.append(i)
        removed = 0
        for agent_id in batch.remove:
            if agent_id in self.owned:
                self.owned.discard(agent_id)
                removed += state.remove(agent_id) is not None
        self.batches += 1
        self.last_update = now
        self._agents_applied.inc(len(batch.agents))
        self._removals_applied.inc(removed)
        self._messages_applied.inc(delivered)
        return {
            "agents": len(batch.agents),
            "removed": removed,
            "messages": delivered,
            "links": len(batch.links) - len(unmatched_links),
            "unmatched_messages": len(unmatched_messages),
            "unmatched": {"messages": unmatched_messages, "links": unmatched_links},
        }

    @staticmethod
    def _restore(state: SwarmState, link: LinkItem, now: float) -> bool:
        return state.restore_link(link.sender, link.to, now, message_count=link.message_count, nbytes=link.bytes,
                                  last_message_at=link.last_message_at)  # fmt: skip

    def _upsert(self, state: SwarmState, upsert: AgentUpsert, now: float) -> None:
        given = {name: getattr(upsert, name) for name in upsert.model_fields_set if name in _FIELDS}
        existing = state.get(upsert.id)
        if existing is None:
            agent = Agent(id=upsert.id, name=upsert.name or upsert.id, type=parse_type(upsert.type), created_at=now)
            for name, value in given.items():
                if value is not None:
                    setattr(agent, name, value)
            foreign = foreign_type_name(upsert.type)
            if foreign is not None:
                agent.metadata[ORCHESTRATOR_TYPE] = foreign
            if upsert.metadata:
                agent.metadata.update(upsert.metadata)
            self.owned.add(upsert.id)  # before it is added: whoever hears of the addition can ask who owns it
            try:
                state.add(agent)
            except Exception:
                self.owned.discard(upsert.id)
                raise
            return
        if "name" in given and given["name"] is None:
            given["name"] = upsert.id
        for name in ("health", "cpu", "memory_mb", "workload", "tokens", "token_rate", "tasks_active",
                     "tasks_completed", "success_rate", "status"):  # fmt: skip
            if name in given and given[name] is None:
                del given[name]  # null means "unknown", not "zero"
        if upsert.type is not None:
            given["type"] = parse_type(upsert.type)
        if upsert.metadata:
            existing.metadata.update(upsert.metadata)
        state.update(upsert.id, **given)

    def status(self) -> dict[str, Any]:
        age = None if self.last_update is None else max(0.0, self._clock() - self.last_update)
        return {"batches": self.batches, "agents": len(self.owned),
                "data_age_s": None if age is None else round(age, 3)}  # fmt: skip


class PushSource:
    """``--source push``: no simulator; the swarm is whatever frameworks push."""

    name = "push"

    def __init__(self, ingest: PushIngest) -> None:
        self.ingest = ingest
        self._last_prune = -math.inf

    async def start(self, state: SwarmState, now: float) -> None:
        self._last_prune = now

    async def stop(self) -> None:
        return None

    def tick(self, state: SwarmState, now: float, dt: float) -> None:
        if now - self._last_prune >= 1.0:
            state.prune_links(now)
            self._last_prune = now

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name, connected=True, last_update=self.ingest.last_update, detail=self.ingest.status()
        )
