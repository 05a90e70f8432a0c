"""The calls both reporters share: they only build an item and queue it."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from visionflow.client._core import Kind, RejectedItem, ReporterCore, ReporterStats, Step

__all__ = ["RejectedCallback", "ReporterApi", "UnmatchedCallback"]

log = logging.getLogger("visionflow.client")

RejectedCallback = Callable[[list[RejectedItem]], None]
"""Told about items the server refused (validation, conflict, auth); they are not sent again."""

UnmatchedCallback = Callable[[list[dict[str, Any]]], None]
"""Told about messages the server dropped because it knew neither or one of their agents."""


class ReporterApi(ABC):
    """``spawn``, ``update``, ``message`` and ``finish``: enqueue and return at once."""

    _core: ReporterCore
    _on_rejected: RejectedCallback | None
    _on_unmatched: UnmatchedCallback | None

    @abstractmethod
    def _put(self, kind: Kind, item: Any) -> None: ...

    def _tell(self, step: Step) -> None:
        """Hand refused items and unmatched messages to the user's callbacks, which must not kill the sender."""
        try:
            if self._on_rejected is not None and step.rejected:
                self._on_rejected(step.rejected)
            if self._on_unmatched is not None and step.unmatched:
                self._on_unmatched(step.unmatched)
        except Exception:
            log.exception("visionflow reporter: a callback raised")

    @property
    def stats(self) -> ReporterStats:
        """Counts so far (acknowledged, rejected, unmatched_messages, restarts, ...); read-only."""
        return self._core.stats

    def spawn(self, agent_id: str, *, type: str = "specialist", name: str | None = None,
              parent: str | None = None, **fields: Any) -> None:  # fmt: skip
        """Report a new agent (or re-report one): ``fields`` are any of the Agent fields."""
        item = {"id": agent_id, "type": type, **fields}
        if name is not None:
            item["name"] = name
        if parent is not None:
            item["parent_id"] = parent
        self._put("agent", item)

    def update(self, agent_id: str, **fields: Any) -> None:
        """Change some fields of an agent: ``status="busy"``, ``tokens=1200``, ``current_task="..."``."""
        self._put("agent", {"id": agent_id, **fields})

    def message(self, sender: str, receiver: str, nbytes: int = 0, at: float | None = None) -> None:
        """Report a message between two agents (it draws or strengthens their link)."""
        self._put("message", {"from": sender, "to": receiver, "bytes": nbytes, "at": at if at else time.time()})

    def finish(self, agent_id: str) -> None:
        """Report that an agent is gone."""
        self._put("remove", agent_id)
