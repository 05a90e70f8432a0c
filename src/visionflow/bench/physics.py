"""The physics benchmark behind ``visionflow bench physics``: our engine against the layout libraries people use.

Every contender lays out the same seeded graph from the same start positions, in one
process run, so the figures compare. Speed is the median milliseconds per step (for peers
that run a whole layout in one call, the call's time over its iteration count); the ratio
is peer / ours, so 30 means thirty times slower than ours. Quality is measured at equal
wall-clock budgets: each peer gets the time it needs for ``steps`` iterations and our engine
gets the same time, then both layouts are scored by ``physics.quality``.

Peers are optional (``pip install visionflow[bench]``): a missing one is reported as skipped with
the reason, never faked. d3-force-3d runs in node on ``peers/d3_layout.mjs``, which ships inside
the package; d3-force-3d itself comes from npm, found by ``find_node_modules``.

Importable with NumPy and Numba alone (the GPU check uses ``make_graph`` from a bare checkout).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.physics.backend import Backend
from visionflow.physics.engine import PhysicsEngine
from visionflow.physics.params import SimParams
from visionflow.physics.quality import measure

__all__ = ["D3_PACKAGE", "GRAPHS", "NODE_MODULES_ENV", "Graph", "crossover", "find_node_modules", "make_graph", "run"]

REFERENCE_LIMIT = 3000
"""The NumPy reference holds N x N arrays; beyond this it is not run."""
PEER_BUDGET_S = 60.0
"""A peer whose estimated run exceeds this is skipped (its one-step time is still reported)."""
D3_PACKAGE = "d3-force-3d"
NODE_MODULES_ENV = "VISIONFLOW_NODE_MODULES"
"""Where d3-force-3d is installed, when ``--node-modules`` is not given."""


@dataclass(frozen=True)
class Graph:
    """A seeded test graph: node count, edge ends (indices) and start positions."""

    kind: str
    n: int
    src: npt.NDArray[np.int64]
    dst: npt.NDArray[np.int64]
    start: npt.NDArray[np.float32]

    @property
    def edges(self) -> int:
        return len(self.src)


def _swarm(n: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Like the simulated swarm: a queen, coordinators under her, workers under coordinators, plus messages.

    About 1.4 edges per node: the hierarchy gives 1, messages between random agents 0.4.
    """
    coordinators = max(1, n // 20)
    src = np.arange(1, n, dtype=np.int64)
    dst = np.where(src <= coordinators, 0, rng.integers(1, coordinators + 1, n - 1))
    extra = int(0.4 * n)
    a, b = rng.integers(0, n, extra), rng.integers(0, n, extra)
    keep = a != b
    return np.concatenate((src, a[keep])), np.concatenate((dst, b[keep]))


def _barabasi_albert(n: int, rng: np.random.Generator, m: int = 2) -> tuple[npt.NDArray[np.int64], ...]:
    """Barabasi-Albert preferential attachment, m edges per new node."""
    src = np.empty(max(0, (n - m) * m), np.int64)
    dst = np.empty_like(src)
    ends = np.empty(2 * len(src) + m, np.int64)
    ends[:m] = np.arange(m)
    filled = m
    e = 0
    for v in range(m, n):
        targets: set[int] = set()
        while len(targets) < m:
            targets.add(int(ends[rng.integers(0, filled)]))
        for t in targets:
            src[e], dst[e] = v, t
            e += 1
            ends[filled] = t
            ends[filled + 1] = v
            filled += 2
    return src, dst


GRAPHS: dict[str, Callable[[int, np.random.Generator], tuple[npt.NDArray[np.int64], ...]]] = {
    "swarm": _swarm,
    "ba": _barabasi_albert,
}


def make_graph(kind: str, n: int, seed: int = 0) -> Graph:
    if kind not in GRAPHS:
        raise ValueError(f"unknown graph {kind!r}; use one of {', '.join(GRAPHS)}")
    rng = np.random.default_rng(seed)
    src, dst = GRAPHS[kind](n, rng)
    start = (rng.normal(size=(n, 3)) * 6.0 * np.cbrt(n)).astype(np.float32)
    return Graph(kind, n, src, dst, start)


# --------------------------------------------------------------------- ours
def _engine(graph: Graph, params: SimParams | None = None, **options: Any) -> PhysicsEngine:
    engine = PhysicsEngine(params, seed=1, capacity=graph.n, **options)
    ids = np.arange(graph.n, dtype=np.uint32)
    engine.add_nodes(ids, graph.start)
    engine.set_edges(ids[graph.src], ids[graph.dst])
    return engine


def _median_ms(step: Callable[[], object], steps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000.0


def _ours(graph: Graph, steps: int) -> dict[str, Any]:
    engine = _engine(graph)
    ms = _median_ms(engine.step, steps)
    memory = engine.memory()
    return {
        "ms_per_step": ms,
        "method": engine.method.value,
        "bytes_per_node": memory["node"] / graph.n,
        "bytes_per_edge": memory["edge"] / max(graph.edges, 1),
        **_measured_memory(graph),
    }


def _resident_bytes() -> int:
    """The process's resident set now (Linux ``/proc``; 0 where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _measured_memory(graph: Graph, steps: int = 3) -> dict[str, float]:
    """What building an engine and stepping it costs, seen from outside the engine's own count.

    ``traced_bytes_per_node``: the peak of Python and NumPy allocations (``tracemalloc``) while
    an engine is built and stepped, over the node count; ``rss_bytes_per_node``: how much the
    resident set grew meanwhile (it also sees Numba's own allocations, and is noise for small
    graphs). Measured apart from the timing, which tracing would slow.
    """
    gc.collect()
    before = _resident_bytes()
    tracemalloc.start()
    try:
        engine = _engine(graph)
        for _ in range(steps):
            engine.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown = max(0, _resident_bytes() - before)
    del engine
    return {"traced_bytes_per_node": peak / graph.n, "rss_bytes_per_node": grown / graph.n}


def _ours_for(graph: Graph, budget_s: float, max_steps: int = 5000) -> tuple[npt.NDArray[np.float32], int]:
    """Our layout after as many steps as fit in ``budget_s`` (compilation excluded)."""
    engine = _engine(graph)
    engine.step()  # compiled already by the speed run; this just keeps the clock honest
    done = 1
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline and done < max_steps:
        engine.step()
        done += 1
    return engine.positions.copy(), done


# -------------------------------------------------------------------- peers
@dataclass
class _Peer:
    name: str
    layout: Callable[[Graph, int], npt.NDArray[np.float64]]
    """Runs ``iterations`` iterations from ``graph.start`` and returns the positions."""
    available: Callable[[], str | None]
    """None when the peer can run here, else why not."""
    limit: int = 10**9
    seconds: Callable[[], float] | None = None
    """The last layout's time as the peer measured it, where its own start-up would distort ours."""
    notes: list[str] = field(default_factory=list)


def _missing(module: str, extra: str = "pip install .[bench]") -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed ({extra})"
        return None

    return check


def _reference(graph: Graph, iterations: int) -> npt.NDArray[np.float64]:
    engine = _engine(graph, backend=Backend.REFERENCE)
    for _ in range(iterations):
        engine.step()
    return engine.positions.astype(np.float64)


def _igraph(graph: Graph, iterations: int) -> npt.NDArray[np.float64]:
    import igraph

    g = igraph.Graph(n=graph.n, edges=np.c_[graph.src, graph.dst].tolist())
    layout = g.layout_fruchterman_reingold(niter=iterations, dim=3, seed=graph.start.astype(np.float64).tolist())
    return np.asarray(layout.coords, np.float64)


def _networkx(graph: Graph, iterations: int) -> npt.NDArray[np.float64]:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))
    start = {i: p for i, p in enumerate(graph.start.astype(np.float64))}
    layout = nx.spring_layout(g, dim=3, pos=start, iterations=iterations, threshold=0.0, seed=1)
    return np.array([layout[i] for i in range(graph.n)], np.float64)


def _fa2(graph: Graph, iterations: int) -> npt.NDArray[np.float64]:
    import scipy.sparse
    from fa2 import ForceAtlas2

    ones = np.ones(graph.edges)
    adjacency = scipy.sparse.coo_matrix((ones, (graph.src, graph.dst)), shape=(graph.n, graph.n))
    adjacency = (adjacency + adjacency.T).tocsr()
    layout = ForceAtlas2(dim=3, barnesHutOptimize=True, verbose=False, seed=1)
    coords = layout.forceatlas2(adjacency, pos=graph.start.astype(np.float64), iterations=iterations)
    return np.asarray(coords, np.float64)


def find_node_modules(given: Path | None = None, cwd: Path | None = None) -> Path | None:
    """The ``node_modules`` directory that holds d3-force-3d, or None.

    ``given`` (``--node-modules`` or ``VISIONFLOW_NODE_MODULES``) is the only place looked at when set; it may be
    a ``node_modules`` directory or the prefix npm installed into. Otherwise, in the working directory:
    ``bench/node_modules`` (where ``make bench-peers`` installs from a checkout's lock file), then ``node_modules``.
    """
    here = cwd or Path.cwd()
    candidates = [given] if given is not None else [here / "bench" / "node_modules", here / "node_modules"]
    for candidate in candidates:
        for modules in (candidate, candidate / "node_modules"):
            if (modules / D3_PACKAGE).is_dir():
                return modules.resolve()
    return None


class _D3:
    """d3-force-3d in node, on the script shipped with the package; node's own timing, without its start-up."""

    def __init__(self, node_modules: Path | None) -> None:
        self.node_modules = node_modules
        self.last_s = 0.0

    def available(self) -> str | None:
        if shutil.which("node") is None:
            return "node is not installed"
        if self.node_modules is None:
            return (f"{D3_PACKAGE} is not installed (npm install --prefix bench from a checkout, or pass "
                    f"--node-modules DIR / set {NODE_MODULES_ENV})")  # fmt: skip
        return None

    def layout(self, graph: Graph, iterations: int) -> npt.NDArray[np.float64]:
        assert self.node_modules is not None
        request = {"n": graph.n, "src": graph.src.tolist(), "dst": graph.dst.tolist(),
                   "start": graph.start.astype(np.float64).ravel().tolist(), "iterations": iterations}  # fmt: skip
        with resources.as_file(resources.files("visionflow.bench") / "peers" / "d3_layout.mjs") as script:
            done = subprocess.run(["node", str(script), str(self.node_modules)], input=json.dumps(request),
                                  capture_output=True, text=True, check=True, timeout=900)  # fmt: skip
        reply = json.loads(done.stdout)
        self.last_s = float(reply["ms"]) / 1000.0
        return np.asarray(reply["positions"], np.float64).reshape(graph.n, 3)


def _peers(node_modules: Path | None = None) -> list[_Peer]:
    d3 = _D3(node_modules)
    return [
        _Peer("numpy-reference", _reference, lambda: None, limit=REFERENCE_LIMIT),
        _Peer("igraph-fr-3d", _igraph, _missing("igraph")),
        _Peer("fa2-3d", _fa2, _missing("fa2")),
        # networkx's sparse Fruchterman-Reingold loops over nodes in Python: ~100 s a step at 100k.
        _Peer("networkx-spring-3d", _networkx, _missing("networkx"), limit=20_000),
        _Peer(D3_PACKAGE, d3.layout, d3.available, seconds=lambda: d3.last_s),
    ]


def _timed_layout(peer: _Peer, graph: Graph, iterations: int) -> tuple[npt.NDArray[np.float64], float]:
    """Positions and seconds of ``iterations`` iterations (the peer's own figure where it has one)."""
    t = time.perf_counter()
    positions = peer.layout(graph, iterations)
    seconds = time.perf_counter() - t
    if peer.seconds is not None:
        seconds = peer.seconds()
    return positions, seconds


# --------------------------------------------------------------------- runs
def run(
    nodes: list[int],
    graph_kind: str,
    steps: int,
    *,
    peers: bool = False,
    quality: bool = True,
    seed: int = 0,
    node_modules: Path | None = None,
) -> dict[str, Any]:
    """The whole benchmark as one JSON-able object (``node_modules``: see ``find_node_modules``)."""
    contenders = _peers(find_node_modules(node_modules)) if peers else []
    sizes = []
    for n in nodes:
        graph = make_graph(graph_kind, n, seed)
        ours = _ours(graph, steps)
        entry: dict[str, Any] = {"nodes": n, "edges": graph.edges, "ours": ours, "peers": {}, "quality": {}}
        if peers:
            for peer in contenders:
                entry["peers"][peer.name] = _run_peer(peer, graph, steps, ours["ms_per_step"], quality, entry)
        sizes.append(entry)
    return {"graph": graph_kind, "steps": steps, "seed": seed, "sizes": sizes}


def _run_peer(
    peer: _Peer, graph: Graph, steps: int, ours_ms: float, quality: bool, entry: dict[str, Any]
) -> dict[str, Any]:
    reason = peer.available()
    if reason is None and graph.n > peer.limit:
        reason = f"not run above {peer.limit} nodes"
    if reason is not None:
        return {"skipped": reason}
    try:
        _, one = _timed_layout(peer, graph, 1)
        iterations = steps
        if one * steps > PEER_BUDGET_S:
            iterations = max(1, int(PEER_BUDGET_S / max(one, 1e-9)))
        positions, seconds = _timed_layout(peer, graph, iterations)
    except Exception as exc:  # a peer that crashes is reported, not fatal
        return {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    ms = seconds * 1000.0 / iterations
    result: dict[str, Any] = {"ms_per_step": ms, "ratio": ms / ours_ms, "iterations": iterations}
    if quality:
        ours_pos, our_steps = _ours_for(graph, seconds)
        entry["quality"][peer.name] = {
            "budget_s": seconds,
            "peer": measure(positions, graph.src, graph.dst).as_dict(),
            "ours": measure(ours_pos, graph.src, graph.dst).as_dict(),
            "ours_steps": our_steps,
            "peer_iterations": iterations,
        }
    return result


def crossover(nodes: list[int], graph_kind: str = "swarm", steps: int = 20, seed: int = 0) -> dict[str, Any]:
    """Exact all-pairs against Barnes-Hut per size; the crossover is the first size where the tree wins."""
    rows = []
    found = None
    for n in nodes:
        graph = make_graph(graph_kind, n, seed)
        exact = _median_ms(_engine(graph, tree_threshold=10**12).step, steps)
        tree = _median_ms(_engine(graph, tree_threshold=0).step, steps)
        rows.append({"nodes": n, "exact_ms": exact, "tree_ms": tree})
        if found is None and tree < exact:
            found = n
    return {"graph": graph_kind, "rows": rows, "crossover": found}
