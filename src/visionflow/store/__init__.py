"""History and the swarm's memory: SQLite by default, PostgreSQL at scale, written off the 60 Hz loop.

The server opens it (``open_store``), feeds it records and samples, and reads history and the
restore from it; operator commands (backups, restores, maintenance) use ``catalog`` for the
tables and their row counts and ``database.connect`` to reach the same database.
"""

from visionflow.store.catalog import HISTORY, STATE, TABLES, TableKind, TableSpec, row_counts
from visionflow.store.database import Database, connect, resolve_url
from visionflow.store.history import Frame, FrameAgent, HistoryLimits, frame_at, window_page
from visionflow.store.records import (
    AgentGone,
    AgentSeen,
    AlertSaved,
    Durable,
    KpiSample,
    LinkSeen,
    ParamsSaved,
    PositionSample,
    StatusChanged,
)
from visionflow.store.repos.agents import REMOVED
from visionflow.store.repos.positions import Positions
from visionflow.store.restore import RESTORED_SOURCES, Restored
from visionflow.store.service import Store, StoreConfig, StoreSettings, open_store
from visionflow.store.writer import StoreWriter, WriterConfig, describe

__all__ = [
    "HISTORY",
    "REMOVED",
    "RESTORED_SOURCES",
    "STATE",
    "TABLES",
    "AgentGone",
    "AgentSeen",
    "AlertSaved",
    "Database",
    "Durable",
    "Frame",
    "FrameAgent",
    "HistoryLimits",
    "KpiSample",
    "LinkSeen",
    "ParamsSaved",
    "PositionSample",
    "Positions",
    "Restored",
    "StatusChanged",
    "Store",
    "StoreConfig",
    "StoreSettings",
    "StoreWriter",
    "TableKind",
    "TableSpec",
    "WriterConfig",
    "connect",
    "describe",
    "frame_at",
    "open_store",
    "resolve_url",
    "row_counts",
    "window_page",
]
