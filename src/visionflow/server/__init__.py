"""The server: HTTP API, the 60 Hz pipeline, settings and process lifecycle."""

from visionflow.server.pipeline import Pipeline, TickTimes
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings, load_settings

__all__ = ["Pipeline", "Runtime", "Settings", "TickTimes", "load_settings"]
