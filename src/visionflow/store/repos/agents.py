"""Agents and their status history."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.records import AgentGone, AgentSeen, StatusChanged
from visionflow.store.repos._sql import insert, storable
from visionflow.store.schema import AgentRow, AgentStatusRow

__all__ = ["REMOVED", "StoredAgent", "active_agents", "keys", "save", "save_statuses", "statuses_at"]

REMOVED = "removed"
"""The status history's word for an agent leaving the swarm."""

_AGENTS = cast(Table, AgentRow.__table__)
_STATUS = cast(Table, AgentStatusRow.__table__)
_REPLACED = ("id", "node_id", "name", "type", "status", "source", "active", "last_seen", "removed_at", "fields")


async def save(conn: AsyncConnection, records: Sequence[AgentSeen | AgentGone]) -> None:
    """Upsert agents seen and mark departures, in order: an agent that left and came back is active."""
    seen: dict[int, AgentSeen] = {}
    last: dict[int, AgentSeen | AgentGone] = {}
    for record in records:
        if isinstance(record, AgentSeen):
            seen[record.key] = record
        last[record.key] = record
    if seen:
        stmt = insert(conn, _AGENTS)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={c: stmt.excluded[c] for c in _REPLACED})
        await conn.execute(stmt, [_row(r) for r in seen.values()])
    gone = [{"k": r.key, "at": r.at} for r in last.values() if isinstance(r, AgentGone)]
    if gone:
        await conn.execute(
            update(_AGENTS)
            .where(_AGENTS.c.key == bindparam("k"))
            .values(active=False, removed_at=bindparam("at"), last_seen=bindparam("at")),
            gone,
        )


def _row(r: AgentSeen) -> dict[str, Any]:
    return {"key": r.key, "id": r.id, "node_id": r.node_id, "name": storable(r.name), "type": r.type,
            "status": r.status, "source": r.source, "active": True, "first_seen": r.seen_at,
            "last_seen": r.seen_at, "removed_at": None, "fields": storable(r.fields)}  # fmt: skip


async def save_statuses(conn: AsyncConnection, records: Iterable[StatusChanged]) -> None:
    rows = [{"agent_key": r.key, "at": r.at, "status": r.status, "previous": r.previous} for r in records]
    if rows:
        await conn.execute(insert(conn, _STATUS).on_conflict_do_nothing(), rows)


async def keys(conn: AsyncConnection) -> dict[str, int]:
    """Every agent id the store knows, with its key."""
    result = await conn.execute(select(_AGENTS.c.id, _AGENTS.c.key))
    return {agent_id: key for agent_id, key in result.all()}


@dataclass(frozen=True, slots=True)
class StoredAgent:
    key: int
    id: str
    node_id: int
    name: str
    type: str
    status: str
    source: str
    first_seen: float
    last_seen: float
    fields: dict[str, Any]


async def active_agents(conn: AsyncConnection, source: str | None = None) -> list[StoredAgent]:
    """Agents that were in the swarm when the server last wrote, optionally only one source's, by key."""
    a = _AGENTS.c
    query = select(a.key, a.id, a.node_id, a.name, a.type, a.status, a.source, a.first_seen, a.last_seen,
                   a.fields).where(a.active).order_by(a.key)  # fmt: skip
    if source is not None:
        query = query.where(a.source == source)
    return [StoredAgent(**row) for row in (await conn.execute(query)).mappings().all()]


async def statuses_at(conn: AsyncConnection, at: float, agent_keys: Sequence[int]) -> dict[int, str]:
    """Each agent's status at ``at``: its newest history row at or before it (agents with none are left out)."""
    h = _STATUS.c
    newest = (
        select(h.agent_key, func.max(h.at).label("at"))
        .where(h.at <= at, h.agent_key.in_(agent_keys))
        .group_by(h.agent_key)
        .subquery()
    )
    query = select(h.agent_key, h.status, h.id).join(
        newest, (h.agent_key == newest.c.agent_key) & (h.at == newest.c.at)
    )
    out: dict[int, tuple[int, str]] = {}
    for key, status, row_id in (await conn.execute(query)).all():
        if key not in out or row_id > out[key][0]:  # two rows at the same instant: the later written wins
            out[key] = (row_id, status)
    return {key: status for key, (_, status) in out.items()}
