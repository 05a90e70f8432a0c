"""The writer: batches committed, records spooled while the database is away and replayed after,
samples bounded and filtered to what moved, records the database refuses set aside one by one."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from tests.unit.store.conftest import DbSettings, migrated

from visionflow.observability.metrics import Metrics
from visionflow.store import (
    AgentGone,
    AgentSeen,
    LinkSeen,
    ParamsSaved,
    PositionSample,
    StatusChanged,
    StoreWriter,
    WriterConfig,
)
from visionflow.store.partitions import Retention
from visionflow.store.repos import agents as agents_repo
from visionflow.store.spool import Spool

FAST = WriterConfig(retry_min_s=0.0, retry_max_s=0.0, keyframe_s=3600.0, move_threshold=0.01, timeout_s=0.3)


def seen(key: int, agent_id: str, status: str = "idle", at: float = 100.0) -> AgentSeen:
    return AgentSeen(key, agent_id, 2**31 + key, agent_id.upper(), "coder", status, "push", at, {"health": 90.0})


async def rows(writer: StoreWriter, sql: str) -> list[Any]:
    async with writer.db.engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


def writer_for(db: Any, tmp_path: Path, metrics: Metrics, config: WriterConfig = FAST) -> StoreWriter:
    return StoreWriter(db, Spool(tmp_path / "spool"), Retention(7), metrics, config)


def test_records_are_committed_before_their_barrier_resolves(db_settings: DbSettings, metrics: Metrics) -> None:
    async def go() -> None:
        async with migrated(db_settings) as db:
            writer = writer_for(db, db_settings.data_dir, metrics)
            writer.submit([seen(1, "a"), seen(2, "b"), StatusChanged(1, 100.0, "idle")])
            writer.submit([LinkSeen("a", "b", 2, 20, 0.5, 101.0), ParamsSaved(1, 102.0, {"theta": 0.5}, {})])
            barrier = writer.barrier()
            assert not barrier.done()
            await writer.cycle()
            assert barrier.done() and barrier.result() is None
            assert await rows(writer, "SELECT id, status, active FROM agents ORDER BY key") == [
                ("a", "idle", True), ("b", "idle", True)]  # fmt: skip
            writer.submit([AgentGone(2, 110.0), StatusChanged(2, 110.0, "removed", "idle"), seen(1, "a", "busy")])
            await writer.cycle()
            assert await rows(writer, "SELECT id, status, active, removed_at FROM agents ORDER BY key") == [
                ("a", "busy", True, None), ("b", "idle", False, 110.0)]  # fmt: skip
            assert await rows(writer, "SELECT message_count, first_message_at FROM communication_links") == [(2, 101.0)]
            assert writer.available and not writer.spool

    asyncio.run(go())


def test_an_agent_that_left_and_came_back_in_one_batch_is_active(tmp_path: Path, metrics: Metrics) -> None:
    async def go() -> None:
        async with migrated(DbSettings(tmp_path)) as db:
            writer = writer_for(db, tmp_path, metrics)
            writer.submit([seen(1, "a"), AgentGone(1, 101.0), seen(1, "a", "busy", 102.0)])
            await writer.cycle()
            assert await rows(writer, "SELECT status, active FROM agents") == [("busy", True)]

    asyncio.run(go())


def test_records_go_to_the_spool_while_the_database_is_locked_and_in_after(tmp_path: Path, metrics: Metrics) -> None:
    async def go() -> None:
        async with migrated(DbSettings(tmp_path, store_timeout_s=0.2)) as db:
            writer = writer_for(db, tmp_path, metrics)
            lock = sqlite3.connect(tmp_path / "visionflow.db", isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")  # another process holding the write lock: every write waits, then fails
            try:
                writer.submit([seen(1, "a"), StatusChanged(1, 100.0, "idle")])
                barrier = writer.barrier()
                await writer.cycle()
                assert barrier.done() and barrier.exception() is None  # acknowledged from the spool
                assert not writer.available and "locked" in (writer.error or "")
                assert len(writer.spool) == 2 and list((tmp_path / "spool").glob("*.jsonl"))
                writer.submit([seen(2, "b")])  # behind the spool, in order
                await writer.cycle()
                assert len(writer.spool) == 3
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            await writer.cycle()
            assert writer.available and len(writer.spool) == 0
            assert await rows(writer, "SELECT id FROM agents ORDER BY key") == [("a",), ("b",)]
            assert await rows(writer, "SELECT status FROM agent_status_history") == [("idle",)]
            assert metrics.errors.labels("store")._value.get() >= 1

    asyncio.run(go())


def sample(t: float, xyz: list[list[float]], keys: list[int] | None = None) -> PositionSample:
    n = len(xyz)
    ids = np.array([2**31 + i for i in range(n)], dtype=np.uint32)
    pos = np.array(xyz, dtype=np.float32)
    return PositionSample(t, np.array(keys or list(range(1, n + 1)), dtype=np.int64), ids, pos, pos * 0.1)


def test_positions_are_written_for_nodes_that_moved_and_all_of_them_at_a_keyframe(
    db_settings: DbSettings, metrics: Metrics
) -> None:
    async def go() -> None:
        async with migrated(db_settings) as db:
            writer = writer_for(db, db_settings.data_dir, metrics, WriterConfig(keyframe_s=10.0, retry_min_s=0.0))
            base = 1_800_000_000.0  # ahead of the clock: inside the retention
            writer.offer(sample(base, [[0, 0, 0], [1, 1, 1], [2, 2, 2]], keys=[1, 2, 0]))  # node 3 is not stored
            writer.offer(sample(base + 1, [[0, 0, 0.5], [1, 1, 1.001], [2, 2, 9]], keys=[1, 2, 0]))
            writer.offer(sample(base + 11, [[0, 0, 0.5], [1, 1, 1], [2, 2, 2]], keys=[1, 2, 0]))
            await writer.cycle()
            got = await rows(writer, "SELECT agent_key, t - 1800000000, z FROM agent_positions ORDER BY t, agent_key")
            assert got == [(1, 0.0, 0.0), (2, 0.0, 1.0), (1, 1.0, 0.5), (1, 11.0, 0.5), (2, 11.0, 1.0)]

    asyncio.run(go())


def test_samples_beyond_the_queue_bound_are_dropped_oldest_first_and_counted(tmp_path: Path, metrics: Metrics) -> None:
    async def go() -> None:
        async with migrated(DbSettings(tmp_path)) as db:
            writer = writer_for(db, tmp_path, metrics, WriterConfig(queue_rows=1000, retry_min_s=0.0))
            now = time.time()  # within the retention, or the cycle's maintenance deletes the rows
            for i in range(5):
                writer.offer(sample(now + i, [[float(i), 0, 0]] * 400, keys=list(range(1, 401))))
            assert writer.depth() == (0, 800)  # two samples kept of five
            await writer.cycle()
            assert metrics.store_dropped.labels("positions")._value.get() == 1200
            assert await rows(writer, "SELECT DISTINCT t FROM agent_positions ORDER BY t") == [(now + 3,), (now + 4,)]

    asyncio.run(go())


def test_a_record_the_database_refuses_is_set_aside_and_the_rest_written(
    tmp_path: Path, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = agents_repo.save

    async def refuse_poison(conn: Any, records: Any) -> None:
        if any(getattr(r, "id", "") == "poison" for r in records):
            raise IntegrityError("INSERT", {}, Exception("refused"))
        await real(conn, records)

    monkeypatch.setattr(agents_repo, "save", refuse_poison)

    async def go() -> None:
        async with migrated(DbSettings(tmp_path)) as db:
            writer = writer_for(db, tmp_path, metrics)
            writer.submit([seen(1, "a"), seen(2, "poison"), seen(3, "c")])
            await writer.cycle()
            assert await rows(writer, "SELECT id FROM agents ORDER BY key") == [("a",), ("c",)]
            assert writer.refused == 1 and metrics.store_dropped.labels("refused")._value.get() == 1
            assert writer.available and not writer.spool

    asyncio.run(go())


def test_position_samples_wait_while_the_database_is_away(tmp_path: Path, metrics: Metrics) -> None:
    async def go() -> None:
        async with migrated(DbSettings(tmp_path, store_timeout_s=0.2)) as db:
            writer = writer_for(db, tmp_path, metrics)
            lock = sqlite3.connect(tmp_path / "visionflow.db", isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            try:
                writer.offer(sample(time.time(), [[1, 2, 3]]))
                await writer.cycle()
                assert not writer.available and writer.depth() == (0, 1)
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            await writer.cycle()
            assert writer.depth() == (0, 0) and await rows(writer, "SELECT x, y, z FROM agent_positions") == [
                (1.0, 2.0, 3.0)]  # fmt: skip

    asyncio.run(go())
