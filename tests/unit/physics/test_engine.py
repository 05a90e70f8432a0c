"""PhysicsEngine through its public surface: membership, springs, pins, cooling and rest, on every host backend."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from visionflow.errors import ConfigError, PhysicsError
from visionflow.physics import Backend, PhysicsEngine, SimParams
from visionflow.physics.params import COOLING_REFERENCE_NODES, FLOOR_HOLD
from visionflow.swarm.models import AGENT_FLAG

from .fixtures import build, node_ids


@pytest.mark.parametrize("backend", [Backend.CPU, Backend.REFERENCE])
def test_coincident_nodes_separate_without_nan(backend: Backend) -> None:
    e = PhysicsEngine(backend=backend)
    e.add_nodes(node_ids(6), np.zeros((6, 3), np.float32))
    for _ in range(50):
        e.step()
    assert np.isfinite(e.positions).all()
    distances = np.linalg.norm(e.positions[:, None] - e.positions[None], axis=-1)
    assert distances[~np.eye(6, dtype=bool)].min() > 0.1


def test_energy_decreases_as_a_graph_settles() -> None:
    e = build(Backend.CPU, 120, 170)
    energies = [e.step().kinetic_energy for _ in range(1500)]
    assert np.isfinite(energies).all()
    windows = [np.mean(energies[start : start + 100]) for start in range(100, 1500, 200)]
    assert all(later < earlier for earlier, later in itertools.pairwise(windows)), windows
    assert windows[-1] < 0.05 * windows[0]


def test_adding_and_removing_keeps_everyone_else_in_place() -> None:
    e = build(Backend.CPU, 10, 12)
    for _ in range(5):
        e.step()
    before = {int(i): tuple(p) for i, p in zip(e.ids, e.positions, strict=True)}
    e.remove_nodes(node_ids(2, start=3))
    e.add_nodes(node_ids(3, start=100), near=[int(node_ids(1)[0]), -1, -1])
    after = {int(i): tuple(p) for i, p in zip(e.ids, e.positions, strict=True)}
    for node, position in before.items():
        if node & 0xFFFF in (3, 4):
            assert node not in after
        else:
            assert after[node] == position
    assert e.n == 11
    near_anchor = np.linalg.norm(
        np.array(after[int(node_ids(1, start=100)[0])]) - np.array(before[int(node_ids(1)[0])])
    )
    assert near_anchor == pytest.approx(e.params.rest_length, rel=1e-4)
    e.step()
    assert np.isfinite(e.positions).all()


def test_edges_to_absent_nodes_are_ignored_and_reattach_when_nodes_arrive() -> None:
    e = PhysicsEngine()
    e.add_nodes(node_ids(2), [[0, 0, 0], [30, 0, 0]])
    e.set_edges(node_ids(1), node_ids(1, start=1), [1.0])
    e.set_edges(np.r_[node_ids(1), node_ids(1)], np.r_[node_ids(1, start=1), node_ids(1, start=9)], [1.0, 1.0])
    e.step()
    assert e.position_of(int(node_ids(1)[0]))[0] > 0  # pulled towards its partner  # type: ignore[index]
    e.add_nodes(node_ids(1, start=9))
    e.step()
    assert np.isfinite(e.positions).all()


def test_engine_rejects_bad_input() -> None:
    e = PhysicsEngine()
    e.add_nodes(node_ids(2))
    with pytest.raises(PhysicsError, match="already present"):
        e.add_nodes(node_ids(1))
    with pytest.raises(PhysicsError, match="duplicate"):
        e.add_nodes([AGENT_FLAG | 8, AGENT_FLAG | 8])
    with pytest.raises(PhysicsError, match="finite"):
        e.add_nodes([AGENT_FLAG | 9], [[np.nan, 0, 0]])
    e.set_edges(node_ids(1), node_ids(1, start=1))
    with pytest.raises(PhysicsError, match="expected 1 weights"):
        e.set_edge_weights([1.0, 2.0])
    assert e.remove_nodes([AGENT_FLAG | 77]) == 0


def test_capacity_grows_beyond_the_initial_allocation() -> None:
    e = PhysicsEngine(capacity=4)
    e.add_nodes(node_ids(50))
    e.add_nodes(node_ids(3000, start=50))
    assert e.n == 3050
    e.step()
    assert np.isfinite(e.positions).all()


@pytest.mark.parametrize(
    ("field", "value"), [("damping", 1.5), ("dt", 0.0), ("repulsion", float("nan")), ("cooling", "x")]
)
def test_params_name_the_bad_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        SimParams().replace(**{field: value})
    assert info.value.field == field


def test_power_springs_need_a_rest_length_and_hooke_springs_do_not() -> None:
    with pytest.raises(ConfigError) as info:
        SimParams(rest_length=0.0, spring_exponent=0.5)
    assert info.value.field == "rest_length"
    assert SimParams(rest_length=0.0, spring_exponent=1.0).rest_length == 0.0


def test_unknown_param_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        SimParams().replace(wobble=1.0)


def test_bigger_graphs_cool_more_slowly_to_the_same_number_of_crossings() -> None:
    p = SimParams()
    assert p.cooling_for(10) == p.cooling_for(COOLING_REFERENCE_NODES) == p.cooling
    big = p.cooling_for(8 * COOLING_REFERENCE_NODES)
    assert p.cooling < big < 1.0
    # Twice as wide (8x the nodes at one density): twice the steps to reach a temperature.
    assert big**2 == pytest.approx(p.cooling)


def test_a_layout_holds_the_floor_temperature_then_freezes_to_rest() -> None:
    params = SimParams(cooling=0.9, min_temperature=0.05)
    e = build(Backend.CPU, 120, 160)
    e.params = params
    descent = math.ceil(math.log(0.05) / math.log(0.9))
    assert params.floor_steps(120) == pytest.approx(FLOOR_HOLD * math.log(0.05) / math.log(0.9))
    for _ in range(descent + int(params.floor_steps(120))):
        e.step()
    assert e.temperature == params.min_temperature
    while not e.settled:
        e.step()
        assert e.steps < 1000, "a frozen layout must come to rest"
    assert e.temperature < params.min_temperature


def test_a_reheated_layout_holds_the_floor_again() -> None:
    e = build(Backend.CPU, 30, 20)
    e.params = SimParams(cooling=0.9)
    for _ in range(200):
        e.step()
    assert e.temperature < e.params.min_temperature
    e.reheat()
    assert e.temperature == e.params.reheat_temperature
    for _ in range(40):
        e.step()
    assert e.temperature == e.params.min_temperature


def test_a_layout_that_never_cools_never_freezes() -> None:
    assert SimParams(cooling=1.0).floor_steps(500) == math.inf
    assert SimParams(min_temperature=0.0).floor_steps(500) == 0.0


def test_the_engine_cools_at_its_size_rate() -> None:
    e = build(Backend.CPU, 400, 0)
    for _ in range(10):
        e.step()
    assert e.temperature == pytest.approx(e.params.cooling_for(400) ** 10, rel=1e-9)
