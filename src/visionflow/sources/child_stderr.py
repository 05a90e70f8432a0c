"""What a stdio MCP orchestrator writes to stderr: into our log (rate-limited) and kept for health.

The SDK hands the child a file for its stderr and never reads it back, so a child that
dies with "Cannot find module" leaves only ``Connection closed`` behind. Here each session
gets a pipe instead: the event loop reads it as lines arrive, logs them (at most a few a
second, the rest counted), and keeps the last ``keep`` lines for ``/api/health`` and the
connect error. Our copy of the write end is closed as soon as the child runs, so the pipe
ends when the child (and anything it started) exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Iterator
from typing import TextIO

from visionflow.observability.logging import RateLimitedLog

__all__ = ["ChildStderr"]

log = logging.getLogger("visionflow.sources.mcp")

MAX_LINE_CHARS = 500
"""Longer lines are cut (a minified stack trace can be one line of megabytes)."""


class ChildStderr:
    """Captures one child process's stderr at a time; ``lines()`` are the last ones seen."""

    def __init__(self, *, keep: int = 20, lines_per_second: float = 5.0, orchestrator: str = "") -> None:
        self._lines: deque[str] = deque(maxlen=keep)
        self._partial = b""
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.orchestrator = orchestrator
        self._log = RateLimitedLog(log, "INFO", "mcp_stderr", category="system", interval_s=1.0 / lines_per_second)

    def lines(self) -> list[str]:
        """The last lines the child wrote, oldest first (read up to now)."""
        self._read_available()
        return list(self._lines)

    @contextlib.contextmanager
    def session(self) -> Iterator[TextIO]:
        """A file to give the child as its stderr; close it once the child runs (closing twice is fine).

        Reading goes on until the child and its descendants have closed the pipe.
        """
        self._stop()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._fd = read_fd
        self._partial = b""
        try:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(read_fd, self._read_available)
        except (RuntimeError, NotImplementedError):  # no loop, or one that cannot watch pipes: read on demand
            self._loop = None
        errlog = os.fdopen(write_fd, "w", encoding="utf-8", errors="replace")
        try:
            yield errlog
        finally:
            errlog.close()
            self._read_available()

    def _stop(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(fd)
        os.close(fd)

    def _read_available(self) -> None:
        fd = self._fd
        if fd is None:
            return
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._take(self._partial, final=True)
                self._stop()
                return
            self._take(self._partial + chunk)

    def _take(self, data: bytes, *, final: bool = False) -> None:
        *complete, rest = data.split(b"\n")
        if final and rest:
            complete.append(rest)
            rest = b""
        if len(rest) > MAX_LINE_CHARS * 4:
            complete.append(rest)
            rest = b""
        self._partial = rest
        for raw in complete:
            line = raw.decode("utf-8", errors="replace").rstrip()[:MAX_LINE_CHARS]
            if line:
                self._lines.append(line)
                self._log(line=line, orchestrator=self.orchestrator, lines_not_logged_before=self._log.unlogged)
