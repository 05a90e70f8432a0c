"""A store per test: SQLite in a temporary folder, and PostgreSQL in a throw-away database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.postgres import temporary_database

from visionflow.store import Database, connect, migrate


@dataclass(frozen=True)
class DbSettings:
    data_dir: Path
    database_url: str | None = None
    store_timeout_s: float = 2.0


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from temporary_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> DbSettings:
    """Settings for a fresh, empty database of each kind."""
    if request.param == "sqlite":
        return DbSettings(tmp_path)
    url = request.getfixturevalue("postgres_url")
    return DbSettings(tmp_path, url)


@pytest.fixture
def run() -> Callable[..., object]:
    """``run(coroutine)``: run it to the end in a fresh event loop."""
    return asyncio.run


@contextlib.asynccontextmanager
async def migrated(settings: DbSettings) -> AsyncIterator[Database]:
    """A migrated database, disposed of afterwards: ``async with migrated(settings) as db``."""
    db = connect(settings)
    await migrate.upgrade(db)
    try:
        yield db
    finally:
        await db.dispose()
