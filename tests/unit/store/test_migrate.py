"""Migrations: shipped inside the package, applied up to the newest on an empty database of either kind."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

from sqlalchemy import inspect
from tests.unit.store.conftest import DbSettings

from visionflow.store import TABLES, connect, migrate, row_counts


def test_the_revisions_travel_in_the_wheel() -> None:
    data = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["visionflow"]
    shipped = {p for p in data if p.startswith("store/migrations")}
    assert {"store/migrations/*.py", "store/migrations/*.mako", "store/migrations/versions/*.py"} <= shipped
    assert (migrate.MIGRATIONS / "env.py").is_file() and migrate.head() == "0001"


def test_an_empty_database_is_upgraded_to_the_newest_revision_once(db_settings: DbSettings) -> None:
    async def go() -> None:
        db = connect(db_settings)
        try:
            assert await migrate.current(db) is None
            assert await migrate.upgrade(db) == migrate.head()
            assert await migrate.upgrade(db) == migrate.head()  # nothing left to do
            async with db.engine.connect() as conn:
                names = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
                assert {t.name for t in TABLES} <= names
                indexes = await conn.run_sync(lambda sync: {i["name"] for i in inspect(sync).get_indexes("agents")})
                assert "ix_agents_active" in indexes
                assert await row_counts(conn) == {t.name: 0 for t in TABLES}
        finally:
            await db.dispose()

    asyncio.run(go())
