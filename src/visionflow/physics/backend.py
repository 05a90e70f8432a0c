"""The seam between ``PhysicsEngine`` and the code that computes a step: one typed interface, three implementations.

    PhysicsEngine            nodes, springs, temperature; the layout on the host
      │  upload(layout, changed) · method(n, params) · step(layout, method, scalars) · download(layout)
      ├── cpu.CpuBackend                 Numba: exact all pairs, Barnes-Hut octree, cell list
      ├── cuda.CudaBackend               numba-cuda: exact all pairs, grid multipole (imported only when chosen)
      └── reference.ReferenceBackend     NumPy in float64: the oracle the other two are tested against

The engine owns every array and hands the backend a ``Layout`` (its host arrays) and ``StepScalars``
(the parameters as the kernels take them), so a backend reads nothing of the engine and keeps only
what it must keep between steps: device copies, the tree's node order, scratch space. The engine
tells it what changed on the host since the last step (``Change``) instead of each backend watching,
and, slot by slot, which rows (``SlotEdits``): the CUDA backend's rows on the device are ahead of the
host's, so it sends only those and moves the rest itself.

The CPU backends compute into the layout's next buffers and make them current in ``download``. The
CUDA backend copies results back asynchronously, at most at the stream's frame rate, into page-locked
buffers it rotates into the layout: between steps the layout holds the last copy that completed,
and ``finish`` waits for the newest.

This module imports only NumPy: the CUDA backend must be loadable without the CPU kernels' compile
and the engine without numba-cuda.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from visionflow.physics.params import SimParams
from visionflow.types import Vec3Array

__all__ = [
    "MULTIPOLE_THRESHOLD",
    "PARALLEL_THRESHOLD",
    "TREE_THRESHOLD",
    "Backend",
    "Change",
    "Layout",
    "Method",
    "Motion",
    "PhysicsBackend",
    "ScalarCache",
    "SlotEdits",
    "StepScalars",
    "Thresholds",
]

TREE_THRESHOLD = 1024
"""Node count from which Barnes-Hut beats exact all-pairs on the CPU (measured: ``visionflow bench physics``)."""
PARALLEL_THRESHOLD = 4096
"""Node count from which the CPU kernels spread nodes over threads: below it, waking threads costs more
than it saves, and on 2 cores a parallel loop stalls whenever the other core is busy."""
MULTIPOLE_THRESHOLD = 32768
"""Node count from which the CUDA backend uses the grid multipole instead of exact all pairs. An estimate,
not yet a measurement: all pairs at 32k nodes is about 1e9 pair terms (around a millisecond on an H100),
while the multipole's dozen or so launches cost a few hundred microseconds at any size. ``bench/gpu_check.sh``
measures the crossover on a device."""


class Backend(enum.StrEnum):
    """Which implementation computes a step."""

    CPU = "cpu"
    CUDA = "cuda"
    REFERENCE = "reference"


class Method(enum.StrEnum):
    """How a step computes repulsion."""

    EXACT = "exact"
    TREE = "barnes-hut"
    GRID = "cell-list"
    GRID_MULTIPOLE = "grid-multipole"
    """CUDA only: monopoles of a hierarchy of uniform grids, exact near field (``cuda.multipole_kernels``)."""


class Change(enum.Flag):
    """What the engine changed on the host since the backend's last ``upload``."""

    NONE = 0
    NODES = enum.auto()
    """Nodes were added or removed: slots were renumbered and the node count changed."""
    STATE = enum.auto()
    """Positions, velocities or pins were written on the host (``set_positions``, ``pin``)."""
    SPRINGS = enum.auto()
    """The spring adjacency (``ptr``, ``nbr``, ``weight``) was rebuilt."""
    WEIGHTS = enum.auto()
    """Only the spring weights changed, in place of the same adjacency."""
    ALL = NODES | STATE | SPRINGS | WEIGHTS


@dataclass(slots=True)
class Thresholds:
    """Node counts at which a backend changes how it computes a step; read at every step, so a change
    takes effect on the next one (the server's warm-up lowers them to compile every kernel)."""

    parallel: int = PARALLEL_THRESHOLD
    """CPU: threads from this many nodes."""
    tree: int = TREE_THRESHOLD
    """CPU: Barnes-Hut from this many nodes (without a cutoff)."""
    multipole: int = MULTIPOLE_THRESHOLD
    """CUDA: the grid multipole from this many nodes (without a cutoff)."""


class SlotEdits:
    """What the engine did to its slots since the backend's last upload.

    For a backend that keeps its own copy of the node rows and must not take the host's wholesale
    (the CUDA backend's device rows are ahead of the host's, which hold the last copy that came
    back: sending those would undo the steps since). For each slot it says where its row was at
    the last upload (``origin``: a removal moved the last node into the hole, which the device can
    do itself) and what the host wrote into it (``fields``: new nodes, ``set_positions``, pins).
    The pin flag belongs to the host: it goes with every edited row.
    """

    POSITION = 1
    VELOCITY = 2

    def __init__(self, capacity: int = 0) -> None:
        self.origin = np.arange(capacity, dtype=np.int32)
        """The slot each slot's row was in at the last upload; -1 for a node added since."""
        self.fields = np.zeros(capacity, dtype=np.uint8)
        """What the host wrote into each slot's row since: ``POSITION`` | ``VELOCITY``."""
        self._touched: list[npt.NDArray[np.int64]] = []

    @property
    def nbytes(self) -> int:
        return self.origin.nbytes + self.fields.nbytes

    def grow(self, capacity: int) -> None:
        old = len(self.origin)
        self.origin = np.concatenate([self.origin, np.arange(old, capacity, dtype=np.int32)])
        self.fields = np.concatenate([self.fields, np.zeros(capacity - old, dtype=np.uint8)])

    def added(self, start: int, count: int) -> None:
        slots = np.arange(start, start + count)
        self.origin[slots] = -1
        self.fields[slots] = self.POSITION | self.VELOCITY
        self._touched.append(slots)

    def removed(self, slot: int, last: int) -> None:
        """The node in ``last`` moved into ``slot`` (or, when they are the same, ``last`` was emptied)."""
        self.origin[slot] = self.origin[last]
        self.fields[slot] = self.fields[last]
        self._touched.append(np.array([slot, last]))

    def wrote(self, slots: npt.NDArray[np.integer[Any]], fields: int) -> None:
        self.fields[slots] |= fields
        self._touched.append(np.asarray(slots, dtype=np.int64))

    def rows(self, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.uint8]]:
        """(slots, origin, fields) of the live slots whose row is not simply the one uploaded last, in slot order."""
        if not self._touched:
            empty = np.empty(0, dtype=np.int64)
            return empty, np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint8)
        slots = np.unique(np.concatenate(self._touched))
        slots = slots[slots < n]
        origin = self.origin[slots]
        fields = self.fields[slots]
        edited = (origin != slots) | (fields != 0)
        return slots[edited], origin[edited], fields[edited]

    def clear(self) -> None:
        """Everything is uploaded: each slot's row is where it is."""
        if self._touched:
            slots = np.unique(np.concatenate(self._touched))
            self.origin[slots] = slots
            self.fields[slots] = 0
            self._touched.clear()


@dataclass(slots=True, eq=False)
class Layout:
    """The layout as the engine holds it on the host: what a backend reads and where its results land.

    Node arrays are allocated for the engine's capacity (``PhysicsBackend.host_array``); rows 0..n-1
    are live. A step reads ``pos`` and ``vel``; once ``download`` has returned, ``pos`` and ``vel`` hold
    the newest results the backend has (the CPU backends swap in ``pos_next`` and ``vel_next``, which
    they computed into), so readers between steps always see a whole step.
    Springs are a CSR adjacency holding both directions of every edge: node i's neighbours are
    ``nbr[ptr[i]:ptr[i + 1]]`` with weights ``weight[ptr[i]:ptr[i + 1]]``; ``csr_edge`` names the edge
    behind each entry, whose weight is ``edge_weight[csr_edge[e]]``.
    """

    n: int
    pos: Vec3Array
    vel: Vec3Array
    pos_next: Vec3Array
    vel_next: Vec3Array
    pinned: npt.NDArray[np.uint8]
    ptr: npt.NDArray[np.int64]
    nbr: npt.NDArray[np.int32]
    weight: npt.NDArray[np.float32]
    csr_edge: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    edge_weight: npt.NDArray[np.float32] = field(default_factory=lambda: np.empty(0, dtype=np.float32))
    """Weights by edge, in the order of ``set_edges`` (``weight`` gathered by ``csr_edge``)."""
    edits: SlotEdits = field(default_factory=SlotEdits)

    def swap(self) -> None:
        """Make the step's results current."""
        self.pos, self.pos_next = self.pos_next, self.pos
        self.vel, self.vel_next = self.vel_next, self.vel


class Motion(NamedTuple):
    """The scalars of springs, gravity and integration: the tail of every kernel that moves nodes
    (CPU, CUDA and the reference take them last, in this order)."""

    dt: np.float32
    spring_k: np.float32
    rest_length: np.float32
    spring_exponent: np.float32
    gravity: np.float32
    damping: np.float32
    max_force: np.float32
    max_speed: np.float32
    """``max_velocity`` times the temperature: changes every step while the layout cools."""
    warm: np.float32
    """The warm-up factor on forces, rising to 1 over ``warmup_steps``."""
    bounds_radius: np.float32


class StepScalars(NamedTuple):
    """Everything but the arrays that a step needs, as the kernels take it (built by ``ScalarCache``)."""

    repulsion: np.float32
    softening: np.float32
    motion: Motion
    theta: float
    """Barnes-Hut opening angle."""
    cutoff: float
    """Repulsion range of the cell list (0: full range), as given: the float64 reference compares in float64."""
    cutoff2: np.float32
    """Squared ``cutoff``, or the largest float32 without one (finite: fastmath kernels may assume no infinity);
    the CUDA cell list's mask."""


_F32_ZERO = np.float32(0.0)
_NO_CUTOFF = np.finfo(np.float32).max
_new_tuple = tuple.__new__
"""Builds a named tuple from a plain one at half the cost of its own constructor (same object)."""


class ScalarCache:
    """Builds each step's ``StepScalars``: the one place parameters become the kernels' float32 values.

    Converting is most of a small step's overhead (a NumPy scalar costs a third of a microsecond here),
    so the parameters' share is kept while the engine holds the same ``SimParams`` (they are immutable;
    a change is a new object), and a step's scalars are built again only when the speed limit or the
    warm-up factor moved: every step while the layout cools, none while it holds its floor temperature.
    """

    __slots__ = ("_bounds", "_head", "_last", "_max_speed", "_params", "_rest", "_warm", "_warm32")

    def __init__(self) -> None:
        self._params: SimParams | None = None
        self._head: tuple[np.float32, np.float32, np.float32, np.float32, np.float32, np.float32, np.float32] = (
            _F32_ZERO,) * 7  # fmt: skip
        self._bounds = _F32_ZERO
        self._rest: tuple[np.float32, np.float32, float, float, np.float32] = (_F32_ZERO, _F32_ZERO, 0.0, 0.0,
                                                                              _F32_ZERO)  # fmt: skip
        self._max_speed = math.nan
        self._warm = math.nan
        self._warm32 = _F32_ZERO
        self._last: StepScalars | None = None

    def __call__(self, params: SimParams, max_speed: float, warm: float) -> StepScalars:
        """The scalars of one step under ``params`` with speed limit ``max_speed`` and warm-up factor ``warm``."""
        last = self._last
        if params is not self._params:
            self._params = params
            p = params
            self._head = (np.float32(p.dt), np.float32(p.spring_k), np.float32(p.rest_length),
                          np.float32(p.spring_exponent), np.float32(p.gravity), np.float32(p.damping),
                          np.float32(p.max_force))  # fmt: skip
            self._bounds = np.float32(p.bounds_radius)
            cutoff2 = np.float32(p.cutoff * p.cutoff) if p.cutoff > 0 else _NO_CUTOFF
            self._rest = (np.float32(p.repulsion), np.float32(p.softening), p.theta, p.cutoff, cutoff2)
            last = None
        elif last is not None and max_speed == self._max_speed and warm == self._warm:
            return last
        if warm != self._warm:
            self._warm = warm
            self._warm32 = np.float32(warm)
        self._max_speed = max_speed
        repulsion, softening, theta, cutoff, cutoff2 = self._rest
        motion = _new_tuple(Motion, (*self._head, np.float32(max_speed), self._warm32, self._bounds))
        last = self._last = _new_tuple(StepScalars, (repulsion, softening, motion, theta, cutoff, cutoff2))
        return last


class PhysicsBackend(Protocol):
    """What ``PhysicsEngine`` needs of the code that computes a step.

    A step is ``upload`` (only when something changed), ``method``, ``step``, ``download``, in that order.
    """

    kind: Backend

    def host_array(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        """Zeroed host memory for the layout's node arrays (page-locked for CUDA: copies into it are asynchronous)."""
        ...

    def upload(self, layout: Layout, changed: Change) -> None:
        """Bring what the backend keeps between steps (device copies, the tree's node order) up to date
        with ``changed`` (and ``layout.edits``) on the host; called before a step, and only when something changed."""
        ...

    def method(self, n: int, params: SimParams) -> Method:
        """How a step of ``n`` nodes under ``params`` computes repulsion (reported by the engine)."""
        ...

    def step(self, layout: Layout, method: Method, scalars: StepScalars) -> float:
        """Advance nodes 0..n-1 one step by ``method``; returns the kinetic energy of the layout ``download``
        leaves current (the CPU's: after this step; the CUDA backend's: of the last copy back that completed)."""
        ...

    def download(self, layout: Layout) -> None:
        """Leave the newest results the backend has in ``layout.pos`` and ``layout.vel`` (or start bringing them)."""
        ...

    def finish(self, layout: Layout) -> float | None:
        """Wait until the last step's results are current in ``layout``; their kinetic energy, or None when
        ``download`` already left them there."""
        ...

    @property
    def nbytes(self) -> int:
        """Host bytes the backend holds between steps (scratch, the tree), for ``PhysicsEngine.memory``."""
        ...
