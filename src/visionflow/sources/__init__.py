"""Where agents come from: the simulator, MCP orchestrators, pushed updates, and OpenTelemetry traces."""

from visionflow.errors import ControlError, IngestConflictError, MalformedResultError
from visionflow.sources.base import AgentSource, SourceStatus
from visionflow.sources.mcp import MCPSource, MCPTarget
from visionflow.sources.otlp import OtlpIngest, OtlpSource
from visionflow.sources.profile import BUILTIN_PROFILES, ProfileMapping, load_profile
from visionflow.sources.push import PushIngest, PushSource, UpdateBatch
from visionflow.sources.simulated import SimulatedSource

__all__ = [
    "BUILTIN_PROFILES",
    "AgentSource",
    "ControlError",
    "IngestConflictError",
    "MCPSource",
    "MCPTarget",
    "MalformedResultError",
    "OtlpIngest",
    "OtlpSource",
    "ProfileMapping",
    "PushIngest",
    "PushSource",
    "SimulatedSource",
    "SourceStatus",
    "UpdateBatch",
    "load_profile",
]
