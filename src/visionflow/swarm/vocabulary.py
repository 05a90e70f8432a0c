"""One vocabulary for every source: an orchestrator's words for statuses and types, read as ours.

Orchestrators name things their own way (``working``, ``hierarchical-coordinator``,
``perf-analyzer``). Every source (the MCP mapping, the push API, traces) reads them here, so
one agent shows the same type and status whichever way it arrived. A type word we only
approximate is kept beside ours in ``Agent.metadata[ORCHESTRATOR_TYPE]``, so nothing the
orchestrator said is lost.
"""

from __future__ import annotations

from visionflow.swarm.models import AgentStatus, AgentType

__all__ = ["BUSY_STATUSES", "ORCHESTRATOR_TYPE", "foreign_type_name", "is_busy", "parse_status", "parse_type"]

BUSY_STATUSES = frozenset({AgentStatus.BUSY, AgentStatus.ACTIVE})
"""Statuses of an agent at work: they make MCP polls fast and simulated CPU load high."""

ORCHESTRATOR_TYPE = "orchestrator_type"
"""The metadata key that keeps an orchestrator's type name when ours only approximates it."""

_STATUS_ALIASES = {
    "working": AgentStatus.BUSY, "running": AgentStatus.BUSY, "executing": AgentStatus.BUSY,
    "spawning": AgentStatus.INITIALIZING, "starting": AgentStatus.INITIALIZING, "pending": AgentStatus.INITIALIZING,
    "registered": AgentStatus.INITIALIZING, "ready": AgentStatus.IDLE, "available": AgentStatus.IDLE,
    "completed": AgentStatus.IDLE, "done": AgentStatus.IDLE, "waiting": AgentStatus.IDLE,
    "failed": AgentStatus.ERROR, "errored": AgentStatus.ERROR, "unhealthy": AgentStatus.ERROR,
    "stopping": AgentStatus.TERMINATING, "stopped": AgentStatus.OFFLINE, "terminated": AgentStatus.OFFLINE,
    "dead": AgentStatus.OFFLINE, "paused": AgentStatus.OFFLINE,
}  # fmt: skip

# Checked in order, so "queen-coordinator" is a queen and "code-reviewer" a reviewer.
_TYPE_HINTS = (
    ("queen", AgentType.QUEEN), ("coordinator", AgentType.COORDINATOR), ("architect", AgentType.ARCHITECT),
    ("review", AgentType.REVIEWER), ("test", AgentType.TESTER), ("research", AgentType.RESEARCHER),
    ("analy", AgentType.ANALYST), ("optimi", AgentType.OPTIMIZER), ("perf", AgentType.OPTIMIZER),
    ("doc", AgentType.DOCUMENTER), ("monitor", AgentType.MONITOR), ("cod", AgentType.CODER),
    ("develop", AgentType.CODER), ("engineer", AgentType.CODER),
)  # fmt: skip

_TYPE_VALUES = frozenset(t.value for t in AgentType)


def _word(value: object) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def parse_status(value: object) -> AgentStatus | None:
    """Our status for an orchestrator's word for it; None when there is no sensible match."""
    word = _word(value)
    if word is None:
        return None
    try:
        return AgentStatus(word)
    except ValueError:
        return _STATUS_ALIASES.get(word)


def parse_type(value: object) -> AgentType:
    """Our type for an orchestrator's type name (``hierarchical-coordinator`` -> coordinator).

    Anything unrecognised, or not a string, is a specialist: every agent has a type.
    """
    word = _word(value)
    if word is None:
        return AgentType.SPECIALIST
    if word in _TYPE_VALUES:
        return AgentType(word)
    for hint, kind in _TYPE_HINTS:
        if hint in word:
            return kind
    return AgentType.SPECIALIST


def foreign_type_name(value: object) -> str | None:
    """The orchestrator's type name when it is not one of ours (case and spaces aside), else None."""
    if isinstance(value, str) and value.strip().lower() not in _TYPE_VALUES:
        return value
    return None


def is_busy(status: object) -> bool:
    """True for the statuses of an agent at work (``busy``, ``active``), as enums or as their words."""
    return status in BUSY_STATUSES
