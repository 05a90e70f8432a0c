"""VisionFlow: live 3D view of AI agent swarms."""

__version__ = "0.1.0"
