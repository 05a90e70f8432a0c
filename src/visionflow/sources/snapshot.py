"""A poll's view of an orchestrator, and the cheap step that folds it into the SwarmState.

Polling builds an ``OrchestratorSnapshot`` in a background task (network, JSON, mapping);
the 60 Hz loop only calls ``SnapshotApplier.apply``, which diffs it against the agents this
source owns: new agents are added, changed ones updated, vanished ones removed.

Links come only from what the orchestrator shows: agents sharing a task, a task's creator
and its assignees, parent and child, broadcasts naming a sender, and message logs. When it
shows none of these, workers are linked to the coordinators of their swarm by type, and
those links are marked ``inferred``.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from visionflow.sources.mapping import AgentRecord, TaskRecord
from visionflow.swarm import BUSY_STATUSES, Agent, AgentStatus, AgentType, SwarmState

__all__ = ["LinkObservation", "OrchestratorSnapshot", "SnapshotApplier", "observed_links"]

MAX_TASK_PAIRS = 64
"""Agents sharing one task are linked pairwise up to this many pairs (a star beyond it)."""

_LEADERS = (AgentType.QUEEN, AgentType.COORDINATOR)


@dataclass(frozen=True, slots=True)
class LinkObservation:
    """One link to record: ``nbytes`` and ``at`` come from a message, zero for structure."""

    source: str
    target: str
    nbytes: int = 0
    inferred: bool = False


@dataclass(slots=True)
class OrchestratorSnapshot:
    agents: list[AgentRecord]
    links: list[LinkObservation] = field(default_factory=list)
    fetched_at: float = 0.0
    status: dict[str, Any] = field(default_factory=dict)

    def busy(self, statuses: Collection[AgentStatus] = BUSY_STATUSES) -> bool:
        """True while any agent has one of ``statuses`` (a profile's ``busy_statuses``)."""
        return any(r.fields.get("status") in statuses for r in self.agents)


def _task_links(tasks: Iterable[TaskRecord], known: set[str]) -> list[LinkObservation]:
    links: list[LinkObservation] = []
    for task in tasks:
        members = [a for a in dict.fromkeys(task.assigned) if a in known]
        if task.created_by in known:
            links.extend(LinkObservation(task.created_by, m) for m in members if m != task.created_by)
        pairs = list(itertools.islice(itertools.combinations(members, 2), MAX_TASK_PAIRS))
        links.extend(LinkObservation(a, b) for a, b in pairs)
    return links


def _inferred_links(agents: list[AgentRecord]) -> list[LinkObservation]:
    """Workers to the leaders of their swarm (or of the whole swarm when none is named)."""
    leaders: dict[str | None, list[str]] = {}
    for record in agents:
        if record.fields.get("type") in _LEADERS:
            leaders.setdefault(record.fields.get("swarm_id"), []).append(record.id)
    links = []
    for record in agents:
        if record.fields.get("type") in _LEADERS:
            continue
        swarm = record.fields.get("swarm_id")
        for leader in leaders.get(swarm) or leaders.get(None) or []:
            links.append(LinkObservation(leader, record.id, inferred=True))
    queens = [r.id for r in agents if r.fields.get("type") is AgentType.QUEEN]
    coordinators = [r.id for r in agents if r.fields.get("type") is AgentType.COORDINATOR]
    links.extend(LinkObservation(q, c, inferred=True) for q in queens for c in coordinators)
    return links


def observed_links(
    agents: list[AgentRecord],
    tasks: Iterable[TaskRecord] = (),
    messages: Iterable[tuple[str, str | None, int]] = (),
) -> list[LinkObservation]:
    """Links shown by tasks, parents and messages; inferred by type only when none are shown.

    ``messages`` are ``(sender, receiver, bytes)``; a receiver of None is a broadcast.
    """
    known = {r.id for r in agents}
    links = _task_links(tasks, known)
    for record in agents:
        parent = record.fields.get("parent_id")
        if parent in known and parent != record.id:
            links.append(LinkObservation(parent, record.id))
    for sender, receiver, nbytes in messages:
        if sender not in known:
            continue
        if receiver is None:
            links.extend(LinkObservation(sender, other, nbytes) for other in known if other != sender)
        elif receiver in known and receiver != sender:
            links.append(LinkObservation(sender, receiver, nbytes))
    return links or _inferred_links(agents)


_COMPARED = tuple(name for name in Agent.__slots__ if name not in ("id", "node_id", "created_at"))


def _refresh(agent: Agent, record: AgentRecord) -> bool:
    """Make ``agent`` what ``record`` says (fields it omits return to defaults); True if it changed."""
    fresh = record.to_agent()
    changed = False
    for name in _COMPARED:
        value = getattr(fresh, name)
        if getattr(agent, name) != value:
            setattr(agent, name, value)
            changed = True
    if "created_at" in record.fields and agent.created_at != fresh.created_at:
        agent.created_at = fresh.created_at
        changed = True
    return changed


class SnapshotApplier:
    """Folds snapshots into a SwarmState, touching only the agents it added itself."""

    def __init__(self) -> None:
        self.owned: set[str] = set()
        self.applied = 0

    def apply(self, state: SwarmState, snapshot: OrchestratorSnapshot, now: float) -> None:
        seen = set()
        for record in snapshot.agents:
            seen.add(record.id)
            current = state.get(record.id)
            if current is None:
                agent = record.to_agent()
                if agent.created_at == 0.0:
                    agent.created_at = now
                state.add(agent)
                self.owned.add(record.id)
            elif record.id in self.owned and _refresh(current, record):
                state.touch(current)
        for agent_id in self.owned - seen:
            state.remove(agent_id)
        self.owned &= seen
        for link in snapshot.links:
            state.record_message(link.source, link.target, now, link.nbytes, inferred=link.inferred)
        self.applied += 1
