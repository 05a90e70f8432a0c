"""The exceptions VisionFlow raises, in one tree.

    VisionFlowError
    ├── ConfigError            a setting is out of range or of the wrong type
    ├── FrameError             a binary frame fails validation (length, finiteness, bounds)
    ├── PhysicsError           the engine was handed inconsistent arrays
    ├── SourceError            an agent source failed to deliver (connection, malformed data)
    └── StreamClosedError           a WebSocket client went away; carries the close code

Every error that reaches an HTTP client becomes a 4xx with a JSON body naming the field.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FrameError",
    "PhysicsError",
    "SourceError",
    "StreamClosedError",
    "VisionFlowError",
]


class VisionFlowError(Exception):
    """Base of every error VisionFlow raises on purpose."""


class ConfigError(VisionFlowError):
    """A setting is invalid; ``field`` names it so messages can point at the flag or key."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class FrameError(VisionFlowError):
    """A binary frame is malformed."""


class PhysicsError(VisionFlowError):
    """The physics engine was given arrays it cannot use."""


class SourceError(VisionFlowError):
    """An agent source could not deliver data."""


class StreamClosedError(VisionFlowError):
    """A WebSocket client disconnected or was disconnected; ``code`` is the close code."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed with code {code}: {reason}" if reason else f"closed with code {code}")
        self.code = code
        self.reason = reason
