"""Schema migrations with Alembic, from the revisions shipped inside the package.

The server upgrades to the newest revision on start; ``visionflow db upgrade`` and
``visionflow db current`` do the same by hand. Revisions live in ``store/migrations/versions``
and travel in the wheel as package data, so an installed server can migrate its database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from visionflow.store.database import Database

__all__ = ["MIGRATIONS", "current", "head", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(db: Database | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if db is not None:
        # Only the alembic command line reads it (the server hands over its own connection); '%' is
        # ConfigParser's interpolation mark.
        config.set_main_option("sqlalchemy.url", db.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision the package ships."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return revision


async def upgrade(db: Database, revision: str = "head") -> str | None:
    """Apply every revision up to ``revision``; returns the revision the database is at afterwards."""
    config = _config(db)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)
    return await current(db)


async def current(db: Database) -> str | None:
    """The revision the database is at (None before the first migration)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)
