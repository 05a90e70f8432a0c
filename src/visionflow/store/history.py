"""History reads: agents' positions and statuses over a window, and the swarm at one moment.

A window is downsampled to ``step`` (the last row of each agent in each step) and paged by
agents: a page holds as many agents as fit in ``max_points`` points at that step. Which agents
were in the swarm at a moment is read from the status history (their newest row at or before
it is not ``removed``), their positions from each one's newest row at or before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.repos import agents, links, positions
from visionflow.store.repos.agents import REMOVED
from visionflow.store.repos.positions import Positions
from visionflow.store.schema import AgentRow, AgentStatusRow

__all__ = ["Frame", "FrameAgent", "HistoryLimits", "ReplayPage", "frame_at", "replay_page", "window_page"]


PAGE_AGENTS = 5000
"""Agents one history page holds at most, however few steps each has (a bound on the query's key list)."""


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    max_window_s: float = 86_400.0
    """Longest window one history request may cover."""
    max_points: int = 250_000
    """Points (agents x steps) one page may hold."""
    max_agents: int = 1000
    """Agent ids one request may name."""
    max_frame_agents: int = 20_000
    """Agents one frame page may hold."""


async def _agent_rows(conn: AsyncConnection, start: float, end: float, ids: list[str] | None) -> list[Any]:
    """Agents that may have been in the swarm during [start, end] (or those named), by key."""
    a = AgentRow.__table__.c
    query = select(a.key, a.id, a.node_id, a.name, a.type).order_by(a.key)
    if ids is not None:
        query = query.where(a.id.in_(ids))
    else:
        query = query.where(a.first_seen <= end, or_(a.active, a.last_seen >= start))
    return list((await conn.execute(query)).all())


def _downsample(rows: Positions, start: float, step: float) -> Positions:
    """The last row of each agent in each step (rows come sorted by agent, then time)."""
    if not len(rows):
        return rows
    # A millionth of a step of slack: ``(start + k * step) - start`` can come out a hair under ``k * step``.
    bucket = np.floor((rows.t - start) / step + 1e-6).astype(np.int64)
    group = rows.agent_key * (int(bucket.max()) + 2) + bucket
    last = np.flatnonzero(np.diff(group, append=group[-1] + 1) != 0)
    return rows.take(last)


async def window_page(
    conn: AsyncConnection,
    *,
    start: float,
    end: float,
    step: float,
    agent_ids: list[str] | None,
    offset: int,
    limits: HistoryLimits,
) -> dict[str, Any]:
    """One page of ``GET /api/bots/history`` (the caller has checked the window against ``limits``)."""
    steps = max(1, math.ceil((end - start) / step))
    per_page = max(1, min(limits.max_points // steps, PAGE_AGENTS))
    candidates = await _agent_rows(conn, start, end, agent_ids)
    page = candidates[offset : offset + per_page]
    keys = [row.key for row in page]
    rows = _downsample(await positions.window(conn, keys, start, end), start, step)
    h = AgentStatusRow.__table__.c
    status_rows = (await conn.execute(
        select(h.agent_key, h.at, h.status).where(h.agent_key.in_(keys), h.at > start, h.at <= end)
        .order_by(h.agent_key, h.at, h.id)
    )).all() if keys else []  # fmt: skip
    initial = await agents.statuses_at(conn, start, keys) if keys else {}
    changes: dict[int, list[dict[str, Any]]] = {}
    for key, at, status in status_rows:
        changes.setdefault(key, []).append({"at": at, "status": status})
    columns = {"x": rows.xyz[:, 0], "y": rows.xyz[:, 1], "z": rows.xyz[:, 2],
               "vx": rows.vxyz[:, 0], "vy": rows.vxyz[:, 1], "vz": rows.vxyz[:, 2]}  # fmt: skip
    columns = {name: np.ascontiguousarray(values) for name, values in columns.items()}  # slices of these stay so
    bounds = np.searchsorted(rows.agent_key, np.array(keys, dtype=np.int64), side="left")
    ends = np.searchsorted(rows.agent_key, np.array(keys, dtype=np.int64), side="right")
    out = []
    for row, lo, hi in zip(page, bounds.tolist(), ends.tolist(), strict=True):
        statuses = ([{"at": start, "status": initial[row.key]}] if row.key in initial else []) + changes.get(
            row.key, []
        )
        if lo == hi and not statuses:
            continue
        out.append({
            "id": row.id, "name": row.name, "type": row.type,
            "node_id": int(rows.node_id[hi - 1]) if hi > lo else row.node_id,
            "t": rows.t[lo:hi], **{name: values[lo:hi] for name, values in columns.items()},
            "status": statuses,
        })  # fmt: skip
    following = offset + per_page
    return {
        "from": start,
        "to": end,
        "step": step,
        "offset": offset,
        "next_offset": following if following < len(candidates) else None,
        "agents_total": len(candidates),
        "points": len(rows),
        "agents": out,
    }


@dataclass(frozen=True, slots=True)
class FrameAgent:
    key: int
    id: str
    node_id: int
    name: str
    type: str
    status: str


@dataclass(frozen=True, slots=True)
class Frame:
    """The swarm at ``at``: agents present, their newest positions, and the links between them."""

    at: float
    agents: list[FrameAgent]
    positions: Positions
    links: list[dict[str, Any]]
    total_agents: int
    offset: int
    next_offset: int | None

    def node_ids(self) -> dict[int, int]:
        """Agent key -> the node id it had at ``at`` (from its position row, else its current one)."""
        known = {a.key: a.node_id for a in self.agents}
        known.update(zip(self.positions.agent_key.tolist(), self.positions.node_id.tolist(), strict=True))
        return known


async def frame_at(
    conn: AsyncConnection,
    at: float,
    *,
    offset: int = 0,
    limit: int,
    lookback_s: float,
    link_decay_s: float,
    link_min_intensity: float,
) -> Frame:
    """The swarm as it was at ``at``; positions are each agent's newest no older than ``lookback_s``."""
    candidates = await _agent_rows(conn, at, at, None)
    status = await agents.statuses_at(conn, at, [row.key for row in candidates]) if candidates else {}
    present = [row for row in candidates if status.get(row.key, REMOVED) != REMOVED]
    page = present[offset : offset + limit]
    found = await positions.latest(conn, [row.key for row in page], at, since=at - lookback_s)
    members = [FrameAgent(row.key, row.id, row.node_id, row.name, row.type, status[row.key]) for row in page]
    ids = {a.id for a in members}
    kept = []
    for link in await links.among(conn, ids, until=at):
        last = link["last_message_at"]
        if last > at or link["intensity"] * math.exp(-(at - last) / link_decay_s) >= link_min_intensity:
            kept.append(link)
    following = offset + limit
    return Frame(at, members, found, kept, len(present), offset, following if following < len(present) else None)


@dataclass(frozen=True, slots=True)
class ReplayPage:
    """The next stretch of history after some moment: position rows by time, and status changes."""

    positions: Positions
    statuses: list[tuple[float, int, str]]
    """(at, agent key, status), by time; ``removed`` marks a departure."""
    agents: dict[int, FrameAgent]
    """The agents the status changes name (their current name, type and node id)."""
    end: float
    """Everything up to here is in this page; the next page starts after it."""


async def replay_page(conn: AsyncConnection, after: float, until: float, limit: int) -> ReplayPage:
    """History in ``(after, until]``: at most about ``limit`` rows, never splitting one sample."""
    rows = await positions.between(conn, after, until, limit)
    end = until
    if len(rows) >= limit:  # more may follow: end the page at its last whole sample
        last = float(rows.t[-1])
        earlier = np.flatnonzero(rows.t < last)
        rows = rows.take(earlier) if len(earlier) else await positions.at_time(conn, last)
        end = float(rows.t[-1])
    h = AgentStatusRow.__table__.c
    found = (await conn.execute(
        select(h.at, h.agent_key, h.status).where(h.at > after, h.at <= end).order_by(h.at, h.id)
    )).all()  # fmt: skip
    statuses = [(float(at), int(key), str(status)) for at, key, status in found]
    named = sorted({key for _, key, _ in statuses})
    a = AgentRow.__table__.c
    agent_rows = (await conn.execute(
        select(a.key, a.id, a.node_id, a.name, a.type, a.status).where(a.key.in_(named))
    )).all() if named else []  # fmt: skip
    members = {row.key: FrameAgent(row.key, row.id, row.node_id, row.name, row.type, row.status) for row in agent_rows}
    return ReplayPage(rows, statuses, members, end)
