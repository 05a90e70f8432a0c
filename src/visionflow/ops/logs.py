"""``visionflow logs``: the operations manual's three log queries, over the JSON log files.

    errors       level ERROR or FATAL in the window, grouped by component and message, most first
    slow         ``processing_time_ms`` above a threshold in the window, slowest first
    disconnects  WebSocket disconnects whose reason is not ``normal_closure`` in the window

The files are the log file and its rotated backups (``file.N`` oldest ... ``file.1``, ``file``).
A file last written before the window is skipped unread; ``bytes.find`` locates the lines that
can match in 8 MB blocks (no Python per line), only those are parsed, and timestamps are
compared as ISO strings (they sort the same way), so a query reads at about disk speed rather
than at JSON-parsing speed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "Disconnect",
    "ErrorGroup",
    "SlowTick",
    "disconnects",
    "errors",
    "log_files",
    "parse_since",
    "read_events",
    "slow",
    "to_dicts",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_since(text: str) -> float:
    """``"5m"`` -> 300.0 seconds; units s, m, h, d. ValueError says what is accepted."""
    match = _SINCE.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration; use a number and a unit, e.g. 90s, 5m, 2h, 1d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def log_files(path: Path) -> list[Path]:
    """The log file and its rotated backups, oldest first. FileNotFoundError when there are none."""
    backups: list[tuple[int, Path]] = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            backups.append((int(suffix), candidate))
    files = [p for _, p in sorted(backups, reverse=True)]
    if path.exists():
        files.append(path)
    if not files:
        raise FileNotFoundError(f"no log file at {path}")
    return files


_CHUNK = 8 << 20


def _lines_with(file: Path, needles: tuple[bytes, ...]) -> Iterator[bytes]:
    """Lines of ``file`` holding one of ``needles``, found with ``bytes.find`` over 8 MB blocks."""
    with file.open("rb") as stream:
        tail = b""
        while True:
            block = stream.read(_CHUNK)
            if not block:
                data, tail = tail, b""
            else:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    tail += block
                    continue
                data, tail = tail + block[:cut], block[cut:]
            starts: set[int] = set()
            for needle in needles:
                at = data.find(needle)
                while at >= 0:
                    starts.add(data.rfind(b"\n", 0, at) + 1)
                    at = data.find(needle, at + len(needle))
            for start in sorted(starts):
                end = data.find(b"\n", start)
                yield data[start : end if end >= 0 else len(data)]
            if not block:
                return


def read_events(
    path: Path, since_s: float, needles: tuple[bytes, ...], *, now: float | None = None
) -> Iterator[dict[str, Any]]:
    """Log records newer than ``since_s`` seconds whose line contains one of ``needles``."""
    now = time.time() if now is None else now
    cutoff_epoch = now - since_s
    cutoff = _iso(cutoff_epoch)
    for file in log_files(path):
        try:
            if file.stat().st_mtime < cutoff_epoch:
                continue
            for line in _lines_with(file, needles):
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict) and str(record.get("ts", "")) >= cutoff:
                    yield record
        except FileNotFoundError:  # rotated away while we read: its lines are in the next file
            continue


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    component: str
    error_message: str
    error_count: int
    first_ts: str
    last_ts: str


@dataclass(frozen=True, slots=True)
class SlowTick:
    ts: str
    processing_time_ms: float
    agent_count: int | None
    component: str
    event: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    ts: str
    connection_id: int | None
    disconnect_reason: str
    session_duration: float | None
    remote: str | None


def _message(record: dict[str, Any]) -> str:
    for key in ("error_message", "error", "message"):
        value = record.get(key)
        if value:
            return str(value)
    exception = record.get("exception")
    if exception:
        last = str(exception).strip().splitlines()[-1]
        return f"{record.get('event', '')}: {last}"
    return str(record.get("event", ""))


def errors(path: Path, since_s: float = 300.0, *, min_count: int = 1, now: float | None = None) -> list[ErrorGroup]:
    """ERROR and FATAL lines grouped by (component, message), groups of at least ``min_count``, most first."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for record in read_events(path, since_s, (b'"level":"ERROR"', b'"level":"FATAL"'), now=now):
        if record.get("level") not in ("ERROR", "FATAL"):
            continue
        key = (str(record.get("component", "")), _message(record))
        ts = str(record["ts"])
        group = groups.get(key)
        if group is None:
            groups[key] = [1, ts, ts]
        else:
            group[0] += 1
            group[1] = min(group[1], ts)
            group[2] = max(group[2], ts)
    rows = [ErrorGroup(c, m, n, first, last) for (c, m), (n, first, last) in groups.items() if n >= min_count]
    return sorted(rows, key=lambda g: (-g.error_count, g.component, g.error_message))


def slow(path: Path, over_ms: float = 10.0, since_s: float = 900.0, *, now: float | None = None) -> list[SlowTick]:
    """Lines with ``processing_time_ms`` above ``over_ms``, slowest first."""
    rows = []
    for record in read_events(path, since_s, (b'"processing_time_ms"',), now=now):
        value = record.get("processing_time_ms")
        if isinstance(value, int | float) and value > over_ms:
            agents = record.get("agent_count")
            rows.append(SlowTick(str(record["ts"]), float(value), agents if isinstance(agents, int) else None,
                                 str(record.get("component", "")), str(record.get("event", ""))))  # fmt: skip
    return sorted(rows, key=lambda r: (-r.processing_time_ms, r.ts))


def disconnects(
    path: Path, since_s: float = 600.0, *, include_normal: bool = False, now: float | None = None
) -> list[Disconnect]:
    """WebSocket disconnects in time order, leaving out normal closures unless asked."""
    rows = []
    for record in read_events(path, since_s, (b'"event_type":"disconnect"',), now=now):
        reason = str(record.get("disconnect_reason", ""))
        if record.get("event_type") != "disconnect" or (reason == "normal_closure" and not include_normal):
            continue
        cid = record.get("connection_id")
        duration = record.get("session_duration")
        rows.append(Disconnect(str(record["ts"]), cid if isinstance(cid, int) else None, reason,
                               float(duration) if isinstance(duration, int | float) else None,
                               str(record["remote"]) if "remote" in record else None))  # fmt: skip
    return sorted(rows, key=lambda r: r.ts)


def to_dicts(rows: list[ErrorGroup] | list[SlowTick] | list[Disconnect]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]
