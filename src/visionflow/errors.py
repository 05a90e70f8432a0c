"""The exceptions VisionFlow raises, in one tree.

    VisionFlowError
    ├── ConfigError                     a setting or argument is out of range or of the wrong type
    ├── FrameError                      a binary frame or client message fails validation
    ├── PhysicsError                    the engine was handed inconsistent arrays
    ├── SwarmError                      the live model refused a change
    │   ├── UnknownAgentError           no agent has that id
    │   ├── ImmutableFieldError         an update tried to change an agent's id or node id
    │   └── SwarmFullError              every node id is taken: 2**30 live agents
    ├── SourceError                     an agent source failed to deliver, or refused what it was sent
    │   ├── MalformedResultError        a tool result does not have the shape its mapping expects
    │   ├── ToolFailedError             the orchestrator answered a tool call with an error
    │   ├── ControlError                a control action (start a swarm, spawn an agent) was not done
    │   │   ├── ControlUnsupportedError     the profile names no tool for the action
    │   │   ├── ControlUnavailableError     the orchestrator is not connected
    │   │   ├── ControlFailedError          the tool failed, or answered with a failure
    │   │   └── ControlTimeoutError         the tool gave no answer in time
    │   ├── IngestConflictError         a pushed batch names an agent another source owns
    │   └── TelemetryPayloadError       an OTLP export request cannot be read (malformed)
    │       ├── PayloadTooLargeError        over the byte limit, as sent or once decompressed
    │       └── UnsupportedPayloadError     a content type or encoding the receiver does not read
    ├── StoreError                      the store's database could not be opened, migrated or read
    ├── BatchRejectedError              the server refused a batch the reporter sent; resending cannot help
    └── StreamClosedError               a WebSocket client went away; carries the close code

Errors carry what is wrong, never how to answer it: the HTTP routes map classes to statuses,
so every error that reaches an HTTP client becomes a 4xx with a JSON body naming the field
(or, for a failed control action, the 5xx that says the orchestrator failed, not the caller).

Four classes are also the built-in exception of the code they replaced: ``ConfigError`` and
``ImmutableFieldError`` are ``ValueError``s, ``UnknownAgentError`` a ``KeyError``,
``SwarmFullError`` an ``OverflowError``; so callers that caught those still do (``except
ValueError`` around ``SimulatedSource(agents=0)``). ``IngestConflictError`` was a
``ValueError`` too, but only the ingest route caught it, by name, and a conflict is not a bad
value, so it is not one any more. ``ConfigError`` is never raised inside a pydantic validator,
where a ``ValueError`` would quietly become a ``ValidationError``.
"""

from __future__ import annotations

__all__ = [
    "BatchRejectedError",
    "ConfigError",
    "ControlError",
    "ControlFailedError",
    "ControlTimeoutError",
    "ControlUnavailableError",
    "ControlUnsupportedError",
    "FrameError",
    "ImmutableFieldError",
    "IngestConflictError",
    "MalformedResultError",
    "PayloadTooLargeError",
    "PhysicsError",
    "SourceError",
    "StoreError",
    "StreamClosedError",
    "SwarmError",
    "SwarmFullError",
    "TelemetryPayloadError",
    "ToolFailedError",
    "UnknownAgentError",
    "UnsupportedPayloadError",
    "VisionFlowError",
]


class VisionFlowError(Exception):
    """Base of every error VisionFlow raises on purpose."""


class ConfigError(VisionFlowError, ValueError):
    """A setting or argument is invalid; ``field`` names it so messages can point at the flag or key.

    A ``ValueError`` too: it is what Python raises for a value out of range, and the
    argument checks it replaced (``SimulatedSource``, ``DeltaEncoder``, ``LinkTable``) raised it.
    Nothing raises it inside a pydantic validator, where that would turn it into a ValidationError.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class FrameError(VisionFlowError):
    """A binary frame is malformed."""


class PhysicsError(VisionFlowError):
    """The physics engine was given arrays it cannot use."""


# ------------------------------------------------------------------ swarm
class SwarmError(VisionFlowError):
    """The live model refused a change."""


class UnknownAgentError(SwarmError, KeyError):
    """No agent has this id; ``agent_id`` is the id asked for. A ``KeyError``, as the lookup it replaced."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(agent_id)
        self.agent_id = agent_id

    def __str__(self) -> str:
        return f"no agent {self.agent_id!r}"


class ImmutableFieldError(SwarmError, ValueError):
    """An update named a field that is an agent's identity (``id``, ``node_id``); ``field`` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} cannot be changed")
        self.field = field


class SwarmFullError(SwarmError, OverflowError):
    """Every one of the 2**30 node ids is held by a live agent."""


# ---------------------------------------------------------------- sources
class SourceError(VisionFlowError):
    """An agent source could not deliver data, or refused what it was sent."""


class MalformedResultError(SourceError):
    """A tool result whose shape does not match the mapping (not JSON, wrong types, too large)."""


class ToolFailedError(SourceError):
    """The orchestrator answered, but with an error (unknown tool, bad arguments, failure)."""


class ControlError(SourceError):
    """A control action could not be carried out; the subclass says why, ``message`` says what."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ControlUnsupportedError(ControlError):
    """The profile maps no tool to this action."""


class ControlUnavailableError(ControlError):
    """There is no live session to the orchestrator to run the action over."""


class ControlFailedError(ControlError):
    """The tool ran and failed, or its answer was malformed or said ``success: false``."""


class ControlTimeoutError(ControlError):
    """The tool gave no answer within the source's timeout."""


class IngestConflictError(SourceError):
    """A batch names an agent that another source owns; ``loc`` points at the item."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


class TelemetryPayloadError(SourceError):
    """An OTLP export request that cannot be read: not the protobuf or JSON it claims to be."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadTooLargeError(TelemetryPayloadError):
    """An OTLP request over the byte limit, as sent or once decompressed (a gzip bomb)."""


class UnsupportedPayloadError(TelemetryPayloadError):
    """An OTLP request in a content type or content encoding the receiver does not read."""


# ------------------------------------------------------------------ store
class StoreError(VisionFlowError):
    """The store's database could not be opened, migrated or read; the message names it and the cause.

    Raised at start (the server needs its database then); later outages are not errors but a
    degraded store that spools what it cannot write.
    """


# ----------------------------------------------------------------- client
class BatchRejectedError(VisionFlowError):
    """The server refused a batch (a 4xx other than 429): sending it again would not help."""


class StreamClosedError(VisionFlowError):
    """A WebSocket client disconnected or was disconnected; ``code`` is the close code."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed with code {code}: {reason}" if reason else f"closed with code {code}")
        self.code = code
        self.reason = reason
