"""CUDA kernels for one layout step (numba-cuda); imported only when the CUDA backend is chosen.

Pure kernels over device arrays, with the formulas of ``cpu.kernels`` and ``reference``:

- ``repulsion_exact``: all pairs, tiled: each block stages ``TILE`` positions in shared
  memory, every thread of the block sums them, then the next tile comes in. Coincident
  nodes get the all-pairs kernel's fixed push apart. ``cutoff2`` (squared range, or
  infinity) turns it into the cut-off mode.
- ``integrate``: springs from the CSR adjacency, gravity, bounds, clamps, the semi-implicit
  Euler update and pinned nodes; each block adds its kinetic energy to ``energy[0]``.

Each thread writes only its own node's rows, as on the CPU. With ``NUMBA_ENABLE_CUDASIM=1``
numba-cuda runs these on the CPU, which is how CI tests them against the NumPy reference.
"""

from __future__ import annotations

import math
from typing import Any

from numba import config, float32
from numba import cuda as _cuda

cuda: Any = _cuda  # numba-cuda's intrinsics (shared, grid, syncthreads) are not typed

__all__ = ["TILE", "coincident_push", "integrate", "repulsion_exact", "spring_tension"]

TILE = 32 if getattr(config, "ENABLE_CUDASIM", 0) else 128
"""Threads per block, and positions staged in shared memory per tile (fewer on the simulator,
which runs every thread of a block as a Python thread)."""


@cuda.jit(device=True, fastmath=True)
def coincident_push(ahead, repulsion, softening):  # type: ignore[no-untyped-def]
    """``cpu.kernels.coincident_push`` restated for the device: ``ahead`` is i > j in the order both sides share."""
    s = float32(1.0) if ahead else float32(-1.0)
    jx = s * float32(0.01)
    jy = s * float32(0.007)
    jz = s * float32(0.003)
    r2 = jx * jx + jy * jy + jz * jz + softening
    inv = repulsion / (r2 * math.sqrt(r2))
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
def repulsion_exact(pos, n, repulsion, softening, cutoff2, force):  # type: ignore[no-untyped-def]
    """``force[i]`` = repulsion on node i from every node within range."""
    tile = cuda.shared.array(shape=(TILE, 3), dtype=float32)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
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
    close = 0
    for base in range(0, n, TILE):
        j = base + t
        if j < n:
            tile[t, 0] = pos[j, 0]
            tile[t, 1] = pos[j, 1]
            tile[t, 2] = pos[j, 2]
        cuda.syncthreads()
        count = min(TILE, n - base)
        for k in range(count):
            dx = xi - tile[k, 0]
            dy = yi - tile[k, 1]
            dz = zi - tile[k, 2]
            d2 = dx * dx + dy * dy + dz * dz
            if d2 < cutoff2:
                inv = repulsion / ((d2 + softening) * math.sqrt(d2 + softening))
                fx += dx * inv
                fy += dy * inv
                fz += dz * inv
            if d2 < float32(1e-10):
                close += 1
        cuda.syncthreads()
    if i >= n:
        return
    if close > 1:
        for j in range(n):
            dx = xi - pos[j, 0]
            dy = yi - pos[j, 1]
            dz = zi - pos[j, 2]
            if j != i and dx * dx + dy * dy + dz * dz < float32(1e-10):
                px, py, pz = coincident_push(i > j, repulsion, softening)
                fx += px
                fy += py
                fz += pz
    force[i, 0] = fx
    force[i, 1] = fy
    force[i, 2] = fz


@cuda.jit(fastmath=True)
def integrate(  # type: ignore[no-untyped-def]
    pos, vel, out_pos, out_vel, force, ptr, nbr, weight, pinned, n,
    dt, spring_k, rest_length, spring_exponent, gravity, damping, max_force, max_speed, warm, bounds_radius, energy,
):  # fmt: skip
    """Add springs, gravity and bounds to ``force``, then move every node one step."""
    partial = cuda.shared.array(shape=TILE, dtype=float32)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    kinetic = float32(0.0)
    if i < n:
        xi = pos[i, 0]
        yi = pos[i, 1]
        zi = pos[i, 2]
        fx = force[i, 0]
        fy = force[i, 1]
        fz = force[i, 2]
        for e in range(ptr[i], ptr[i + 1]):
            j = nbr[e]
            dx = pos[j, 0] - xi
            dy = pos[j, 1] - yi
            dz = pos[j, 2] - zi
            d = math.sqrt(dx * dx + dy * dy + dz * dz)
            if d > float32(1e-6):
                f = spring_k * weight[e] * spring_tension(d, rest_length, spring_exponent) / d
                fx += dx * f
                fy += dy * f
                fz += dz * f
        fx -= gravity * xi
        fy -= gravity * yi
        fz -= gravity * zi
        if bounds_radius > 0.0:
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
                s = max_force / math.sqrt(f2)
                fx *= s
                fy *= s
                fz *= s
            vx = (vel[i, 0] + fx * warm * dt) * damping
            vy = (vel[i, 1] + fy * warm * dt) * damping
            vz = (vel[i, 2] + fz * warm * dt) * damping
            v2 = vx * vx + vy * vy + vz * vz
            if v2 > max_speed * max_speed:
                s = max_speed / math.sqrt(v2)
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
    stride = TILE // 2
    while stride > 0:
        if t < stride:
            partial[t] += partial[t + stride]
        cuda.syncthreads()
        stride //= 2
    if t == 0:
        cuda.atomic.add(energy, 0, partial[0])
