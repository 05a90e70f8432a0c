"""deploy/alertmanager: amtool accepts the config, severities route to their receivers, all reach VisionFlow."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from tests.support.promql import DEPLOY

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
amtool = pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (Debian package prometheus-alertmanager) missing"
)


@amtool
def test_amtool_accepts_the_config() -> None:
    result = subprocess.run(["amtool", "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@amtool
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical"], "critical-alerts"),
        (["severity=warning"], "warning-alerts"),
        (["severity=info"], "web.hook"),
        (["alertname=Anything"], "web.hook"),
    ],
)
def test_alerts_route_by_severity(labels: list[str], receiver: str) -> None:
    result = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={CONFIG}", *labels],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def test_every_receiver_posts_to_visionflows_alert_receiver() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["route"]["receiver"] == "web.hook"
    for receiver in config["receivers"]:
        urls = [hook["url"] for hook in receiver["webhook_configs"]]
        assert urls and all(url.endswith("/api/alerts") for url in urls), receiver["name"]


def test_every_receiver_sends_the_webhook_token_from_a_file() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            authorization = hook["http_config"]["authorization"]
            assert authorization["type"] == "Bearer", receiver["name"]
            assert authorization["credentials_file"].startswith("/"), receiver["name"]
            assert "credentials" not in authorization  # never the token itself in the file
