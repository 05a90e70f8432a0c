"""Plain NumPy implementation of one layout step: the oracle the fast kernels are tested against.

Written for clarity, in float64, with the same formulas and the same special cases as
``cpu.kernels``; it holds N x N arrays, so keep it to a few thousand nodes. ``ReferenceBackend``
runs it behind the same interface as the Numba and CUDA backends (``--physics reference``), so the
tests compare whole engines step for step, seam included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.physics.backend import Backend, Change, Layout, Method, StepScalars
from visionflow.physics.params import SimParams
from visionflow.types import Real

__all__ = ["ReferenceBackend", "repulsion_forces", "spring_tension", "step"]


def spring_tension(length: npt.NDArray[np.float64], rest_length: Real, exponent: Real) -> npt.NDArray[np.float64]:
    """Tension per unit stiffness of springs stretched to ``length`` (``cpu.kernels.spring_tension``)."""
    if exponent == 1.0:
        return length - rest_length
    return rest_length * ((length / rest_length) ** exponent - 1.0) / exponent


def step(
    pos: npt.NDArray[np.float32],
    vel: npt.NDArray[np.float32],
    out_pos: npt.NDArray[np.float32],
    out_vel: npt.NDArray[np.float32],
    ptr: npt.NDArray[np.int64],
    nbr: npt.NDArray[np.int32],
    weight: npt.NDArray[np.float32],
    pinned: npt.NDArray[np.uint8],
    n: int,
    repulsion: Real,
    softening: Real,
    dt: Real,
    spring_k: Real,
    rest_length: Real,
    spring_exponent: Real,
    gravity: Real,
    damping: Real,
    max_force: Real,
    max_speed: Real,
    warm: Real,
    bounds_radius: Real,
    cutoff: float = 0.0,
) -> float:
    """Same contract as ``cpu.kernels.step_serial``, without its scratch array.

    ``cutoff`` > 0 drops repulsion between nodes that far apart or more (the cell-list mode).
    """
    p = pos[:n].astype(np.float64)
    v = vel[:n].astype(np.float64)
    idx = np.arange(n)
    force = repulsion_forces(p, repulsion, softening, cutoff)

    rows = np.repeat(idx, np.diff(ptr[: n + 1]))
    cols = nbr[: len(rows)]
    spring = p[cols] - p[rows]
    length = np.sqrt(np.einsum("ij,ij->i", spring, spring))
    safe = length > 1e-6
    tension = spring_tension(length, rest_length, spring_exponent)
    coeff = np.where(safe, spring_k * weight[: len(rows)] * tension / np.where(safe, length, 1), 0)
    np.add.at(force, rows, spring * coeff[:, None])

    force -= gravity * p
    if bounds_radius > 0:
        r = np.linalg.norm(p, axis=1)
        outside = r > bounds_radius
        force[outside] -= p[outside] * ((r[outside] - bounds_radius) / r[outside])[:, None]

    magnitude = np.linalg.norm(force, axis=1)
    too_big = magnitude > max_force
    force[too_big] *= (max_force / magnitude[too_big])[:, None]
    v = (v + force * warm * dt) * damping
    speed = np.linalg.norm(v, axis=1)
    too_fast = speed > max_speed
    v[too_fast] *= (max_speed / speed[too_fast])[:, None]
    held = pinned[:n].astype(bool)
    v[held] = 0.0
    out_vel[:n] = v
    out_pos[:n] = p + v * dt
    return float(0.5 * np.einsum("ij,ij->", v, v))


def repulsion_forces(
    p: npt.NDArray[np.float64], repulsion: Real, softening: Real, cutoff: float = 0.0
) -> npt.NDArray[np.float64]:
    """Repulsion on every node from every other, with the kernels' rule for coincident nodes.

    Separate from ``step`` so that approximate repulsion (tree, grid multipole) can be checked
    against it force by force, not only through positions after a step.
    """
    n = len(p)
    diff = p[:, None, :] - p[None, :, :]
    d2 = np.einsum("ijk,ijk->ij", diff, diff)
    idx = np.arange(n)
    coincident = d2 < 1e-10
    np.fill_diagonal(coincident, False)
    if coincident.any():
        sign = np.where(idx[:, None] > idx[None, :], 1.0, -1.0)
        jitter = sign[..., None] * np.array([0.01, 0.007, 0.003])
        diff = np.where(coincident[..., None], jitter, diff)
        d2 = np.where(coincident, np.einsum("ijk,ijk->ij", jitter, jitter), d2)
    r2 = d2 + softening
    inv = repulsion / (r2 * np.sqrt(r2))
    np.fill_diagonal(inv, 0.0)
    if cutoff > 0:
        inv = np.where(d2 < cutoff * cutoff, inv, 0.0)
    force: npt.NDArray[np.float64] = np.einsum("ij,ijk->ik", inv, diff)
    return force


class ReferenceBackend:
    """``step`` behind the backend interface: nothing kept between steps, nothing to upload or download.

    A backend of its own rather than a mode of the CPU backend, so the oracle shares no dispatch code
    with the kernels it checks: a mistake there (a scalar out of order) cannot hide on both sides.
    """

    kind = Backend.REFERENCE
    nbytes = 0

    def host_array(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        return np.zeros(shape, dtype=dtype)

    def upload(self, layout: Layout, changed: Change) -> None:
        """Nothing to do: the reference reads the host arrays afresh every step."""

    def method(self, n: int, params: SimParams) -> Method:
        """Exact all pairs, within ``cutoff`` when one is set (reported as the cell list it stands in for)."""
        return Method.GRID if params.cutoff > 0 else Method.EXACT

    def step(self, layout: Layout, method: Method, scalars: StepScalars) -> float:
        return step(layout.pos, layout.vel, layout.pos_next, layout.vel_next, layout.ptr, layout.nbr, layout.weight,
                    layout.pinned, layout.n, scalars.repulsion, scalars.softening, *scalars.motion,
                    cutoff=scalars.cutoff)  # fmt: skip

    def download(self, layout: Layout) -> None:
        """``step`` wrote ``layout.pos_next`` and ``vel_next`` itself: make them current."""
        layout.swap()

    def finish(self, layout: Layout) -> float | None:
        """Nothing to wait for."""
        return None
