"""The writer: takes records off a queue in batches and writes them, in its own thread, never on the tick.

The server's event loop only appends to the queue (a lock and a deque) and, for a push batch,
awaits a *barrier*: a future resolved once everything queued before it is durable. The writer
thread runs its own event loop and its own connection pool, takes everything waiting as one
batch (records that arrive during a write form the next one: group commit), and writes it in
one transaction. So acknowledging a push costs a commit shared with every batch that arrived
meanwhile, and the 60 Hz loop never waits on the database.

Two kinds of things wait in the queue:

* **Records** (agents, statuses, departures, links, parameter sets, alerts) are never dropped.
  When the database fails (or a write overruns ``timeout_s``) the batch goes to the spool, a
  local append-only file that is fsynced before its barrier resolves, and every later record
  follows it there until the spool has been replayed into the database, so order holds.
* **Samples** (positions, KPI rows) are held while the database is away, bounded by
  ``queue_rows`` position rows; past that the oldest are dropped and counted. Positions are
  written only for nodes that moved more than ``move_threshold`` since their last written
  row, plus every node once per ``keyframe_s``.

A batch the database refuses outright (not unavailable: a constraint or a value it rejects)
is retried a record at a time and only the refused records are dropped, logged and counted,
so one bad record cannot block the spool behind it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.observability.logging import RateLimitedLog, log_event
from visionflow.observability.metrics import Metrics
from visionflow.store import partitions
from visionflow.store.database import Database
from visionflow.store.partitions import Retention
from visionflow.store.records import (
    AgentGone,
    AgentSeen,
    AlertSaved,
    Durable,
    KpiSample,
    LinkSeen,
    ParamsSaved,
    PositionSample,
    StatusChanged,
)
from visionflow.store.repos import agents, alerts, kpi, links, params, positions
from visionflow.store.spool import Spool
from visionflow.swarm import ID_MASK

__all__ = ["StoreWriter", "WriterConfig", "describe", "write_records"]

log = logging.getLogger("visionflow.store")

T = TypeVar("T")

REFUSED = (IntegrityError, DataError, ProgrammingError)
"""Errors that mean the database will not take this data (anything else: it could not take it now)."""


@dataclass(frozen=True, slots=True)
class WriterConfig:
    queue_rows: int = 500_000
    """Position rows held while the database is away or slow; the oldest go first beyond it."""
    max_batch: int = 20_000
    """Records written in one transaction at most."""
    move_threshold: float = 0.01
    keyframe_s: float = 3600.0
    """Every node is written at least this often, moved or not, so every agent has a recent position."""
    timeout_s: float = 5.0
    """A write that takes longer counts as failed: its records go to the spool."""
    retry_min_s: float = 0.5
    retry_max_s: float = 5.0
    maintenance_every_s: float = 3600.0
    """How often partitions are created ahead and positions past retention removed."""
    linger_s: float = 0.25
    """Records nobody waits for (no barrier behind them) are held this long, so that many share a commit."""


async def write_records(conn: AsyncConnection, records: Sequence[Durable]) -> None:
    """Write durable records in one transaction's worth of statements, keeping their order where it matters.

    Agents go first (a status or link names an agent written in the same batch or before), and
    an agent's departures and returns within the batch keep their order (``agents.save``).
    """
    people = [r for r in records if isinstance(r, AgentSeen | AgentGone)]
    await agents.save(conn, people)
    await agents.save_statuses(conn, [r for r in records if isinstance(r, StatusChanged)])
    await links.save(conn, [r for r in records if isinstance(r, LinkSeen)])
    await params.save(conn, [r for r in records if isinstance(r, ParamsSaved)])
    await alerts.save(conn, [r for r in records if isinstance(r, AlertSaved)])


@dataclass(slots=True)
class _Barrier:
    future: concurrent.futures.Future[None]


class _Inbox:
    """What the server hands over, guarded by one lock; the only state both threads touch."""

    def __init__(self, queue_rows: int) -> None:
        self.lock = threading.Lock()
        self.items: deque[Durable | _Barrier] = deque()
        self.records = 0
        self.samples: deque[PositionSample] = deque()
        self.sample_rows = 0
        self.kpi: deque[KpiSample] = deque(maxlen=1440)
        self.queue_rows = queue_rows
        self.dropped_rows = 0
        self.dropped_kpi = 0
        self.wake: Callable[[], None] | None = None
        self.wake_pending = False
        self.urgent = False
        """A barrier is waiting: write now rather than linger."""

    def _notify(self, urgent: bool = False) -> None:
        """Wake the writer once per batch of appends (a wake-up costs a write to the loop's self-pipe).

        A lingering writer is woken again when something urgent (a barrier) arrives.
        """
        if self.wake is None:
            return
        if urgent and not self.urgent:
            self.urgent = True
            self.wake_pending = True
            self.wake()
        elif not self.wake_pending:
            self.wake_pending = True
            self.wake()


class StoreWriter:
    """Owns the write side of the store; ``run`` executes in the store thread's event loop."""

    def __init__(
        self,
        db: Database,
        spool: Spool,
        retention: Retention,
        metrics: Metrics,
        config: WriterConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.spool = spool
        self.retention = retention
        self.metrics = metrics
        self.config = config or WriterConfig()
        self._clock = clock
        self._inbox = _Inbox(self.config.queue_rows)
        self._event: asyncio.Event | None = None
        self._stopping = False
        # Health, read by any thread (plain attribute reads and writes).
        self.available = True
        self.error: str | None = None
        self.down_since: float | None = None
        self.last_write_at: float | None = None
        self.refused = 0
        self._retry_at = 0.0
        self._retry_s = self.config.retry_min_s
        self._next_maintenance = 0.0
        # Positions written last, by node index: what "moved" is measured against.
        self._last_key = np.zeros(0, dtype=np.int64)
        self._last_xyz = np.zeros((0, 3), dtype=np.float32)
        self._last_keyframe = -np.inf
        self._fail_log = RateLimitedLog(log, "ERROR", "store_write_failed", category="system", interval_s=10.0)
        self._drop_log = RateLimitedLog(log, "WARN", "store_samples_dropped", category="performance", interval_s=10.0)

    # ------------------------------------------------------------------ any thread
    def submit(self, records: Iterable[Durable]) -> None:
        """Queue durable records (never dropped)."""
        inbox = self._inbox
        with inbox.lock:
            before = len(inbox.items)
            inbox.items.extend(records)
            inbox.records += len(inbox.items) - before
            inbox._notify()

    def barrier(self) -> concurrent.futures.Future[None]:
        """A future resolved once every record submitted before this call is committed or spooled."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        inbox = self._inbox
        with inbox.lock:
            if not inbox.items and not self._writing:
                future.set_result(None)
                return future
            inbox.items.append(_Barrier(future))
            inbox._notify(urgent=True)
        return future

    _writing = False
    """True while a batch taken from the inbox is being written (set by the writer under the lock)."""

    def offer(self, sample: PositionSample) -> None:
        """Queue a position sample; the oldest are dropped beyond ``queue_rows`` rows."""
        inbox = self._inbox
        with inbox.lock:
            inbox.samples.append(sample)
            inbox.sample_rows += len(sample)
            while inbox.sample_rows > inbox.queue_rows and len(inbox.samples) > 1:
                old = inbox.samples.popleft()
                inbox.sample_rows -= len(old)
                inbox.dropped_rows += len(old)
            inbox._notify()

    def offer_kpi(self, sample: KpiSample) -> None:
        inbox = self._inbox
        with inbox.lock:
            if len(inbox.kpi) == inbox.kpi.maxlen:
                inbox.dropped_kpi += 1
            inbox.kpi.append(sample)
            inbox._notify()

    def depth(self) -> tuple[int, int]:
        """(records, position rows) waiting in the queue."""
        inbox = self._inbox
        return inbox.records, inbox.sample_rows

    @property
    def spooled(self) -> int:
        return len(self.spool)

    # ----------------------------------------------------------- writer thread
    async def run(self, stop: asyncio.Event) -> None:
        """Write until ``stop`` is set, then write (or spool) what is left and return."""
        loop = asyncio.get_running_loop()
        self._event = event = asyncio.Event()
        self._inbox.wake = lambda: _wake(loop, event)
        while True:
            await self._wait(event, stop, 1.0)
            if not stop.is_set() and not self._inbox.urgent and self.config.linger_s > 0:
                with self._inbox.lock:
                    self._inbox.wake_pending = False  # let a barrier wake us early
                await self._wait(event, stop, self.config.linger_s, urgent_only=True)
                event.clear()
            if stop.is_set():
                break
            await self.cycle()
        self._stopping = True
        await self.cycle()  # the last records: written, or spooled when the database is away
        self._fail_barriers_left()

    async def _wait(self, event: asyncio.Event, stop: asyncio.Event, for_s: float, urgent_only: bool = False) -> None:
        """Until woken (with ``urgent_only``: until a barrier arrives), stopped, or ``for_s`` seconds pass."""
        deadline = time.monotonic() + for_s
        while not stop.is_set():
            if urgent_only and self._inbox.urgent:
                return
            if not urgent_only and event.is_set():
                event.clear()
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if urgent_only:
                event.clear()  # ordinary wake-ups wait out the linger
            waiter = asyncio.ensure_future(event.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def cycle(self) -> None:
        """One round: replay the spool, write waiting records, then samples, then maintenance."""
        with self._inbox.lock:
            self._inbox.wake_pending = False
            self._inbox.urgent = False
        self._count_drops()
        if self.spool and self._may_try():
            await self._replay_spool()
        while True:
            batch, barriers = self._take_records()
            if not batch and not barriers:
                break
            try:
                if batch:
                    await self._write_or_spool(batch)
            finally:
                with self._inbox.lock:
                    self._writing = False
                for barrier in barriers:
                    barrier.future.set_result(None)
        if self._may_try() and not self.spool:
            await self._write_samples()
        if self._may_try() and self._clock() >= self._next_maintenance:
            await self.maintain()

    def _take_records(self) -> tuple[list[Durable], list[_Barrier]]:
        inbox = self._inbox
        batch: list[Durable] = []
        barriers: list[_Barrier] = []
        with inbox.lock:
            while inbox.items and len(batch) < self.config.max_batch:
                item = inbox.items.popleft()
                if isinstance(item, _Barrier):
                    barriers.append(item)
                else:
                    batch.append(item)
            inbox.records -= len(batch)
            # Barriers right behind the batch belong to it.
            while inbox.items and isinstance(inbox.items[0], _Barrier):
                barriers.append(inbox.items.popleft())  # type: ignore[arg-type]
            self._writing = bool(batch)
        return batch, barriers

    def _may_try(self) -> bool:
        return self.available or self._clock() >= self._retry_at or self._stopping

    async def _timed(self, kind: str, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction within the deadline, timing it into the write histogram."""
        start = time.perf_counter()

        async def go() -> T:
            async with self.db.engine.begin() as conn:
                return await work(conn)

        result = await asyncio.wait_for(go(), timeout=2 * self.config.timeout_s)
        self.metrics.store_write_duration.labels(kind).observe(time.perf_counter() - start)
        return result

    async def _write_or_spool(self, batch: list[Durable]) -> None:
        if not self.spool and self._may_try():
            try:
                await self._timed("records", lambda conn: write_records(conn, batch))
                self._succeeded()
                return
            except REFUSED as exc:
                await self._write_one_by_one(batch, exc)
                return
            except Exception as exc:  # the database is away, slow or broken: keep the records locally
                self._failed(exc)
        self.spool.append(batch)

    async def _write_one_by_one(self, batch: list[Durable], first: Exception) -> None:
        """Find the records the database refuses; write the rest, spooling them if it goes away meanwhile."""
        log_event(log, "WARN", "store_batch_refused", category="system", records=len(batch),
                  error=describe(first))  # fmt: skip
        for i, record in enumerate(batch):
            try:
                await self._timed("records", lambda conn, r=record: write_records(conn, [r]))  # type: ignore[misc]
            except REFUSED as exc:
                self.refused += 1
                self.metrics.store_dropped.labels("refused").inc()
                log_event(log, "ERROR", "store_record_refused", category="system", kind=record.kind,
                          error=describe(exc))  # fmt: skip
            except Exception as exc:
                self._failed(exc)
                self.spool.append(batch[i:])
                return
        self._succeeded()

    async def _replay_spool(self) -> None:
        """Write spooled segments into the database, oldest first, deleting each once committed."""
        while (path := self.spool.oldest()) is not None:
            records = self.spool.read(path)
            try:
                for first in range(0, len(records), self.config.max_batch):
                    chunk = records[first : first + self.config.max_batch]
                    await self._timed("spool", lambda conn, c=chunk: write_records(conn, c))  # type: ignore[misc]
            except REFUSED as exc:
                await self._write_one_by_one(records, exc)
                if not self.available:
                    return  # went away meanwhile: the rest was spooled again, behind this segment
            except Exception as exc:
                self._failed(exc)
                return
            self.spool.remove(path)
            log_event(log, "INFO", "store_spool_replayed", category="system", records=len(records),
                      left=len(self.spool))  # fmt: skip
        self._succeeded()

    async def _write_samples(self) -> None:
        inbox = self._inbox
        with inbox.lock:
            samples = list(inbox.samples)
            inbox.samples.clear()
            rows_taken = inbox.sample_rows
            inbox.sample_rows = 0
        if samples:
            rows, commit = self._position_rows(samples)
            try:
                if rows:
                    # Partitions in a transaction of their own: committed before anything is written into them.
                    days = {rows[0][2], rows[-1][2]}
                    await self._timed("maintenance", lambda conn: self.retention.ensure(conn, days))
                    await self._timed("positions", lambda conn: positions.save(conn, rows))
                commit()
                self._succeeded()
            except Exception as exc:
                self._failed(exc)
                self.retention.forget()  # a partition may have been dropped behind our back: ask again next time
                with inbox.lock:  # back at the front, then trimmed to the bound as usual
                    inbox.samples.extendleft(reversed(samples))
                    inbox.sample_rows += rows_taken
                    while inbox.sample_rows > inbox.queue_rows and len(inbox.samples) > 1:
                        old = inbox.samples.popleft()
                        inbox.sample_rows -= len(old)
                        inbox.dropped_rows += len(old)
                return
        with inbox.lock:
            kpis = list(inbox.kpi)
        if kpis:
            try:
                await self._timed("kpi", lambda conn: kpi.save(conn, kpis))
            except Exception as exc:
                self._failed(exc)
                return
            with inbox.lock:
                for _ in kpis:
                    inbox.kpi.popleft()

    def _position_rows(self, samples: list[PositionSample]) -> tuple[list[tuple[Any, ...]], Callable[[], None]]:
        """Rows for the nodes that moved in each sample, and the function that records them as written."""
        last_key = self._last_key.copy()
        last_xyz = self._last_xyz.copy()
        keyframe_at = self._last_keyframe
        rows: list[tuple[Any, ...]] = []
        for sample in samples:
            index = (sample.node_ids & ID_MASK).astype(np.int64)
            if len(index) and int(index.max()) >= len(last_key):
                size = max(int(index.max()) + 1, 2 * len(last_key))
                last_key = np.concatenate([last_key, np.zeros(size - len(last_key), np.int64)])
                last_xyz = np.concatenate([last_xyz, np.zeros((size - len(last_xyz), 3), np.float32)])
            if sample.t - keyframe_at >= self.config.keyframe_s:
                chosen: npt.NDArray[np.bool_] = sample.keys > 0
                keyframe_at = sample.t
            else:
                moved = np.abs(sample.positions - last_xyz[index]).max(axis=1, initial=0.0) > self.config.move_threshold
                chosen = (sample.keys > 0) & (moved | (last_key[index] != sample.keys))
            if not chosen.any():
                continue
            where = index[chosen]
            last_key[where] = sample.keys[chosen]
            last_xyz[where] = sample.positions[chosen]
            rows.extend(_rows(sample, chosen))

        def commit() -> None:
            self._last_key, self._last_xyz, self._last_keyframe = last_key, last_xyz, keyframe_at

        return rows, commit

    async def maintain(self) -> dict[str, Any]:
        """Create partitions ahead and remove positions past retention (run hourly, and at start)."""
        self._next_maintenance = self._clock() + self.config.maintenance_every_s
        try:
            created = await self._timed("maintenance", self.retention.create_ahead)
            dropped, deleted = await self._timed("maintenance", self.retention.expire)
            batch = deleted
            while batch >= partitions.DELETE_BATCH:  # SQLite: a batch at a time, the lock let go in between
                _, batch = await self._timed("maintenance", self.retention.expire)
                deleted += batch
        except Exception as exc:
            self._failed(exc)
            return {"error": describe(exc)}
        if created or dropped or deleted:
            log_event(log, "INFO", "store_retention", category="system", partitions_created=created,
                      partitions_dropped=dropped, rows_deleted=deleted)  # fmt: skip
        return {"partitions_created": created, "partitions_dropped": dropped, "rows_deleted": deleted}

    # ------------------------------------------------------------------ health
    def _succeeded(self) -> None:
        self.last_write_at = self._clock()
        if not self.available:
            log_event(log, "INFO", "store_recovered", category="system", down_s=round(self._clock() -
                      (self.down_since or self._clock()), 3), spooled=len(self.spool))  # fmt: skip
        self.available = True
        self.error = None
        self.down_since = None
        self._retry_s = self.config.retry_min_s

    def _failed(self, exc: BaseException) -> None:
        now = self._clock()
        self.error = describe(exc)
        if self.available:
            self.down_since = now
            log_event(log, "ERROR", "store_unavailable", category="system", error=self.error)
        else:
            self._fail_log(error=self.error)
        self.available = False
        self._retry_at = now + self._retry_s
        self._retry_s = min(self._retry_s * 2, self.config.retry_max_s)
        self.metrics.errors.labels("store").inc()

    def _count_drops(self) -> None:
        inbox = self._inbox
        with inbox.lock:
            rows, kpis = inbox.dropped_rows, inbox.dropped_kpi
            inbox.dropped_rows = inbox.dropped_kpi = 0
        if rows:
            self.metrics.store_dropped.labels("positions").inc(rows)
        if kpis:
            self.metrics.store_dropped.labels("kpi").inc(kpis)
        if rows or kpis:
            self._drop_log(position_rows=rows, kpi_samples=kpis, error=self.error)

    def _fail_barriers_left(self) -> None:
        """After the last cycle nothing should wait; anything that does is told it was not saved."""
        with self._inbox.lock:
            left = [item for item in self._inbox.items if isinstance(item, _Barrier)]
        for barrier in left:
            if not barrier.future.done():
                barrier.future.set_exception(RuntimeError("the store stopped before this batch was saved"))


def _wake(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    loop.call_soon_threadsafe(event.set)


def _rows(sample: PositionSample, chosen: npt.NDArray[np.bool_]) -> Iterable[tuple[Any, ...]]:
    keys = sample.keys[chosen].tolist()
    nodes = sample.node_ids[chosen].tolist()
    xyz = sample.positions[chosen].tolist()
    vxyz = sample.velocities[chosen].tolist()
    t = sample.t
    return [(k, n, t, p[0], p[1], p[2], v[0], v[1], v[2]) for k, n, p, v in zip(keys, nodes, xyz, vxyz, strict=True)]


def describe(exc: BaseException) -> str:
    """One line naming the error, without the SQL or parameters SQLAlchemy appends."""
    orig = getattr(exc, "orig", None)
    inner = orig if orig is not None else exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {text}"[:300] if text else type(inner).__name__
