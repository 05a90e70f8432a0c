"""The manual's three log queries over log files and their rotated backups."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from visionflow.cli import app
from visionflow.ops import logs

NOW = 1_800_000_000.0


def ts(ago_s: float) -> str:
    t = NOW - ago_s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def line(ago_s: float, level: str, event: str, component: str = "pipeline", **fields: object) -> bytes:
    body = {"ts": ts(ago_s), "level": level, "category": "application", "component": component, "event": event}
    return orjson.dumps({**body, **fields}) + b"\n"


@pytest.fixture
def logfile(tmp_path: Path) -> Path:
    path = tmp_path / "visionflow.log"
    old = tmp_path / "visionflow.log.1"
    older = tmp_path / "visionflow.log.2"
    older.write_bytes(line(7200, "ERROR", "ancient"))
    os.utime(older, (NOW - 7000, NOW - 7000))  # last written long before any window: skipped unread
    old.write_bytes(
        line(500, "ERROR", "tick_failed", error="boom")
        + line(200, "ERROR", "tick_failed", error="boom")
        + line(100, "FATAL", "store_lost", component="store")
        + b"not json at all\n"
        + line(60, "WARN", "slow_tick", category="performance", processing_time_ms=25.5, agent_count=200)
    )
    path.write_bytes(
        line(30, "ERROR", "tick_failed", error="boom")
        + line(
            20,
            "INFO",
            "client_disconnected",
            component="stream",
            event_type="disconnect",
            connection_id=1,
            disconnect_reason="normal_closure",
            session_duration=12.5,
        )
        + line(
            10,
            "INFO",
            "client_disconnected",
            component="stream",
            event_type="disconnect",
            connection_id=2,
            disconnect_reason="abnormal_closure",
            session_duration=3.0,
            remote="1.2.3.4",
        )
        + line(5, "WARN", "slow_tick", processing_time_ms=11.0, agent_count=210)
        + line(4, "WARN", "slow_tick", processing_time_ms=9.0, agent_count=210)
        + line(3, "INFO", "error_message_in_text_only", note='"level":"ERROR"')
    )
    os.utime(old, (NOW - 60, NOW - 60))
    os.utime(path, (NOW - 3, NOW - 3))
    return path


def test_errors_groups_by_component_and_message_within_the_window(logfile: Path) -> None:
    groups = logs.errors(logfile, 300, now=NOW)
    assert [(g.component, g.error_message, g.error_count) for g in groups] == [
        ("pipeline", "boom", 2),
        ("store", "store_lost", 1),
    ]
    assert groups[0].first_ts == ts(200) and groups[0].last_ts == ts(30)
    assert logs.errors(logfile, 300, min_count=2, now=NOW)[0].error_count == 2
    assert sum(g.error_count for g in logs.errors(logfile, 3600, now=NOW)) == 4


def test_slow_lists_ticks_over_the_threshold_slowest_first(logfile: Path) -> None:
    rows = logs.slow(logfile, 10, 900, now=NOW)
    assert [(r.processing_time_ms, r.agent_count) for r in rows] == [(25.5, 200), (11.0, 210)]
    assert logs.slow(logfile, 10, 30, now=NOW)[0].processing_time_ms == 11.0


def test_disconnects_leave_out_normal_closures(logfile: Path) -> None:
    rows = logs.disconnects(logfile, 600, now=NOW)
    assert [(r.connection_id, r.disconnect_reason, r.remote) for r in rows] == [(2, "abnormal_closure", "1.2.3.4")]
    assert len(logs.disconnects(logfile, 600, include_normal=True, now=NOW)) == 2


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("90s", 90), ("2h", 7200), ("1d", 86400), ("1.5m", 90)])
def test_parse_since(text: str, seconds: float) -> None:
    assert logs.parse_since(text) == seconds


@pytest.mark.parametrize("text", ["5", "m", "-5m", "0m", "5 minutes"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        logs.parse_since(text)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no log file"):
        logs.errors(tmp_path / "nope.log")


def test_cli_prints_json_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "v.log"
    now = time.time()
    body = {"level": "ERROR", "category": "system", "component": "pipeline", "event": "tick_failed", "error": "boom"}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 5)) + ".000Z"
    path.write_bytes(orjson.dumps({"ts": stamp, **body}) + b"\n")
    runner = CliRunner()
    result = runner.invoke(app, ["logs", "errors", "--since", "5m", "--file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)[0]["error_count"] == 1
    result = runner.invoke(app, ["logs", "errors", "--file", str(path)])
    assert result.exit_code == 0 and "boom" in result.output
    result = runner.invoke(app, ["logs", "slow", "--over-ms", "10", "--since", "15m", "--file", str(path)])
    assert result.exit_code == 0 and "(0)" in result.output
    result = runner.invoke(app, ["logs", "disconnects", "--since", "10m", "--file", str(path), "--json"])
    assert result.exit_code == 0 and orjson.loads(result.output) == []


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["logs", "errors", "--since", "soon"], "--since"),
        (["logs", "errors", "--file", "/nonexistent/v.log"], "--file"),
        (["logs", "errors"], "--file"),
    ],
)
def test_cli_errors_name_the_flag(args: list[str], flag: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISIONFLOW_LOG_FILE", raising=False)
    if "--file" not in args and flag == "--since":
        args = [*args, "--file", "/nonexistent/v.log"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"error: {flag}:" in result.output
