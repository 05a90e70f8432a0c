"""``AsyncSwarmReporter``: the reporter for asyncio code, sending from a task on the caller's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from visionflow.client._api import RejectedCallback, ReporterApi, UnmatchedCallback
from visionflow.client._core import Kind, ReporterCore
from visionflow.client._http import HttpTransport, TransportError

__all__ = ["AsyncSwarmReporter"]

log = logging.getLogger("visionflow.client")


class AsyncSwarmReporter(ReporterApi):
    """``SwarmReporter``'s batching and policy for asyncio frameworks; never blocks the loop.

    ``spawn``/``update``/``message``/``finish`` are plain calls that must be made on the
    loop's thread; the first one starts a sender task on the running loop. Each post runs on
    one worker thread of the reporter's own (the standard library has no async HTTP
    client), so a slow server holds that thread, never the loop. Use ``async with``, or
    ``await reporter.aclose()`` at the end. Callbacks run on the loop.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        *,
        token: str | None = None,
        flush_interval: float = 0.05,
        max_batch: int = 1000,
        max_queue: int = 100_000,
        max_links: int = 100_000,
        timeout_s: float = 10.0,
        max_backoff_s: float = 5.0,
        on_rejected: RejectedCallback | None = None,
        on_unmatched: UnmatchedCallback | None = None,
    ) -> None:
        if flush_interval < 0:
            raise ValueError("flush_interval must not be negative")
        self._transport = HttpTransport(url, token=token, timeout_s=timeout_s)
        self._core = ReporterCore(max_batch=max_batch, max_queue=max_queue, max_links=max_links,
                                  max_backoff_s=max_backoff_s)  # fmt: skip
        self.flush_interval = flush_interval
        self._on_rejected = on_rejected
        self._on_unmatched = on_unmatched
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="visionflow-reporter")
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._flushing = 0

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="visionflow-reporter")

    def _put(self, kind: Kind, item: Any) -> None:
        if self._closed:
            raise RuntimeError("the reporter is closed")
        self._start()
        if self._core.put(kind, item, time.monotonic()) or len(self._core.queue) >= self._core.max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Send now and wait until everything queued so far is acknowledged or refused.

        Bound the wait the asyncio way: ``async with asyncio.timeout(5): await reporter.flush()``.
        """
        self._start()
        self._flushing += 1
        self._wake.set()
        try:
            while not self._core.idle:
                self._progress.clear()
                await self._progress.wait()
        finally:
            self._flushing -= 1

    async def aclose(self, grace_s: float | None = 10.0) -> None:
        """Send what is queued (waiting at most ``grace_s``), then stop; what is left is counted in the log."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await self.flush()
            self._closed = True
            self._wake.set()
            done, _ = await asyncio.wait({self._task}, timeout=1.0)
            if not done:  # a post is still waiting for its answer: leave it to its thread
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._transport.close)
        self._executor.shutdown(wait=False)
        left = self._core.pending
        if left:
            log.warning("visionflow reporter closed with %d item(s) unsent: %s", left, self._core.stats.last_error)

    async def __aenter__(self) -> AsyncSwarmReporter:
        self._start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self) -> None:
        core = self._core
        loop = asyncio.get_running_loop()
        while not self._closed:
            due = core.due_in(time.monotonic(), self.flush_interval, self._flushing > 0)
            if due != 0:
                await self._wait(due)
                continue
            request = core.take()
            if request is None:
                continue
            try:
                status, body = await loop.run_in_executor(self._executor, self._transport.post, request.body())
            except TransportError as exc:
                step = core.failed(request, f"{type(exc).__name__}: {exc}")
            else:
                step = core.answered(request, status, body)
            self._progress.set()
            self._tell(step)
            if step.delay_s:
                deadline = time.monotonic() + step.delay_s
                while not self._closed and (left := deadline - time.monotonic()) > 0:
                    await self._wait(left)

    async def _wait(self, seconds: float | None) -> None:
        """Until woken (an item, a flush, closing) or ``seconds`` pass (None: no limit)."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
