"""The control routes answer a failed action with the status its error class maps to, and a JSON reason."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp_types import CallToolResult, ListToolsResult, TextContent, Tool

from visionflow.errors import (
    ControlError,
    ControlFailedError,
    ControlTimeoutError,
    ControlUnavailableError,
    ControlUnsupportedError,
)
from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.routes.control import CONTROL_STATUS, control_status
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings
from visionflow.sources import MCPSource, load_profile
from visionflow.sources.mcp import ToolCaller


def test_every_kind_of_control_failure_has_its_own_status() -> None:
    kinds = ControlError.__subclasses__()
    assert set(CONTROL_STATUS) == set(kinds)
    assert sorted(control_status(kind("x")) for kind in kinds) == [501, 502, 503, 504]
    assert control_status(ControlUnsupportedError("x")) == 501
    assert control_status(ControlFailedError("x")) == 502
    assert control_status(ControlUnavailableError("x")) == 503
    assert control_status(ControlTimeoutError("x")) == 504


class Orchestrator:
    """Answers every poll with no agents and ``agent_spawn`` with ``spawn``."""

    def __init__(self, spawn: dict[str, Any]) -> None:
        self.spawn = spawn

    async def list_tools(self, *, cursor: str | None = None) -> ListToolsResult:
        names = load_profile("claude-flow").tools()
        return ListToolsResult(tools=[Tool(name=name, input_schema={"type": "object"}) for name in sorted(names)])

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None,
                        read_timeout_seconds: float | None = None) -> CallToolResult:  # fmt: skip
        body = self.spawn if name == "agent_spawn" else {"agents": []}
        return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))])


@pytest.mark.parametrize(
    ("connected", "spawn", "status", "detail"),
    [
        (False, {}, 503, "not connected"),
        (True, {"success": False, "error": "quota reached"}, 502, "agent_spawn: quota reached"),
        (True, {"success": True, "agentId": "c-1"}, 200, None),
    ],
)
def test_spawn_agent_over_the_route(
    metrics: Metrics, connected: bool, spawn: dict[str, Any], status: int, detail: str | None
) -> None:
    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[ToolCaller]:
        yield Orchestrator(spawn)

    source = MCPSource(connect, load_profile("claude-flow"), metrics, poll_busy_s=0.05, poll_idle_s=0.05)
    runtime = Runtime(Settings(source="mcp", mcp_command="unused"), metrics=metrics, source=source)

    async def go() -> httpx.Response:
        if connected:
            await source.start(runtime.state, 0.0)
            for _ in range(1000):  # ten seconds at most
                if source.connected:
                    break
                await asyncio.sleep(0.01)
            assert source.connected
        try:
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post("/api/bots/spawn-agent", json={"type": "coder", "name": "c-1"})
        finally:
            await source.stop()

    response = asyncio.run(go())
    assert response.status_code == status, response.text
    if detail is None:
        assert response.json()["result"] == spawn
    else:
        assert detail in response.json()["detail"]
