"""Layout-quality measures on layouts whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from visionflow.physics import quality


def path(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(n - 1), np.arange(1, n)


def test_hop_distances_follow_edges_and_mark_unreachable() -> None:
    src, dst = path(5)
    hops = quality.hop_distances(7, src, dst, [0, 6])
    assert hops[0].tolist() == [0, 1, 2, 3, 4, -1, -1]
    assert hops[1].tolist() == [-1, -1, -1, -1, -1, -1, 0]


def test_a_straight_path_has_zero_stress_at_any_scale() -> None:
    src, dst = path(30)
    line = np.c_[np.arange(30) * 7.5, np.zeros(30), np.zeros(30)]
    assert quality.stress(line, src, dst) == pytest.approx(0.0, abs=1e-12)
    assert quality.edge_length_cv(line, src, dst) == pytest.approx(0.0, abs=1e-12)
    assert quality.neighbourhood_preservation(line, src, dst) > 0.9


def test_a_shuffled_layout_scores_worse_on_every_measure() -> None:
    rng = np.random.default_rng(1)
    src, dst = path(200)
    line = np.c_[np.arange(200.0), np.zeros(200), np.zeros(200)]
    good = quality.measure(line, src, dst)
    bad = quality.measure(rng.permutation(line), src, dst)
    assert bad.stress > good.stress + 0.1
    assert bad.edge_cv > good.edge_cv + 0.1
    assert bad.neighbourhood < good.neighbourhood - 0.5


def test_sampling_bounds_the_work_and_is_seeded() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    src, dst = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    pos = rng.normal(size=(n, 3))
    a = quality.stress(pos, src, dst, sample=50, seed=3)
    assert a == quality.stress(pos, src, dst, sample=50, seed=3)
    assert np.isfinite(a)


def test_graphs_without_edges_give_nan_not_errors() -> None:
    pos = np.random.default_rng(0).normal(size=(10, 3))
    empty = np.empty(0, np.int64)
    result = quality.measure(pos, empty, empty)
    assert np.isnan(result.stress) and np.isnan(result.edge_cv) and np.isnan(result.neighbourhood)
