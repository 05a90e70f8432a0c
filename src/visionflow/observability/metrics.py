"""Every Prometheus metric VisionFlow exports, defined in one place.

``Metrics`` is built once per process around its own ``CollectorRegistry`` (tests build
fresh ones). Values that describe state (agents, clients) are read at scrape time through
callbacks instead of being set on every tick.

Two counters keep the bare names the operations manual's queries use
(``rate(visionflow_binary_bytes_transmitted[5m])``): prometheus_client would publish a
``Counter`` as ``..._total``, so these are exposed as untyped monotonic series under the
exact names, which ``rate()`` treats the same way.

The manual reads ``visionflow_websocket_latency_ms``, ``visionflow_gpu_processing_duration_seconds``,
``visionflow_binary_encoding_duration_seconds`` and ``visionflow_communication_intensity_histogram``
as plain instant vectors, so they are gauges (a histogram exposes only ``_bucket``/``_sum``/``_count``);
the latency distribution is kept as the histogram ``visionflow_websocket_round_trip_ms``.
Gauges whose value is some other object's state are ``CallbackGauge``s, read at scrape time, so the
tick pays nothing for them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
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

__all__ = [
    "DISCONNECT_REASONS",
    "INGEST_REJECT_REASONS",
    "INTENSITY_BUCKETS",
    "MCP_ERROR_KINDS",
    "OTLP_REJECT_REASONS",
    "OTLP_SPAN_KINDS",
    "STAGES",
    "STORE_DROP_KINDS",
    "STORE_WRITE_KINDS",
    "TICK_BUCKETS",
    "CallbackGauge",
    "LatencyWindow",
    "Metrics",
    "MonotonicCounter",
]

del GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR  # the default registry is not used

STAGES = ("source", "swarm", "physics", "encode", "broadcast", "total")
"""The stages of a tick, the only values of the ``stage`` label."""

MCP_ERROR_KINDS = ("connect", "timeout", "tool", "malformed")
"""The only values of ``visionflow_mcp_errors_total``'s ``kind`` label."""

INGEST_REJECT_REASONS = ("auth", "too_large", "invalid", "conflict")
"""The only values of ``visionflow_ingest_rejected_total``'s ``reason`` label."""

OTLP_SPAN_KINDS = ("agent", "tool", "llm", "handoff", "other", "invalid")
"""The only values of ``visionflow_otlp_spans_total``'s ``kind`` label (``invalid``: refused, bad ids)."""

OTLP_REJECT_REASONS = ("auth", "too_large", "malformed", "unsupported", "disabled")
"""The only values of ``visionflow_otlp_rejected_total``'s ``reason`` label."""

STORE_WRITE_KINDS = ("records", "positions", "kpi", "spool", "maintenance")
"""What a store write wrote: the only values of ``visionflow_store_write_duration_seconds``' ``kind``."""
STORE_DROP_KINDS = ("positions", "kpi", "refused")
"""What the store dropped: position rows and KPI samples past the queue bound, records the database refused."""

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


DISCONNECT_REASONS = (
    "normal_closure", "going_away", "abnormal_closure", "protocol_error", "policy_violation", "message_too_big",
    "server_error", "other", "stalled", "server_full", "server_shutdown", "rate_limited",
)  # fmt: skip
"""Every value of the disconnections ``reason`` label (see ``stream.hub.disconnect_reason``)."""

INTENSITY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
"""Upper bounds of the communication-intensity distribution (intensity is about 0..1, messages push it up)."""

Samples = Iterable[tuple[Sequence[str], float]]


class CallbackGauge(Collector):
    """A gauge family whose samples come from ``read()`` at scrape time.

    ``read`` returns ``(label values, value)`` pairs; until ``bind`` is called the family is
    exposed with no samples (or one 0 sample when it has no labels).
    """

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
        self._read: Callable[[], Samples] | None = None
        if registry is not None:
            registry.register(self)

    def bind(self, read: Callable[[], Samples]) -> None:
        self._read = read

    def describe(self) -> Iterable[Metric]:
        yield Metric(self.name, self.documentation, "gauge")

    def collect(self) -> Iterable[Metric]:
        family = Metric(self.name, self.documentation, "gauge")
        samples: Samples = [((), 0.0)] if self._read is None and not self.labelnames else ()
        if self._read is not None:
            samples = self._read()
        for labelvalues, value in samples:
            family.add_sample(self.name, dict(zip(self.labelnames, labelvalues, strict=True)), float(value))
        yield family


class LatencyWindow:
    """Round trips of the last ``window_s`` seconds; ``mean()`` is the latency gauge's value.

    ``record`` is called once per client ping (about once a second per client), never per tick.
    """

    def __init__(self, window_s: float = 30.0, maxlen: int = 4096, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque(maxlen=maxlen)

    def record(self, ms: float) -> None:
        self._samples.append((self._clock(), ms))

    def mean(self) -> float:
        """Mean round trip in the window, NaN when no client pinged in it."""
        cutoff = self._clock() - self.window_s
        recent = [ms for t, ms in list(self._samples) if t >= cutoff]
        return sum(recent) / len(recent) if recent else math.nan


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
        for component in ("pipeline", "physics", "source", "stream", "api", "store"):
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
            "visionflow_websocket_round_trip_ms",
            "Round trip from sending a frame to the client's ping naming it, in milliseconds.",
            buckets=(1, 2, 5, 8, 16, 25, 33, 50, 100, 250, 1000),
            registry=r,
        )
        self.physics_kinetic_energy = Gauge(
            "visionflow_physics_kinetic_energy",
            "Kinetic energy of the layout after the last step.",
            registry=r,
        )

        # The manual's dashboard reads the fetch time as an instant value, so the last fetch is a
        # gauge under that name and the distribution a histogram beside it.
        self.mcp_fetch_duration = Gauge(
            "visionflow_mcp_fetch_duration_seconds",
            "Time the last poll took to fetch every mapped tool from the MCP orchestrator.",
            registry=r,
        )
        self.mcp_fetch_latency = Histogram(
            "visionflow_mcp_fetch_latency_seconds",
            "Distribution of MCP poll fetch times.",
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
        self.otlp_spans = Counter(
            "visionflow_otlp_spans",
            "Spans received on /v1/traces by what they showed: agent, tool, llm, handoff, other; invalid: refused.",
            ["kind"],
            registry=r,
        )
        for kind in OTLP_SPAN_KINDS:
            self.otlp_spans.labels(kind)
        self.otlp_rejected = Counter(
            "visionflow_otlp_rejected", "OTLP export requests refused whole, by reason.", ["reason"], registry=r
        )
        for reason in OTLP_REJECT_REASONS:
            self.otlp_rejected.labels(reason)
        self.otlp_agents = Gauge(
            "visionflow_otlp_agents", "Agents in the live swarm that came from OpenTelemetry traces.", registry=r
        )
        self._define_pipeline_metrics(r)
        self._define_store_metrics(r)

    def _define_store_metrics(self, r: CollectorRegistry) -> None:
        """The store's writer: how much waits, how long writes take, what had to be dropped."""
        self.store_queue_depth = CallbackGauge(
            "visionflow_store_queue_depth",
            "Waiting to be written: records and position rows in the queue, records in the spool file.",
            ["kind"],
            registry=r,
        )
        self.store_write_duration = Histogram(
            "visionflow_store_write_duration_seconds",
            "Time one store transaction took, by what it wrote.",
            ["kind"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        for kind in STORE_WRITE_KINDS:
            self.store_write_duration.labels(kind)
        self.store_dropped = Counter(
            "visionflow_store_dropped",
            "Position rows and KPI samples dropped because the database fell behind, and records it refused.",
            ["kind"],
            registry=r,
        )
        for kind in STORE_DROP_KINDS:
            self.store_dropped.labels(kind)

    def _define_pipeline_metrics(self, r: CollectorRegistry) -> None:
        """The dashboards' per-stage, protocol and stream series (see the operations manual)."""
        for reason in DISCONNECT_REASONS:  # series exist before the first disconnect, so rate() has a zero
            self.websocket_disconnections.inc(0, reason)
        self.websocket_latency_window = LatencyWindow()
        self.websocket_latency_ms = Gauge(
            "visionflow_websocket_latency_ms",
            "Mean WebSocket round trip (frame sent to the client's ping naming it) over the last 30 s, in ms.",
            registry=r,
        )
        self.websocket_latency_ms.set_function(self.websocket_latency_window.mean)
        self.agent_processing_time_ms = Gauge(
            "visionflow_agent_processing_time_ms",
            "Time the last tick spent processing agent updates (source, swarm model and physics), in ms.",
            registry=r,
        )
        self.network_bytes = Counter(
            "visionflow_network_bytes",
            "Bytes written to and read from WebSocket clients, binary and text messages.",
            ["direction"],
            registry=r,
        )
        self.network_sent = self.network_bytes.labels("sent")
        self.network_received = self.network_bytes.labels("received")
        self.binary_protocol_compression_ratio = Gauge(
            "visionflow_binary_protocol_compression_ratio",
            "Size of a sample of the live state as JSON divided by its size as binary records (higher is better).",
            registry=r,
        )
        self.binary_protocol_accuracy = Gauge(
            "visionflow_binary_protocol_accuracy",
            "Percent of sampled records that survive an encode/decode round trip bit for bit.",
            registry=r,
        )
        self.binary_protocol_efficiency = Gauge(
            "visionflow_binary_protocol_efficiency",
            "Percent of full-frame bytes that delta frames avoided sending (moving average over about 10 s).",
            registry=r,
        )
        self.gpu_processing_duration = CallbackGauge(
            "visionflow_gpu_processing_duration_seconds",
            "Duration of the last physics step, labelled with the backend that ran it (cuda, cpu or reference).",
            ["backend"],
            registry=r,
        )
        self.binary_encoding_duration = Gauge(
            "visionflow_binary_encoding_duration_seconds",
            "Duration of the last tick's binary frame encoding.",
            registry=r,
        )
        self.communication_intensity_histogram = CallbackGauge(
            "visionflow_communication_intensity_histogram",
            "Communication links whose current intensity is at most le (cumulative, for heatmaps).",
            ["le"],
            registry=r,
        )
        self.physics_backend = CallbackGauge(
            "visionflow_physics_backend_info",
            "1 for the physics backend in use, labelled with the one requested.",
            ["requested", "backend"],
            registry=r,
        )
        self.physics_gpu_fallback = Gauge(
            "visionflow_physics_gpu_fallback",
            "1 when the GPU was asked for (or auto-detected) but physics runs on the CPU.",
            registry=r,
        )

    def read_at_scrape(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Make ``gauge`` report ``read()`` whenever it is scraped."""
        gauge.set_function(read)
