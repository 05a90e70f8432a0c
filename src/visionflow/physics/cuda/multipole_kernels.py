"""CUDA kernels of the grid multipole repulsion: an octree without pointers, built and walked on the device.

Why not a Barnes-Hut tree as on the CPU: a pointer octree on a GPU needs a radix sort of deep
Morton codes to build, and its walk branches differently in every thread of a warp. Dense grids
of 2**l cells per axis, one per level l, need neither: a node's cell at any level is its finest
cell's coordinates shifted right, every cell's children are eight consecutive rows (cells are
stored in Morton order), and every thread walks the same fixed pattern of cells. The price is
that the finest level is uniform: a dense cluster puts many nodes into few cells and makes the
exact near field longer (slower, not less accurate). Force layouts keep their density fairly
even (repulsion against gravity), which is where this trade pays.

One step, in launch order (``multipole.GridMultipole`` runs them):

1. ``bounds_partial`` then ``bounds_box``: per axis min, max, mean and standard deviation;
   the grid is a cube over the nodes, but at most ``SPREAD`` standard deviations wide, so one
   far outlier cannot crush everyone else into a handful of cells (nodes outside the cube are
   binned into its border cells: still counted exactly once, only their cell's monopole is rougher).
2. ``bin_nodes``: each node's finest cell (a Morton key) and an atomic count per cell.
3. An exclusive scan of the counts (``scan``) gives each cell's first sorted slot.
4. ``scatter_nodes``: a counting sort, by atomic decrements of the counts (which leaves them
   at zero for the next step, so they never need clearing); the sorted rows are (x, y, z, 1).
5. ``leaf_cells`` then ``coarsen_cells`` per level: each cell's centre of mass and node count,
   as (x, y, z, m) rows, all levels in one array (level l starts at row (8**l - 1) / 7).
6. ``repulsion_multipole``, one thread per sorted node (so a warp's nodes are neighbours and
   read the same cells): at each level l >= 2 the monopoles of the classic interaction list,
   the children of the neighbours of the node's parent cell that are not neighbours of its
   own cell (up to 189); then every node of the 27 finest cells around its own, exactly,
   with the coincident-node rule of ``cpu.kernels.coincident_push``. Every other node is
   counted exactly once: at the first level where its cell stops being a neighbour, or in the
   near field if that never happens. A listed cell is at least one cell width from the node,
   so the monopole error per cell is at worst about that of Barnes-Hut with theta = 1, and
   usually far less (most listed cells are further away).

Each thread writes only its own node's force row, as every other repulsion kernel does.
"""

from __future__ import annotations

import math
from typing import Any

from numba import cuda as _cuda
from numba import float32, float64

from visionflow.physics.cuda.kernels import TILE, coincident_push

cuda: Any = _cuda  # numba-cuda's intrinsics are not typed

__all__ = [
    "MAX_LEVEL",
    "SPREAD",
    "bin_nodes",
    "bounds_box",
    "bounds_partial",
    "coarsen_cells",
    "leaf_cells",
    "level_start",
    "repulsion_multipole",
    "scatter_nodes",
]

MAX_LEVEL = 8
"""Finest level at most: 8**8 cells (about 300 MB of cell rows over all levels); Morton keys fit 24 bits."""
SPREAD = 8.0
"""The grid cube is at most this many standard deviations (of the widest axis) wide."""
MIN_CELL = 1e-3
"""Narrowest finest cell: coincident nodes (closer than 1e-5) always land in neighbouring cells."""
_MORTON = 0x09249249
"""Every third bit: where one axis's bits sit in a Morton key."""


def level_start(level: int) -> int:
    """First row of ``level`` in the all-levels cell array: 1 + 8 + ... + 8**(level - 1)."""
    return ((1 << (3 * level)) - 1) // 7


@cuda.jit(device=True)
def _spread(v):  # type: ignore[no-untyped-def]
    """Bits 0..9 of ``v`` moved to bits 0, 3, 6, ...: one axis of a Morton key."""
    v &= 0x3FF
    v = (v | (v << 16)) & 0x030000FF
    v = (v | (v << 8)) & 0x0300F00F
    v = (v | (v << 4)) & 0x030C30C3
    return (v | (v << 2)) & _MORTON


@cuda.jit(device=True)
def _compact(v):  # type: ignore[no-untyped-def]
    """Inverse of ``_spread``: bits 0, 3, 6, ... of ``v`` gathered into bits 0..9."""
    v &= _MORTON
    v = (v | (v >> 2)) & 0x030C30C3
    v = (v | (v >> 4)) & 0x0300F00F
    v = (v | (v >> 8)) & 0x030000FF
    return (v | (v >> 16)) & 0x3FF


@cuda.jit(device=True)
def _next_spread(e):  # type: ignore[no-untyped-def]
    """``_spread(c + 1)`` from ``e = _spread(c)``: the other axes' bits are filled with ones so the carry skips them."""
    return ((e | ~_MORTON) + 1) & _MORTON


@cuda.jit(device=True)
def _cell_coord(x, origin, inv_width, top):  # type: ignore[no-untyped-def]
    """Grid coordinate of ``x`` on one axis, clamped to 0..top (nodes outside the cube join its border cells)."""
    v = (x - origin) * inv_width
    if v <= float32(0.0):
        return 0
    if v >= top:
        return top
    return int(v)


@cuda.jit(device=True)
def _reduce_bounds(acc, t):  # type: ignore[no-untyped-def]
    """Tree reduction of a block's shared rows into column 0: min, max, sum and sum of squares per axis."""
    stride = TILE // 2
    while stride > 0:
        if t < stride:
            for a in range(3):
                acc[a, t] = min(acc[a, t], acc[a, t + stride])
                acc[3 + a, t] = max(acc[3 + a, t], acc[3 + a, t + stride])
                acc[6 + a, t] += acc[6 + a, t + stride]
                acc[9 + a, t] += acc[9 + a, t + stride]
        cuda.syncthreads()
        stride //= 2


@cuda.jit(fastmath=True)
def bounds_partial(pos, n, partial):  # type: ignore[no-untyped-def]
    """``partial[b]`` = min x y z, max x y z, sum x y z, sum of squares x y z of the nodes block b strides over."""
    acc = cuda.shared.array(shape=(12, TILE), dtype=float32)
    t = cuda.threadIdx.x
    for a in range(3):
        acc[a, t] = math.inf
        acc[3 + a, t] = -math.inf
        acc[6 + a, t] = float32(0.0)
        acc[9 + a, t] = float32(0.0)
    i = cuda.grid(1)
    while i < n:
        for a in range(3):
            v = pos[i, a]
            acc[a, t] = min(acc[a, t], v)
            acc[3 + a, t] = max(acc[3 + a, t], v)
            acc[6 + a, t] += v
            acc[9 + a, t] += v * v
        i += cuda.gridsize(1)
    cuda.syncthreads()
    _reduce_bounds(acc, t)
    if t < 12:
        partial[cuda.blockIdx.x, t] = acc[t, 0]


@cuda.jit
def bounds_box(partial, blocks, n, cells_per_axis, box):  # type: ignore[no-untyped-def]
    """One block: ``box`` = grid origin x y z and cells per unit length, from ``bounds_partial``'s rows.

    Sums are combined in float64: a million float32 squares would lose the variance.
    """
    acc = cuda.shared.array(shape=(12, TILE), dtype=float64)
    t = cuda.threadIdx.x
    for a in range(3):
        acc[a, t] = math.inf
        acc[3 + a, t] = -math.inf
        acc[6 + a, t] = 0.0
        acc[9 + a, t] = 0.0
    for b in range(t, blocks, TILE):
        for a in range(3):
            acc[a, t] = min(acc[a, t], float64(partial[b, a]))
            acc[3 + a, t] = max(acc[3 + a, t], float64(partial[b, 3 + a]))
            acc[6 + a, t] += float64(partial[b, 6 + a])
            acc[9 + a, t] += float64(partial[b, 9 + a])
    cuda.syncthreads()
    _reduce_bounds(acc, t)
    if t == 0:
        extent = 0.0
        sigma = 0.0
        for a in range(3):
            mean = acc[6 + a, 0] / n
            sigma = max(sigma, math.sqrt(max(acc[9 + a, 0] / n - mean * mean, 0.0)))
            extent = max(extent, acc[3 + a, 0] - acc[a, 0])
        side = min(extent, SPREAD * sigma)
        side = max(side, cells_per_axis * MIN_CELL)
        for a in range(3):
            lo = acc[a, 0]
            hi = acc[3 + a, 0]
            # Centred on the mean, but never leaving a side empty while nodes lie beyond it.
            origin = acc[6 + a, 0] / n - 0.5 * side
            origin = max(min(lo, hi - side), min(max(lo, hi - side), origin))
            box[a] = origin
        box[3] = cells_per_axis / side


@cuda.jit(fastmath=True)
def bin_nodes(pos, n, box, cells_per_axis, cell_of, counts):  # type: ignore[no-untyped-def]
    """``cell_of[i]`` = Morton key of node i's finest cell; ``counts[key]`` += 1."""
    i = cuda.grid(1)
    if i >= n:
        return
    top = cells_per_axis - 1
    inv_width = box[3]
    cx = _cell_coord(pos[i, 0], box[0], inv_width, top)
    cy = _cell_coord(pos[i, 1], box[1], inv_width, top)
    cz = _cell_coord(pos[i, 2], box[2], inv_width, top)
    key = _spread(cx) | (_spread(cy) << 1) | (_spread(cz) << 2)
    cell_of[i] = key
    cuda.atomic.add(counts, key, 1)


@cuda.jit
def scatter_nodes(pos, n, cell_of, start, counts, rows, sorted_cell, sorted_slot):  # type: ignore[no-untyped-def]
    """Counting sort by cell: node i goes to a free slot of its cell's run, claimed by decrementing its count."""
    i = cuda.grid(1)
    if i >= n:
        return
    key = cell_of[i]
    k = start[key] + cuda.atomic.sub(counts, key, 1) - 1
    rows[k, 0] = pos[i, 0]
    rows[k, 1] = pos[i, 1]
    rows[k, 2] = pos[i, 2]
    rows[k, 3] = float32(1.0)
    sorted_cell[k] = key
    sorted_slot[k] = i


@cuda.jit(fastmath=True)
def leaf_cells(rows, start, leaves, first, cells):  # type: ignore[no-untyped-def]
    """Finest level: ``cells[first + c]`` = centre of mass and count of cell c's run of sorted nodes."""
    c = cuda.grid(1)
    if c >= leaves:
        return
    s = start[c]
    e = start[c + 1]
    sx = float32(0.0)
    sy = float32(0.0)
    sz = float32(0.0)
    for k in range(s, e):
        sx += rows[k, 0]
        sy += rows[k, 1]
        sz += rows[k, 2]
    m = float32(e - s)
    scale = float32(1.0) / m if e > s else float32(0.0)
    cells[first + c, 0] = sx * scale
    cells[first + c, 1] = sy * scale
    cells[first + c, 2] = sz * scale
    cells[first + c, 3] = m


@cuda.jit(fastmath=True)
def coarsen_cells(cells, first, count, child_first):  # type: ignore[no-untyped-def]
    """One level up: each of ``count`` cells from its eight children (consecutive rows, by Morton order)."""
    c = cuda.grid(1)
    if c >= count:
        return
    sx = float32(0.0)
    sy = float32(0.0)
    sz = float32(0.0)
    m = float32(0.0)
    child = child_first + 8 * c
    for k in range(8):
        w = cells[child + k, 3]
        sx += cells[child + k, 0] * w
        sy += cells[child + k, 1] * w
        sz += cells[child + k, 2] * w
        m += w
    scale = float32(1.0) / m if m > float32(0.0) else float32(0.0)
    cells[first + c, 0] = sx * scale
    cells[first + c, 1] = sy * scale
    cells[first + c, 2] = sz * scale
    cells[first + c, 3] = m


@cuda.jit(fastmath=True)
def repulsion_multipole(  # type: ignore[no-untyped-def]
    rows, sorted_cell, sorted_slot, n, start, cells, level, repulsion, softening, force,
):  # fmt: skip
    """``force[slot]`` = repulsion on the node in sorted slot k: far cells as monopoles, near nodes exactly."""
    k = cuda.grid(1)
    if k >= n:
        return
    xi = rows[k, 0]
    yi = rows[k, 1]
    zi = rows[k, 2]
    key = sorted_cell[k]
    cx = _compact(key)
    cy = _compact(key >> 1)
    cz = _compact(key >> 2)
    fx = float32(0.0)
    fy = float32(0.0)
    fz = float32(0.0)
    for lv in range(2, level + 1):
        shift = level - lv
        ox = cx >> shift
        oy = cy >> shift
        oz = cz >> shift
        dim = 1 << lv
        first = ((1 << (3 * lv)) - 1) // 7
        # The children of the parent's 3 x 3 x 3 neighbours: 6 cells per axis, clipped to the grid.
        x0 = max(0, (ox & ~1) - 2)
        y0 = max(0, (oy & ~1) - 2)
        z0 = max(0, (oz & ~1) - 2)
        x1 = min(dim, (ox & ~1) + 4)
        y1 = min(dim, (oy & ~1) + 4)
        z1 = min(dim, (oz & ~1) + 4)
        ex = _spread(x0)
        for ax in range(x0, x1):
            near_x = abs(ax - ox) <= 1
            ey = _spread(y0)
            for ay in range(y0, y1):
                near_xy = near_x and abs(ay - oy) <= 1
                exy = ex | (ey << 1)
                ez = _spread(z0)
                for az in range(z0, z1):
                    if not (near_xy and abs(az - oz) <= 1):
                        row = first + (exy | (ez << 2))
                        m = cells[row, 3]
                        if m > float32(0.0):
                            dx = xi - cells[row, 0]
                            dy = yi - cells[row, 1]
                            dz = zi - cells[row, 2]
                            r2 = dx * dx + dy * dy + dz * dz + softening
                            inv = repulsion * m / (r2 * math.sqrt(r2))
                            fx += dx * inv
                            fy += dy * inv
                            fz += dz * inv
                    ez = _next_spread(ez)
                ey = _next_spread(ey)
            ex = _next_spread(ex)
    me = sorted_slot[k]
    top = (1 << level) - 1
    for ax in range(max(cx - 1, 0), min(cx + 1, top) + 1):
        for ay in range(max(cy - 1, 0), min(cy + 1, top) + 1):
            for az in range(max(cz - 1, 0), min(cz + 1, top) + 1):
                c = _spread(ax) | (_spread(ay) << 1) | (_spread(az) << 2)
                for j in range(start[c], start[c + 1]):
                    dx = xi - rows[j, 0]
                    dy = yi - rows[j, 1]
                    dz = zi - rows[j, 2]
                    d2 = dx * dx + dy * dy + dz * dz
                    r2 = d2 + softening
                    inv = repulsion / (r2 * math.sqrt(r2))
                    fx += dx * inv
                    fy += dy * inv
                    fz += dz * inv
                    if d2 < float32(1e-10) and j != k:
                        px, py, pz = coincident_push(me > sorted_slot[j], repulsion, softening)
                        fx += px
                        fy += py
                        fz += pz
    force[me, 0] = fx
    force[me, 1] = fy
    force[me, 2] = fz
