"""The CPU wing of the physics engine: Numba kernels and the structures they keep between steps.

- ``kernels``: exact all-pairs steps, and the rest of a step after tree or cell-list repulsion
- ``tree`` and ``tree_kernels``: the Barnes-Hut octree (Morton-ordered, reused between frames)
- ``grid``: cut-off repulsion through a uniform-grid cell list
- ``backend``: ``CpuBackend``, which runs them for ``PhysicsEngine``
"""

from visionflow.physics.cpu.backend import CpuBackend

__all__ = ["CpuBackend"]
