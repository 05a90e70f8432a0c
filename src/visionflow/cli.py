"""The ``visionflow`` command."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from visionflow import __version__
from visionflow.errors import ConfigError

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
    "mcp_timeout_s": "--mcp-timeout",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"visionflow {__version__}")
        raise typer.Exit()


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
    mcp_timeout: Annotated[float | None, typer.Option(help="Seconds one MCP tool call may take.")] = None,
) -> None:
    """Run the server: simulated swarm, CPU physics, HTTP API and binary stream."""
    from visionflow.observability.logging import configure
    from visionflow.server.main import serve as run_server
    from visionflow.server.settings import load_settings

    flags = {
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
        "mcp_timeout_s": mcp_timeout,
    }
    try:
        settings = load_settings(flags, config)
        configure(settings.log)
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


if __name__ == "__main__":  # pragma: no cover
    app()
