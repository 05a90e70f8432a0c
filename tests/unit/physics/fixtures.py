"""Graphs the kernel tests share: random, coincident, isolated and edge-free, from a seeded generator."""

from __future__ import annotations

import numpy as np

from visionflow.physics import Backend, PhysicsEngine, SimParams
from visionflow.swarm.models import AGENT_FLAG


def node_ids(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.uint32) | np.uint32(AGENT_FLAG)


def layout(kind: str, n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions, edge sources, edge targets and weights of one fixture."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(scale=8, size=(n, 3))
    m = int(1.4 * n)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    if kind == "coincident":
        pos[: n // 3] = pos[0]  # a third of the nodes on one point
        pos[n // 3 : n // 3 + 2] = pos[n - 1]
    elif kind == "isolated":
        pos[0] = (400.0, -300.0, 250.0)  # far from the rest and without edges
        keep = (src != 0) & (dst != 0)
        src, dst = src[keep], dst[keep]
    elif kind == "edge-free":
        src = dst = np.empty(0, np.int64)
    ids = node_ids(n)
    return pos, ids[src], ids[dst], rng.random(len(src))


def engine(
    kind: str, n: int, backend: Backend = Backend.CPU, params: SimParams | None = None, **options: object
) -> PhysicsEngine:
    pos, src, dst, weight = layout(kind, n)
    e = PhysicsEngine(params, backend=backend, seed=1, **options)  # type: ignore[arg-type]
    e.add_nodes(node_ids(n), pos)
    e.set_edges(src, dst, weight)
    return e


def build(backend: Backend, n: int, edges: int, seed: int = 3, **options: object) -> PhysicsEngine:
    """An engine of ``n`` nodes scattered around the origin and ``edges`` random weighted springs."""
    rng = np.random.default_rng(seed)
    e = PhysicsEngine(backend=backend, seed=seed, **options)  # type: ignore[arg-type]
    ids = node_ids(n)
    e.add_nodes(ids, rng.normal(scale=10, size=(n, 3)))
    if edges:
        e.set_edges(ids[rng.integers(0, n, edges)], ids[rng.integers(0, n, edges)], rng.random(edges))
    return e


KINDS = ["random", "coincident", "isolated", "edge-free"]
