"""What every repository needs: the dialect's INSERT (for its ON CONFLICT) and text PostgreSQL accepts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert", "is_postgres", "storable"]


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def insert(conn: AsyncConnection, table: Table) -> Any:
    """``INSERT`` of the connection's dialect, which has ``on_conflict_do_update``/``do_nothing``."""
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


def storable(value: Any) -> Any:
    """``value`` with NUL characters replaced: PostgreSQL refuses them in text and JSON, SQLite does not.

    Applied on both, so a record reads back the same whichever database kept it.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value
