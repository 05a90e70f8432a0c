"""What crosses the bus on the live path, counted on the simulator: the CUDA backend's claims, guarded in CI.

A tick moves only its frame back (positions, velocities, the energy: three copies, none up); physics
faster than the stream copies back at the stream's frame rate; weights go up only when they change,
alone when few did; membership changes go up as the edited rows; device memory is allocated once
with headroom. Every copy goes through ``transfers.Transfers`` (checked by reading the sources), so
its log is the whole story.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from visionflow.physics import Backend, PhysicsEngine, SimParams, Thresholds
from visionflow.physics import engine as engine_module
from visionflow.physics.backend import PhysicsBackend

from ..fixtures import layout, node_ids

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[gpu])")

N = 40
FRAME = 1 / 60


@pytest.fixture(autouse=True)
def _cuda_or_simulator() -> None:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA device and NUMBA_ENABLE_CUDASIM is off")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> list[Any]:
    """The CUDA backends the engines of a test open, on the test's clock."""
    from visionflow.physics.cuda import CudaBackend

    made: list[Any] = []

    def open_backend(kind: Backend, thresholds: Thresholds, frame_hz: float = 60.0) -> PhysicsBackend:
        if kind is not Backend.CUDA:
            return original(kind, thresholds, frame_hz)
        made.append(CudaBackend(thresholds, frame_hz=frame_hz, clock=clock))
        return made[-1]  # type: ignore[no-any-return]

    original = engine_module.open_backend
    monkeypatch.setattr(engine_module, "open_backend", open_backend)
    return made


def live(kind: Backend, n: int = N, params: SimParams | None = None, graph: str = "random",
         **options: Any) -> PhysicsEngine:  # fmt: skip
    pos, src, dst, weight = layout(graph, n)
    engine = PhysicsEngine(params, backend=kind, seed=1, capacity=64, **options)
    engine.add_nodes(node_ids(n), pos)
    engine.set_edges(src, dst, weight)
    return engine


def settled() -> None:
    """Wait for everything queued on the device, so a step finds its copy back completed (the simulator always does;
    on a device, in bench/gpu_check.sh, a step may come before the copy is done, and then no new copy starts)."""
    from numba import cuda

    cuda.synchronize()


def log(backend: Any) -> list[tuple[str, str, int]]:
    """The transfers since the last call, as (direction, name, bytes)."""
    entries = [(t.direction, t.name, t.nbytes) for t in backend.transfers.log]
    backend.transfers.log.clear()
    return entries


def test_a_tick_copies_back_its_frame_and_sends_nothing_up(backends: list[Any], clock: Clock) -> None:
    engine = live(Backend.CUDA)
    engine.step()  # the first upload
    (backend,) = backends
    log(backend)
    for _ in range(4):
        clock.now += FRAME
        settled()
        engine.step()
        assert log(backend) == [("down", "positions", 12 * N), ("down", "velocities", 12 * N), ("down", "energy", 4)]


def test_physics_faster_than_the_stream_copies_back_at_the_frame_rate(backends: list[Any], clock: Clock) -> None:
    engine = live(Backend.CUDA, n=12)
    (backend,) = backends
    for _ in range(25):  # 25 steps 2 ms apart: 50 ms, three frames at 60 Hz
        clock.now += 0.002
        settled()
        engine.step()
    copies = [entry for entry in log(backend) if entry[:2] == ("down", "positions")]
    # A copy may start once three quarters of a frame (12.5 ms) have passed: at 2, 16, 30 and 44 ms.
    assert len(copies) == 4


def test_weights_go_up_only_when_they_change_and_alone_when_few_do(backends: list[Any], clock: Clock) -> None:
    engine = live(Backend.CUDA)
    engine.step()
    (backend,) = backends
    weights = engine.edge_weights().copy()
    m = len(weights)
    log(backend)
    engine.set_edge_weights(weights)  # the same weights: nothing to send
    engine.step()
    assert [entry for entry in log(backend) if entry[0] == "up"] == []
    weights[3] = 0.25
    engine.set_edge_weights(weights)
    engine.step()
    assert [entry for entry in log(backend) if entry[0] == "up"] == [("up", "edge weight changes", 8)]
    engine.set_edge_weights(weights * 0.5)
    engine.step()
    assert [entry for entry in log(backend) if entry[0] == "up"] == [("up", "edge weight", 4 * m)]


def test_membership_changes_send_the_edited_rows_and_allocate_nothing(backends: list[Any], clock: Clock) -> None:
    engine = live(Backend.CUDA)
    engine.step()
    (backend,) = backends
    log(backend)
    engine.add_nodes(node_ids(3, start=500), np.ones((3, 3)))
    engine.remove_nodes(node_ids(2, start=5))  # the two last nodes move into the holes, on the device
    engine.pin(node_ids(1, start=7))
    engine.step()
    sent = log(backend)
    assert [entry for entry in sent if entry[0] == "alloc"] == []
    up = {name: nbytes for direction, name, nbytes in sent if direction == "up"}
    n, entries = engine.n, len(engine._layout.nbr)
    # Rows 5 and 6 (moved there), 7 (pinned) and the new node that stays at 40 (the other two moved into 5, 6).
    assert up == {"edits": 4 * 40, "csr ptr": 8 * (n + 1), "csr nbr": 4 * entries, "csr edge": 4 * entries,
                  "edge weight": 4 * engine.edge_count}  # fmt: skip


def test_device_memory_is_allocated_once_with_headroom(backends: list[Any], clock: Clock) -> None:
    engine = live(Backend.CUDA)
    engine.step()
    (backend,) = backends
    log(backend)
    engine.add_nodes(node_ids(30, start=500))  # past the capacity of 64: the engine doubles it
    engine.step()
    grown = [name for direction, name, _ in log(backend) if direction in ("alloc", "pinned")]
    assert grown.count("positions") == 2 and grown.count("velocities") == 2
    engine.add_nodes(node_ids(40, start=600))  # within the new capacity
    chain = node_ids(40, start=600)  # 39 + 10 edges: within the half again the edge arrays were given
    engine.set_edges(np.concatenate([chain[:-1], node_ids(10)]), np.concatenate([chain[1:], node_ids(10, start=1)]))
    for _ in range(3):
        clock.now += FRAME
        engine.step()
    assert [entry for entry in log(backend) if entry[0] in ("alloc", "pinned")] == []


def test_device_rows_stay_ahead_of_the_host_through_edits(backends: list[Any], clock: Clock) -> None:
    """Edits move and write rows on the device, so it never falls back to the host's older copy."""
    gpu = live(Backend.CUDA)
    oracle = live(Backend.REFERENCE)
    newcomers = np.random.default_rng(4).normal(size=(4, 3)).astype(np.float32)
    for step in range(8):
        for e in (gpu, oracle):
            if step == 2:
                e.add_nodes(node_ids(4, start=800), newcomers)
            if step == 3:
                e.remove_nodes(node_ids(3, start=10))
                e.pin(node_ids(2, start=20))
            if step == 5:
                e.set_positions(node_ids(2, start=30), [[1.0, 2.0, 3.0], [-3.0, 0.5, 2.0]])
                e.remove_nodes(node_ids(1, start=802))
            if step == 6:
                e.set_edge_weights(np.linspace(0.2, 1.2, e.edge_count))
        clock.now += FRAME
        gpu.step()
        gpu.synchronize()
        oracle.step()
        np.testing.assert_array_equal(gpu.ids, oracle.ids)
        np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=1e-4, atol=1e-3, err_msg=f"step {step}")
        np.testing.assert_allclose(gpu.velocities, oracle.velocities, rtol=1e-3, atol=1e-3, err_msg=f"step {step}")
        assert gpu.kinetic_energy == pytest.approx(oracle.kinetic_energy, rel=1e-3, abs=1e-6)


def test_the_host_holds_the_last_completed_copy_until_synchronized(backends: list[Any], clock: Clock) -> None:
    gpu = live(Backend.CUDA)
    oracle = live(Backend.REFERENCE)
    start = gpu.positions.copy()
    gpu.step()
    np.testing.assert_array_equal(gpu.positions, start)  # the step's copy is still on its way
    previous = oracle.positions.copy()
    oracle.step()
    for _ in range(2):
        clock.now += FRAME
        held = gpu.positions  # a reader holding the current rows while the next step runs
        snapshot = held.copy()
        settled()
        gpu.step()  # makes the first step's copy current and starts copying the second
        np.testing.assert_array_equal(held, snapshot)  # what a reader holds is not written under it
        np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=1e-4, atol=1e-3)
        previous = oracle.positions.copy()
        oracle.step()
    gpu.synchronize()
    np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=1e-4, atol=1e-3)
    assert not np.allclose(previous, oracle.positions)


@pytest.mark.parametrize("graph", ["random", "coincident"])
def test_split_j_range_sums_slices_in_order(backends: list[Any], graph: str) -> None:
    """Slices of the j range, and coincident nodes across tiles and slices (a third of the nodes on one point,
    two more on the last node's)."""
    from visionflow.physics.cuda import kernels

    gpu = live(Backend.CUDA, n=100, graph=graph)
    oracle = live(Backend.REFERENCE, n=100, graph=graph)
    (backend,) = backends
    backend.min_span = kernels.TILE  # small enough to split 100 nodes
    backend._sms = 64
    assert kernels.split(100, 64, kernels.TILE)[0] > 1
    for _ in range(2):
        gpu.step()
        gpu.synchronize()
        oracle.step()
        np.testing.assert_allclose(gpu.positions, oracle.positions, rtol=1e-4, atol=1e-3)
        # Velocities too: a wrong push moves a node little in the first, warming-up steps, but changes its speed.
        np.testing.assert_allclose(gpu.velocities, oracle.velocities, rtol=1e-3, atol=1e-3)


def test_small_layouts_get_a_split_and_large_ones_a_block_per_tile() -> None:
    from visionflow.physics.cuda.kernels import MAX_SPLIT, TILE, split

    for n in (10_000, 20_000, 32_000, 50_000, 100_000):
        slices, span = split(n, sms=132)
        assert span % TILE == 0 and slices == -(-n // span) and 1 <= slices <= MAX_SPLIT
        assert -(-n // TILE) * slices >= 8 * 132 or slices == MAX_SPLIT  # enough blocks for 132 SMs
    assert split(1_000_000, sms=132)[0] == 1
    assert split(500, sms=132)[0] == 1  # a slice is at least MIN_SPAN nodes


def test_every_copy_and_allocation_goes_through_the_wrapper() -> None:
    from visionflow.physics import cuda as package

    direct = re.compile(r"cuda\.(to_device|device_array|pinned_array|mapped_array|managed_array)\(|"
                        r"\.copy_to_(host|device)\(")  # fmt: skip
    offenders = []
    for source in Path(package.__file__).parent.glob("*.py"):
        if source.name == "transfers.py":
            continue
        offenders += [
            f"{source.name}: {line.strip()}" for line in source.read_text().splitlines() if direct.search(line)
        ]
    assert offenders == []


def test_the_log_keeps_the_recent_transfers_and_the_totals_keep_counting() -> None:
    from numba import cuda

    from visionflow.physics.cuda.transfers import LOG_LENGTH, Transfers

    memory = Transfers()
    device = memory.device_array("scratch", 4, np.float32)
    for _ in range(LOG_LENGTH + 10):  # a server sends a frame every tick for days: the log must not grow with it
        memory.download("frame", device, cuda.pinned_array(4, np.float32))
    assert len(memory.log) == LOG_LENGTH
    assert memory.counts["down"] == LOG_LENGTH + 10 and memory.bytes["down"] == 16 * (LOG_LENGTH + 10)
    assert memory.counts["alloc"] == 1
