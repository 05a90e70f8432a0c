"""The hub through fake connections: fan-out, drops, resync, stall timeout, close paths, the lifecycle's rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import numpy as np
import orjson
import pytest

from visionflow.errors import StreamClosedError
from visionflow.observability.metrics import Metrics
from visionflow.protocol.binary import encode
from visionflow.stream import (
    Client,
    ClientState,
    CloseCode,
    HubSettings,
    ReplayFeed,
    ReplayItem,
    Snapshot,
    StreamHub,
    TickMessages,
)

LIMIT = 1000
"""The hub's write-buffer limit in these tests."""


class FakeTransport:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.buffered = 0
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True
        self.connection.end()


class FakeConnection:
    """What the hub uses of a ``websockets`` server connection: messages in, close, the write buffer."""

    def __init__(self, port: int) -> None:
        self.remote_address = ("127.0.0.1", port)
        self.transport = FakeTransport(self)
        self.close_code: int | None = None
        self.received: list[tuple[bytes, bool]] = []
        """What the hub wrote: (message, sent as text)."""
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    @property
    def open(self) -> bool:
        return self.close_code is None and not self.transport.aborted

    def say(self, message: dict[str, Any]) -> None:
        self._inbox.put_nowait(orjson.dumps(message).decode())

    def end(self) -> None:
        self._inbox.put_nowait(None)

    def hang_up(self, code: int = 1000) -> None:
        self.close_code = code
        self.end()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.open:
            self.hang_up(code)

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (message := await self._inbox.get()) is not None:
            yield message

    def texts(self) -> list[dict[str, Any]]:
        return [orjson.loads(m) for m, text in self.received if text]

    def frames(self) -> list[bytes]:
        return [m for m, text in self.received if not text]


class Wire:
    """Stands in for ``websockets.broadcast``: records each call; open connections get the very same bytes."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[FakeConnection], bytes, bool]] = []

    def __call__(self, connections: Iterable[Any], message: bytes, *, text: bool | None = None) -> None:
        targets = list(connections)
        self.calls.append((targets, message, bool(text)))
        for connection in targets:
            if connection.open:
                connection.received.append((message, bool(text)))


class Snapshots:
    """The hub's snapshot source: a three-node full frame at whatever ``seq`` the test sets."""

    def __init__(self) -> None:
        self.seq = 0
        self.built = 0

    def __call__(self) -> Snapshot:
        self.built += 1
        ids = np.array([1, 2, 3], dtype=np.uint32) | np.uint32(1 << 31)
        positions = np.full((3, 3), float(self.seq), dtype=np.float32)
        frame = encode(ids, positions, np.zeros((3, 3), dtype=np.float32))
        agents = orjson.dumps({"type": "agents", "full": True, "seq": self.seq, "agents": [], "links": []})
        return Snapshot(self.seq, agents, frame, 3)


class Rig:
    def __init__(self, metrics: Metrics, replay: ReplayFeed | None = None, **settings: Any) -> None:
        self.now = 0.0
        self.wire = Wire()
        self.snapshots = Snapshots()
        self.metrics = metrics
        options = {"max_buffer_bytes": LIMIT, "stall_timeout_s": 5.0, **settings}
        self.hub = StreamHub(HubSettings(port=0, **options), metrics, self.snapshots, clock=lambda: self.now,
                             send=self.wire, replay=replay)  # fmt: skip
        self.tasks: list[asyncio.Task[None]] = []
        self._ports = 40000

    async def connect(self) -> FakeConnection:
        self._ports += 1
        connection = FakeConnection(self._ports)
        self.tasks.append(asyncio.create_task(self.hub.handle(connection)))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the handler runs up to its first read
        return connection

    def client(self, connection: FakeConnection) -> Client:
        return next(c for c in self.hub.clients() if c.connection is connection)  # type: ignore[comparison-overlap]

    def disconnections(self, reason: str) -> float | None:
        return self.metrics.registry.get_sample_value("visionflow_websocket_disconnections", {"reason": reason})

    async def settle(self) -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)


def tick(seq: int, *, full: bool = False, text: tuple[bytes, ...] = ()) -> TickMessages:
    frame = encode(np.array([seq], dtype=np.uint32), np.zeros((1, 3), np.float32), np.zeros((1, 3), np.float32))
    return TickMessages(seq, text, frame, full, 1)


def run(
    metrics: Metrics, test: Callable[[Rig], Awaitable[None]], replay: ReplayFeed | None = None, **settings: Any
) -> None:
    async def go() -> None:
        rig = Rig(metrics, replay, **settings)
        await test(rig)
        await asyncio.wait_for(asyncio.gather(*rig.tasks), timeout=5)

    asyncio.run(go())


def test_a_new_client_gets_the_snapshot_then_every_tick(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        plain, marked = await rig.connect(), await rig.connect()
        assert [rig.client(c).state for c in (plain, marked)] == [ClientState.STREAMING] * 2
        assert [t["type"] for t in plain.texts()] == ["agents", "frame"] and len(plain.frames()) == 1
        marked.say({"type": "subscribe", "frame_markers": True})
        await rig.settle()
        news = orjson.dumps({"type": "agents", "full": False, "seq": 1})
        rig.hub.publish(tick(1, text=(news,)))
        rig.hub.publish(tick(2, full=True))
        assert [t["type"] for t in plain.texts()[2:]] == ["agents", "frame"]  # markers only on full frames
        assert [t["type"] for t in marked.texts()[2:]] == ["agents", "frame", "frame"]
        assert [t["seq"] for t in plain.texts()[2:]] == [1, 2] and len(plain.frames()) == 3
        plain.hang_up()
        marked.hang_up()

    run(metrics, test)


def test_one_encode_per_tick_the_same_bytes_to_every_client(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        clients = [await rig.connect() for _ in range(3)]
        rig.wire.calls.clear()
        message = tick(5)
        rig.hub.publish(message)
        frame_calls = [call for call in rig.wire.calls if call[1] is message.frame]
        assert len(frame_calls) == 1 and frame_calls[0][0] == clients
        assert all(c.frames()[-1] is message.frame for c in clients)
        for c in clients:
            c.hang_up()

    run(metrics, test)


def test_a_client_over_its_buffer_is_dropped_not_queued_then_resynced(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        slow, fast = await rig.connect(), await rig.connect()
        slow.transport.buffered = LIMIT + 1
        before = len(slow.received)
        for seq in (1, 2, 3):
            rig.hub.publish(tick(seq))
        assert len(slow.received) == before, "nothing is written to a client that is not reading"
        assert len(fast.frames()) == 4
        client = rig.client(slow)
        assert client.state is ClientState.STALLED and client.frames_dropped == 3
        assert rig.metrics.registry.get_sample_value("visionflow_frames_dropped_total") == 3
        slow.transport.buffered = 0  # it caught up
        rig.snapshots.seq = 4
        built = rig.snapshots.built
        rig.hub.publish(tick(4))
        assert rig.snapshots.built == built + 1
        assert client.state is ClientState.STREAMING and client.stalled_since is None
        resync = slow.received[before:]
        assert [orjson.loads(m)["seq"] for m, text in resync if text] == [4, 4]
        assert [m for m, text in resync if not text] == [rig.snapshots().frame], "a fresh full frame, not the delta"
        rig.hub.publish(tick(5))
        assert slow.frames()[-1] == fast.frames()[-1]
        slow.hang_up()
        fast.hang_up()

    run(metrics, test)


def test_a_client_stalled_past_the_timeout_is_cut_off(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        slow, fast = await rig.connect(), await rig.connect()
        client = rig.client(slow)
        slow.transport.buffered = LIMIT + 1
        rig.hub.publish(tick(1))
        rig.now = 5.0
        rig.hub.publish(tick(2))
        assert client.state is ClientState.STALLED and not slow.transport.aborted
        rig.now = 5.1
        slow.say({"type": "ping", "seq": 1})  # read after the server gave up on it: not answered
        rig.hub.publish(tick(3))
        assert client.state is ClientState.CLOSED and slow.transport.aborted
        assert (client.close_code, client.close_reason) == (CloseCode.ABNORMAL, "stalled")
        rig.hub.publish(tick(4))
        assert client.frames_dropped == 3, "a closed client is skipped, not dropped again"
        await rig.settle()
        assert rig.hub.clients() == [rig.client(fast)]
        assert not any(t["type"] == "pong" for t in slow.texts())
        assert rig.disconnections("stalled") == 1
        fast.hang_up()

    run(metrics, test)


def test_close_paths_name_their_reason(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        leaving, flooding = await rig.connect(), await rig.connect()
        left = rig.client(leaving)
        leaving.hang_up(1001)
        for i in range(6):  # the bucket holds five
            flooding.say({"type": "ping", "seq": i})
        flooded = rig.client(flooding)
        await rig.settle()
        assert (left.state, left.close_code, left.close_reason) == (ClientState.CLOSED, 1001, None)
        assert (flooded.close_code, flooded.close_reason, flooding.close_code) == (1008, "rate_limited", 1008)
        assert len([t for t in flooding.texts() if t["type"] == "pong"]) == 5
        assert rig.disconnections("going_away") == 1 and rig.disconnections("rate_limited") == 1
        assert rig.hub.client_count == 0

    run(metrics, test, max_messages_per_s=5.0)


def test_a_full_server_refuses_with_try_again_later(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        first = await rig.connect()
        second = await rig.connect()
        assert second.close_code == CloseCode.TRY_AGAIN_LATER and second.received == []
        assert rig.hub.client_count == 1 and rig.disconnections("server_full") == 1
        first.hang_up()

    run(metrics, test, max_connections=1)


def test_shutdown_closes_every_client_going_away(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        await rig.hub.start()  # a real listener on a free port, so that stop() has one to close
        connection = await rig.connect()
        client = rig.client(connection)
        await rig.hub.stop()
        assert (client.state, client.close_code, client.close_reason) == (
            ClientState.CLOSED,
            CloseCode.GOING_AWAY,
            "server_shutdown",
        )
        connection.hang_up(1001)
        await rig.settle()
        assert rig.disconnections("server_shutdown") == 1

    run(metrics, test)


def test_ping_is_answered_and_a_bad_message_gets_an_error(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        connection = await rig.connect()
        rig.hub.publish(tick(1))
        rig.now = 0.25
        connection.say({"type": "ping", "seq": 1, "t": 7})
        connection.say({"type": "subscribe", "frame_markers": "yes"})
        await rig.settle()
        pong, error = connection.texts()[-2:]
        assert pong == {"type": "pong", "seq": 1, "t": 7}
        assert error["type"] == "error" and "frame_markers" in error["detail"]
        assert rig.metrics.registry.get_sample_value("visionflow_websocket_round_trip_ms_count") == 1
        connection.hang_up()

    run(metrics, test)


def client() -> Client:
    connection: Any = FakeConnection(1)
    return Client(connection, "peer", 0.0)


def test_the_lifecycle_moves_in_order() -> None:
    c = client()
    assert c.state is ClientState.SYNCING
    c.synced()
    c.stall(3.0)
    assert (c.state, c.stalled_since) == (ClientState.STALLED, 3.0)
    c.drained()
    assert (c.state, c.stalled_since) == (ClientState.SYNCING, None)
    c.synced()
    c.close(CloseCode.POLICY, "rate_limited")
    assert (c.state, c.close_code, c.close_reason) == (ClientState.CLOSED, 1008, "rate_limited")


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), "drained"),  # SYNCING -> SYNCING
        (("synced",), "synced"),  # STREAMING -> STREAMING
        (("synced",), "drained"),  # STREAMING -> SYNCING without stalling
        (("synced", "stall"), "synced"),  # STALLED -> STREAMING without a snapshot
        (("synced", "stall"), "stall"),  # STALLED -> STALLED
    ],
)
def test_a_move_the_lifecycle_does_not_have_raises(path: tuple[str, ...], illegal: str) -> None:
    c = client()
    for move in path:
        getattr(c, move)(*([1.0] if move == "stall" else []))
    state = c.state
    with pytest.raises(RuntimeError, match=f"no move from {state.value}"):
        getattr(c, illegal)(*([1.0] if illegal == "stall" else []))
    assert c.state is state


@pytest.mark.parametrize("move", ["synced", "drained", "stall", "close", "ensure_open"])
def test_anything_asked_of_a_closed_client_raises_stream_closed_with_its_code(move: str) -> None:
    c = client()
    c.close(CloseCode.ABNORMAL, "stalled")
    arguments = {"stall": [1.0], "close": [CloseCode.GOING_AWAY]}.get(move, [])
    with pytest.raises(StreamClosedError) as info:
        getattr(c, move)(*arguments)
    assert (info.value.code, info.value.reason) == (1006, "stalled")
    assert c.close_code == CloseCode.ABNORMAL


def recorded(i: int) -> bytes:
    """The i-th recorded frame: node 100 + i at (i, i, i)."""
    return encode(np.array([100 + i], dtype=np.uint32), np.full((1, 3), i, np.float32), np.zeros((1, 3), np.float32))


class History:
    """A replay feed of ``steps`` recorded frames a second apart; ``gate`` holds it after the first."""

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps
        self.gate: asyncio.Event | None = None
        self.asked: list[float] = []

    async def __call__(self, start: float) -> AsyncIterator[ReplayItem]:
        self.asked.append(start)
        for i in range(self.steps):
            if i == 1 and self.gate is not None:
                await self.gate.wait()
            frame = encode(
                np.array([100 + i], dtype=np.uint32), np.full((1, 3), i, np.float32), np.zeros((1, 3), np.float32)
            )
            news = (orjson.dumps({"type": "agents", "full": i == 0, "seq": 0, "agents": [], "links": []}),)
            yield ReplayItem(start + i, news, frame, 1, i == 0)


def test_a_replaying_client_gets_recorded_frames_instead_of_live_ones_then_goes_back_to_live(metrics: Metrics) -> None:
    history = History()

    async def test(rig: Rig) -> None:
        viewer, other = await rig.connect(), await rig.connect()
        before = len(viewer.received)
        viewer.say({"type": "replay", "from": 1000.0, "speed": 1000})
        await rig.settle()
        rig.hub.publish(tick(7))  # live, for the other client only
        for _ in range(50):
            await asyncio.sleep(0.01)
            if rig.client(viewer).state is ClientState.SYNCING:
                break
        replayed = viewer.received[before:]
        texts = [orjson.loads(m) for m, text in replayed if text]
        assert texts[0] == {"type": "replay", "state": "started", "from": 1000.0, "speed": 1000}
        markers = [t for t in texts if t["type"] == "frame"]
        assert [m["t"] for m in markers] == [1000.0, 1001.0, 1002.0] and markers[0]["full"]
        assert [m for m, text in replayed if not text] == [recorded(i) for i in range(3)]
        assert texts[-1] == {"type": "replay", "state": "ended", "frames": 3}
        assert len(other.frames()) == 2 and history.asked == [1000.0]
        rig.snapshots.seq = 8
        rig.hub.publish(tick(8))  # back on the live stream: a fresh snapshot first
        assert viewer.texts()[-2]["type"] == "agents" and rig.client(viewer).state is ClientState.STREAMING
        viewer.hang_up()
        other.hang_up()

    run(metrics, test, history)


def test_live_stops_a_replay_and_bad_replay_requests_are_answered_with_errors(metrics: Metrics) -> None:
    history = History()
    history.gate = asyncio.Event()

    async def test(rig: Rig) -> None:
        viewer, second = await rig.connect(), await rig.connect()
        viewer.say({"type": "replay", "from": "yesterday"})
        viewer.say({"type": "replay", "from": 5.0, "speed": 0})
        await rig.settle()
        assert [t["error"] for t in viewer.texts()[-2:]] == ["bad_message", "bad_message"]
        viewer.say({"type": "replay", "from": 5.0})
        await rig.settle()
        await rig.settle()
        assert rig.client(viewer).state is ClientState.REPLAYING
        second.say({"type": "replay", "from": 5.0})  # max_replays is 1 here
        await rig.settle()
        assert second.texts()[-1]["error"] == "replay_busy"
        viewer.say({"type": "live"})
        for _ in range(20):
            await rig.settle()
        assert viewer.texts()[-1] == {"type": "replay", "state": "stopped", "frames": 1}
        assert rig.client(viewer).state is ClientState.SYNCING and rig.hub.replaying == 0
        viewer.hang_up()
        second.hang_up()

    run(metrics, test, history, max_replays=1)


def test_without_history_a_replay_request_is_told_so(metrics: Metrics) -> None:
    async def test(rig: Rig) -> None:
        viewer = await rig.connect()
        viewer.say({"type": "replay", "from": 1.0})
        await rig.settle()
        assert viewer.texts()[-1]["error"] == "replay_unavailable"
        assert rig.client(viewer).state is ClientState.STREAMING
        viewer.hang_up()

    run(metrics, test)
