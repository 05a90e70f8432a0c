"""CpuBackend: a layout step with the Numba kernels, on the engine's own host arrays.

Repulsion is exact all pairs for small layouts (``kernels``), a Barnes-Hut octree above the tree
threshold (``tree``) and a uniform-grid cell list when a cutoff is set (``grid``); springs, gravity
and the integration are the same code for all three. Below the parallel threshold the kernels run
in the calling thread (all but the cell list's search, which is parallel at any size). Nothing needs
uploading: the kernels write the engine's next buffers directly, and ``download`` makes them current.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.physics.backend import Backend, Change, Layout, Method, StepScalars, Thresholds
from visionflow.physics.cpu import kernels
from visionflow.physics.cpu.grid import grid_repulsion
from visionflow.physics.cpu.tree import BarnesHutTree
from visionflow.physics.params import SimParams

__all__ = ["CpuBackend"]

StepKernel = Callable[..., float]
"""A whole step (exact repulsion), or the rest of one after tree or cell-list repulsion."""


class CpuBackend:
    """The Numba kernels, with the scratch space and the octree they keep between steps."""

    kind = Backend.CPU

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self.tree = BarnesHutTree()
        self._soa: npt.NDArray[np.float32] = np.zeros((3, 0), dtype=np.float32)
        """Positions split by axis, so the all-pairs loop reads contiguous floats and vectorises."""
        self._force: npt.NDArray[np.float32] = np.zeros((0, 3), dtype=np.float32)
        """Repulsion of the tree or cell list, before the rest of the step adds to it."""

    @property
    def nbytes(self) -> int:
        return self._soa.nbytes + self._force.nbytes + self.tree.nbytes

    def host_array(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        return np.zeros(shape, dtype=dtype)

    def upload(self, layout: Layout, changed: Change) -> None:
        """Forget the tree's node order when slots changed meaning; size the scratch to the engine's capacity."""
        if changed & Change.NODES:
            self.tree.invalidate()
        capacity = len(layout.pos)
        if self._soa.shape[1] != capacity:
            self._soa = np.zeros((3, capacity), dtype=np.float32)
            self._force = np.zeros((capacity, 3), dtype=np.float32)

    def method(self, n: int, params: SimParams) -> Method:
        if params.cutoff > 0:
            return Method.GRID
        return Method.EXACT if n < self.thresholds.tree else Method.TREE

    def step(self, layout: Layout, method: Method, scalars: StepScalars) -> float:
        n = layout.n
        parallel = n >= self.thresholds.parallel
        head = (layout.pos, layout.vel, layout.pos_next, layout.vel_next, self._soa)
        graph = (layout.ptr, layout.nbr, layout.weight, layout.pinned, n)
        if method is Method.EXACT:
            exact: StepKernel = kernels.step_parallel if parallel else kernels.step_serial
            return exact(*head, *graph, scalars.repulsion, scalars.softening, *scalars.motion)
        force = self._force
        if method is Method.TREE:
            self.tree.repulsion(layout.pos, n, scalars.theta, scalars.repulsion, scalars.softening, force,
                                parallel=parallel)  # fmt: skip
        else:
            grid_repulsion(layout.pos, n, np.float32(scalars.cutoff), scalars.repulsion, scalars.softening, force)
        finish: StepKernel = kernels.step_with_repulsion if parallel else kernels.step_with_repulsion_serial
        return finish(*head, force, *graph, *scalars.motion)

    def download(self, layout: Layout) -> None:
        """The kernels wrote ``layout.pos_next`` and ``vel_next`` themselves: make them current."""
        layout.swap()

    def finish(self, layout: Layout) -> float | None:
        """Nothing to wait for: ``download`` left the last step current."""
        return None
