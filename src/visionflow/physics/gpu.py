"""GpuStepper: keeps the layout on the CUDA device and runs ``kernels_gpu`` for the engine.

Repulsion is exact all pairs, or for large layouts the grid multipole (``multipole_gpu``), whose
work arrays stay on the device between steps like everything else here.

State lives on the device between steps; the host copies go up only after something
changed on the host (nodes, edges, pins, moved positions) and positions and velocities
come back after every step, because the encoder and the API read them from the host.
numba-cuda is imported here, so the rest of ``physics`` runs with NumPy and Numba alone.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from visionflow.physics.engine import PhysicsEngine
    from visionflow.physics.multipole_gpu import GridMultipole

__all__ = ["GpuStepper", "cuda_available"]


def cuda_available() -> bool:
    """True when numba-cuda is installed and sees a device (or its simulator is switched on)."""
    try:
        from numba import cuda

        device: Any = cuda
        return bool(device.is_available())
    except Exception:  # no driver, no toolkit, or the package is missing: all mean "no GPU"
        return False


class GpuStepper:
    """Device copies of one engine's arrays, and the kernel launches of a step."""

    def __init__(self) -> None:
        from numba import cuda

        from visionflow.physics import kernels_gpu

        self._cuda: Any = cuda
        self._k: Any = kernels_gpu
        self._multipole: GridMultipole | None = None
        self._dirty = True
        self._weights_dirty = True
        self._d: dict[str, Any] = {}

    def invalidate(self) -> None:
        """Host state changed: upload everything before the next step."""
        self._dirty = True

    def weights_changed(self) -> None:
        self._weights_dirty = True

    def _upload(self, engine: PhysicsEngine) -> None:
        cuda = self._cuda
        n = engine.n
        d = self._d
        d["pos"] = cuda.to_device(np.ascontiguousarray(engine._pos[:n]))
        d["vel"] = cuda.to_device(np.ascontiguousarray(engine._vel[:n]))
        d["pos_next"] = cuda.device_array((n, 3), np.float32)
        d["vel_next"] = cuda.device_array((n, 3), np.float32)
        d["force"] = cuda.device_array((n, 3), np.float32)
        d["ptr"] = cuda.to_device(engine._ptr)
        d["nbr"] = cuda.to_device(engine._nbr if len(engine._nbr) else np.zeros(1, np.int32))
        d["pinned"] = cuda.to_device(np.ascontiguousarray(engine._pinned[:n]))
        d["energy"] = cuda.device_array(1, np.float32)
        self._dirty = False
        self._weights_dirty = True

    @property
    def multipole(self) -> GridMultipole:
        """The grid multipole's workspace, made on first use (small layouts never need it)."""
        if self._multipole is None:
            from visionflow.physics.multipole_gpu import GridMultipole

            self._multipole = GridMultipole()
        return self._multipole

    def step(self, engine: PhysicsEngine, warm: float, max_speed: float, *, multipole: bool = False) -> float:
        """One step of ``engine`` on the device; results land in the engine's ``_next`` buffers.

        ``multipole``: repulsion by the grid multipole instead of exact all pairs (the engine asks for it only
        without a cutoff, which the all-pairs kernel applies as a mask).
        """
        if self._dirty or self._d["pos"].shape[0] != engine.n:
            self._upload(engine)
        d = self._d
        if self._weights_dirty:
            w = engine._csr_weight
            d["weight"] = self._cuda.to_device(w if len(w) else np.zeros(1, np.float32))
            self._weights_dirty = False
        p = engine.params
        n = engine.n
        k = self._k
        grid = max(1, (n + k.TILE - 1) // k.TILE)
        cutoff2 = np.float32(p.cutoff * p.cutoff) if p.cutoff > 0 else np.float32(math.inf)
        if multipole:
            self.multipole.repulsion(d["pos"], n, np.float32(p.repulsion), np.float32(p.softening), d["force"])
        else:
            k.repulsion_exact[grid, k.TILE](d["pos"], n, np.float32(p.repulsion), np.float32(p.softening), cutoff2,
                                            d["force"])  # fmt: skip
        d["energy"].copy_to_device(np.zeros(1, np.float32))
        k.integrate[grid, k.TILE](
            d["pos"], d["vel"], d["pos_next"], d["vel_next"], d["force"], d["ptr"], d["nbr"], d["weight"],
            d["pinned"], n, np.float32(p.dt), np.float32(p.spring_k), np.float32(p.rest_length),
            np.float32(p.spring_exponent), np.float32(p.gravity), np.float32(p.damping), np.float32(p.max_force),
            np.float32(max_speed), np.float32(warm), np.float32(p.bounds_radius), d["energy"],
        )  # fmt: skip
        d["pos"], d["pos_next"] = d["pos_next"], d["pos"]
        d["vel"], d["vel_next"] = d["vel_next"], d["vel"]
        # Assigned rather than copied into a view of the host buffer: the simulator's
        # copy_to_host does not write through views.
        engine._pos_next[:n] = d["pos"].copy_to_host()
        engine._vel_next[:n] = d["vel"].copy_to_host()
        return float(d["energy"].copy_to_host()[0])
