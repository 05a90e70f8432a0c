"""Spans made with the OpenTelemetry SDK and encoded by its own OTLP encoder, as an exporter sends them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, Status, StatusCode

__all__ = ["Traces"]


class Traces:
    """A tracer whose finished spans become ``ExportTraceServiceRequest``s on demand."""

    def __init__(self, service: str = "tests") -> None:
        self._exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(self._exporter))
        self._tracer = provider.get_tracer("visionflow-tests")

    @contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Any] | None = None, *, error: str | None = None
    ) -> Iterator[Span]:
        """A span inside the current one (a root span outside any); ``error`` ends it failed."""
        with self._tracer.start_as_current_span(name, attributes=dict(attributes or {})) as span:
            yield span
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error))

    def finished(self) -> list[ReadableSpan]:
        """The spans ended since the last call, in the order they ended (children first)."""
        spans = list(self._exporter.get_finished_spans())
        self._exporter.clear()
        return spans

    def request(self, spans: list[ReadableSpan] | None = None) -> ExportTraceServiceRequest:
        return encode_spans(self.finished() if spans is None else spans)

    def body(self, spans: list[ReadableSpan] | None = None) -> bytes:
        data: bytes = self.request(spans).SerializeToString()
        return data
