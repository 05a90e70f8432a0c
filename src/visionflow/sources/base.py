"""The AgentSource protocol: anything that fills a SwarmState with agents and messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from visionflow.swarm import SwarmState

__all__ = ["AgentSource", "SourceStatus"]


@dataclass(slots=True)
class SourceStatus:
    """What health checks and the API report about a source."""

    name: str
    connected: bool
    last_update: float | None = None
    error: str | None = None
    """What is wrong now; None once it works again."""
    stale: bool = False
    """The agents shown are not current (the source lost its orchestrator, or its data is old)."""
    degraded: bool = False
    """It works, but not fully: the last poll failed, or the orchestrator lacks tools it needs (``error`` says)."""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, now: float) -> dict[str, Any]:
        age = None if self.last_update is None else max(0.0, now - self.last_update)
        return {
            "name": self.name,
            "connected": self.connected,
            "data_age_s": None if age is None else round(age, 3),
            "error": self.error,
            "stale": self.stale,
            "degraded": self.degraded,
            **self.detail,
        }


@runtime_checkable
class AgentSource(Protocol):
    """A producer of swarm state.

    ``start`` may launch background tasks (polling an orchestrator); ``tick`` runs inside
    the 60 Hz loop and must return quickly; ``stop`` ends whatever ``start`` began.
    """

    name: str

    async def start(self, state: SwarmState, now: float) -> None: ...

    async def stop(self) -> None: ...

    def tick(self, state: SwarmState, now: float, dt: float) -> None: ...

    def status(self) -> SourceStatus: ...
