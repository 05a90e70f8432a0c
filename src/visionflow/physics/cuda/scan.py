"""Exclusive prefix sums of int32 device arrays, computed on the device (numba-cuda).

The grid multipole repulsion needs, every step, where each finest cell's run of nodes starts:
an exclusive scan over up to 8**8 cell counts. Copying the counts to the host and back would
cost more than the whole force pass, so the scan runs where the counts are.

``scan_chunks`` scans ``CHUNK`` values per block: the block loads them into shared memory
(coalesced), each thread adds up ``ITEMS`` neighbouring values, the threads' totals are scanned
in shared memory (Hillis-Steele, log2(BLOCK) steps) and every thread writes its values' exclusive
prefixes. The chunk totals are scanned the same way, recursively, and ``add_chunk_offsets``
adds each chunk's offset back. With 1024-value chunks two or three passes cover any grid here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda as _cuda
from numba import int32

from visionflow.physics.cuda.kernels import BLOCK
from visionflow.physics.cuda.transfers import Transfers

cuda: Any = _cuda  # numba-cuda's intrinsics are not typed

__all__ = ["CHUNK", "DeviceScan", "add_chunk_offsets", "scan_chunks"]

ITEMS = 8
"""Values each thread scans serially: fewer shared-memory steps per value than one value per thread."""
CHUNK = BLOCK * ITEMS
"""Values one block scans."""


@cuda.jit
def scan_chunks(values, n, out, totals):  # type: ignore[no-untyped-def]
    """``out[i]`` = sum of ``values`` before i within i's chunk; ``totals[b]`` = the sum of chunk b."""
    chunk = cuda.shared.array(shape=CHUNK, dtype=int32)
    run = cuda.shared.array(shape=BLOCK, dtype=int32)
    t = cuda.threadIdx.x
    base = cuda.blockIdx.x * CHUNK
    for r in range(ITEMS):
        k = r * BLOCK + t
        chunk[k] = values[base + k] if base + k < n else 0
    cuda.syncthreads()
    own = 0
    for r in range(ITEMS):
        own += chunk[t * ITEMS + r]
    run[t] = own
    cuda.syncthreads()
    step = 1
    while step < BLOCK:
        below = run[t - step] if t >= step else 0
        cuda.syncthreads()
        run[t] += below
        cuda.syncthreads()
        step *= 2
    acc = run[t] - own
    for r in range(ITEMS):
        k = t * ITEMS + r
        value = chunk[k]
        chunk[k] = acc
        acc += value
    cuda.syncthreads()
    for r in range(ITEMS):
        k = r * BLOCK + t
        if base + k < n:
            out[base + k] = chunk[k]
    if t == BLOCK - 1:
        totals[cuda.blockIdx.x] = run[t]


@cuda.jit
def add_chunk_offsets(out, n, offsets):  # type: ignore[no-untyped-def]
    """``out[i] += offsets[chunk of i]``, one block per chunk: per-chunk prefixes become prefixes of the whole."""
    t = cuda.threadIdx.x
    base = cuda.blockIdx.x * CHUNK
    offset = offsets[cuda.blockIdx.x]
    for r in range(ITEMS):
        k = base + r * BLOCK + t
        if k < n:
            out[k] += offset


class DeviceScan:
    """The scratch arrays and launches of an exclusive scan of up to ``capacity`` values."""

    def __init__(self, capacity: int, transfers: Transfers | None = None) -> None:
        self.capacity = capacity
        self._totals: list[Any] = []  # chunk totals of each pass
        self._offsets: list[Any] = []  # their exclusive scans
        memory = transfers or Transfers()
        size = capacity
        while True:
            chunks = max(1, math.ceil(size / CHUNK))
            self._totals.append(memory.device_array("scan totals", chunks, np.int32))
            if chunks == 1:
                break
            self._offsets.append(memory.device_array("scan offsets", chunks, np.int32))
            size = chunks

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self._totals + self._offsets)

    def run(self, values: Any, n: int, out: Any, stream: Any = 0) -> None:
        """``out[:n]`` = exclusive prefix sums of ``values[:n]`` (``n`` at most ``capacity``), on ``stream``."""
        if n > self.capacity:
            raise ValueError(f"scan of {n} values, room for {self.capacity}")
        self._pass(values, n, out, 0, stream)

    def _pass(self, values: Any, n: int, out: Any, depth: int, stream: Any) -> None:
        chunks = max(1, math.ceil(n / CHUNK))
        scan_chunks[chunks, BLOCK, stream](values, np.uint32(n), out, self._totals[depth])
        if chunks > 1:
            offsets = self._offsets[depth]
            self._pass(self._totals[depth], chunks, offsets, depth + 1, stream)
            add_chunk_offsets[chunks, BLOCK, stream](out, np.uint32(n), offsets)
