"""Physics parameter sets, versioned: the newest is the one the layout runs with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.records import ParamsSaved
from visionflow.store.repos._sql import insert
from visionflow.store.schema import PhysicsParamsRow

__all__ = ["latest", "save"]

_PARAMS = cast(Table, PhysicsParamsRow.__table__)


async def save(conn: AsyncConnection, records: Sequence[ParamsSaved]) -> None:
    rows = [{"version": r.version, "changed_at": r.changed_at, "params": r.params, "changes": r.changes}
            for r in records]  # fmt: skip
    if rows:
        await conn.execute(insert(conn, _PARAMS).on_conflict_do_nothing(), rows)


async def latest(conn: AsyncConnection) -> ParamsSaved | None:
    c = _PARAMS.c
    newest = select(func.max(c.version)).scalar_subquery()
    row = (await conn.execute(select(c.version, c.changed_at, c.params, c.changes).where(c.version == newest))).first()
    return None if row is None else ParamsSaved(*row)
