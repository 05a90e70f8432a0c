from __future__ import annotations

from pathlib import Path

import pytest

from visionflow.errors import ConfigError
from visionflow.server.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VISIONFLOW_AGENTS", "VISIONFLOW_PHYSICS", "VISIONFLOW_CONFIG", "GPU_ACCELERATION"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = load_settings()
    assert (s.host, s.http_port, s.ws_port, s.ws_path, s.agents, s.tick_hz, s.physics) == (
        "127.0.0.1",
        8080,
        3002,
        "/ws",
        200,
        60.0,
        "auto",
    )


def test_flags_beat_environment_which_beats_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vf.yaml"
    config.write_text("agents: 10\nseed: 5\ntick-hz: 30\n")
    assert load_settings(config=config).agents == 10
    monkeypatch.setenv("VISIONFLOW_AGENTS", "20")
    s = load_settings(config=config)
    assert (s.agents, s.seed, s.tick_hz) == (20, 5, 30.0)
    assert load_settings({"agents": 30, "seed": None}, config=config).agents == 30


def test_gpu_acceleration_asks_for_cuda_unless_physics_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPU_ACCELERATION", "true")
    assert load_settings().physics == "cuda"
    assert load_settings({"physics": "cpu"}).physics == "cpu"
    monkeypatch.setenv("VISIONFLOW_PHYSICS", "reference")
    assert load_settings().physics == "reference"


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ({"agents": 0}, "agents"),
        ({"agents": 100_001}, "agents"),
        ({"http_port": 70000}, "http_port"),
        ({"tick_hz": -1}, "tick_hz"),
        ({"physics": "quantum"}, "physics"),
        ({"ws_path": "ws"}, "ws_path"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_errors_name_the_setting(flags: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(flags)
    assert info.value.field == field


def test_bad_yaml_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "vf.yaml"
    config.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config=config)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(config=tmp_path / "missing.yaml")


def test_alert_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISIONFLOW_ALERT_WEBHOOK_TOKEN", "0123456789abcdef-token")
    monkeypatch.setenv("VISIONFLOW_ALERT_KNOWN_INSTANCES",
                       '{"127.0.0.1:8080": "self", "app:8080": "http://10.0.0.6:8080/api/health"}')  # fmt: skip
    s = load_settings()
    assert s.alert_webhook_token == "0123456789abcdef-token"
    assert s.alert_known_instances == {"127.0.0.1:8080": "self", "app:8080": "http://10.0.0.6:8080/api/health"}
    assert (s.alert_restart_max_per_hour, s.alert_escalation_max_per_hour) == (3, 10)


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ({"alert_webhook_token": "short"}, "alert_webhook_token"),
        ({"alert_known_instances": {"app:1": "app:1/api/health"}}, "alert_known_instances"),
        ({"alert_known_instances": {"": "self"}}, "alert_known_instances"),
        ({"alert_health_urls": ["file:///etc/passwd"]}, "alert_health_urls"),
        ({"alert_escalation_url": "gopher://127.0.0.1/"}, "alert_escalation_url"),
        ({"alert_restart_max_per_hour": -1}, "alert_restart_max_per_hour"),
        ({"alert_max_body_bytes": 10}, "alert_max_body_bytes"),
    ],
)
def test_bad_alert_settings_name_the_setting(flags: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(flags)
    assert info.value.field == field


def test_the_orchestrators_environment_and_directory_come_from_every_settings_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vf.yaml"
    config.write_text(f"mcp-env: {{CLAUDE_FLOW_CWD: /from/yaml}}\nmcp-cwd: {tmp_path}\nmcp-inherit-env: false\n")
    s = load_settings(config=config)
    assert (s.mcp_env, s.mcp_cwd, s.mcp_inherit_env) == ({"CLAUDE_FLOW_CWD": "/from/yaml"}, tmp_path, False)
    monkeypatch.setenv("VISIONFLOW_MCP_ENV", '{"CLAUDE_FLOW_CWD": "/from/env", "B": "2"}')
    assert load_settings(config=config).mcp_env == {"CLAUDE_FLOW_CWD": "/from/env", "B": "2"}
    merged = load_settings({"mcp_env": {"A": "1", "B": "3"}}, config=config).mcp_env
    assert merged == {"CLAUDE_FLOW_CWD": "/from/env", "A": "1", "B": "3"}, "merged by key, flags first"
    assert load_settings().mcp_inherit_env is True


def test_the_poll_ceiling_is_at_least_the_idle_interval() -> None:
    with pytest.raises(ConfigError, match="mcp_poll_idle_s must not exceed mcp_poll_max_s"):
        load_settings({"mcp_poll_idle_s": 10, "mcp_poll_max_s": 5})
