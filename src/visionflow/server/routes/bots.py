"""``/api/bots/*``: the swarm as JSON, and the binary protocol's self-test."""

from __future__ import annotations

import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query

from visionflow.errors import FrameError
from visionflow.protocol.binary import RECORD_SIZE, decode, encode
from visionflow.server.runtime import Runtime
from visionflow.server.views import agents_data

__all__ = ["router"]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/bots", tags=["swarm"])

    @api.get("/data", summary="Agents with positions, and communication edges")
    async def bots_data(
        offset: Annotated[int, Query(ge=0, description="Skip this many agents")] = 0,
        limit: Annotated[int, Query(ge=1, le=100_000, description="Return at most this many agents")] = 5000,
    ) -> dict[str, Any]:
        body = agents_data(runtime.state, runtime.engine, tick=runtime.pipeline.seq, now=time.time(),
                           offset=offset, limit=limit)  # fmt: skip
        body["source"] = runtime.source.status().to_dict(time.time())
        return body

    @api.get("/binary-test", summary="Encode the live state, decode it, compare")
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
            return {
                "records": len(ids),
                "bytes": len(data),
                "max_abs_error": None,
                "ok": False,
                "error": str(exc),
            }
        error = 0.0
        if len(ids):
            error = float(max(np.abs(frame.positions - pos).max(), np.abs(frame.velocities - vel).max()))
        ok = len(frame) == len(ids) and bool(np.array_equal(frame.node_ids, ids)) and error == 0.0
        return {
            "records": len(frame),
            "bytes": len(data),
            "record_size": RECORD_SIZE,
            "max_abs_error": error,
            "ok": ok,
        }

    return api
