"""Force-directed 3D layout: parameters, the engine, its kernels and layout-quality metrics.

``kernels_gpu`` and ``gpu`` (numba-cuda) are not imported here: they load only when the CUDA
backend is asked for, so this package needs NumPy and Numba alone.
"""

from visionflow.physics.engine import MULTIPOLE_THRESHOLD, TREE_THRESHOLD, Backend, Method, PhysicsEngine, StepResult
from visionflow.physics.params import SimParams

__all__ = ["MULTIPOLE_THRESHOLD", "TREE_THRESHOLD", "Backend", "Method", "PhysicsEngine", "SimParams", "StepResult"]
