"""Time per tick of the whole pipeline, split by stage, at several swarm sizes.

    python bench/pipeline.py [--agents 200,10000,100000] [--ticks 200] [--json]

Each size runs the real Pipeline (simulated source, CPU physics, delta encoder) without
clients. Beside it, in the same run, a baseline does the same tick the naive way: the
NumPy reference physics and the frame as JSON (what a text protocol would send). Ratios
are baseline / ours, so 5.0 means five times faster; the machines are noisy, so only
figures from one run are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from visionflow.observability.metrics import Metrics
from visionflow.physics import Backend, PhysicsEngine
from visionflow.protocol import RECORD_SIZE
from visionflow.server.pipeline import Pipeline
from visionflow.sources import SimulatedSource
from visionflow.swarm import SwarmState

STAGES = ("source", "swarm", "physics", "encode", "broadcast", "total")
REFERENCE_LIMIT = 3000
"""The NumPy reference holds N x N arrays; beyond this it is not run."""


class TickClock:
    """Swarm time that advances exactly one tick per call of ``advance``, however long a tick took.

    With wall time, a slow tick would let the simulator generate more events for the next
    one, and large swarms would be measured doing more work than they do at 60 Hz.
    """

    def __init__(self, hz: float = 60.0) -> None:
        self.now = time.time()
        self.step = 1.0 / hz

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def build(agents: int, backend: Backend) -> Pipeline:
    clock = TickClock()
    state = SwarmState()
    source = SimulatedSource(agents, seed=1)
    asyncio.run(source.start(state, clock.now))
    engine = PhysicsEngine(backend=backend, seed=1)
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    pipeline = Pipeline(state, source, engine, metrics, wall_clock=clock)
    pipeline.run_swarm(clock.now)
    return pipeline


def measure(pipeline: Pipeline, ticks: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        pipeline.tick_inline()
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(ticks):
        for stage, seconds in pipeline.tick_inline().as_dict().items():
            samples[stage].append(seconds * 1000.0)
    return {stage: statistics.median(values) for stage, values in samples.items()}


def json_encode_ms(pipeline: Pipeline, repeats: int) -> float:
    """The frame as a JSON array of objects, the way a text protocol would carry it."""
    engine = pipeline.engine
    ids, pos, vel = engine.ids, engine.positions, engine.velocities
    start = time.perf_counter()
    for _ in range(repeats):
        orjson.dumps(
            [
                {"id": int(i), "x": float(p[0]), "y": float(p[1]), "z": float(p[2]),
                 "vx": float(v[0]), "vy": float(v[1]), "vz": float(v[2])}
                for i, p, v in zip(ids, pos, vel, strict=True)
            ]
        )  # fmt: skip
    return (time.perf_counter() - start) * 1000.0 / repeats


def run(sizes: list[int], ticks: int) -> list[dict[str, Any]]:
    results = []
    for agents in sizes:
        scale = max(1, agents // 2000)
        n_ticks = max(3, ticks // scale)
        ours_pipeline = build(agents, Backend.CPU)
        ours = measure(ours_pipeline, n_ticks, warmup=min(20, n_ticks))
        row: dict[str, Any] = {"agents": agents, "ticks": n_ticks, "ours_ms": ours}
        row["frame_bytes_full"] = ours_pipeline.engine.n * RECORD_SIZE
        json_ms = json_encode_ms(ours_pipeline, max(1, 20 // scale))
        row["baseline_encode_json_ms"] = json_ms
        row["encode_ratio"] = json_ms / ours["encode"] if ours["encode"] else None
        if agents <= REFERENCE_LIMIT:
            base = measure(build(agents, Backend.REFERENCE), max(3, n_ticks // 10), warmup=2)
            row["baseline_physics_ms"] = base["physics"]
            row["physics_ratio"] = base["physics"] / ours["physics"]
            baseline_total = base["total"] - base["encode"] + json_ms
            row["baseline_total_ms"] = baseline_total
            row["total_ratio"] = baseline_total / ours["total"]
        results.append(row)
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    header = f"{'agents':>8} " + " ".join(f"{s:>10}" for s in STAGES) + "   vs baseline (x faster)"
    print("median ms per tick, by stage")
    print(header)
    for row in results:
        ours = row["ours_ms"]
        ratios = [f"encode {row['encode_ratio']:.1f}x vs JSON"]
        if "physics_ratio" in row:
            ratios.append(f"physics {row['physics_ratio']:.1f}x vs NumPy")
            ratios.append(f"tick {row['total_ratio']:.1f}x")
        cells = " ".join(f"{ours[s]:>10.4f}" for s in STAGES)
        print(f"{row['agents']:>8} {cells}   {', '.join(ratios)}")
    print("baseline = NumPy reference physics + JSON frame, measured in this run;"
          f" reference physics skipped above {REFERENCE_LIMIT} agents (N x N memory)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default="200,10000,100000", help="comma-separated swarm sizes")
    parser.add_argument("--ticks", type=int, default=300, help="ticks measured at 2,000 agents or fewer")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    try:
        sizes = [int(x) for x in args.agents.split(",") if x.strip()]
    except ValueError:
        parser.error("--agents: expected comma-separated integers")
    if not sizes or min(sizes) < 1 or max(sizes) > 100_000:
        parser.error("--agents: each size must be between 1 and 100000")
    logging.getLogger("visionflow").setLevel(logging.ERROR)  # slow-tick warnings are expected here
    results = run(sizes, args.ticks)
    if args.json:
        print(json.dumps({"benchmark": "pipeline", "results": results}, default=float))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
