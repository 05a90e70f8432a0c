"""SwarmState: the one live model every source writes into and every stage reads from.

It owns the agent-id -> node-id mapping (stable for an agent's whole life, reused after it
leaves, and kept across restarts through ``reserve_node_ids``) and records what changed since
the last ``drain()``, in order, so the loop can replay additions and removals into the physics
engine and tell clients only the news.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from visionflow.errors import ImmutableFieldError, SwarmFullError, UnknownAgentError
from visionflow.swarm.links import LinkKey, LinkTable, link_key
from visionflow.swarm.models import ID_MASK, Agent, agent_node_id, node_index

__all__ = ["EventKind", "SwarmChanges", "SwarmEvent", "SwarmState"]


class EventKind(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class SwarmEvent:
    kind: EventKind
    agent_id: str
    node_id: int
    parent_node_id: int | None = None


@dataclass(slots=True)
class SwarmChanges:
    """Everything that happened since the previous drain, in order."""

    events: list[SwarmEvent] = field(default_factory=list)
    links_touched: set[LinkKey] = field(default_factory=set)
    links_removed: set[LinkKey] = field(default_factory=set)
    links_topology_changed: bool = False

    def __bool__(self) -> bool:
        return bool(self.events or self.links_touched or self.links_removed)

    def upserted_ids(self, state: SwarmState) -> list[str]:
        """Agents added or updated that are still present, each once."""
        seen: dict[str, None] = {}
        for event in self.events:
            if event.kind is not EventKind.REMOVED and event.agent_id in state.agents:
                seen[event.agent_id] = None
        return list(seen)

    def removed_node_ids(self) -> list[int]:
        return [e.node_id for e in self.events if e.kind is EventKind.REMOVED]


SwarmListener = Callable[[SwarmEvent], None]

_IDENTITY = frozenset({"id", "node_id"})


class SwarmState:
    """Agents, links and the change log between drains."""

    def __init__(self, links: LinkTable | None = None) -> None:
        self.agents: dict[str, Agent] = {}
        self.links = links if links is not None else LinkTable()
        self._by_index: dict[int, Agent] = {}
        self._free: list[int] = []
        self._next_index = 0
        self._reserved: dict[str, int] = {}
        """Agent id -> the index it had before a restart, kept for it until it comes back."""
        self._reserved_indices: set[int] = set()
        self._changes = SwarmChanges()
        self._link_topology_seen = self.links.topology_version
        self._listeners: list[SwarmListener] = []
        self.version = 0
        """Bumped on every change, so readers can tell whether to rebuild a view."""

    def __len__(self) -> int:
        return len(self.agents)

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.agents.values())

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self.agents

    def subscribe(self, listener: SwarmListener) -> Callable[[], None]:
        """Call ``listener`` on every event; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: SwarmEvent) -> None:
        self.version += 1
        self._changes.events.append(event)
        for listener in self._listeners:
            listener(event)

    def _allocate_index(self, agent_id: str) -> int:
        reserved = self._reserved.pop(agent_id, None)
        if reserved is not None:
            self._reserved_indices.discard(reserved)
            self._claim(reserved)
            return reserved
        while self._free:
            index = heapq.heappop(self._free)
            if index not in self._reserved_indices:
                return index
        while self._next_index in self._reserved_indices:
            self._next_index += 1
        if self._next_index > ID_MASK:
            raise SwarmFullError("more than 2**30 live agents")
        index = self._next_index
        self._next_index += 1
        return index

    def _claim(self, index: int) -> None:
        """Take ``index`` out of the free pool (it was reserved, so nobody holds it)."""
        if index >= self._next_index:
            for skipped in range(self._next_index, index):
                if skipped not in self._reserved_indices:
                    heapq.heappush(self._free, skipped)
            self._next_index = index + 1
        elif index in self._free:
            self._free.remove(index)
            heapq.heapify(self._free)

    def reserve_node_ids(self, node_ids: dict[str, int]) -> int:
        """Keep each agent's node id for it: when that agent is added it gets this id, nobody else does.

        Used on start with the ids agents had before a restart, so an agent keeps its node id
        (clients, recorded history and other processes know it by it). An id already in use, or
        reserved twice, is skipped; returns how many were reserved.
        """
        taken = set(self._by_index) | self._reserved_indices
        count = 0
        for agent_id, node_id in node_ids.items():
            index = node_index(node_id)
            if index in taken or agent_id in self.agents or agent_id in self._reserved:
                continue
            self._reserved[agent_id] = index
            self._reserved_indices.add(index)
            taken.add(index)
            count += 1
        return count

    def add(self, agent: Agent) -> Agent:
        """Add a new agent, giving it a node id; an existing id is updated instead."""
        existing = self.agents.get(agent.id)
        if existing is not None:
            self._copy_fields(agent, existing)
            self.touch(existing)
            return existing
        index = self._allocate_index(agent.id)
        agent.node_id = agent_node_id(index)
        self.agents[agent.id] = agent
        self._by_index[index] = agent
        parent = self.agents.get(agent.parent_id) if agent.parent_id else None
        self._emit(SwarmEvent(EventKind.ADDED, agent.id, agent.node_id, parent.node_id if parent else None))
        return agent

    @staticmethod
    def _copy_fields(source: Agent, target: Agent) -> None:
        node_id = target.node_id
        for name in Agent.__slots__:
            setattr(target, name, getattr(source, name))
        target.node_id = node_id

    def update(self, agent_id: str, **fields: Any) -> Agent:
        """Change some of an agent's fields and record that it changed.

        Raises ``UnknownAgentError`` for an id not in the swarm and ``ImmutableFieldError`` for
        ``id`` or ``node_id`` (an agent's identity); either way nothing is changed.
        """
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgentError(agent_id)
        if not _IDENTITY.isdisjoint(fields):
            raise ImmutableFieldError(next(name for name in fields if name in _IDENTITY))
        for name, value in fields.items():
            setattr(agent, name, value)
        self.touch(agent)
        return agent

    def touch(self, agent: Agent) -> None:
        """Record that ``agent`` was changed in place."""
        self._emit(SwarmEvent(EventKind.UPDATED, agent.id, agent.node_id))

    def remove(self, agent_id: str) -> Agent | None:
        agent = self.agents.pop(agent_id, None)
        if agent is None:
            return None
        index = node_index(agent.node_id)
        del self._by_index[index]
        heapq.heappush(self._free, index)
        removed = self.links.remove_agent(agent_id)
        self._changes.links_removed.update(removed)
        self._changes.links_touched.difference_update(removed)
        self._emit(SwarmEvent(EventKind.REMOVED, agent_id, agent.node_id))
        return agent

    def get(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id)

    def by_node_id(self, node_id: int) -> Agent | None:
        agent = self._by_index.get(node_index(node_id))
        return agent if agent is not None and agent.node_id == node_id else None

    def record_message(
        self, sender: str, receiver: str, now: float, nbytes: int = 0, *, inferred: bool = False, count: int = 1
    ) -> bool:
        """Count ``count`` messages between two live agents; False if either is unknown or they are the same."""
        pair = self._pair(sender, receiver)
        if pair is None:
            return False
        self.links.record_message(sender, receiver, *pair, now, nbytes, inferred=inferred, count=count)
        self._touched(sender, receiver)
        return True

    def observe_link(self, sender: str, receiver: str, now: float, *, inferred: bool = False) -> bool:
        """Note a structural link (shared task, parent and child): kept alive, never counted as a message."""
        pair = self._pair(sender, receiver)
        if pair is None:
            return False
        self.links.observe(sender, receiver, *pair, now, inferred=inferred)
        self._touched(sender, receiver)
        return True

    def restore_link(
        self, sender: str, receiver: str, now: float, *, message_count: int, nbytes: int,
        last_message_at: float | None, intensity: float | None = None, inferred: bool = False,
    ) -> bool:  # fmt: skip
        """Know at least these totals of a link (idempotent: see ``LinkTable.restore``); False if an end is missing."""
        pair = self._pair(sender, receiver)
        if pair is None:
            return False
        self.links.restore(sender, receiver, *pair, now, message_count=message_count, nbytes=nbytes,
                           last_message_at=last_message_at, intensity=intensity, inferred=inferred)  # fmt: skip
        self._touched(sender, receiver)
        return True

    def _pair(self, sender: str, receiver: str) -> tuple[int, int] | None:
        a = self.agents.get(sender)
        b = self.agents.get(receiver)
        if a is None or b is None or a is b:
            return None
        return a.node_id, b.node_id

    def _touched(self, sender: str, receiver: str) -> None:
        key = link_key(sender, receiver)
        self._changes.links_touched.add(key)
        self._changes.links_removed.discard(key)
        self.version += 1

    def prune_links(self, now: float) -> int:
        removed = self.links.prune(now)
        if removed:
            self._changes.links_removed.update(removed)
            self._changes.links_touched.difference_update(removed)
            self.version += 1
        return len(removed)

    def drain(self) -> SwarmChanges:
        """Hand over the changes recorded since the last call and start a new log."""
        changes = self._changes
        changes.links_topology_changed = self.links.topology_version != self._link_topology_seen
        self._link_topology_seen = self.links.topology_version
        self._changes = SwarmChanges()
        return changes
