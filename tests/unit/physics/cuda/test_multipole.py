"""Grid multipole repulsion (CUDA) against exact forces: on the simulator in CI, on the device in bench/gpu_check.sh.

The simulator runs every GPU thread as a Python thread, so the layouts here have a few hundred nodes;
``nodes_per_cell`` below the default gives them the deeper grids that large layouts get.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from visionflow.physics import Backend, Method, SimParams
from visionflow.physics.reference import repulsion_forces

from ..fixtures import engine, layout

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[gpu])")

REPULSION = 40.0
SOFTENING = 0.25


@pytest.fixture(autouse=True)
def _cuda_or_simulator() -> None:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA device and NUMBA_ENABLE_CUDASIM is off")


def positions(kind: str, n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        pos = rng.uniform(-20.0, 20.0, (n, 3))
    elif kind == "clusters":  # five tight blobs far apart: most of a node's force comes from other blobs
        centres = rng.normal(scale=30.0, size=(5, 3))
        pos = centres[rng.integers(0, 5, n)] + rng.normal(scale=3.0, size=(n, 3))
    else:
        pos = layout(kind, n, seed)[0]
    return pos.astype(np.float32)


def device_repulsion(pos: np.ndarray, nodes_per_cell: float = 4.0, multipole: Any = None) -> tuple[np.ndarray, int]:
    """Forces from the grid multipole on the device (or simulator), and the finest level it used."""
    from numba import cuda

    from visionflow.physics.cuda.multipole import GridMultipole

    grid = multipole or GridMultipole(nodes_per_cell)
    force = cuda.device_array(pos.shape, np.float32)
    grid.repulsion(cuda.to_device(pos), len(pos), np.float32(REPULSION), np.float32(SOFTENING), force)
    return force.copy_to_host(), grid.level


def relative_error(force: np.ndarray, pos: np.ndarray) -> np.ndarray:
    exact = repulsion_forces(pos.astype(np.float64), REPULSION, SOFTENING)
    return np.asarray(np.linalg.norm(force - exact, axis=1) / np.linalg.norm(exact, axis=1))


def test_finest_level_grows_with_the_node_count_and_is_capped() -> None:
    from visionflow.physics.cuda.multipole import finest_level
    from visionflow.physics.cuda.multipole_kernels import MAX_LEVEL

    assert [finest_level(n) for n in (1, 300, 100_000, 1_000_000)] == [2, 3, 5, 6]
    assert finest_level(10**9) == MAX_LEVEL
    for n in (300, 5000, 100_000, 1_000_000):
        level = finest_level(n)
        assert 8**level >= n / 4 > 8 ** (level - 1)


# Measured on the simulator (median, 90th percentile): uniform 0.8%, 2.0% (finest level 3) and 0.8%, 2.3%
# (level 4); normal 0.7%, 1.5%; clusters 0.02%, 0.04%. Barnes-Hut with theta 0.9 on the CPU is similar.
@pytest.mark.parametrize(
    ("kind", "nodes_per_cell", "level"),
    [("uniform", 4.0, 3), ("uniform", 0.5, 4), ("random", 4.0, 3), ("clusters", 0.5, 4)],
)
def test_forces_are_within_two_percent_of_exact(kind: str, nodes_per_cell: float, level: int) -> None:
    pos = positions(kind, 300)
    force, used = device_repulsion(pos, nodes_per_cell)
    assert used == level
    error = relative_error(force, pos)
    assert np.median(error) < 0.02
    assert np.quantile(error, 0.9) < 0.05


@pytest.mark.parametrize("kind", ["coincident", "isolated"])
def test_coincident_nodes_and_a_far_outlier_stay_finite_and_close(kind: str) -> None:
    pos = positions(kind, 240)
    force, _ = device_repulsion(pos, nodes_per_cell=0.5)
    assert np.isfinite(force).all()
    error = relative_error(force, pos)
    assert np.median(error) < 0.02
    if kind == "coincident":  # one point shared by a third of the nodes: pushed apart by the fixed rule
        np.testing.assert_array_less(error[: 240 // 3], 0.05)
        assert len(np.unique(force[: 240 // 3], axis=0)) == 240 // 3
    else:  # the outlier, hundreds of units out, lies outside the grid's cube: binned at its border, still accurate
        assert error[0] < 0.01


def summation_tolerance(pos: np.ndarray) -> np.ndarray:
    """How far two float32 evaluations of the same forces may differ when only the order of their terms does.

    On a GPU the nodes of a cell are sorted by atomics, in a different order each launch, so the
    near-field sums and the cells' centres of mass add the same terms in another order. Summing K
    terms in float32 errs by at most (K - 1) u times the sum of their magnitudes (u = 2**-24); two
    orders differ by twice that, and the centres of mass, rounded the same way, move each far term by
    about as much again. K is at most the node count. A fixed relative tolerance fails wherever a
    node's forces cancel (5 runs in 15 on a device at 1e-5); this one scales with the terms, not the sum.
    """
    p = pos.astype(np.float64)
    diff = p[:, None, :] - p[None, :, :]
    r2 = np.einsum("ijk,ijk->ij", diff, diff) + SOFTENING
    magnitude = REPULSION * np.sqrt(r2 - SOFTENING) / r2**1.5
    return np.asarray(4 * len(pos) * 2.0**-24 * magnitude.sum(axis=1))


def test_workspace_is_reused_across_calls_and_sizes() -> None:
    from visionflow.physics.cuda.multipole import GridMultipole

    grid = GridMultipole()
    for n, kind in [(120, "random"), (90, "uniform"), (160, "clusters")]:  # smaller, then larger: reallocates
        pos = positions(kind, n, seed=n)
        reused, _ = device_repulsion(pos, multipole=grid)
        fresh, _ = device_repulsion(pos)
        tolerance = summation_tolerance(pos)
        assert (np.abs(reused - fresh).max(axis=1) <= tolerance).all()
        # Not a vacuous bound: far below the error of the approximation itself.
        assert np.median(tolerance / np.linalg.norm(fresh, axis=1)) < 1e-2
    assert grid.nbytes > 0


def test_cuda_engine_switches_to_the_multipole_and_follows_the_reference() -> None:
    gpu = engine("random", 160, Backend.CUDA, multipole_threshold=160)
    oracle = engine("random", 160, Backend.REFERENCE)
    for step in range(3):
        gpu.step()
        gpu.synchronize()
        oracle.step()
        assert gpu.method is Method.GRID_MULTIPOLE
        assert np.isfinite(gpu.positions).all()
        np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=0, atol=1e-3, err_msg=f"step {step}")
    gpu.remove_nodes(gpu.ids[:1])
    gpu.step()
    assert gpu.method is Method.EXACT  # below the threshold again
    gpu.params = SimParams(cutoff=5.0)
    gpu.thresholds.multipole = 0
    gpu.step()
    assert gpu.method is Method.GRID  # a cutoff is the multipole grid's near field: a cell list


@pytest.mark.parametrize(("kind", "cutoff"), [("coincident", 3.0), ("random", 50.0), ("coincident", 0.005),
                                              ("isolated", 6.0)])  # fmt: skip
def test_near_field_with_a_cutoff_is_the_exact_cell_list(kind: str, cutoff: float) -> None:
    """Every pair within the cutoff, exactly, whether the cutoff is short (coincident nodes then get no push, as in
    the reference), longer than the layout is wide, or the grid's cube leaves an outlier at its border."""
    from numba import cuda

    from visionflow.physics.cuda.multipole import GridMultipole

    pos = positions(kind, 150)
    force = cuda.device_array(pos.shape, np.float32)
    GridMultipole(0.5).near_field(cuda.to_device(pos), len(pos), cutoff, np.float32(cutoff * cutoff),
                                  np.float32(REPULSION), np.float32(SOFTENING), force)  # fmt: skip
    exact = repulsion_forces(pos.astype(np.float64), REPULSION, SOFTENING, cutoff)
    np.testing.assert_allclose(force.copy_to_host(), exact, rtol=1e-4, atol=1e-4)
