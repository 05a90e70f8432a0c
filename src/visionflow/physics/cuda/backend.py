"""CudaBackend: keeps the layout on the CUDA device and runs ``kernels`` there.

Repulsion is exact all pairs, or for large layouts the grid multipole (``multipole``), whose
work arrays stay on the device between steps like everything else here.

State lives on the device between steps; the host copies go up only after something
changed on the host (nodes, edges, pins, moved positions) and positions and velocities
come back after every step, because the encoder and the API read them from the host.
numba-cuda is imported in this package only, so the rest of ``physics`` runs with NumPy and Numba alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda as _cuda

from visionflow.physics.backend import Backend, Change, Layout, Method, StepScalars, Thresholds
from visionflow.physics.cuda import kernels
from visionflow.physics.cuda.multipole import GridMultipole
from visionflow.physics.params import SimParams

__all__ = ["CudaBackend", "cuda_available"]

cuda: Any = _cuda  # numba-cuda is not typed

_RESTAGE = Change.NODES | Change.STATE | Change.SPRINGS
"""Changes after which every array goes up again (a step's own results never need to)."""


def cuda_available() -> bool:
    """True when numba-cuda sees a device (or its simulator is switched on)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # no driver or no toolkit: both mean "no GPU"
        return False


class CudaBackend:
    """Device copies of the engine's arrays, and the kernel launches of a step."""

    kind = Backend.CUDA

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._multipole: GridMultipole | None = None
        self._rows = -1
        """Nodes in the device arrays (-1: nothing uploaded yet)."""
        self._d: dict[str, Any] = {}

    @property
    def nbytes(self) -> int:
        """Host bytes held between steps: none, everything is on the device."""
        return 0

    def upload(self, layout: Layout, changed: Change) -> None:
        if changed & _RESTAGE or self._rows != layout.n:
            self._stage(layout)
        elif changed & Change.WEIGHTS:
            self._d["weight"] = cuda.to_device(_nonempty(layout.weight))

    def _stage(self, layout: Layout) -> None:
        n = layout.n
        d = self._d
        d["pos"] = cuda.to_device(np.ascontiguousarray(layout.pos[:n]))
        d["vel"] = cuda.to_device(np.ascontiguousarray(layout.vel[:n]))
        d["pos_next"] = cuda.device_array((n, 3), np.float32)
        d["vel_next"] = cuda.device_array((n, 3), np.float32)
        d["force"] = cuda.device_array((n, 3), np.float32)
        d["ptr"] = cuda.to_device(layout.ptr)
        d["nbr"] = cuda.to_device(_nonempty(layout.nbr))
        d["weight"] = cuda.to_device(_nonempty(layout.weight))
        d["pinned"] = cuda.to_device(np.ascontiguousarray(layout.pinned[:n]))
        d["energy"] = cuda.device_array(1, np.float32)
        self._rows = n

    @property
    def multipole(self) -> GridMultipole:
        """The grid multipole's workspace, made on first use (small layouts never need it)."""
        if self._multipole is None:
            self._multipole = GridMultipole()
        return self._multipole

    def method(self, n: int, params: SimParams) -> Method:
        # Tiled all pairs on the device, where a cutoff is a mask; the grid multipole for large full-range layouts.
        if params.cutoff > 0 or n < self.thresholds.multipole:
            return Method.EXACT
        return Method.GRID_MULTIPOLE

    def step(self, layout: Layout, method: Method, scalars: StepScalars) -> float:
        """One step on the device; ``download`` brings the result to the host."""
        d = self._d
        n = layout.n
        blocks = max(1, (n + kernels.TILE - 1) // kernels.TILE)
        if method is Method.GRID_MULTIPOLE:
            self.multipole.repulsion(d["pos"], n, scalars.repulsion, scalars.softening, d["force"])
        else:
            kernels.repulsion_exact[blocks, kernels.TILE](d["pos"], n, scalars.repulsion, scalars.softening,
                                                          scalars.cutoff2, d["force"])  # fmt: skip
        d["energy"].copy_to_device(np.zeros(1, np.float32))
        kernels.integrate[blocks, kernels.TILE](d["pos"], d["vel"], d["pos_next"], d["vel_next"], d["force"], d["ptr"],
                                                d["nbr"], d["weight"], d["pinned"], n, *scalars.motion,
                                                d["energy"])  # fmt: skip
        d["pos"], d["pos_next"] = d["pos_next"], d["pos"]
        d["vel"], d["vel_next"] = d["vel_next"], d["vel"]
        return float(d["energy"].copy_to_host()[0])

    def download(self, layout: Layout) -> None:
        n = layout.n
        # Assigned rather than copied into a view of the host buffer: the simulator's
        # copy_to_host does not write through views.
        layout.pos_next[:n] = self._d["pos"].copy_to_host()
        layout.vel_next[:n] = self._d["vel"].copy_to_host()


def _nonempty(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``array``, or one zero of its dtype: numba-cuda cannot copy an empty array to the device."""
    return array if len(array) else np.zeros(1, array.dtype)
