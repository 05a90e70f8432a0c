"""A Claude-Flow-shaped MCP server written with the SDK, serving a swarm that changes over time.

Run: ``python swarm_server.py --state DIR [--transport stdio|http --port N]``. The swarm starts
with a queen and two coders sharing a task; another agent joins every ``--grow-every``
seconds, up to ``--max-agents``. Files in DIR steer it from a test: ``down`` makes it exit at
start-up (an orchestrator that will not come back), ``mode`` holds ``normal``, ``not-json``,
``wrong-types`` or ``huge`` to corrupt ``agent_list`` results, and it writes its pid to ``pid``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

TYPES = ("coder", "tester", "researcher", "reviewer", "analyst")


class Swarm:
    def __init__(self, grow_every: float, max_agents: int) -> None:
        self.started = time.monotonic()
        self.grow_every = grow_every
        self.max_agents = max_agents
        self.spawned: list[dict[str, Any]] = []
        self.swarm: dict[str, Any] | None = None

    def agents(self) -> list[dict[str, Any]]:
        now = time.monotonic() - self.started
        grown = min(self.max_agents - 3, int(now / self.grow_every)) if self.grow_every > 0 else 0
        agents = [
            {"agentId": "queen-1", "agentType": "queen", "status": "active", "health": 1.0, "taskCount": 1,
             "createdAt": "2026-11-26T10:00:00Z", "domain": "core"},
            {"agentId": "coder-1", "agentType": "coder", "status": "busy", "health": 0.9, "taskCount": 1,
             "createdAt": "2026-11-26T10:00:01Z", "model": "sonnet"},
            {"agentId": "coder-2", "agentType": "coder", "status": "idle", "health": 0.8, "taskCount": 1,
             "createdAt": "2026-11-26T10:00:02Z"},
        ]  # fmt: skip
        for i in range(grown):
            agents.append({"agentId": f"worker-{i + 1}", "agentType": TYPES[i % len(TYPES)],
                           "status": "busy" if i % 2 else "idle", "health": 0.75, "taskCount": i % 3})  # fmt: skip
        return agents + self.spawned

    def tasks(self) -> list[dict[str, Any]]:
        return [{"taskId": "task-1", "type": "feature", "status": "in_progress", "assignedTo": ["coder-1", "coder-2"],
                 "description": "build the thing"}]  # fmt: skip


def build(state: Path, grow_every: float, max_agents: int) -> MCPServer:
    server = MCPServer("visionflow-test-swarm")
    swarm = Swarm(grow_every, max_agents)

    def mode() -> str:
        path = state / "mode"
        return path.read_text().strip() if path.exists() else "normal"

    @server.tool(name="agent_list")
    def agent_list() -> str:
        agents = swarm.agents()
        match mode():
            case "not-json":
                return "agents: queen-1, coder-1 (this is not JSON)"
            case "wrong-types":
                return json.dumps({"agents": "three of them", "total": "many"})
            case "huge":
                return json.dumps({"agents": agents, "padding": "x" * (9 << 20)})
        return json.dumps({"agents": agents, "total": len(agents)})

    @server.tool(name="task_list")
    def task_list() -> str:
        tasks = swarm.tasks()
        return json.dumps({"tasks": tasks, "total": len(tasks)})

    @server.tool(name="swarm_status")
    def swarm_status() -> str:
        if swarm.swarm is None:
            return json.dumps({"status": "no_swarm", "totalSwarms": 0})
        return json.dumps({**swarm.swarm, "agentCount": len(swarm.agents())})

    @server.tool(name="hive-mind_status")
    def hive_mind_status() -> str:
        return json.dumps({"initialized": False})

    @server.tool(name="swarm_init")
    def swarm_init(topology: str = "hierarchical", maxAgents: int = 8, strategy: str = "balanced") -> str:
        swarm.swarm = {"swarmId": "swarm-1", "status": "running", "topology": topology, "maxAgents": maxAgents}
        return json.dumps({"success": True, **swarm.swarm})

    @server.tool(name="agent_spawn")
    def agent_spawn(agentType: str, agentId: str | None = None, task: str | None = None) -> str:
        agent_id = agentId or f"spawned-{len(swarm.spawned) + 1}"
        swarm.spawned.append({"agentId": agent_id, "agentType": agentType, "status": "idle", "health": 1.0,
                              "taskCount": 0})  # fmt: skip
        return json.dumps({"success": True, "agentId": agent_id, "agentType": agentType})

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--transport", choices=("stdio", "http", "sse"), default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--grow-every", type=float, default=1.0)
    parser.add_argument("--max-agents", type=int, default=12)
    args = parser.parse_args()
    if (args.state / "down").exists():
        print("down file present: refusing to start", file=sys.stderr)
        sys.exit(3)
    (args.state / "pid").write_text(str(os.getpid()))
    server = build(args.state, args.grow_every, args.max_agents)
    if args.transport == "stdio":
        server.run("stdio")
    elif args.transport == "sse":
        server.run("sse", host="127.0.0.1", port=args.port)
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
