"""Disconnect reasons stay within the metric's known label values."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from visionflow.observability.metrics import DISCONNECT_REASONS
from visionflow.stream import Client, disconnect_reason


def client(code: int | None, server_reason: str | None = None) -> Client:
    """A client closed with ``code`` (left open when None: the connection just vanished)."""
    connection: Any = SimpleNamespace(transport=None)
    closed = Client(connection, "peer", 0.0)
    if code is not None:
        closed.close(code, server_reason)
    return closed


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1000, "normal_closure"), (1001, "going_away"), (None, "abnormal_closure"), (1006, "abnormal_closure"),
     (1002, "protocol_error"), (1009, "message_too_big"), (4321, "other")],
)  # fmt: skip
def test_the_close_code_names_the_reason(code: int | None, reason: str) -> None:
    assert disconnect_reason(client(code)) == reason


@pytest.mark.parametrize("server_reason", ["stalled", "server_shutdown", "rate_limited"])
def test_the_servers_own_reason_wins(server_reason: str) -> None:
    assert disconnect_reason(client(1000, server_reason)) == server_reason


@pytest.mark.parametrize("code", [None, *range(1000, 1016), 3000, 4000, 4999])
def test_every_close_code_maps_to_a_known_label_value(code: int | None) -> None:
    """The metric's label set is bounded: whatever code a peer closes with, the reason is a declared one."""
    assert disconnect_reason(client(code)) in DISCONNECT_REASONS
