"""What the server reads back on start: the swarm as it was, its parameters and its alerts.

Every agent that was in the swarm keeps its node id (sources that send their agents again get
them back; push agents are restored outright, with their links and last positions, because
nobody will send them again). Links come back only between restored agents and only while
their intensity, decayed since the last message, is still above the link table's floor: a
link that would have been pruned had the server kept running is not revived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.records import ParamsSaved
from visionflow.store.repos import agents, alerts, links, params, positions
from visionflow.store.repos.agents import StoredAgent
from visionflow.store.repos.positions import Positions
from visionflow.store.schema import AgentRow, AlertRow

__all__ = ["RESTORED_SOURCES", "Restored", "load"]

RESTORED_SOURCES = ("push",)
"""Sources whose agents nobody sends again after a restart, so the store brings them back."""


@dataclass(slots=True)
class Restored:
    keys: dict[str, int] = field(default_factory=dict)
    """Every agent id the store has seen, with its key."""
    next_key: int = 1
    node_ids: dict[str, int] = field(default_factory=dict)
    """Agents that were in the swarm, by id: the node id each one had."""
    statuses: dict[str, str] = field(default_factory=dict)
    """Their last known status."""
    agents: list[StoredAgent] = field(default_factory=list)
    """Agents restored outright (pushed ones), by key."""
    links: list[dict[str, Any]] = field(default_factory=list)
    positions: Positions = field(default_factory=lambda: Positions.from_rows([]))
    """The restored agents' last positions."""
    params: ParamsSaved | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    next_alert_id: int = 1


async def load(
    conn: AsyncConnection,
    *,
    now: float,
    alerts_kept: int,
    link_decay_s: float,
    link_min_intensity: float,
    lookback_s: float,
) -> Restored:
    """Read the restore from the database; ``lookback_s`` bounds how old a restored position may be."""
    out = Restored()
    out.keys = await agents.keys(conn)
    out.next_key = int((await conn.execute(select(func.coalesce(func.max(AgentRow.key), 0)))).scalar_one()) + 1
    live = await agents.active_agents(conn)
    out.node_ids = {a.id: a.node_id for a in live}
    out.statuses = {a.id: a.status for a in live}
    out.agents = [a for a in live if a.source in RESTORED_SOURCES]
    ids = {a.id for a in out.agents}
    for link in await links.among(conn, ids):
        age = max(0.0, now - link["last_message_at"])
        if link["intensity"] * math.exp(-age / link_decay_s) >= link_min_intensity:
            out.links.append(link)
    out.positions = await positions.latest(conn, [a.key for a in out.agents], now, since=now - lookback_s)
    out.params = await params.latest(conn)
    out.alerts = await alerts.recent(conn, alerts_kept)
    out.next_alert_id = int((await conn.execute(select(func.coalesce(func.max(AlertRow.id), 0)))).scalar_one()) + 1
    return out
