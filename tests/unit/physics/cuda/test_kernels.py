"""The CUDA kernels against the NumPy reference: on the simulator in CI, on the device in bench/gpu_check.sh.

The simulator runs every GPU thread as a Python thread, so the graphs here are tiny.
"""

from __future__ import annotations

import numpy as np
import pytest

from visionflow.physics import Backend, PhysicsEngine, SimParams

from ..fixtures import KINDS, engine, node_ids

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[gpu])")


@pytest.fixture(autouse=True)
def _cuda_or_simulator() -> None:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA device and NUMBA_ENABLE_CUDASIM is off")


@pytest.mark.parametrize("kind", KINDS)
def test_cuda_step_matches_reference(kind: str) -> None:
    gpu = engine(kind, 40, Backend.CUDA)
    oracle = engine(kind, 40, Backend.REFERENCE)
    _assert_same_steps(gpu, oracle)


@pytest.mark.parametrize("exponent", [1.0, 0.7], ids=["hooke", "general-power"])
def test_cuda_spring_laws_match_reference(exponent: float) -> None:
    params = SimParams(spring_exponent=exponent)
    _assert_same_steps(engine("random", 40, Backend.CUDA, params), engine("random", 40, Backend.REFERENCE, params))


def _assert_same_steps(gpu: PhysicsEngine, oracle: PhysicsEngine) -> None:
    for step in range(4):
        gpu.step()
        gpu.synchronize()  # the positions come back asynchronously: wait for this step's
        eg = gpu.kinetic_energy
        eo = oracle.step().kinetic_energy
        np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")
        np.testing.assert_allclose(gpu.velocities, oracle.velocities, rtol=1e-3, atol=1e-3, err_msg=f"step {step}")
        assert eg == pytest.approx(eo, rel=1e-3, abs=1e-6)


def test_cuda_cutoff_pins_bounds_and_changes_between_steps() -> None:
    params = SimParams(cutoff=7.0, bounds_radius=6.0)
    gpu = engine("random", 45, Backend.CUDA, params)
    oracle = engine("random", 45, Backend.REFERENCE, params)
    for e in (gpu, oracle):
        e.pin(node_ids(3, start=4))
    for step in range(6):
        if step == 3:  # host-side changes must reach the device
            for e in (gpu, oracle):
                e.remove_nodes(node_ids(1, start=20))
                e.set_edge_weights(np.linspace(0.1, 1.0, e.edge_count))
        gpu.step()
        gpu.synchronize()
        oracle.step()
        np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")
    held = gpu.slots_of(node_ids(3, start=4))
    np.testing.assert_array_equal(gpu.velocities[held], 0.0)
