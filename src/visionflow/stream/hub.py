"""The binary WebSocket hub: one encode per tick, the same bytes to every client.

A dedicated ``websockets`` listener in the server's event loop. Each tick the pipeline
hands over the tick's messages once; the hub writes them to every client whose socket is
keeping up. A client whose write buffer is over the limit gets nothing (frames are
dropped, never queued) and is marked out of sync; once it drains it receives a fresh
snapshot and full frame, and if it stays stalled past ``stall_timeout_s`` it is closed.

Client lifecycle:  SYNCING --snapshot sent--> STREAMING --buffer full--> STALLED
                   STALLED --drained--> SYNCING;  any --closed/timeout--> CLOSED
                   STREAMING --{"type":"replay"}--> REPLAYING --{"type":"live"} or history ends--> SYNCING
(SYNCING --buffer full--> STALLED too: a client can fall behind before its snapshot goes out.)

A replaying client gets no live ticks: a task of its own sends it recorded history (a
snapshot, then the stored frames, paced by the speed it asked for) from the ``replay`` feed
the server provides. That task waits for the client's socket rather than dropping frames,
since it is the only one waiting; it reads history a page at a time, so memory stays bounded.

Each arrow is a method of ``Client`` that checks where the client stands and raises on any
other move: ``RuntimeError`` for a move the lifecycle does not have (a bug in the hub),
``StreamClosedError`` (carrying the close code) for anything asked of a closed client.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from visionflow.errors import FrameError, StreamClosedError
from visionflow.observability.logging import log_event
from visionflow.observability.metrics import Metrics
from visionflow.protocol import messages

__all__ = [
    "Broadcast",
    "Client",
    "ClientState",
    "CloseCode",
    "HubSettings",
    "ReplayFeed",
    "ReplayItem",
    "Snapshot",
    "StreamHub",
    "TickMessages",
    "disconnect_reason",
]

log = logging.getLogger("visionflow.stream")


class CloseCode(enum.IntEnum):
    GOING_AWAY = 1001
    ABNORMAL = 1006
    """Never sent: the connection ended without a closing handshake (a stalled client is cut off)."""
    POLICY = 1008
    TRY_AGAIN_LATER = 1013


class ClientState(enum.Enum):
    SYNCING = "syncing"
    STREAMING = "streaming"
    STALLED = "stalled"
    REPLAYING = "replaying"
    CLOSED = "closed"


class Broadcast(Protocol):
    """Writes one message to many connections without waiting (``websockets.broadcast``; a recorder in tests)."""

    def __call__(
        self, connections: Iterable[ServerConnection], message: bytes, *, text: bool | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class HubSettings:
    host: str = "127.0.0.1"
    port: int = 3002
    path: str = "/ws"
    max_connections: int = 1000
    max_buffer_bytes: int = 1 << 20
    """A client with more than this waiting in its write buffer gets no new frames."""
    stall_timeout_s: float = 10.0
    """A client stalled this long is disconnected."""
    compression: bool = False
    """Per-message deflate; off by default because every client's copy is compressed separately."""
    max_messages_per_s: float = 50.0
    """Messages a client may send per second (burst of the same size); a flooder is disconnected."""
    max_replays: int = 8
    """Clients replaying history at once; more are told to try again later."""
    max_replay_speed: float = 1000.0


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One step of a replay: text messages, then a frame, due when history reaches ``at``."""

    at: float
    text: tuple[bytes, ...]
    frame: bytes | None
    records: int
    full: bool


class ReplayFeed(Protocol):
    """Recorded history from ``start`` on, a step at a time (the server reads it from the store)."""

    def __call__(self, start: float) -> AsyncIterator[ReplayItem]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a client needs to start from nothing: agent metadata and a full frame."""

    seq: int
    agents_json: bytes
    frame: bytes
    records: int


@dataclass(frozen=True, slots=True)
class TickMessages:
    """What one tick sends, encoded once: optional JSON text, then the binary frame."""

    seq: int
    text: tuple[bytes, ...]
    frame: bytes | None
    full: bool
    records: int


@dataclass(slots=True, eq=False)
class Client:
    """One connected browser: where it stands in the lifecycle, and what it was sent."""

    connection: ServerConnection
    remote: str
    connected_at: float
    state: ClientState = ClientState.SYNCING
    stalled_since: float | None = None
    frames_sent: int = 0
    frames_dropped: int = 0
    close_reason: str | None = None
    """Set when the server closes the connection; otherwise the close code names the reason."""
    close_code: int | None = None
    """The close code, once closed (``CloseCode.ABNORMAL`` when the connection just ended)."""
    connection_id: int = 0
    frame_markers: bool = False
    """Asked for a ``{"type": "frame"}`` marker before every binary frame, not only full ones."""
    allowance: float = 0.0
    """Token bucket for messages from the client, refilled at ``max_messages_per_s``."""
    allowance_at: float = 0.0
    replay: asyncio.Task[None] | None = None
    """The task sending this client history, while it replays."""
    extra: dict[str, Any] = field(default_factory=dict)

    def buffered(self) -> int:
        transport = self.connection.transport
        return 0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()

    # ------------------------------------------------------------ transitions
    def _move(self, to: ClientState, *allowed_from: ClientState) -> None:
        self.ensure_open()
        if self.state not in allowed_from:
            raise RuntimeError(f"client {self.connection_id}: no move from {self.state.value} to {to.value}")
        self.state = to

    def synced(self) -> None:
        """A snapshot and full frame went out: SYNCING -> STREAMING."""
        self._move(ClientState.STREAMING, ClientState.SYNCING)

    def stall(self, now: float) -> None:
        """Its write buffer is over the limit: STREAMING (or SYNCING) -> STALLED, frames dropped from now."""
        self._move(ClientState.STALLED, ClientState.STREAMING, ClientState.SYNCING)
        self.stalled_since = now

    def drained(self) -> None:
        """Its buffer is back under the limit: STALLED -> SYNCING, to be sent a fresh snapshot."""
        self._move(ClientState.SYNCING, ClientState.STALLED)
        self.stalled_since = None

    def start_replay(self) -> None:
        """It asked for history: STREAMING (or SYNCING) -> REPLAYING, out of the live broadcast."""
        self._move(ClientState.REPLAYING, ClientState.STREAMING, ClientState.SYNCING)

    def back_to_live(self) -> None:
        """Its replay ended or it asked for live: REPLAYING -> SYNCING, to be sent a fresh snapshot."""
        self._move(ClientState.SYNCING, ClientState.REPLAYING)

    def close(self, code: int, reason: str | None = None) -> None:
        """Any open state -> CLOSED; ``reason`` is the server's when it closes the connection itself."""
        self._move(ClientState.CLOSED, ClientState.SYNCING, ClientState.STREAMING, ClientState.STALLED,
                   ClientState.REPLAYING)  # fmt: skip
        self.close_code = code
        self.close_reason = reason

    def ensure_open(self) -> None:
        """Raise ``StreamClosedError`` (with the close code) if the client is closed."""
        if self.state is ClientState.CLOSED:
            raise StreamClosedError(self.close_code or CloseCode.ABNORMAL, self.close_reason or "")


_CLOSE_REASONS = {1000: "normal_closure", 1001: "going_away", 1002: "protocol_error", 1003: "protocol_error",
                  1007: "protocol_error", 1008: "policy_violation", 1009: "message_too_big", 1011: "server_error",
                  1006: "abnormal_closure"}  # fmt: skip


def disconnect_reason(client: Client) -> str:
    """A bounded reason for the disconnections metric and log: the server's, else the close code's."""
    if client.close_reason is not None:
        return client.close_reason
    code = client.close_code
    return "abnormal_closure" if code is None else _CLOSE_REASONS.get(code, "other")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class StreamHub:
    """Fans the tick's messages out to every WebSocket client."""

    def __init__(
        self,
        settings: HubSettings,
        metrics: Metrics,
        snapshot: Callable[[], Snapshot],
        *,
        clock: Callable[[], float] = time.monotonic,
        send: Broadcast = broadcast,
        replay: ReplayFeed | None = None,
    ) -> None:
        """``snapshot`` builds what a joining or resyncing client starts from; ``send`` writes to sockets;
        ``replay`` serves clients that ask for history (without it they are told it is unavailable)."""
        self.settings = settings
        self.replay_feed = replay
        self.metrics = metrics
        self._snapshot = snapshot
        self._clock = clock
        self._send = send
        self._clients: dict[ServerConnection, Client] = {}
        self._server: Server | None = None
        self._sent_at: OrderedDict[int, float] = OrderedDict()
        self._next_connection_id = 0
        self.bound_port: int | None = None

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._server = await serve(
            self.handle,
            self.settings.host,
            self.settings.port,
            compression="deflate" if self.settings.compression else None,
            max_size=messages.MAX_CLIENT_MESSAGE_BYTES,
            process_request=self._check_path,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
        )
        sockets = list(self._server.sockets)
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.settings.port
        log_event(log, "INFO", "stream_listening", category="system",
                  host=self.settings.host, port=self.bound_port, path=self.settings.path)  # fmt: skip

    async def stop(self) -> None:
        if self._server is None:
            return
        for client in list(self._clients.values()):
            if client.replay is not None:
                client.replay.cancel()
            if client.state is not ClientState.CLOSED:
                client.close(CloseCode.GOING_AWAY, "server_shutdown")
        self._server.close(close_connections=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)
        self._server = None

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != self.settings.path:
            return connection.respond(404, f"no WebSocket at {request.path}; use {self.settings.path}\n")
        return None

    # ---------------------------------------------------------------- clients
    @property
    def client_count(self) -> int:
        return len(self._clients)

    def clients(self) -> list[Client]:
        return list(self._clients.values())

    async def handle(self, connection: ServerConnection) -> None:
        """Serve one connection until it closes: snapshot first, then every tick, and its messages."""
        remote = str(connection.remote_address)
        if len(self._clients) >= self.settings.max_connections:
            self.metrics.websocket_disconnections.inc(1, "server_full")
            log_event(log, "WARN", "connection_refused_full", category="performance",
                      remote=remote, limit=self.settings.max_connections)  # fmt: skip
            await connection.close(CloseCode.TRY_AGAIN_LATER, "server full")
            return
        now = self._clock()
        self._next_connection_id += 1
        client = Client(connection, remote, now, connection_id=self._next_connection_id,
                        allowance=self.settings.max_messages_per_s, allowance_at=now)  # fmt: skip
        self._clients[connection] = client
        try:
            self._sync([client])
            log_event(log, "DEBUG", "client_connected", remote=remote, clients=len(self._clients))
            async for raw in connection:
                if not self._admit(client):
                    client.close(CloseCode.POLICY, "rate_limited")
                    await connection.close(CloseCode.POLICY, "too many messages")
                    break
                self._on_message(client, raw)
        except (ConnectionClosed, StreamClosedError):
            pass  # the peer went away, or the server closed the client while its messages were read
        finally:
            if client.replay is not None:
                client.replay.cancel()
            if client.state is not ClientState.CLOSED:
                client.close(connection.close_code or CloseCode.ABNORMAL)
            self._clients.pop(connection, None)
            reason = disconnect_reason(client)
            self.metrics.websocket_disconnections.inc(1, reason)
            log_event(log, "INFO", "client_disconnected", category="application", event_type="disconnect",
                      connection_id=client.connection_id, remote=remote, disconnect_reason=reason,
                      session_duration=round(self._clock() - client.connected_at, 3),
                      frames_sent=client.frames_sent, dropped=client.frames_dropped)  # fmt: skip

    def _admit(self, client: Client) -> bool:
        """Take one token from the client's bucket; False when it is empty."""
        rate = self.settings.max_messages_per_s
        now = self._clock()
        client.allowance = min(rate, client.allowance + (now - client.allowance_at) * rate)
        client.allowance_at = now
        if client.allowance < 1.0:
            return False
        client.allowance -= 1.0
        return True

    def _on_message(self, client: Client, raw: str | bytes) -> None:
        self.metrics.network_received.inc(len(raw))
        try:
            message = messages.parse_client_message(raw)
        except FrameError as exc:
            self.metrics.errors.labels("stream").inc()
            self._send_now(client, messages.error("bad_message", str(exc)).encode())
            return
        if message["type"] == "ping":
            seq = message.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                sent = self._sent_at.get(seq)
                if sent is not None:
                    ms = (self._clock() - sent) * 1000.0
                    self.metrics.websocket_latency.observe(ms)
                    self.metrics.websocket_latency_window.record(ms)
            self._send_now(client, messages.dumps({"type": "pong", "seq": seq, "t": message.get("t")}).encode())
        elif message["type"] == "subscribe":
            markers = message.get("frame_markers")
            if not isinstance(markers, bool):
                reply = messages.error("bad_message", "field 'frame_markers' must be a boolean")
                self._send_now(client, reply.encode())
                return
            client.frame_markers = markers
        elif message["type"] == "replay":
            self._start_replay(client, message)
        elif message["type"] == "live":
            if client.replay is not None:
                client.replay.cancel()
        else:
            self._send_now(client, messages.error("unknown_type", f"unknown message type {message['type']!r}").encode())

    # ----------------------------------------------------------------- replay
    @property
    def replaying(self) -> int:
        return sum(1 for c in self._clients.values() if c.replay is not None)

    def _start_replay(self, client: Client, message: dict[str, Any]) -> None:
        start: Any = message.get("from")
        speed: Any = message.get("speed", 1.0)
        fastest = self.settings.max_replay_speed
        problem = None
        if self.replay_feed is None:
            problem = ("replay_unavailable", "this server keeps no history (store: false)")
        elif not _is_number(start) or not math.isfinite(start):
            problem = ("bad_message", "field 'from' must be a number of Unix seconds")
        elif not _is_number(speed) or not 0 < speed <= fastest:
            problem = ("bad_message", f"field 'speed' must be a number above 0, at most {fastest:g}")
        elif client.replay is None and self.replaying >= self.settings.max_replays:
            problem = ("replay_busy", f"{self.settings.max_replays} clients are replaying already (max_replays)")
        elif client.state is ClientState.STALLED:
            problem = ("replay_refused", "the connection is not keeping up")
        if problem is not None:
            self._send_now(client, messages.error(*problem).encode())
            return
        if client.replay is not None:
            client.replay.cancel()  # a new start point: the old replay makes way, the client stays out of live
        else:
            client.start_replay()
        client.replay = asyncio.get_running_loop().create_task(self._replay(client, float(start), float(speed)))

    async def _replay(self, client: Client, start: float, speed: float) -> None:
        """Send history from ``start`` at ``speed``, then put the client back on the live stream."""
        assert self.replay_feed is not None
        me = asyncio.current_task()
        began = self._clock()
        seq = 0
        state = "ended"
        try:
            self._send_now(client, messages.dumps({"type": "replay", "state": "started", "from": start,
                                                   "speed": speed}).encode())  # fmt: skip
            async for item in self.replay_feed(start):
                delay = began + (item.at - start) / speed - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._wait_for_room(client)
                seq += 1
                conn = [client.connection]
                for text in item.text:
                    self._send(conn, text, text=True)
                if item.frame is not None:
                    marker = messages.frame_marker(seq, item.records, full=item.full, at=item.at).encode()
                    self._send(conn, marker, text=True)
                    self._send(conn, item.frame)
                    client.frames_sent += 1
                    self.metrics.frames_sent.inc()
                    self.metrics.binary_bytes_transmitted.inc(len(item.frame))
                self.metrics.network_sent.inc(sum(len(t) for t in item.text) + len(item.frame or b""))
        except asyncio.CancelledError:
            state = "stopped"
            if client.replay is not me:
                raise  # replaced by a newer replay, which owns the client now
        except StreamClosedError:
            return
        except Exception as exc:  # the history could not be read: say so, and go back to live
            state = "failed"
            self.metrics.errors.labels("stream").inc()
            log_event(log, "WARN", "replay_failed", category="system", remote=client.remote, error=repr(exc)[:300])
        if client.replay is me:
            client.replay = None
        if client.state is ClientState.REPLAYING:
            self._send_now(client, messages.dumps({"type": "replay", "state": state, "frames": seq}).encode())
            client.back_to_live()  # the next tick sends it a fresh snapshot and full frame

    async def _wait_for_room(self, client: Client) -> None:
        """Wait while the client's socket holds more than the buffer limit; past the stall timeout, close it."""
        since = None
        while client.buffered() > self.settings.max_buffer_bytes:
            client.ensure_open()
            now = self._clock()
            since = now if since is None else since
            if now - since > self.settings.stall_timeout_s:
                client.close(CloseCode.ABNORMAL, "stalled")
                transport = client.connection.transport
                if transport is not None:
                    transport.abort()
                raise StreamClosedError(CloseCode.ABNORMAL, "stalled")
            await asyncio.sleep(0.02)
        client.ensure_open()

    def _send_now(self, client: Client, text: bytes) -> None:
        """Answer one client now (pong, errors); dropped like a frame when it is not reading."""
        client.ensure_open()
        if client.buffered() <= self.settings.max_buffer_bytes:
            self._send([client.connection], text, text=True)
            self.metrics.network_sent.inc(len(text))

    def _sync(self, clients: list[Client]) -> None:
        """Send a snapshot and a full frame to ``clients``, built once for all of them."""
        snap = self._snapshot()
        conns = [c.connection for c in clients]
        marker = messages.frame_marker(snap.seq, snap.records, full=True).encode()
        send = self._send
        send(conns, snap.agents_json, text=True)
        send(conns, marker, text=True)
        send(conns, snap.frame)
        self.metrics.network_sent.inc((len(snap.agents_json) + len(marker) + len(snap.frame)) * len(clients))
        for client in clients:
            client.synced()
            client.frames_sent += 1
        self.metrics.binary_bytes_transmitted.inc(len(snap.frame) * len(clients))
        self.metrics.frames_sent.inc(len(clients))

    # -------------------------------------------------------------- broadcast
    def publish(self, tick: TickMessages) -> None:
        """Write one tick's messages to every client that is keeping up."""
        now = self._clock()
        self._sent_at[tick.seq] = now
        while len(self._sent_at) > 600:
            self._sent_at.popitem(last=False)
        ready: list[ServerConnection] = []
        marked: list[ServerConnection] = []
        resync: list[Client] = []
        for client in list(self._clients.values()):
            state = client.state
            if state is ClientState.CLOSED or state is ClientState.REPLAYING:
                continue
            if client.buffered() > self.settings.max_buffer_bytes:
                self._drop(client, now)
            elif state is ClientState.STREAMING:
                ready.append(client.connection)
                if client.frame_markers:
                    marked.append(client.connection)
                client.frames_sent += 1
            else:
                if state is ClientState.STALLED:
                    client.drained()
                resync.append(client)
        send = self._send
        sent = 0
        for text in tick.text:
            send(ready, text, text=True)
            sent += len(text)
        if tick.frame is not None and ready:
            marker = messages.frame_marker(tick.seq, tick.records, full=tick.full).encode()
            with_marker = ready if tick.full else marked
            send(with_marker, marker, text=True)
            send(ready, tick.frame)
            sent += len(tick.frame)
            self.metrics.binary_bytes_transmitted.inc(len(tick.frame) * len(ready))
            self.metrics.frames_sent.inc(len(ready))
            if with_marker:
                self.metrics.network_sent.inc(len(marker) * len(with_marker))
        if sent and ready:
            self.metrics.network_sent.inc(sent * len(ready))
        if resync:
            self._sync(resync)

    def _drop(self, client: Client, now: float) -> None:
        client.frames_dropped += 1
        self.metrics.frames_dropped.inc()
        if client.state is not ClientState.STALLED:
            client.stall(now)
            log_event(log, "WARN", "client_stalled", category="performance",
                      remote=client.remote, buffered=client.buffered())  # fmt: skip
        elif client.stalled_since is not None and now - client.stalled_since > self.settings.stall_timeout_s:
            stalled_s = now - client.stalled_since
            client.close(CloseCode.ABNORMAL, "stalled")
            log_event(log, "WARN", "client_disconnected_stalled", category="performance",
                      remote=client.remote, stalled_s=round(stalled_s, 2))  # fmt: skip
            # A stalled peer will not complete a closing handshake: drop the TCP connection.
            transport = client.connection.transport
            if transport is not None:
                transport.abort()
