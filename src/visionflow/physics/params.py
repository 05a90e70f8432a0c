"""SimParams: every knob of the force layout in one validated, immutable value.

The same values drive the NumPy reference, the Numba kernels and the CUDA kernels, so a
layout looks the same whichever backend computed it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from visionflow.errors import ConfigError

__all__ = ["SimParams"]

# (minimum, maximum) of each parameter, both inclusive.
_RANGES: dict[str, tuple[float, float]] = {
    "dt": (1e-4, 1.0),
    "repulsion": (0.0, 1e6),
    "softening": (1e-4, 1e4),
    "spring_k": (0.0, 1e3),
    "rest_length": (0.0, 1e4),
    "gravity": (0.0, 1e3),
    "damping": (0.0, 1.0),
    "max_force": (1e-3, 1e9),
    "max_velocity": (1e-3, 1e9),
    "warmup_steps": (0, 1e6),
    "cooling": (0.5, 1.0),
    "min_temperature": (0.0, 1.0),
    "reheat_temperature": (0.0, 1.0),
    "bounds_radius": (0.0, 1e7),
    "rest_energy": (0.0, 1e6),
    "theta": (0.0, 2.0),
    "cutoff": (0.0, 1e6),
}


@dataclass(frozen=True, slots=True)
class SimParams:
    """Force-layout parameters.

    Repulsion is inverse-square (Coulomb-like, softened), springs are Hooke springs whose
    stiffness scales with link intensity, gravity pulls linearly to the origin. Temperature
    scales the speed limit: it starts at 1, decays by ``cooling`` each step down to
    ``min_temperature``, and is raised to ``reheat_temperature`` when nodes come or go.
    """

    dt: float = 0.05
    repulsion: float = 40.0
    softening: float = 0.25
    spring_k: float = 0.4
    rest_length: float = 6.0
    gravity: float = 0.12
    damping: float = 0.88
    max_force: float = 200.0
    max_velocity: float = 60.0
    warmup_steps: int = 30
    cooling: float = 0.995
    min_temperature: float = 0.05
    reheat_temperature: float = 0.4
    bounds_radius: float = 0.0
    """Soft sphere the nodes are pushed back into; 0 turns it off."""
    rest_energy: float = 1e-4
    """Kinetic energy per node under which the layout counts as settled."""
    theta: float = 0.9
    """Barnes-Hut opening angle: a cell acts as one body when its side is under theta times its distance.
    0 makes the tree exact; larger is faster and coarser."""
    cutoff: float = 0.0
    """Repulsion range for the cell-list mode; 0 means full range (all pairs or Barnes-Hut)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            low, high = _RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f.name, f"must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(f.name, f"must be between {low:g} and {high:g}, got {value!r}")
        if not isinstance(self.warmup_steps, int):
            raise ConfigError("warmup_steps", "must be an integer")

    def replace(self, **changes: Any) -> SimParams:
        """A copy with ``changes`` applied and validated; unknown names raise ConfigError."""
        known = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in known:
                raise ConfigError(name, "unknown physics parameter")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)
