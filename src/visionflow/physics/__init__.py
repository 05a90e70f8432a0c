"""Force-directed 3D layout: parameters, the engine, its backends and layout-quality metrics.

The CUDA wing (``physics.cuda``, numba-cuda) is not imported here: it loads only when the CUDA
backend is asked for, so this package needs NumPy and Numba alone.
"""

from visionflow.physics.backend import MULTIPOLE_THRESHOLD, TREE_THRESHOLD, Backend, Method, PhysicsBackend, Thresholds
from visionflow.physics.engine import PhysicsEngine, StepResult
from visionflow.physics.params import SimParams
from visionflow.physics.select import PhysicsChoice, PhysicsSelection, resolve_physics, warm_up

__all__ = [
    "MULTIPOLE_THRESHOLD",
    "TREE_THRESHOLD",
    "Backend",
    "Method",
    "PhysicsBackend",
    "PhysicsChoice",
    "PhysicsEngine",
    "PhysicsSelection",
    "SimParams",
    "StepResult",
    "Thresholds",
    "resolve_physics",
    "warm_up",
]
