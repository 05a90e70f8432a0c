#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU: the CUDA kernel tests on the real device, then
# the physics benchmark on the CUDA backend at 10k, 100k and 1M nodes (with the repulsion method
# each size gets), then grid multipole against exact all-pairs repulsion at the same sizes: force
# error and the time of each alone. Under 5 minutes.
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
    -W "ignore::numba.core.errors.NumbaPerformanceWarning" tests/unit/physics/cuda
else
  echo "pytest is not installed: skipping the kernel tests"
fi

echo "== CUDA step time at $GPU_CHECK_SIZES nodes"
timeout 150 "$PY" - <<'PY'
import json, os, statistics, time

import numpy as np
from numba import cuda

from visionflow.bench.physics import make_graph
from visionflow.physics import Backend, PhysicsEngine

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
echo "== grid multipole against exact all pairs: force error and repulsion time alone, at $GPU_CHECK_SIZES nodes"
timeout 120 "$PY" - <<'PY'
import json, math, os, statistics, time

import numpy as np
from numba import cuda

from visionflow.bench.physics import make_graph
from visionflow.physics.cuda import kernels as kg
from visionflow.physics.cuda.multipole import GridMultipole

simulator = os.environ["NUMBA_ENABLE_CUDASIM"] == "1"
repulsion, softening = np.float32(40.0), np.float32(0.25)


def timed(launch, repeats):
    launch()  # compiles
    samples = []
    for _ in range(repeats):
        if not simulator:
            cuda.synchronize()
        t = time.perf_counter()
        launch()
        if not simulator:
            cuda.synchronize()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


for n in map(int, os.environ["GPU_CHECK_SIZES"].split()):
    pos = cuda.to_device(make_graph("swarm", n, seed=0).start)
    approx = cuda.device_array((n, 3), np.float32)
    exact = cuda.device_array((n, 3), np.float32)
    grid = GridMultipole()
    blocks = math.ceil(n / kg.TILE)
    multipole_ms = timed(lambda: grid.repulsion(pos, n, repulsion, softening, approx), 5)
    exact_ms = timed(lambda: kg.repulsion_exact[blocks, kg.TILE](pos, n, repulsion, softening, np.float32(np.inf),
                                                                 exact), 3 if n <= 100_000 else 1)
    a, e = approx.copy_to_host(), exact.copy_to_host()
    error = np.linalg.norm(a - e, axis=1) / np.maximum(np.linalg.norm(e, axis=1), 1e-30)
    print(json.dumps({"nodes": n, "level": grid.level, "multipole_ms": round(multipole_ms, 3),
                      "exact_ms": round(exact_ms, 3), "median_error": float(np.median(error)),
                      "p99_error": float(np.quantile(error, 0.99)), "max_error": float(error.max()),
                      "finite": bool(np.isfinite(a).all()), "device_mb": round(grid.nbytes / 2**20, 1)}), flush=True)
PY
echo "== done"
