#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU: the CUDA kernel tests on the real device, then
# the physics benchmark on the CUDA backend at 10k, 100k and 1M nodes. Under 5 minutes.
#
#   bash bench/gpu_check.sh            # from the repository root
#
# Needs Python with numpy, numba and numba-cuda (pytest for the tests); runs from src/ without
# installing the package, since GPU machines may have no package registry.
# Dry run on a CPU (numba-cuda's simulator, tiny sizes):
#   NUMBA_ENABLE_CUDASIM=1 GPU_CHECK_SIZES="64 96" bash bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_ENABLE_CUDASIM=${NUMBA_ENABLE_CUDASIM:-0}
export GPU_CHECK_SIZES=${GPU_CHECK_SIZES:-10000 100000 1000000}

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi not found"
"$PY" - <<'PY'
from numba import cuda
assert cuda.is_available(), "numba-cuda sees no CUDA device"
print("numba-cuda device:", getattr(cuda.get_current_device(), "name", "simulator"))
PY

echo "== CUDA kernels against the NumPy reference, on the device"
if "$PY" -c "import pytest" 2>/dev/null; then
  # --noconftest: the suite's conftest needs server packages a GPU machine may lack.
  timeout 120 "$PY" -m pytest -q -p no:cacheprovider --noconftest -o addopts="" \
    -W "ignore::numba.core.errors.NumbaPerformanceWarning" tests/unit/physics/test_kernels_gpu.py
else
  echo "pytest is not installed: skipping the kernel tests"
fi

echo "== CUDA step time at $GPU_CHECK_SIZES nodes"
timeout 150 "$PY" - <<'PY'
import json, os, statistics, time

import numpy as np
from numba import cuda

from visionflow.physics import Backend, PhysicsEngine
from visionflow.physics.benchmark import make_graph

report = []
for n in map(int, os.environ["GPU_CHECK_SIZES"].split()):
    steps = 50 if n <= 10_000 else 10 if n <= 100_000 else 2
    graph = make_graph("swarm", n, seed=0)
    engine = PhysicsEngine(backend=Backend.CUDA, capacity=n, seed=1)
    ids = np.arange(n, dtype=np.uint32)
    engine.add_nodes(ids, graph.start)
    engine.set_edges(ids[graph.src], ids[graph.dst])
    engine.step()  # compiles and uploads
    samples = []
    for _ in range(steps):
        t = time.perf_counter()
        engine.step()
        if not os.environ["NUMBA_ENABLE_CUDASIM"] == "1":
            cuda.synchronize()
        samples.append(time.perf_counter() - t)
    ms = statistics.median(samples) * 1000
    ok = bool(np.isfinite(engine.positions).all())
    report.append({"nodes": n, "edges": graph.edges, "ms_per_step": round(ms, 3), "finite": ok,
                   "method": engine.method.value})
    print(json.dumps(report[-1]), flush=True)
PY
echo "== done"
