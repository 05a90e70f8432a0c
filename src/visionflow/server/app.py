"""The FastAPI application: error handling and the route modules, over one Runtime."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from visionflow import __version__
from visionflow.errors import ConfigError
from visionflow.server.routes import alerts, bots, control, health, history, ingest, metrics, otlp, physics, web
from visionflow.server.runtime import Runtime

__all__ = ["create_app"]


def create_app(runtime: Runtime) -> FastAPI:
    """The HTTP API over ``runtime``; the app owns no state of its own."""
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
        body = {"detail": [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]}
        return JSONResponse(status_code=422, content=body)

    for module in (health, bots, history, metrics, ingest, otlp, control, alerts, physics, web):
        app.include_router(module.router(runtime))
    return app
