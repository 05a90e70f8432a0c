"""The HTTP API: health, swarm data, protocol self-test and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from visionflow import __version__
from visionflow.errors import ConfigError, FrameError
from visionflow.protocol.binary import decode, encode
from visionflow.server.runtime import Runtime

__all__ = ["create_app"]


def create_app(runtime: Runtime) -> FastAPI:
    """The FastAPI application over ``runtime``; it owns no state of its own."""
    app = FastAPI(
        title="VisionFlow",
        version=__version__,
        description="Live 3D view of AI agent swarms. Positions stream as 28-byte binary records over WebSocket.",
        docs_url=None,  # the Swagger UI loads from a CDN; the product works offline
        redoc_url=None,
    )
    app.state.runtime = runtime

    @app.exception_handler(ConfigError)
    async def _config_error(request: Request, exc: ConfigError) -> JSONResponse:
        runtime.metrics.errors.labels("api").inc()
        return JSONResponse(
            status_code=422, content={"detail": [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]}
        )

    @app.get("/api/health", tags=["operations"], summary="Health of every component")
    async def health() -> JSONResponse:
        body = runtime.health()
        return JSONResponse(body, status_code=503 if body["status"] == "unhealthy" else 200)

    @app.get("/api/bots/data", tags=["swarm"], summary="Agents with positions, and communication edges")
    async def bots_data(
        offset: Annotated[int, Query(ge=0, description="Skip this many agents")] = 0,
        limit: Annotated[int | None, Query(ge=1, le=100_000, description="Return at most this many agents")] = None,
    ) -> dict[str, Any]:
        return runtime.pipeline.agents_data(offset, limit)

    @app.get("/api/bots/binary-test", tags=["swarm"], summary="Encode the live state, decode it, compare")
    async def binary_test() -> dict[str, Any]:
        engine = runtime.engine
        ids = engine.ids.copy()
        pos = engine.positions.copy()
        vel = engine.velocities.copy()
        data = encode(ids, pos, vel)
        try:
            frame = decode(data)
        except FrameError as exc:
            runtime.metrics.errors.labels("api").inc()
            return {"records": len(ids), "bytes": len(data), "max_abs_error": None, "ok": False, "error": str(exc)}
        error = 0.0
        if len(ids):
            error = float(max(np.abs(frame.positions - pos).max(), np.abs(frame.velocities - vel).max()))
        ok = len(frame) == len(ids) and bool(np.array_equal(frame.node_ids, ids)) and error == 0.0
        return {"records": len(frame), "bytes": len(data), "record_size": 28, "max_abs_error": error, "ok": ok}

    def metrics_response() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics_response, methods=["GET"], tags=["operations"], summary="Prometheus metrics")
    app.add_api_route(
        "/api/metrics", metrics_response, methods=["GET"], tags=["operations"], summary="Prometheus metrics"
    )
    return app
