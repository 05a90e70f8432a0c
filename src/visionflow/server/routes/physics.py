"""``/api/physics/params``: read and change the layout's parameters while it runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from visionflow.errors import ConfigError
from visionflow.server.runtime import Runtime

__all__ = ["router"]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/physics", tags=["physics"])

    def body() -> dict[str, Any]:
        engine = runtime.engine
        return {
            "params": engine.params.as_dict(),
            "backend": runtime.physics.backend.value,
            "method": engine.method.value,
            "tree_threshold": engine.thresholds.tree,
            "resting": runtime.pipeline.resting,
        }

    @api.get("/params", summary="The layout's parameters, backend and repulsion method")
    async def get_params() -> dict[str, Any]:
        return body()

    @api.patch("/params", summary="Change some parameters; a bad value gets 422 and nothing changes")
    async def patch_params(changes: Annotated[Any, Body()]) -> dict[str, Any]:
        """The body is a JSON object of parameter names and new values; a resting layout wakes."""
        if not isinstance(changes, dict) or not changes:
            raise ConfigError("body", "expected a non-empty JSON object of parameter names and values")
        params = runtime.set_physics_params(changes)
        await runtime.persistence.params_changed(params, changes)  # answered once saved: it survives a restart
        return body()

    return api
