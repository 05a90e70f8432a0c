"""PhysicsEngine: owns the node arrays and advances the layout one step at a time.

Nodes are kept dense in slots 0..n-1 (removal moves the last node into the hole) and are
named by their wire ids; a lookup array maps an id's low 30 bits to its slot. Positions
and velocities are double-buffered: a step reads one pair and writes the other, then
swaps, so readers between steps (the API, the encoder) always see a whole step.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from visionflow.errors import PhysicsError
from visionflow.physics import kernels_cpu, kernels_grid, reference
from visionflow.physics.csr import build_csr
from visionflow.physics.params import SimParams
from visionflow.physics.tree import BarnesHutTree
from visionflow.swarm.models import ID_MASK
from visionflow.types import FloatArray, IdArray, Vec3Array

__all__ = ["MULTIPOLE_THRESHOLD", "TREE_THRESHOLD", "Backend", "Method", "PhysicsEngine", "StepResult"]


StepKernel = Callable[..., float]
"""A whole step (all-pairs kernels and the reference) or the rest of one (after tree or grid repulsion)."""
RepulsionKernel = Callable[..., None]

TREE_THRESHOLD = 1024
"""Node count from which Barnes-Hut beats exact all-pairs on the CPU (measured: ``visionflow bench physics``)."""
MULTIPOLE_THRESHOLD = 32768
"""Node count from which the CUDA backend uses the grid multipole instead of exact all pairs. An estimate,
not yet a measurement: all pairs at 32k nodes is about 1e9 pair terms (around a millisecond on an H100),
while the multipole's dozen or so launches cost a few hundred microseconds at any size."""


class Backend(enum.StrEnum):
    """Which implementation computes a step."""

    CPU = "cpu"
    CUDA = "cuda"
    REFERENCE = "reference"


class Method(enum.StrEnum):
    """How the last step computed repulsion."""

    EXACT = "exact"
    TREE = "barnes-hut"
    GRID = "cell-list"
    GRID_MULTIPOLE = "grid-multipole"
    """CUDA only: monopoles of a hierarchy of uniform grids, exact near field (``kernels_multipole``)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    kinetic_energy: float
    temperature: float
    nodes: int


class PhysicsEngine:
    """Force-directed layout of a changing set of nodes."""

    def __init__(
        self,
        params: SimParams | None = None,
        *,
        backend: Backend | str = Backend.CPU,
        capacity: int = 1024,
        seed: int = 0,
        parallel_threshold: int = 4096,
        tree_threshold: int = TREE_THRESHOLD,
        multipole_threshold: int = MULTIPOLE_THRESHOLD,
    ) -> None:
        self.params = params or SimParams()
        self.backend = Backend(backend)
        self.parallel_threshold = parallel_threshold
        self.tree_threshold = tree_threshold
        self.multipole_threshold = multipole_threshold
        self.method = Method.EXACT
        self._scalar_cache: tuple[SimParams, tuple[np.float32, ...]] | None = None
        self._tree = BarnesHutTree()
        self._gpu: Any = None
        if self.backend is Backend.CUDA:
            from visionflow.physics.gpu import GpuStepper  # numba-cuda is imported only here

            self._gpu = GpuStepper()
        self._rng = np.random.default_rng(seed)
        self._n = 0
        self._capacity = 0
        self._grow(max(8, capacity))
        self._slot_of = np.full(1024, -1, dtype=np.int32)
        self._edge_src = np.empty(0, dtype=np.uint32)
        self._edge_dst = np.empty(0, dtype=np.uint32)
        self._edge_weight = np.empty(0, dtype=np.float32)
        self._csr_dirty = True
        self._ptr = np.zeros(1, dtype=np.int64)
        self._nbr = np.empty(0, dtype=np.int32)
        self._csr_weight = np.empty(0, dtype=np.float32)
        self._csr_edge = np.empty(0, dtype=np.int32)
        self.temperature = 1.0
        self._floor_steps = 0
        """Steps spent at ``min_temperature`` since the last reheat."""
        self._cooling_cache: tuple[SimParams, int, float, float] | None = None
        """(params, node count, cooling rate, floor steps): a cube root and two logarithms saved per step."""
        self.steps = 0
        self.kinetic_energy = 0.0

    # ----------------------------------------------------------------- arrays
    def _grow(self, capacity: int) -> None:
        def grown(old: npt.NDArray[Any] | None, shape: tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
            new = np.zeros(shape, dtype=dtype)
            if old is not None:
                new[: self._n] = old[: self._n]
            return new

        first = self._capacity == 0
        self._ids: IdArray = grown(None if first else self._ids, (capacity,), np.uint32)
        self._pos: Vec3Array = grown(None if first else self._pos, (capacity, 3), np.float32)
        self._vel: Vec3Array = grown(None if first else self._vel, (capacity, 3), np.float32)
        self._pos_next: Vec3Array = np.zeros((capacity, 3), dtype=np.float32)
        self._vel_next: Vec3Array = np.zeros((capacity, 3), dtype=np.float32)
        self._soa: npt.NDArray[np.float32] = np.zeros((3, capacity), dtype=np.float32)
        self._force: Vec3Array = np.zeros((capacity, 3), dtype=np.float32)
        self._pinned: npt.NDArray[np.uint8] = grown(None if first else self._pinned, (capacity,), np.uint8)
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
        return self._pos[: self._n]

    @property
    def velocities(self) -> Vec3Array:
        return self._vel[: self._n]

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
        x, y, z = self._pos[slot]
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
        self._ids[slots] = new_ids
        self._pos[slots] = start
        self._vel[slots] = 0.0
        self._pinned[slots] = 0
        self._slot_of[new_ids & ID_MASK] = slots
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
                    start[row] = self._pos[slot] + direction[row] * self.params.rest_length
        return start.astype(np.float32)

    def remove_nodes(self, ids: npt.ArrayLike) -> int:
        """Remove nodes by id (unknown ids are ignored); returns how many were removed."""
        removed = 0
        for node_id in np.asarray(ids, dtype=np.uint32).reshape(-1):
            slot = self.slot(int(node_id))
            if slot < 0:
                continue
            last = self._n - 1
            if slot != last:
                moved = self._ids[last]
                self._ids[slot] = moved
                self._pos[slot] = self._pos[last]
                self._vel[slot] = self._vel[last]
                self._pinned[slot] = self._pinned[last]
                self._slot_of[moved & ID_MASK] = slot
            self._slot_of[node_id & ID_MASK] = -1
            self._n = last
            removed += 1
        if removed:
            self._membership_changed()
            self.reheat()
        return removed

    def _membership_changed(self) -> None:
        self._csr_dirty = True
        self._tree.invalidate()
        if self._gpu is not None:
            self._gpu.invalidate()

    def pin(self, ids: npt.ArrayLike, pinned: bool = True) -> int:
        """Hold nodes where they are (or release them); returns how many ids were present."""
        slots = self.slots_of(np.asarray(ids, dtype=np.uint32).reshape(-1))
        slots = slots[slots >= 0]
        self._pinned[slots] = 1 if pinned else 0
        self._vel[slots] = 0.0
        if self._gpu is not None:
            self._gpu.invalidate()
        return len(slots)

    @property
    def pinned(self) -> npt.NDArray[np.bool_]:
        """Which slots are pinned (a copy)."""
        return self._pinned[: self._n].astype(bool)

    def set_positions(self, ids: npt.ArrayLike, positions: npt.ArrayLike) -> None:
        """Move nodes (e.g. to place pinned ones); unknown ids are ignored."""
        wanted = np.asarray(ids, dtype=np.uint32).reshape(-1)
        where = np.asarray(positions, dtype=np.float32).reshape(len(wanted), 3)
        if not np.isfinite(where).all():
            raise PhysicsError("positions must be finite")
        slots = self.slots_of(wanted)
        found = slots >= 0
        self._pos[slots[found]] = where[found]
        self._vel[slots[found]] = 0.0
        if self._gpu is not None:
            self._gpu.invalidate()
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
        if self._gpu is not None:
            self._gpu.invalidate()
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
            self._csr_weight = w[self._csr_edge]
            if self._gpu is not None:
                self._gpu.weights_changed()

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
        self._ptr = ptr
        self._nbr = nbr[:used]
        self._csr_edge = edge[:used]
        self._csr_weight = self._edge_weight[self._csr_edge]
        self._csr_dirty = False

    # ------------------------------------------------------------------- step
    def _choose(self) -> Method:
        if self.backend is Backend.CUDA:
            # Tiled all pairs on the device, where a cutoff is a mask; the grid multipole for large full-range layouts.
            if self.params.cutoff > 0 or self._n < self.multipole_threshold:
                return Method.EXACT
            return Method.GRID_MULTIPOLE
        if self.params.cutoff > 0:
            return Method.GRID
        if self.backend is Backend.REFERENCE or self._n < self.tree_threshold:
            return Method.EXACT
        return Method.TREE

    def _scalars(self, p: SimParams) -> tuple[np.float32, ...]:
        """The kernels' float32 arguments, converted once per parameter set (it is most of a small step's overhead)."""
        cached = self._scalar_cache
        if cached is None or cached[0] is not p:
            names = ("dt", "repulsion", "softening", "spring_k", "rest_length", "spring_exponent", "gravity",
                     "damping", "max_force", "bounds_radius")  # fmt: skip
            cached = self._scalar_cache = (p, tuple(np.float32(getattr(p, name)) for name in names))
        return cached[1]

    def step(self) -> StepResult:
        """Advance the layout by one time step."""
        if self._csr_dirty:
            self._build_csr()
        p = self.params
        n = self._n
        warm = min(1.0, (self.steps + 1) / p.warmup_steps) if p.warmup_steps else 1.0
        max_speed = np.float32(p.max_velocity * self.temperature)
        self.method = method = self._choose()
        energy = 0.0
        if n and self.backend is Backend.CUDA:
            energy = self._gpu.step(self, warm, max_speed, multipole=method is Method.GRID_MULTIPOLE)
        elif n:
            graph = (self._ptr, self._nbr, self._csr_weight, self._pinned, n)
            dt, repulsion, softening, spring_k, rest, exponent, gravity, damping, max_force, bounds = self._scalars(p)
            if self.backend is Backend.REFERENCE:
                oracle: StepKernel = reference.step
                energy = oracle(
                    self._pos, self._vel, self._pos_next, self._vel_next, self._soa, *graph, dt, repulsion,
                    softening, spring_k, rest, exponent, gravity, damping, max_force, max_speed, np.float32(warm),
                    bounds, cutoff=p.cutoff,
                )  # fmt: skip
            elif method is Method.EXACT:
                kernel: StepKernel = (
                    kernels_cpu.step_parallel if n >= self.parallel_threshold else kernels_cpu.step_serial
                )
                energy = kernel(
                    self._pos, self._vel, self._pos_next, self._vel_next, self._soa, *graph, dt, repulsion,
                    softening, spring_k, rest, exponent, gravity, damping, max_force, max_speed, np.float32(warm),
                    bounds,
                )  # fmt: skip
            else:
                parallel = n >= self.parallel_threshold
                if method is Method.TREE:
                    self._tree.repulsion(self._pos, n, p.theta, p.repulsion, p.softening, self._force,
                                         parallel=parallel)  # fmt: skip
                else:
                    grid: RepulsionKernel = kernels_grid.grid_repulsion
                    grid(self._pos, n, np.float32(p.cutoff), repulsion, softening, self._force)
                finish: StepKernel = (
                    kernels_cpu.step_with_repulsion if parallel else kernels_cpu.step_with_repulsion_serial
                )
                energy = finish(
                    self._pos, self._vel, self._pos_next, self._vel_next, self._soa, self._force, *graph, dt,
                    spring_k, rest, exponent, gravity, damping, max_force, max_speed, np.float32(warm), bounds,
                )  # fmt: skip
        if n:
            self._pos, self._pos_next = self._pos_next, self._pos
            self._vel, self._vel_next = self._vel_next, self._vel
        self.steps += 1
        self._cool(p, n)
        self.kinetic_energy = float(energy)
        return StepResult(self.kinetic_energy, self.temperature, n)

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
        """Bytes the engine holds: ``node`` (per-node arrays and the tree's workspace) and ``edge``."""
        node = (self._ids, self._pos, self._vel, self._pos_next, self._vel_next, self._soa, self._force,
                self._pinned, self._slot_of, self._ptr)  # fmt: skip
        edge = (self._edge_src, self._edge_dst, self._edge_weight, self._nbr, self._csr_weight, self._csr_edge)
        return {"node": sum(a.nbytes for a in node) + self._tree.nbytes, "edge": sum(a.nbytes for a in edge)}

    @property
    def settled(self) -> bool:
        """True when the average kinetic energy per node is under ``rest_energy``."""
        return self._n == 0 or self.kinetic_energy / self._n < self.params.rest_energy

    def edge_weights(self) -> FloatArray:
        return self._edge_weight
