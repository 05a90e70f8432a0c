"""CUDA kernels for one layout step (numba-cuda); imported only when the CUDA backend is chosen.

Pure kernels over device arrays, with the formulas of ``cpu.kernels`` and ``reference``:

- ``repulsion_exact``: all pairs, tiled. A block of ``TILE`` threads stages ``TILE`` positions
  in three shared arrays (x, y, z), every thread sums them, then the next tile comes in. A
  pair costs one reciprocal square root (the special-function unit's one op) and about twenty
  instructions (``compile_check`` counts them). Below a few tens of thousands of nodes a grid of
  one block per ``TILE`` nodes leaves most SMs idle, so the j range is split over ``blockIdx.y``
  (``split``) and each slice writes its own force row, summed by ``integrate`` in a fixed order.
  Coincident nodes are counted inside the tile loop (a signed count: the fixed push of
  ``cpu.kernels.coincident_push`` depends only on which node comes first) and pushed after it.
- ``integrate``: springs from the CSR adjacency, gravity, bounds, clamps, the semi-implicit
  Euler update and pinned nodes; each block adds its kinetic energy into one slot of a ring of
  three and zeroes the next, so no step needs the host to clear it.
- ``move_rows``, ``write_rows``: bring the device rows up to date with the host's edits
  (removals move rows on the device; new, moved and pinned nodes come from the host).
- ``gather_weights``, ``scatter_weights``: spring weights per edge to the CSR order.

Indices are ``uint32``: 32-bit arithmetic, and no negative-index wraparound code in the loops.
Each thread writes only its own node's rows, as on the CPU. With ``NUMBA_ENABLE_CUDASIM=1``
numba-cuda runs these on the CPU, which is how CI tests them against the NumPy reference;
``compile_check`` compiles them for the real targets.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import config, float32, uint32
from numba import cuda as _cuda

cuda: Any = _cuda  # numba-cuda's intrinsics (shared, grid, syncthreads) are not typed

__all__ = [
    "BLOCK",
    "COINCIDENT",
    "FAR",
    "MAX_SPLIT",
    "TILE",
    "coincident_push",
    "gather_weights",
    "integrate",
    "move_rows",
    "repulsion_exact",
    "rsqrt",
    "scatter_weights",
    "split",
    "spring_tension",
    "write_rows",
]

SIMULATOR = bool(getattr(config, "ENABLE_CUDASIM", 0))
TILE = 32 if SIMULATOR else 64
"""Threads per block of the all-pairs kernel, and positions per shared tile (the simulator runs
every thread of a block as a Python thread, so it gets fewer)."""
BLOCK = 32 if SIMULATOR else 128
"""Threads per block of every other kernel."""
MAX_SPLIT = 16
"""Most slices the all-pairs j range is split into."""
MIN_SPAN = 16 * TILE
"""Fewest nodes in one slice: less and a block's few tiles cost more in launch and reduction than they save."""
COINCIDENT = float32(1e-10)
"""Squared distance under which two nodes count as one point (every backend uses it)."""
FAR = float32(3.0e38)
"""Finite stand-in for infinity (under fastmath the compiler may assume no value is infinite)."""

_U_TILE = np.uint32(TILE)
_U_BLOCK = np.uint32(BLOCK)


def split(n: int, sms: int, min_span: int = MIN_SPAN) -> tuple[int, int]:
    """(slices, span): the j range of ``n`` nodes cut into slices of ``span`` nodes (a whole number of
    tiles), enough for about 16 blocks per SM on ``sms`` SMs, at most ``MAX_SPLIT``."""
    blocks = max(1, -(-n // TILE))
    want = min(MAX_SPLIT, max(1, -(-16 * sms // blocks)), max(1, n // max(min_span, TILE)))
    span = -(-n // want)
    span = max(TILE, -(-span // TILE) * TILE)
    return max(1, -(-n // span)), span


if SIMULATOR:

    @cuda.jit(device=True)
    def rsqrt(x):  # type: ignore[no-untyped-def]
        """1 / sqrt(x): the simulator has no libdevice (its functions there return nothing)."""
        return float32(1.0) / math.sqrt(x)

else:
    from numba.cuda import libdevice

    rsqrt = libdevice.rsqrtf
    """One ``rsqrt.approx`` (a single special-function op), where ``1 / sqrt`` takes two."""


@cuda.jit(device=True, fastmath=True)
def coincident_push(ahead, repulsion, softening):  # type: ignore[no-untyped-def]
    """``cpu.kernels.coincident_push`` restated for the device: ``ahead`` is i > j in the order both sides share."""
    s = float32(1.0) if ahead else float32(-1.0)
    jx = s * float32(0.01)
    jy = s * float32(0.007)
    jz = s * float32(0.003)
    r = rsqrt(jx * jx + jy * jy + jz * jz + softening)
    inv = repulsion * r * r * r
    return jx * inv, jy * inv, jz * inv


@cuda.jit(device=True, fastmath=True)
def spring_tension(d, rest_length, exponent):  # type: ignore[no-untyped-def]
    """``cpu.kernels.spring_tension`` restated for the device."""
    if exponent == float32(1.0):
        return d - rest_length
    if exponent == float32(0.5):
        return float32(2.0) * (math.sqrt(d * rest_length) - rest_length)
    return rest_length * ((d / rest_length) ** exponent - float32(1.0)) / exponent


@cuda.jit(fastmath=True)
def repulsion_exact(pos, n, span, repulsion, softening, force):  # type: ignore[no-untyped-def]
    """``force[s, i]`` = repulsion on node i from nodes ``s * span`` up to ``(s + 1) * span`` (s = blockIdx.y)."""
    tx = cuda.shared.array(shape=TILE, dtype=float32)
    ty = cuda.shared.array(shape=TILE, dtype=float32)
    tz = cuda.shared.array(shape=TILE, dtype=float32)
    t = uint32(cuda.threadIdx.x)
    first = uint32(cuda.blockIdx.x) * _U_TILE
    i = first + t
    start = uint32(cuda.blockIdx.y) * span
    stop = min(uint32(start + span), n)
    xi = float32(0.0)
    yi = float32(0.0)
    zi = float32(0.0)
    if i < n:
        xi = pos[i, 0]
        yi = pos[i, 1]
        zi = pos[i, 2]
    fx = float32(0.0)
    fy = float32(0.0)
    fz = float32(0.0)
    ahead = float32(0.0)
    """Coincident nodes before i less those after it: the sum of the push's signs."""
    base = start
    while base < stop:
        j = uint32(base + t)
        if j < stop:
            tx[t] = pos[j, 0]
            ty[t] = pos[j, 1]
            tz[t] = pos[j, 2]
        cuda.syncthreads()
        count = min(_U_TILE, uint32(stop - base))
        close = float32(0.0)
        if count == _U_TILE and base != first:
            k = uint32(0)
            while k < _U_TILE:  # a whole tile, all before or all after i: no per-pair index or sign
                dx = xi - tx[k]
                dy = yi - ty[k]
                dz = zi - tz[k]
                d2 = dx * dx + dy * dy + dz * dz
                r = rsqrt(d2 + softening)
                inv = r * r * r
                fx += dx * inv
                fy += dy * inv
                fz += dz * inv
                close += float32(1.0) if d2 < COINCIDENT else float32(0.0)
                k = uint32(k + 1)
            ahead += close if base < first else -close
        else:  # i's own tile or the last, partial one: the sign goes pair by pair
            k = uint32(0)
            while k < count:
                dx = xi - tx[k]
                dy = yi - ty[k]
                dz = zi - tz[k]
                d2 = dx * dx + dy * dy + dz * dz
                r = rsqrt(d2 + softening)
                inv = r * r * r
                fx += dx * inv
                fy += dy * inv
                fz += dz * inv
                if d2 < COINCIDENT:
                    j = uint32(base + k)
                    ahead += float32(1.0) if j < i else float32(-1.0) if j > i else float32(0.0)
                k = uint32(k + 1)
        cuda.syncthreads()
        base = uint32(base + _U_TILE)
    if i < n:
        px, py, pz = coincident_push(True, repulsion, softening)
        s = uint32(cuda.blockIdx.y)
        force[s, i, 0] = repulsion * fx + ahead * px
        force[s, i, 1] = repulsion * fy + ahead * py
        force[s, i, 2] = repulsion * fz + ahead * pz


@cuda.jit(fastmath=True)
def integrate(  # type: ignore[no-untyped-def]
    pos, vel, out_pos, out_vel, force, slices, ptr, nbr, weight, pinned, n,
    dt, spring_k, rest_length, spring_exponent, gravity, damping, max_force, max_speed, warm, bounds_radius,
    energy, slot,
):  # fmt: skip
    """Add springs, gravity and bounds to the repulsion (the sum of ``force[:slices, i]``), then move every node.

    The kinetic energy goes into ``energy[slot]``; ``energy[(slot + 1) % 3]``, the next step's, is zeroed here.
    """
    partial = cuda.shared.array(shape=BLOCK, dtype=float32)
    t = uint32(cuda.threadIdx.x)
    i = uint32(cuda.blockIdx.x) * _U_BLOCK + t
    if i == 0:
        energy[(slot + 1) % 3] = float32(0.0)
    kinetic = float32(0.0)
    if i < n:
        xi = pos[i, 0]
        yi = pos[i, 1]
        zi = pos[i, 2]
        fx = float32(0.0)
        fy = float32(0.0)
        fz = float32(0.0)
        for s in range(slices):
            fx += force[s, i, 0]
            fy += force[s, i, 1]
            fz += force[s, i, 2]
        for e in range(ptr[i], ptr[i + 1]):
            j = nbr[e]
            dx = pos[j, 0] - xi
            dy = pos[j, 1] - yi
            dz = pos[j, 2] - zi
            d2 = dx * dx + dy * dy + dz * dz
            if d2 > float32(1e-12):  # longer than 1e-6, as on the CPU
                inv = rsqrt(d2)
                f = spring_k * weight[e] * spring_tension(d2 * inv, rest_length, spring_exponent) * inv
                fx += dx * f
                fy += dy * f
                fz += dz * f
        fx -= gravity * xi
        fy -= gravity * yi
        fz -= gravity * zi
        if bounds_radius > float32(0.0):
            r = math.sqrt(xi * xi + yi * yi + zi * zi)
            if r > bounds_radius:
                k = (r - bounds_radius) / r
                fx -= xi * k
                fy -= yi * k
                fz -= zi * k
        if pinned[i]:
            out_vel[i, 0] = float32(0.0)
            out_vel[i, 1] = float32(0.0)
            out_vel[i, 2] = float32(0.0)
            out_pos[i, 0] = xi
            out_pos[i, 1] = yi
            out_pos[i, 2] = zi
        else:
            f2 = fx * fx + fy * fy + fz * fz
            if f2 > max_force * max_force:
                s = max_force * rsqrt(f2)
                fx *= s
                fy *= s
                fz *= s
            vx = (vel[i, 0] + fx * warm * dt) * damping
            vy = (vel[i, 1] + fy * warm * dt) * damping
            vz = (vel[i, 2] + fz * warm * dt) * damping
            v2 = vx * vx + vy * vy + vz * vz
            if v2 > max_speed * max_speed:
                s = max_speed * rsqrt(v2)
                vx *= s
                vy *= s
                vz *= s
            out_vel[i, 0] = vx
            out_vel[i, 1] = vy
            out_vel[i, 2] = vz
            out_pos[i, 0] = xi + vx * dt
            out_pos[i, 1] = yi + vy * dt
            out_pos[i, 2] = zi + vz * dt
            kinetic = float32(0.5) * (vx * vx + vy * vy + vz * vz)
    partial[t] = kinetic
    cuda.syncthreads()
    stride = uint32(BLOCK // 2)
    while stride > 0:
        if t < stride:
            partial[t] += partial[t + stride]
        cuda.syncthreads()
        stride = uint32(stride // 2)
    if t == 0:
        cuda.atomic.add(energy, slot, partial[0])


@cuda.jit
def move_rows(pos, vel, edits, count):  # type: ignore[no-untyped-def]
    """Rows that a removal moved: ``edits[r] = (slot, origin, ...)``, row ``origin`` copied into ``slot``.

    No origin is also a slot being written (a moved node only ever moves down, into a hole below
    the last slot), so every thread reads rows no other thread writes.
    """
    r = uint32(cuda.grid(1))
    if r >= count:
        return
    slot = edits[r, 0]
    origin = edits[r, 1]
    if origin < 0 or origin == slot:
        return
    for a in range(3):
        pos[slot, a] = pos[origin, a]
        vel[slot, a] = vel[origin, a]


@cuda.jit
def write_rows(pos, vel, pinned, edits, values, count):  # type: ignore[no-untyped-def]
    """What the host wrote: ``edits[r] = (slot, origin, fields, pinned)``, ``values[r]`` = its position and velocity.

    ``fields`` bit 1: the position, bit 2: the velocity; the pin flag always (the host owns it).
    Runs after ``move_rows``, so a row the host wrote wins over the one a removal moved there.
    """
    r = uint32(cuda.grid(1))
    if r >= count:
        return
    slot = edits[r, 0]
    fields = edits[r, 2]
    if fields & 1:
        for a in range(3):
            pos[slot, a] = values[r, a]
    if fields & 2:
        for a in range(3):
            vel[slot, a] = values[r, 3 + a]
    pinned[slot] = edits[r, 3]


@cuda.jit
def gather_weights(edge_weight, csr_edge, entries, weight):  # type: ignore[no-untyped-def]
    """``weight[e]`` = the weight of the edge behind CSR entry e."""
    e = uint32(cuda.grid(1))
    if e < entries:
        weight[e] = edge_weight[csr_edge[e]]


@cuda.jit
def scatter_weights(edge_weight, changes, values, count):  # type: ignore[no-untyped-def]
    """``edge_weight[changes[r, 0]] = values[r, 1]`` (``values``: ``changes`` as float32): the edges whose weight
    changed since the last upload."""
    r = uint32(cuda.grid(1))
    if r < count:
        edge_weight[changes[r, 0]] = values[r, 1]
