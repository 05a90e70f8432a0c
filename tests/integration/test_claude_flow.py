"""The MCP source against the real ``claude-flow`` MCP server from npm, over stdio.

``make test`` installs it (a pinned development dependency in ``package.json``, ``npm ci``);
the tests skip, naming what is missing, only where node or the package is absent.

The server runs as a user would run it: ``visionflow serve --source mcp`` spawning claude-flow
with ``--mcp-env CLAUDE_FLOW_CWD=<state>`` and ``--mcp-cwd <elsewhere>``. The test seeds that
state with a session of its own (claude-flow keeps it in files), then checks what VisionFlow
shows: agents, their work from the task list, structural links that polls do not count as
messages and that fade once their task completes, and health that degrades the moment a
poll fails (claude-flow's own ``policy-state-lock-timeout``, from a held lock) and recovers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import TextContent

from tests.support.live import LiveServer, start_server
from visionflow.observability.metrics import Metrics
from visionflow.sources import MCPSource, MCPTarget, load_profile
from visionflow.swarm import SwarmState

pytestmark = [pytest.mark.integration, pytest.mark.claude_flow]

ROOT = Path(os.environ.get("VISIONFLOW_CLAUDE_FLOW_DIR", Path(__file__).parents[2]))
CLI = ROOT / "node_modules" / "claude-flow" / "bin" / "cli.js"
QUIET = {"CLAUDE_FLOW_AUTO_UPDATE": "false"}


@pytest.fixture
def command() -> tuple[str, ...]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make test installs nodejs with apt as root)")
    if not CLI.exists():
        pytest.skip(f"claude-flow is not installed ({CLI} missing; make setup runs npm ci)")
    return (node, str(CLI), "mcp", "start")


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    text = "".join(b.text for b in result.content if isinstance(b, TextContent))
    assert not result.is_error, text
    return json.loads(text)


def claude_flow(command: tuple[str, ...], state: Path, *steps: tuple[str, dict[str, Any]]) -> list[Any]:
    """Run tool calls in a claude-flow session of the test's own, on ``state``."""

    async def go() -> list[Any]:
        params = StdioServerParameters(command=command[0], args=list(command[1:]), cwd=str(state),
                                       env={**QUIET, "CLAUDE_FLOW_CWD": str(state)})  # fmt: skip
        async with Client(stdio_client(params), mode="legacy", cache=None) as client:
            return [await call(client, tool, **arguments) for tool, arguments in steps]

    return asyncio.run(go())


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last saw {last!r}")


def view(server: LiveServer) -> tuple[dict[str, Any], dict[frozenset[str], dict[str, Any]], dict[str, Any]]:
    body = server.get("/api/bots/data").json()
    agents = {a["id"]: a for a in body["agents"]}
    edges = {frozenset((e["source"], e["target"])): e for e in body["edges"]}
    return agents, edges, server.get("/api/health").json()


def children_of(pid: int) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                yield int(entry.name)


def test_claude_flow_swarm_through_visionflow(command: tuple[str, ...], tmp_path: Path) -> None:
    state, elsewhere = tmp_path / "state", tmp_path / "elsewhere"
    state.mkdir()
    elsewhere.mkdir()
    team = (("cf-coder", "coder"), ("cf-tester", "tester"), ("cf-lead", "coordinator"))
    results = claude_flow(
        command,
        state,
        ("swarm_init", {"topology": "hierarchical", "maxAgents": 6}),
        *[("agent_spawn", {"agentType": kind, "agentId": agent_id}) for agent_id, kind in team],
        ("task_create", {"type": "feature", "description": "ship it"}),
        ("task_create", {"type": "bugfix", "description": "later", "assignTo": ["cf-lead"]}),
    )
    shipping = results[-2]["taskId"]
    claude_flow(command, state, ("task_assign", {"taskId": shipping, "agentIds": ["cf-coder", "cf-tester"]}))

    ours_before = (Path.cwd() / ".claude-flow").exists()
    server = start_server(
        tmp_path / "vf.log", "--source", "mcp", "--mcp-command", shlex.join(command),
        "--mcp-env", f"CLAUDE_FLOW_CWD={state}", "--mcp-env", "CLAUDE_FLOW_AUTO_UPDATE=false",
        "--mcp-cwd", str(elsewhere), "--mcp-poll-busy", "0.5", "--mcp-poll-idle", "1", "--mcp-poll-max", "2",
        env={"VISIONFLOW_INGEST_TOKEN": "not-for-children"},
    )  # fmt: skip
    pair = frozenset(("cf-coder", "cf-tester"))
    try:
        # The environment and the directory reached the child: its agents come from CLAUDE_FLOW_CWD,
        # it runs in --mcp-cwd (claude-flow keeps its policy receipts there), and our settings stay ours.
        agents, edges, health = wait_for(lambda: (v := view(server))[0].keys() >= {"cf-coder", "cf-lead"}
                                         and pair in v[1] and v, "the seeded agents and their task link")  # fmt: skip
        node = next(p for p in children_of(server.process.pid) if "cli.js" in Path(f"/proc/{p}/cmdline").read_text())
        assert Path(f"/proc/{node}/cwd").readlink() == elsewhere.resolve()
        environ = Path(f"/proc/{node}/environ").read_bytes().split(b"\0")
        assert f"CLAUDE_FLOW_CWD={state}".encode() in environ and b"PATH=" in b"\n".join(environ)
        assert not [v for v in environ if v.startswith(b"VISIONFLOW_")], "our tokens are not the child's"
        assert (elsewhere / ".claude-flow" / "policy").is_dir()
        assert ours_before or not (Path.cwd() / ".claude-flow").exists(), "nothing written where VisionFlow runs"

        # Work comes from the task list; taskCount (completed tasks) is tasks_completed.
        coder, lead = agents["cf-coder"], agents["cf-lead"]
        assert (coder["tasks_active"], coder["current_task"], coder["tasks_completed"]) == (1, "ship it", 0)
        assert (lead["tasks_active"], lead["current_task"]) == (0, None), "a pending task is not work under way"
        source = health["components"]["source"]
        assert source["status"] == "ok" and source["error"] is None and source["missing_tools"] == []
        assert any("claude-flow" in line or "stdio" in line for line in source["stderr"]), source["stderr"]
        assert '"event":"mcp_stderr"' in server.log_text()

        # Structure seen poll after poll is not a message, and quiet polls back off.
        first = edges[pair]
        assert (first["message_count"], first["last_message_at"], first["inferred"]) == (0, None, False)
        later = wait_for(lambda: (e := view(server)[1][pair])["observed_at"] > first["observed_at"] + 2 and e,
                         "the link to be observed again")  # fmt: skip
        assert later["message_count"] == 0 and later["intensity"] >= 0.5
        wait_for(lambda: view(server)[2]["components"]["source"]["poll_interval_s"] == 2.0, "quiet polls to back off")

        # Completing the task: the agents' work ends, their link is no longer refreshed and fades.
        claude_flow(command, state, ("task_complete", {"taskId": shipping}))
        coder = wait_for(lambda: (a := view(server)[0]["cf-coder"])["tasks_completed"] == 1 and a, "task_complete")
        assert (coder["tasks_active"], coder["current_task"]) == (0, None)
        faded = view(server)[1][pair]
        time.sleep(3)
        fainter = view(server)[1][pair]
        assert fainter["observed_at"] == faded["observed_at"] and fainter["intensity"] < faded["intensity"] * 0.95

        # A held policy lock fails every call after 5 s, as after a claude-flow restart: degraded at
        # once, with the error; then healthy again, the error gone, on the first good poll.
        lock = elsewhere / ".claude-flow" / "policy" / "state.lock"
        lock.write_text(json.dumps({"pid": 1, "acquiredAt": time.time() * 1000}))
        try:
            health = wait_for(lambda: (h := view(server)[2])["components"]["source"]["status"] == "degraded" and h,
                              "a failed poll to degrade health", timeout=20)  # fmt: skip
        finally:
            lock.unlink()
        source = health["components"]["source"]
        assert health["status"] == "degraded" and source["connected"] and not source["stale"]
        assert "policy-state-lock-timeout" in source["error"], source["error"]
        health = wait_for(lambda: (h := view(server)[2])["status"] == "healthy" and h, "recovery", timeout=30)
        assert health["components"]["source"]["error"] is None
    finally:
        server.stop()


def test_a_profile_for_another_orchestrator_names_the_tools_claude_flow_lacks(
    command: tuple[str, ...], tmp_path: Path, metrics: Metrics
) -> None:
    target = MCPTarget(
        "stdio", command=command, cwd=str(tmp_path), env=tuple({**QUIET, "CLAUDE_FLOW_CWD": str(tmp_path)}.items())
    )

    async def go() -> None:
        source = MCPSource(target.connect, load_profile("ruv-swarm"), metrics, stderr=target.stderr_lines,
                           poll_busy_s=0.5, poll_idle_s=0.5, poll_max_s=0.5)  # fmt: skip
        await source.start(SwarmState(), time.time())
        for _ in range(600):  # a minute at most
            if source.polls >= 2:
                break
            await asyncio.sleep(0.1)
        await source.stop()
        status = source.status()
        assert source.polls >= 2 and status.degraded and status.detail["missing_tools"] == ["agent_metrics"]
        assert status.error is not None and "agent_metrics" in status.error and "ruv-swarm" in status.error

    asyncio.run(go())
