"""``SwarmReporter``: report an agent framework's swarm to VisionFlow in three calls.

    reporter = SwarmReporter("http://127.0.0.1:8080")
    reporter.spawn("planner-1", type="coordinator")
    reporter.message("planner-1", "coder-1", nbytes=512)
    reporter.finish("planner-1")

Calls only enqueue and return at once. One background thread sends what has queued as one
``POST /api/bots/update`` batch, in order, retrying failed sends with capped back-off, so a
slow or restarting server never blocks the framework. A batch the server refuses (4xx) is
dropped and counted. ``flush()`` waits until everything queued so far is acknowledged.
It uses only the standard library, so any framework can import it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from visionflow.errors import BatchRejectedError

__all__ = ["ReporterStats", "SwarmReporter"]


@dataclass(slots=True)
class ReporterStats:
    queued: int = 0
    acknowledged: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    last_error: str | None = None


@dataclass(slots=True)
class _Batch:
    agents: list[dict[str, Any]] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.agents) + len(self.remove) + len(self.messages)

    def body(self) -> bytes:
        return json.dumps({"agents": self.agents, "remove": self.remove, "messages": self.messages}).encode()


class SwarmReporter:
    """Batches agent events and sends them to ``POST /api/bots/update`` from a background thread."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        *,
        token: str | None = None,
        max_batch: int = 1000,
        linger_s: float = 0.02,
        max_queue: int = 1_000_000,
        timeout_s: float = 10.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port], got {url!r}")
        self._parts = parts
        self._path = parts.path.rstrip("/") + "/api/bots/update"
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.stats = ReporterStats()
        self._queue: deque[tuple[str, Any]] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="visionflow-reporter", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- public API
    def spawn(self, agent_id: str, *, type: str = "specialist", name: str | None = None,
              parent: str | None = None, **fields: Any) -> None:  # fmt: skip
        """Report a new agent (or re-report one): ``fields`` are any of the Agent fields."""
        item = {"id": agent_id, "type": type, **fields}
        if name is not None:
            item["name"] = name
        if parent is not None:
            item["parent_id"] = parent
        self._put("agent", item)

    def update(self, agent_id: str, **fields: Any) -> None:
        """Change some fields of an agent: ``status="busy"``, ``tokens=1200``, ``current_task="..."``."""
        self._put("agent", {"id": agent_id, **fields})

    def message(self, sender: str, receiver: str, nbytes: int = 0, at: float | None = None) -> None:
        """Report a message between two agents (it draws or strengthens their link)."""
        self._put("message", {"from": sender, "to": receiver, "bytes": nbytes, "at": at if at else time.time()})

    def finish(self, agent_id: str) -> None:
        """Report that an agent is gone."""
        self._put("remove", agent_id)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is acknowledged or refused; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Send what is queued (waiting at most ``timeout``), then stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def __enter__(self) -> SwarmReporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --------------------------------------------------------------- internals
    def _put(self, kind: str, item: Any) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the reporter is closed")
            if len(self._queue) >= self.max_queue:
                raise OverflowError(f"more than {self.max_queue} updates waiting to be sent")
            self._queue.append((kind, item))
            self.stats.queued += 1
            if len(self._queue) >= self.max_batch:
                self._cond.notify_all()

    def _take(self) -> _Batch | None:
        """The next batch, in order; an id removed in it cannot also be upserted later in it."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            if len(self._queue) < self.max_batch and not self._closed:
                self._cond.wait(self.linger_s)  # let a burst gather into one request
            batch = _Batch()
            removed: set[str] = set()
            while self._queue and len(batch) < self.max_batch:
                kind, item = self._queue[0]
                if kind == "agent" and item["id"] in removed:
                    break
                if kind == "message" and (item["from"] in removed or item["to"] in removed):
                    break
                self._queue.popleft()
                if kind == "agent":
                    batch.agents.append(item)
                elif kind == "message":
                    batch.messages.append(item)
                else:
                    batch.remove.append(item)
                    removed.add(item)
            self._in_flight = len(batch)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                break
            self._deliver(batch)
            with self._cond:
                self._in_flight = 0
                self._cond.notify_all()
        if self._conn is not None:
            self._conn.close()

    def _deliver(self, batch: _Batch) -> None:
        body = batch.body()
        delay = 0.05
        while True:
            try:
                self._post(body)
            except BatchRejectedError as exc:
                self.stats.rejected += len(batch)
                self.stats.last_error = str(exc)
                return
            except (OSError, http.client.HTTPException) as exc:
                self.stats.retries += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                with self._cond:
                    if self._closed:
                        return
                    self._cond.wait(delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            self.stats.acknowledged += len(batch)
            self.stats.batches += 1
            return

    def _post(self, body: bytes) -> None:
        if self._conn is None:
            host = self._parts.hostname or "127.0.0.1"
            cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(host, self._parts.port, timeout=self.timeout_s)
        self._conn.request("POST", self._path, body, self._headers)
        response = self._conn.getresponse()
        text = response.read()
        if response.status >= 500 or response.status == 429:
            raise http.client.HTTPException(f"HTTP {response.status}")
        if response.status >= 400:
            raise BatchRejectedError(f"HTTP {response.status}: {text[:300].decode(errors='replace')}")
