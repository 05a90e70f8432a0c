"""KPI samples: one row a minute for capacity planning."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.records import KpiSample
from visionflow.store.repos._sql import insert
from visionflow.store.schema import KpiSampleRow

__all__ = ["save", "since"]

_KPI = cast(Table, KpiSampleRow.__table__)


async def save(conn: AsyncConnection, samples: Sequence[KpiSample]) -> None:
    if samples:
        await conn.execute(insert(conn, _KPI).on_conflict_do_nothing(), [dataclasses.asdict(s) for s in samples])


async def since(conn: AsyncConnection, t: float) -> list[KpiSample]:
    """Samples taken at or after ``t``, oldest first."""
    c = _KPI.c
    rows = (await conn.execute(select(_KPI).where(c.at >= t).order_by(c.at))).mappings().all()
    return [KpiSample(**row) for row in rows]
