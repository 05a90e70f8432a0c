"""Every copy between host and device memory, and every device allocation, in one small wrapper.

The CUDA backend's claim is that a step moves nothing over the bus but the frames the stream
needs, and that changes move only what changed. Routing each copy through ``Transfers`` makes
that countable: the tests run the live path on the simulator and compare ``log`` with the claim,
and no module of ``physics.cuda`` calls numba-cuda's copy or allocation functions directly (a
test reads their source to be sure).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from numba import cuda as _cuda

cuda: Any = _cuda  # numba-cuda is not typed

__all__ = ["LOG_LENGTH", "Transfer", "Transfers"]

Direction = Literal["up", "down", "alloc", "pinned"]


@dataclass(frozen=True, slots=True)
class Transfer:
    """One copy (``up``: host to device, ``down``: device to host) or allocation, and its size."""

    direction: Direction
    name: str
    nbytes: int


LOG_LENGTH = 4096
"""Recent transfers kept in ``Transfers.log``: a server runs for days, and only the totals grow."""


class Transfers:
    """Copies and allocations: the recent ones in ``log`` (a caller clears it when it starts looking), and
    counts and bytes since the start in ``counts`` and ``bytes``, by direction."""

    def __init__(self) -> None:
        self.log: deque[Transfer] = deque(maxlen=LOG_LENGTH)
        self.counts: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()

    def _record(self, direction: Direction, name: str, nbytes: int) -> None:
        self.log.append(Transfer(direction, name, nbytes))
        self.counts[direction] += 1
        self.bytes[direction] += nbytes

    def device_array(self, name: str, shape: int | tuple[int, ...], dtype: Any) -> Any:
        """Uninitialised device memory."""
        array = cuda.device_array(shape, dtype)
        self._record("alloc", name, int(array.nbytes))
        return array

    def pinned_array(self, name: str, shape: int | tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
        """Zeroed page-locked host memory: copies into it run asynchronously on a stream."""
        array: npt.NDArray[Any] = cuda.pinned_array(shape, dtype)
        array.fill(0)
        self._record("pinned", name, int(array.nbytes))
        return array

    def to_device(self, name: str, host: npt.NDArray[Any], stream: Any = 0) -> Any:
        """New device memory holding a copy of ``host`` (an allocation and an upload)."""
        array = cuda.to_device(_nonempty(host), stream=stream)
        self._record("alloc", name, int(array.nbytes))
        self._record("up", name, int(array.nbytes))
        return array

    def upload(self, name: str, device: Any, host: npt.NDArray[Any], stream: Any = 0) -> None:
        """``device[:len(host)]`` = ``host``; returns once ``host`` may be reused (pageable memory is staged)."""
        if len(host) == 0:
            return
        device[: len(host)].copy_to_device(np.ascontiguousarray(host), stream=stream)
        self._record("up", name, int(host.nbytes))

    def download(self, name: str, device: Any, host: npt.NDArray[Any], stream: Any = 0) -> None:
        """``host`` = ``device[:len(host)]``, asynchronously on ``stream`` when ``host`` is page-locked."""
        if len(host) == 0:
            return
        device[: len(host)].copy_to_host(host, stream=stream)
        self._record("down", name, int(host.nbytes))

    def on_device(self, device: Any, source: Any, rows: int, stream: Any = 0) -> None:
        """``device[:rows]`` = ``source[:rows]``, both on the device (no bus traffic, not logged)."""
        if rows:
            device[:rows].copy_to_device(source[:rows], stream=stream)


def _nonempty(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``array``, or one zero of its dtype: numba-cuda cannot copy an empty array to the device."""
    return np.ascontiguousarray(array) if len(array) else np.zeros(1, array.dtype)
