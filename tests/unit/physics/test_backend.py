"""The seam between the engine and its backends: the scalars every kernel gets, and what the engine uploads when."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from visionflow.physics import Backend, Method, PhysicsEngine, SimParams
from visionflow.physics import engine as engine_module
from visionflow.physics.backend import Change, Layout, Motion, PhysicsBackend, ScalarCache, StepScalars, Thresholds
from visionflow.physics.cpu import CpuBackend

from .fixtures import node_ids


def test_scalars_are_float32_in_the_kernels_order() -> None:
    p = SimParams(dt=0.03, bounds_radius=50.0, theta=0.7)
    s = ScalarCache()(p, 2.5, 0.25)
    assert s.motion == Motion(np.float32(p.dt), np.float32(p.spring_k), np.float32(p.rest_length),
                              np.float32(p.spring_exponent), np.float32(p.gravity), np.float32(p.damping),
                              np.float32(p.max_force), np.float32(2.5), np.float32(0.25),
                              np.float32(50.0))  # fmt: skip
    values = [s.repulsion, s.softening, s.cutoff2, *s.motion]
    assert all(type(v) is np.float32 for v in values)
    assert (s.repulsion, s.softening) == (np.float32(p.repulsion), np.float32(p.softening))
    assert (s.theta, s.cutoff, s.cutoff2) == (0.7, 0.0, np.finfo(np.float32).max)  # finite: no inf under fastmath


def test_scalars_follow_new_params_and_the_per_step_values() -> None:
    cache = ScalarCache()
    first = cache(SimParams(), 1.0, 1.0)
    again = cache(SimParams(), 0.5, 0.75)  # an equal but new object: converted again, same values
    assert again.motion[:7] == first.motion[:7] and (again.motion.max_speed, again.motion.warm) == (0.5, 0.75)
    cut = cache(SimParams(cutoff=9.0, repulsion=12.0), 1.0, 1.0)
    assert (cut.cutoff, cut.cutoff2, cut.repulsion) == (9.0, np.float32(81.0), np.float32(12.0))


class Recorder:
    """A CPU backend that records what the engine asks of it."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.inner = CpuBackend(thresholds)
        self.kind = Backend.CPU
        self.calls: list[tuple[str, Any]] = []

    @property
    def nbytes(self) -> int:
        return self.inner.nbytes

    def host_array(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        return self.inner.host_array(shape, dtype)

    def upload(self, layout: Layout, changed: Change) -> None:
        self.calls.append(("upload", changed))
        self.inner.upload(layout, changed)

    def method(self, n: int, params: SimParams) -> Method:
        return self.inner.method(n, params)

    def step(self, layout: Layout, method: Method, scalars: StepScalars) -> float:
        self.calls.append(("step", layout.n))
        return self.inner.step(layout, method, scalars)

    def download(self, layout: Layout) -> None:
        self.calls.append(("download", layout.n))
        self.inner.download(layout)

    def finish(self, layout: Layout) -> float | None:
        self.calls.append(("finish", layout.n))
        return self.inner.finish(layout)

    def uploads(self) -> list[Change]:
        changes = [arg for call, arg in self.calls if call == "upload"]
        self.calls.clear()
        return changes


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> tuple[PhysicsEngine, Recorder]:
    made: list[Recorder] = []

    def open_recorder(kind: Backend, thresholds: Thresholds, frame_hz: float = 60.0) -> PhysicsBackend:
        made.append(Recorder(thresholds))
        return made[-1]

    monkeypatch.setattr(engine_module, "open_backend", open_recorder)
    e = PhysicsEngine()
    e.add_nodes(node_ids(4), np.arange(12, dtype=np.float32).reshape(4, 3))
    e.set_edges(node_ids(2), node_ids(2, start=2), [1.0, 2.0])
    return e, made[0]


def test_a_step_is_upload_then_step_then_download(recorded: tuple[PhysicsEngine, Recorder]) -> None:
    e, backend = recorded
    e.step()
    assert backend.calls == [("upload", Change.ALL), ("step", 4), ("download", 4)]
    backend.calls.clear()
    e.step()
    assert backend.calls == [("step", 4), ("download", 4)]  # nothing changed: nothing to upload


def test_the_backend_hears_exactly_what_changed(recorded: tuple[PhysicsEngine, Recorder]) -> None:
    e, backend = recorded
    e.step()
    backend.calls.clear()
    e.set_edge_weights([3.0, 4.0])
    e.step()
    assert backend.uploads() == [Change.WEIGHTS]
    e.pin(node_ids(1))
    e.step()
    e.set_positions(node_ids(1, start=3), [[1.0, 1.0, 1.0]])
    e.step()
    assert backend.uploads() == [Change.STATE, Change.STATE]
    e.set_edges(node_ids(1), node_ids(1, start=3))
    e.step()
    assert backend.uploads() == [Change.SPRINGS]
    e.remove_nodes(node_ids(1, start=1))
    e.step()
    assert backend.uploads() == [Change.NODES | Change.SPRINGS]


def test_changes_wait_while_the_engine_is_empty(recorded: tuple[PhysicsEngine, Recorder]) -> None:
    e, backend = recorded
    e.step()
    e.remove_nodes(e.ids.copy())
    e.step()
    backend.calls.clear()
    e.step()
    assert backend.calls == []  # no nodes, no backend work
    e.add_nodes(node_ids(2, start=10))
    e.step()
    assert backend.uploads() == [Change.NODES | Change.SPRINGS]


@pytest.mark.parametrize("kind", [Backend.CPU, Backend.REFERENCE])
def test_memory_counts_the_backends_workspace(kind: Backend) -> None:
    e = PhysicsEngine(backend=kind, capacity=64, tree_threshold=0)
    e.add_nodes(node_ids(64))
    e.step()
    # ids, pos/vel twice, pins, slot edits (origin, fields), slot lookup, CSR rows
    arrays = 64 * (4 + 4 * 12 + 1 + 4 + 1) + 1024 * 4 + 65 * 8
    scratch = 64 * 2 * 12  # the CPU kernels' split positions and repulsion
    held = e.memory()["node"]
    assert held == arrays if kind is Backend.REFERENCE else held > arrays + scratch  # the tree's arrays on top
