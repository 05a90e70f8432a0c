"""PhysicsEngine: owns the node arrays and advances the layout one step at a time.

Nodes are kept dense in slots 0..n-1 (removal moves the last node into the hole) and are
named by their wire ids; a lookup array maps an id's low 30 bits to its slot. Positions
and velocities are double-buffered: a step reads one pair and writes the other, then
swaps, so readers between steps (the API, the encoder) always see a whole step. On the CUDA
backend they are the last copy back from the device that completed (at most at ``frame_hz``),
a step behind the device; ``synchronize`` waits for the newest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.errors import PhysicsError
from visionflow.physics.backend import (
    MULTIPOLE_THRESHOLD,
    PARALLEL_THRESHOLD,
    TREE_THRESHOLD,
    Backend,
    Change,
    Layout,
    Method,
    PhysicsBackend,
    ScalarCache,
    SlotEdits,
    Thresholds,
)
from visionflow.physics.cpu.backend import CpuBackend
from visionflow.physics.csr import build_csr
from visionflow.physics.params import SimParams
from visionflow.physics.reference import ReferenceBackend
from visionflow.swarm.models import ID_MASK
from visionflow.types import FloatArray, IdArray, Vec3Array

__all__ = ["PhysicsEngine", "StepResult", "open_backend"]


@dataclass(frozen=True, slots=True)
class StepResult:
    kinetic_energy: float
    temperature: float
    nodes: int


def open_backend(kind: Backend, thresholds: Thresholds, frame_hz: float = 60.0) -> PhysicsBackend:
    """A new backend of ``kind``; numba-cuda is imported only when ``kind`` is CUDA."""
    if kind is Backend.CUDA:
        from visionflow.physics.cuda.backend import CudaBackend

        return CudaBackend(thresholds, frame_hz=frame_hz)
    if kind is Backend.REFERENCE:
        return ReferenceBackend()
    return CpuBackend(thresholds)


class PhysicsEngine:
    """Force-directed layout of a changing set of nodes; a backend (``backend``) computes each step."""

    def __init__(
        self,
        params: SimParams | None = None,
        *,
        backend: Backend | str = Backend.CPU,
        capacity: int = 1024,
        seed: int = 0,
        parallel_threshold: int = PARALLEL_THRESHOLD,
        tree_threshold: int = TREE_THRESHOLD,
        multipole_threshold: int = MULTIPOLE_THRESHOLD,
        frame_hz: float = 60.0,
    ) -> None:
        """``frame_hz``: how often at most the CUDA backend copies positions back (the stream's frame rate)."""
        self.params = params or SimParams()
        self.backend = Backend(backend)
        self.thresholds = Thresholds(parallel_threshold, tree_threshold, multipole_threshold)
        """Node counts at which the backend changes method, read every step."""
        self.method = Method.EXACT
        """How the last step computed repulsion."""
        self._backend = open_backend(self.backend, self.thresholds, frame_hz)
        self._scalars = ScalarCache()
        self._changed = Change.ALL
        """What changed on the host since the backend's last upload."""
        self._rng = np.random.default_rng(seed)
        self._n = 0
        self._capacity = 0
        empty = np.zeros((0, 3), dtype=np.float32)
        self._layout = Layout(0, empty, empty, empty, empty, np.zeros(0, np.uint8), np.zeros(1, dtype=np.int64),
                              np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32),
                              edits=SlotEdits())  # fmt: skip
        self._ids: IdArray = np.zeros(0, dtype=np.uint32)
        self._grow(max(8, capacity))
        self._slot_of = np.full(1024, -1, dtype=np.int32)
        self._edge_src = np.empty(0, dtype=np.uint32)
        self._edge_dst = np.empty(0, dtype=np.uint32)
        self._edge_weight = np.empty(0, dtype=np.float32)
        self._csr_dirty = True
        self._csr_edge = np.empty(0, dtype=np.int32)
        """The edge (index into the ``set_edges`` lists) of each CSR entry."""
        self.temperature = 1.0
        self._floor_steps = 0
        """Steps spent at ``min_temperature`` since the last reheat."""
        self._cooling_cache: tuple[SimParams, int, float, float] | None = None
        """(params, node count, cooling rate, floor steps): a cube root and two logarithms saved per step."""
        self.steps = 0
        self.kinetic_energy = 0.0

    # ----------------------------------------------------------------- arrays
    def _grow(self, capacity: int) -> None:
        host = self._backend.host_array

        def grown(old: npt.NDArray[Any], shape: tuple[int, ...], dtype: Any, make: Any = np.zeros) -> npt.NDArray[Any]:
            new: npt.NDArray[Any] = make(shape, dtype)
            new[: self._n] = old[: self._n]
            return new

        layout = self._layout
        self._ids = grown(self._ids, (capacity,), np.uint32)
        layout.pos = grown(layout.pos, (capacity, 3), np.float32, host)
        layout.vel = grown(layout.vel, (capacity, 3), np.float32, host)
        layout.pos_next = host((capacity, 3), np.float32)
        layout.vel_next = host((capacity, 3), np.float32)
        layout.pinned = grown(layout.pinned, (capacity,), np.uint8)
        layout.edits.grow(capacity)
        self._capacity = capacity

    @property
    def n(self) -> int:
        return self._n

    @property
    def ids(self) -> IdArray:
        """Wire ids by slot (a view; valid until the next add or remove)."""
        return self._ids[: self._n]

    @property
    def positions(self) -> Vec3Array:
        return self._layout.pos[: self._n]

    @property
    def velocities(self) -> Vec3Array:
        return self._layout.vel[: self._n]

    @property
    def edge_count(self) -> int:
        return len(self._edge_src)

    def slot(self, node_id: int) -> int:
        """The slot holding ``node_id``, or -1."""
        index = node_id & ID_MASK
        if index >= len(self._slot_of):
            return -1
        slot = int(self._slot_of[index])
        return slot if slot >= 0 and self._ids[slot] == node_id else -1

    def position_of(self, node_id: int) -> tuple[float, float, float] | None:
        slot = self.slot(node_id)
        if slot < 0:
            return None
        x, y, z = self._layout.pos[slot]
        return float(x), float(y), float(z)

    # ------------------------------------------------------------ membership
    def add_nodes(
        self,
        ids: npt.ArrayLike,
        positions: npt.ArrayLike | None = None,
        *,
        near: npt.ArrayLike | None = None,
    ) -> None:
        """Add nodes; each starts at ``positions``, else near the node named in ``near``, else at random.

        Existing nodes keep their positions; the layout is reheated so newcomers settle in.
        """
        new_ids = np.asarray(ids, dtype=np.uint32).reshape(-1)
        k = len(new_ids)
        if k == 0:
            return
        if len(np.unique(new_ids)) != k:
            raise PhysicsError("duplicate ids in add_nodes")
        for node_id in new_ids:
            if self.slot(int(node_id)) >= 0:
                raise PhysicsError(f"node {int(node_id)} is already present")
        if positions is not None:
            start = np.asarray(positions, dtype=np.float32).reshape(k, 3)
            if not np.isfinite(start).all():
                raise PhysicsError("positions must be finite")
        else:
            start = self._spawn_positions(k, near)
        if self._n + k > self._capacity:
            self._grow(max(self._n + k, 2 * self._capacity))
        top = int((new_ids & ID_MASK).max())
        if top >= len(self._slot_of):
            grown = np.full(max(top + 1, 2 * len(self._slot_of)), -1, dtype=np.int32)
            grown[: len(self._slot_of)] = self._slot_of
            self._slot_of = grown
        slots = np.arange(self._n, self._n + k)
        layout = self._layout
        self._ids[slots] = new_ids
        layout.pos[slots] = start
        layout.vel[slots] = 0.0
        layout.pinned[slots] = 0
        self._slot_of[new_ids & ID_MASK] = slots
        layout.edits.added(self._n, k)
        self._n += k
        self._membership_changed()
        self.reheat()

    def _spawn_positions(self, k: int, near: npt.ArrayLike | None) -> Vec3Array:
        radius = max(self.params.rest_length, 1.0) * math.cbrt(self._n + k)
        direction = self._rng.normal(size=(k, 3))
        direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9)
        start = direction * (radius * np.cbrt(self._rng.random((k, 1))))
        if near is not None:
            anchors = np.asarray(near, dtype=np.int64).reshape(-1)
            for row, anchor in enumerate(anchors):
                slot = self.slot(int(anchor)) if anchor >= 0 else -1
                if slot >= 0:
                    start[row] = self._layout.pos[slot] + direction[row] * self.params.rest_length
        return start.astype(np.float32)

    def remove_nodes(self, ids: npt.ArrayLike) -> int:
        """Remove nodes by id (unknown ids are ignored); returns how many were removed."""
        removed = 0
        layout = self._layout
        for node_id in np.asarray(ids, dtype=np.uint32).reshape(-1):
            slot = self.slot(int(node_id))
            if slot < 0:
                continue
            last = self._n - 1
            if slot != last:
                moved = self._ids[last]
                self._ids[slot] = moved
                layout.pos[slot] = layout.pos[last]
                layout.vel[slot] = layout.vel[last]
                layout.pinned[slot] = layout.pinned[last]
                self._slot_of[moved & ID_MASK] = slot
            layout.edits.removed(slot, last)
            self._slot_of[node_id & ID_MASK] = -1
            self._n = last
            removed += 1
        if removed:
            self._membership_changed()
            self.reheat()
        return removed

    def _membership_changed(self) -> None:
        self._csr_dirty = True
        self._changed |= Change.NODES

    def pin(self, ids: npt.ArrayLike, pinned: bool = True) -> int:
        """Hold nodes where they are (or release them); returns how many ids were present."""
        slots = self.slots_of(np.asarray(ids, dtype=np.uint32).reshape(-1))
        slots = slots[slots >= 0]
        self._layout.pinned[slots] = 1 if pinned else 0
        self._layout.vel[slots] = 0.0
        self._layout.edits.wrote(slots, SlotEdits.VELOCITY)
        self._changed |= Change.STATE
        return len(slots)

    @property
    def pinned(self) -> npt.NDArray[np.bool_]:
        """Which slots are pinned (a copy)."""
        return self._layout.pinned[: self._n].astype(bool)

    def set_positions(self, ids: npt.ArrayLike, positions: npt.ArrayLike) -> None:
        """Move nodes (e.g. to place pinned ones); unknown ids are ignored."""
        wanted = np.asarray(ids, dtype=np.uint32).reshape(-1)
        where = np.asarray(positions, dtype=np.float32).reshape(len(wanted), 3)
        if not np.isfinite(where).all():
            raise PhysicsError("positions must be finite")
        slots = self.slots_of(wanted)
        found = slots >= 0
        self._layout.pos[slots[found]] = where[found]
        self._layout.vel[slots[found]] = 0.0
        self._layout.edits.wrote(slots[found], SlotEdits.POSITION | SlotEdits.VELOCITY)
        self._changed |= Change.STATE
        self.reheat()

    def reheat(self) -> None:
        self.temperature = max(self.temperature, self.params.reheat_temperature)

    # ------------------------------------------------------------------ edges
    def set_edges(self, src: npt.ArrayLike, dst: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> None:
        """Replace the spring list; ends are wire ids, edges to absent nodes are ignored."""
        s = np.array(src, dtype=np.uint32).reshape(-1)
        d = np.array(dst, dtype=np.uint32).reshape(-1)
        if len(s) != len(d):
            raise PhysicsError("src and dst differ in length")
        self._edge_src, self._edge_dst = s, d
        self._edge_weight = np.ones(len(s), dtype=np.float32)
        self._csr_dirty = True
        if weights is not None:
            self.set_edge_weights(weights)

    def set_edge_weights(self, weights: npt.ArrayLike) -> None:
        """New weights for the edges of the last ``set_edges``, in the same order."""
        w = np.asarray(weights, dtype=np.float32).reshape(-1)
        if len(w) != len(self._edge_src):
            raise PhysicsError(f"expected {len(self._edge_src)} weights, got {len(w)}")
        if not np.isfinite(w).all():
            raise PhysicsError("edge weights must be finite")
        self._edge_weight = w
        if not self._csr_dirty:
            self._layout.weight = w[self._csr_edge]
            self._layout.edge_weight = w
            self._changed |= Change.WEIGHTS

    def slots_of(self, ids: IdArray) -> npt.NDArray[np.int32]:
        """Slot of each id, -1 where absent (vectorised ``slot``)."""
        index = (ids & ID_MASK).astype(np.int64)
        inside = index < len(self._slot_of)
        slots = np.full(len(ids), -1, dtype=np.int32)
        slots[inside] = self._slot_of[index[inside]]
        valid = slots >= 0
        valid[valid] = self._ids[slots[valid]] == ids[valid]
        slots[~valid] = -1
        return slots

    def _build_csr(self) -> None:
        entries = 2 * len(self._edge_src)
        ptr = np.empty(self._n + 1, dtype=np.int64)
        nbr = np.empty(entries, dtype=np.int32)
        edge = np.empty(entries, dtype=np.int32)
        used = build_csr(self._edge_src, self._edge_dst, self._slot_of, self._ids, self._n, ptr, nbr, edge)
        layout = self._layout
        layout.ptr = ptr
        layout.nbr = nbr[:used]
        self._csr_edge = layout.csr_edge = edge[:used]
        layout.weight = self._edge_weight[self._csr_edge]
        layout.edge_weight = self._edge_weight
        self._csr_dirty = False
        self._changed |= Change.SPRINGS

    # ------------------------------------------------------------------- step
    def step(self) -> StepResult:
        """Advance the layout by one time step: bring the backend up to date, let it step, cool."""
        if self._csr_dirty:
            self._build_csr()
        p = self.params
        n = self._n
        backend = self._backend
        self.method = method = backend.method(n, p)
        energy = 0.0
        if n:
            layout = self._layout
            layout.n = n
            if self._changed:
                backend.upload(layout, self._changed)
                layout.edits.clear()
                self._changed = Change.NONE
            warm = min(1.0, (self.steps + 1) / p.warmup_steps) if p.warmup_steps else 1.0
            energy = backend.step(layout, method, self._scalars(p, p.max_velocity * self.temperature, warm))
            backend.download(layout)
        self.steps += 1
        self._cool(p, n)
        self.kinetic_energy = float(energy)
        return StepResult(self.kinetic_energy, self.temperature, n)

    def synchronize(self) -> None:
        """Wait for the last step and make its positions, velocities and energy current.

        Only the CUDA backend needs it: its results come back asynchronously, so between steps
        ``positions`` is the last copy that completed (tests, benchmarks and shutdown call this).
        """
        if self._n:
            energy = self._backend.finish(self._layout)
            if energy is not None:
                self.kinetic_energy = float(energy)

    def _cool(self, p: SimParams, n: int) -> None:
        """Lower the temperature one step: to the floor, along it for ``floor_steps``, then on toward 0."""
        cached = self._cooling_cache
        if cached is None or cached[0] is not p or cached[1] != n:
            cached = self._cooling_cache = (p, n, p.cooling_for(n), p.floor_steps(n))
        _, _, rate, floor_steps = cached
        if self.temperature > p.min_temperature:
            self.temperature = max(p.min_temperature, self.temperature * rate)
            self._floor_steps = 0
        elif self._floor_steps >= floor_steps:
            self.temperature *= rate
        else:
            self._floor_steps += 1

    def memory(self) -> dict[str, int]:
        """Bytes the engine holds: ``node`` (per-node arrays and the backend's workspace) and ``edge``."""
        layout = self._layout
        node = (self._ids, layout.pos, layout.vel, layout.pos_next, layout.vel_next, layout.pinned, self._slot_of,
                layout.ptr, layout.edits.origin, layout.edits.fields)  # fmt: skip
        edge = (self._edge_src, self._edge_dst, self._edge_weight, layout.nbr, layout.weight, self._csr_edge)
        return {"node": sum(a.nbytes for a in node) + self._backend.nbytes, "edge": sum(a.nbytes for a in edge)}

    @property
    def settled(self) -> bool:
        """True when the average kinetic energy per node is under ``rest_energy``."""
        return self._n == 0 or self.kinetic_energy / self._n < self.params.rest_energy

    def edge_weights(self) -> FloatArray:
        return self._edge_weight
