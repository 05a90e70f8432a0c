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
    asyncio.run(run_server(settings))


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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Milliseconds per layout step, ours against peers, and layout quality at equal wall time."""
    import json

    from visionflow.physics import benchmark

    try:
        sizes = [int(part) for part in nodes.split(",") if part.strip()]
    except ValueError:
        typer.echo(f"error: --nodes: expected comma-separated integers, got {nodes!r}", err=True)
        raise typer.Exit(2) from None
    if not sizes or any(not 2 <= n <= 10_000_000 for n in sizes):
        typer.echo("error: --nodes: each size must be between 2 and 10,000,000", err=True)
        raise typer.Exit(2)
    if crossover:
        result = benchmark.crossover(sizes, graph.value, steps)
    else:
        result = benchmark.run(sizes, graph.value, steps, peers=peers, quality=quality)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        from visionflow.physics.benchmark_report import render

        render(result)


if __name__ == "__main__":  # pragma: no cover
    app()
