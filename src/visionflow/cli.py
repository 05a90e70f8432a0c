"""The ``visionflow`` command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from visionflow import __version__
from visionflow.errors import ConfigError, StoreError

__all__ = ["app"]

app = typer.Typer(
    name="visionflow",
    help="Live 3D view of AI agent swarms, and the tools to operate it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class PhysicsFlag(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    reference = "reference"


class SourceFlag(StrEnum):
    simulated = "simulated"
    mcp = "mcp"
    push = "push"
    otlp = "otlp"


_FLAG_OF = {
    "agents": "--agents",
    "seed": "--seed",
    "host": "--host",
    "http_port": "--http-port",
    "ws_port": "--ws-port",
    "tick_hz": "--tick-hz",
    "physics": "--physics",
    "config": "--config",
    "log": "--log-level",
    "source": "--source",
    "mcp_command": "--mcp-command",
    "mcp_url": "--mcp-url",
    "mcp_transport": "--mcp-transport",
    "mcp_profile": "--mcp-profile",
    "mcp_poll_busy_s": "--mcp-poll-busy",
    "mcp_poll_idle_s": "--mcp-poll-idle",
    "mcp_poll_max_s": "--mcp-poll-max",
    "mcp_timeout_s": "--mcp-timeout",
    "mcp_env": "--mcp-env",
    "mcp_cwd": "--mcp-cwd",
    "data_dir": "--data-dir",
    "database_url": "--database-url",
}


def _pairs(items: list[str], field: str) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` -> ``{"A": "1", "B": "x=y"}``; ``ConfigError`` names an item without ``=``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(field, f"{item!r} is not KEY=VALUE")
        out[key] = value
    return out


def _version(value: bool) -> None:
    if value:
        typer.echo(f"visionflow {__version__}")
        raise typer.Exit()


_DataDir = Annotated[
    Path | None, typer.Option(help="Where the SQLite database and the store's spool live (default ./data).")
]
_DatabaseUrl = Annotated[
    str | None, typer.Option(help="A PostgreSQL URL to keep the store in instead of SQLite.", show_default=False)
]


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """VisionFlow."""


@app.command()
def serve(
    agents: Annotated[int | None, typer.Option(help="Simulated agents (1 to 100,000).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the simulated swarm.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    http_port: Annotated[int | None, typer.Option(help="Port of the HTTP API and web page.")] = None,
    ws_port: Annotated[int | None, typer.Option(help="Port of the binary WebSocket stream.")] = None,
    tick_hz: Annotated[float | None, typer.Option(help="Ticks per second of the physics and stream loop.")] = None,
    physics: Annotated[PhysicsFlag | None, typer.Option(help="Physics backend.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of settings.", envvar="VISIONFLOW_CONFIG")] = None,
    log_level: Annotated[
        str | None, typer.Option(help="Log level, e.g. info or 'info,visionflow.stream=debug'.")
    ] = None,
    source: Annotated[SourceFlag | None, typer.Option(help="Where agents come from.")] = None,
    mcp_command: Annotated[str | None, typer.Option(help="Spawn this MCP orchestrator and talk over stdio.")] = None,
    mcp_url: Annotated[str | None, typer.Option(help="MCP orchestrator URL (streamable HTTP, or SSE).")] = None,
    mcp_transport: Annotated[str | None, typer.Option(help="For --mcp-url: auto, http or sse.")] = None,
    mcp_profile: Annotated[
        str | None, typer.Option(help="Tool mapping: claude-flow, ruv-swarm, or a YAML file.")
    ] = None,
    mcp_poll_busy: Annotated[float | None, typer.Option(help="Seconds between polls while agents are busy.")] = None,
    mcp_poll_idle: Annotated[float | None, typer.Option(help="Seconds between polls while agents idle.")] = None,
    mcp_poll_max: Annotated[
        float | None, typer.Option(help="Longest interval polls that change nothing back off to.")
    ] = None,
    mcp_timeout: Annotated[float | None, typer.Option(help="Seconds one MCP tool call may take.")] = None,
    mcp_env: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE for the spawned orchestrator's environment (repeatable); it also gets ours."),
    ] = None,
    mcp_cwd: Annotated[Path | None, typer.Option(help="Working directory of the spawned orchestrator.")] = None,
    data_dir: _DataDir = None,
    database_url: _DatabaseUrl = None,
    store: Annotated[
        bool | None, typer.Option("--store/--no-store", help="Keep history and restore the swarm on start.")
    ] = None,
) -> None:
    """Run the server: simulated swarm, CPU physics, HTTP API and binary stream."""
    from visionflow.observability.logging import configure
    from visionflow.server.main import serve as run_server
    from visionflow.server.settings import load_settings

    flags: dict[str, Any] = {
        "agents": agents,
        "seed": seed,
        "host": host,
        "http_port": http_port,
        "ws_port": ws_port,
        "tick_hz": tick_hz,
        "physics": physics.value if physics else None,
        "log": log_level,
        "source": source.value if source else None,
        "mcp_command": mcp_command,
        "mcp_url": mcp_url,
        "mcp_transport": mcp_transport,
        "mcp_profile": mcp_profile,
        "mcp_poll_busy_s": mcp_poll_busy,
        "mcp_poll_idle_s": mcp_poll_idle,
        "mcp_poll_max_s": mcp_poll_max,
        "mcp_timeout_s": mcp_timeout,
        "mcp_cwd": mcp_cwd,
        "data_dir": data_dir,
        "database_url": database_url,
        "store": store,
    }
    try:
        if mcp_env:
            flags["mcp_env"] = _pairs(mcp_env, "mcp_env")
        settings = load_settings(flags, config)
        configure(settings.log, file=settings.log_file, max_bytes=settings.log_max_bytes, backups=settings.log_backups)
    except ConfigError as exc:
        flag = _FLAG_OF.get(exc.field, exc.field)
        typer.echo(f"error: {flag}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"error: --log-level: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(run_server(settings))
    except ConfigError as exc:  # raised while building the source (an MCP target or profile)
        typer.echo(f"error: {_FLAG_OF.get(exc.field, exc.field)}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except StoreError as exc:
        flag = "--database-url" if settings.database_url else "--data-dir"
        typer.echo(f"error: {flag}: {exc}", err=True)
        raise typer.Exit(1) from None


logs_app = typer.Typer(help="Query the JSON log files: the operations manual's log queries.", no_args_is_help=True)
app.add_typer(logs_app, name="logs")

_LogFile = Annotated[
    Path | None,
    typer.Option("--file", help="Log file (its rotated backups are read too).", envvar="VISIONFLOW_LOG_FILE"),
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _log_query(title: str, file: Path | None, since: str, as_json: bool, query: Callable[[Path, float], Any]) -> None:
    """Check the flags, run ``query(file, seconds)``, print its rows as a Rich table or JSON."""
    from rich.console import Console
    from rich.table import Table

    from visionflow.ops import logs

    if file is None:
        typer.echo("error: --file: no log file given; pass --file or set VISIONFLOW_LOG_FILE", err=True)
        raise typer.Exit(2)
    try:
        since_s = logs.parse_since(since)
    except ValueError as exc:
        typer.echo(f"error: --since: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        rows = query(file, since_s)
    except FileNotFoundError as exc:
        typer.echo(f"error: --file: {exc}", err=True)
        raise typer.Exit(2) from None
    dicts = logs.to_dicts(rows)
    if as_json:
        typer.echo(json.dumps(dicts, indent=2))
        return
    table = Table(title=f"{title} in the last {since} ({len(dicts)})")
    columns = list(dicts[0]) if dicts else ["(none)"]
    for column in columns:
        table.add_column(column, justify="right" if column.endswith(("count", "_ms", "duration", "_id")) else "left")
    for row in dicts:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console().print(table)


@logs_app.command("errors")
def logs_errors(
    since: Annotated[str, typer.Option(help="Window, e.g. 5m, 90s, 2h.")] = "5m",
    min_count: Annotated[int, typer.Option(min=1, help="Only groups with at least this many errors.")] = 1,
    file: _LogFile = None,
    as_json: _Json = False,
) -> None:
    """ERROR and FATAL lines grouped by component and message, most frequent first."""
    from visionflow.ops.logs import errors

    _log_query("errors", file, since, as_json, lambda path, s: errors(path, s, min_count=min_count))


@logs_app.command("slow")
def logs_slow(
    over_ms: Annotated[float, typer.Option(min=0, help="Processing time threshold in milliseconds.")] = 10.0,
    since: Annotated[str, typer.Option(help="Window, e.g. 15m.")] = "15m",
    file: _LogFile = None,
    as_json: _Json = False,
) -> None:
    """Ticks whose processing time was above the threshold, slowest first."""
    from visionflow.ops.logs import slow

    _log_query(f"ticks over {over_ms:g} ms", file, since, as_json, lambda path, s: slow(path, over_ms, s))


@logs_app.command("disconnects")
def logs_disconnects(
    since: Annotated[str, typer.Option(help="Window, e.g. 10m.")] = "10m",
    include_normal: Annotated[bool, typer.Option(help="Include normal closures too.")] = False,
    file: _LogFile = None,
    as_json: _Json = False,
) -> None:
    """WebSocket disconnects that were not a normal closure, oldest first."""
    from visionflow.ops.logs import disconnects

    _log_query("disconnects", file, since, as_json,
               lambda path, s: disconnects(path, s, include_normal=include_normal))  # fmt: skip


db_app = typer.Typer(help="The store's database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _db_settings(data_dir: Path | None, database_url: str | None, config: Path | None) -> Any:
    from visionflow.server.settings import load_settings

    try:
        return load_settings({"data_dir": data_dir, "database_url": database_url}, config)
    except ConfigError as exc:
        typer.echo(f"error: {_FLAG_OF.get(exc.field, exc.field)}: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _on_database(settings: Any, work: Callable[[Any], Any]) -> Any:
    """Run ``work(database)`` against the configured database; a failure to reach it exits 1, naming it."""
    from visionflow.store import connect

    try:
        db = connect(settings)
    except ConfigError as exc:
        typer.echo(f"error: {_FLAG_OF.get(exc.field, exc.field)}: {exc.message}", err=True)
        raise typer.Exit(2) from None

    async def go() -> Any:
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except Exception as exc:
        typer.echo(f"error: {db.display_url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                   err=True)  # fmt: skip
        raise typer.Exit(1) from None


_Config = Annotated[Path | None, typer.Option(help="YAML file of settings.", envvar="VISIONFLOW_CONFIG")]


@db_app.command("upgrade")
def db_upgrade(data_dir: _DataDir = None, database_url: _DatabaseUrl = None, config: _Config = None) -> None:
    """Apply every schema migration this version ships (the server also does this on start)."""
    from visionflow.store import migrate

    settings = _db_settings(data_dir, database_url, config)
    revision = _on_database(settings, migrate.upgrade)
    typer.echo(f"database at revision {revision} (newest shipped: {migrate.head()})")


@db_app.command("current")
def db_current(data_dir: _DataDir = None, database_url: _DatabaseUrl = None, config: _Config = None) -> None:
    """Print the database's schema revision and whether it is the newest; exit 1 when it is behind."""
    from visionflow.store import migrate

    settings = _db_settings(data_dir, database_url, config)
    revision = _on_database(settings, migrate.current)
    head = migrate.head()
    state = "up to date" if revision == head else "behind: run visionflow db upgrade"
    typer.echo(f"{revision or 'none (empty database)'} (newest shipped: {head}; {state})")
    if revision != head:
        raise typer.Exit(1)


bench_app = typer.Typer(help="Benchmarks of the hot paths, with peers run side by side.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


class GraphFlag(StrEnum):
    swarm = "swarm"
    ba = "ba"


@bench_app.command("physics")
def bench_physics(
    nodes: Annotated[str, typer.Option(help="Comma-separated node counts, e.g. 200,10000,100000.")] = "200,10000",
    graph: Annotated[GraphFlag, typer.Option(help="swarm (~1.4 edges per node) or ba (Barabasi-Albert, m=2).")] = (
        GraphFlag.swarm
    ),
    steps: Annotated[int, typer.Option(min=1, max=100_000, help="Steps timed per size (median reported).")] = 50,
    peers: Annotated[bool, typer.Option("--peers", help="Also run the installed peer libraries.")] = False,
    quality: Annotated[bool, typer.Option(help="With --peers: compare layout quality at equal wall time.")] = True,
    crossover: Annotated[
        bool, typer.Option("--crossover", help="Time exact all-pairs against Barnes-Hut at each size instead.")
    ] = False,
    node_modules: Annotated[
        Path | None,
        typer.Option(
            help="With --peers: the node_modules directory (or npm prefix) holding d3-force-3d. "
            "Default: ./bench/node_modules, then ./node_modules.",
            envvar="VISIONFLOW_NODE_MODULES",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Milliseconds per layout step, ours against peers, and layout quality at equal wall time."""
    from visionflow.bench import physics as benchmark

    try:
        sizes = [int(part) for part in nodes.split(",") if part.strip()]
    except ValueError:
        typer.echo(f"error: --nodes: expected comma-separated integers, got {nodes!r}", err=True)
        raise typer.Exit(2) from None
    if not sizes or any(not 2 <= n <= 10_000_000 for n in sizes):
        typer.echo("error: --nodes: each size must be between 2 and 10,000,000", err=True)
        raise typer.Exit(2)
    if peers and node_modules is not None and benchmark.find_node_modules(node_modules) is None:
        typer.echo(f"error: --node-modules: {node_modules} holds no {benchmark.D3_PACKAGE} "
                   f"(npm install --prefix {node_modules} {benchmark.D3_PACKAGE})", err=True)  # fmt: skip
        raise typer.Exit(2)
    if crossover:
        result = benchmark.crossover(sizes, graph.value, steps)
    else:
        result = benchmark.run(sizes, graph.value, steps, peers=peers, quality=quality, node_modules=node_modules)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        from visionflow.bench.report import render

        render(result)


if __name__ == "__main__":  # pragma: no cover
    app()
