"""A real ``visionflow serve`` process on free ports, for tests that go over the network."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["LiveServer", "free_port", "start_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    http: str
    ws: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.http + path, timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    log: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 90,
    ports: tuple[int, int] | None = None,
) -> LiveServer:
    """Start ``visionflow serve`` on free ports (or on ``ports``: http, ws, to restart in place).

    Its store lives in a ``data`` folder beside ``log`` unless ``env`` names another
    (``VISIONFLOW_DATA_DIR``), so every server starts empty and a restart finds what it left.
    """
    http_port, ws_port = ports or (free_port(), free_port())
    env = {"VISIONFLOW_DATA_DIR": str(log.parent / "data"), **(env or {})}
    command = [sys.executable, "-m", "visionflow.cli", "serve", "--http-port", str(http_port),
               "--ws-port", str(ws_port), *args]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
    server = LiveServer(f"http://127.0.0.1:{http_port}", f"ws://127.0.0.1:{ws_port}/ws", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_text()}")
        try:
            if server.get("/api/health").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {timeout} s:\n{server.log_text()}")
