from __future__ import annotations

import contextlib
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from visionflow.errors import ConfigError, FrameError
from visionflow.protocol.binary import RECORD_SIZE, DeltaEncoder, FrameEncoder, decode, encode
from visionflow.swarm.models import AGENT_FLAG, KNOWLEDGE_FLAG

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def frames(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 64))
    low = draw(st.lists(st.integers(0, (1 << 30) - 1), min_size=n, max_size=n, unique=True))
    flag = draw(st.sampled_from([0, AGENT_FLAG, KNOWLEDGE_FLAG]))
    ids = np.array([v | flag for v in low], dtype=np.uint32)
    pos = draw(hnp.arrays(np.float32, (n, 3), elements=finite))
    vel = draw(hnp.arrays(np.float32, (n, 3), elements=finite))
    return ids, pos, vel


@given(frames())
@settings(max_examples=200)
def test_round_trip_is_exact(frame: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ids, pos, vel = frame
    data = encode(ids, pos, vel)
    assert len(data) == RECORD_SIZE * len(ids)
    decoded = decode(data)
    np.testing.assert_array_equal(decoded.node_ids, ids)
    np.testing.assert_array_equal(decoded.positions, pos)
    np.testing.assert_array_equal(decoded.velocities, vel)


def test_record_layout_matches_hand_built_little_endian_bytes() -> None:
    ids = np.array([AGENT_FLAG | 7], dtype=np.uint32)
    pos = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
    vel = np.array([[0.5, 0.0, -1.0]], dtype=np.float32)
    expected = struct.pack("<I3f3f", AGENT_FLAG | 7, 1.5, -2.0, 3.25, 0.5, 0.0, -1.0)
    assert encode(ids, pos, vel) == expected
    assert expected[:4] == bytes([7, 0, 0, 0x80])  # id little-endian, agent bit in the last byte


def test_flags_are_exposed_on_decode() -> None:
    ids = np.array([AGENT_FLAG | 1, KNOWLEDGE_FLAG | 2, 3], dtype=np.uint32)
    decoded = decode(encode(ids, np.zeros((3, 3), np.float32), np.zeros((3, 3), np.float32)))
    assert decoded.is_agent.tolist() == [True, False, False]
    assert decoded.is_knowledge.tolist() == [False, True, False]
    assert decoded.indices.tolist() == [1, 2, 3]


@pytest.mark.parametrize("length", [1, 27, 29, 55])
def test_length_not_a_multiple_of_28_is_rejected(length: int) -> None:
    with pytest.raises(FrameError, match="not a multiple of 28"):
        decode(b"\x00" * length)


def _record(node_id: int, *values: float) -> bytes:
    return struct.pack("<I6f", node_id, *values)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_record(1, float("nan"), 0, 0, 0, 0, 0), "position is not finite"),
        (_record(1, 0, 0, 0, 0, float("inf"), 0), "velocity is not finite"),
        (_record(1, 2e6, 0, 0, 0, 0, 0), "position exceeds"),
        (_record(1, 0, 0, 0, 0, 0, -3e6), "velocity exceeds"),
        (_record(AGENT_FLAG | KNOWLEDGE_FLAG | 1, 0, 0, 0, 0, 0, 0), "both agent and knowledge"),
        (_record(5, 0, 0, 0, 0, 0, 0) * 2, "appears twice"),
    ],
)
def test_malformed_records_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode(data)


def test_empty_frame_is_valid() -> None:
    assert len(decode(b"")) == 0


@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode(data)


def test_encoder_rejects_mismatched_shapes() -> None:
    with pytest.raises(FrameError):
        FrameEncoder().encode(np.zeros(2, np.uint32), np.zeros((3, 3), np.float32), np.zeros((2, 3), np.float32))


class TestDeltaEncoder:
    def setup_method(self) -> None:
        self.ids = np.arange(5, dtype=np.uint32) | np.uint32(AGENT_FLAG)
        self.pos = np.zeros((5, 3), np.float32)
        self.vel = np.zeros((5, 3), np.float32)

    def test_first_frame_is_full_then_only_movers(self) -> None:
        delta = DeltaEncoder(threshold=0.1, full_every=100)
        frame, full = delta.next_frame(self.ids, self.pos, self.vel)
        assert full and len(decode(frame)) == 5
        self.pos[2, 0] = 0.5
        self.pos[3, 0] = 0.05  # below the threshold
        frame, full = delta.next_frame(self.ids, self.pos, self.vel)
        assert not full
        assert decode(frame).node_ids.tolist() == [int(self.ids[2])]

    def test_settled_layout_sends_nothing(self) -> None:
        delta = DeltaEncoder(threshold=0.1, full_every=100)
        delta.next_frame(self.ids, self.pos, self.vel)
        frame, _ = delta.next_frame(self.ids, self.pos, self.vel)
        assert frame == b""

    def test_small_moves_accumulate_until_they_cross_the_threshold(self) -> None:
        delta = DeltaEncoder(threshold=0.1, full_every=100)
        delta.next_frame(self.ids, self.pos, self.vel)
        sent = []
        for _ in range(4):
            self.pos[0, 1] += 0.04
            sent.append(len(delta.next_frame(self.ids, self.pos, self.vel)[0]) // RECORD_SIZE)
        assert sent == [0, 0, 1, 0]

    def test_full_frame_every_k_ticks(self) -> None:
        delta = DeltaEncoder(threshold=0.1, full_every=3)
        fulls = [delta.next_frame(self.ids, self.pos, self.vel)[1] for _ in range(7)]
        assert fulls == [True, False, False, True, False, False, True]

    def test_new_and_reused_ids_are_sent_whole(self) -> None:
        delta = DeltaEncoder(threshold=0.1, full_every=100)
        delta.next_frame(self.ids, self.pos, self.vel)
        delta.forget(self.ids[[1]])
        ids = np.append(self.ids, np.uint32(AGENT_FLAG | 5000))
        pos = np.vstack([self.pos, np.zeros((1, 3), np.float32)])
        frame, _ = delta.next_frame(ids, pos, np.zeros_like(pos))
        assert sorted(decode(frame).indices.tolist()) == [1, 5000]

    @pytest.mark.parametrize(
        ("kwargs", "field"), [({"threshold": -0.1}, "delta_threshold"), ({"full_every": 0}, "full_frame_every")]
    )
    def test_settings_out_of_range_name_the_setting(self, kwargs: dict[str, Any], field: str) -> None:
        with pytest.raises(ConfigError) as info:
            DeltaEncoder(**kwargs)
        assert info.value.field == field
