"""The live swarm model: agents, links, and the state every stage shares."""

from visionflow.swarm.links import LinkKey, LinkTable
from visionflow.swarm.models import (
    AGENT_FLAG,
    ID_MASK,
    KNOWLEDGE_FLAG,
    Agent,
    AgentStatus,
    AgentType,
    Link,
    agent_node_id,
    node_index,
)
from visionflow.swarm.state import EventKind, SwarmChanges, SwarmEvent, SwarmState

__all__ = [
    "AGENT_FLAG",
    "ID_MASK",
    "KNOWLEDGE_FLAG",
    "Agent",
    "AgentStatus",
    "AgentType",
    "EventKind",
    "Link",
    "LinkKey",
    "LinkTable",
    "SwarmChanges",
    "SwarmEvent",
    "SwarmState",
    "agent_node_id",
    "node_index",
]
