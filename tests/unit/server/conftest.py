"""A runtime over a small simulated swarm, and a way to call its HTTP API in process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings

RUNTIME_DEFAULTS: dict[str, Any] = {"agents": 30, "seed": 1, "physics": "cpu"}


@pytest.fixture
def make_runtime(metrics: Metrics) -> Callable[..., Runtime]:
    """``make_runtime(ticks=1, **settings)``: a runtime whose source has started and ticked ``ticks`` times.

    With ``ticks=0`` the source is not started either: the runtime is as built, before ``start``.
    """

    def make(*, ticks: int = 1, **settings: Any) -> Runtime:
        runtime = Runtime(Settings(**{**RUNTIME_DEFAULTS, **settings}), metrics=metrics)
        if ticks:
            asyncio.run(runtime.source.start(runtime.state, time.time()))
            for _ in range(ticks):
                runtime.pipeline.tick_inline()
        return runtime

    return make


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    """30 simulated agents on the CPU, five ticks in."""
    return make_runtime(ticks=5)


@pytest.fixture
def api() -> Callable[..., httpx.Response]:
    """``api(runtime, method, path, **request_options)``: one request to the runtime's app, no socket."""

    def call(runtime: Runtime, method: str, path: str, **options: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, **options)

        return asyncio.run(go())

    return call
