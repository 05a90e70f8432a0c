"""The spool keeps records across a crash, replays them oldest first, and ignores a torn last line."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.store import AgentGone, AgentSeen, AlertSaved, LinkSeen, ParamsSaved, StatusChanged
from visionflow.store.records import decode, encode
from visionflow.store.spool import Spool

RECORDS = [
    AgentSeen(1, "a", 2147483648, "A", "coder", "busy", "push", 10.0, {"metadata": {"k": [1, 2]}}),
    StatusChanged(1, 10.0, "busy", None),
    LinkSeen("a", "b", 3, 30, 0.5, 11.0, False),
    ParamsSaved(1, 12.0, {"theta": 0.7}, {"theta": 0.7}),
    AlertSaved(4, 13.0, "firing", "ServiceDown", "critical", "pending", {"id": 4, "labels": {"x": "y"}}),
    AgentGone(1, 14.0),
]


def test_every_record_kind_survives_a_spool_line() -> None:
    for record in RECORDS:
        assert decode(encode(record)) == record


def test_a_line_that_is_no_record_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a spooled record"):
        decode(b'{"kind": "nonsense"}')


def test_records_come_back_after_reopening_in_the_order_written(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert not spool and spool.oldest() is None
    spool.append(RECORDS[:3])
    spool.append(RECORDS[3:])
    reopened = Spool(tmp_path / "spool")
    assert len(reopened) == len(RECORDS)
    path = reopened.oldest()
    assert path is not None and reopened.read(path) == RECORDS
    reopened.remove(path)
    assert not reopened and reopened.oldest() is None and len(Spool(tmp_path / "spool")) == 0


def test_appends_during_a_replay_go_to_a_later_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(RECORDS[:2])
    first = spool.oldest()  # seals the open segment
    spool.append(RECORDS[2:4])
    assert first is not None and spool.read(first) == RECORDS[:2]
    spool.remove(first)
    second = spool.oldest()
    assert second is not None and second != first and spool.read(second) == RECORDS[2:4]
    assert len(spool) == 2


def test_a_torn_last_line_is_left_out(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(RECORDS[:2])
    segment = next(tmp_path.glob("*.jsonl"))
    with segment.open("ab") as out:
        out.write(encode(RECORDS[2])[:10])  # a crash in the middle of an append that never returned
    reopened = Spool(tmp_path)
    path = reopened.oldest()
    assert path is not None and reopened.read(path) == RECORDS[:2] and len(reopened) == 2
