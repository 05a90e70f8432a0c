"""OpenTelemetry spans for the stages of a tick and for MCP calls, free when tracing is off.

The 60 Hz loop already times every stage, so a traced tick is written *after* it finished,
from the recorded times (a ``tick`` span with one child per stage): the tick itself runs
no tracing code at all, and when tracing is off the whole cost is one attribute test.
Only every ``tick_every``-th tick and every slow tick is traced, so Jaeger gets about one
tick a second plus each one worth looking at.

Other code opens spans with ``span(name, **attributes)`` (the MCP source, around each
call): with tracing off it returns one shared ``nullcontext``.

``configure_tracing()`` turns tracing on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
(OTLP over HTTP, which Jaeger reads), or with an explicit exporter (tests use the SDK's
``InMemorySpanExporter``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["Tracing", "configure_tracing", "current_tracing", "span"]

_NOOP: AbstractContextManager[None] = contextlib.nullcontext()
_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"


class Tracing:
    """A tracer, or nothing (``enabled`` is False and every method returns at once)."""

    def __init__(self, provider: TracerProvider | None = None, *, tick_every: int = 60) -> None:
        if tick_every < 1:
            raise ValueError("tick_every must be at least 1")
        self.provider = provider
        self.enabled = provider is not None
        self.tick_every = tick_every
        self._tracer = provider.get_tracer("visionflow") if provider is not None else None

    def wants_tick(self, seq: int, slow: bool) -> bool:
        return self.enabled and (slow or seq % self.tick_every == 0)

    def record_tick(self, seq: int, start_s: float, stages: Mapping[str, float], **attributes: Any) -> None:
        """Write a finished tick: ``stages`` maps stage name to seconds, run back to back from ``start_s``."""
        tracer = self._tracer
        if tracer is None:
            return
        start_ns = int(start_s * 1e9)
        total_ns = int(sum(stages.values()) * 1e9)
        parent = tracer.start_span("tick", start_time=start_ns, attributes={"visionflow.tick.seq": seq, **attributes})
        context = trace.set_span_in_context(parent)
        t = start_ns
        for stage, seconds in stages.items():
            child = tracer.start_span(f"tick.{stage}", context=context, start_time=t,
                                      attributes={"visionflow.stage": stage})  # fmt: skip
            t += int(seconds * 1e9)
            child.end(end_time=t)
        parent.end(end_time=start_ns + total_ns)

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Any]:
        if self._tracer is None:
            return _NOOP
        return self._tracer.start_as_current_span(name, attributes=attributes)

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


_current = Tracing()


def current_tracing() -> Tracing:
    return _current


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span around a call (``with span("mcp.call", tool=name): ...``); a no-op when tracing is off."""
    tracing = _current
    if not tracing.enabled:
        return _NOOP
    return tracing.span(name, **attributes)


def configure_tracing(
    *,
    exporter: SpanExporter | None = None,
    service_name: str = "visionflow",
    tick_every: int = 60,
    environ: Mapping[str, str] | None = None,
) -> Tracing:
    """Install the process's tracing: ``exporter`` if given, else OTLP when the endpoint is set, else off."""
    global _current
    env = os.environ if environ is None else environ
    _current.shutdown()
    if exporter is None and not env.get(_ENDPOINT_ENV):
        _current = Tracing(tick_every=tick_every)
        return _current
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _current = Tracing(provider, tick_every=tick_every)
    return _current
