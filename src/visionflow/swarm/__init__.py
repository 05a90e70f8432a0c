"""The live swarm model: agents, links, the state every stage shares, and the words for them."""

from visionflow.swarm.links import LinkKey, LinkTable, link_key
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
from visionflow.swarm.vocabulary import (
    BUSY_STATUSES,
    ORCHESTRATOR_TYPE,
    foreign_type_name,
    is_busy,
    parse_status,
    parse_type,
)

__all__ = [
    "AGENT_FLAG",
    "BUSY_STATUSES",
    "ID_MASK",
    "KNOWLEDGE_FLAG",
    "ORCHESTRATOR_TYPE",
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
    "foreign_type_name",
    "is_busy",
    "link_key",
    "node_index",
    "parse_status",
    "parse_type",
]
