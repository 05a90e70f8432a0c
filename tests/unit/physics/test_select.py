"""``--physics auto|cpu|cuda|reference``: which backend runs, and the warm-up that compiles its kernels."""

from __future__ import annotations

from typing import Any

import pytest

from visionflow.physics import Backend, Method, PhysicsSelection, SimParams, resolve_physics, warm_up
from visionflow.physics.cpu.backend import CpuBackend
from visionflow.physics.select import cuda_device_present


def no_device_lookup() -> bool:
    pytest.fail("cpu and reference must not look for a GPU")


@pytest.mark.parametrize("requested", ["auto", "cuda"])
def test_a_present_device_is_taken(requested: Any) -> None:
    assert resolve_physics(requested, device_present=lambda: True) == PhysicsSelection(requested, Backend.CUDA)


def test_auto_without_a_device_is_the_cpu_without_complaint() -> None:
    assert resolve_physics("auto", device_present=lambda: False) == PhysicsSelection("auto", Backend.CPU)


def test_cuda_without_a_device_falls_back_to_the_cpu_with_a_reason() -> None:
    choice = resolve_physics("cuda", device_present=lambda: False)
    assert choice == PhysicsSelection("cuda", Backend.CPU, "no CUDA device is available")


@pytest.mark.parametrize(("requested", "backend"), [("cpu", Backend.CPU), ("reference", Backend.REFERENCE)])
def test_explicit_host_backends_never_look_for_a_device(requested: Any, backend: Backend) -> None:
    assert resolve_physics(requested, device_present=no_device_lookup) == PhysicsSelection(requested, backend)


def test_the_cuda_simulator_does_not_count_as_a_device() -> None:
    from numba import config

    if not getattr(config, "ENABLE_CUDASIM", 0):
        pytest.skip("NUMBA_ENABLE_CUDASIM is off in this run")
    assert not cuda_device_present()
    assert resolve_physics("auto") == PhysicsSelection("auto", Backend.CPU)


def test_warm_up_takes_every_cpu_path(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: set[tuple[Method, bool]] = set()
    step = CpuBackend.step

    def recording(self: CpuBackend, layout: Any, method: Method, scalars: Any) -> float:
        taken.add((method, layout.n >= self.thresholds.parallel))
        return step(self, layout, method, scalars)

    monkeypatch.setattr(CpuBackend, "step", recording)
    warm_up(Backend.CPU, SimParams())
    threads = (False, True)
    assert taken == {(method, parallel) for method in (Method.EXACT, Method.TREE) for parallel in threads} | {
        (Method.GRID, False)
    }


def test_warm_up_on_the_cuda_simulator_takes_both_repulsion_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[gpu])")
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA device and NUMBA_ENABLE_CUDASIM is off")
    from visionflow.physics.cuda import CudaBackend

    taken: list[Method] = []
    step = CudaBackend.step

    def recording(self: CudaBackend, layout: Any, method: Method, scalars: Any) -> float:
        taken.append(method)
        return step(self, layout, method, scalars)

    monkeypatch.setattr(CudaBackend, "step", recording)
    warm_up(Backend.CUDA, SimParams())
    assert set(taken) == {Method.EXACT, Method.GRID_MULTIPOLE, Method.GRID}
    assert taken[-1] is Method.GRID  # with a cutoff: the multipole grid's near field
