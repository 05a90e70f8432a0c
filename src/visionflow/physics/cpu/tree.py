"""BarnesHutTree: the arrays the tree kernels work in, kept between steps.

The node order of the last step seeds the next sort (nodes move little between frames),
and every array is reused until the node count outgrows it, so a step allocates nothing
but the per-cell rows the walk reads (centre of mass, mass, side, node range) and the group list.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from visionflow.physics.cpu import tree_kernels as kt
from visionflow.types import Real, Vec3Array

__all__ = ["BarnesHutTree"]

LEAF_SIZE = 8
"""Nodes per leaf: small, so that a near leaf that must be opened adds few single nodes to a list."""
GROUP_SIZE = 64
"""Nodes per walk at most: the nodes of a group share one walk and one interaction list. Leaves of 8
in groups of 64 walk a quarter as often as leaves of 16 did, with shorter lists near the group
(measured: ``visionflow bench physics``, a quarter less time per step at 10k and 100k nodes)."""


class BarnesHutTree:
    """Builds the octree over a position array and computes Barnes-Hut repulsion from it."""

    def __init__(self, leaf_size: int = LEAF_SIZE, group_size: int = GROUP_SIZE) -> None:
        self.leaf_size = leaf_size
        self.group_size = group_size
        self.cells = 0
        self.resorts = 0
        """Full sorts so far (the rest reused the previous order)."""
        self._n = -1
        self._order = np.empty(0, np.int32)
        self._codes = np.empty(0, np.uint64)
        self._keys = np.empty(0, np.uint64)
        self._sorted = np.empty((3, 0), np.float32)
        self._prefix = np.empty((3, 1), np.float64)
        self._alloc_cells(0)

    def _alloc_cells(self, capacity: int) -> None:
        self._start = np.empty(capacity, np.int32)
        self._end = np.empty(capacity, np.int32)
        self._skip = np.empty(capacity, np.int32)
        self._parent = np.empty(capacity, np.int32)
        self._half = np.empty(capacity, np.float32)

    def invalidate(self) -> None:
        """Forget the node order (nodes were added or removed, so slots changed meaning)."""
        self._n = -1

    @property
    def nbytes(self) -> int:
        arrays = (self._order, self._codes, self._keys, self._sorted, self._prefix, self._start, self._end,
                  self._skip, self._parent, self._half)  # fmt: skip
        return sum(a.nbytes for a in arrays)

    def _reserve(self, n: int) -> None:
        if len(self._order) < n:
            size = n + n // 4
            self._codes = np.empty(size, np.uint64)
            self._keys = np.empty(size, np.uint64)
            self._sorted = np.empty((3, size), np.float32)
            self._prefix = np.empty((3, size + 1), np.float64)
            self._order = np.empty(size, np.int32)
            self._n = -1
        if len(self._start) < n // 2 + 16:
            self._alloc_cells(n // 2 + n // 8 + 16)

    def build(self, pos: Vec3Array, n: int) -> None:
        """Sort the nodes along the Morton curve and build the cells over them."""
        self._reserve(n)
        _, _, _, side = kt.morton_codes(pos, n, self._codes)
        order = self._order
        if self._n != n:
            order[:n] = np.argsort(self._codes[:n], kind="stable").astype(np.int32)
            self.resorts += 1
        elif not kt.sort_order(order, self._codes, n, self._keys, 2 * n + 64):
            # Too many moves for insertion: sort the codes in the last order (still a permutation),
            # which is nearly sorted, so the stable merge sort finds long runs (4x faster at 100k).
            order[:n] = order[np.argsort(self._codes[order[:n]], kind="stable")]
            self.resorts += 1
        self._n = n
        xs, ys, zs = self._sorted[0], self._sorted[1], self._sorted[2]
        kt.sorted_positions(pos, order, n, xs, ys, zs, self._prefix)
        while True:
            cells = kt.build_tree(self._codes, order, n, side, self.leaf_size, self._start, self._end, self._skip,
                                  self._parent, self._half)  # fmt: skip
            if cells >= 0:
                break
            self._alloc_cells(2 * len(self._start))
        self.cells = cells

    def repulsion(
        self,
        pos: Vec3Array,
        n: int,
        theta: Real,
        repulsion: Real,
        softening: Real,
        force: Vec3Array,
        *,
        parallel: bool = True,
    ) -> None:
        """Build the tree over ``pos[:n]`` and write each node's repulsion into ``force[:n]``."""
        self.build(pos, n)
        walk: Callable[..., None] = kt.tree_repulsion if parallel else kt.tree_repulsion_serial
        walk(
            self._sorted[0], self._sorted[1], self._sorted[2], self._order, n, self.cells,
            self._start, self._end, self._skip, self._half, self._prefix, self.group_size,
            np.float32(theta), np.float32(repulsion), np.float32(softening), force,
        )  # fmt: skip

    @property
    def order(self) -> npt.NDArray[np.int32]:
        """Slots in tree (Morton) order, as of the last build."""
        return self._order[: max(self._n, 0)]
