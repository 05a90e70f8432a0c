"""Where agents come from: the simulator, MCP orchestrators, and pushed updates."""

from visionflow.sources.base import AgentSource, SourceStatus
from visionflow.sources.simulated import SimulatedSource

__all__ = ["AgentSource", "SimulatedSource", "SourceStatus"]
