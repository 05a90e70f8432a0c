"""Agent positions: written in bulk (COPY on PostgreSQL), read back as NumPy columns.

Reads return ``Positions``, one array per column, because the callers (history pages, frames,
replay) turn them into JSON arrays or 28-byte records whole; a Python object per row would
cost more than the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from visionflow.store.repos._sql import is_postgres

__all__ = ["COLUMNS", "Positions", "at_time", "between", "latest", "save", "window"]

COLUMNS = ("agent_key", "node_id", "t", "x", "y", "z", "vx", "vy", "vz")
_INSERT_SQLITE = f"INSERT INTO agent_positions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


@dataclass(frozen=True, slots=True)
class Positions:
    """Rows of ``agent_positions`` as columns."""

    agent_key: npt.NDArray[np.int64]
    node_id: npt.NDArray[np.uint32]
    t: npt.NDArray[np.float64]
    xyz: npt.NDArray[np.float32]
    """(N, 3) positions."""
    vxyz: npt.NDArray[np.float32]
    """(N, 3) velocities."""

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> Positions:
        if not rows:
            empty3 = np.empty((0, 3), dtype=np.float32)
            return cls(np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, np.float64), empty3, empty3.copy())
        # Plain tuples: NumPy reads a list of SQLAlchemy rows an element at a time, twenty times slower.
        data = np.array([tuple(r) for r in rows], dtype=np.float64)
        return cls(
            data[:, 0].astype(np.int64),
            data[:, 1].astype(np.uint32),
            np.ascontiguousarray(data[:, 2]),
            np.ascontiguousarray(data[:, 3:6], dtype=np.float32),
            np.ascontiguousarray(data[:, 6:9], dtype=np.float32),
        )

    @classmethod
    def concat(cls, parts: Sequence[Positions]) -> Positions:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls.from_rows([])
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("agent_key", "node_id", "t", "xyz", "vxyz"))
        )

    def take(self, index: npt.NDArray[Any]) -> Positions:
        return Positions(self.agent_key[index], self.node_id[index], self.t[index], self.xyz[index], self.vxyz[index])


async def save(conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    """Append rows of ``COLUMNS``: COPY on PostgreSQL (in the connection's transaction), executemany on SQLite."""
    if not rows:
        return
    if is_postgres(conn):
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table("agent_positions", records=rows, columns=COLUMNS)
    else:
        await conn.exec_driver_sql(_INSERT_SQLITE, rows)


async def _fetch(conn: AsyncConnection, sql: str, **params: Any) -> Positions:
    statement = text(sql)
    for name, value in params.items():
        if isinstance(value, list | tuple):
            statement = statement.bindparams(bindparam(name, expanding=True))
    result = await conn.execute(statement, params)
    return Positions.from_rows(result.all())


_SELECT = f"SELECT {', '.join('p.' + c for c in COLUMNS)} FROM agent_positions p"


async def latest(conn: AsyncConnection, agent_keys: Sequence[int], at: float, *, since: float) -> Positions:
    """Each agent's newest row at or before ``at`` and no older than ``since`` (one index seek per agent)."""
    parts = []
    for first in range(0, len(agent_keys), _KEYS_PER_QUERY):
        chunk = [int(k) for k in agent_keys[first : first + _KEYS_PER_QUERY]]
        bound: dict[str, Any]
        if is_postgres(conn):
            keys_table, bound = "SELECT unnest(CAST(:keys AS BIGINT[])) AS agent_key", {"keys": chunk}
        else:
            keys_table = (
                "SELECT column1 AS agent_key FROM (VALUES " + ", ".join(f"(:k{i})" for i in range(len(chunk))) + ")"
            )
            bound = {f"k{i}": k for i, k in enumerate(chunk)}
        sql = f"""{_SELECT} JOIN (
                SELECT k.agent_key, (SELECT max(q.t) FROM agent_positions q
                                     WHERE q.agent_key = k.agent_key AND q.t <= :at AND q.t >= :since) AS t
                FROM ({keys_table}) k
            ) m ON p.agent_key = m.agent_key AND p.t = m.t"""
        result = await conn.execute(text(sql), {"at": at, "since": since, **bound})
        parts.append(Positions.from_rows(result.all()))
    return Positions.concat(parts)


_KEYS_PER_QUERY = 5000
"""Bound parameters per statement stay under both databases' limits (SQLite's is 32,766)."""


async def _driver_rows(conn: AsyncConnection, where: str, args: list[Any]) -> Positions:
    """Rows straight from the driver, for the bulk reads (a SQLAlchemy row per record costs as much as the query).

    ``where`` uses ``{}`` for each argument; it becomes ``?`` on SQLite and ``$n`` on PostgreSQL.
    """
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if is_postgres(conn):
        sql = f"{_SELECT} {where.format(*(f'${i + 1}' for i in range(len(args))))}"
        return Positions.from_rows(await driver.fetch(sql, *args))
    sql = f"{_SELECT} {where.format(*('?' * len(args)))}"
    return Positions.from_rows(list(await driver.execute_fetchall(sql, args)))


async def window(conn: AsyncConnection, agent_keys: Sequence[int], start: float, end: float) -> Positions:
    """Rows of these agents with ``start <= t <= end``, by agent then time."""
    if not agent_keys:
        return Positions.from_rows([])
    keys = [int(k) for k in agent_keys]
    # Newest first within an agent, the order of the (agent_key, t DESC) index: no sort in the database.
    order = "ORDER BY p.agent_key, p.t DESC"
    if is_postgres(conn):
        where = f"WHERE p.agent_key = ANY({{}}::bigint[]) AND p.t >= {{}} AND p.t <= {{}} {order}"
        rows = await _driver_rows(conn, where, [keys, start, end])
    else:
        marks = ", ".join("{}" for _ in keys)
        where = f"WHERE p.agent_key IN ({marks}) AND p.t >= {{}} AND p.t <= {{}} {order}"
        rows = await _driver_rows(conn, where, [*keys, start, end])
    return rows.take(np.lexsort((rows.t, rows.agent_key)))


async def between(conn: AsyncConnection, after: float, until: float, limit: int) -> Positions:
    """Rows with ``after < t <= until``, by time, at most ``limit`` (replay reads history in such pages)."""
    return await _driver_rows(conn, "WHERE p.t > {} AND p.t <= {} ORDER BY p.t LIMIT {}", [after, until, limit])


async def at_time(conn: AsyncConnection, t: float) -> Positions:
    """Every row recorded at exactly ``t`` (one sample)."""
    return await _fetch(conn, f"{_SELECT} WHERE p.t = :t", t=t)
