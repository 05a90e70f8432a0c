"""The MCP source against the real ``claude-flow`` MCP server from npm, over stdio.

Optional: needs ``node`` and the package installed (``npm install claude-flow`` in the
directory named by ``VISIONFLOW_CLAUDE_FLOW_DIR``, default the repository root). Skipped
with the reason otherwise; CI does not install it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import TextContent

from visionflow.observability.metrics import Metrics
from visionflow.sources import MCPSource, MCPTarget, load_profile
from visionflow.swarm import SwarmState

pytestmark = [pytest.mark.integration, pytest.mark.claude_flow]

ROOT = Path(os.environ.get("VISIONFLOW_CLAUDE_FLOW_DIR", Path(__file__).parents[2]))
CLI = ROOT / "node_modules" / "claude-flow" / "bin" / "cli.js"
ENV = (("CLAUDE_FLOW_AUTO_UPDATE", "false"),)


@pytest.fixture
def command() -> tuple[str, ...]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not CLI.exists():
        pytest.skip(f"claude-flow is not installed ({CLI} missing; npm install claude-flow)")
    return (node, str(CLI), "mcp", "start")


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    text = "".join(b.text for b in result.content if isinstance(b, TextContent))
    return json.loads(text)


def test_agents_and_task_links_from_claude_flow(command: tuple[str, ...], tmp_path: Path, metrics: Metrics) -> None:
    async def go() -> None:
        params = StdioServerParameters(command=command[0], args=list(command[1:]), cwd=str(tmp_path), env=dict(ENV))
        async with Client(stdio_client(params), mode="legacy", cache=None) as client:
            await call(client, "swarm_init", topology="hierarchical", maxAgents=6)
            for agent_id, kind in (("cf-coder", "coder"), ("cf-tester", "tester"), ("cf-lead", "coordinator")):
                await call(client, "agent_spawn", agentType=kind, agentId=agent_id)
            task = await call(client, "task_create", type="feature", description="ship it")
            await call(client, "task_assign", taskId=task["taskId"], agentIds=["cf-coder", "cf-tester"])
        target = MCPTarget("stdio", command=command, cwd=str(tmp_path), env=ENV)
        source = MCPSource(target.connect, load_profile("claude-flow"), metrics, poll_busy_s=0.5, poll_idle_s=0.5,
                           timeout_s=30)  # fmt: skip
        state = SwarmState()
        await source.start(state, time.time())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not ({"cf-coder", "cf-tester", "cf-lead"} <= set(state.agents)
                                                   and len(state.links)):  # fmt: skip
            await asyncio.sleep(0.2)
            source.tick(state, time.time(), 0.2)
        await source.stop()
        assert {"cf-coder", "cf-tester", "cf-lead"} <= set(state.agents), source.last_error
        links = {(lk.source, lk.target, lk.inferred) for lk in state.links.links(time.time())}
        assert ("cf-coder", "cf-tester", False) in links or ("cf-tester", "cf-coder", False) in links, links
        assert state.agents["cf-lead"].type.value == "coordinator"

    asyncio.run(go())
