"""The CUDA wing of the physics engine (numba-cuda); imported only when the CUDA backend is chosen.

- ``kernels``: tiled exact all-pairs repulsion, the integration step, the device side of host edits
- ``multipole_kernels`` and ``multipole``: grid multipole repulsion for large layouts, and its near
  field as the cell list of the cutoff mode
- ``scan``: exclusive prefix sums on the device, for the multipole's counting sort
- ``transfers``: every copy between host and device, counted
- ``backend``: ``CudaBackend``, which keeps the layout on the device for ``PhysicsEngine``
- ``compile_check``: every kernel compiled for sm_80 and sm_90 and judged, without a GPU

With ``NUMBA_ENABLE_CUDASIM=1`` numba-cuda runs every kernel on the CPU, which is how the tests
check them against the NumPy reference without a GPU; ``compile_check`` proves they compile.
"""

from visionflow.physics.cuda.backend import CudaBackend, cuda_available

__all__ = ["CudaBackend", "cuda_available"]
