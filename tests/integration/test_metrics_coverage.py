"""Every metric that an alert rule or dashboard query reads exists in the running app's /metrics."""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.support.live import LiveServer
from tests.support.promql import SYNTHETIC, all_expressions, metric_names

pytestmark = pytest.mark.integration


def scraped_names(server: LiveServer) -> dict[str, list[float]]:
    response = server.get("/metrics")
    assert response.status_code == 200
    names: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            names.setdefault(sample.name, []).append(sample.value)
    return names


def test_every_metric_of_the_rules_and_dashboards_is_exported(live_server: LiveServer) -> None:
    names = scraped_names(live_server)
    wanted = {name: where for where, expr in all_expressions().items() for name in metric_names(expr)}
    assert len(wanted) > 20
    missing = {n: w for n, w in wanted.items() if n not in names and n not in SYNTHETIC}
    assert not missing, f"queried but not exported: {missing}"


def test_live_values_are_measurements(live_server: LiveServer) -> None:
    """Ping with a frame's seq so the latency gauge has data, then read the dashboard series."""
    with connect(live_server.ws, max_size=None) as ws:
        seq = None
        deadline = time.monotonic() + 20
        while seq is None and time.monotonic() < deadline:
            message = ws.recv(timeout=10)
            if isinstance(message, str) and '"frame"' in message:
                seq = int(json.loads(message)["seq"])
        assert seq is not None
        ws.send(json.dumps({"type": "ping", "seq": seq}))
        while not (isinstance(m := ws.recv(timeout=10), str) and '"pong"' in m):
            pass
        names = scraped_names(live_server)
    assert 100 <= names["visionflow_active_agents"][0] <= 400  # 200 simulated agents, some coming and going
    assert 0 < names["visionflow_websocket_latency_ms"][0] < 10_000
    assert names["visionflow_binary_protocol_accuracy"] == [100.0]
    assert names["visionflow_binary_protocol_compression_ratio"][0] > 3
    assert names["visionflow_gpu_processing_duration_seconds"][0] > 0
    assert names["visionflow_network_bytes_total"] and min(names["visionflow_network_bytes_total"]) > 0
    assert names["visionflow_communication_intensity_histogram"][-1] > 0  # the +Inf bucket: every link
