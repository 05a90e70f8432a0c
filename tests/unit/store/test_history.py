"""History reads: a window downsampled and paged by agents, the swarm at a moment, replay pages."""

from __future__ import annotations

import asyncio

import numpy as np
from tests.unit.store.conftest import DbSettings, migrated

from visionflow.store import (
    REMOVED,
    AgentGone,
    AgentSeen,
    HistoryLimits,
    LinkSeen,
    StatusChanged,
    frame_at,
    window_page,
)
from visionflow.store.history import replay_page
from visionflow.store.partitions import Retention
from visionflow.store.repos import positions
from visionflow.store.writer import write_records

T0 = 1_900_000_000.0


def agent(key: int, status: str = "idle", at: float = T0) -> AgentSeen:
    return AgentSeen(key, f"a{key}", 2**31 + key, f"A{key}", "coder", status, "push", at, {})


async def fill(conn: object) -> None:
    """Three agents from T0; a2 busy at T0+30; a3 leaves at T0+50; positions once a second for 60 s."""
    joined = [agent(1), agent(2), agent(3)] + [StatusChanged(k, T0, "idle") for k in (1, 2, 3)]
    later = [StatusChanged(2, T0 + 30, "busy", "idle"), AgentGone(3, T0 + 50),
             StatusChanged(3, T0 + 50, REMOVED, "idle"), LinkSeen("a1", "a2", 5, 50, 0.9, T0 + 40)]  # fmt: skip
    await write_records(conn, joined + later)  # type: ignore[arg-type]
    await Retention(7).ensure(conn, [T0])  # type: ignore[arg-type]
    rows = [(k, 2**31 + k, T0 + s, float(k), float(s), 0.0, 0.0, 0.0, 0.0)
            for s in range(60) for k in (1, 2, 3) if not (k == 3 and s > 50)]  # fmt: skip
    await positions.save(conn, rows)  # type: ignore[arg-type]


def test_a_window_is_downsampled_to_its_step_and_paged_by_agents(db_settings: DbSettings) -> None:
    async def go() -> None:
        async with migrated(db_settings) as db, db.engine.begin() as conn:
            await fill(conn)
            limits = HistoryLimits(max_points=20)  # 10 steps a page: two agents per page
            page = await window_page(conn, start=T0, end=T0 + 59, step=6.0, agent_ids=None, offset=0, limits=limits)
            assert page["agents_total"] == 3 and page["next_offset"] == 2
            first, second = page["agents"]
            assert first["id"] == "a1" and first["t"].tolist() == [
                T0 + s for s in (5, 11, 17, 23, 29, 35, 41, 47, 53, 59)
            ]
            assert first["y"].tolist() == [5.0, 11.0, 17.0, 23.0, 29.0, 35.0, 41.0, 47.0, 53.0, 59.0]
            assert second["status"] == [{"at": T0, "status": "idle"}, {"at": T0 + 30, "status": "busy"}]
            rest = await window_page(conn, start=T0, end=T0 + 59, step=6.0, agent_ids=None, offset=2, limits=limits)
            (third,) = rest["agents"]
            assert rest["next_offset"] is None and third["id"] == "a3" and third["t"][-1] == T0 + 50
            assert third["status"][-1] == {"at": T0 + 50, "status": REMOVED}
            named = await window_page(conn, start=T0 + 10, end=T0 + 20, step=1.0, agent_ids=["a2", "nobody"],
                                      offset=0, limits=HistoryLimits())  # fmt: skip
            assert [a["id"] for a in named["agents"]] == ["a2"] and len(named["agents"][0]["t"]) == 11

    asyncio.run(go())


def test_a_frame_holds_the_agents_present_at_that_moment_with_their_newest_positions(db_settings: DbSettings) -> None:
    async def go() -> None:
        async with migrated(db_settings) as db, db.engine.begin() as conn:
            await fill(conn)
            kwargs = {"limit": 100, "lookback_s": 3600.0, "link_decay_s": 20.0, "link_min_intensity": 0.02}
            before = await frame_at(conn, T0 + 20.5, **kwargs)  # type: ignore[arg-type]
            assert [(a.id, a.status) for a in before.agents] == [("a1", "idle"), ("a2", "idle"), ("a3", "idle")]
            assert before.positions.t.tolist() == [T0 + 20] * 3 and before.links == []  # the link began at T0+40
            after = await frame_at(conn, T0 + 55, **kwargs)  # type: ignore[arg-type]
            assert [(a.id, a.status) for a in after.agents] == [("a1", "idle"), ("a2", "busy")]
            assert np.allclose(after.positions.xyz[:, 1], 55.0) and len(after.links) == 1
            late = await frame_at(conn, T0 + 40 + 200, **kwargs)  # type: ignore[arg-type]
            assert late.links == []  # 200 s of silence: decayed under the floor
            page = await frame_at(conn, T0 + 20, **{**kwargs, "limit": 2, "offset": 2})  # type: ignore[arg-type]
            assert [a.id for a in page.agents] == ["a3"] and page.next_offset is None and page.total_agents == 3

    asyncio.run(go())


def test_replay_pages_never_split_a_sample_and_carry_the_status_changes(db_settings: DbSettings) -> None:
    async def go() -> None:
        async with migrated(db_settings) as db, db.engine.begin() as conn:
            await fill(conn)
            page = await replay_page(conn, T0 + 28.5, T0 + 100, limit=7)  # 3 rows a sample: 2 whole samples
            assert sorted(set(page.positions.t.tolist())) == [T0 + 29, T0 + 30] and page.end == T0 + 30
            assert page.statuses == [(T0 + 30, 2, "busy")] and page.agents[2].id == "a2"
            tail = await replay_page(conn, T0 + 55, T0 + 100, limit=1000)
            assert len(tail.positions) == 8 and tail.end == T0 + 100

    asyncio.run(go())
