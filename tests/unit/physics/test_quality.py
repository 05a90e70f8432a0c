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


def star(leaves: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hub at the origin and its leaves spread evenly over the unit sphere (a Fibonacci lattice)."""
    k = np.arange(leaves) + 0.5
    polar = np.arccos(1 - 2 * k / leaves)
    azimuth = np.pi * (1 + 5**0.5) * k
    sphere = np.c_[np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)]
    return np.vstack([np.zeros(3), sphere]), np.zeros(leaves, np.int64), np.arange(1, leaves + 1)


def test_one_hop_cannot_see_a_perfect_star_but_two_hops_can() -> None:
    # Two stars far apart, each drawn as well as a star can be drawn.
    pos, src, dst = star(20)
    pos = np.vstack([pos, pos + 100.0])
    src, dst = np.r_[src, src + 21], np.r_[dst, dst + 21]
    assert quality.neighbourhood_preservation(pos, src, dst) < 0.2  # leaves find a sibling before the hub
    assert quality.neighbourhood_preservation(pos, src, dst, hops=2) == pytest.approx(1.0)
    assert quality.measure(pos, src, dst).neighbourhood_2hop == pytest.approx(1.0)


def test_two_hop_neighbourhood_falls_when_the_stars_are_mixed() -> None:
    rng = np.random.default_rng(4)
    pos, src, dst = star(20)
    pos = np.vstack([pos, pos + 100.0])
    src, dst = np.r_[src, src + 21], np.r_[dst, dst + 21]
    mixed = rng.permutation(pos)
    assert quality.neighbourhood_preservation(mixed, src, dst, hops=2) < 0.7
