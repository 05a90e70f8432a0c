"""``SwarmReporter``: the reporter for threaded code, sending from one background thread."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

from visionflow.client._api import RejectedCallback, ReporterApi, UnmatchedCallback
from visionflow.client._core import Kind, ReporterCore
from visionflow.client._http import HttpTransport, TransportError

__all__ = ["SwarmReporter"]

log = logging.getLogger("visionflow.client")


class SwarmReporter(ReporterApi):
    """Sends what is queued within ``flush_interval`` seconds of the first queued item, in batches.

    Calls return at once; one daemon thread posts, retries with capped back-off, notices
    server restarts and re-sends what the server lost (see ``visionflow.client``).
    Callbacks run on that thread.
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
        self._cond = threading.Condition()
        self._closed = False
        self._flushing = 0
        self._thread = threading.Thread(target=self._run, name="visionflow-reporter", daemon=True)
        self._thread.start()

    def _put(self, kind: Kind, item: Any) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the reporter is closed")
            if self._core.put(kind, item, time.monotonic()) or len(self._core.queue) >= self._core.max_batch:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Send now and wait until everything queued so far is acknowledged or refused; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while not self._core.idle:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Send what is queued (waiting at most ``timeout``), then stop; what is left is counted in the log."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        left = self._core.pending
        if left:
            log.warning("visionflow reporter closed with %d item(s) unsent: %s", left, self._core.stats.last_error)

    def __enter__(self) -> SwarmReporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self) -> None:
        core = self._core
        try:
            while True:
                with self._cond:
                    while not self._closed and (due := core.due_in(time.monotonic(), self.flush_interval,
                                                                   self._flushing > 0)) != 0:  # fmt: skip
                        self._cond.wait(due)
                    if self._closed:
                        return
                    request = core.take()
                if request is None:
                    continue
                try:
                    status, body = self._transport.post(request.body())
                except TransportError as exc:
                    with self._cond:
                        step = core.failed(request, f"{type(exc).__name__}: {exc}")
                else:
                    with self._cond:
                        step = core.answered(request, status, body)
                with self._cond:
                    self._cond.notify_all()
                self._tell(step)
                if step.delay_s:
                    self._pause(step.delay_s)
        finally:
            self._transport.close()

    def _pause(self, seconds: float) -> None:
        """Back off for ``seconds`` (new items do not cut it short; closing does)."""
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._closed and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
