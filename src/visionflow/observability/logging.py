"""Structured logs: one JSON object a line, with level, category, component and event.

Levels are the operations manual's TRACE, DEBUG, INFO, WARN, ERROR and FATAL; categories
are system, application, security and performance. ``log_event`` is the one way code logs,
so every line carries the same keys.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

import orjson

__all__ = ["Category", "JsonFormatter", "configure", "log_event", "parse_level"]

TRACE = 5
FATAL = logging.CRITICAL
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(logging.WARNING, "WARN")
logging.addLevelName(FATAL, "FATAL")

Category = Literal["system", "application", "security", "performance"]

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
    **fields: Any,
) -> None:
    """Log ``event`` with structured ``fields``."""
    lvl = _LEVELS[level.upper()] if isinstance(level, str) else level
    if logger.isEnabledFor(lvl):
        logger.log(lvl, event, extra={"event": event, "category": category, "fields": fields})


def parse_level(spec: str) -> int:
    try:
        return _LEVELS[spec.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown log level {spec!r}; use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL") from None


def configure(spec: str = "info", stream: Any = None) -> None:
    """Send VisionFlow's logs as JSON lines to ``stream`` (stderr by default).

    ``spec`` is a level, optionally followed by per-component levels:
    ``"info,visionflow.stream=debug"``.
    """
    root = logging.getLogger("visionflow")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.INFO)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if "=" in part:
            name, level = part.split("=", 1)
            logging.getLogger(name.strip()).setLevel(parse_level(level))
        else:
            root.setLevel(parse_level(part))
