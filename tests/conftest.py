"""Fixtures shared by every test: fresh metrics registries and, for integration tests, a live server."""

from __future__ import annotations

import os

# CUDA kernels run on numba-cuda's CPU simulator unless a run asks for the real device
# (bench/gpu_check.sh sets NUMBA_ENABLE_CUDASIM=0). It must be set before numba loads.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import pytest
from prometheus_client import CollectorRegistry

from visionflow.observability.metrics import Metrics


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry(), process_metrics=False)
