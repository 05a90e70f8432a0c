"""JSON lines with the manual's keys, per-component levels, and size-based rotation."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from visionflow.observability.logging import RateLimitedLog, configure, log_event, parse_spec


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    configure("info", io.StringIO())


def test_lines_carry_ts_level_category_component_event_and_fields() -> None:
    out = io.StringIO()
    configure("info", out)
    log_event(logging.getLogger("visionflow.stream"), "WARN", "client_stalled", category="performance", buffered=5)
    line = orjson.loads(out.getvalue().splitlines()[-1])
    assert line["level"] == "WARN" and line["category"] == "performance"
    assert line["component"] == "stream" and line["event"] == "client_stalled" and line["buffered"] == 5
    assert line["ts"].endswith("Z") and len(line["ts"]) == 24


def test_per_component_levels_from_the_spec() -> None:
    out = io.StringIO()
    configure("warn,visionflow.stream=debug,pipeline=trace", out)
    log_event(logging.getLogger("visionflow.stream"), "DEBUG", "stream_debug")
    log_event(logging.getLogger("visionflow.pipeline"), "TRACE", "pipeline_trace")
    log_event(logging.getLogger("visionflow.server"), "INFO", "server_info")
    events = [orjson.loads(x)["event"] for x in out.getvalue().splitlines()]
    assert events == ["stream_debug", "pipeline_trace"]
    configure("info", out)  # levels of the previous spec do not linger
    assert not logging.getLogger("visionflow.stream").isEnabledFor(logging.DEBUG)


@pytest.mark.parametrize("spec", ["loud", "info,visionflow.stream=chatty", "=debug"])
def test_bad_spec_names_the_bad_part(spec: str) -> None:
    with pytest.raises(ValueError, match=r"level|name"):
        parse_spec(spec)


def test_file_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "visionflow.log"
    configure("info", io.StringIO(), file=path, max_bytes=2048, backups=2)
    log = logging.getLogger("visionflow.pipeline")
    for i in range(100):
        log_event(log, "INFO", "filler", i=i, pad="x" * 50)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["visionflow.log", "visionflow.log.1", "visionflow.log.2"]
    for p in path.parent.iterdir():
        assert p.stat().st_size <= 2048
        assert all(orjson.loads(x)["event"] == "filler" for x in p.read_text().splitlines())
    assert orjson.loads(path.read_text().splitlines()[-1])["i"] == 99


def test_a_rate_limited_event_logs_once_per_interval_and_counts_the_rest() -> None:
    out = io.StringIO()
    configure("info", out)
    now = [0.0]
    overrun = RateLimitedLog(logging.getLogger("visionflow.pipeline"), "WARN", "tick_overrun",
                             category="performance", interval_s=5.0, clock=lambda: now[0])  # fmt: skip
    logged = []
    for t in (0.0, 1.0, 2.0, 4.9, 5.0, 5.1):
        now[0] = t
        logged.append(overrun(stands_for=overrun.unlogged + 1))
    assert logged == [True, False, False, False, True, False]
    assert overrun.count == 6 and overrun.unlogged == 1
    lines = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert [(x["event"], x["level"], x["category"], x["stands_for"]) for x in lines] == [
        ("tick_overrun", "WARN", "performance", 1),
        ("tick_overrun", "WARN", "performance", 4),
    ]


def test_a_rate_limited_event_can_carry_the_exception() -> None:
    out = io.StringIO()
    configure("info", out)
    failed = RateLimitedLog(logging.getLogger("visionflow.pipeline"), "ERROR", "tick_failed",
                            category="system", interval_s=5.0)  # fmt: skip
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        failed(exc_info=True, failures=1)
    line = orjson.loads(out.getvalue().splitlines()[-1])
    assert line["level"] == "ERROR" and line["failures"] == 1 and "RuntimeError: boom" in line["exception"]
