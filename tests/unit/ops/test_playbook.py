"""The playbook's own rules: targets come from settings only, restarts are one at a time and budgeted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from visionflow.ops.playbook import SELF, Action, Playbook, PlaybookConfig, summarize

CONFIGURED = ("http://10.0.0.5:8080/api/health", "https://health.internal/api/health")
KNOWN = {"app:8080": "http://10.0.0.6:8080/api/health", "127.0.0.1:8080": SELF}


@given(st.text(max_size=300))
def test_probe_targets_are_always_configured_values(instance: str) -> None:
    playbook = Playbook(PlaybookConfig(health_urls=CONFIGURED, known_instances=KNOWN))
    targets = playbook.probe_targets({"labels": {"alertname": "ServiceDown", "instance": instance}})
    assert targets in ([KNOWN[instance]] if instance in KNOWN else [], list(CONFIGURED))
    playbook.close()


def test_without_configuration_nothing_is_probed() -> None:
    playbook = Playbook(PlaybookConfig())
    assert playbook.probe_targets({"labels": {"instance": "127.0.0.1:8080"}}) == []
    playbook.close()


def test_concurrent_restarts_share_one_run_and_count_once(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    command = f"{sys.executable} -c \"open('{marker}', 'a').write('run\\n')\""
    playbook = Playbook(PlaybookConfig(restart_command=command, restart_max_per_hour=2))

    async def go() -> tuple[list[Action], Action, Action]:
        together = await asyncio.gather(playbook.restart(), playbook.restart(), playbook.restart())
        return list(together), await playbook.restart(), await playbook.restart()

    together, second, refused = asyncio.run(go())
    playbook.close()
    assert [a.ok for a in together] == [True, True, True]
    assert [bool(a.detail.get("shared_with_a_running_restart")) for a in together] == [False, True, True]
    assert second.ok and not refused.ok
    assert refused.detail["error"] == "restart limit reached: 2 per hour (alert_restart_max_per_hour)"
    assert marker.read_text().splitlines() == ["run", "run"]


def test_an_escalation_summary_holds_a_few_label_values_cut_short() -> None:
    alert = {
        "status": "firing",
        "labels": {"alertname": "A" * 1000, "severity": "critical", "instance": "i", "secret": "s", "job": "j"},
        "annotations": {"description": "d" * 1000},
    }
    summary = summarize(alert)
    labels = {"alertname": "A" * 128, "severity": "critical", "instance": "i", "job": "j"}
    assert summary == {"alertname": "A" * 128, "status": "firing", "severity": "critical", "labels": labels}
