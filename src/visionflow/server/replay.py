"""History as a stream: what a replaying client is sent, read from the store a page at a time.

First the swarm as it was at the start (an ``agents`` snapshot and a full frame of every
agent's newest position), then every stored sample in time order as an ordinary binary frame
(each one holds the agents that moved, as the store wrote them), with ``agents`` news before
it for agents that joined, changed status or left since the previous one. Replay stops at the
moment it was asked for; the hub then puts the client back on the live stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from visionflow.protocol import messages
from visionflow.protocol.binary import encode
from visionflow.store import REMOVED, Frame, FrameAgent, Positions, Store, frame_at
from visionflow.store.history import replay_page
from visionflow.stream import ReplayItem

__all__ = ["HistoryReplay"]

PAGE_ROWS = 20_000
"""Position rows read from the store at a time: what one replay holds in memory at most (about 1 MB)."""
FRAME_AGENTS = 100_000


def _agent(agent: FrameAgent, node_id: int) -> dict[str, Any]:
    return {"id": agent.id, "node_id": node_id, "name": agent.name, "type": agent.type, "status": agent.status}


def _frame_bytes(rows: Positions) -> bytes:
    return encode(rows.node_id.astype(np.uint32), np.ascontiguousarray(rows.xyz), np.ascontiguousarray(rows.vxyz))


class HistoryReplay:
    """The hub's replay feed over the store (``store()`` is None while the store is off)."""

    def __init__(
        self,
        store: Callable[[], Store | None],
        *,
        lookback_s: float,
        link_decay_s: float,
        link_min_intensity: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.lookback_s = lookback_s
        self.link_decay_s = link_decay_s
        self.link_min_intensity = link_min_intensity
        self._clock = clock

    async def __call__(self, start: float) -> AsyncIterator[ReplayItem]:
        store = self._store()
        if store is None:
            raise RuntimeError("the store is off")
        until = self._clock()
        frame: Frame = await store.read(
            lambda conn: frame_at(conn, start, limit=FRAME_AGENTS, lookback_s=self.lookback_s,
                                  link_decay_s=self.link_decay_s, link_min_intensity=self.link_min_intensity)
        )  # fmt: skip
        node_of = frame.node_ids()
        by_id = {a.id: node_of[a.key] for a in frame.agents}
        links = [{**link, "source_node": by_id.get(link["source"]), "target_node": by_id.get(link["target"])}
                 for link in frame.links]  # fmt: skip
        snapshot = messages.agents_message(0, full=True, agents=[_agent(a, node_of[a.key]) for a in frame.agents],
                                           links=links, link_decay_s=self.link_decay_s).encode()  # fmt: skip
        yield ReplayItem(start, (snapshot,), _frame_bytes(frame.positions), len(frame.positions), True)
        cursor = start
        while cursor < until:
            page = await store.read(lambda conn, after=cursor: replay_page(conn, after, until, PAGE_ROWS))  # type: ignore[misc]
            rows = page.positions
            times = np.unique(rows.t) if len(rows) else np.empty(0)
            statuses = page.statuses
            next_status = 0
            starts = np.searchsorted(rows.t, times, side="left")
            ends = np.searchsorted(rows.t, times, side="right")
            for t, lo, hi in zip(times.tolist(), starts.tolist(), ends.tolist(), strict=True):
                sample = rows.take(np.arange(lo, hi))
                node_of.update(zip(sample.agent_key.tolist(), sample.node_id.tolist(), strict=True))
                upto = next_status
                while upto < len(statuses) and statuses[upto][0] <= t:
                    upto += 1
                news = self._news(statuses[next_status:upto], page.agents, node_of)
                next_status = upto
                yield ReplayItem(t, news, _frame_bytes(sample), len(sample), False)
            rest = statuses[next_status:]
            if rest:
                yield ReplayItem(rest[-1][0], self._news(rest, page.agents, node_of), None, 0, False)
            cursor = page.end

    @staticmethod
    def _news(
        changes: list[tuple[float, int, str]], agents: dict[int, FrameAgent], node_of: dict[int, int]
    ) -> tuple[bytes, ...]:
        """One ``agents`` message for a run of status changes (joins, new statuses, departures)."""
        if not changes:
            return ()
        upserts: dict[int, dict[str, Any]] = {}
        removed: list[int] = []
        for _, key, status in changes:
            agent = agents.get(key)
            if agent is None:
                continue
            node_id = node_of.get(key, agent.node_id)
            if status == REMOVED:
                upserts.pop(key, None)
                removed.append(node_id)
            else:
                upserts[key] = {**_agent(agent, node_id), "status": status}
        if not upserts and not removed:
            return ()
        return (
            messages.agents_message(0, full=False, agents=list(upserts.values()), links=(), removed=removed).encode(),
        )
