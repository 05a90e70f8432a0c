"""Push ingest end to end: ``SwarmReporter`` at 1,000 updates a second into a live server, nothing lost."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.live import start_server
from visionflow.client import SwarmReporter

pytestmark = pytest.mark.integration

RATE = 1000
SECONDS = float(os.environ.get("VISIONFLOW_LOAD_SECONDS", "3"))
AGENTS = 100


def test_thousand_updates_a_second_nothing_lost(tmp_path: Path) -> None:
    server = start_server(tmp_path / "vf.log", "--source", "push", env={"VISIONFLOW_INGEST_TOKEN": "t0ken"})
    try:
        last_tokens: dict[str, int] = {}
        messages = 0
        with SwarmReporter(server.http, token="t0ken") as reporter:
            for i in range(AGENTS):
                reporter.spawn(f"agent-{i}", type="coder" if i % 2 else "tester", name=f"worker {i}")
            start = time.monotonic()
            sent = 0
            while (elapsed := time.monotonic() - start) < SECONDS:
                due = int(elapsed * RATE)
                for n in range(sent, due):
                    agent = f"agent-{n % AGENTS}"
                    if n % 4 == 0:
                        target = (n * 7 + 1) % AGENTS
                        reporter.message(agent, f"agent-{target}", nbytes=100)
                        # agent-0's links leave with it at the end; self-messages draw no link
                        messages += target != n % AGENTS and 0 not in (target, n % AGENTS)
                    else:
                        reporter.update(agent, tokens=n, status="busy")
                        last_tokens[agent] = n
                sent = due
                time.sleep(0.005)
            reporter.finish("agent-0")
            last_tokens.pop("agent-0", None)
            assert reporter.flush(timeout=30)
            stats = reporter.stats
        assert sent >= RATE * SECONDS * 0.95
        assert stats.rejected == 0 and stats.acknowledged == stats.queued, stats
        body = server.get("/api/bots/data").json()
        agents = {a["id"]: a for a in body["agents"]}
        assert len(agents) == AGENTS - 1 and "agent-0" not in agents
        for agent_id, tokens in last_tokens.items():
            assert agents[agent_id]["tokens"] == tokens, agent_id
        assert sum(e["message_count"] for e in body["edges"]) == messages
        with SwarmReporter(server.http, token="wrong") as bad:
            bad.spawn("intruder")
            bad.flush(timeout=10)
            assert bad.stats.rejected == 1
        assert "intruder" not in {a["id"] for a in server.get("/api/bots/data").json()["agents"]}
    finally:
        server.stop()
