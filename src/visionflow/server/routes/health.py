"""``GET /api/health``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from visionflow.server.runtime import Runtime

__all__ = ["router"]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(tags=["operations"])

    @api.get("/api/health", summary="Health of every component")
    async def health() -> JSONResponse:
        """``healthy``, ``degraded`` (working, but something fell back or is stale) or ``unhealthy`` (503)."""
        body = runtime.health()
        return JSONResponse(body, status_code=503 if body["status"] == "unhealthy" else 200)

    return api
