"""The binary WebSocket stream: one encode per tick, fanned out to every client."""

from visionflow.stream.hub import (
    Client,
    ClientState,
    CloseCode,
    HubSettings,
    ReplayFeed,
    ReplayItem,
    Snapshot,
    StreamHub,
    TickMessages,
    disconnect_reason,
)

__all__ = [
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
