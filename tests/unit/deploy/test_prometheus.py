"""deploy/prometheus: the config and rules load in promtool, and every rule has unit tests that pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support.promql import ALERTS, DEPLOY, metric_names, rule_expressions

PROMETHEUS = DEPLOY / "prometheus"
MANUAL_RULES = {
    "HighErrorRate": ("rate(visionflow_errors_total[5m]) * 100 > 5", "2m", "critical"),
    "HighProcessingLatency": ("visionflow_processing_duration_ms > 20", "1m", "warning"),
    "WebSocketConnectionLow": ("visionflow_websocket_connections < 10", "5m", "warning"),
    "HighMemoryUsage": ("(process_resident_memory_bytes / 1024 / 1024) > 1000", "5m", "warning"),
    "ServiceDown": ('up{job="visionflow"} == 0', "1m", "critical"),
}

promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) missing")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False)


def rules() -> dict[str, dict[str, object]]:
    return {r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}


def test_the_manual_rules_are_there_as_the_manual_defines_them() -> None:
    found = rules()
    for name, (expr, for_, severity) in MANUAL_RULES.items():
        assert found[name]["expr"] == expr
        assert found[name]["for"] == for_
        assert found[name]["labels"] == {"severity": severity}


def test_the_added_rules_watch_fallback_stale_mcp_data_and_dropped_frames() -> None:
    exprs = rule_expressions()
    assert metric_names(exprs["PhysicsGpuFallback"]) == {"visionflow_physics_gpu_fallback"}
    assert exprs["MCPDataStale"] == "visionflow_mcp_data_age_seconds > 300"
    assert metric_names(exprs["ClientsDroppingFrames"]) == {"visionflow_frames_dropped_total"}


def test_every_rule_has_a_severity_and_a_unit_test() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    firing = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    for name, rule in rules().items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name  # type: ignore[index]
        assert name in tested and name in firing, f"{name} has no promtool test that makes it fire"


@promtool
def test_promtool_accepts_the_config_and_rules() -> None:
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml")):
        result = run("promtool", *args)
        assert result.returncode == 0, result.stdout + result.stderr


@promtool
def test_promtool_rule_unit_tests_pass() -> None:
    result = run("promtool", "test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@promtool
def test_promtool_rule_unit_tests_can_fail(tmp_path: Path) -> None:
    """The same tests against a rule with the wrong threshold fail: they check something."""
    rule = "visionflow_processing_duration_ms > "
    broken = ALERTS.read_text().replace(rule + "20", rule + "30")
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(PROMETHEUS / "alerts.test.yml", tmp_path / "alerts.test.yml")
    result = subprocess.run(["promtool", "test", "rules", "alerts.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode != 0
    assert "HighProcessingLatency" in result.stdout + result.stderr
