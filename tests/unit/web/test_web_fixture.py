"""The browser decoder's fixture: frames made by the Python encoder, which the node tests decode.

The fixture is committed so ``node --test`` runs on its own; this test rebuilds it from the
encoder and fails when the committed bytes differ (set ``VISIONFLOW_UPDATE_FIXTURES=1`` to
rewrite them after a deliberate change to the wire format).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from visionflow.protocol.binary import RECORD_SIZE, decode, encode
from visionflow.swarm.models import AGENT_FLAG, KNOWLEDGE_FLAG

FIXTURES = Path(__file__).resolve().parents[2] / "web" / "fixtures"


def build_frames() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """A full frame (agents, knowledge nodes sharing their low bits, plain nodes) and a delta of some of them."""
    rng = np.random.default_rng(20261126)
    low = np.arange(1, 41, dtype=np.uint32)
    ids = np.concatenate([low | np.uint32(AGENT_FLAG), low[:10] | np.uint32(KNOWLEDGE_FLAG), low[:5] + 1000])
    ids = np.append(ids, np.uint32(AGENT_FLAG | (2**30 - 1)))  # the largest agent id
    n = len(ids)
    positions = rng.normal(0, 150, (n, 3)).astype(np.float32)
    velocities = rng.normal(0, 3, (n, 3)).astype(np.float32)
    positions[0] = (0.0, -0.0, 1e-30)
    positions[1] = (99_999.5, -99_999.5, 3.4e4)
    rows = np.array([0, 3, 7, 41, n - 1])
    moved = positions[rows] + rng.normal(0, 5, (len(rows), 3)).astype(np.float32)
    delta_vel = rng.normal(0, 1, (len(rows), 3)).astype(np.float32)

    def describe(i: np.ndarray, p: np.ndarray, v: np.ndarray) -> dict[str, Any]:
        return {"node_ids": i.tolist(), "positions": p.astype(float).tolist(), "velocities": v.astype(float).tolist()}

    return {
        "full": (encode(ids, positions, velocities), describe(ids, positions, velocities)),
        "delta": (encode(ids[rows], moved, delta_vel), describe(ids[rows], moved, delta_vel)),
    }


def test_fixture_matches_the_encoder() -> None:
    update = os.environ.get("VISIONFLOW_UPDATE_FIXTURES") == "1"
    for name, (data, expected) in build_frames().items():
        binary, described = FIXTURES / f"{name}.bin", FIXTURES / f"{name}.json"
        text = json.dumps(expected, indent=1) + "\n"
        if update:
            FIXTURES.mkdir(parents=True, exist_ok=True)
            binary.write_bytes(data)
            described.write_text(text)
        assert binary.read_bytes() == data, f"{binary} is stale: rerun with VISIONFLOW_UPDATE_FIXTURES=1"
        assert json.loads(described.read_text()) == expected
        frame = decode(data)
        assert len(data) == RECORD_SIZE * len(frame) == RECORD_SIZE * len(expected["node_ids"])
        assert frame.node_ids.tolist() == expected["node_ids"]
        np.testing.assert_array_equal(frame.positions, np.array(expected["positions"], dtype=np.float32))
