"""Force-directed 3D layout: parameters, the engine, and its kernels."""

from visionflow.physics.engine import Backend, PhysicsEngine, StepResult
from visionflow.physics.params import SimParams

__all__ = ["Backend", "PhysicsEngine", "SimParams", "StepResult"]
