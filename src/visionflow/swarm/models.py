"""The swarm's vocabulary: agents, the links between them, and their enums.

Node ids are the agents' names on the wire: a u32 whose bit 31 marks an agent, bit 30 a
knowledge node, and whose low 30 bits are a small integer reused after an agent leaves,
so arrays indexed by it stay as small as the largest swarm seen.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AGENT_FLAG",
    "ID_MASK",
    "KNOWLEDGE_FLAG",
    "Agent",
    "AgentStatus",
    "AgentType",
    "Link",
    "agent_node_id",
    "node_index",
]

AGENT_FLAG = 1 << 31
KNOWLEDGE_FLAG = 1 << 30
ID_MASK = (1 << 30) - 1


def agent_node_id(index: int) -> int:
    """The wire id of the agent whose low-bit index is ``index``."""
    return AGENT_FLAG | (index & ID_MASK)


def node_index(node_id: int) -> int:
    """The low 30 bits of a wire id."""
    return node_id & ID_MASK


class AgentType(enum.StrEnum):
    COORDINATOR = "coordinator"
    RESEARCHER = "researcher"
    CODER = "coder"
    ANALYST = "analyst"
    ARCHITECT = "architect"
    TESTER = "tester"
    REVIEWER = "reviewer"
    OPTIMIZER = "optimizer"
    DOCUMENTER = "documenter"
    MONITOR = "monitor"
    SPECIALIST = "specialist"
    QUEEN = "queen"


class AgentStatus(enum.StrEnum):
    INITIALIZING = "initializing"
    IDLE = "idle"
    ACTIVE = "active"
    BUSY = "busy"
    ERROR = "error"
    TERMINATING = "terminating"
    OFFLINE = "offline"


@dataclass(slots=True)
class Agent:
    """One agent as the orchestrator reports it; positions live in the physics engine."""

    id: str
    name: str
    type: AgentType
    status: AgentStatus = AgentStatus.INITIALIZING
    health: float = 100.0
    cpu: float = 0.0
    memory_mb: float = 0.0
    workload: float = 0.0
    tokens: int = 0
    token_rate: float = 0.0
    current_task: str | None = None
    tasks_active: int = 0
    tasks_completed: int = 0
    success_rate: float = 1.0
    swarm_id: str | None = None
    parent_id: str | None = None
    created_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    node_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The agent's fields as the API and the stream's JSON messages show them."""
        return {
            "id": self.id,
            "node_id": self.node_id,
            "name": self.name,
            "type": self.type.value,
            "status": self.status.value,
            "health": round(self.health, 2),
            "cpu": round(self.cpu, 2),
            "memory": round(self.memory_mb, 1),
            "workload": round(self.workload, 3),
            "tokens": self.tokens,
            "token_rate": round(self.token_rate, 2),
            "current_task": self.current_task,
            "tasks_active": self.tasks_active,
            "tasks_completed": self.tasks_completed,
            "success_rate": round(self.success_rate, 4),
            "swarm_id": self.swarm_id,
            "parent_id": self.parent_id,
            "created_at": self.created_at,
            "metadata": self.metadata,
        }


@dataclass(frozen=True, slots=True)
class Link:
    """A communication link as seen at one instant; the live table is ``LinkTable``.

    ``message_count``, ``bytes`` and ``last_message_at`` (None before the first) count messages
    only; ``observed_at`` is when a source last saw the link as structure (a shared task, a
    parent), which is not a message.
    """

    source: str
    target: str
    source_node: int
    target_node: int
    intensity: float
    message_count: int
    bytes: int
    last_message_at: float | None
    inferred: bool = False
    observed_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "source_node": self.source_node,
            "target_node": self.target_node,
            "intensity": round(self.intensity, 4),
            "message_count": self.message_count,
            "bytes": self.bytes,
            "last_message_at": self.last_message_at,
            "observed_at": self.observed_at,
            "inferred": self.inferred,
        }
