"""Fixtures shared by every test: fresh metrics registries and, for integration tests, a live server."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from visionflow.observability.metrics import Metrics


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry(), process_metrics=False)
