"""``/api/bots/history``: agents' positions and statuses over a window, and the swarm at one moment.

Both are bounded before the database is asked anything: a window longer than
``history_max_window_s``, more steps than ``history_max_points``, or more agents named than
``history_max_agents`` is a 422 naming the limit. Pages are cut by agents (``offset``,
``next_offset``). The query and the JSON are built in the store's thread; the event loop
only awaits the bytes.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.server.runtime import Runtime
from visionflow.store import Frame, HistoryLimits, frame_at, window_page

__all__ = ["frame_body", "router"]

MAX_FRAME_PAGE = 20_000


def _error(status: int, loc: list[str | int], msg: str, kind: str) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status_code=status)


def _json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def frame_body(frame: Frame) -> dict[str, Any]:
    """A frame as JSON: agents (with the position and time of their newest sample), links, paging."""
    pos = frame.positions
    where = {k: i for i, k in enumerate(pos.agent_key.tolist())}
    node_ids = frame.node_ids()
    agents = []
    for agent in frame.agents:
        i = where.get(agent.key)
        item: dict[str, Any] = {
            "id": agent.id, "node_id": node_ids[agent.key], "name": agent.name, "type": agent.type,
            "status": agent.status, "position": None, "velocity": None, "sampled_at": None,
        }  # fmt: skip
        if i is not None:
            x, y, z = pos.xyz[i].tolist()
            vx, vy, vz = pos.vxyz[i].tolist()
            item.update(position={"x": x, "y": y, "z": z}, velocity={"x": vx, "y": vy, "z": vz},
                        sampled_at=float(pos.t[i]))  # fmt: skip
        agents.append(item)
    return {
        "at": frame.at,
        "total_agents": frame.total_agents,
        "offset": frame.offset,
        "next_offset": frame.next_offset,
        "agents": agents,
        "links": frame.links,
    }


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/bots/history", tags=["history"])
    s = runtime.settings
    limits = HistoryLimits(max_window_s=s.history_max_window_s, max_points=s.history_max_points,
                           max_agents=s.history_max_agents, max_frame_agents=MAX_FRAME_PAGE)  # fmt: skip

    def unavailable() -> JSONResponse | None:
        if runtime.persistence.store is None:
            return _error(503, ["path"], "history needs the store, which is off (store: false)", "store_disabled")
        return None

    @api.get("", summary="Agents' positions and statuses over a window, downsampled to a step")
    async def history(
        start: Annotated[float | None, Query(alias="from", allow_inf_nan=False,
                                             description="Window start, Unix seconds (default: to - 600)")] = None,
        end: Annotated[float | None, Query(alias="to", allow_inf_nan=False,
                                           description="Window end, Unix seconds (default: now)")] = None,
        step: Annotated[float | None, Query(gt=0, allow_inf_nan=False,
                                            description="Seconds per point (default: 1 / history_hz)")] = None,
        agents: Annotated[str | None, Query(max_length=300_000, description="Comma-separated agent ids")] = None,
        offset: Annotated[int, Query(ge=0, description="Skip this many agents (next_offset)")] = 0,
    ) -> Response:  # fmt: skip
        if (refusal := unavailable()) is not None:
            return refusal
        end = time.time() if end is None else end
        start = end - 600.0 if start is None else start
        step = 1.0 / s.history_hz if step is None else step
        if end <= start:
            return _error(422, ["query", "to"], "must be after 'from'", "value_error")
        if end - start > limits.max_window_s:
            return _error(422, ["query", "to"], f"the window is {end - start:g} s; the limit is "
                          f"{limits.max_window_s:g} s (history_max_window_s)", "too_long")  # fmt: skip
        steps = math.ceil((end - start) / step)
        if steps > limits.max_points:
            return _error(422, ["query", "step"], f"{steps} steps in the window; the limit is {limits.max_points} "
                          "(history_max_points): use a larger step", "too_long")  # fmt: skip
        ids = None if agents is None else [a for a in dict.fromkeys(part.strip() for part in agents.split(",")) if a]
        if ids is not None and len(ids) > limits.max_agents:
            return _error(422, ["query", "agents"], f"{len(ids)} agents named; the limit is {limits.max_agents} "
                          "(history_max_agents)", "too_long")  # fmt: skip
        assert runtime.persistence.store is not None

        async def read(conn: AsyncConnection) -> bytes:
            page = await window_page(conn, start=start, end=end, step=step, agent_ids=ids, offset=offset,
                                     limits=limits)  # fmt: skip
            return _json(page)

        return Response(await runtime.persistence.store.read(read), media_type="application/json")

    @api.get("/frame", summary="The swarm as it was at one moment: agents, positions and links")
    async def frame(
        at: Annotated[float, Query(allow_inf_nan=False, description="The moment, Unix seconds")],
        offset: Annotated[int, Query(ge=0, description="Skip this many agents (next_offset)")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_FRAME_PAGE, description="Agents in this page")] = 5000,
    ) -> Response:
        if (refusal := unavailable()) is not None:
            return refusal
        store = runtime.persistence.store
        assert store is not None
        links = runtime.state.links
        lookback = s.positions_retention_days * 86_400.0

        async def read(conn: AsyncConnection) -> bytes:
            found = await frame_at(conn, at, offset=offset, limit=limit, lookback_s=lookback,
                                   link_decay_s=links.decay_tau_s, link_min_intensity=links.min_intensity)  # fmt: skip
            return _json(frame_body(found))

        return Response(await store.read(read), media_type="application/json")

    return api
