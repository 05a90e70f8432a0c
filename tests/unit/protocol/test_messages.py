from __future__ import annotations

import json

import pytest

from visionflow.errors import FrameError
from visionflow.protocol import messages


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"seq": 1}', "'type'"),
        ('{"type": 5}', "'type'"),
        ("x" * (messages.MAX_CLIENT_MESSAGE_BYTES + 1), "exceeds"),
    ],
)
def test_bad_client_messages_are_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        messages.parse_client_message(raw)


def test_ping_parses() -> None:
    assert messages.parse_client_message('{"type":"ping","seq":3}') == {"type": "ping", "seq": 3}


def test_change_message_lists_removals_before_upserts() -> None:
    body = json.loads(
        messages.agents_message(9, full=False, agents=[{"id": "a"}], links=[], removed=[7], links_removed=[("a", "b")])
    )
    assert body == {
        "type": "agents",
        "full": False,
        "seq": 9,
        "agents": [{"id": "a"}],
        "links": [],
        "removed": [7],
        "links_removed": [["a", "b"]],
    }
