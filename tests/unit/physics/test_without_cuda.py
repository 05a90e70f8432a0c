"""``physics`` runs with NumPy and Numba alone, as GPU machines without a package registry run it from ``src/``.

A fresh interpreter gets an import hook that refuses numba-cuda and every third-party package but
NumPy and Numba (with llvmlite, Numba's compiler), then imports the engine and steps it on the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"

PROBE = textwrap.dedent(
    """
    import importlib.abc, json, sys

    ALLOWED = {"numpy", "numba", "llvmlite", "visionflow"}
    refused = []

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if name == "numba.cuda" or name.startswith("numba.cuda.") or (
                top not in sys.stdlib_module_names and top not in ALLOWED
            ):
                refused.append(name)
                raise ModuleNotFoundError(f"refused: {name}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())

    import numpy as np
    import visionflow.physics.engine
    from visionflow.bench.physics import make_graph
    from visionflow.physics import Backend, PhysicsEngine, resolve_physics

    graph = make_graph("swarm", 300, seed=1)
    engine = PhysicsEngine(tree_threshold=100)
    ids = np.arange(graph.n, dtype=np.uint32)
    engine.add_nodes(ids, graph.start)
    engine.set_edges(ids[graph.src], ids[graph.dst])
    energies = [engine.step().kinetic_energy for _ in range(3)]
    before_lookup = sorted(set(refused))
    auto, cuda = resolve_physics("auto"), resolve_physics("cuda")
    try:
        PhysicsEngine(backend=Backend.CUDA)
        opened = "opened"
    except ImportError as exc:
        opened = f"ImportError: {exc}"
    print(json.dumps({
        "energies": energies, "method": engine.method.value, "finite": bool(np.isfinite(engine.positions).all()),
        "refused_before_lookup": before_lookup, "refused": sorted(set(refused)),
        "auto": [auto.backend.value, auto.fallback_reason], "cuda": [cuda.backend.value, cuda.fallback_reason],
        "cuda_engine": opened, "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in ("numba_cuda",)),
    }))
    """
)


def test_engine_imports_and_steps_without_numba_cuda_or_server_packages() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(SRC)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["finite"] and all(e > 0 for e in report["energies"])
    assert report["method"] == "barnes-hut"
    # Importing and stepping the CPU engine never even asked for numba-cuda or a server package.
    assert not [name for name in report["refused_before_lookup"] if name.startswith(("numba.cuda", "numba_cuda"))]
    assert report["loaded"] == []
    # Looking for a GPU asked for it, found none, and fell back.
    assert any(name.startswith("numba.cuda") or name.startswith("numba_cuda") for name in report["refused"])
    assert report["auto"] == ["cpu", None]
    assert report["cuda"] == ["cpu", "no CUDA device is available"]
    assert report["cuda_engine"].startswith("ImportError")
