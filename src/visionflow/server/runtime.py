"""Runtime: builds every stage from Settings, starts them in order, and stops them cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import numpy as np

from visionflow import __version__
from visionflow.observability.logging import log_event
from visionflow.observability.metrics import Metrics
from visionflow.physics import PhysicsEngine, SimParams, resolve_physics, warm_up
from visionflow.protocol.binary import DeltaEncoder
from visionflow.server.instrumentation import instrument
from visionflow.server.news import SwarmNews
from visionflow.server.persistence import Persistence, SampledSink
from visionflow.server.pipeline import Pipeline
from visionflow.server.replay import HistoryReplay
from visionflow.server.settings import Settings
from visionflow.sources import (
    AgentSource,
    MCPSource,
    MCPTarget,
    OtlpIngest,
    OtlpSource,
    PushIngest,
    PushSource,
    SimulatedSource,
    load_profile,
)
from visionflow.stream import HubSettings, StreamHub
from visionflow.swarm import SwarmState

__all__ = ["Runtime", "build_source"]

log = logging.getLogger("visionflow.server")

STALL_UNHEALTHY_S = 2.0
"""The loop counts as stuck when no tick finished for this long."""


def build_source(settings: Settings, metrics: Metrics, ingest: PushIngest, otlp: OtlpIngest) -> AgentSource:
    """The source ``settings.source`` names; ``ConfigError`` names a bad MCP setting."""
    if settings.source == "push":
        return PushSource(ingest)
    if settings.source == "otlp":
        return OtlpSource(otlp)
    if settings.source == "mcp":
        target = MCPTarget.from_settings(settings.mcp_command, settings.mcp_url, settings.mcp_transport,
                                         env=settings.mcp_env, cwd=settings.mcp_cwd,
                                         inherit_env=settings.mcp_inherit_env)  # fmt: skip
        return MCPSource(
            target.connect,
            load_profile(settings.mcp_profile),
            metrics,
            describe=target.describe(),
            stderr=target.stderr_lines,
            poll_busy_s=settings.mcp_poll_busy_s,
            poll_idle_s=settings.mcp_poll_idle_s,
            poll_max_s=settings.mcp_poll_max_s,
            timeout_s=settings.mcp_timeout_s,
            backoff_max_s=settings.mcp_backoff_max_s,
            stale_after_s=settings.mcp_stale_s,
        )
    return SimulatedSource(settings.agents, seed=settings.seed)


class Runtime:
    """All stages of one server process."""

    def __init__(
        self, settings: Settings, *, metrics: Metrics | None = None, source: AgentSource | None = None
    ) -> None:
        self.settings = settings
        self.instance_id = uuid.uuid4().hex
        """New at every start: clients that see it change know the server restarted."""
        self.metrics = metrics or Metrics()
        self.state = SwarmState()
        self.ingest = PushIngest(self.state, self.metrics)
        self.otlp = OtlpIngest(self.state, self.metrics, idle_s=settings.otlp_idle_s, expire_s=settings.otlp_expire_s)
        self.source: AgentSource = source or build_source(settings, self.metrics, self.ingest, self.otlp)
        self.physics = resolve_physics(settings.physics)
        self.engine = PhysicsEngine(SimParams(), backend=self.physics.backend, seed=settings.seed,
                                    frame_hz=settings.tick_hz)  # fmt: skip
        # The hub pulls snapshots from the news; the pipeline feeds the news and publishes to the hub.
        news = SwarmNews(self.state, self.engine, tick_hz=settings.tick_hz, metadata_hz=settings.metadata_hz)
        self.hub = StreamHub(
            HubSettings(
                host=settings.host,
                port=settings.ws_port,
                path=settings.ws_path,
                max_connections=settings.max_connections,
                max_buffer_bytes=settings.max_buffer_bytes,
                stall_timeout_s=settings.stall_timeout_s,
                compression=settings.compression,
                max_replays=settings.max_replays,
            ),
            self.metrics,
            news.snapshot,
            replay=None
            if not settings.store
            else HistoryReplay(
                lambda: self.persistence.store,
                lookback_s=settings.positions_retention_days * 86_400.0,
                link_decay_s=self.state.links.decay_tau_s,
                link_min_intensity=self.state.links.min_intensity,
            ),
        )
        self.persistence = Persistence(settings, self.state, self.engine, self.ingest, self.metrics,
                                       source_name=self.source.name, clients=lambda: self.hub.client_count)  # fmt: skip
        self.pipeline = Pipeline(
            self.state,
            self.source,
            self.engine,
            self.metrics,
            news=news,
            hub=SampledSink(self.hub, self.persistence.after_tick),
            tick_hz=settings.tick_hz,
            delta=DeltaEncoder(threshold=settings.delta_threshold, full_every=settings.full_frame_every),
            physics_thread_threshold=settings.physics_thread_threshold,
            slow_tick_ms=settings.slow_tick_ms,
        )
        self.started_at = time.monotonic()
        self._stop = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._otlp_sweeps: asyncio.Task[None] | None = None
        self.metrics.read_at_scrape(self.metrics.active_agents, lambda: len(self.state))
        self.metrics.read_at_scrape(self.metrics.websocket_connections, lambda: self.hub.client_count)
        self.metrics.read_at_scrape(self.metrics.otlp_agents, lambda: len(self.otlp.owned))
        self.wire_quality = instrument(self.metrics, self.pipeline, requested=self.physics.requested,
                                       backend=self.physics.backend.value,
                                       fallback=self.physics.fallback_reason is not None)  # fmt: skip

    async def start(self) -> None:
        if self.physics.fallback_reason:
            log_event(log, "WARN", "physics_fallback", category="system",
                      requested=self.physics.requested, backend=self.physics.backend.value,
                      reason=self.physics.fallback_reason)  # fmt: skip
        await self.persistence.open()  # the restored swarm first: sources then add to it
        await self.source.start(self.state, time.time())
        self.pipeline.run_swarm(time.time())
        self.persistence.place_restored()
        self.pipeline.forget_pending_changes()
        warm_up(self.physics.backend, self.engine.params)
        await self.hub.start()
        self._loop_task = asyncio.create_task(self.pipeline.run(self._stop), name="visionflow-pipeline")
        self.persistence.start()
        if self.settings.otlp and not isinstance(self.source, OtlpSource):
            self._otlp_sweeps = asyncio.create_task(self._sweep_otlp(), name="visionflow-otlp-sweeps")
        log_event(log, "INFO", "pipeline_started", category="system", agents=len(self.state),
                  backend=self.physics.backend.value, tick_hz=self.settings.tick_hz)  # fmt: skip

    async def _sweep_otlp(self) -> None:
        """Age traced agents once a second beside another source (alone, ``OtlpSource.tick`` does it)."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=1.0)
            try:
                self.otlp.sweep()
            except Exception:
                self.metrics.errors.labels("source").inc()
                log.exception("otlp_sweep_failed")

    def set_physics_params(self, changes: dict[str, Any]) -> SimParams:
        """Apply parameter changes at run time; a bad value raises ConfigError and changes nothing."""
        params = self.engine.params.replace(**changes)
        self.engine.params = params
        self.pipeline.wake()
        log_event(log, "INFO", "physics_params_changed", category="application", **changes)
        return params

    async def stop(self) -> None:
        self._stop.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._otlp_sweeps is not None:
            await self._otlp_sweeps
        await self.hub.stop()
        await self.source.stop()
        await self.persistence.close()
        log_event(log, "INFO", "pipeline_stopped", category="system", ticks=self.pipeline.seq)

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at

    def health(self) -> dict[str, Any]:
        """The body of ``GET /api/health``."""
        now = time.monotonic()
        last = self.pipeline.last_tick_at
        loop_age = None if last is None else now - last
        ticking = loop_age is not None and loop_age < STALL_UNHEALTHY_S
        engine = self.engine
        finite = bool(np.isfinite(engine.positions).all())
        source_status = self.source.status()
        physics = {
            "status": "ok" if finite and not self.physics.fallback_reason else "degraded" if finite else "error",
            "backend": self.physics.backend.value,
            "requested": self.physics.requested,
            "fallback": self.physics.fallback_reason is not None,
            "fallback_reason": self.physics.fallback_reason,
            "nodes": engine.n,
            "edges": engine.edge_count,
            "kinetic_energy": round(engine.kinetic_energy, 6),
            "settled": engine.settled,
            "resting": self.pipeline.resting,
            "method": engine.method.value,
            "tick_ms": round(self.pipeline.last_times.total * 1000.0, 4),
            "tick_hz": self.settings.tick_hz,
            "overruns": self.pipeline.overruns,
        }
        troubled = source_status.stale or source_status.degraded
        source = {
            "status": "error" if not source_status.connected else "degraded" if troubled else "ok",
            **source_status.to_dict(time.time()),
        }
        if self.settings.otlp and not isinstance(self.source, OtlpSource):
            source["otlp"] = self.otlp.status()
        stream = {"status": "ok" if self.hub.bound_port else "error", "clients": self.hub.client_count,
                  "port": self.hub.bound_port, "path": self.settings.ws_path}  # fmt: skip
        components = {"physics": physics, "source": source, "store": self.persistence.health(), "stream": stream}
        if not ticking or physics["status"] == "error" or stream["status"] == "error":
            status = "unhealthy"
        elif any(c["status"] not in ("ok", "disabled") for c in components.values()):
            status = "degraded"
        else:
            status = "healthy"
        return {
            "status": status,
            "version": __version__,
            "instance_id": self.instance_id,
            "uptime_s": round(self.uptime_s, 3),
            "loop_age_s": None if loop_age is None else round(loop_age, 4),
            "components": components,
        }
