"""``GET /metrics`` and ``GET /api/metrics``: Prometheus text exposition."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from visionflow.server.runtime import Runtime

__all__ = ["router"]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(tags=["operations"])

    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for path in ("/metrics", "/api/metrics"):
        api.add_api_route(path, metrics, methods=["GET"], summary="Prometheus metrics")
    return api
