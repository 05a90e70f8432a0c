"""Outbound HTTP for the alert playbook: health probes and escalation posts, and nothing else.

Only URLs from the operator's settings reach this module; it still refuses anything but an
absolute ``http``/``https`` URL with a host. Every request runs on a small thread pool of its
own (never the event loop's default executor, which the physics step uses), under a deadline
that covers waiting for a thread, resolving, connecting and reading the status line. When the
deadline passes, the request's socket is shut down, so a peer that connects and then says nothing
frees its thread then rather than one socket timeout per header line later.

``http.client`` is used on purpose: it never follows a redirect (a 3xx is reported as the
status it is), reads no proxy settings from the environment, and the response body is never
read, so nothing a probed service answers can travel further than its status code.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["AlertHTTP", "Outcome", "display_url", "validate_url"]

_THREADS = 2


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request came to: an HTTP status, or an error of our own wording."""

    status: int | None
    ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def validate_url(url: str) -> str:
    """``url`` unchanged when it is absolute ``http``/``https`` with a host; ValueError otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"URL {url!r} must be absolute, http:// or https://, with a host")
    if parts.fragment:
        raise ValueError(f"URL {url!r} must not have a #fragment")
    return url


def display_url(url: str) -> str:
    """``url`` without credentials or query, fit for the alert list and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _Exchange:
    """One request on one thread; ``abort`` shuts its socket from another thread."""

    def __init__(self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout_s: float) -> None:
        self.method = method
        self.url = url
        self.body = body
        self.headers = headers
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        self._aborted = False

    def run(self) -> Outcome:
        started = time.perf_counter()
        parts = urlsplit(self.url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout_s, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout_s)
        with self._lock:
            if self._aborted:
                return Outcome(None, 0.0, "timed out")
            self._connection = connection
        try:
            connection.connect()
            if self._aborted:  # the deadline passed while connecting: send nothing
                return Outcome(None, _ms_since(started), "timed out")
            connection.request(self.method, target, body=self.body, headers=self.headers)
            response = connection.getresponse()
            status = int(response.status)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            error = "timed out" if self._aborted or isinstance(exc, TimeoutError) else _describe(exc)
            return Outcome(None, _ms_since(started), error)
        finally:
            connection.close()
        refused = f"answered {status}; redirects are not followed" if 300 <= status < 400 else None
        return Outcome(status, _ms_since(started), refused)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the thread
                sock.shutdown(socket.SHUT_RDWR)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _describe(exc: BaseException) -> str:
    """The error's kind and the OS's words for it; never text the peer sent."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


class AlertHTTP:
    """The playbook's own HTTP client: two threads, one deadline per request."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="visionflow-alert-http")

    async def get(self, url: str) -> Outcome:
        """The status of ``GET url``; the body is not read."""
        return await self._send(_Exchange("GET", validate_url(url), None, {"Accept": "application/json"},
                                          self.timeout_s))  # fmt: skip

    async def post_json(self, url: str, body: bytes) -> Outcome:
        """The status of ``POST url`` with a JSON ``body``; the answer's body is not read."""
        headers = {"Content-Type": "application/json"}
        return await self._send(_Exchange("POST", validate_url(url), body, headers, self.timeout_s))

    async def _send(self, exchange: _Exchange) -> Outcome:
        started = time.perf_counter()
        future = asyncio.get_running_loop().run_in_executor(self._pool, exchange.run)
        try:
            return await asyncio.wait_for(future, timeout=self.timeout_s)
        except TimeoutError:
            exchange.abort()  # wait_for cancelled the future: a queued request never starts
            return Outcome(None, _ms_since(started), f"timed out after {self.timeout_s:g} s")

    def close(self) -> None:
        """Stop taking requests; threads end once their current request does (its deadline bounds it)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
