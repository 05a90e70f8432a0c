"""Real servers on loopback for the alert tests: a bare TCP listener and a small HTTP service.

The listener counts every connection anyone opens to it, so "the playbook never contacted it"
is checked at the socket, below any HTTP parsing; it can also hold connections open without a
word, like a hung service.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson

BODY_MARKER = "BODY-MARKER-7f3a9c"
"""In every answer body of ``Service``: it must never show up in what the receiver reports."""


@dataclass
class Listener:
    """Accepts connections on 127.0.0.1 and never answers; ``release`` closes what it holds."""

    port: int = 0
    accepted: int = 0
    received: bytearray = field(default_factory=bytearray)
    closed_by_peer: int = 0
    _sock: socket.socket | None = None
    _held: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._held.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        """Read what the peer sends until it closes (an ``EOF`` is the peer giving up)."""
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                with self._lock:
                    self.closed_by_peer += 1
                return
            with self._lock:
                self.received += chunk

    def open_connections(self) -> int:
        with self._lock:
            return self.accepted - self.closed_by_peer

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.release()
        if self._sock is not None:
            self._sock.close()


@contextmanager
def listener() -> Iterator[Listener]:
    server = Listener()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _Handler(BaseHTTPRequestHandler):
    """/healthy 200, /redirect 302 to ``redirect_to``, anything else 503; POSTs are recorded."""

    posts: ClassVar[list[dict[str, Any]]]
    gets: ClassVar[list[str]]
    redirect_to: ClassVar[str]

    def do_GET(self) -> None:
        self.gets.append(self.path)
        body = f'{{"status":"x","secret":"{BODY_MARKER}"}}'.encode()
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
        else:
            self.send_response(200 if self.path == "/healthy" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.posts.append(orjson.loads(self.rfile.read(length)))
        body = BODY_MARKER.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Service:
    url: str
    posts: list[dict[str, Any]]
    gets: list[str]


@contextmanager
def service(redirect_to: str = "http://127.0.0.1:9/") -> Iterator[Service]:
    """An HTTP service on loopback with its own record of requests."""
    handler = type("Handler", (_Handler,), {"posts": [], "gets": [], "redirect_to": redirect_to})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Service(f"http://127.0.0.1:{server.server_address[1]}", handler.posts, handler.gets)
    finally:
        server.shutdown()
        server.server_close()
