"""What observability costs the 60 Hz loop, and how fast the log queries read.

    python bench/observability.py [--agents 200] [--ticks 2000] [--log-lines 200000] [--json]

Tick: the real Pipeline (200 agents by default) timed per tick with tracing off (the
default), with tracing on at the default sampling (one tick in 60 plus slow ones) and with
every tick traced, into the SDK's in-memory exporter. Ratios are against tracing off, in the
same run. Beside it: the per-call cost of the hot-path metric operations and of a no-op span,
and the cost of one whole /metrics scrape (which runs off the loop).

Logs: a synthetic log of ``--log-lines`` lines (1 % errors, 1 % slow ticks, 1 % disconnects)
queried by ``visionflow logs errors|slow|disconnects``; the baselines read the same file
line by line without parsing, and parse every line as JSON (the obvious implementation).
Ratios above 1 mean the query is that many times faster than the naive parse.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from visionflow.observability import tracing
from visionflow.observability.metrics import Metrics
from visionflow.ops import logs
from visionflow.physics import Backend, PhysicsEngine
from visionflow.server.instrumentation import instrument
from visionflow.server.pipeline import Pipeline
from visionflow.sources import SimulatedSource
from visionflow.swarm import SwarmState


def build(agents: int, trace: tracing.Tracing) -> tuple[Pipeline, Metrics]:
    state = SwarmState()
    source = SimulatedSource(agents, seed=1)
    asyncio.run(source.start(state, time.time()))
    metrics = Metrics(CollectorRegistry(), process_metrics=True)
    pipeline = Pipeline(state, source, PhysicsEngine(backend=Backend.CPU, seed=1), metrics, tracing=trace,
                        slow_tick_ms=1e6)  # fmt: skip
    pipeline.run_swarm(time.time())
    instrument(metrics, pipeline, requested="auto", backend="cpu", fallback=False)
    return pipeline, metrics


def tick_us(pipeline: Pipeline, ticks: int) -> float:
    for _ in range(200):
        pipeline.tick_inline()
    samples = []
    for _ in range(ticks):
        t = time.perf_counter()
        pipeline.tick_inline()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def per_call_ns(fn: Callable[[], object], n: int = 200_000) -> float:
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t)
    return best / n * 1e9


def bench_ticks(agents: int, ticks: int) -> dict[str, Any]:
    off = tracing.configure_tracing(environ={})
    base, metrics = build(agents, off)
    results: dict[str, Any] = {"agents": agents, "tick_us": {"tracing_off": tick_us(base, ticks)}}
    for label, every in (("tracing_sampled_1_in_60", 60), ("tracing_every_tick", 1)):
        exporter = InMemorySpanExporter()
        on = tracing.configure_tracing(exporter=exporter, tick_every=every)
        pipeline, _ = build(agents, on)
        results["tick_us"][label] = tick_us(pipeline, ticks)
        results.setdefault("spans", {})[label] = len(exporter.get_finished_spans())
    tracing.configure_tracing(environ={})
    baseline = results["tick_us"]["tracing_off"]
    results["ratio_vs_tracing_off"] = {k: v / baseline for k, v in results["tick_us"].items()}
    counter = metrics.network_sent
    results["per_call_ns"] = {
        "counter_inc": per_call_ns(lambda: counter.inc(28)),
        "histogram_observe": per_call_ns(lambda: metrics.stage["encode"].observe(0.0001)),
        "noop_span": per_call_ns(lambda: tracing.span("mcp.call")),
        "tracing_enabled_check": per_call_ns(lambda: off.enabled),
    }
    t = time.perf_counter()
    scrapes = 50
    for _ in range(scrapes):
        generate_latest(metrics.registry)
    results["scrape_us"] = (time.perf_counter() - t) / scrapes * 1e6
    results["scrape_ratio_vs_tick"] = results["scrape_us"] / baseline
    return results


def write_log(path: Path, lines: int) -> None:
    now = time.time()
    with path.open("wb") as out:
        for i in range(lines):
            t = now - 600 + 600 * i / lines
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
            body: dict[str, Any] = {"ts": ts, "level": "INFO", "category": "application", "component": "stream",
                                    "event": "client_connected", "remote": "127.0.0.1:5000"}  # fmt: skip
            kind = i % 100
            if kind == 0:
                body.update(level="ERROR", component="pipeline", event="tick_failed", error=f"boom {i % 7}")
            elif kind == 1:
                body.update(level="WARN", category="performance", component="pipeline", event="slow_tick",
                            processing_time_ms=5 + (i // 100) % 20, agent_count=200)  # fmt: skip
            elif kind == 2:
                reason = "abnormal_closure" if i % 3 else "normal_closure"
                body.update(event="client_disconnected", event_type="disconnect", connection_id=i,
                            disconnect_reason=reason, session_duration=3.5)  # fmt: skip
            out.write(orjson.dumps(body) + b"\n")


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000.0


def bench_logs(lines: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "visionflow.log"
        write_log(path, lines)

        def read_only() -> None:
            with path.open("rb") as f:
                for _ in f:
                    pass

        def parse_all() -> list[Any]:
            cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 300))
            with path.open("rb") as f:
                rows = [orjson.loads(x) for x in f]
            return [r for r in rows if r["level"] in ("ERROR", "FATAL") and r["ts"] >= cutoff]

        ms = {
            "read_lines_only": timed(read_only),
            "parse_every_line": timed(parse_all),
            "errors_5m": timed(lambda: logs.errors(path, 300)),
            "slow_15m": timed(lambda: logs.slow(path, 10, 900)),
            "disconnects_10m": timed(lambda: logs.disconnects(path, 600)),
        }
        size = path.stat().st_size
    naive = ms["parse_every_line"]
    return {
        "lines": lines,
        "megabytes": round(size / 1e6, 1),
        "ms": ms,
        "speedup_vs_parse_every_line": {k: naive / v for k, v in ms.items() if k not in ("parse_every_line",)},
        "lines_per_s": {k: lines / (v / 1000) for k, v in ms.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--log-lines", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {"ticks": bench_ticks(args.agents, args.ticks), "logs": bench_logs(args.log_lines)}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    t = results["ticks"]
    print(f"tick, {t['agents']} agents (median µs; ratio vs tracing off, same run)")
    for label, us in t["tick_us"].items():
        print(f"  {label:26s} {us:9.1f} µs   x{t['ratio_vs_tracing_off'][label]:.3f}")
    print("hot-path operations (ns per call)")
    for label, ns in t["per_call_ns"].items():
        print(f"  {label:26s} {ns:9.1f} ns")
    print(f"one /metrics scrape (off the loop): {t['scrape_us']:.0f} µs = x{t['scrape_ratio_vs_tick']:.2f} of a tick")
    lg = results["logs"]
    print(f"log queries over {lg['lines']:,} lines ({lg['megabytes']} MB), best of 3")
    for label, ms in lg["ms"].items():
        speed = lg["speedup_vs_parse_every_line"].get(label)
        ratio = "" if speed is None else f"   x{speed:.1f} vs parse-every-line"
        print(f"  {label:26s} {ms:9.1f} ms{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
