"""Every Prometheus metric VisionFlow exports, defined in one place.

``Metrics`` is built once per process around its own ``CollectorRegistry`` (tests build
fresh ones). Values that describe state (agents, clients) are read at scrape time through
callbacks instead of being set on every tick.

Two counters keep the bare names the operations manual's queries use
(``rate(visionflow_binary_bytes_transmitted[5m])``): prometheus_client would publish a
``Counter`` as ``..._total``, so these are exposed as untyped monotonic series under the
exact names, which ``rate()`` treats the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from visionflow import __version__

__all__ = ["INGEST_REJECT_REASONS", "MCP_ERROR_KINDS", "STAGES", "TICK_BUCKETS", "Metrics", "MonotonicCounter"]

del GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR  # the default registry is not used

STAGES = ("source", "swarm", "physics", "encode", "broadcast", "total")
"""The stages of a tick, the only values of the ``stage`` label."""

MCP_ERROR_KINDS = ("connect", "timeout", "tool", "malformed")
"""The only values of ``visionflow_mcp_errors_total``'s ``kind`` label."""

INGEST_REJECT_REASONS = ("auth", "too_large", "invalid", "conflict")
"""The only values of ``visionflow_ingest_rejected_total``'s ``reason`` label."""

# A tick at 60 Hz lasts 16.7 ms; resolve well below it, and a few overruns above.
TICK_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.0167, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip


class MonotonicCounter(Collector):
    """A counter exposed under its exact name as an untyped series (see the module docstring)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def inc(self, amount: float = 1.0, *labelvalues: str) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}")
        with self._lock:
            self._values[labelvalues] = self._values.get(labelvalues, 0.0) + amount

    def value(self, *labelvalues: str) -> float:
        return self._values.get(labelvalues, 0.0)

    def describe(self) -> Iterable[Metric]:
        yield Metric(self.name, self.documentation, "unknown")

    def collect(self) -> Iterable[Metric]:
        family = Metric(self.name, self.documentation, "unknown")
        with self._lock:
            items = list(self._values.items()) or ([((), 0.0)] if not self.labelnames else [])
        for labelvalues, value in items:
            family.add_sample(self.name, dict(zip(self.labelnames, labelvalues, strict=True)), value)
        yield family


class Metrics:
    """The process's metrics, each created exactly once."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        if process_metrics:
            ProcessCollector(registry=r)
        self.build_info = Info("visionflow_build", "Version of the running VisionFlow.", registry=r)
        self.build_info.info({"version": __version__})

        self.active_agents = Gauge("visionflow_active_agents", "Agents in the live swarm.", registry=r)
        self.websocket_connections = Gauge(
            "visionflow_websocket_connections", "Open binary-stream WebSocket connections.", registry=r
        )
        self.processing_duration = Histogram(
            "visionflow_processing_duration_seconds",
            "Time spent in each stage of a tick.",
            ["stage"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.stage = {stage: self.processing_duration.labels(stage) for stage in STAGES}
        self.processing_duration_ms = Gauge(
            "visionflow_processing_duration_ms",
            "Duration of the last whole tick in milliseconds.",
            registry=r,
        )
        self.binary_bytes_transmitted = MonotonicCounter(
            "visionflow_binary_bytes_transmitted",
            "Bytes of binary frames written to WebSocket clients (counts up).",
            registry=r,
        )
        self.websocket_disconnections = MonotonicCounter(
            "visionflow_websocket_disconnections",
            "WebSocket clients that went away, by reason (counts up).",
            ["reason"],
            registry=r,
        )
        self.errors = Counter("visionflow_errors", "Errors by component.", ["component"], registry=r)
        for component in ("pipeline", "physics", "source", "stream", "api"):
            self.errors.labels(component)
        self.tick_overruns = Counter(
            "visionflow_tick_overruns", "Ticks that took longer than the tick period.", registry=r
        )
        self.ticks = Counter("visionflow_ticks", "Ticks completed by the 60 Hz loop.", registry=r)
        self.frames_dropped = Counter(
            "visionflow_frames_dropped", "Frames not sent to a client because it was not reading.", registry=r
        )
        self.frames_sent = Counter("visionflow_frames_sent", "Binary frames written to WebSocket clients.", registry=r)
        self.websocket_latency = Histogram(
            "visionflow_websocket_latency_ms",
            "Round trip from sending a frame to the client's ping naming it, in milliseconds.",
            buckets=(1, 2, 5, 8, 16, 25, 33, 50, 100, 250, 1000),
            registry=r,
        )
        self.physics_kinetic_energy = Gauge(
            "visionflow_physics_kinetic_energy",
            "Kinetic energy of the layout after the last step.",
            registry=r,
        )

        self.mcp_fetch_duration = Histogram(
            "visionflow_mcp_fetch_duration_seconds",
            "Time to fetch one poll of every mapped tool from the MCP orchestrator.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.mcp_up = Gauge("visionflow_mcp_up", "1 while the MCP orchestrator session is connected.", registry=r)
        self.mcp_errors = Counter("visionflow_mcp_errors", "MCP source failures by kind.", ["kind"], registry=r)
        for kind in MCP_ERROR_KINDS:
            self.mcp_errors.labels(kind)
        self.mcp_data_age = Gauge(
            "visionflow_mcp_data_age_seconds", "Age of the last good agent data from the MCP orchestrator.", registry=r
        )
        self.ingest_items = Counter(
            "visionflow_ingest_items", "Items applied by the push ingest API, by kind.", ["kind"], registry=r
        )
        for kind in ("agent", "removal", "message"):
            self.ingest_items.labels(kind)
        self.ingest_rejected = Counter(
            "visionflow_ingest_rejected", "Push ingest requests refused, by reason.", ["reason"], registry=r
        )
        for reason in INGEST_REJECT_REASONS:
            self.ingest_rejected.labels(reason)

    def read_at_scrape(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Make ``gauge`` report ``read()`` whenever it is scraped."""
        gauge.set_function(read)
