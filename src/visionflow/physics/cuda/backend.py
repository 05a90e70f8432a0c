"""CudaBackend: the layout kept on the CUDA device between steps, and the kernel launches of a step.

Repulsion is exact all pairs (``kernels``), for large layouts the grid multipole, and with a
cutoff the multipole grid's near field as a cell list (``multipole``).

What crosses the bus, and when (every copy goes through ``transfers.Transfers``, which counts it):

- A step: nothing up. Kernels run on one stream; the kinetic energy is summed and cleared on the
  device (a ring of three slots, so no step waits for the host to zero it).
- Results: positions, velocities and the energy come back asynchronously on a second stream into
  page-locked host buffers, at most at the stream's frame rate (``frame_hz``; when physics runs
  faster, the steps in between stay on the device). Three host buffers rotate: the layout's current
  one (readers), the previous one (a reader that took it just before the rotation can finish) and
  the one being copied into. A step makes the last completed copy current, so the 60 Hz path
  reads it without waiting for the device; ``finish`` waits for the newest.
- Edits: rows the host changed (new nodes, moved or pinned ones) go up as one packed array and
  are written on the device; rows a removal moved are moved there (``SlotEdits``), so the device's
  newer positions are never overwritten by the host's older copy.
- Springs: the CSR arrays when the adjacency changes; the weights per edge (half the CSR's entries)
  only when they change, as the changed edges alone when few did, then gathered into CSR order on
  the device.

Device arrays are allocated for the engine's capacity (which doubles) and the edge arrays with half
as much again in hand, and reused: a step allocates nothing. numba-cuda is imported in this package
only, so the rest of ``physics`` runs with NumPy and Numba alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import cuda as _cuda

from visionflow.physics.backend import Backend, Change, Layout, Method, StepScalars, Thresholds
from visionflow.physics.cuda import kernels
from visionflow.physics.cuda.multipole import GridMultipole
from visionflow.physics.cuda.transfers import Transfers
from visionflow.physics.params import SimParams

__all__ = ["FRAME_SLACK", "CudaBackend", "cuda_available"]

cuda: Any = _cuda  # numba-cuda is not typed

FRAME_SLACK = 0.75
"""A copy back starts when this share of a frame period has passed since the last one: ticks at the
frame rate arrive a little early or late, and each must still get its copy."""
_EDGE_HEADROOM = 1.5
_RECORD = 10
"""Columns of a packed edit: slot, origin, fields, pin flag, then position and velocity as float32 bits."""


def cuda_available() -> bool:
    """True when numba-cuda sees a device (or its simulator is switched on)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # no driver or no toolkit: both mean "no GPU"
        return False


def _event() -> Any:
    """An event without timing (cheaper to record); the simulator's take no arguments."""
    return cuda.event() if kernels.SIMULATOR else cuda.event(timing=False)


def _done(event: Any) -> bool:
    """Whether everything recorded before ``event`` has run (the simulator runs everything at once)."""
    query = getattr(event, "query", None)
    return True if query is None else bool(query())


@dataclass(slots=True)
class _Copy:
    """A copy back in flight: done when ``event`` is; it reads device buffer ``source``."""

    event: Any
    source: int
    step: int


class CudaBackend:
    """Device copies of the engine's arrays, the kernel launches of a step, and the copies back."""

    kind = Backend.CUDA

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        *,
        frame_hz: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        transfers: Transfers | None = None,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.transfers = transfers or Transfers()
        self.frame_interval = FRAME_SLACK / frame_hz if frame_hz > 0 else 0.0
        """Least time between two copies back (0: after every step)."""
        self.min_span = kernels.MIN_SPAN
        """Fewest nodes per slice of the all-pairs j range (tests lower it to split small layouts)."""
        self._clock = clock
        self._compute = cuda.stream()
        self._copy = cuda.stream()
        self._sms = 0
        self._multipole: GridMultipole | None = None
        # Node rows on the device: two generations of positions and velocities (``_cur`` is current).
        self._capacity = 0
        self._rows = -1
        """Live rows on the device (-1: nothing uploaded yet)."""
        self._pos: list[Any] = []
        self._vel: list[Any] = []
        self._cur = 0
        self._pinned: Any = None
        self._force: Any = None
        self._energy: Any = None
        self._steps = 0
        # Springs.
        self._ptr: Any = None
        self._nbr: Any = None
        self._csr_edge: Any = None
        self._weight: Any = None
        self._edge_weight: Any = None
        self._entries = 0
        self._springs_stale = True
        """The device adjacency must go up whole (nothing there yet, or ``ptr`` was reallocated)."""
        self._sent = np.empty(0, dtype=np.float32)
        """The edge weights as last uploaded, to send only those that change."""
        self._packed: Any = None
        """Device room for packed edits."""
        self._changes: Any = None
        """Device room for weight changes (edge, weight as float32 bits)."""
        # Copies back.
        self._spare_pos = np.zeros((0, 3), dtype=np.float32)
        self._spare_vel = np.zeros((0, 3), dtype=np.float32)
        self._energy_host = self.transfers.pinned_array("energy copy", 1, np.float32)
        self._pending: _Copy | None = None
        self._copied = -1
        """The step whose results the last copy back holds."""
        self._last_copy_at = -math.inf
        self._kinetic = 0.0
        """Kinetic energy of the layout's current rows."""

    # ------------------------------------------------------------------ memory
    @property
    def nbytes(self) -> int:
        """Host bytes held between steps: the third copy-back buffer and the last weights sent."""
        return int(self._spare_pos.nbytes + self._spare_vel.nbytes + self._sent.nbytes + self._energy_host.nbytes)

    @property
    def device_nbytes(self) -> int:
        arrays = [*self._pos, *self._vel, self._pinned, self._force, self._energy, self._ptr, self._nbr,
                  self._csr_edge, self._weight, self._edge_weight, self._packed, self._changes]  # fmt: skip
        multipole = self._multipole.nbytes if self._multipole is not None else 0
        return multipole + sum(int(a.nbytes) for a in arrays if a is not None)

    def host_array(self, shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        return self.transfers.pinned_array("layout", shape, dtype)

    @property
    def multipole(self) -> GridMultipole:
        """The grid's workspace, made on first use (small layouts without a cutoff never need it)."""
        if self._multipole is None:
            self._multipole = GridMultipole(transfers=self.transfers)
        return self._multipole

    @property
    def sms(self) -> int:
        """Streaming multiprocessors of the device (the simulator has one)."""
        if not self._sms:
            device = cuda.get_current_device()
            self._sms = int(getattr(device, "MULTIPROCESSOR_COUNT", 1) or 1)
        return self._sms

    # ------------------------------------------------------------------ upload
    def upload(self, layout: Layout, changed: Change) -> None:
        rows_changed = bool(changed & (Change.NODES | Change.STATE)) or self._rows < 0
        if rows_changed:
            self._discard()
        if len(layout.pos) > self._capacity:
            self._grow_nodes(len(layout.pos))
        if rows_changed:
            self._apply_edits(layout)
        if changed & Change.SPRINGS or self._springs_stale:
            self._upload_springs(layout)
        elif changed & Change.WEIGHTS:
            self._upload_weights(layout)
        self._rows = layout.n

    def _discard(self) -> None:
        """Drop the copy back in flight: the host's rows were renumbered or rewritten since it started."""
        if self._pending is not None:
            self._pending.event.synchronize()
            self._pending = None

    def _grow_nodes(self, capacity: int) -> None:
        memory = self.transfers
        kept = max(self._rows, 0)
        pos = [memory.device_array("positions", (capacity, 3), np.float32) for _ in range(2)]
        vel = [memory.device_array("velocities", (capacity, 3), np.float32) for _ in range(2)]
        pinned = memory.device_array("pins", capacity, np.uint8)
        if self._pos:  # keep the rows the device is ahead with
            memory.on_device(pos[0], self._pos[self._cur], kept, self._compute)
            memory.on_device(vel[0], self._vel[self._cur], kept, self._compute)
            memory.on_device(pinned, self._pinned, kept, self._compute)
        else:
            self._energy = memory.to_device("energy", np.zeros(3, np.float32), self._compute)
        self._pos, self._vel, self._pinned, self._cur = pos, vel, pinned, 0
        self._ptr = memory.device_array("csr ptr", capacity + 1, np.int64)
        self._springs_stale = True
        self._force = None
        self._spare_pos = memory.pinned_array("copy-back positions", (capacity, 3), np.float32)
        self._spare_vel = memory.pinned_array("copy-back velocities", (capacity, 3), np.float32)
        self._capacity = capacity

    def _room(self, name: str, array: Any, rows: int, columns: int) -> Any:
        """``array``, or a new one with room for ``rows`` packed records when it has less (doubling)."""
        if array is None or len(array) < rows:
            size = max(rows, 2 * (len(array) if array is not None else 0), 64)
            return self.transfers.device_array(name, (size, columns), np.int32)
        return array

    def _apply_edits(self, layout: Layout) -> None:
        """The host's edits since the last upload, as one packed upload and two launches."""
        slots, origin, fields = layout.edits.rows(layout.n)
        count = len(slots)
        if count == 0:
            return
        packed = np.empty((count, _RECORD), dtype=np.int32)
        packed[:, 0] = slots
        packed[:, 1] = origin
        packed[:, 2] = fields
        packed[:, 3] = layout.pinned[slots]
        values = packed[:, 4:].view(np.float32)
        values[:, :3] = layout.pos[slots]
        values[:, 3:] = layout.vel[slots]
        room = self._packed = self._room("packed edits", self._packed, count, _RECORD)
        self.transfers.upload("edits", room, packed, self._compute)
        blocks = math.ceil(count / kernels.BLOCK)
        pos, vel, records = self._pos[self._cur], self._vel[self._cur], np.uint32(count)
        kernels.move_rows[blocks, kernels.BLOCK, self._compute](pos, vel, room, records)
        kernels.write_rows[blocks, kernels.BLOCK, self._compute](pos, vel, self._pinned, room,
                                                                 room.view(np.float32)[:, 4:], records)  # fmt: skip

    def _reserve_edges(self, name: str, array: Any, size: int, dtype: Any) -> Any:
        if array is None or len(array) < size:
            return self.transfers.device_array(name, max(1, int(size * _EDGE_HEADROOM)), dtype)
        return array

    def _upload_springs(self, layout: Layout) -> None:
        n = layout.n
        entries = len(layout.nbr)
        edges = len(layout.edge_weight)
        self._nbr = self._reserve_edges("csr nbr", self._nbr, entries, np.int32)
        self._csr_edge = self._reserve_edges("csr edge", self._csr_edge, entries, np.int32)
        self._weight = self._reserve_edges("csr weight", self._weight, entries, np.float32)
        self._edge_weight = self._reserve_edges("edge weight", self._edge_weight, edges, np.float32)
        memory, stream = self.transfers, self._compute
        memory.upload("csr ptr", self._ptr, layout.ptr[: n + 1], stream)
        memory.upload("csr nbr", self._nbr, layout.nbr, stream)
        memory.upload("csr edge", self._csr_edge, layout.csr_edge, stream)
        memory.upload("edge weight", self._edge_weight, layout.edge_weight, stream)
        self._sent = layout.edge_weight.copy()
        self._entries = entries
        self._springs_stale = False
        self._gather_weights()

    def _upload_weights(self, layout: Layout) -> None:
        """Only the edges whose weight changed: none, a few (as pairs), or all of them."""
        weights = layout.edge_weight
        if len(weights) != len(self._sent):
            self._upload_springs(layout)
            return
        changed = np.flatnonzero(weights != self._sent)
        if len(changed) == 0:
            return
        if 4 * len(changed) > len(weights):
            self.transfers.upload("edge weight", self._edge_weight, weights, self._compute)
            self._sent = weights.copy()
        else:
            packed = np.empty((len(changed), 2), dtype=np.int32)
            packed[:, 0] = changed
            packed[:, 1:].view(np.float32)[:, 0] = weights[changed]
            room = self._changes = self._room("weight changes", self._changes, len(changed), 2)
            self.transfers.upload("edge weight changes", room, packed, self._compute)
            kernels.scatter_weights[math.ceil(len(changed) / kernels.BLOCK), kernels.BLOCK, self._compute](
                self._edge_weight, room, room.view(np.float32), np.uint32(len(changed)))  # fmt: skip
            self._sent[changed] = weights[changed]
        self._gather_weights()

    def _gather_weights(self) -> None:
        if self._entries > 0:
            kernels.gather_weights[math.ceil(self._entries / kernels.BLOCK), kernels.BLOCK, self._compute](
                self._edge_weight, self._csr_edge, np.uint32(self._entries), self._weight)  # fmt: skip

    # -------------------------------------------------------------------- step
    def method(self, n: int, params: SimParams) -> Method:
        # A cutoff is the multipole grid's near field (a cell list); without one, all pairs for small layouts.
        if params.cutoff > 0:
            return Method.GRID
        return Method.EXACT if n < self.thresholds.multipole else Method.GRID_MULTIPOLE

    def _forces(self, slices: int) -> Any:
        if self._force is None or self._force.shape[0] < slices:
            self._force = self.transfers.device_array("repulsion", (slices, self._capacity, 3), np.float32)
        return self._force

    def step(self, layout: Layout, method: Method, scalars: StepScalars) -> float:
        """Make the last completed copy current, then launch one step; returns the energy of the current rows."""
        self._publish(layout)
        n = layout.n
        stream = self._compute
        read, write = self._cur, 1 - self._cur
        pending = self._pending
        if pending is not None and pending.source == write:  # the copy back still reads what this step overwrites
            pending.event.wait(stream)
        pos = self._pos[read]
        slices = 1
        if method is Method.EXACT:
            slices, span = kernels.split(n, self.sms, self.min_span)
            force = self._forces(slices)
            kernels.repulsion_exact[(math.ceil(n / kernels.TILE), slices), kernels.TILE, stream](
                pos, np.uint32(n), np.uint32(span), scalars.repulsion, scalars.softening, force)  # fmt: skip
        else:
            force = self._forces(1)
            if method is Method.GRID:
                self.multipole.near_field(pos, n, scalars.cutoff, scalars.cutoff2, scalars.repulsion,
                                          scalars.softening, force[0], stream)  # fmt: skip
            else:
                self.multipole.repulsion(pos, n, scalars.repulsion, scalars.softening, force[0], stream)
        kernels.integrate[math.ceil(n / kernels.BLOCK), kernels.BLOCK, stream](
            pos, self._vel[read], self._pos[write], self._vel[write], force, np.uint32(slices), self._ptr, self._nbr,
            self._weight, self._pinned, np.uint32(n), *scalars.motion, self._energy,
            np.uint32(self._steps % 3))  # fmt: skip
        self._cur = write
        self._steps += 1
        return self._kinetic

    # ----------------------------------------------------------------- copies back
    def download(self, layout: Layout) -> None:
        """Start copying this step's results back, unless a copy is in flight or one started under a frame ago."""
        now = self._clock()
        if self._pending is None and now - self._last_copy_at >= self.frame_interval:
            self._start_copy(layout)
            self._last_copy_at = now

    def _start_copy(self, layout: Layout) -> None:
        n = layout.n
        stepped = _event()
        stepped.record(self._compute)
        stepped.wait(self._copy)
        memory, stream = self.transfers, self._copy
        memory.download("positions", self._pos[self._cur], self._spare_pos[:n], stream)
        memory.download("velocities", self._vel[self._cur], self._spare_vel[:n], stream)
        memory.download("energy", self._energy[(self._steps - 1) % 3 :], self._energy_host, stream)
        copied = _event()
        copied.record(stream)
        self._pending = _Copy(copied, self._cur, self._steps)

    def _publish(self, layout: Layout) -> None:
        """Rotate the completed copy into the layout: copy target -> current -> previous -> next target."""
        pending = self._pending
        if pending is None or not _done(pending.event):
            return
        layout.pos, layout.pos_next, self._spare_pos = self._spare_pos, layout.pos, layout.pos_next
        layout.vel, layout.vel_next, self._spare_vel = self._spare_vel, layout.vel, layout.vel_next
        self._kinetic = float(self._energy_host[0])
        self._copied = pending.step
        self._pending = None

    def finish(self, layout: Layout) -> float | None:
        if self._rows < 0 or self._steps == 0:
            return None
        if self._pending is not None and self._pending.step != self._steps:
            self._pending.event.synchronize()
            self._publish(layout)
        if self._copied != self._steps:
            if self._pending is None:
                self._start_copy(layout)
            assert self._pending is not None
            self._pending.event.synchronize()
            self._publish(layout)
        return self._kinetic
