"""Position retention: day partitions created ahead across a month boundary, and dropped past retention
(PostgreSQL); batched deletes past retention (SQLite). The clock is injected."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.unit.store.conftest import DbSettings, migrated

from visionflow.observability.metrics import Metrics
from visionflow.store import StoreWriter, partitions
from visionflow.store.partitions import DAY_S, Retention, day_of, partition_name
from visionflow.store.repos import positions
from visionflow.store.spool import Spool


def utc(*date: int, hour: int = 0) -> float:
    return dt.datetime(*date, hour, tzinfo=dt.UTC).timestamp()


def test_a_partition_is_named_after_its_utc_day() -> None:
    assert partition_name(day_of(utc(2026, 1, 31, hour=23))) == "agent_positions_p20260131"
    assert day_of(utc(2026, 2, 1, hour=5)) == utc(2026, 2, 1)


def test_partitions_are_created_ahead_across_a_month_boundary_and_dropped_past_retention(postgres_url: str) -> None:
    now = [utc(2026, 1, 30, hour=12)]
    retention = Retention(7, ahead_days=3, clock=lambda: now[0])

    async def go() -> None:
        async with migrated(DbSettings(Path(), postgres_url)) as db, db.engine.begin() as conn:
            created = await retention.create_ahead(conn)
            assert created == ["agent_positions_p20260130", "agent_positions_p20260131",
                               "agent_positions_p20260201", "agent_positions_p20260202"]  # fmt: skip
            assert await retention.create_ahead(conn) == []  # known: not asked again
            rows = [(1, 2**31, now[0] + i * DAY_S, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) for i in range(4)]
            await positions.save(conn, rows)  # COPY routes every row to its day's partition
            per_day = await conn.execute(text(
                "SELECT tableoid::regclass::text, count(*) FROM agent_positions GROUP BY 1 ORDER BY 1"))  # fmt: skip
            assert [r[1] for r in per_day.all()] == [1, 1, 1, 1]

            now[0] = utc(2026, 2, 9, hour=1)  # 7 days back is Feb 2, 01:00: Jan 30, 31 and Feb 1 are past
            dropped, deleted = await retention.expire(conn)
            assert dropped == ["agent_positions_p20260130", "agent_positions_p20260131", "agent_positions_p20260201"]
            assert deleted == 0
            assert sorted(await retention.partitions(conn)) == ["agent_positions_p20260202"]
            left = await conn.execute(text("SELECT count(*) FROM agent_positions"))
            assert left.scalar_one() == 1
            ahead = await retention.create_ahead(conn)
            assert ahead == [f"agent_positions_p202602{day:02d}" for day in (9, 10, 11, 12)]

    asyncio.run(go())


def test_sqlite_deletes_rows_past_retention_in_batches(
    tmp_path: Path, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partitions, "DELETE_BATCH", 100)  # three batches of the 250 old rows
    now = 1_900_000_000.0
    retention = Retention(7, clock=lambda: now)

    async def go() -> None:
        async with migrated(DbSettings(tmp_path)) as db:
            async with db.engine.begin() as conn:
                old = [(1, 2**31, now - 8 * DAY_S + i, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) for i in range(250)]
                fresh = [(1, 2**31, now - 6 * DAY_S + i, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) for i in range(10)]
                await positions.save(conn, old + fresh)
            writer = StoreWriter(db, Spool(tmp_path / "spool"), retention, metrics, clock=lambda: now)
            assert await writer.maintain() == {"partitions_created": [], "partitions_dropped": [], "rows_deleted": 250}
            async with db.engine.connect() as conn:
                assert (await conn.execute(text("SELECT count(*) FROM agent_positions"))).scalar_one() == 10

    asyncio.run(go())
