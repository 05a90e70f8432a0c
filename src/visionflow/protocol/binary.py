"""The binary stream's wire format: 28-byte little-endian records.

    offset  size  field
         0     4  u32 node_id   bit 31: agent, bit 30: knowledge node, bits 0-29: id
         4    12  f32 x, y, z   position
        16    12  f32 vx, vy, vz velocity

One WebSocket binary message holds N whole records and nothing else. Encoding is a
copy into a reusable structured buffer (no Python loop); decoding validates everything a
peer could get wrong and raises ``FrameError`` saying what.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from visionflow.errors import ConfigError, FrameError
from visionflow.protocol.packing import pack_delta
from visionflow.swarm.models import AGENT_FLAG, ID_MASK, KNOWLEDGE_FLAG
from visionflow.types import IdArray, Vec3Array

__all__ = [
    "DEFAULT_MAX_COORDINATE",
    "RECORD_DTYPE",
    "RECORD_SIZE",
    "DecodedFrame",
    "DeltaEncoder",
    "FrameEncoder",
    "decode",
    "encode",
]

RECORD_DTYPE = np.dtype(
    {
        "names": ["node_id", "position", "velocity"],
        "formats": ["<u4", ("<f4", (3,)), ("<f4", (3,))],
        "offsets": [0, 4, 16],
        "itemsize": 28,
    }
)
RECORD_SIZE = RECORD_DTYPE.itemsize
DEFAULT_MAX_COORDINATE = 1.0e6
"""Positions and velocities beyond this are treated as corruption, not as data."""

Records = npt.NDArray[np.void]


def encode(ids: IdArray, positions: Vec3Array, velocities: Vec3Array) -> bytes:
    """Encode whole arrays into one frame (allocates; use ``FrameEncoder`` per tick)."""
    return FrameEncoder().encode(ids, positions, velocities)


class FrameEncoder:
    """Encodes frames into one buffer that grows as needed and is reused every tick."""

    def __init__(self, capacity: int = 1024) -> None:
        self._buffer: Records = np.zeros(capacity, dtype=RECORD_DTYPE)

    def _records(self, n: int) -> Records:
        if n > len(self._buffer):
            self._buffer = np.zeros(max(n, 2 * len(self._buffer)), dtype=RECORD_DTYPE)
        return self._buffer[:n]

    def encode(
        self,
        ids: IdArray,
        positions: Vec3Array,
        velocities: Vec3Array,
        rows: npt.NDArray[np.intp] | None = None,
    ) -> bytes:
        """Encode all nodes, or only those at ``rows``."""
        if rows is not None:
            ids, positions, velocities = ids[rows], positions[rows], velocities[rows]
        n = len(ids)
        if positions.shape != (n, 3) or velocities.shape != (n, 3):
            raise FrameError(f"expected ({n}, 3) positions and velocities, got {positions.shape}")
        records = self._records(n)
        records["node_id"] = ids
        records["position"] = positions
        records["velocity"] = velocities
        return records.tobytes()


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A validated frame as plain arrays."""

    node_ids: IdArray
    positions: Vec3Array
    velocities: Vec3Array

    def __len__(self) -> int:
        return len(self.node_ids)

    @property
    def indices(self) -> IdArray:
        return self.node_ids & np.uint32(ID_MASK)

    @property
    def is_agent(self) -> npt.NDArray[np.bool_]:
        flagged: npt.NDArray[np.bool_] = (self.node_ids & np.uint32(AGENT_FLAG)) != 0
        return flagged

    @property
    def is_knowledge(self) -> npt.NDArray[np.bool_]:
        flagged: npt.NDArray[np.bool_] = (self.node_ids & np.uint32(KNOWLEDGE_FLAG)) != 0
        return flagged


def decode(data: bytes | bytearray | memoryview, *, max_coordinate: float = DEFAULT_MAX_COORDINATE) -> DecodedFrame:
    """Parse and validate a frame.

    Raises ``FrameError`` when the length is not a whole number of records, a value is
    NaN or infinite, a coordinate exceeds ``max_coordinate``, a node id has both type
    bits set, or a node id appears twice.
    """
    size = len(data)
    if size % RECORD_SIZE:
        raise FrameError(f"frame length {size} is not a multiple of {RECORD_SIZE} (remainder {size % RECORD_SIZE})")
    records = np.frombuffer(data, dtype=RECORD_DTYPE)
    ids = records["node_id"].astype(np.uint32)
    positions = records["position"].astype(np.float32)
    velocities = records["velocity"].astype(np.float32)
    for name, values in (("position", positions), ("velocity", velocities)):
        finite = np.isfinite(values)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise FrameError(f"record {row}: {name} is not finite")
        too_big = np.abs(values) > max_coordinate
        if too_big.any():
            row = int(np.flatnonzero(too_big.any(axis=1))[0])
            raise FrameError(f"record {row}: {name} exceeds {max_coordinate:g}")
    both = (ids & np.uint32(AGENT_FLAG | KNOWLEDGE_FLAG)) == np.uint32(AGENT_FLAG | KNOWLEDGE_FLAG)
    if both.any():
        raise FrameError(f"record {int(np.flatnonzero(both)[0])}: node id has both agent and knowledge bits")
    if len(np.unique(ids)) != len(ids):
        raise FrameError("a node id appears twice in one frame")
    return DecodedFrame(ids, positions, velocities)


class DeltaEncoder:
    """Chooses between full and delta frames and remembers what was last sent.

    A delta frame carries only nodes that moved more than ``threshold`` since they were
    last sent. The last-sent positions are kept in an array indexed by the id's low 30
    bits, so they survive the engine moving nodes between slots. Every ``full_every``
    ticks the frame is full, which bounds any client's drift.
    """

    def __init__(self, *, threshold: float = 0.01, full_every: int = 60) -> None:
        if threshold < 0:
            raise ConfigError("delta_threshold", "must be >= 0")
        if full_every < 1:
            raise ConfigError("full_frame_every", "must be >= 1")
        self.threshold = threshold
        self.full_every = full_every
        self._words = np.zeros((1024, 7), dtype="<u4")
        self._full_encoder = FrameEncoder()
        self._last_sent: Vec3Array = np.full((1024, 3), np.nan, dtype=np.float32)
        self._ticks = 0

    def forget(self, node_ids: npt.ArrayLike) -> None:
        """Drop what was sent for removed nodes, so a reused id is sent in full."""
        index = np.asarray(node_ids, dtype=np.uint32) & np.uint32(ID_MASK)
        index = index[index < len(self._last_sent)]
        self._last_sent[index] = np.nan

    def _ensure_room(self, ids: IdArray) -> None:
        if len(ids) > len(self._words):
            self._words = np.zeros((max(len(ids), 2 * len(self._words)), 7), dtype="<u4")
        top = int((ids & np.uint32(ID_MASK)).max()) if len(ids) else 0
        if top >= len(self._last_sent):
            grown = np.full((max(top + 1, 2 * len(self._last_sent)), 3), np.nan, np.float32)
            grown[: len(self._last_sent)] = self._last_sent
            self._last_sent = grown

    def next_frame(self, ids: IdArray, positions: Vec3Array, velocities: Vec3Array) -> tuple[bytes, bool]:
        """The frame for this tick and whether it is full; updates the last-sent state."""
        self._ensure_room(ids)
        full = self._ticks % self.full_every == 0
        self._ticks += 1
        words = self._words
        count = pack_delta(
            ids, positions, velocities, self._last_sent, self.threshold**2, full, words, words.view(np.float32)
        )
        return words[:count].tobytes(), full

    def full_frame(self, ids: IdArray, positions: Vec3Array, velocities: Vec3Array) -> bytes:
        """A full frame for clients that just joined or resynchronise; leaves the delta state alone."""
        return self._full_encoder.encode(ids, positions, velocities)
