"""Scrape-time metrics report the pipeline's real measurements."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tests.fakes import FakeClock

from visionflow.observability.metrics import Metrics
from visionflow.physics import PhysicsEngine
from visionflow.server.instrumentation import WireQuality, instrument, intensity_buckets
from visionflow.server.pipeline import Pipeline

MakePipeline = Callable[..., Pipeline]


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_intensity_buckets_are_cumulative_with_an_inf_bucket() -> None:
    rows = intensity_buckets(np.array([0.01, 0.2, 0.2, 0.9, 5.0], dtype=np.float32), (0.1, 0.5, 1.0))
    assert rows == [(("0.1",), 1.0), (("0.5",), 3.0), (("1.0",), 4.0), (("+Inf",), 5.0)]
    assert intensity_buckets(np.empty(0, dtype=np.float32), (0.1,)) == [(("0.1",), 0.0), (("+Inf",), 0.0)]


def test_wire_quality_measures_ratio_and_accuracy_on_the_live_arrays() -> None:
    engine = PhysicsEngine(seed=1)
    quality = WireQuality(engine, min_interval_s=0.0)
    ratio, accuracy = quality.measure()
    assert math.isnan(ratio) and math.isnan(accuracy)
    engine.add_nodes(np.arange(1, 101, dtype=np.uint32) | np.uint32(1 << 31))
    engine.step()
    ratio, accuracy = quality.measure()
    assert accuracy == 100.0
    assert 3.0 < ratio < 15.0  # 28 bytes against roughly 150-250 bytes of JSON per record


def test_wire_quality_counts_records_that_do_not_survive_the_round_trip() -> None:
    engine = PhysicsEngine(seed=1)
    engine.add_nodes(np.arange(1, 11, dtype=np.uint32))
    engine.positions[3, 0] = np.nan  # decode rejects the frame: nothing survives
    ratio, accuracy = WireQuality(engine, min_interval_s=0.0).measure()
    assert accuracy == 0.0 and ratio > 1.0


def test_wire_quality_measures_at_most_once_per_interval() -> None:
    now = [0.0]
    engine = PhysicsEngine(seed=1)
    engine.add_nodes(np.arange(1, 11, dtype=np.uint32))
    quality = WireQuality(engine, min_interval_s=1.0, clock=lambda: now[0])
    first = quality.measure()
    engine.add_nodes(np.arange(11, 1000, dtype=np.uint32))
    assert quality.measure() == first
    now[0] = 2.0
    assert quality.measure() != first


def test_scrape_reports_stage_times_delta_saving_intensities_and_backend(
    metrics: Metrics, make_pipeline: MakePipeline, clock: FakeClock
) -> None:
    pipeline = make_pipeline(agents=60)
    instrument(metrics, pipeline, requested="cuda", backend="cpu", fallback=True)
    for _ in range(40):
        clock.advance()
        pipeline.tick_inline()
    values = scrape(metrics)
    times = pipeline.last_times
    assert values[("visionflow_agent_processing_time_ms", ())] == pytest.approx(
        (times.source + times.swarm + times.physics) * 1000
    )
    assert values[("visionflow_binary_encoding_duration_seconds", ())] == pytest.approx(times.encode)
    assert values[("visionflow_gpu_processing_duration_seconds", (("backend", "cpu"),))] == pytest.approx(times.physics)
    assert values[("visionflow_physics_backend_info", (("backend", "cpu"), ("requested", "cuda")))] == 1.0
    assert values[("visionflow_physics_gpu_fallback", ())] == 1.0
    assert 0.0 <= values[("visionflow_binary_protocol_efficiency", ())] <= 100.0
    assert values[("visionflow_binary_protocol_efficiency", ())] == pytest.approx(pipeline.delta_saving * 100)
    links = len(pipeline.state.links)
    assert links > 0
    assert values[("visionflow_communication_intensity_histogram", (("le", "+Inf"),))] == links
    assert values[("visionflow_binary_protocol_accuracy", ())] == 100.0


def test_settled_layout_raises_the_delta_saving(make_pipeline: MakePipeline, clock: FakeClock) -> None:
    pipeline = make_pipeline(agents=40)
    for _ in range(3):
        clock.advance()
        pipeline.tick_inline()
    early = pipeline.delta_saving
    for _ in range(600):
        clock.advance()
        pipeline.tick_inline()
    assert pipeline.delta_saving > early
