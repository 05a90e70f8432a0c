"""A throw-away PostgreSQL database on the machine's server (127.0.0.1:5432, trust auth) per test.

Each database gets a unique name and is dropped afterwards, so tests running at the same
time on this shared server never see each other's rows. Without a server the tests that ask
for one skip, naming PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

__all__ = ["ADMIN_URL", "postgres_available", "temporary_database"]

HOST = os.environ.get("VISIONFLOW_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("VISIONFLOW_TEST_PG_PORT", "5432"))
USER = os.environ.get("VISIONFLOW_TEST_PG_USER", "postgres")
ADMIN_URL = f"postgresql://{USER}@{HOST}:{PORT}/postgres"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


_available: bool | None = None


def postgres_available() -> bool:
    global _available
    if _available is None:
        try:
            asyncio.run(_admin("SELECT 1"))
            _available = True
        except (OSError, asyncpg.PostgresError, TimeoutError):
            _available = False
    return _available


def temporary_database(port: int = PORT) -> Iterator[str]:
    """Create a uniquely named database, yield its URL (through ``port``), drop it afterwards."""
    if not postgres_available():
        pytest.skip(f"PostgreSQL is not reachable at {HOST}:{PORT} (user {USER})")
    name = f"vf_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://{USER}@{HOST}:{port}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
