"""Cut-off repulsion on the CPU through a uniform-grid cell list, for very large graphs.

Pure functions over arrays. Nodes are counting-sorted by grid cell; each node then sums
the nodes of its own and the 26 neighbouring cells that lie within ``cutoff``. Cells are
at least ``cutoff`` wide, so no pair within range is missed; when the layout is spread
so wide that cells of exactly ``cutoff`` would outnumber the nodes many times, the cells
grow (more candidates per node, same result) to keep the grid's memory bounded.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import prange

from visionflow.jit import jit
from visionflow.physics.cpu.kernels import coincident_push
from visionflow.types import Real

__all__ = ["grid_repulsion"]

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

CELLS_PER_NODE = 4
"""The grid holds at most this many cells per node (plus a few)."""


@jit(fastmath=True, nogil=True, parallel=True, cache=True)
def grid_repulsion(
    pos: F32, n: int, cutoff: Real, repulsion: Real, softening: Real, force: F32,
) -> None:  # fmt: skip
    """Repulsion from every node closer than ``cutoff`` into ``force[:n]`` (overwritten)."""
    lo = np.empty(3, np.float64)
    hi = np.empty(3, np.float64)
    for a in range(3):
        lo[a] = np.inf
        hi[a] = -np.inf
    for i in range(n):
        for a in range(3):
            v = np.float64(pos[i, a])
            lo[a] = min(lo[a], v)
            hi[a] = max(hi[a], v)
    size = np.float64(cutoff)
    while True:
        total = 1
        for a in range(3):
            total *= int((hi[a] - lo[a]) / size) + 1
        if total <= CELLS_PER_NODE * n + 64:
            break
        size *= 1.25
    dims = np.empty(3, np.int64)
    for a in range(3):
        dims[a] = int((hi[a] - lo[a]) / size) + 1
    cells = dims[0] * dims[1] * dims[2]
    coord = np.empty((n, 3), np.int64)
    cell_of = np.empty(n, np.int64)
    counts = np.zeros(cells + 1, np.int64)
    for i in range(n):
        for a in range(3):
            coord[i, a] = min(int((np.float64(pos[i, a]) - lo[a]) / size), dims[a] - 1)
        c = coord[i, 0] + dims[0] * (coord[i, 1] + dims[1] * coord[i, 2])
        cell_of[i] = c
        counts[c + 1] += 1
    for c in range(cells):
        counts[c + 1] += counts[c]
    fill = counts[:cells].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        c = cell_of[i]
        order[fill[c]] = i
        fill[c] += 1
    xs = np.empty(n, np.float32)
    ys = np.empty(n, np.float32)
    zs = np.empty(n, np.float32)
    for k in range(n):
        xs[k] = pos[order[k], 0]
        ys[k] = pos[order[k], 1]
        zs[k] = pos[order[k], 2]
    c2 = np.float32(cutoff * cutoff)
    for k in prange(n):
        i = order[k]
        xi = xs[k]
        yi = ys[k]
        zi = zs[k]
        fx = np.float32(0.0)
        fy = np.float32(0.0)
        fz = np.float32(0.0)
        close = np.float32(0.0)
        cx, cy, cz = coord[i, 0], coord[i, 1], coord[i, 2]
        for gz in range(max(cz - 1, 0), min(cz + 2, dims[2])):
            for gy in range(max(cy - 1, 0), min(cy + 2, dims[1])):
                row = dims[0] * (gy + dims[1] * gz)
                # Cells gx-1..gx+1 of one row are contiguous in the sorted order.
                s = counts[row + max(cx - 1, 0)]
                e = counts[row + min(cx + 2, dims[0])]
                for j in range(s, e):
                    dx = xi - xs[j]
                    dy = yi - ys[j]
                    dz = zi - zs[j]
                    d2 = dx * dx + dy * dy + dz * dz
                    inside = np.float32(1.0) if d2 < c2 else np.float32(0.0)
                    inv = inside * repulsion * (d2 + softening) ** np.float32(-1.5)
                    fx += dx * inv
                    fy += dy * inv
                    fz += dz * inv
                    close += np.float32(1.0) if d2 < np.float32(1e-10) else np.float32(0.0)
        if close > np.float32(1.5):
            # Coincident nodes share a cell: the all-pairs kernel's rule, ordered by slot.
            s = counts[cell_of[i]]
            e = counts[cell_of[i] + 1]
            for j in range(s, e):
                other = order[j]
                if other != i and (xi - xs[j]) ** 2 + (yi - ys[j]) ** 2 + (zi - zs[j]) ** 2 < 1e-10:
                    px, py, pz = coincident_push(i, other, repulsion, softening)
                    fx += px
                    fy += py
                    fz += pz
        force[i, 0] = fx
        force[i, 1] = fy
        force[i, 2] = fz
