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
   as (x, y, z, m) rows, all levels in one array (level l starts at row (8**l - 1) / 7). Within
   a level the rows go x, then y, then z fastest, so the cells a thread visits along z are
   consecutive rows (nodes stay sorted by Morton key, for locality).
6. ``repulsion_multipole``, one thread per sorted node (so a warp's nodes are neighbours and
   read the same cells): at each level l >= 2 the monopoles of the classic interaction list,
   the children of the neighbours of the node's parent cell that are not neighbours of its
   own cell (up to 189); then every node of the 27 finest cells around its own, exactly,
   with the coincident-node rule of ``cpu.kernels.coincident_push``. Every other node is
   counted exactly once: at the first level where its cell stops being a neighbour, or in the
   near field if that never happens. A listed cell is at least one cell width from the node,
   so the monopole error per cell is at worst about that of Barnes-Hut with theta = 1, and
   usually far less (most listed cells are further away).

With a ``cutoff``, ``repulsion_near`` replaces step 5 and 6: the finest cells are at least
``cutoff`` wide (``bounds_box``'s ``min_cell``), so every pair closer than that lies in the 27
cells around a node, and the same near-field loop, masked at the cutoff, is a cell list.

Loops run on ``uint32`` counters (``while``, not ``range``, whose iterator is 64-bit and signed),
a far cell costs one reciprocal square root and about twenty instructions, an empty cell adds
nothing (its mass is 0) without a branch. Each thread writes only its own node's force row, as
every other repulsion kernel does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda as _cuda
from numba import float32, float64, uint32, uint64

from visionflow.physics.cuda.kernels import BLOCK, COINCIDENT, FAR, coincident_push, rsqrt

cuda: Any = _cuda  # numba-cuda's intrinsics are not typed

__all__ = [
    "JITTER2",
    "MAX_LEVEL",
    "MIN_CELL",
    "SPREAD",
    "bin_nodes",
    "bounds_box",
    "bounds_partial",
    "coarsen_cells",
    "leaf_cells",
    "level_start",
    "repulsion_multipole",
    "repulsion_near",
    "scatter_nodes",
]

MAX_LEVEL = 8
"""Finest grid level at most: 256 cells per axis, 16.8M finest cells (19.2M rows over all levels); Morton keys
fit 24 bits."""
SPREAD = 8.0
"""The grid cube is at most this many standard deviations (of the widest axis) wide."""
MIN_CELL = 1e-3
"""Narrowest finest cell: coincident nodes (closer than 1e-5) always land in neighbouring cells."""
JITTER2 = float32(0.01**2 + 0.007**2 + 0.003**2)
"""Squared length of the coincident push's fixed offset: a cutoff shorter than it leaves coincident nodes alone,
as in the reference."""
_MORTON = 0x09249249
"""Every third bit: where one axis's bits sit in a Morton key."""
_ONE = np.uint32(1)
_TWO = np.uint32(2)
_THREE = np.uint32(3)
_W1 = np.uint64(1)
_W2 = np.uint64(2)
_W3 = np.uint64(3)
_W4 = np.uint64(4)
"""64-bit unsigned constants for the inner loops' indices: no sign extension, no negative-index code."""


def level_start(level: int) -> int:
    """First row of ``level`` in the all-levels cell array: 1 + 8 + ... + 8**(level - 1)."""
    return ((1 << (3 * level)) - 1) // 7


@cuda.jit(device=True)
def _spread(v):  # type: ignore[no-untyped-def]
    """Bits 0..9 of ``v`` moved to bits 0, 3, 6, ...: one axis of a Morton key."""
    v = uint32(v) & uint32(0x3FF)
    v = (v | (v << uint32(16))) & uint32(0x030000FF)
    v = (v | (v << uint32(8))) & uint32(0x0300F00F)
    v = (v | (v << uint32(4))) & uint32(0x030C30C3)
    return uint32((v | (v << uint32(2))) & uint32(_MORTON))


@cuda.jit(device=True)
def _compact(v):  # type: ignore[no-untyped-def]
    """Inverse of ``_spread``: bits 0, 3, 6, ... of ``v`` gathered into bits 0..9."""
    v = uint32(v) & uint32(_MORTON)
    v = (v | (v >> uint32(2))) & uint32(0x030C30C3)
    v = (v | (v >> uint32(4))) & uint32(0x0300F00F)
    v = (v | (v >> uint32(8))) & uint32(0x030000FF)
    return uint32((v | (v >> uint32(16))) & uint32(0x3FF))


@cuda.jit(device=True)
def _morton(x, y, z):  # type: ignore[no-untyped-def]
    return uint32(_spread(x) | (_spread(y) << _ONE) | (_spread(z) << _TWO))


@cuda.jit(device=True)
def _cell_coord(x, origin, inv_width, top):  # type: ignore[no-untyped-def]
    """Grid coordinate of ``x`` on one axis, clamped to 0..top (nodes outside the cube join its border cells)."""
    v = (x - origin) * inv_width
    if v <= float32(0.0):
        return uint32(0)
    if v >= top:
        return uint32(top)
    return uint32(v)


@cuda.jit(device=True)
def _reduce_bounds(acc, t):  # type: ignore[no-untyped-def]
    """Tree reduction of a block's shared rows into column 0: min, max, sum and sum of squares per axis."""
    stride = BLOCK // 2
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
    acc = cuda.shared.array(shape=(12, BLOCK), dtype=float32)
    t = cuda.threadIdx.x
    for a in range(3):
        acc[a, t] = FAR
        acc[3 + a, t] = -FAR
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
def bounds_box(partial, blocks, n, cells_per_axis, min_cell, box):  # type: ignore[no-untyped-def]
    """One block: ``box`` = grid origin x y z and cells per unit length, from ``bounds_partial``'s rows.

    Cells are at least ``min_cell`` wide. Sums are combined in float64: a million float32 squares
    would lose the variance.
    """
    acc = cuda.shared.array(shape=(12, BLOCK), dtype=float64)
    t = cuda.threadIdx.x
    for a in range(3):
        acc[a, t] = float64(FAR)
        acc[3 + a, t] = -float64(FAR)
        acc[6 + a, t] = 0.0
        acc[9 + a, t] = 0.0
    for b in range(t, blocks, BLOCK):
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
        side = max(side, cells_per_axis * max(MIN_CELL, float64(min_cell)))
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
    i = uint32(cuda.grid(1))
    if i >= n:
        return
    top = cells_per_axis - _ONE
    inv_width = box[3]
    cx = _cell_coord(pos[i, 0], box[0], inv_width, top)
    cy = _cell_coord(pos[i, 1], box[1], inv_width, top)
    cz = _cell_coord(pos[i, 2], box[2], inv_width, top)
    key = _morton(cx, cy, cz)
    cell_of[i] = key
    cuda.atomic.add(counts, key, 1)


@cuda.jit
def scatter_nodes(pos, n, cell_of, start, counts, rows, sorted_cell, sorted_slot):  # type: ignore[no-untyped-def]
    """Counting sort by cell: node i goes to a free slot of its cell's run, claimed by decrementing its count.

    ``rows`` holds (x, y, z, 1) per sorted node, flat: a fixed row width lets the loops address it by shifting.

    Which slot within the run follows the atomics' order, which differs between launches on a GPU:
    sums over a cell's nodes may then round differently in the last bits (the tests allow for it).
    """
    i = uint32(cuda.grid(1))
    if i >= n:
        return
    key = cell_of[i]
    k = start[key] + cuda.atomic.sub(counts, key, 1) - 1
    rows[4 * k] = pos[i, 0]
    rows[4 * k + 1] = pos[i, 1]
    rows[4 * k + 2] = pos[i, 2]
    rows[4 * k + 3] = float32(1.0)
    sorted_cell[k] = key
    sorted_slot[k] = i


@cuda.jit(fastmath=True)
def leaf_cells(rows, start, level, first, cells):  # type: ignore[no-untyped-def]
    """Finest level: row ``first + c`` of ``cells`` (flat, four floats a row) = centre of mass and count of the
    nodes in cell c (x, y, z order)."""
    c = uint32(cuda.grid(1))
    dim = _ONE << level
    if c >= dim * dim * dim:
        return
    key = _morton(c // (dim * dim), (c // dim) % dim, c % dim)
    s = start[key]
    e = start[key + _ONE]
    sx = float32(0.0)
    sy = float32(0.0)
    sz = float32(0.0)
    for k in range(s, e):
        sx += rows[4 * k]
        sy += rows[4 * k + 1]
        sz += rows[4 * k + 2]
    m = float32(e - s)
    scale = float32(1.0) / m if e > s else float32(0.0)
    row = 4 * uint64(first + c)
    cells[row] = sx * scale
    cells[row + _W1] = sy * scale
    cells[row + _W2] = sz * scale
    cells[row + _W3] = m


@cuda.jit(fastmath=True)
def coarsen_cells(cells, level, first, child_first):  # type: ignore[no-untyped-def]
    """One level up: each cell of ``level`` from its eight children on the level below."""
    c = uint32(cuda.grid(1))
    dim = _ONE << level
    if c >= dim * dim * dim:
        return
    x = c // (dim * dim)
    y = (c // dim) % dim
    z = c % dim
    child_dim = dim << _ONE
    sx = float32(0.0)
    sy = float32(0.0)
    sz = float32(0.0)
    m = float32(0.0)
    for a in range(2):
        for b in range(2):
            row = child_first + ((_TWO * x + a) * child_dim + _TWO * y + b) * child_dim + _TWO * z
            for k in range(2):
                at = 4 * uint64(row + k)
                w = cells[at + _W3]
                sx += cells[at] * w
                sy += cells[at + _W1] * w
                sz += cells[at + _W2] * w
                m += w
    scale = float32(1.0) / m if m > float32(0.0) else float32(0.0)
    at = 4 * uint64(first + c)
    cells[at] = sx * scale
    cells[at + _W1] = sy * scale
    cells[at + _W2] = sz * scale
    cells[at + _W3] = m


@cuda.jit(device=True, fastmath=True)
def _far_run(cells, row, end, xi, yi, zi, softening, fx, fy, fz):  # type: ignore[no-untyped-def]
    """Monopoles of cells ``row`` up to ``end`` (consecutive along z) on a node at (xi, yi, zi); forces without
    the ``repulsion`` factor. An empty cell has mass 0 and adds 0."""
    at = _W4 * uint64(row)
    stop = _W4 * uint64(end)
    while at < stop:
        dx = xi - cells[at]
        dy = yi - cells[at + _W1]
        dz = zi - cells[at + _W2]
        r = rsqrt(dx * dx + dy * dy + dz * dz + softening)
        inv = cells[at + _W3] * r * r * r
        fx += dx * inv
        fy += dy * inv
        fz += dz * inv
        at += _W4
    return fx, fy, fz


@cuda.jit(device=True, fastmath=True)
def _far_field(cells, cx, cy, cz, level, xi, yi, zi, softening):  # type: ignore[no-untyped-def]
    """The classic interaction list at every level from 2 to ``level``: children of the parent's neighbours
    that are not the node's cell's own neighbours, as monopoles (without the ``repulsion`` factor)."""
    fx = float32(0.0)
    fy = float32(0.0)
    fz = float32(0.0)
    lv = _TWO
    while lv <= level:
        shift = level - lv
        ox = cx >> shift
        oy = cy >> shift
        oz = cz >> shift
        dim = _ONE << lv
        first = uint32(((_ONE << (_THREE * lv)) - _ONE) // uint32(7))
        # The children of the parent's 3 x 3 x 3 neighbours: 6 cells per axis, clipped to the grid.
        x0 = (ox & ~_ONE) - _TWO if ox >= _TWO else uint32(0)
        y0 = (oy & ~_ONE) - _TWO if oy >= _TWO else uint32(0)
        z0 = (oz & ~_ONE) - _TWO if oz >= _TWO else uint32(0)
        x1 = min(dim, (ox & ~_ONE) + uint32(4))
        y1 = min(dim, (oy & ~_ONE) + uint32(4))
        z1 = min(dim, (oz & ~_ONE) + uint32(4))
        # The node's own neighbours along z: [zn0, zn1), skipped when x and y are neighbours too.
        zn0 = oz - _ONE if oz >= _ONE else uint32(0)
        zn1 = min(dim, oz + _TWO)
        ax = x0
        while ax < x1:
            near_x = ax + _ONE >= ox and ax <= ox + _ONE
            ay = y0
            while ay < y1:
                row = first + (ax * dim + ay) * dim
                # One run along z, or two around the node's own neighbours when x and y are neighbours too.
                gap = near_x and ay + _ONE >= oy and ay <= oy + _ONE
                run = uint32(0)
                while run < _TWO:
                    a = z0 if run == 0 else zn1 if gap else z1
                    b = (zn0 if gap else z1) if run == 0 else z1
                    fx, fy, fz = _far_run(cells, row + a, row + b, xi, yi, zi, softening, fx, fy, fz)
                    run = uint32(run + _ONE)
                ay = uint32(ay + _ONE)
            ax = uint32(ax + _ONE)
        lv = uint32(lv + _ONE)
    return fx, fy, fz


@cuda.jit(device=True, fastmath=True)
def _near_field(rows, sorted_slot, start, k, cx, cy, cz, level, softening, cutoff2):  # type: ignore[no-untyped-def]
    """Every node of the 27 finest cells around sorted node k, exactly and within ``cutoff2`` (None: all of them),
    without the ``repulsion`` factor; and the signed count of coincident ones (before k in slot order less those
    after)."""
    xi = rows[_W4 * k]
    yi = rows[_W4 * k + _W1]
    zi = rows[_W4 * k + _W2]
    me = sorted_slot[k]
    own = _W4 * uint64(k)
    top = (_ONE << level) - _ONE
    fx = float32(0.0)
    fy = float32(0.0)
    fz = float32(0.0)
    ahead = float32(0.0)
    ax = cx - _ONE if cx >= _ONE else uint32(0)
    while ax <= min(cx + _ONE, top):
        ay = cy - _ONE if cy >= _ONE else uint32(0)
        while ay <= min(cy + _ONE, top):
            az = cz - _ONE if cz >= _ONE else uint32(0)
            while az <= min(cz + _ONE, top):
                c = _morton(ax, ay, az)
                at = _W4 * uint64(start[c])
                stop = _W4 * uint64(start[c + _ONE])
                while at < stop:
                    dx = xi - rows[at]
                    dy = yi - rows[at + _W1]
                    dz = zi - rows[at + _W2]
                    d2 = dx * dx + dy * dy + dz * dz
                    r = rsqrt(d2 + softening)
                    # An if statement, not a conditional expression: numba prunes it when cutoff2 is None.
                    if cutoff2 is None:  # noqa: SIM108  (the multipole's near field: no mask)
                        inv = r * r * r
                    else:
                        inv = r * r * r if d2 < cutoff2 else float32(0.0)
                    fx += dx * inv
                    fy += dy * inv
                    fz += dz * inv
                    # Nested: one compare guards the rare branch (the node itself, or one at the same point).
                    if d2 < COINCIDENT:  # noqa: SIM102
                        if at != own:
                            ahead += float32(1.0) if me > sorted_slot[at // _W4] else float32(-1.0)
                    at += _W4
                az = uint32(az + _ONE)
            ay = uint32(ay + _ONE)
        ax = uint32(ax + _ONE)
    return fx, fy, fz, ahead


@cuda.jit(fastmath=True)
def repulsion_multipole(  # type: ignore[no-untyped-def]
    rows, sorted_cell, sorted_slot, n, start, cells, level, repulsion, softening, force,
):  # fmt: skip
    """``force[slot]`` = repulsion on the node in sorted slot k: far cells as monopoles, near nodes exactly."""
    k = uint32(cuda.grid(1))
    if k >= n:
        return
    key = sorted_cell[k]
    cx = _compact(key)
    cy = _compact(key >> _ONE)
    cz = _compact(key >> _TWO)
    gx, gy, gz = _far_field(cells, cx, cy, cz, level, rows[4 * k], rows[4 * k + 1], rows[4 * k + 2], softening)
    fx, fy, fz, ahead = _near_field(rows, sorted_slot, start, k, cx, cy, cz, level, softening, None)
    px, py, pz = coincident_push(True, repulsion, softening)
    me = sorted_slot[k]
    force[me, 0] = repulsion * (fx + gx) + ahead * px
    force[me, 1] = repulsion * (fy + gy) + ahead * py
    force[me, 2] = repulsion * (fz + gz) + ahead * pz


@cuda.jit(fastmath=True)
def repulsion_near(rows, sorted_cell, sorted_slot, n, start, level, repulsion, softening, cutoff2, force):  # type: ignore[no-untyped-def]
    """``force[slot]`` = repulsion on the node in sorted slot k from every node closer than the cutoff (a cell list)."""
    k = uint32(cuda.grid(1))
    if k >= n:
        return
    key = sorted_cell[k]
    fx, fy, fz, ahead = _near_field(rows, sorted_slot, start, k, _compact(key), _compact(key >> _ONE),
                                    _compact(key >> _TWO), level, softening, cutoff2)  # fmt: skip
    if cutoff2 <= JITTER2:
        ahead = float32(0.0)
    px, py, pz = coincident_push(True, repulsion, softening)
    me = sorted_slot[k]
    force[me, 0] = repulsion * fx + ahead * px
    force[me, 1] = repulsion * fy + ahead * py
    force[me, 2] = repulsion * fz + ahead * pz
