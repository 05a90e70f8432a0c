"""Numba CPU kernels for one layout step: exact all pairs, and the rest of a step after tree or cell-list repulsion.

Pure functions over arrays: no classes, no globals, no logging. ``PhysicsEngine`` checks
dtypes and contiguity once and ``CpuBackend`` calls these. Each node's force is gathered by the node
itself (springs come from a CSR adjacency holding both directions), so the parallel
kernel writes only its own rows and needs no atomics or scatter-adds.

Options: ``fastmath`` lets LLVM vectorise the float32 pair loop; ``nogil`` lets the
engine run a large step in a worker thread while the event loop keeps serving; ``cache``
keeps compiled code on disk between runs. ``parallel`` is used only for large graphs: on
a 2-core machine a parallel loop stalls whenever the other core is busy.

The serial and parallel kernels are separate functions, not one function jitted twice: Numba's
disk cache keys compiled code by the function's bytecode and signature, not by its options, so
a serial and a parallel compilation of one function would overwrite each other's cache entry.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import prange

from visionflow.jit import jit
from visionflow.types import Real

__all__ = [
    "coincident_push",
    "spring_tension",
    "step_parallel",
    "step_serial",
    "step_with_repulsion",
    "step_with_repulsion_serial",
]

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


@jit(fastmath=True, nogil=True, cache=True, inline="always")
def coincident_push(i: int, j: int, repulsion: Real, softening: Real) -> tuple[Real, Real, Real]:
    """Repulsion on node ``i`` from a node ``j`` at the same place: along a fixed axis, opposite for i and j.

    The one rule every repulsion method (exact, tree, cell list) applies, so they agree exactly.
    """
    s = np.float32(1.0) if i > j else np.float32(-1.0)
    dx = s * np.float32(0.01)
    dy = s * np.float32(0.007)
    dz = s * np.float32(0.003)
    inv = repulsion * (dx * dx + dy * dy + dz * dz + softening) ** np.float32(-1.5)
    return dx * inv, dy * inv, dz * inv


@jit(fastmath=True, nogil=True, cache=True, inline="always")
def spring_tension(d: Real, rest_length: Real, exponent: Real) -> Real:
    """Tension of a unit-stiffness spring stretched to length ``d``: ``L ((d / L) ** a - 1) / a``.

    Its slope at the rest length ``L`` is 1 for every exponent ``a``, so ``spring_k`` means the
    same stiffness near rest; stretched further it grows as ``d ** a``. ``a`` = 1 is Hooke's
    law. Below 1, a long edge pulls less than Hooke's would, so one long edge to a far part of
    the graph drags a node out of its cluster less (see ``SimParams.spring_exponent``).
    0.5, the default, and 1 have exact fast paths; other exponents cost a ``pow`` per edge.
    """
    if exponent == 1.0:
        return d - rest_length
    if exponent == 0.5:
        return 2.0 * (math.sqrt(d * rest_length) - rest_length)
    return rest_length * ((d / rest_length) ** exponent - 1.0) / exponent


@jit(fastmath=True, nogil=True, cache=True, inline="always")
def _repulsion(
    i: int, xs: F32, ys: F32, zs: F32, n: int, repulsion: float, softening: float
) -> tuple[np.float32, np.float32, np.float32]:
    """Exact repulsion on node i from every node (all pairs)."""
    xi = xs[i]
    yi = ys[i]
    zi = zs[i]
    fx = np.float32(0.0)
    fy = np.float32(0.0)
    fz = np.float32(0.0)
    close = np.float32(0.0)
    # Branch-free so LLVM vectorises it; node i itself adds nothing (its difference is 0).
    for j in range(n):
        dx = xi - xs[j]
        dy = yi - ys[j]
        dz = zi - zs[j]
        d2 = dx * dx + dy * dy + dz * dz
        # x ** -0.5 vectorises to a reciprocal-square-root estimate and one Newton step; x ** -1.5
        # takes a square root and a division, which share one slow unit; 1 / (r2 * sqrt(r2)) stays scalar.
        r = (d2 + softening) ** np.float32(-0.5)
        inv = r * r * r  # the common factor ``repulsion`` is applied once, after the loop
        fx += dx * inv
        fy += dy * inv
        fz += dz * inv
        close += np.float32(1.0) if d2 < np.float32(1e-10) else np.float32(0.0)
    fx *= repulsion
    fy *= repulsion
    fz *= repulsion
    if close > np.float32(1.5):
        # Coincident nodes: push apart along a fixed axis, opposite for i and j.
        for j in range(n):
            if j != i and (xi - xs[j]) ** 2 + (yi - ys[j]) ** 2 + (zi - zs[j]) ** 2 < 1e-10:
                px, py, pz = coincident_push(i, j, repulsion, softening)
                fx += px
                fy += py
                fz += pz
    return fx, fy, fz


@jit(fastmath=True, nogil=True, cache=True, inline="always")
def _local_force(
    i: int, xs: F32, ys: F32, zs: F32, ptr: I64, nbr: I32, weight: F32,
    spring_k: float, rest_length: float, spring_exponent: float, gravity: float, bounds_radius: float,
) -> tuple[float, float, float]:  # fmt: skip
    """Springs to node i's neighbours, centre gravity and the soft bounds."""
    xi = xs[i]
    yi = ys[i]
    zi = zs[i]
    fx = np.float32(0.0)
    fy = np.float32(0.0)
    fz = np.float32(0.0)
    for e in range(ptr[i], ptr[i + 1]):
        j = nbr[e]
        dx = xs[j] - xi
        dy = ys[j] - yi
        dz = zs[j] - zi
        d = math.sqrt(dx * dx + dy * dy + dz * dz)
        if d > 1e-6:
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
    return fx, fy, fz


@jit(fastmath=True, nogil=True, cache=True)
def _split(pos: F32, soa: F32, n: int) -> None:
    for i in range(n):
        soa[0, i] = pos[i, 0]
        soa[1, i] = pos[i, 1]
        soa[2, i] = pos[i, 2]


@jit(fastmath=True, nogil=True, cache=True, inline="always")
def _integrate(
    i: int, pos: F32, vel: F32, out_pos: F32, out_vel: F32, fx: Real, fy: Real, fz: Real, pinned: U8,
    dt: float, damping: float, max_force: float, max_speed: float, warm: float,
) -> float:  # fmt: skip
    if pinned[i]:
        out_vel[i, 0] = out_vel[i, 1] = out_vel[i, 2] = 0.0
        out_pos[i, 0] = pos[i, 0]
        out_pos[i, 1] = pos[i, 1]
        out_pos[i, 2] = pos[i, 2]
        return 0.0
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
    out_pos[i, 0] = pos[i, 0] + vx * dt
    out_pos[i, 1] = pos[i, 1] + vy * dt
    out_pos[i, 2] = pos[i, 2] + vz * dt
    return float(0.5 * (vx * vx + vy * vy + vz * vz))


@jit(fastmath=True, nogil=True, cache=True)
def step_serial(
    pos: F32, vel: F32, out_pos: F32, out_vel: F32, soa: F32, ptr: I64, nbr: I32, weight: F32, pinned: U8, n: int,
    repulsion: float, softening: float, dt: float, spring_k: float, rest_length: float, spring_exponent: float,
    gravity: float, damping: float, max_force: float, max_speed: float, warm: float, bounds_radius: float,
) -> float:  # fmt: skip
    """One semi-implicit Euler step for nodes 0..n-1 with exact repulsion; returns the kinetic energy after it."""
    _split(pos, soa, n)
    xs, ys, zs = soa[0], soa[1], soa[2]
    energy = 0.0
    for i in range(n):
        rx, ry, rz = _repulsion(i, xs, ys, zs, n, repulsion, softening)
        lx, ly, lz = _local_force(i, xs, ys, zs, ptr, nbr, weight, spring_k, rest_length, spring_exponent, gravity,
                                  bounds_radius)  # fmt: skip
        energy += _integrate(i, pos, vel, out_pos, out_vel, rx + lx, ry + ly, rz + lz, pinned,
                             dt, damping, max_force, max_speed, warm)  # fmt: skip
    return energy


@jit(fastmath=True, nogil=True, parallel=True, cache=True)
def step_parallel(
    pos: F32, vel: F32, out_pos: F32, out_vel: F32, soa: F32, ptr: I64, nbr: I32, weight: F32, pinned: U8, n: int,
    repulsion: float, softening: float, dt: float, spring_k: float, rest_length: float, spring_exponent: float,
    gravity: float, damping: float, max_force: float, max_speed: float, warm: float, bounds_radius: float,
) -> float:  # fmt: skip
    """``step_serial`` with nodes spread over threads; each writes only its own rows."""
    _split(pos, soa, n)
    xs, ys, zs = soa[0], soa[1], soa[2]
    energy = 0.0
    for i in prange(n):
        rx, ry, rz = _repulsion(i, xs, ys, zs, n, repulsion, softening)
        lx, ly, lz = _local_force(i, xs, ys, zs, ptr, nbr, weight, spring_k, rest_length, spring_exponent, gravity,
                                  bounds_radius)  # fmt: skip
        energy += _integrate(i, pos, vel, out_pos, out_vel, rx + lx, ry + ly, rz + lz, pinned,
                             dt, damping, max_force, max_speed, warm)  # fmt: skip
    return energy


@jit(fastmath=True, nogil=True, parallel=True, cache=True)
def step_with_repulsion(
    pos: F32, vel: F32, out_pos: F32, out_vel: F32, soa: F32, force: F32, ptr: I64, nbr: I32, weight: F32,
    pinned: U8, n: int, dt: float, spring_k: float, rest_length: float, spring_exponent: float, gravity: float,
    damping: float, max_force: float, max_speed: float, warm: float, bounds_radius: float,
) -> float:  # fmt: skip
    """The rest of a step once ``force`` holds each node's repulsion (from the tree or the cell list)."""
    _split(pos, soa, n)
    xs, ys, zs = soa[0], soa[1], soa[2]
    energy = 0.0
    for i in prange(n):
        lx, ly, lz = _local_force(i, xs, ys, zs, ptr, nbr, weight, spring_k, rest_length, spring_exponent, gravity,
                                  bounds_radius)  # fmt: skip
        energy += _integrate(i, pos, vel, out_pos, out_vel, force[i, 0] + lx, force[i, 1] + ly, force[i, 2] + lz,
                             pinned, dt, damping, max_force, max_speed, warm)  # fmt: skip
    return energy


@jit(fastmath=True, nogil=True, cache=True)
def step_with_repulsion_serial(
    pos: F32, vel: F32, out_pos: F32, out_vel: F32, soa: F32, force: F32, ptr: I64, nbr: I32, weight: F32,
    pinned: U8, n: int, dt: float, spring_k: float, rest_length: float, spring_exponent: float, gravity: float,
    damping: float, max_force: float, max_speed: float, warm: float, bounds_radius: float,
) -> float:  # fmt: skip
    """``step_with_repulsion`` in the calling thread, for graphs too small to be worth waking threads."""
    _split(pos, soa, n)
    xs, ys, zs = soa[0], soa[1], soa[2]
    energy = 0.0
    for i in range(n):
        lx, ly, lz = _local_force(i, xs, ys, zs, ptr, nbr, weight, spring_k, rest_length, spring_exponent, gravity,
                                  bounds_radius)  # fmt: skip
        energy += _integrate(i, pos, vel, out_pos, out_vel, force[i, 0] + lx, force[i, 1] + ly, force[i, 2] + lz,
                             pinned, dt, damping, max_force, max_speed, warm)  # fmt: skip
    return energy
