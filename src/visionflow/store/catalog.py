"""The tables, what each one holds, and how many rows each has (for backups, restores and reports).

``STATE`` tables are what the server restores on start: lose them and the swarm, its
parameters or its alerts are gone. ``HISTORY`` tables are the record of what happened:
positions, status changes and KPI samples; a partial restore leaves them alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import func, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["HISTORY", "STATE", "TABLES", "TableKind", "TableSpec", "row_counts"]


class TableKind(enum.StrEnum):
    STATE = "state"
    HISTORY = "history"


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    kind: TableKind
    about: str


TABLES = (
    TableSpec("agents", TableKind.STATE, "every agent seen, current and past, with its last known fields"),
    TableSpec("communication_links", TableKind.STATE, "each pair's last known link state"),
    TableSpec("physics_params", TableKind.STATE, "the layout's parameter sets, versioned"),
    TableSpec("alerts", TableKind.STATE, "alerts received and the playbook's actions"),
    TableSpec("agent_status_history", TableKind.HISTORY, "each status an agent went through, and departures"),
    TableSpec("agent_positions", TableKind.HISTORY, "positions and velocities over time (partitioned by day)"),
    TableSpec("kpi_samples", TableKind.HISTORY, "one row a minute of the capacity-planning figures"),
)
STATE = tuple(t.name for t in TABLES if t.kind is TableKind.STATE)
HISTORY = tuple(t.name for t in TABLES if t.kind is TableKind.HISTORY)


async def row_counts(conn: AsyncConnection, names: tuple[str, ...] = STATE + HISTORY) -> dict[str, int]:
    """Exact row counts of ``names`` (on PostgreSQL the positions count covers every partition)."""
    known = {t.name for t in TABLES}
    counts = {}
    for name in names:
        if name not in known:
            raise ValueError(f"unknown table {name!r}")
        counts[name] = int((await conn.execute(select(func.count()).select_from(table(name)))).scalar_one())
    return counts
