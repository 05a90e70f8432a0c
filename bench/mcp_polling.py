"""What polling costs a real claude-flow: tool calls and policy receipts a minute, ours against the old way.

    python bench/mcp_polling.py [--seconds 60] [--json]

Needs node and ``node_modules/claude-flow`` (``npm ci``). Two sources poll the same seeded
claude-flow swarm (three agents, one task in progress, so the swarm counts as busy) for the
same time, one after the other, each spawning its own claude-flow:

- baseline: the polling this replaced: every tool of the old claude-flow profile
  (agent_list, task_list, swarm_status, hive-mind_status) on every poll, at the busy
  interval (1 s), never backing off.
- ours: the built-in profile and default intervals (busy 1 s, idle 5 s, at most 30 s):
  swarm_status only at the idle interval, and back-off while nothing changes.

claude-flow appends a receipt to ``.claude-flow/policy/state.json`` for every call, so the
receipts and the file's growth are what an operator pays. Ratios are ours / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import TextContent
from prometheus_client import CollectorRegistry

from visionflow.observability.metrics import Metrics
from visionflow.sources import MCPSource, MCPTarget, load_profile
from visionflow.sources.profile import ProfileMapping, ToolSpec
from visionflow.swarm import SwarmState

CLI = Path(__file__).parents[1] / "node_modules" / "claude-flow" / "bin" / "cli.js"
QUIET = {"CLAUDE_FLOW_AUTO_UPDATE": "false"}


async def seed(command: list[str], state: Path) -> None:
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(state),
                                   env={**QUIET, "CLAUDE_FLOW_CWD": str(state)})  # fmt: skip
    async with Client(stdio_client(params), mode="legacy", cache=None) as client:

        async def call(tool: str, **arguments: Any) -> Any:
            result = await client.call_tool(tool, arguments)
            return json.loads("".join(b.text for b in result.content if isinstance(b, TextContent)))

        await call("swarm_init", topology="hierarchical", maxAgents=6)
        for agent_id, kind in (("coder", "coder"), ("tester", "tester"), ("lead", "coordinator")):
            await call("agent_spawn", agentType=kind, agentId=agent_id)
        task = await call("task_create", type="feature", description="ship it")
        await call("task_assign", taskId=task["taskId"], agentIds=["coder", "tester"])


def old_profile() -> ProfileMapping:
    """The claude-flow profile as it was: all tools every poll, hive-mind_status included."""
    profile = load_profile("claude-flow")
    assert profile.status is not None
    return profile.model_copy(update={"status": profile.status.model_copy(update={"rare": False}),
                                      "extra_status": (ToolSpec(tool="hive-mind_status"),)})  # fmt: skip


def receipts(cwd: Path) -> tuple[int, int]:
    path = cwd / ".claude-flow" / "policy" / "state.json"
    if not path.exists():
        return 0, 0
    return len(json.loads(path.read_text()).get("receipts", [])), path.stat().st_size


async def measure(command: list[str], state: Path, profile: ProfileMapping, seconds: float, **poll: float
                  ) -> dict[str, float]:  # fmt: skip
    cwd = Path(tempfile.mkdtemp(prefix="vf-poll-"))
    target = MCPTarget.from_settings(shlex.join(command), None, env={**QUIET, "CLAUDE_FLOW_CWD": str(state)}, cwd=cwd)
    source = MCPSource(target.connect, profile, Metrics(CollectorRegistry(), process_metrics=False), **poll)
    await source.start(SwarmState(), time.time())
    for _ in range(1200):  # the first poll, within a minute
        if source.polls:
            break
        await asyncio.sleep(0.05)
    calls, (count, size), start = source.calls, receipts(cwd), time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    calls, (count_after, size_after) = source.calls - calls, receipts(cwd)
    await source.stop()
    shutil.rmtree(cwd, ignore_errors=True)
    minutes = elapsed / 60
    return {"calls_per_min": calls / minutes, "receipts_per_min": (count_after - count) / minutes,
            "policy_bytes_per_min": (size_after - size) / minutes, "polls": source.polls}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None or not CLI.exists():
        sys.exit(f"needs node and {CLI} (npm ci)")
    command = [node, str(CLI), "mcp", "start"]
    state = Path(tempfile.mkdtemp(prefix="vf-claude-flow-"))
    asyncio.run(seed(command, state))
    # The swarm is busy, so the old source polled it every poll_busy_s (1 s), never backing off.
    baseline = asyncio.run(measure(command, state, old_profile(), args.seconds,
                                   poll_busy_s=1.0, poll_idle_s=1.0, poll_max_s=1.0))  # fmt: skip
    ours = asyncio.run(measure(command, state, load_profile("claude-flow"), args.seconds))
    shutil.rmtree(state, ignore_errors=True)
    ratios = {k: ours[k] / baseline[k] if baseline[k] else float("nan") for k in baseline if k != "polls"}
    if args.json:
        print(json.dumps({"seconds": args.seconds, "baseline": baseline, "ours": ours, "ratio": ratios}))
        return
    print(f"{args.seconds:g} s each against claude-flow, one task in progress")
    print(f"{'':22}{'baseline':>12}{'ours':>12}{'ratio':>8}")
    for key in ("calls_per_min", "receipts_per_min", "policy_bytes_per_min"):
        print(f"{key:22}{baseline[key]:12.0f}{ours[key]:12.0f}{ratios[key]:8.3f}")


if __name__ == "__main__":
    main()
