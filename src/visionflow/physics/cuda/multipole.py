"""GridMultipole: the device workspace and launch sequence of the grid multipole repulsion.

The kernels are in ``multipole_kernels`` (the algorithm is described there). Everything a step
needs stays on the device: the bounding box is reduced there, the counts are scanned there,
and nothing is copied to or from the host during a step. The work arrays are kept between
steps and reallocated only when the node count outgrows them or a finer level is needed.

Memory at 1M nodes (finest level 6): 28 B per node (sorted rows, keys, slots) and about
6 MB of cells, counts and offsets; the finest level is capped at ``MAX_LEVEL`` (8), whose
16.8M cells take about 420 MB, and is only reached above 8M nodes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionflow.physics.cuda import multipole_kernels as km
from visionflow.physics.cuda.kernels import TILE
from visionflow.physics.cuda.scan import DeviceScan

__all__ = ["NODES_PER_CELL", "GridMultipole", "finest_level"]

NODES_PER_CELL = 4.0
"""Nodes per finest cell the level is chosen for, on average over the cube. More means a larger
exact near field (slower, more accurate); fewer means more levels of monopoles and more memory."""
BOUNDS_BLOCKS = 8 * TILE
"""Blocks of the bounding-box reduction: each strides over the nodes, so the final pass stays one small block."""


def finest_level(n: int, nodes_per_cell: float = NODES_PER_CELL) -> int:
    """The finest grid level for ``n`` nodes: 8**level cells, about ``n / nodes_per_cell``, within 2..MAX_LEVEL."""
    want = max(n / nodes_per_cell, 1.0)
    return min(km.MAX_LEVEL, max(2, math.ceil(math.log(want, 8) - 1e-9)))


class GridMultipole:
    """Approximate repulsion on the device for large node counts (see ``multipole_kernels``)."""

    def __init__(self, nodes_per_cell: float = NODES_PER_CELL) -> None:
        from numba import cuda

        self._cuda: Any = cuda
        self.nodes_per_cell = nodes_per_cell
        self.level = 0
        """Finest level of the last call."""
        self._node_capacity = 0
        self._level_capacity = 0
        self._d: dict[str, Any] = {}
        self._scan: DeviceScan | None = None

    @property
    def nbytes(self) -> int:
        """Device bytes of the work arrays."""
        scan = self._scan.nbytes if self._scan is not None else 0
        return scan + sum(int(a.nbytes) for a in self._d.values())

    def _reserve(self, n: int, level: int) -> None:
        cuda = self._cuda
        d = self._d
        if n > self._node_capacity:
            capacity = max(n, self._node_capacity + self._node_capacity // 4)
            d["cell_of"] = cuda.device_array(capacity, np.int32)
            d["rows"] = cuda.device_array((capacity, 4), np.float32)
            d["sorted_cell"] = cuda.device_array(capacity, np.int32)
            d["sorted_slot"] = cuda.device_array(capacity, np.int32)
            self._node_capacity = capacity
        if level > self._level_capacity:
            leaves = 1 << (3 * level)
            d["cells"] = cuda.device_array((km.level_start(level + 1), 4), np.float32)
            # Zero once: scatter_nodes hands every count back to zero.
            d["counts"] = cuda.to_device(np.zeros(leaves + 1, np.int32))
            d["start"] = cuda.device_array(leaves + 1, np.int32)
            d["partial"] = cuda.device_array((BOUNDS_BLOCKS, 12), np.float32)
            d["box"] = cuda.device_array(4, np.float32)
            self._scan = DeviceScan(leaves + 1)
            self._level_capacity = level

    def repulsion(self, pos: Any, n: int, repulsion: np.float32, softening: np.float32, force: Any) -> None:
        """``force[:n]`` = approximate repulsion on each of the ``n`` nodes of device array ``pos`` (n x 3)."""
        if n == 0:
            return
        level = finest_level(n, self.nodes_per_cell)
        self._reserve(n, level)
        self.level = level
        d = self._d
        assert self._scan is not None
        per_axis = 1 << level
        leaves = 1 << (3 * level)
        blocks = math.ceil(n / TILE)
        reducers = min(BOUNDS_BLOCKS, blocks)
        km.bounds_partial[reducers, TILE](pos, n, d["partial"])
        km.bounds_box[1, TILE](d["partial"], reducers, n, per_axis, d["box"])
        km.bin_nodes[blocks, TILE](pos, n, d["box"], per_axis, d["cell_of"], d["counts"])
        self._scan.run(d["counts"], leaves + 1, d["start"])
        km.scatter_nodes[blocks, TILE](pos, n, d["cell_of"], d["start"], d["counts"], d["rows"], d["sorted_cell"],
                                       d["sorted_slot"])  # fmt: skip
        km.leaf_cells[math.ceil(leaves / TILE), TILE](d["rows"], d["start"], leaves, km.level_start(level), d["cells"])
        for lv in range(level - 1, 1, -1):
            count = 1 << (3 * lv)
            km.coarsen_cells[math.ceil(count / TILE), TILE](d["cells"], km.level_start(lv), count,
                                                            km.level_start(lv + 1))  # fmt: skip
        km.repulsion_multipole[blocks, TILE](d["rows"], d["sorted_cell"], d["sorted_slot"], n, d["start"], d["cells"],
                                             level, repulsion, softening, force)  # fmt: skip
