"""deploy/grafana: both dashboards hold the manual's panels and queries and use the provisioned datasource."""

from __future__ import annotations

import json

import yaml
from tests.support.promql import DASHBOARDS, DEPLOY

GRAFANA = DEPLOY / "grafana"


def load(name: str) -> dict[str, object]:
    return json.loads((GRAFANA / "dashboards" / name).read_text())  # type: ignore[no-any-return]


def exprs_by_panel(dashboard: dict[str, object]) -> dict[str, list[str]]:
    return {p["title"]: [t["expr"] for t in p["targets"]] for p in dashboard["panels"]}  # type: ignore[attr-defined]


def test_operations_dashboard_has_the_manuals_panels_and_queries() -> None:
    panels = exprs_by_panel(load("operations.json"))
    assert panels["System Overview"] == ['up{job="visionflow"} * 100', "visionflow_active_agents",
                                         "visionflow_websocket_connections"]  # fmt: skip
    assert panels["Performance Metrics"] == [
        "rate(visionflow_processing_duration_seconds_sum[5m]) / rate(visionflow_processing_duration_seconds_count[5m])"
        " * 1000",
        "rate(visionflow_binary_bytes_transmitted[5m])",
    ]
    assert panels["Error Rates"] == ["rate(visionflow_errors_total[5m]) * 100",
                                     "rate(visionflow_websocket_disconnections[5m])"]  # fmt: skip
    assert panels["Resource Utilization"] == ["rate(process_cpu_seconds_total[5m]) * 100",
                                              "process_resident_memory_bytes / 1024 / 1024"]  # fmt: skip


def test_gpu_migration_dashboard_has_the_manuals_panels_and_queries() -> None:
    dashboard = load("gpu-migration.json")
    panels = exprs_by_panel(dashboard)
    assert panels["Binary Protocol Efficiency"][:2] == ["visionflow_binary_protocol_compression_ratio",
                                                        "visionflow_binary_protocol_accuracy"]  # fmt: skip
    assert panels["Agent Processing Pipeline"] == ["visionflow_mcp_fetch_duration_seconds",
                                                   "visionflow_gpu_processing_duration_seconds",
                                                   "visionflow_binary_encoding_duration_seconds"]  # fmt: skip
    assert panels["Communication Intensity"] == ["visionflow_communication_intensity_histogram"]
    heatmap = next(p for p in dashboard["panels"] if p["title"] == "Communication Intensity")  # type: ignore[attr-defined]
    assert heatmap["type"] == "heatmap" and heatmap["targets"][0]["format"] == "heatmap"


def test_dashboards_use_the_provisioned_datasource_and_unique_ids() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid and t["expr"] for t in panel["targets"])
    assert len(uids) == len(DASHBOARDS) == 2
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "visionflow.yml").read_text())
    assert providers["providers"][0]["type"] == "file"
