"""The store as the server sees it: one object that opens the database, writes, reads and reports.

Everything that touches the database runs in one thread of the store's own, with its own
event loop and connection pool: the writer, and every read the API or a replay asks for
(``read`` hands a coroutine over and awaits its result). The server's event loop, which also
runs the 60 Hz tick, only queues records and awaits futures.

The database must be reachable at start (migrations run then, and the swarm is restored
from it); after that an outage only degrades the store (see ``writer``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.observability.logging import log_event
from visionflow.observability.metrics import Metrics
from visionflow.store import migrate
from visionflow.store.database import Database, DatabaseSettings, connect
from visionflow.store.partitions import Retention
from visionflow.store.records import Durable, KpiSample, PositionSample
from visionflow.store.restore import Restored, load
from visionflow.store.spool import Spool
from visionflow.store.writer import StoreWriter, WriterConfig

__all__ = ["Store", "StoreConfig", "StoreSettings", "open_store"]

log = logging.getLogger("visionflow.store")

T = TypeVar("T")


class StoreSettings(DatabaseSettings, Protocol):
    """The settings the store reads (``server.settings.Settings`` has them all)."""

    @property
    def positions_retention_days(self) -> float: ...
    @property
    def store_queue_rows(self) -> int: ...
    @property
    def delta_threshold(self) -> float: ...
    @property
    def history_keyframe_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class StoreConfig:
    data_dir: Path
    database_url: str | None = None
    store_timeout_s: float = 5.0
    positions_retention_days: float = 7.0
    writer: WriterConfig = field(default_factory=WriterConfig)

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> StoreConfig:
        writer = WriterConfig(queue_rows=settings.store_queue_rows, move_threshold=settings.delta_threshold,
                              keyframe_s=settings.history_keyframe_s, timeout_s=settings.store_timeout_s)  # fmt: skip
        return cls(settings.data_dir, settings.database_url, settings.store_timeout_s,
                   settings.positions_retention_days, writer)  # fmt: skip


class Store:
    """The database, its writer and its thread."""

    def __init__(self, config: StoreConfig, metrics: Metrics, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.metrics = metrics
        self.db: Database = connect(config)
        self.spool = Spool(Path(config.data_dir) / "spool")
        self.retention = Retention(config.positions_retention_days, clock=clock)
        self.writer = StoreWriter(self.db, self.spool, self.retention, metrics, config.writer, clock=clock)
        self.revision: str | None = None
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._run: concurrent.futures.Future[None] | None = None
        metrics.store_queue_depth.bind(self._depth_samples)

    # --------------------------------------------------------------- lifecycle
    async def open(self) -> None:
        """Start the thread, migrate the database and replay what the spool holds from last time.

        Raises whatever the database raised when it cannot be reached or migrated.
        """
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, name="visionflow-store", daemon=True)
        self._thread.start()
        ready.wait()
        try:
            await self.call(self._open_here)
        except BaseException:
            await self._shut_down_thread()
            raise
        log_event(log, "INFO", "store_opened", category="system", backend=self.db.backend, url=self.db.display_url,
                  revision=self.revision, spooled=len(self.spool))  # fmt: skip

    async def _open_here(self) -> None:
        self.revision = await migrate.upgrade(self.db)
        async with self.db.engine.begin() as conn:
            await self.retention.create_ahead(conn)
        if self.spool:
            await self.writer.cycle()  # replays the spool, so the restore that follows sees it all
            if self.spool:
                raise RuntimeError(f"the spool in {self.spool.directory} could not be replayed: {self.writer.error}")
        self._stop = asyncio.Event()
        self._run = asyncio.run_coroutine_threadsafe(self.writer.run(self._stop), self._require_loop())

    async def close(self) -> None:
        """Write (or spool) everything queued, then stop the thread."""
        if self._loop is None:
            return
        if self._stop is not None and self._run is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(self._run)
        await self._shut_down_thread()
        log_event(log, "INFO", "store_closed", category="system", spooled=len(self.spool))

    async def _shut_down_thread(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.db.dispose(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        self._loop = self._thread = None

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the store is not open")
        return self._loop

    # ------------------------------------------------------------------ calls
    def call(self, work: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Run ``work()`` in the store's thread; await the result from the caller's loop."""
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(work), self._require_loop())
        return asyncio.wrap_future(future)

    async def read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work(connection)`` on a pooled connection in the store's thread."""

        async def go() -> T:
            async with self.db.engine.connect() as conn:
                return await work(conn)

        return await self.call(go)

    async def restore(self, *, alerts_kept: int, link_decay_s: float, link_min_intensity: float) -> Restored:
        now = self._clock()
        lookback = self.config.positions_retention_days * 86_400.0

        def work(conn: AsyncConnection) -> Awaitable[Restored]:
            return load(conn, now=now, alerts_kept=alerts_kept, link_decay_s=link_decay_s,
                        link_min_intensity=link_min_intensity, lookback_s=lookback)  # fmt: skip

        return await self.read(work)

    # ----------------------------------------------------------------- writes
    def submit(self, records: Iterable[Durable]) -> None:
        self.writer.submit(records)

    async def saved(self) -> None:
        """Return once everything submitted so far is committed or spooled (fsynced)."""
        await asyncio.wrap_future(self.writer.barrier())

    def offer(self, sample: PositionSample) -> None:
        self.writer.offer(sample)

    def offer_kpi(self, sample: KpiSample) -> None:
        self.writer.offer_kpi(sample)

    # ----------------------------------------------------------------- health
    def _depth_samples(self) -> list[tuple[tuple[str], float]]:
        records, rows = self.writer.depth()
        return [(("records",), records), (("position_rows",), rows), (("spooled",), len(self.spool))]

    def health(self) -> dict[str, Any]:
        """The ``store`` component of ``/api/health``."""
        writer = self.writer
        records, rows = writer.depth()
        now = self._clock()
        reasons = []
        if not writer.available:
            since = writer.down_since or now
            reasons.append(f"database unavailable for {now - since:.0f} s ({writer.error})")
        if len(self.spool):
            reasons.append(f"{len(self.spool)} records spooled, waiting for the database")
        if rows > writer.config.queue_rows // 2:
            reasons.append(f"{rows} position rows queued (limit {writer.config.queue_rows})")
        return {
            "status": "degraded" if reasons else "ok",
            "reason": "; ".join(reasons) or None,
            "backend": self.db.backend,
            "url": self.db.display_url,
            "revision": self.revision,
            "queue": {"records": records, "position_rows": rows},
            "spooled": len(self.spool),
            "refused": writer.refused,
            "last_write_age_s": None if writer.last_write_at is None else round(now - writer.last_write_at, 3),
        }


async def _as_coroutine(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


async def open_store(settings: StoreSettings, metrics: Metrics, *, clock: Callable[[], float] = time.time) -> Store:
    """Open the store the settings describe: connect, migrate, replay the spool, start the writer."""
    store = Store(StoreConfig.from_settings(settings), metrics, clock=clock)
    await store.open()
    return store
