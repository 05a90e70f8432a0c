"""The CPU backend's all-pairs kernels against the NumPy reference, step for step, and the spring law they share."""

from __future__ import annotations

import numpy as np
import pytest

from visionflow.physics import Backend, SimParams, reference
from visionflow.physics.cpu import kernels

from ..fixtures import build


@pytest.mark.parametrize("parallel_threshold", [10_000, 0], ids=["serial", "parallel"])
@pytest.mark.parametrize(("n", "edges"), [(1, 0), (2, 1), (60, 0), (150, 210)])
def test_numba_matches_reference_step_for_step(parallel_threshold: int, n: int, edges: int) -> None:
    fast = build(Backend.CPU, n, edges, parallel_threshold=parallel_threshold)
    oracle = build(Backend.REFERENCE, n, edges)
    for step in range(25):
        ef = fast.step().kinetic_energy
        eo = oracle.step().kinetic_energy
        np.testing.assert_allclose(fast.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")
        np.testing.assert_allclose(fast.velocities, oracle.velocities, rtol=1e-3, atol=1e-3, err_msg=f"step {step}")
        assert ef == pytest.approx(eo, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize(
    "params",
    [SimParams(spring_exponent=1.0), SimParams(spring_exponent=0.7), SimParams(bounds_radius=5.0)],
    ids=["hooke-springs", "general-power-springs", "bounds"],
)
def test_every_force_option_matches_reference(params: SimParams) -> None:
    fast = build(Backend.CPU, 150, 210)
    oracle = build(Backend.REFERENCE, 150, 210)
    fast.params = oracle.params = params
    for step in range(25):
        fast.step()
        oracle.step()
        np.testing.assert_allclose(fast.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")


@pytest.mark.parametrize("exponent", [1.0, 0.5, 0.7, 0.25])
def test_spring_tension_has_unit_slope_at_rest_and_grows_as_the_power(exponent: float) -> None:
    rest, h = 4.0, 1e-4
    lengths = np.array([rest - h, rest, rest + h, 4 * rest, 16 * rest])
    fast = np.array([kernels.spring_tension(d, rest, exponent) for d in lengths])
    np.testing.assert_allclose(fast, reference.spring_tension(lengths, rest, exponent), rtol=1e-9, atol=1e-12)
    assert fast[1] == 0.0
    assert (fast[2] - fast[0]) / (2 * h) == pytest.approx(1.0, rel=1e-6)
    # Stretched, tension + L / a grows as d ** a: 4x the length gives 4 ** a times it.
    grown = (fast[4] + rest / exponent) / (fast[3] + rest / exponent)
    assert grown == pytest.approx(4.0**exponent, rel=1e-9)


def test_square_root_springs_pull_a_long_edge_less_than_hooke() -> None:
    hooke = kernels.spring_tension(40.0, 4.0, 1.0)
    root = kernels.spring_tension(40.0, 4.0, 0.5)
    assert hooke == pytest.approx(36.0)
    assert root == pytest.approx(2 * (np.sqrt(160.0) - 4.0))
    assert root < hooke / 2
