"""Communication links: the last known state of each pair."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.records import LinkSeen
from visionflow.store.repos._sql import insert
from visionflow.store.schema import LinkRow

__all__ = ["among", "save"]

_LINKS = cast(Table, LinkRow.__table__)
_REPLACED = ("message_count", "bytes", "intensity", "last_message_at", "inferred")


async def save(conn: AsyncConnection, records: Sequence[LinkSeen]) -> None:
    """Upsert links; the first message's time is kept from the first write."""
    latest = {(r.source, r.target): r for r in records}
    if not latest:
        return
    rows = [{"source": r.source, "target": r.target, "message_count": r.message_count, "bytes": r.bytes,
             "intensity": r.intensity, "first_message_at": r.last_message_at, "last_message_at": r.last_message_at,
             "inferred": r.inferred} for r in latest.values()]  # fmt: skip
    stmt = insert(conn, _LINKS)
    stmt = stmt.on_conflict_do_update(index_elements=["source", "target"],
                                      set_={c: stmt.excluded[c] for c in _REPLACED})  # fmt: skip
    await conn.execute(stmt, rows)


async def among(conn: AsyncConnection, agent_ids: Collection[str], *, since: float | None = None,
                until: float | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Links whose two ends are both in ``agent_ids``, optionally first seen by ``until`` and heard since ``since``."""
    c = _LINKS.c
    query = select(_LINKS)
    if since is not None:
        query = query.where(c.last_message_at >= since)
    if until is not None:
        query = query.where(c.first_message_at <= until)
    wanted = set(agent_ids)
    rows = (await conn.execute(query)).mappings().all()
    return [dict(row) for row in rows if row["source"] in wanted and row["target"] in wanted]
