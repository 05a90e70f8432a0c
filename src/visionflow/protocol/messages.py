"""JSON text messages that travel beside the binary frames on the same socket.

Server to client:
    {"type": "agents", "full": true, "seq": S, "agents": [...], "links": [...], "link_decay_s": T}
    {"type": "agents", "full": false, "seq": S, "removed": [node_id...], "agents": [...],
     "links": [...], "links_removed": [[a, b]...]}       apply "removed" first, then upserts
    {"type": "frame", "seq": S, "full": F, "records": N}  precedes the binary frame of tick S: every full
                                                          frame, and every frame for subscribed clients
    {"type": "pong", "seq": S, "t": T}                    answer to a client ping
    {"type": "replay", "state": "started"|"ended"|"stopped"|"failed", ...}
                                                          a replay began, or is over (live frames follow)
    {"type": "frame", "seq": S, "full": F, "records": N, "t": T}
                                                          while replaying: the frame recorded at time T
    {"type": "error", "error": "...", "detail": "..."}

Client to server:
    {"type": "ping", "seq": S, "t": T}     the server echoes it and, given ``seq``, records latency
    {"type": "subscribe", "frame_markers": true}   a frame marker before every binary frame
    {"type": "replay", "from": T0, "speed": S}     recorded history from T0 (Unix seconds) at S times real
                                                   time (default 1): a snapshot, then the stored frames
    {"type": "live"}                               stop replaying: a fresh snapshot, then live frames
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from visionflow.errors import FrameError

__all__ = [
    "MAX_CLIENT_MESSAGE_BYTES",
    "agents_message",
    "dumps",
    "error",
    "frame_marker",
    "parse_client_message",
]

MAX_CLIENT_MESSAGE_BYTES = 4096


def dumps(message: Mapping[str, Any]) -> str:
    return orjson.dumps(message).decode()


def frame_marker(seq: int, records: int, *, full: bool, at: float | None = None) -> str:
    """The marker before a binary frame; ``at`` is the recorded time of a replayed one."""
    if at is None:
        return dumps({"type": "frame", "seq": seq, "full": full, "records": records})
    return dumps({"type": "frame", "seq": seq, "full": full, "records": records, "t": at})


def error(code: str, detail: str) -> str:
    return dumps({"type": "error", "error": code, "detail": detail})


def agents_message(
    seq: int,
    *,
    full: bool,
    agents: Iterable[Mapping[str, Any]],
    links: Iterable[Mapping[str, Any]],
    removed: Iterable[int] = (),
    links_removed: Iterable[tuple[str, str]] = (),
    link_decay_s: float | None = None,
) -> str:
    body: dict[str, Any] = {
        "type": "agents",
        "full": full,
        "seq": seq,
        "agents": list(agents),
        "links": list(links),
    }
    if not full:
        body["removed"] = list(removed)
        body["links_removed"] = [list(k) for k in links_removed]
    if link_decay_s is not None:
        body["link_decay_s"] = link_decay_s
    return dumps(body)


def parse_client_message(raw: str | bytes) -> dict[str, Any]:
    """Parse a client's text message; raises ``FrameError`` with a reason when it is unusable."""
    if len(raw) > MAX_CLIENT_MESSAGE_BYTES:
        raise FrameError(f"message of {len(raw)} bytes exceeds {MAX_CLIENT_MESSAGE_BYTES}")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError("message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise FrameError("field 'type' must be a string")
    return message
