"""Binds the scrape-time metrics to the objects they describe.

Everything here runs when Prometheus scrapes, never in the tick: the stage gauges read the
times the pipeline already records, the intensity heatmap reads the intensities the
pipeline already computed, and the protocol's compression ratio and accuracy are measured
on a sample of the live state, at most once a second however often it is scraped.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import orjson

from visionflow.errors import FrameError
from visionflow.observability.metrics import INTENSITY_BUCKETS, Metrics
from visionflow.physics import PhysicsEngine
from visionflow.protocol.binary import decode, encode
from visionflow.server.pipeline import Pipeline

__all__ = ["WireQuality", "instrument", "intensity_buckets"]


def intensity_buckets(
    intensities: np.ndarray, bounds: Sequence[float] = INTENSITY_BUCKETS
) -> list[tuple[tuple[str], float]]:
    """Cumulative counts of links at most each bound, then ``+Inf`` (Prometheus bucket style)."""
    ordered = np.sort(intensities)
    counts = np.searchsorted(ordered, np.asarray(bounds, dtype=np.float32), side="right")
    rows: list[tuple[tuple[str], float]] = [((repr(float(b)),), float(c)) for b, c in zip(bounds, counts, strict=True)]
    rows.append((("+Inf",), float(len(ordered))))
    return rows


class WireQuality:
    """Compression ratio against JSON and round-trip accuracy of the binary records, on a sample.

    256 records give the same ratio as the whole state to about 0.2 % and cost well under a
    millisecond; the scrape thread holds the GIL meanwhile, so the sample stays small.
    """

    def __init__(
        self,
        engine: PhysicsEngine,
        *,
        sample: int = 256,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.sample = sample
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._at = -math.inf
        self._value = (math.nan, math.nan)

    def measure(self) -> tuple[float, float]:
        """``(compression ratio, accuracy %)``, NaN for both while there are no nodes."""
        with self._lock:
            now = self._clock()
            if now - self._at >= self.min_interval_s:
                self._value = self._measure()
                self._at = now
            return self._value

    def _measure(self) -> tuple[float, float]:
        engine = self.engine
        ids, pos, vel = engine.ids.copy(), engine.positions.copy(), engine.velocities.copy()
        k = min(len(ids), len(pos), len(vel), self.sample)
        if k == 0:
            return math.nan, math.nan
        ids, pos, vel = ids[:k], pos[:k], vel[:k]
        binary = encode(ids, pos, vel)
        as_json = orjson.dumps(
            [
                {"id": i, "position": {"x": p[0], "y": p[1], "z": p[2]}, "velocity": {"x": v[0], "y": v[1], "z": v[2]}}
                for i, p, v in zip(ids.tolist(), pos.tolist(), vel.tolist(), strict=True)
            ]
        )
        ratio = len(as_json) / len(binary)
        try:
            frame = decode(binary)
        except FrameError:
            return ratio, 0.0
        exact = (
            (frame.node_ids == ids)
            & (frame.positions.view(np.uint32) == pos.view(np.uint32)).all(axis=1)
            & (frame.velocities.view(np.uint32) == vel.view(np.uint32)).all(axis=1)
        )
        return ratio, 100.0 * float(exact.mean())


def instrument(metrics: Metrics, pipeline: Pipeline, *, requested: str, backend: str, fallback: bool) -> WireQuality:
    """Point every scrape-time metric at ``pipeline`` and its engine; returns the protocol sampler."""
    quality = WireQuality(pipeline.engine)

    def stage_ms() -> float:
        t = pipeline.last_times
        return (t.source + t.swarm + t.physics) * 1000.0

    def gpu_rows() -> Iterable[tuple[tuple[str], float]]:
        return [((backend,), pipeline.last_times.physics)]

    metrics.agent_processing_time_ms.set_function(stage_ms)
    metrics.binary_encoding_duration.set_function(lambda: pipeline.last_times.encode)
    metrics.binary_protocol_efficiency.set_function(lambda: pipeline.delta_saving * 100.0)
    metrics.binary_protocol_compression_ratio.set_function(lambda: quality.measure()[0])
    metrics.binary_protocol_accuracy.set_function(lambda: quality.measure()[1])
    metrics.gpu_processing_duration.bind(gpu_rows)
    metrics.communication_intensity_histogram.bind(lambda: intensity_buckets(pipeline.last_intensities))
    metrics.physics_backend.bind(lambda: [((requested, backend), 1.0)])
    metrics.physics_gpu_fallback.set(1.0 if fallback else 0.0)
    return quality
