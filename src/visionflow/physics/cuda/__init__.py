"""The CUDA wing of the physics engine (numba-cuda); imported only when the CUDA backend is chosen.

- ``kernels``: tiled exact all-pairs repulsion and the integration step
- ``multipole_kernels`` and ``multipole``: grid multipole repulsion for large layouts
- ``scan``: exclusive prefix sums on the device, for the multipole's counting sort
- ``backend``: ``CudaBackend``, which keeps the layout on the device for ``PhysicsEngine``

With ``NUMBA_ENABLE_CUDASIM=1`` numba-cuda runs every kernel on the CPU, which is how the tests
check them against the NumPy reference without a GPU.
"""

from visionflow.physics.cuda.backend import CudaBackend, cuda_available

__all__ = ["CudaBackend", "cuda_available"]
