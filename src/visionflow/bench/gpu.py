"""The figures of ``bench/gpu_check.sh``: one section per command, each run in its own process.

    python -m visionflow.bench.gpu probe      # a trivial kernel compiled and run: fails fast, naming what is missing
    python -m visionflow.bench.gpu steps      # ms per step at GPU_CHECK_SIZES nodes, copied back at 60 Hz / every step
    python -m visionflow.bench.gpu live       # ms per tick of a changing swarm at GPU_CHECK_LIVE_SIZES, with transfers
    python -m visionflow.bench.gpu multipole  # grid multipole against exact all pairs at GPU_CHECK_MULTIPOLE_SIZES
    python -m visionflow.bench.gpu report     # every section's figures as one JSON line

Each section prints a JSON line per size and writes its figures to ``$GPU_CHECK_OUT/<section>.json``,
so a section that fails or times out costs only its own figures. Times are wall clock around work
finished on the device (``cuda.synchronize``). With ``NUMBA_ENABLE_CUDASIM=1`` and tiny sizes the
same code runs on numba-cuda's simulator: that is how the test suite keeps this from rotting.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import cuda as _numba_cuda

from visionflow.bench.physics import make_graph
from visionflow.physics.backend import Backend
from visionflow.physics.engine import PhysicsEngine

__all__ = ["live", "main", "multipole", "probe", "report", "steps"]

SECTIONS = ("probe", "steps", "live", "multipole")
cuda: Any = _numba_cuda  # numba-cuda is not typed


def _add_one(values: Any) -> None:
    """The probe's kernel (compiled by ``probe``; module level, so the simulator can stand in for ``cuda``)."""
    i = cuda.grid(1)
    if i < values.shape[0]:
        values[i] += 1


def _simulator() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def _sizes(name: str, default: str) -> list[int]:
    return [int(size) for size in os.environ.get(name, default).split()]


def _sync() -> None:
    cuda.synchronize()


def _emit(section: str, figures: Any) -> None:
    """Print ``figures`` and keep them for the report."""
    print(json.dumps(figures), flush=True)
    out = os.environ.get("GPU_CHECK_OUT")
    if out:
        path = Path(out) / f"{section}.json"
        kept = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps([*kept, figures]))


def _engine(n: int, frame_hz: float = 60.0) -> PhysicsEngine:
    graph = make_graph("swarm", n, seed=0)
    engine = PhysicsEngine(backend=Backend.CUDA, capacity=n, seed=1, frame_hz=frame_hz)
    ids = np.arange(n, dtype=np.uint32)
    engine.add_nodes(ids, graph.start)
    engine.set_edges(ids[graph.src], ids[graph.dst])
    return engine


def _backend(engine: PhysicsEngine) -> Any:
    return engine._backend  # the figures read the backend's transfer log and device memory


# ------------------------------------------------------------------------ probe
def probe() -> None:
    """Compile and run a trivial kernel, and say what runs it."""
    add_one = cuda.jit(_add_one)
    values = cuda.to_device(np.arange(64, dtype=np.int32))
    add_one[2, 32](values)
    if not (values.copy_to_host() == np.arange(1, 65)).all():
        raise RuntimeError("a trivial kernel computed the wrong result")
    device = cuda.get_current_device()
    name = getattr(device, "name", "simulator")
    figures: dict[str, Any] = {"device": name.decode() if isinstance(name, bytes) else str(name),
                               "simulator": _simulator()}  # fmt: skip
    if not _simulator():
        driver: Any = importlib.import_module("numba.cuda.cudadrv.driver")
        nvvm: Any = importlib.import_module("numba.cuda.cudadrv.nvvm")

        figures.update(compute_capability=list(device.compute_capability), sms=device.MULTIPROCESSOR_COUNT,
                       driver=list(driver.get_version()), nvvm=list(nvvm.NVVM().get_version()))  # fmt: skip
    _emit("probe", figures)


# ------------------------------------------------------------------------ steps
def _ms_per_step(engine: PhysicsEngine, count: int) -> float:
    """Throughput: ``count`` steps back to back, then waiting for the device."""
    _sync()
    start = time.perf_counter()
    for _ in range(count):
        engine.step()
    engine.synchronize()
    _sync()
    return (time.perf_counter() - start) * 1000.0 / count


def _step_count(n: int) -> int:
    if _simulator():
        return 2
    return 200 if n <= 20_000 else 50 if n <= 200_000 else 12


def steps() -> None:
    """ms per step: frames copied back at 60 Hz (the stream's rate; physics runs faster) and after every step."""
    for n in _sizes("GPU_CHECK_SIZES", "10000 100000 1000000"):
        figures: dict[str, Any] = {"nodes": n}
        for label, frame_hz in (("ms_per_step", 60.0), ("ms_per_step_copied_every_step", 0.0)):
            engine = _engine(n, frame_hz)
            engine.step()  # compiles and uploads
            engine.step()
            engine.synchronize()
            figures[label] = round(_ms_per_step(engine, _step_count(n)), 3)
            figures.update(method=engine.method.value, edges=engine.edge_count,
                           finite=bool(np.isfinite(engine.positions).all()),
                           device_mb=round(_backend(engine).device_nbytes / 2**20, 1))  # fmt: skip
        _emit("steps", figures)


# ------------------------------------------------------------------------- live
def live() -> None:
    """A swarm that changes while it steps: ms per tick with the frame copied back every tick, and what moved.

    Every tick a thousandth of the nodes leave and as many join next to a neighbour, every link's
    weight decays (all of them change, as the simulated swarm's intensities do), and every tenth
    tick a tenth of the links are rewired (a new adjacency).
    """
    for n in _sizes("GPU_CHECK_LIVE_SIZES", "10000 100000"):
        ticks = 3 if _simulator() else 100 if n <= 20_000 else 40
        engine = _engine(n, frame_hz=0.0)  # a copy back every tick, as the 60 Hz stream needs
        rng = np.random.default_rng(2)
        churn = max(1, n // 1000)
        next_id = n
        src, dst = engine.ids[rng.integers(0, n, int(1.4 * n))], engine.ids[rng.integers(0, n, int(1.4 * n))]
        weights = rng.random(len(src)).astype(np.float32)
        engine.set_edges(src, dst, weights)
        engine.step()
        engine.synchronize()
        memory = _backend(engine).transfers
        counts, sizes = memory.counts.copy(), memory.bytes.copy()
        _sync()
        start = time.perf_counter()
        for tick in range(ticks):
            gone = engine.ids[rng.integers(0, engine.n, churn)]
            engine.remove_nodes(gone)
            joining = np.arange(next_id, next_id + churn, dtype=np.uint32)
            next_id += churn
            engine.add_nodes(joining, near=engine.ids[rng.integers(0, engine.n, churn)].astype(np.int64))
            if tick % 10 == 0:
                rewired = rng.random(len(src)) < 0.1
                src[rewired] = engine.ids[rng.integers(0, engine.n, int(rewired.sum()))]
                engine.set_edges(src, dst, weights)
            weights *= np.float32(0.995)
            engine.set_edge_weights(weights)
            engine.step()
            float(engine.positions[0, 0])  # the frame reads the last completed copy
        engine.synchronize()
        _sync()
        elapsed = time.perf_counter() - start
        counts, sizes = memory.counts - counts, memory.bytes - sizes
        _emit("live", {"nodes": n, "ticks": ticks, "ms_per_tick": round(elapsed * 1000 / ticks, 3),
                       "up_per_tick": round(counts["up"] / ticks, 2),
                       "up_mb_per_tick": round(sizes["up"] / ticks / 2**20, 3),
                       "down_per_tick": round(counts["down"] / ticks, 2),
                       "down_mb_per_tick": round(sizes["down"] / ticks / 2**20, 3),
                       "allocations": counts["alloc"] + counts["pinned"],
                       "finite": bool(np.isfinite(engine.positions).all())})  # fmt: skip


# -------------------------------------------------------------------- multipole
def _timed(launch: Callable[[], None], repeats: int) -> float:
    launch()  # compiles
    _sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        launch()
        _sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000.0


def multipole() -> None:
    """Repulsion alone, exact all pairs (split as the backend splits it) against the grid multipole.

    The error of each node's force is normalised by the RMS force over all nodes, so nodes whose
    forces nearly cancel do not dominate it. ``crossover`` is the smallest size from which the
    multipole is faster at every size measured.
    """
    from visionflow.physics.cuda import kernels
    from visionflow.physics.cuda.multipole import GridMultipole

    repulsion, softening = np.float32(320.0), np.float32(1.0)
    sms = int(getattr(cuda.get_current_device(), "MULTIPROCESSOR_COUNT", 1) or 1)
    rows = []
    for n in _sizes("GPU_CHECK_MULTIPOLE_SIZES", "10000 20000 32000 50000 100000 1000000"):
        pos = cuda.to_device(make_graph("swarm", n, seed=0).start)
        grid = GridMultipole()
        approx = cuda.device_array((n, 3), np.float32)
        slices, span = kernels.split(n, sms)
        exact = cuda.device_array((slices, n, 3), np.float32)

        def run_exact(n: int = n, span: int = span, slices: int = slices, exact: Any = exact, pos: Any = pos) -> None:
            kernels.repulsion_exact[(math.ceil(n / kernels.TILE), slices), kernels.TILE](
                pos, np.uint32(n), np.uint32(span), repulsion, softening, exact)  # fmt: skip

        def run_grid(n: int = n, grid: GridMultipole = grid, approx: Any = approx, pos: Any = pos) -> None:
            grid.repulsion(pos, n, repulsion, softening, approx)

        small = _simulator()
        multipole_ms = _timed(run_grid, 1 if small else 10)
        exact_ms = _timed(run_exact, 1 if small or n > 200_000 else 5)
        a: npt.NDArray[np.float64] = approx.copy_to_host().astype(np.float64)
        e: npt.NDArray[np.float64] = exact.copy_to_host().astype(np.float64).sum(axis=0)
        rms = float(np.sqrt(np.mean(np.einsum("ij,ij->i", e, e))))
        error = np.linalg.norm(a - e, axis=1) / max(rms, 1e-30)
        row = {"nodes": n, "level": grid.level, "slices": slices, "multipole_ms": round(multipole_ms, 3),
               "exact_ms": round(exact_ms, 3), "error_median": float(np.median(error)),
               "error_p99": float(np.quantile(error, 0.99)), "error_max": float(error.max()),
               "finite": bool(np.isfinite(a).all()), "device_mb": round(grid.nbytes / 2**20, 1)}  # fmt: skip
        rows.append(row)
        _emit("multipole", row)
    faster = [row["multipole_ms"] < row["exact_ms"] for row in rows]
    crossover = next((row["nodes"] for i, row in enumerate(rows) if all(faster[i:])), None)
    _emit("crossover", {"crossover": crossover})


# ----------------------------------------------------------------------- report
def report() -> None:
    """All figures in one JSON line; sections that failed are named in ``failed`` (from the script)."""
    out = Path(os.environ["GPU_CHECK_OUT"])

    def read(section: str) -> Any:
        path = out / f"{section}.json"
        return json.loads(path.read_text()) if path.exists() else None

    probed = read("probe")
    crossover = read("crossover")
    print(json.dumps({
        "device": probed[0] if probed else None,
        "steps": read("steps"),
        "live": read("live"),
        "multipole": read("multipole"),
        "crossover": crossover[-1]["crossover"] if crossover else None,
        "failed": os.environ.get("GPU_CHECK_FAILED", "").split(),
    }))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    commands: dict[str, Callable[[], None]] = {"probe": probe, "steps": steps, "live": live,
                                                  "multipole": multipole, "report": report}  # fmt: skip
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: python -m visionflow.bench.gpu {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    commands[args[0]]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
