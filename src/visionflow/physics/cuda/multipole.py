"""GridMultipole: the device workspace and launch sequence of the grid multipole repulsion.

The kernels are in ``multipole_kernels`` (the algorithm is described there). Everything a step
needs stays on the device: the bounding box is reduced there, the counts are scanned there,
and nothing is copied to or from the host during a step. The work arrays are kept between
steps and reallocated only when the node count outgrows them (by a quarter more each time) or
a finer level is needed.

The same grid, with cells at least ``cutoff`` wide and without the far field, is the CUDA
backend's cell list (``near_field``): every pair within the cutoff lies in neighbouring cells.

Memory at 1M nodes (finest level 6): 28 B per node (sorted rows, keys, slots) and about
6 MB of cells, counts and offsets; the finest level is capped at ``MAX_LEVEL`` (8), whose
16.8M cells take about 420 MB, and is only reached above 8M nodes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionflow.physics.cuda import multipole_kernels as km
from visionflow.physics.cuda.kernels import BLOCK
from visionflow.physics.cuda.scan import DeviceScan
from visionflow.physics.cuda.transfers import Transfers

__all__ = ["NODES_PER_CELL", "GridMultipole", "finest_level"]

NODES_PER_CELL = 4.0
"""Nodes per finest cell the level is chosen for, on average over the cube. More means a larger
exact near field (slower, more accurate); fewer means more levels of monopoles and more memory."""
BOUNDS_BLOCKS = 8 * BLOCK
"""Blocks of the bounding-box reduction: each strides over the nodes, so the final pass stays one small block."""


def finest_level(n: int, nodes_per_cell: float = NODES_PER_CELL) -> int:
    """The finest grid level for ``n`` nodes: 8**level cells, about ``n / nodes_per_cell``, within 2..MAX_LEVEL."""
    want = max(n / nodes_per_cell, 1.0)
    return min(km.MAX_LEVEL, max(2, math.ceil(math.log(want, 8) - 1e-9)))


class GridMultipole:
    """Approximate repulsion on the device for large node counts (see ``multipole_kernels``), and the cell list."""

    def __init__(self, nodes_per_cell: float = NODES_PER_CELL, transfers: Transfers | None = None) -> None:
        self.nodes_per_cell = nodes_per_cell
        self.transfers = transfers or Transfers()
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
        memory = self.transfers
        d = self._d
        if n > self._node_capacity:
            capacity = max(n, self._node_capacity + self._node_capacity // 4)
            d["cell_of"] = memory.device_array("multipole cell_of", capacity, np.uint32)
            d["rows"] = memory.device_array("multipole rows", 4 * capacity, np.float32)
            d["sorted_cell"] = memory.device_array("multipole sorted_cell", capacity, np.uint32)
            d["sorted_slot"] = memory.device_array("multipole sorted_slot", capacity, np.uint32)
            self._node_capacity = capacity
        if level > self._level_capacity:
            leaves = 1 << (3 * level)
            d["cells"] = memory.device_array("multipole cells", 4 * km.level_start(level + 1), np.float32)
            # Zeroed once: scatter_nodes hands every count back to zero.
            d["counts"] = memory.to_device("multipole counts", np.zeros(leaves + 1, np.int32))
            d["start"] = memory.device_array("multipole start", leaves + 1, np.int32)
            d["partial"] = memory.device_array("multipole partial", (BOUNDS_BLOCKS, 12), np.float32)
            d["box"] = memory.device_array("multipole box", 4, np.float32)
            self._scan = DeviceScan(leaves + 1, memory)
            self._level_capacity = level

    def _sort(self, pos: Any, n: int, level: int, min_cell: float, stream: Any) -> None:
        """Bin the nodes into the finest grid and sort them by cell (steps 1 to 4 of ``multipole_kernels``)."""
        self._reserve(n, level)
        self.level = level
        d = self._d
        assert self._scan is not None
        per_axis = np.uint32(1 << level)
        leaves = 1 << (3 * level)
        blocks = math.ceil(n / BLOCK)
        reducers = min(BOUNDS_BLOCKS, blocks)
        nodes = np.uint32(n)
        km.bounds_partial[reducers, BLOCK, stream](pos, nodes, d["partial"])
        km.bounds_box[1, BLOCK, stream](d["partial"], reducers, n, per_axis, np.float32(min_cell), d["box"])
        km.bin_nodes[blocks, BLOCK, stream](pos, nodes, d["box"], per_axis, d["cell_of"], d["counts"])
        self._scan.run(d["counts"], leaves + 1, d["start"], stream)
        km.scatter_nodes[blocks, BLOCK, stream](pos, nodes, d["cell_of"], d["start"], d["counts"], d["rows"],
                                                d["sorted_cell"], d["sorted_slot"])  # fmt: skip

    def repulsion(self, pos: Any, n: int, repulsion: np.float32, softening: np.float32, force: Any,
                  stream: Any = 0) -> None:  # fmt: skip
        """``force[:n]`` = approximate repulsion on each of the ``n`` nodes of device array ``pos`` (n x 3)."""
        if n == 0:
            return
        level = finest_level(n, self.nodes_per_cell)
        self._sort(pos, n, level, km.MIN_CELL, stream)
        d = self._d
        u_level = np.uint32(level)
        cells = 1 << (3 * level)
        first = np.uint32(km.level_start(level))
        km.leaf_cells[math.ceil(cells / BLOCK), BLOCK, stream](d["rows"], d["start"], u_level, first, d["cells"])
        for lv in range(level - 1, 1, -1):
            count = 1 << (3 * lv)
            km.coarsen_cells[math.ceil(count / BLOCK), BLOCK, stream](d["cells"], np.uint32(lv),
                                                                       np.uint32(km.level_start(lv)),
                                                                       np.uint32(km.level_start(lv + 1)))  # fmt: skip
        km.repulsion_multipole[math.ceil(n / BLOCK), BLOCK, stream](
            d["rows"], d["sorted_cell"], d["sorted_slot"], np.uint32(n), d["start"], d["cells"], u_level, repulsion,
            softening, force)  # fmt: skip

    def near_field(self, pos: Any, n: int, cutoff: float, cutoff2: np.float32, repulsion: np.float32,
                   softening: np.float32, force: Any, stream: Any = 0) -> None:  # fmt: skip
        """``force[:n]`` = exact repulsion from every node closer than ``cutoff`` (its square: ``cutoff2``), from
        cells at least that wide."""
        if n == 0:
            return
        level = finest_level(n, self.nodes_per_cell)
        self._sort(pos, n, level, cutoff, stream)
        d = self._d
        km.repulsion_near[math.ceil(n / BLOCK), BLOCK, stream](
            d["rows"], d["sorted_cell"], d["sorted_slot"], np.uint32(n), d["start"], np.uint32(level), repulsion,
            softening, cutoff2, force)  # fmt: skip
