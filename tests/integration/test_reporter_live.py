"""``SwarmReporter`` and ``AsyncSwarmReporter`` against a real server, seen the way a user sees them.

Nothing here calls ``flush()`` before looking: an agent must show in ``/api/bots/data`` soon
after ``spawn`` returns. The bound is generous (the machine is shared), but the reporter
this replaced never sent at all until ``flush()`` or a thousand queued items.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import LiveServer, free_port, start_server
from visionflow.client import AsyncSwarmReporter, RejectedItem, SwarmReporter

pytestmark = pytest.mark.integration

VISIBLE_WITHIN_S = 3.0
"""Far above the 50 ms flush interval plus one request; far below "never"."""


def agents(server: LiveServer) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in server.get("/api/bots/data").json()["agents"]}


def edges(server: LiveServer) -> dict[frozenset[str], dict[str, Any]]:
    return {frozenset((e["source"], e["target"])): e for e in server.get("/api/bots/data").json()["edges"]}


def seen_within(check: Callable[[], bool], seconds: float) -> float | None:
    """Seconds until ``check()`` held, or None if it did not within ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("push") / "server.log", "--source", "push")
    yield server
    server.stop()


def test_an_agent_shows_without_flush_soon_after_spawn(push_server: LiveServer) -> None:
    reporter = SwarmReporter(push_server.http)
    try:
        reporter.spawn("quick-1", type="coder", name="Quick")
        took = seen_within(lambda: "quick-1" in agents(push_server), VISIBLE_WITHIN_S)
        assert took is not None, reporter.stats
        reporter.spawn("quick-2", type="tester")
        reporter.message("quick-1", "quick-2", nbytes=64)
        reporter.update("quick-1", status="busy", tokens=42)
        assert seen_within(lambda: frozenset(("quick-1", "quick-2")) in edges(push_server), VISIBLE_WITHIN_S)
        assert seen_within(lambda: agents(push_server)["quick-1"]["tokens"] == 42, VISIBLE_WITHIN_S)
        reporter.finish("quick-2")
        assert seen_within(lambda: "quick-2" not in agents(push_server), VISIBLE_WITHIN_S)
    finally:
        reporter.close()
    assert reporter.stats.batches >= 3, "items were sent as they came, not all at close"


def test_refused_items_and_unknown_agents_reach_the_caller(push_server: LiveServer) -> None:
    rejected: list[RejectedItem] = []
    unmatched: list[dict[str, Any]] = []
    with SwarmReporter(push_server.http, on_rejected=rejected.extend, on_unmatched=unmatched.extend) as reporter:
        reporter.spawn("fine-1", type="coder")
        reporter.spawn("broken-1", health=500)
        reporter.message("fine-1", "nobody-by-that-name")
        assert seen_within(lambda: len(rejected) == 1 and len(unmatched) == 1, VISIBLE_WITHIN_S)
    assert rejected[0].item["id"] == "broken-1" and rejected[0].status == 422 and "health" in rejected[0].reason
    assert unmatched[0]["to"] == "nobody-by-that-name"
    assert reporter.stats.rejected == 1 and reporter.stats.unmatched_messages == 1
    assert "fine-1" in agents(push_server), "the rest of the refused batch was sent again"
    assert "broken-1" not in agents(push_server)


def test_the_async_reporter_shows_agents_without_flush(push_server: LiveServer) -> None:
    async def go() -> tuple[float | None, int]:
        unmatched: list[dict[str, Any]] = []
        async with AsyncSwarmReporter(push_server.http, on_unmatched=unmatched.extend) as reporter:
            reporter.spawn("async-1", type="researcher")
            reporter.spawn("async-2", type="reviewer")
            reporter.message("async-1", "async-2", nbytes=10)
            reporter.message("async-1", "ghost")
            start = time.monotonic()
            while time.monotonic() - start < VISIBLE_WITHIN_S:
                found = await asyncio.to_thread(agents, push_server)
                if {"async-1", "async-2"} <= set(found) and unmatched:
                    return time.monotonic() - start, reporter.stats.batches
                await asyncio.sleep(0.01)
        return None, 0

    took, batches = asyncio.run(go())
    assert took is not None and batches >= 1
    assert edges(push_server)[frozenset(("async-1", "async-2"))]["message_count"] == 1


def test_an_outage_and_a_restart_lose_no_final_state(tmp_path: Path) -> None:
    """Report, kill the server, keep reporting (bounded), start a new one: the swarm comes back whole."""
    ports = (free_port(), free_port())
    server = start_server(tmp_path / "first.log", "--source", "push", ports=ports)
    reporter = SwarmReporter(server.http, max_queue=500, max_backoff_s=0.5)
    try:
        for i in range(20):
            reporter.spawn(f"w{i}", type="coder" if i % 2 else "tester", name=f"worker {i}")
        for i in range(19):
            reporter.message(f"w{i}", f"w{i + 1}", nbytes=100)
        assert seen_within(lambda: len(edges(server)) == 19, 2 * VISIBLE_WITHIN_S)
        first_instance = reporter.stats.server_instance
        server.stop()

        for n in range(5000):  # while the server is down: ten times the queue's bound
            reporter.update(f"w{n % 20}", tokens=n, status="busy")
            if n % 50 == 0:
                reporter.message("w0", "w1", nbytes=1)
        reporter.finish("w19")
        assert reporter.stats.pending <= 500 and reporter.stats.coalesced > 4000

        server = start_server(tmp_path / "second.log", "--source", "push", ports=ports)

        def whole() -> bool:
            found = agents(server)
            return (set(found) == {f"w{i}" for i in range(19)}
                    and all(found[f"w{i}"]["tokens"] == 4980 + i for i in range(19)))  # fmt: skip

        assert seen_within(whole, 30), (reporter.stats, sorted(agents(server)))
        found = agents(server)
        assert found["w3"]["type"] == "coder" and found["w4"]["name"] == "worker 4", "types and names came back"
        assert seen_within(lambda: len(edges(server)) == 18, 10), edges(server)
        assert edges(server)[frozenset(("w0", "w1"))]["message_count"] == 1 + 100
        assert reporter.stats.restarts == 1 and reporter.stats.server_instance != first_instance
        assert reporter.stats.rejected == 0 and reporter.stats.dropped_messages == 0
    finally:
        reporter.close(timeout=5)
        server.stop()
