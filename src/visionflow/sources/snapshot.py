"""A poll's view of an orchestrator, and the cheap step that folds it into the SwarmState.

Polling builds an ``OrchestratorSnapshot`` in a background task (network, JSON, mapping);
the 60 Hz loop only calls ``SnapshotApplier.apply``, which diffs it against the agents this
source owns: new agents are added, changed ones updated, vanished ones removed.

Links come only from what the orchestrator shows, and are of two kinds. Structure (agents
sharing a task that is not over, a task's creator and its assignees, parent and child) is
*observed*: live while the latest snapshot shows it, refreshed every second, never counted
as a message; once a snapshot stops showing it (the task completed) it fades like a pair
that fell silent. Messages (a message log, broadcasts naming a sender) are *counted*, each
once: the same log read again on the next poll adds nothing. When the orchestrator shows
neither, workers are linked to the coordinators of their swarm by type, and those links are
marked ``inferred``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from visionflow.sources.mapping import AgentRecord, TaskRecord
from visionflow.sources.profile import TaskPhase
from visionflow.swarm import BUSY_STATUSES, Agent, AgentStatus, AgentType, SwarmState

__all__ = ["LinkObservation", "MessagePair", "OrchestratorSnapshot", "SnapshotApplier", "message_pairs",
           "observed_links"]  # fmt: skip

MAX_TASK_PAIRS = 64
"""Agents sharing one task are linked pairwise up to this many pairs (a star beyond it)."""

_LEADERS = (AgentType.QUEEN, AgentType.COORDINATOR)


REFRESH_S = 1.0
"""Live structural links are observed again this often, so they hold their intensity between polls."""


@dataclass(frozen=True, slots=True)
class LinkObservation:
    """A structural link the orchestrator shows (or, ``inferred``, one guessed from agent types)."""

    source: str
    target: str
    inferred: bool = False


MessagePair = tuple[str, str, int]
"""One message: sender, receiver, bytes."""


@dataclass(slots=True)
class OrchestratorSnapshot:
    agents: list[AgentRecord]
    links: list[LinkObservation] = field(default_factory=list)
    """Structure, live while shown."""
    messages: list[MessagePair] = field(default_factory=list)
    """Every message the orchestrator's log shows now, old ones included (the applier counts only new ones)."""
    fetched_at: float = 0.0
    status: dict[str, Any] = field(default_factory=dict)

    def busy(self, statuses: Collection[AgentStatus] = BUSY_STATUSES) -> bool:
        """True while any agent has one of ``statuses`` (a profile's ``busy_statuses``)."""
        return any(r.fields.get("status") in statuses for r in self.agents)


def _task_links(tasks: Iterable[TaskRecord], known: set[str]) -> list[LinkObservation]:
    links: list[LinkObservation] = []
    for task in tasks:
        if task.phase is TaskPhase.DONE:
            continue
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


def message_pairs(agents: list[AgentRecord], messages: Iterable[tuple[str, str | None, int]]) -> list[MessagePair]:
    """Messages between known agents; a receiver of None is a broadcast to every other agent."""
    known = {r.id for r in agents}
    pairs: list[MessagePair] = []
    for sender, receiver, nbytes in messages:
        if sender not in known:
            continue
        if receiver is None:
            pairs.extend((sender, other, nbytes) for other in known if other != sender)
        elif receiver in known and receiver != sender:
            pairs.append((sender, receiver, nbytes))
    return pairs


def observed_links(
    agents: list[AgentRecord], tasks: Iterable[TaskRecord] = (), *, messages_seen: bool = False
) -> list[LinkObservation]:
    """Structure shown by tasks that are not over and by parents; inferred by type only when nothing is shown.

    ``messages_seen``: the orchestrator showed messages, which are links too, so none are inferred.
    """
    known = {r.id for r in agents}
    links = _task_links(tasks, known)
    for record in agents:
        parent = record.fields.get("parent_id")
        if parent in known and parent != record.id:
            links.append(LinkObservation(parent, record.id))
    return links if links or messages_seen else _inferred_links(agents)


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

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.owned: set[str] = set()
        self.applied = 0
        self.refresh_s = refresh_s
        self.live: list[LinkObservation] = []
        """The structural links of the latest snapshot: observed again every ``refresh_s``."""
        self._observed_at = 0.0
        self._messages_seen: Counter[MessagePair] = Counter()

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
        self.live = snapshot.links
        self._observe(state, now)
        messages = Counter(snapshot.messages)
        for (sender, receiver, nbytes), times in messages.items():
            new = times - self._messages_seen[(sender, receiver, nbytes)]
            if new > 0:
                state.record_message(sender, receiver, now, nbytes * new, count=new)
        self._messages_seen = messages
        self.applied += 1

    def refresh(self, state: SwarmState, now: float) -> None:
        """Keep the live structure at its intensity; call every tick (it acts every ``refresh_s``)."""
        if now - self._observed_at >= self.refresh_s:
            self._observe(state, now)

    def _observe(self, state: SwarmState, now: float) -> None:
        for link in self.live:
            state.observe_link(link.source, link.target, now, inferred=link.inferred)
        self._observed_at = now
