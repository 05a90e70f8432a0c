"""The cut-off cell-list mode against the NumPy reference with the same cutoff."""

from __future__ import annotations

import numpy as np
import pytest

from visionflow.physics import Backend, Method, SimParams
from visionflow.physics.cpu.grid import grid_repulsion

from ..fixtures import KINDS, engine


@pytest.mark.parametrize("kind", KINDS)
def test_cell_list_matches_reference_step_for_step(kind: str) -> None:
    params = SimParams(cutoff=9.0)
    grid = engine(kind, 120, params=params)
    oracle = engine(kind, 120, Backend.REFERENCE, params=params)
    for step in range(20):
        eg = grid.step().kinetic_energy
        eo = oracle.step().kinetic_energy
        assert grid.method is Method.GRID
        np.testing.assert_allclose(grid.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")
        assert eg == pytest.approx(eo, rel=1e-3, abs=1e-6)


def test_sparse_layouts_get_wider_cells_not_more_memory() -> None:
    rng = np.random.default_rng(3)
    pos = (rng.random((200, 3)) * 1e5).astype(np.float32)  # 1e15 cells of width 1 would not fit
    pos[1] = pos[0] + np.float32(0.5)
    force = np.zeros_like(pos)
    grid_repulsion(pos, len(pos), np.float32(1.0), np.float32(40.0), np.float32(0.25), force)
    d = pos[0] - pos[1]
    expected = 40.0 * d / (0.25 + d @ d) ** 1.5
    np.testing.assert_allclose(force[0], expected, rtol=1e-4)
    assert np.abs(force[2:]).max() == 0.0
