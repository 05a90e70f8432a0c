"""Which database, and how to connect to it: SQLite in the data directory unless a URL names PostgreSQL.

SQLite runs in WAL mode (readers never wait for the writer) with ``synchronous=FULL``, so a
commit has reached the disk when it returns: a push batch is acknowledged only after that.
A connection that finds the file locked waits ``busy_timeout_s`` and then fails, so a stuck
lock turns into a failed write (and the writer spools) instead of a hung one.

PostgreSQL is reached with asyncpg; connects and statements carry deadlines for the same
reason. The URL is the operator's (a flag, the environment or the YAML file), never a client's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from visionflow.errors import ConfigError

__all__ = ["SQLITE_FILE", "Database", "DatabaseSettings", "connect", "resolve_url"]

SQLITE_FILE = "visionflow.db"
"""The database file's name in the data directory."""

_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class DatabaseSettings(Protocol):
    """What choosing and reaching the database needs (``server.settings.Settings`` has it)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def database_url(self) -> str | None: ...
    @property
    def store_timeout_s(self) -> float: ...


def resolve_url(database_url: str | None, data_dir: Path) -> URL:
    """The async URL to use: ``database_url`` with its driver made async, or SQLite in ``data_dir``.

    Raises ``ConfigError`` naming ``database_url`` for a URL that is not PostgreSQL or SQLite.
    """
    if not database_url:
        return URL.create("sqlite+aiosqlite", database=str(Path(data_dir) / SQLITE_FILE))
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError("database_url", "not a database URL (e.g. postgresql://user@host:5432/visionflow)") from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError("database_url", f"unsupported database {url.drivername!r}: use postgresql:// or sqlite://")
    if driver.startswith("sqlite") and not url.database:
        raise ConfigError("database_url", "an in-memory SQLite database would lose everything: name a file")
    return url.set(drivername=driver)


@dataclass(slots=True)
class Database:
    """An async engine and what it points at."""

    engine: AsyncEngine
    url: URL

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    @property
    def display_url(self) -> str:
        """The URL with its password masked, for logs, health and backups' manifests."""
        return self.url.render_as_string(hide_password=True)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", f"busy_timeout={busy_timeout_ms}"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    return on_connect


def connect(settings: DatabaseSettings, *, pool_size: int = 4) -> Database:
    """An engine for the configured database; creates the data directory for SQLite.

    Nothing is connected yet: the first query (or the migration) opens the first connection.
    """
    url = resolve_url(settings.database_url, settings.data_dir)
    timeout = settings.store_timeout_s
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": timeout}, pool_size=pool_size, max_overflow=2)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(int(timeout * 1000)))
    else:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=2,
            pool_pre_ping=True,
            pool_timeout=timeout,
            connect_args={
                "timeout": timeout,
                "command_timeout": timeout,
                "server_settings": {"application_name": "visionflow"},
            },
        )
    return Database(engine, url)
