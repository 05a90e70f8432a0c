"""Alerts received and the playbook's actions: the alert receiver's records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.records import AlertSaved
from visionflow.store.repos._sql import insert, storable
from visionflow.store.schema import AlertRow

__all__ = ["recent", "save"]

_ALERTS = cast(Table, AlertRow.__table__)
_REPLACED = ("status", "playbook", "record")


async def save(conn: AsyncConnection, records: Sequence[AlertSaved]) -> None:
    """Insert new alerts and replace the records of known ones (their playbook finished)."""
    latest = {r.id: r for r in records}
    if not latest:
        return
    rows = [{"id": r.id, "received_at": r.received_at, "status": r.status, "alertname": storable(r.alertname),
             "severity": storable(r.severity), "playbook": r.playbook, "record": storable(r.record)}
            for r in latest.values()]  # fmt: skip
    stmt = insert(conn, _ALERTS)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={c: stmt.excluded[c] for c in _REPLACED})
    await conn.execute(stmt, rows)


async def recent(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` records, oldest first (the order the receiver keeps them in)."""
    c = _ALERTS.c
    rows = (await conn.execute(select(c.record).order_by(c.id.desc()).limit(limit))).scalars().all()
    return [dict(r) for r in reversed(rows)]
