"""The live table of communication links, kept as arrays so the 60 Hz loop can read it whole.

Intensity rises with every message and decays exponentially with silence. It is stored as
the value at a reference time plus that time, so decay costs nothing until someone reads
it, and reading every link is one vectorised expression.

A link is drawn by messages or by structure. A message counts: it raises the intensity by
``gain``, adds to ``message_count`` and ``bytes`` and moves ``last_message_at``. A
structural observation (two agents share a task, a parent and its child) does none of
that: it holds the intensity at ``observed_intensity`` and moves only ``observed_at``, so a
source that sees the same structure on every poll does not look like a chatty pair, and
a structure that is no longer seen fades exactly like a pair that fell silent. ``restore``
puts back a link someone else counted (a client re-sending what a restarted server lost)
and changes nothing when the table already knows as much.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from visionflow.errors import ConfigError
from visionflow.swarm.models import Link

__all__ = ["LinkKey", "LinkTable", "link_key"]

T = TypeVar("T", bound=np.generic)

LinkKey = tuple[str, str]
"""An unordered pair of agent ids, smaller id first."""


def link_key(a: str, b: str) -> LinkKey:
    """The one key of the link between ``a`` and ``b``, whichever of them sent."""
    return (a, b) if a <= b else (b, a)


class LinkTable:
    """Links between agents, one row each, removed by moving the last row into the hole."""

    def __init__(
        self,
        *,
        decay_tau_s: float = 20.0,
        gain: float = 0.3,
        min_intensity: float = 0.02,
        observed_intensity: float = 0.6,
        capacity: int = 256,
    ) -> None:
        if decay_tau_s <= 0:
            raise ConfigError("decay_tau_s", "must be positive")
        if not 0 < gain <= 1:
            raise ConfigError("gain", "must be in (0, 1]")
        if not min_intensity < observed_intensity <= 1:
            raise ConfigError("observed_intensity", "must be in (min_intensity, 1]")
        self.decay_tau_s = decay_tau_s
        self.gain = gain
        self.min_intensity = min_intensity
        self.observed_intensity = observed_intensity
        self._n = 0
        self._alloc(max(16, capacity))
        self._source: list[str] = []
        self._target: list[str] = []
        self._row: dict[LinkKey, int] = {}
        self._by_agent: dict[str, set[LinkKey]] = {}
        self.topology_version = 0
        """Bumped whenever a link is added or removed; weights change without bumping it."""

    def _alloc(self, capacity: int) -> None:
        """(Re)allocate the row arrays with room for ``capacity`` links, keeping the live rows."""
        n = self._n

        def grow(old: npt.NDArray[T] | None, dtype: type[T]) -> npt.NDArray[T]:
            new = np.zeros(capacity, dtype=dtype)
            if old is not None:
                new[:n] = old[:n]
            return new

        first = not hasattr(self, "_src_node")
        self._src_node: npt.NDArray[np.uint32] = grow(None if first else self._src_node, np.uint32)
        self._dst_node: npt.NDArray[np.uint32] = grow(None if first else self._dst_node, np.uint32)
        self._intensity: npt.NDArray[np.float32] = grow(None if first else self._intensity, np.float32)
        self._ref_at: npt.NDArray[np.float64] = grow(None if first else self._ref_at, np.float64)
        """When ``_intensity`` held: decay runs from here."""
        self._last_at: npt.NDArray[np.float64] = grow(None if first else self._last_at, np.float64)
        """The last message's time; NaN while the link has seen none."""
        self._observed_at: npt.NDArray[np.float64] = grow(None if first else self._observed_at, np.float64)
        """The last structural observation's time; NaN while it has had none."""
        self._count: npt.NDArray[np.int64] = grow(None if first else self._count, np.int64)
        self._bytes: npt.NDArray[np.int64] = grow(None if first else self._bytes, np.int64)
        self._inferred: npt.NDArray[np.bool_] = grow(None if first else self._inferred, np.bool_)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, key: object) -> bool:
        return key in self._row

    def _new_row(self, sender: str, receiver: str, sender_node: int, receiver_node: int, inferred: bool) -> int:
        if self._n == len(self._src_node):
            self._alloc(2 * self._n)
        row = self._n
        self._n += 1
        self._row[link_key(sender, receiver)] = row
        self._source.append(sender)
        self._target.append(receiver)
        self._src_node[row] = sender_node
        self._dst_node[row] = receiver_node
        self._intensity[row] = 0.0
        self._ref_at[row] = 0.0
        self._last_at[row] = math.nan
        self._observed_at[row] = math.nan
        self._count[row] = 0
        self._bytes[row] = 0
        self._inferred[row] = inferred
        self._by_agent.setdefault(sender, set()).add(link_key(sender, receiver))
        self._by_agent.setdefault(receiver, set()).add(link_key(sender, receiver))
        self.topology_version += 1
        return row

    def _row_for(self, sender: str, receiver: str, sender_node: int, receiver_node: int, inferred: bool
                 ) -> tuple[int, bool]:  # fmt: skip
        row = self._row.get(link_key(sender, receiver))
        if row is not None:
            if not inferred:
                self._inferred[row] = False
            return row, False
        return self._new_row(sender, receiver, sender_node, receiver_node, inferred), True

    def _raise_to(self, row: int, now: float, level: float) -> None:
        """Make the intensity at least ``level`` at ``now`` (or at the row's reference, if later)."""
        at = max(now, float(self._ref_at[row]))
        self._intensity[row] = max(self._decayed(row, at), level)
        self._ref_at[row] = at

    def record_message(
        self,
        sender: str,
        receiver: str,
        sender_node: int,
        receiver_node: int,
        now: float,
        nbytes: int = 0,
        *,
        inferred: bool = False,
        count: int = 1,
    ) -> bool:
        """Count ``count`` messages (a summary of several at ``now``); True when this created the link."""
        row, created = self._row_for(sender, receiver, sender_node, receiver_node, inferred)
        at = max(now, float(self._ref_at[row]))
        current = self._decayed(row, at)
        self._intensity[row] = 1.0 - (1.0 - current) * (1.0 - self.gain) ** max(1, count)
        self._ref_at[row] = at
        last = float(self._last_at[row])
        self._last_at[row] = now if math.isnan(last) else max(last, now)
        self._count[row] += count
        self._bytes[row] += nbytes
        return created

    def observe(
        self, sender: str, receiver: str, sender_node: int, receiver_node: int, now: float, *, inferred: bool = False
    ) -> bool:
        """Note that the link exists as structure at ``now``: held at ``observed_intensity``, not a message.

        True when this created the link.
        """
        row, created = self._row_for(sender, receiver, sender_node, receiver_node, inferred)
        self._raise_to(row, now, self.observed_intensity)
        seen = float(self._observed_at[row])
        self._observed_at[row] = now if math.isnan(seen) else max(seen, now)
        return created

    def restore(
        self,
        sender: str,
        receiver: str,
        sender_node: int,
        receiver_node: int,
        now: float,
        *,
        message_count: int,
        nbytes: int,
        last_message_at: float | None,
        intensity: float | None = None,
        inferred: bool = False,
    ) -> bool:
        """Know at least this much of a link: counts and the last message's time only grow.

        The intensity becomes at least what ``intensity`` at ``last_message_at`` (by default one
        message's worth, ``gain``) would have decayed to by now. Restoring the same totals twice
        changes nothing. True when it created the link.
        """
        row, created = self._row_for(sender, receiver, sender_node, receiver_node, inferred)
        self._count[row] = max(int(self._count[row]), message_count)
        self._bytes[row] = max(int(self._bytes[row]), nbytes)
        if last_message_at is not None:
            last = float(self._last_at[row])
            self._last_at[row] = last_message_at if math.isnan(last) else max(last, last_message_at)
            age = max(0.0, max(now, float(self._ref_at[row])) - last_message_at)
            level = self.gain if intensity is None else intensity
            self._raise_to(row, now, level * math.exp(-age / self.decay_tau_s))
        return created

    def _decayed(self, row: int, now: float) -> float:
        age = max(0.0, now - float(self._ref_at[row]))
        return float(self._intensity[row]) * math.exp(-age / self.decay_tau_s)

    def remove(self, key: LinkKey) -> bool:
        row = self._row.pop(key, None)
        if row is None:
            return False
        for agent in key:
            keys = self._by_agent.get(agent)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_agent[agent]
        last = self._n - 1
        if row != last:
            for arr in (
                self._src_node,
                self._dst_node,
                self._intensity,
                self._ref_at,
                self._last_at,
                self._observed_at,
                self._count,
                self._bytes,
                self._inferred,
            ):
                arr[row] = arr[last]
            self._source[row] = self._source[last]
            self._target[row] = self._target[last]
            self._row[link_key(self._source[row], self._target[row])] = row
        self._source.pop()
        self._target.pop()
        self._n = last
        self.topology_version += 1
        return True

    def remove_agent(self, agent_id: str) -> list[LinkKey]:
        """Drop every link touching ``agent_id``; returns the keys removed."""
        keys = list(self._by_agent.get(agent_id, ()))
        for key in keys:
            self.remove(key)
        return keys

    def intensities(self, now: float) -> npt.NDArray[np.float32]:
        """Every link's intensity at ``now``, in row order."""
        n = self._n
        age = np.maximum(np.float64(now) - self._ref_at[:n], 0.0)
        decayed: npt.NDArray[np.float32] = (self._intensity[:n] * np.exp(-age / self.decay_tau_s)).astype(np.float32)
        return decayed

    def prune(self, now: float) -> list[LinkKey]:
        """Remove links whose intensity decayed below ``min_intensity``."""
        weak = np.flatnonzero(self.intensities(now) < self.min_intensity)
        keys = [link_key(self._source[int(r)], self._target[int(r)]) for r in weak]
        for key in keys:
            self.remove(key)
        return keys

    def endpoints(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        """Source and target node ids of every row (views; copy before keeping)."""
        return self._src_node[: self._n], self._dst_node[: self._n]

    def get(self, key: LinkKey, now: float) -> Link | None:
        row = self._row.get(key)
        return None if row is None else self._link(row, now)

    def _link(self, row: int, now: float) -> Link:
        last = float(self._last_at[row])
        seen = float(self._observed_at[row])
        return Link(
            source=self._source[row],
            target=self._target[row],
            source_node=int(self._src_node[row]),
            target_node=int(self._dst_node[row]),
            intensity=self._decayed(row, now),
            message_count=int(self._count[row]),
            bytes=int(self._bytes[row]),
            last_message_at=None if math.isnan(last) else last,
            observed_at=None if math.isnan(seen) else seen,
            inferred=bool(self._inferred[row]),
        )

    def saved(self, key: LinkKey) -> Link | None:
        """The link as it is stored: its intensity as at its last message, before decay (what ``restore`` takes)."""
        row = self._row.get(key)
        return None if row is None else self._link(row, float(self._last_at[row]))

    def heard_since(self, t: float) -> list[LinkKey]:
        """Keys of the links whose last message is at or after ``t`` (one vectorised pass)."""
        rows = np.flatnonzero(self._last_at[: self._n] >= t)
        return [link_key(self._source[int(r)], self._target[int(r)]) for r in rows]

    def links(self, now: float) -> list[Link]:
        return [self._link(row, now) for row in range(self._n)]

    def links_touching(self, node_ids: npt.NDArray[np.uint32], now: float) -> list[Link]:
        """Links with at least one end among ``node_ids`` (one vectorised pass over the table)."""
        n = self._n
        touching = np.isin(self._src_node[:n], node_ids) | np.isin(self._dst_node[:n], node_ids)
        return [self._link(int(row), now) for row in np.flatnonzero(touching)]

    def keys_of(self, agent_id: str) -> set[LinkKey]:
        return set(self._by_agent.get(agent_id, ()))
