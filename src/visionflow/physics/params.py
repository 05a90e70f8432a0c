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

__all__ = ["COOLING_REFERENCE_NODES", "FLOOR_HOLD", "SimParams"]

COOLING_REFERENCE_NODES = 200
"""Graph size the default cooling rate was tuned on (the simulated swarm's default)."""

FLOOR_HOLD = 3.0
"""``floor_steps`` over the descent's steps. Layouts still improve at the floor: on the 200-node benchmark
swarm (5 seeds) freezing right after the descent left two-hop neighbourhood preservation at 0.568
against 0.580 unfrozen; after three descents it is 0.574, and the layout rests after 3,405 steps
instead of 4,185."""

# (minimum, maximum) of each parameter, both inclusive.
_RANGES: dict[str, tuple[float, float]] = {
    "dt": (1e-4, 1.0),
    "repulsion": (0.0, 1e6),
    "softening": (1e-4, 1e4),
    "spring_k": (0.0, 1e3),
    "rest_length": (0.0, 1e4),
    "spring_exponent": (0.25, 1.0),
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

    Repulsion is inverse-square (Coulomb-like, softened), springs are power-law springs
    (square root by default, Hooke's law at ``spring_exponent`` 1) whose stiffness scales with
    link intensity, gravity pulls linearly to the origin. Temperature
    scales the speed limit: it starts at 1, decays by ``cooling`` each step down to
    ``min_temperature``, holds there three times as long as that descent took (``floor_steps``),
    then decays again toward 0, so that every layout comes to rest; it is raised to
    ``reheat_temperature`` when nodes, links or parameters change.
    """

    # Springs are stiff against repulsion so that a node's graph neighbourhood is also its
    # spatial one, and grow as the square root of their stretch so that a few long edges
    # (messages to far agents) do not pull a node out of its group. Chosen with
    # ``physics.quality`` on the benchmark graphs: on the 10k-node swarm after 2,000 steps,
    # against Hooke springs (k 2), this balance (k 3, rest 4, exponent 0.5, repulsion 320,
    # softening 1) raises one-hop neighbourhood preservation from 0.008 to 0.022 and two-hop
    # from 0.140 to 0.158 at equal stress, for a wider spread of edge lengths (CV 0.50 to 0.67).
    # Length-like values scale together: distances x s needs repulsion x s^3, softening x s^2,
    # forces and speeds x s.
    dt: float = 0.05
    repulsion: float = 320.0
    softening: float = 1.0
    spring_k: float = 3.0
    rest_length: float = 4.0
    spring_exponent: float = 0.5
    """How spring tension grows with stretch: ``L ((d / L) ** a - 1) / a`` for length d, rest L. 1 is
    Hooke's law; below 1, long edges pull less (toward Eades' logarithmic spring as a nears 0),
    which keeps groups together when a few of their edges reach far. The slope at rest is ``spring_k``
    whatever the exponent."""
    gravity: float = 0.12
    damping: float = 0.88
    max_force: float = 400.0
    max_velocity: float = 120.0
    warmup_steps: int = 30
    cooling: float = 0.995
    """Temperature factor per step for a graph of up to ``COOLING_REFERENCE_NODES``; bigger graphs cool
    more slowly (see ``cooling_for``)."""
    min_temperature: float = 0.05
    reheat_temperature: float = 0.4
    bounds_radius: float = 0.0
    """Soft sphere the nodes are pushed back into; 0 turns it off."""
    rest_energy: float = 4e-4
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
        if self.spring_exponent < 1.0 and self.rest_length <= 0.0:
            raise ConfigError("rest_length", "must be above 0 unless spring_exponent is 1 (Hooke springs)")

    def cooling_for(self, nodes: int) -> float:
        """The temperature factor per step for a graph of ``nodes`` nodes.

        At a given density a layout of N nodes is cbrt(N) times wider, so its nodes travel
        cbrt(N) times further to their places; with one cooling rate for every size, a 100k
        graph froze at the speed limit after ~600 steps, half-unfolded (stress worse than its
        random start). Cooling ``cooling ** cbrt(reference / N)`` gives every size the same
        number of crossings before it cools.
        """
        if nodes <= COOLING_REFERENCE_NODES:
            return self.cooling
        return float(self.cooling ** math.cbrt(COOLING_REFERENCE_NODES / nodes))

    def floor_steps(self, nodes: int) -> float:
        """How long a graph of ``nodes`` nodes stays at ``min_temperature`` before it freezes: three times
        the steps that cooling from 1 down to that floor takes (infinite when it never cools).

        Without the freeze a large layout never rests: a 2,000-node swarm still crept at ~0.1
        units a second after 20,000 steps, a slow unfolding its damping cannot stop, so its
        kinetic energy stayed above ``rest_energy`` and the loop stepped and streamed forever.
        """
        rate = self.cooling_for(nodes)
        if rate >= 1.0:
            return math.inf
        if self.min_temperature <= 0.0:
            return 0.0
        return FLOOR_HOLD * math.log(self.min_temperature) / math.log(rate)

    def replace(self, **changes: Any) -> SimParams:
        """A copy with ``changes`` applied and validated; unknown names raise ConfigError."""
        known = {f.name for f in dataclasses.fields(self)}
        for name in changes:
            if name not in known:
                raise ConfigError(name, "unknown physics parameter")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)
