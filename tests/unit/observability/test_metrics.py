"""The exposition has every series the manual's queries read, in the shape the queries expect."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from visionflow.observability.metrics import CallbackGauge, LatencyWindow, Metrics


def families(metrics: Metrics) -> dict[str, object]:
    text = generate_latest(metrics.registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample_names(metrics: Metrics) -> set[str]:
    text = generate_latest(metrics.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_series_of_the_manual_is_exposed_under_its_exact_name() -> None:
    """(Labelled scrape-time series appear once bound: see tests/integration/test_metrics_coverage.py.)"""
    names = sample_names(Metrics(CollectorRegistry()))
    for name in (
        "visionflow_active_agents", "visionflow_websocket_connections", "visionflow_processing_duration_seconds_sum",
        "visionflow_processing_duration_seconds_count", "visionflow_processing_duration_ms",
        "visionflow_agent_processing_time_ms", "visionflow_binary_bytes_transmitted", "visionflow_network_bytes_total",
        "visionflow_errors_total", "visionflow_websocket_latency_ms", "visionflow_binary_protocol_compression_ratio",
        "visionflow_binary_protocol_accuracy", "visionflow_binary_protocol_efficiency",
        "visionflow_binary_encoding_duration_seconds",
        "visionflow_build_info", "visionflow_physics_gpu_fallback", "visionflow_frames_dropped_total",
        "process_resident_memory_bytes", "process_cpu_seconds_total",
    ):  # fmt: skip
        assert name in names, name


def test_websocket_latency_is_a_gauge_the_manuals_instant_query_can_read(metrics: Metrics) -> None:
    """``query=visionflow_websocket_latency_ms`` needs a sample under the bare name, not only buckets."""
    fam = families(metrics)
    assert fam["visionflow_websocket_latency_ms"].type == "gauge"  # type: ignore[attr-defined]
    assert fam["visionflow_websocket_round_trip_ms"].type == "histogram"  # type: ignore[attr-defined]


def test_latency_window_averages_recent_round_trips_only() -> None:
    now = [100.0]
    window = LatencyWindow(window_s=10.0, clock=lambda: now[0])
    assert math.isnan(window.mean())
    window.record(30.0)
    now[0] = 105.0
    window.record(10.0)
    assert window.mean() == pytest.approx(20.0)
    now[0] = 112.0
    assert window.mean() == pytest.approx(10.0)
    now[0] = 200.0
    assert math.isnan(window.mean())


def test_callback_gauge_reads_at_scrape_time() -> None:
    registry = CollectorRegistry()
    gauge = CallbackGauge("visionflow_test_thing", "A test gauge.", ["kind"], registry=registry)
    assert "visionflow_test_thing{" not in generate_latest(registry).decode()
    values = {"a": 1.0}
    gauge.bind(lambda: [((k,), v) for k, v in values.items()])
    values["b"] = 2.5
    text = generate_latest(registry).decode()
    assert 'visionflow_test_thing{kind="a"} 1.0' in text
    assert 'visionflow_test_thing{kind="b"} 2.5' in text


def test_network_bytes_count_by_direction(metrics: Metrics) -> None:
    metrics.network_sent.inc(100)
    metrics.network_received.inc(7)
    text = generate_latest(metrics.registry).decode()
    assert 'visionflow_network_bytes_total{direction="sent"} 100.0' in text
    assert 'visionflow_network_bytes_total{direction="received"} 7.0' in text
