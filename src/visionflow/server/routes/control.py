"""``POST /api/bots/initialize-swarm`` and ``/api/bots/spawn-agent``: control through the MCP session.

Each request becomes the tool the profile names (``swarm_init``, ``agent_spawn``), called
over the same session the source polls, so what the page starts appears on the next poll.
The source says why an action failed by the class of its ``ControlError``; this route alone
decides what HTTP status each class is (``CONTROL_STATUS``). They are 5xx: the request was
valid, the orchestrator behind this server could not carry it out.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from visionflow.errors import (
    ControlError,
    ControlFailedError,
    ControlTimeoutError,
    ControlUnavailableError,
    ControlUnsupportedError,
)
from visionflow.server.runtime import Runtime
from visionflow.sources import MCPSource

__all__ = ["CONTROL_STATUS", "InitializeSwarm", "SpawnAgent", "control_status", "router"]

CONTROL_STATUS: dict[type[ControlError], int] = {
    ControlUnsupportedError: 501,  # the profile has no tool for it: not implemented here
    ControlFailedError: 502,  # the orchestrator answered badly: bad gateway
    ControlUnavailableError: 503,  # no session to the orchestrator right now
    ControlTimeoutError: 504,  # the orchestrator did not answer in time: gateway timeout
}


def control_status(exc: ControlError) -> int:
    """The HTTP status for a failed control action: its class's, or its nearest base's."""
    for cls in type(exc).__mro__:
        if cls in CONTROL_STATUS:
            return CONTROL_STATUS[cls]
    return 502


Word = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class InitializeSwarm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topology: Word = "hierarchical"
    max_agents: Annotated[int, Field(ge=1, le=1000)] = 8
    strategy: Word | None = None
    arguments: dict[str, Any] = Field(default_factory=dict, description="Passed to the tool unchanged")


class SpawnAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Word
    name: Word | None = None
    task: Annotated[str, StringConstraints(max_length=2000)] | None = None
    capabilities: list[Word] | None = None
    arguments: dict[str, Any] = Field(default_factory=dict, description="Passed to the tool unchanged")


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/bots", tags=["control"])

    async def run(action: str, request: BaseModel) -> Any:
        source = runtime.source
        if not isinstance(source, MCPSource):
            body = {"detail": f"control needs the mcp source; this server runs {source.name!r}"}
            return JSONResponse(body, status_code=409)
        values = request.model_dump(exclude={"arguments"})
        extra: dict[str, Any] = getattr(request, "arguments", {})
        try:
            result = await source.control(action, values, extra)
        except ControlError as exc:
            return JSONResponse({"detail": exc.message}, status_code=control_status(exc))
        return {"ok": True, "action": action, "result": result}

    @api.post("/initialize-swarm", summary="Start a swarm on the MCP orchestrator")
    async def initialize_swarm(request: InitializeSwarm) -> Any:
        return await run("initialize_swarm", request)

    @api.post("/spawn-agent", summary="Spawn an agent on the MCP orchestrator")
    async def spawn_agent(request: SpawnAgent) -> Any:
        return await run("spawn_agent", request)

    return api
