"""Metrics, logs and traces for every stage."""

from visionflow.observability.metrics import STAGES, Metrics

__all__ = ["STAGES", "Metrics"]
