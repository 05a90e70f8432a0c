"""Where agents come from: the simulator, MCP orchestrators, and pushed updates."""

from visionflow.sources.base import AgentSource, SourceStatus
from visionflow.sources.mapping import BUILTIN_PROFILES, MalformedResultError, ProfileMapping, load_profile
from visionflow.sources.mcp import ControlError, MCPSource, MCPTarget
from visionflow.sources.push import IngestConflictError, PushIngest, PushSource, UpdateBatch
from visionflow.sources.simulated import SimulatedSource

__all__ = [
    "BUILTIN_PROFILES",
    "AgentSource",
    "ControlError",
    "IngestConflictError",
    "MCPSource",
    "MCPTarget",
    "MalformedResultError",
    "ProfileMapping",
    "PushIngest",
    "PushSource",
    "SimulatedSource",
    "SourceStatus",
    "UpdateBatch",
    "load_profile",
]
