"""Which backend runs here (``--physics auto|cpu|cuda|reference``), and compiling its kernels before they are needed.

``auto`` takes CUDA when a device is present and the CPU otherwise; ``cuda`` without a usable
device falls back to the CPU with a reason, which the server logs and shows in ``/api/health``
instead of refusing to start. numba-cuda is imported only to look for a device, and only for
``auto`` or ``cuda``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from visionflow.physics.backend import Backend
from visionflow.physics.engine import PhysicsEngine
from visionflow.physics.params import SimParams

__all__ = ["PhysicsChoice", "PhysicsSelection", "cuda_device_present", "resolve_physics", "warm_up"]

PhysicsChoice = Literal["auto", "cpu", "cuda", "reference"]
"""What a user may ask for (the ``physics`` setting)."""


@dataclass(frozen=True, slots=True)
class PhysicsSelection:
    """The backend that runs for a ``PhysicsChoice``, and why it is not the one asked for, if it is not."""

    requested: PhysicsChoice
    backend: Backend
    fallback_reason: str | None = None


def cuda_device_present() -> bool:
    """A real CUDA device (numba-cuda's CPU simulator does not count: it is for tests, and slow)."""
    try:
        from numba import config

        if getattr(config, "ENABLE_CUDASIM", 0):
            return False
        from visionflow.physics.cuda import cuda_available

        return cuda_available()
    except Exception:  # no driver, no toolkit, or numba-cuda is missing: all mean "no GPU"
        return False


def resolve_physics(
    requested: PhysicsChoice, *, device_present: Callable[[], bool] = cuda_device_present
) -> PhysicsSelection:
    """Map the ``--physics`` choice to a backend that can run here (``device_present`` looks for a GPU)."""
    if requested == "reference":
        return PhysicsSelection(requested, Backend.REFERENCE)
    if requested == "cpu":
        return PhysicsSelection(requested, Backend.CPU)
    if device_present():
        return PhysicsSelection(requested, Backend.CUDA)
    if requested == "cuda":
        return PhysicsSelection(requested, Backend.CPU, "no CUDA device is available")
    return PhysicsSelection(requested, Backend.CPU)


def warm_up(backend: Backend, params: SimParams) -> None:
    """Compile every kernel ``backend`` may run, so the first real tick does not overrun by seconds.

    A small probe takes each path once: serial and parallel all pairs, serial and parallel
    Barnes-Hut (the CUDA backend: the grid multipole) and the cell list (on CUDA, the multipole
    grid's near field), should a client switch to it; and on CUDA the edits a live swarm sends
    (a removal moved on the device, a few changed weights sent alone).
    """
    probe = PhysicsEngine(params, backend=backend)
    ids = np.array([1, 2, 3, 4, 5], dtype=np.uint32)
    probe.add_nodes(ids)
    probe.set_edges(ids[:4], ids[1:], [1.0, 1.0, 1.0, 1.0])
    probe.step()
    probe.set_edge_weights([1.0, 0.5, 1.0, 1.0])  # one weight of four: sent alone
    probe.thresholds.parallel = 0
    probe.step()
    probe.remove_nodes(ids[:1])  # the last node moves into the hole, on the device
    probe.thresholds.tree = 0
    probe.thresholds.multipole = 0
    probe.step()
    probe.thresholds.parallel = 10**9
    probe.step()
    probe.params = probe.params.replace(cutoff=10.0)
    probe.step()
    probe.synchronize()
