"""Barnes-Hut against the NumPy reference: exact with theta = 0, close with the default theta."""

from __future__ import annotations

import numpy as np
import pytest

from visionflow.physics import Backend, Method, SimParams
from visionflow.physics.cpu import tree_kernels as kt
from visionflow.physics.cpu.tree import BarnesHutTree

from ..fixtures import KINDS, engine, layout, node_ids


def exact_repulsion(pos: np.ndarray, repulsion: float, softening: float) -> np.ndarray:
    p = pos.astype(np.float64)
    diff = p[:, None, :] - p[None, :, :]
    r2 = np.einsum("ijk,ijk->ij", diff, diff) + softening
    inv = repulsion / (r2 * np.sqrt(r2))
    np.fill_diagonal(inv, 0.0)
    return np.einsum("ij,ijk->ik", inv, diff)


@pytest.mark.parametrize("parallel_threshold", [10**9, 0], ids=["serial", "parallel"])
@pytest.mark.parametrize("kind", KINDS)
def test_tree_with_theta_zero_matches_reference_step_for_step(kind: str, parallel_threshold: int) -> None:
    params = SimParams(theta=0.0)
    tree = engine(kind, 90, params=params, tree_threshold=0, parallel_threshold=parallel_threshold)
    tree.pin(node_ids(2, start=10))
    oracle = engine(kind, 90, Backend.REFERENCE, params=params)
    oracle.pin(node_ids(2, start=10))
    for step in range(20):
        et = tree.step().kinetic_energy
        eo = oracle.step().kinetic_energy
        assert tree.method is Method.TREE
        np.testing.assert_allclose(tree.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")
        np.testing.assert_allclose(tree.velocities, oracle.velocities, rtol=1e-3, atol=1e-3, err_msg=f"step {step}")
        assert et == pytest.approx(eo, rel=1e-3, abs=1e-6)
    assert np.isfinite(tree.positions).all()


@pytest.mark.parametrize("parallel", [False, True])
def test_default_theta_is_within_two_percent_of_exact(parallel: bool) -> None:
    pos = layout("random", 1500, seed=9)[0].astype(np.float32)
    force = np.zeros_like(pos)
    BarnesHutTree().repulsion(pos, len(pos), 0.9, 40.0, 0.25, force, parallel=parallel)
    exact = exact_repulsion(pos, 40.0, 0.25)
    error = np.linalg.norm(force - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert np.median(error) < 0.01
    assert np.mean(error) < 0.02


def test_tree_cells_partition_the_nodes() -> None:
    n = 3000
    pos = layout("coincident", n, seed=2)[0].astype(np.float32)
    tree = BarnesHutTree(leaf_size=8)
    tree.build(pos, n)
    assert sorted(tree.order.tolist()) == list(range(n))
    cells = tree.cells
    start, end, skip = tree._start[:cells], tree._end[:cells], tree._skip[:cells]
    assert cells <= 2 * n
    assert (start[0], end[0], skip[0]) == (0, n, cells)
    leaves = skip == np.arange(cells) + 1
    covered = np.zeros(n, int)
    for s, e in zip(start[leaves], end[leaves], strict=True):
        covered[s:e] += 1
    assert (covered == 1).all()  # every node in exactly one leaf
    codes = tree._codes[tree.order]
    assert (np.diff(codes.astype(np.float64)) >= 0).all()


def test_order_is_reused_while_nodes_move_a_little() -> None:
    rng = np.random.default_rng(4)
    pos = rng.normal(scale=20, size=(5000, 3)).astype(np.float32)
    tree = BarnesHutTree()
    tree.build(pos, len(pos))
    for _ in range(5):
        pos += rng.normal(scale=0.01, size=pos.shape).astype(np.float32)
        tree.build(pos, len(pos))
    assert tree.resorts == 1
    tree.invalidate()
    tree.build(pos, len(pos))
    assert tree.resorts == 2


def test_a_shake_up_is_sorted_from_the_last_order() -> None:
    rng = np.random.default_rng(5)
    pos = rng.normal(scale=20, size=(5000, 3)).astype(np.float32)
    tree = BarnesHutTree()
    tree.build(pos, len(pos))
    pos = rng.normal(scale=20, size=pos.shape).astype(np.float32)  # every node moves far
    tree.build(pos, len(pos))
    assert tree.resorts == 2
    assert (np.sort(tree.order) == np.arange(len(pos))).all()
    codes = tree._codes[tree.order]
    assert (np.diff(codes.astype(np.float64)) >= 0).all()


def test_insertion_sort_gives_up_on_a_shuffled_order() -> None:
    codes = np.arange(1000, dtype=np.uint64)[::-1].copy()
    order = np.arange(1000, dtype=np.int32)
    assert not kt.sort_order(order, codes, 1000, np.empty(1000, np.uint64), 100)
    order = np.arange(1000, dtype=np.int32)
    assert kt.sort_order(order, codes, 1000, np.empty(1000, np.uint64), 10**6)
    assert (order == np.arange(1000)[::-1]).all()


def test_engine_switches_to_the_tree_at_the_threshold() -> None:
    e = engine("random", 50, tree_threshold=51)
    e.step()
    assert e.method is Method.EXACT
    e.add_nodes(node_ids(1, start=50))
    e.step()
    assert e.method is Method.TREE
    assert np.isfinite(e.positions).all()


def test_groups_cover_every_node_once_and_stay_within_their_size() -> None:
    rng = np.random.default_rng(6)
    pos = rng.normal(scale=20, size=(3000, 3)).astype(np.float32)
    pos[:100] = pos[0]  # a coincident clump: one leaf larger than a group
    tree = BarnesHutTree(leaf_size=8, group_size=64)
    tree.build(pos, len(pos))
    start, end, skip = tree._start[: tree.cells], tree._end[: tree.cells], tree._skip[: tree.cells]
    _, _, groups = kt._cell_masses(tree.cells, start, end, skip, tree._half, tree._prefix, tree.group_size)
    covered = np.zeros(len(pos), int)
    for g in groups:
        covered[start[g] : end[g]] += 1
        assert end[g] - start[g] <= 64 or skip[g] == g + 1
    assert (covered == 1).all()
    assert len(groups) < (skip == np.arange(tree.cells) + 1).sum()  # fewer walks than leaves
