"""Structured logs: one JSON object a line, with level, category, component and event.

Levels are the operations manual's TRACE, DEBUG, INFO, WARN, ERROR and FATAL; categories
are system, application, security and performance. ``log_event`` is the one way code logs,
so every line carries the same keys.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Literal

import orjson

__all__ = [
    "LEVELS",
    "Category",
    "JsonFormatter",
    "RateLimitedLog",
    "configure",
    "log_event",
    "parse_level",
    "parse_spec",
]

TRACE = 5
FATAL = logging.CRITICAL
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(logging.WARNING, "WARN")
logging.addLevelName(FATAL, "FATAL")

Category = Literal["system", "application", "security", "performance"]

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
"""The levels in order of severity, as they appear in log lines."""

_LEVELS = {"TRACE": TRACE, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "WARNING": logging.WARNING, "ERROR": logging.ERROR, "FATAL": FATAL}  # fmt: skip


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "category": getattr(record, "category", "application"),
            "component": record.name.removeprefix("visionflow.") or "visionflow",
            "event": getattr(record, "event", record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if fields:
            body.update(fields)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


def log_event(
    logger: logging.Logger,
    level: int | str,
    event: str,
    *,
    category: Category = "application",
    exc_info: bool = False,
    **fields: Any,
) -> None:
    """Log ``event`` with structured ``fields`` (and the exception being handled, with ``exc_info``)."""
    lvl = _LEVELS[level.upper()] if isinstance(level, str) else level
    if logger.isEnabledFor(lvl):
        logger.log(lvl, event, exc_info=exc_info, extra={"event": event, "category": category, "fields": fields})


class RateLimitedLog:
    """One event logged at most once per ``interval_s``, however often it happens.

    A loop that overruns or fails every tick would otherwise write sixty lines a second and
    bury everything else. Occurrences between two lines are counted rather than lost:
    ``count`` is every occurrence so far, ``unlogged`` those since the last line, so the
    caller can say in each line how many it stands for.
    """

    def __init__(
        self,
        logger: logging.Logger,
        level: str,
        event: str,
        *,
        category: Category,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.level = level
        self.event = event
        self.category: Category = category
        self.interval_s = interval_s
        self._clock = clock
        self._last = -math.inf
        self.count = 0
        self.unlogged = 0

    def __call__(self, *, exc_info: bool = False, **fields: Any) -> bool:
        """Count one occurrence and log it with ``fields`` if the last line is old enough; True when logged."""
        self.count += 1
        now = self._clock()
        if now - self._last < self.interval_s:
            self.unlogged += 1
            return False
        self._last = now
        self.unlogged = 0
        log_event(self.logger, self.level, self.event, category=self.category, exc_info=exc_info, **fields)
        return True


def parse_level(spec: str) -> int:
    try:
        return _LEVELS[spec.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown log level {spec!r}; use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL") from None


_configured: set[str] = set()
"""Loggers given a level of their own by the last ``configure`` (reset by the next)."""


def parse_spec(spec: str) -> tuple[int, dict[str, int]]:
    """``"info,visionflow.stream=debug"`` -> (INFO, {"visionflow.stream": DEBUG}); ValueError names the bad part."""
    base = logging.INFO
    per: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if "=" in part:
            name, level = (x.strip() for x in part.split("=", 1))
            if not name:
                raise ValueError(f"missing logger name in {part!r}")
            per[name if name.startswith("visionflow") else f"visionflow.{name}"] = parse_level(level)
        else:
            base = parse_level(part)
    return base, per


def configure(
    spec: str = "info",
    stream: Any = None,
    *,
    file: str | Path | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> None:
    """Send VisionFlow's logs as JSON lines to ``stream`` (stderr by default) and, if given, ``file``.

    ``spec`` is a level, optionally followed by per-component levels:
    ``"info,visionflow.stream=debug"`` (``stream=debug`` means the same). The file is rotated
    when it reaches ``max_bytes``, keeping ``backups`` old files (``file.1`` is the newest).
    """
    base, per = parse_spec(spec)
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if file is not None:
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"))
    root = logging.getLogger("visionflow")
    for old in root.handlers:
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
    root.handlers[:] = handlers
    root.propagate = False
    root.setLevel(base)
    for name in _configured - per.keys():
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in per.items():
        logging.getLogger(name).setLevel(level)
    _configured.clear()
    _configured.update(per)
