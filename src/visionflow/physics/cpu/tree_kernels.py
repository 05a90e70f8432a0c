"""Barnes-Hut repulsion on the CPU: a Morton-ordered linear octree, traversed in parallel.

Pure functions over arrays, like ``cpu.kernels``. One step of the tree method is:

1. ``morton_codes``: 63-bit codes (21 bits per axis) of every node inside the bounding cube.
2. ``sort_order``: sort the node order by code. The order of the last step is reused: nodes
   move little between frames, so an insertion sort over it finishes in about one pass; if it
   needs too many moves (a shake-up) it gives up and a merge sort finishes from that order.
3. ``build_tree``: cells in depth-first pre-order over the sorted codes. Single-child chains
   are collapsed (a cell is made only where points split), so there are at most 2n cells;
   a cell's first child is the next cell and ``skip`` jumps over its subtree, so traversal
   needs no stack. Centres of mass come from float64 prefix sums of the sorted positions.
4. ``tree_repulsion``: one walk per group (a largest cell of at most ``group_size`` nodes,
   several leaves); a cell far enough away (its side under ``theta`` times the distance from
   its centre of mass to the group's box) acts as one body of its node count, otherwise it
   opens; opened leaves and the group itself are summed node by node, with the same
   branch-free loop and the same coincident-node rule as the all-pairs kernel. With
   ``theta = 0`` no cell is ever accepted and the result is the exact all-pairs sum.

Groups are spread over threads in Morton order; each thread writes only its nodes' rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import prange

from visionflow.jit import jit
from visionflow.physics.cpu.kernels import coincident_push

__all__ = ["build_tree", "morton_codes", "sort_order", "sorted_positions", "tree_repulsion", "tree_repulsion_serial"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
U64 = npt.NDArray[np.uint64]

MORTON_BITS = 21
"""Bits per axis; 3 x 21 = 63 bits fit a uint64."""


@jit(nogil=True, cache=True, inline="always")
def _spread(v: int) -> np.uint64:
    """Put two zero bits between each of the low 21 bits of ``v``."""
    x = np.uint64(v) & np.uint64(0x1FFFFF)
    x = (x | (x << np.uint64(32))) & np.uint64(0x1F00000000FFFF)
    x = (x | (x << np.uint64(16))) & np.uint64(0x1F0000FF0000FF)
    x = (x | (x << np.uint64(8))) & np.uint64(0x100F00F00F00F00F)
    x = (x | (x << np.uint64(4))) & np.uint64(0x10C30C30C30C30C3)
    x = (x | (x << np.uint64(2))) & np.uint64(0x1249249249249249)
    return x


@jit(nogil=True, cache=True)
def _bounds(pos: F32, n: int) -> tuple[float, float, float, float]:
    """Lower corner and side of a cube holding nodes 0..n-1 (side > 0)."""
    lx = ly = lz = np.float64(np.inf)
    hx = hy = hz = np.float64(-np.inf)
    for i in range(n):
        x = np.float64(pos[i, 0])
        y = np.float64(pos[i, 1])
        z = np.float64(pos[i, 2])
        lx = min(lx, x)
        ly = min(ly, y)
        lz = min(lz, z)
        hx = max(hx, x)
        hy = max(hy, y)
        hz = max(hz, z)
    side = max(hx - lx, hy - ly, hz - lz)
    side = side * 1.000001 + 1e-6
    return lx, ly, lz, side


@jit(nogil=True, cache=True)
def morton_codes(pos: F32, n: int, codes: U64) -> tuple[float, float, float, float]:
    """Fill ``codes[:n]``; returns the bounding cube (lower x, y, z and side) the codes refer to."""
    lx, ly, lz, side = _bounds(pos, n)
    top = (1 << MORTON_BITS) - 1
    scale = np.float64(1 << MORTON_BITS) / side
    for i in range(n):
        qx = min(int((np.float64(pos[i, 0]) - lx) * scale), top)
        qy = min(int((np.float64(pos[i, 1]) - ly) * scale), top)
        qz = min(int((np.float64(pos[i, 2]) - lz) * scale), top)
        codes[i] = (_spread(qx) << np.uint64(2)) | (_spread(qy) << np.uint64(1)) | _spread(qz)
    return lx, ly, lz, side


@jit(nogil=True, cache=True)
def sort_order(order: I32, codes: U64, n: int, keys: U64, max_moves: int) -> bool:
    """Insertion-sort ``order[:n]`` (a permutation of 0..n-1) by ``codes``; ``keys`` is scratch.

    Returns False, leaving ``order`` a partly sorted permutation, when it would take more than
    ``max_moves`` element moves; the caller then sorts the rest another way.
    """
    for k in range(n):
        keys[k] = codes[order[k]]
    moves = 0
    for k in range(1, n):
        key = keys[k]
        item = order[k]
        j = k - 1
        while j >= 0 and keys[j] > key:
            keys[j + 1] = keys[j]
            order[j + 1] = order[j]
            j -= 1
            moves += 1
        keys[j + 1] = key
        order[j + 1] = item
        if moves > max_moves:
            return False
    return True


@jit(nogil=True, cache=True)
def sorted_positions(pos: F32, order: I32, n: int, xs: F32, ys: F32, zs: F32, prefix: F64) -> None:
    """Positions gathered in tree order, and float64 prefix sums of them (``prefix`` is 3 x (n+1))."""
    for k in range(n):
        i = order[k]
        xs[k] = pos[i, 0]
        ys[k] = pos[i, 1]
        zs[k] = pos[i, 2]
    prefix[0, 0] = prefix[1, 0] = prefix[2, 0] = 0.0
    for k in range(n):
        prefix[0, k + 1] = prefix[0, k] + xs[k]
        prefix[1, k + 1] = prefix[1, k] + ys[k]
        prefix[2, k + 1] = prefix[2, k] + zs[k]


@jit(nogil=True, cache=True, inline="always")
def _lower_bound(codes: U64, order: I32, lo: int, hi: int, shift: int, octant: int) -> int:
    """First k in [lo, hi) whose code's 3 bits at ``shift`` are >= ``octant`` (they are sorted there)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if int((codes[order[mid]] >> np.uint64(shift)) & np.uint64(7)) < octant:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit(nogil=True, cache=True)
def build_tree(
    codes: U64, order: I32, n: int, side: float, leaf_size: int, start: I32, end: I32, skip: I32, parent: I32,
    half: F32,
) -> int:  # fmt: skip
    """Cells of the octree over the sorted order; returns how many, or -1 if the arrays are too short.

    ``half[c]`` is half the side of cell c's cube; ``side`` is the root cube's side.
    """
    capacity = len(start)
    # Stack of ranges still to split: start, end, level and parent cell. Depth-first, at most
    # 7 siblings wait per level.
    st_s = np.empty(8 * MORTON_BITS + 8, np.int64)
    st_e = np.empty_like(st_s)
    st_l = np.empty_like(st_s)
    st_p = np.empty_like(st_s)
    top = 0
    st_s[0], st_e[0], st_l[0], st_p[0] = 0, n, 0, -1
    count = 0
    while top >= 0:
        s, e, level, par = st_s[top], st_e[top], st_l[top], st_p[top]
        top -= 1
        # Collapse single-child chains: descend while every point shares the next octant.
        while e - s > leaf_size and level < MORTON_BITS:
            shift = 3 * (MORTON_BITS - 1 - level)
            first = (codes[order[s]] >> np.uint64(shift)) & np.uint64(7)
            last = (codes[order[e - 1]] >> np.uint64(shift)) & np.uint64(7)
            if first != last:
                break
            level += 1
        if count >= capacity:
            return -1
        c = count
        count += 1
        start[c] = s
        end[c] = e
        parent[c] = par
        half[c] = side / (1 << (level + 1))
        if e - s <= leaf_size or level >= MORTON_BITS:
            continue
        shift = 3 * (MORTON_BITS - 1 - level)
        # Push children in reverse octant order so the lowest is popped (numbered) first.
        hi = e
        for octant in range(7, -1, -1):
            lo = _lower_bound(codes, order, s, hi, shift, octant)
            if lo < hi:
                top += 1
                st_s[top], st_e[top], st_l[top], st_p[top] = lo, hi, level + 1, c
            hi = lo
    for c in range(count):
        skip[c] = 1
    for c in range(count - 1, 0, -1):
        skip[parent[c]] += skip[c]
    for c in range(count):
        skip[c] += c
    return count


@jit(nogil=True, cache=True)
def _cell_masses(
    cells: int, start: I32, end: I32, skip: I32, half: F32, prefix: F64, group_size: int
) -> tuple[F32, I32, I32]:
    """What the walk reads of each cell, one row per cell; and the groups in Morton order.

    ``body[c]`` is the centre of mass, the node count and the squared side (x, y, z, m, side^2);
    ``span[c]`` is start, end and skip. A row per cell keeps a visit to one or two cache lines
    (the walk visits cells out of cache at 100k nodes).

    A group is a largest cell of at most ``group_size`` nodes (or a leaf, which may hold more
    when nodes coincide); groups cover every node once, and each gets one walk.
    """
    body = np.empty((cells, 5), np.float32)
    span = np.empty((cells, 3), np.int32)
    groups = np.empty(cells, np.int32)
    count = 0
    c = 0
    while c < cells:
        if end[c] - start[c] <= group_size or skip[c] == c + 1:
            groups[count] = c
            count += 1
            c = skip[c]
        else:
            c += 1
    for c in range(cells):
        s = start[c]
        e = end[c]
        m = np.float64(e - s)
        body[c, 0] = (prefix[0, e] - prefix[0, s]) / m
        body[c, 1] = (prefix[1, e] - prefix[1, s]) / m
        body[c, 2] = (prefix[2, e] - prefix[2, s]) / m
        body[c, 3] = m
        body[c, 4] = np.float32(4.0) * half[c] * half[c]
        span[c, 0] = s
        span[c, 1] = e
        span[c, 2] = skip[c]
    return body, span, groups[:count]


@jit(fastmath=True, nogil=True, cache=True)
def _walk_leaves(
    first: int, last: int, leaves: I32, body: F32, span: I32, xs: F32, ys: F32, zs: F32, order: I32, cells: int,
    theta: float, repulsion: float, softening: float, force: F32,
    ax: F32, ay: F32, az: F32, am: F32, bx: F32, by: F32, bz: F32, bm: F32, bslot: I32,
) -> int:  # fmt: skip
    """Repulsion on the nodes of ``leaves[first:last]`` (groups: a leaf, or a cell of a few leaves), one walk each.

    ``ax``..``bslot`` are the interaction-list buffers; returns the first leaf whose list
    did not fit them (``last`` when all fit), so the caller can grow them and go on. ``am``
    and ``bm`` hold repulsion times mass, so padding entries of strength 0 round both lists
    up to a multiple of 8 and the sums need no scalar tail loop.

    All nodes of a leaf share one walk: a cell is accepted when it is far enough from the
    leaf's bounding box (so it is far enough from each of its nodes), and the walk yields an
    interaction list of accepted cells and of nodes in opened leaves. Each node of the leaf
    then sums the two lists in long branch-free loops that vectorise.
    """
    theta2 = np.float32(theta * theta)
    capacity = len(ax)
    dcap = len(bx)
    for li in range(first, last):
        leaf = leaves[li]
        ls = span[leaf, 0]
        le = span[leaf, 1]
        x0 = y0 = z0 = np.float32(np.inf)
        x1 = y1 = z1 = np.float32(-np.inf)
        for k in range(ls, le):
            x0 = min(x0, xs[k])
            y0 = min(y0, ys[k])
            z0 = min(z0, zs[k])
            x1 = max(x1, xs[k])
            y1 = max(y1, ys[k])
            z1 = max(z1, zs[k])
        na = 0
        nd = 0
        c = 0
        while c < cells:
            s = span[c, 0]
            e = span[c, 1]
            if s <= ls and le <= e:  # an ancestor of the leaf (opens), or the leaf itself (summed)
                if c != leaf:
                    c += 1
                    continue
            else:
                cx = body[c, 0]
                cy = body[c, 1]
                cz = body[c, 2]
                # Distance from the centre of mass to the nearest point of the leaf's box.
                gx = max(x0 - cx, np.float32(0.0), cx - x1)
                gy = max(y0 - cy, np.float32(0.0), cy - y1)
                gz = max(z0 - cz, np.float32(0.0), cz - z1)
                if body[c, 4] < theta2 * (gx * gx + gy * gy + gz * gz):
                    if na + 8 > capacity:
                        return li
                    ax[na] = cx
                    ay[na] = cy
                    az[na] = cz
                    am[na] = repulsion * body[c, 3]
                    na += 1
                    c = span[c, 2]
                    continue
                if span[c, 2] != c + 1:
                    c += 1
                    continue
            # A leaf that must be summed node by node.
            if nd + (e - s) + 8 > dcap:
                return li
            for j in range(s, e):
                bx[nd] = xs[j]
                by[nd] = ys[j]
                bz[nd] = zs[j]
                bm[nd] = repulsion
                bslot[nd] = order[j]
                nd += 1
            c = span[c, 2]
        while na % 8:
            ax[na] = ay[na] = az[na] = am[na] = np.float32(0.0)
            na += 1
        while nd % 8:
            bx[nd] = by[nd] = bz[nd] = bm[nd] = np.float32(0.0)
            bslot[nd] = -1
            nd += 1
        for k in range(ls, le):
            fx, fy, fz = _list_force(xs[k], ys[k], zs[k], order[k], ax, ay, az, am, na, bx, by, bz, bm, bslot, nd,
                                     repulsion, softening)  # fmt: skip
            slot = order[k]
            force[slot, 0] = fx
            force[slot, 1] = fy
            force[slot, 2] = fz
    return last


@jit(fastmath=True, nogil=True, cache=True)
def _walk_all(
    first: int, last: int, leaves: I32, body: F32, span: I32, xs: F32, ys: F32, zs: F32, order: I32, cells: int,
    theta: float, repulsion: float, softening: float, force: F32,
) -> None:  # fmt: skip
    """``_walk_leaves`` over ``leaves[first:last]`` with buffers grown until every list fits."""
    size = 2048
    while first < last:
        ax = np.empty(size, np.float32)
        ay = np.empty(size, np.float32)
        az = np.empty(size, np.float32)
        am = np.empty(size, np.float32)
        bx = np.empty(size, np.float32)
        by = np.empty(size, np.float32)
        bz = np.empty(size, np.float32)
        bm = np.empty(size, np.float32)
        bslot = np.empty(size, np.int32)
        first = _walk_leaves(first, last, leaves, body, span, xs, ys, zs, order, cells, theta, repulsion, softening,
                             force, ax, ay, az, am, bx, by, bz, bm, bslot)  # fmt: skip
        size *= 2


def _tree_repulsion(
    xs: F32, ys: F32, zs: F32, order: I32, n: int, cells: int, start: I32, end: I32, skip: I32, half: F32,
    prefix: F64, group_size: int, theta: float, repulsion: float, softening: float, force: F32,
) -> None:  # fmt: skip
    """Repulsion on every node into ``force[slot]`` (overwritten); leaves are spread over threads."""
    body, span, leaves = _cell_masses(cells, start, end, skip, half, prefix, group_size)
    count = len(leaves)
    chunks = min(count, 64)
    for chunk in prange(chunks):
        _walk_all(chunk * count // chunks, (chunk + 1) * count // chunks, leaves, body, span, xs, ys, zs, order,
                  cells, theta, repulsion, softening, force)  # fmt: skip


tree_repulsion = jit(fastmath=True, nogil=True, parallel=True, cache=True)(_tree_repulsion)


@jit(fastmath=True, nogil=True, cache=True)
def tree_repulsion_serial(
    xs: F32, ys: F32, zs: F32, order: I32, n: int, cells: int, start: I32, end: I32, skip: I32, half: F32,
    prefix: F64, group_size: int, theta: float, repulsion: float, softening: float, force: F32,
) -> None:  # fmt: skip
    """``tree_repulsion`` in the calling thread: for small graphs, where waking threads costs more."""
    body, span, leaves = _cell_masses(cells, start, end, skip, half, prefix, group_size)
    _walk_all(0, len(leaves), leaves, body, span, xs, ys, zs, order, cells, theta, repulsion, softening,
              force)  # fmt: skip


@jit(fastmath=True, nogil=True, cache=True, inline="always")
def _list_force(
    xi: float, yi: float, zi: float, slot: int, ax: F32, ay: F32, az: F32, am: F32, na: int,
    bx: F32, by: F32, bz: F32, bm: F32, bslot: I32, nd: int, repulsion: float, softening: float,
) -> tuple[np.float32, np.float32, np.float32]:  # fmt: skip
    """Force on one node from an interaction list: accepted cells, then single nodes."""
    fx = np.float32(0.0)
    fy = np.float32(0.0)
    fz = np.float32(0.0)
    for a in range(na):
        dx = xi - ax[a]
        dy = yi - ay[a]
        dz = zi - az[a]
        # x ** -0.5 becomes a reciprocal-square-root estimate and one Newton step; x ** -1.5
        # takes a square root and a division, which share one slow unit.
        r = (dx * dx + dy * dy + dz * dz + softening) ** np.float32(-0.5)
        inv = am[a] * (r * r * r)
        fx += dx * inv
        fy += dy * inv
        fz += dz * inv
    close = np.float32(0.0)
    for b in range(nd):
        dx = xi - bx[b]
        dy = yi - by[b]
        dz = zi - bz[b]
        d2 = dx * dx + dy * dy + dz * dz
        r = (d2 + softening) ** np.float32(-0.5)
        inv = bm[b] * (r * r * r)
        fx += dx * inv
        fy += dy * inv
        fz += dz * inv
        close += np.float32(1.0) if d2 < np.float32(1e-10) else np.float32(0.0)
    if close > np.float32(1.5):
        # Coincident nodes (identical codes, so always in one leaf): the all-pairs kernel's rule.
        for b in range(nd):
            other = bslot[b]
            if other >= 0 and other != slot and (xi - bx[b]) ** 2 + (yi - by[b]) ** 2 + (zi - bz[b]) ** 2 < 1e-10:
                px, py, pz = coincident_push(slot, other, repulsion, softening)
                fx += px
                fy += py
                fz += pz
    return fx, fy, fz
