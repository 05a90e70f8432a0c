"""Tick and call spans reach the exporter; with tracing off nothing is recorded."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.fakes import FakeClock

from visionflow.observability import tracing
from visionflow.server.pipeline import Pipeline

MakePipeline = Callable[..., Pipeline]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    tracing.configure_tracing(exporter=memory, tick_every=5)
    yield memory
    tracing.configure_tracing(environ={})


def test_traced_ticks_have_one_child_span_per_stage_in_order(
    exporter: InMemorySpanExporter, make_pipeline: MakePipeline, clock: FakeClock
) -> None:
    pipeline = make_pipeline(agents=20, tracing=tracing.current_tracing(), slow_tick_ms=1e6)
    for _ in range(10):
        clock.advance()
        pipeline.tick_inline()
    spans = exporter.get_finished_spans()
    ticks = [s for s in spans if s.name == "tick"]
    assert [t.attributes["visionflow.tick.seq"] for t in ticks] == [5, 10]  # type: ignore[index]
    tick = ticks[-1]
    children = sorted((s for s in spans if s.parent is not None and s.parent.span_id == tick.context.span_id),
                      key=lambda s: s.start_time or 0)  # fmt: skip
    assert [c.name for c in children] == ["tick.source", "tick.swarm", "tick.physics", "tick.encode", "tick.broadcast"]
    assert children[0].start_time == tick.start_time
    for a, b in itertools.pairwise(children):
        assert a.end_time == b.start_time
    expected_ns = pipeline.last_times.total * 1e9
    assert (tick.end_time or 0) - (tick.start_time or 0) == pytest.approx(expected_ns, abs=10)


def test_slow_ticks_are_always_traced(
    exporter: InMemorySpanExporter, make_pipeline: MakePipeline, clock: FakeClock
) -> None:
    pipeline = make_pipeline(agents=20, tracing=tracing.current_tracing(), slow_tick_ms=0.0)
    for _ in range(3):
        clock.advance()
        pipeline.tick_inline()
    assert len([s for s in exporter.get_finished_spans() if s.name == "tick"]) == 3


def test_call_spans_record_attributes_and_errors(exporter: InMemorySpanExporter) -> None:
    with tracing.span("mcp.call", tool="agent_list"):
        pass
    with pytest.raises(RuntimeError), tracing.span("mcp.call", tool="swarm_status"):
        raise RuntimeError("server went away")
    ok, failed = exporter.get_finished_spans()
    assert ok.attributes == {"tool": "agent_list"}
    assert not failed.status.is_ok and failed.events[0].name == "exception"


def test_tracing_is_off_without_an_endpoint() -> None:
    off = tracing.configure_tracing(environ={})
    assert not off.enabled
    assert tracing.span("mcp.call") is tracing.span("other")  # one shared no-op
    off.record_tick(1, 0.0, {"source": 0.001})  # nothing to do, nothing raised


def test_endpoint_turns_on_otlp_export() -> None:
    on = tracing.configure_tracing(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    try:
        assert on.enabled and on.provider is not None
    finally:
        tracing.configure_tracing(environ={})
