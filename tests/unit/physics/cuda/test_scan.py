"""The device scan behind the grid multipole's counting sort, on the simulator in CI (on the device: gpu_check.sh)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[gpu])")


@pytest.fixture(autouse=True)
def _cuda_or_simulator() -> None:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA device and NUMBA_ENABLE_CUDASIM is off")


@pytest.mark.parametrize("n", [1, 256, 257, 2000])
def test_device_scan_is_an_exclusive_prefix_sum(n: int) -> None:
    from numba import cuda

    from visionflow.physics.cuda.scan import DeviceScan

    values = np.random.default_rng(n).integers(0, 9, n).astype(np.int32)
    out = cuda.device_array(n, np.int32)
    DeviceScan(n).run(cuda.to_device(values), n, out)
    np.testing.assert_array_equal(out.copy_to_host(), np.cumsum(values) - values)
