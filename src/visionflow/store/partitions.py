"""Position retention: day partitions on PostgreSQL, batched deletes on SQLite.

On PostgreSQL ``agent_positions`` is partitioned by range of ``t``, one partition per UTC
day named ``agent_positions_pYYYYMMDD``. The server creates today's and the next
``ahead_days`` partitions on start and every hour, the writer creates any other day a sample
falls on before writing it, and partitions whose whole day is older than
``positions_retention_days`` are dropped (dropping a partition is instant; deleting a day of
rows is not). Only partitions named this way are touched.

SQLite has no partitions: rows older than the retention are deleted a batch at a time, so a
large backlog never holds the write lock for long.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.repos._sql import is_postgres

__all__ = ["DAY_S", "DELETE_BATCH", "Retention", "day_of", "partition_name"]

DAY_S = 86_400.0
_NAME = re.compile(r"^agent_positions_p(\d{8})$")
DELETE_BATCH = 20_000


def day_of(t: float) -> float:
    """The start (Unix seconds, UTC midnight) of the day ``t`` falls on."""
    return math.floor(t / DAY_S) * DAY_S


def partition_name(day: float) -> str:
    return "agent_positions_p" + dt.datetime.fromtimestamp(day, dt.UTC).strftime("%Y%m%d")


def _day_of_name(name: str) -> float | None:
    match = _NAME.match(name)
    if match is None:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=dt.UTC).timestamp()


class Retention:
    """Creates position partitions ahead and removes positions past retention; ``clock`` is injectable."""

    def __init__(self, retention_days: float, *, ahead_days: int = 2, clock: Callable[[], float] = time.time) -> None:
        self.retention_days = retention_days
        self.ahead_days = ahead_days
        self._clock = clock
        self._known: set[float] = set()
        """Days whose partition exists (PostgreSQL), so the writer asks the database once per day."""

    @property
    def cutoff(self) -> float:
        """Positions older than this are past retention."""
        return self._clock() - self.retention_days * DAY_S

    async def partitions(self, conn: AsyncConnection) -> dict[str, float]:
        """This table's day partitions (name -> day start); empty on SQLite."""
        if not is_postgres(conn):
            return {}
        rows = await conn.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'agent_positions'"
        ))  # fmt: skip
        out = {}
        for (name,) in rows.all():
            day = _day_of_name(name)
            if day is not None:
                out[name] = day
        return out

    async def ensure(self, conn: AsyncConnection, times: Iterable[float]) -> list[str]:
        """Create the partitions the days of ``times`` fall on, if missing; returns those created."""
        if not is_postgres(conn):
            return []
        created = []
        for day in sorted({day_of(t) for t in times} - self._known):
            name = partition_name(day)
            exists = await conn.execute(text("SELECT to_regclass(:name)"), {"name": name})
            if exists.scalar() is None:
                await conn.execute(text(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF agent_positions "
                    f"FOR VALUES FROM ({day:.0f}) TO ({day + DAY_S:.0f})"
                ))  # fmt: skip
                created.append(name)
            self._known.add(day)
        return created

    async def create_ahead(self, conn: AsyncConnection) -> list[str]:
        """Today's partition and the next ``ahead_days``' (PostgreSQL)."""
        today = day_of(self._clock())
        return await self.ensure(conn, (today + i * DAY_S for i in range(self.ahead_days + 1)))

    async def expire(self, conn: AsyncConnection) -> tuple[list[str], int]:
        """Remove positions past retention: (partitions dropped, rows deleted).

        On SQLite one batch of at most ``DELETE_BATCH`` rows is deleted per call, so each runs in
        a short transaction of its own: call again while it deletes a whole batch.
        """
        cutoff = self.cutoff
        if is_postgres(conn):
            dropped = []
            for name, day in sorted((await self.partitions(conn)).items(), key=lambda item: item[1]):
                if day + DAY_S <= cutoff:
                    await conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
                    self._known.discard(day)
                    dropped.append(name)
            return dropped, 0
        result = await conn.execute(
            text("DELETE FROM agent_positions WHERE rowid IN "
                 "(SELECT rowid FROM agent_positions WHERE t < :cutoff LIMIT :batch)"),
            {"cutoff": cutoff, "batch": DELETE_BATCH},
        )  # fmt: skip
        return [], int(getattr(result, "rowcount", 0) or 0)

    def forget(self) -> None:
        """Ask the database again which partitions exist (after someone else may have dropped some)."""
        self._known.clear()
