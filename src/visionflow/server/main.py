"""``visionflow serve``: the HTTP API and the binary stream in one event loop, stopped by a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator

import uvicorn

from visionflow.observability.logging import log_event
from visionflow.observability.tracing import configure_tracing
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings

__all__ = ["serve"]

log = logging.getLogger("visionflow.server")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then stop every stage in order."""
    tracing = configure_tracing(tick_every=settings.trace_tick_every)
    runtime = Runtime(settings)
    app = create_app(runtime)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.http_port, log_config=None, access_log=False, lifespan="off"
    )
    server = _Server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    http = asyncio.create_task(server.serve(), name="visionflow-http")
    log_event(log, "INFO", "server_ready", category="system",
              http=f"http://{settings.host}:{settings.http_port}",
              ws=f"ws://{settings.host}:{runtime.hub.bound_port}{settings.ws_path}")  # fmt: skip
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({http, stopper}, return_when=asyncio.FIRST_COMPLETED)
    log_event(log, "INFO", "shutting_down", category="system")
    server.should_exit = True
    await runtime.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await http
    stopper.cancel()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    tracing.shutdown()
    if http.done() and not http.cancelled() and http.exception() is not None:
        raise http.exception()  # type: ignore[misc]
