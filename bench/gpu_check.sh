#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU. Every section runs whatever the others did, and the
# last line is one JSON object of every figure measured (null where a section failed, named in "failed"):
#
#   1. probe      a trivial kernel compiled and run: a missing driver, NVVM or NVRTC fails here in seconds, named
#   2. tests      the CUDA kernel tests, on the device (GPU_CHECK_TESTS=0 skips them)
#   3. steps      ms per step at 10k, 100k and 1M nodes, results copied back at 60 Hz and after every step
#   4. live       a swarm adding and removing nodes and changing weights while it steps: ms per tick with its
#                 frame copied back, and the transfers per tick
#   5. multipole  grid multipole against exact all pairs at 10k to 1M nodes: time of each and force error
#                 over the RMS force; "crossover" is the size from which the multipole wins
#
#   bash bench/gpu_check.sh            # from the repository root; under 5 minutes
#
# GPU_CHECK_SIZES, GPU_CHECK_LIVE_SIZES and GPU_CHECK_MULTIPOLE_SIZES (node counts, space-separated;
# empty: skip the section) change the sizes, GPU_CHECK_TIME_SCALE multiplies every section's limit.
# Needs Python with numpy, numba and numba-cuda (pytest for the tests); runs from src/ without
# installing the package, since GPU machines may have no package registry. numba-cuda warns about
# grids under 128 blocks, which small layouts launch on purpose: the warning is off for the run (and
# its class, numba.cuda.core.errors.NumbaPerformanceWarning, ignored by pytest's warnings-as-errors).
# Dry run on a CPU (numba-cuda's simulator, tiny sizes; the test suite runs this):
#   NUMBA_ENABLE_CUDASIM=1 GPU_CHECK_TESTS=0 GPU_CHECK_SIZES=40 GPU_CHECK_LIVE_SIZES=40 \
#     GPU_CHECK_MULTIPOLE_SIZES="24 40" bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_ENABLE_CUDASIM=${NUMBA_ENABLE_CUDASIM:-0}
export NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0
export GPU_CHECK_SIZES=${GPU_CHECK_SIZES-10000 100000 1000000}
export GPU_CHECK_LIVE_SIZES=${GPU_CHECK_LIVE_SIZES-10000 100000}
export GPU_CHECK_MULTIPOLE_SIZES=${GPU_CHECK_MULTIPOLE_SIZES-10000 20000 32000 50000 100000 1000000}
SCALE=${GPU_CHECK_TIME_SCALE:-1}
GPU_CHECK_OUT=$(mktemp -d)
export GPU_CHECK_OUT
trap 'rm -rf "$GPU_CHECK_OUT"' EXIT
failed=()

# section NAME SECONDS COMMAND...: runs COMMAND under a time limit; a failure is reported, never fatal.
section() {
  local name=$1 limit=$(( $2 * SCALE ))
  shift 2
  echo "== $name"
  timeout "$limit" "$@"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "FAILED $name: over its ${limit}s" || echo "FAILED $name: exit $rc"
    failed+=("$name")
  fi
  return 0
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi not found"
section probe 40 "$PY" -m visionflow.bench.gpu probe
if [ "${GPU_CHECK_TESTS:-1}" != 0 ]; then
  if "$PY" -c "import pytest" 2>/dev/null; then
    # --noconftest: the suite's conftest needs server packages a GPU machine may lack.
    section tests 90 "$PY" -m pytest -q -p no:cacheprovider --noconftest -o addopts="" \
      -W "ignore::numba.cuda.core.errors.NumbaPerformanceWarning" tests/unit/physics/cuda
  else
    echo "pytest is not installed: skipping the kernel tests"
  fi
fi
section steps 60 "$PY" -m visionflow.bench.gpu steps
section live 45 "$PY" -m visionflow.bench.gpu live
section multipole 50 "$PY" -m visionflow.bench.gpu multipole
echo "== figures"
GPU_CHECK_FAILED="${failed[*]:-}" "$PY" -m visionflow.bench.gpu report
