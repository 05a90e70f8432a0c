"""Layout quality: how faithfully positions show the graph, so speed is never bought with a worse picture.

Three measures, each on a node sample for big graphs (graph distances cost a BFS per node):

- ``stress``: normalised stress, the mean over sampled pairs of ((s * |xi - xj| - dij) / dij)^2,
  with dij the hop distance and s the scale that minimises it (layouts are scale-free).
  0 is perfect; lower is better.
- ``edge_cv``: coefficient of variation of edge lengths (std / mean); lower is more even.
- ``neighbourhood``: neighbourhood preservation, the mean Jaccard index between a node's
  graph neighbours and the same number of its nearest nodes in the layout; 1 is perfect.
- ``neighbourhood_2hop``: the same with every node within two hops. On hub-and-spoke graphs
  (a swarm's coordinators and their workers) the one-hop score is capped near 0 for every
  layout: two leaves less than 60 degrees apart, seen from their hub, are nearer to each other
  than the farther one is to the hub, and no 13 directions are all 60 degrees apart (the
  kissing number), so around a hub of 20 leaves most leaves have a sibling nearer than the
  hub. Two hops ask whether a leaf sits among its hub and siblings, which a layout can show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from visionflow.jit import jit

__all__ = ["LayoutQuality", "edge_length_cv", "hop_distances", "measure", "neighbourhood_preservation", "stress"]

Index = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class LayoutQuality:
    stress: float
    edge_cv: float
    neighbourhood: float
    neighbourhood_2hop: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _csr(n: int, src: Index, dst: Index) -> tuple[Index, Index]:
    keep = src != dst
    rows = np.concatenate((src[keep], dst[keep]))
    cols = np.concatenate((dst[keep], src[keep]))
    order = np.argsort(rows, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return ptr, cols[order].astype(np.int64)


@jit(cache=True)
def _bfs(ptr: Index, nbr: Index, sources: Index, n: int) -> npt.NDArray[np.int32]:  # pragma: no cover - jitted
    out = np.full((len(sources), n), -1, np.int32)
    queue = np.empty(n, np.int64)
    for row in range(len(sources)):
        dist = out[row]
        head = 0
        tail = 1
        queue[0] = sources[row]
        dist[sources[row]] = 0
        while head < tail:
            v = queue[head]
            head += 1
            for e in range(ptr[v], ptr[v + 1]):
                w = nbr[e]
                if dist[w] < 0:
                    dist[w] = dist[v] + 1
                    queue[tail] = w
                    tail += 1
    return out


def hop_distances(n: int, src: npt.ArrayLike, dst: npt.ArrayLike, sources: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Hop distance from each of ``sources`` to every node (-1 where unreachable); shape (sources, n)."""
    ptr, nbr = _csr(n, np.asarray(src, np.int64), np.asarray(dst, np.int64))
    distances: npt.NDArray[np.int32] = _bfs(ptr, nbr, np.asarray(sources, np.int64), n)
    return distances


def _sample(n: int, size: int, seed: int) -> Index:
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False)).astype(np.int64)


def stress(pos: npt.ArrayLike, src: npt.ArrayLike, dst: npt.ArrayLike, *, sample: int = 300, seed: int = 0) -> float:
    """Normalised stress over pairs (sampled node, any node it reaches); NaN when no pair is connected."""
    p = np.asarray(pos, np.float64)
    sources = _sample(len(p), sample, seed)
    return _stress(p, sources, hop_distances(len(p), src, dst, sources))


def _stress(p: npt.NDArray[np.float64], sources: Index, hops: npt.NDArray[np.int32]) -> float:
    ratios = []
    for first in range(0, len(sources), 16):  # 16 rows at a time keeps memory at 16 x n x 3 floats
        rows = slice(first, first + 16)
        layout = np.linalg.norm(p[sources[rows]][:, None, :] - p[None, :, :], axis=-1)
        pair = hops[rows] > 0
        ratios.append(layout[pair] / hops[rows][pair])
    ratio = np.concatenate(ratios)
    if len(ratio) == 0:
        return float("nan")
    scale = ratio.sum() / max((ratio * ratio).sum(), 1e-300)
    return float(np.mean((scale * ratio - 1.0) ** 2))


def edge_length_cv(pos: npt.ArrayLike, src: npt.ArrayLike, dst: npt.ArrayLike) -> float:
    """Standard deviation over mean of the edge lengths (self-loops ignored); NaN without edges."""
    p = np.asarray(pos, np.float64)
    s, d = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    keep = s != d
    lengths = np.linalg.norm(p[s[keep]] - p[d[keep]], axis=1)
    if len(lengths) == 0 or lengths.mean() == 0:
        return float("nan")
    return float(lengths.std() / lengths.mean())


def neighbourhood_preservation(
    pos: npt.ArrayLike, src: npt.ArrayLike, dst: npt.ArrayLike, *, hops: int = 1, sample: int = 300, seed: int = 0
) -> float:
    """Mean Jaccard index of each sampled node's graph neighbourhood (within ``hops``) and as many nearest layout nodes.

    Nodes with an empty neighbourhood, or one of more than half the graph (which any layout
    scores well on), are left out; NaN when none is left.
    """
    p = np.asarray(pos, np.float64)
    sources = _sample(len(p), sample, seed)
    return _neighbourhood(p, sources, hop_distances(len(p), src, dst, sources), hops)


def _neighbourhood(p: npt.NDArray[np.float64], sources: Index, distances: npt.NDArray[np.int32], hops: int) -> float:
    n = len(p)
    scores = []
    for row, i in enumerate(sources):
        ring = np.flatnonzero((distances[row] > 0) & (distances[row] <= hops))
        k = len(ring)
        if k == 0 or k > n // 2:
            continue
        d = np.linalg.norm(p - p[i], axis=1)
        d[i] = np.inf
        nearest = np.argpartition(d, k - 1)[:k]
        shared = len(np.intersect1d(ring, nearest, assume_unique=True))
        scores.append(shared / (2 * k - shared))
    return float(np.mean(scores)) if scores else float("nan")


def measure(
    pos: npt.ArrayLike, src: npt.ArrayLike, dst: npt.ArrayLike, *, sample: int = 300, seed: int = 0
) -> LayoutQuality:
    """Every measure of one layout (one BFS per sampled node serves them all); ``src``/``dst`` index ``pos``."""
    p = np.asarray(pos, np.float64)
    sources = _sample(len(p), sample, seed)
    distances = hop_distances(len(p), src, dst, sources)
    return LayoutQuality(
        stress=_stress(p, sources, distances),
        edge_cv=edge_length_cv(p, src, dst),
        neighbourhood=_neighbourhood(p, sources, distances, 1),
        neighbourhood_2hop=_neighbourhood(p, sources, distances, 2),
    )
