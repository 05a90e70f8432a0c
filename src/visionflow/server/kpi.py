"""KPI samples for capacity planning: once a minute, the figures of the minute just gone.

Everything is read from what the process already measures (the metrics registry, the
process's CPU clock, its resident memory), as differences since the previous sample, so
taking a sample costs the tick nothing. Tick percentiles come from the ``total`` stage
histogram's buckets, interpolated the way PromQL's ``histogram_quantile`` does.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from visionflow.observability.metrics import Metrics
from visionflow.store import KpiSample

__all__ = ["KpiSampler", "bucket_quantile"]


def bucket_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """The ``q`` quantile of cumulative bucket ``counts`` (upper ``bounds``, last +Inf); None when empty."""
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _resident_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


class KpiSampler:
    """Differences of the process's counters between two calls, as one ``KpiSample``."""

    def __init__(
        self,
        metrics: Metrics,
        agents: Callable[[], int],
        clients: Callable[[], int],
        *,
        clock: Callable[[], float] = time.time,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self.metrics = metrics
        self._agents = agents
        self._clients = clients
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._last = self._read()

    def _read(self) -> tuple[float, float, float, float, list[float], list[float]]:
        registry = self.metrics.registry
        frames = registry.get_sample_value("visionflow_frames_sent_total") or 0.0
        errors = 0.0
        bounds: list[float] = []
        counts: list[float] = []
        for family in registry.collect():
            if family.name == "visionflow_errors":
                errors += sum(s.value for s in family.samples if s.name.endswith("_total"))
            elif family.name == "visionflow_processing_duration_seconds":
                for sample in family.samples:
                    if sample.name.endswith("_bucket") and sample.labels.get("stage") == "total":
                        bounds.append(float(sample.labels["le"]))
                        counts.append(sample.value)
        return self._clock(), self._cpu_clock(), frames, errors, bounds, counts

    def sample(self) -> KpiSample:
        """The figures since the last call (or since this sampler was made)."""
        t0, cpu0, frames0, errors0, _, counts0 = self._last
        now = self._last = self._read()
        t1, cpu1, frames1, errors1, bounds, counts1 = now
        span = max(t1 - t0, 1e-9)
        ticks = [c1 - c0 for c0, c1 in zip(counts0, counts1, strict=True)] if len(counts0) == len(counts1) else counts1
        p50 = bucket_quantile(0.5, bounds, ticks)
        p95 = bucket_quantile(0.95, bounds, ticks)
        return KpiSample(
            at=t1,
            cpu_percent=round(100.0 * (cpu1 - cpu0) / span, 2),
            memory_bytes=_resident_bytes(),
            agents=self._agents(),
            clients=self._clients(),
            tick_p50_ms=None if p50 is None else round(p50 * 1000.0, 4),
            tick_p95_ms=None if p95 is None else round(p95 * 1000.0, 4),
            frames_per_s=round((frames1 - frames0) / span, 3),
            errors_per_s=round((errors1 - errors0) / span, 5),
        )
