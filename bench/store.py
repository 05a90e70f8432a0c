"""What the store costs and how fast it writes and reads, SQLite and PostgreSQL side by side.

    python bench/store.py [--agents 200,10000] [--seconds 8] [--no-postgres] [--json]

Three figures, all measured in this run:

1. **Tick time, store on vs off.** A real server runtime (simulated swarm, CPU physics, the
   60 Hz loop, no clients) runs for ``--seconds`` with the store off, then on (SQLite; and
   PostgreSQL when reachable), alternating twice; the ratio is the mean tick with the store
   over the mean tick without. The store's share of a tick is copying positions once a
   second and queueing records; the writer thread's CPU shows up here too (2 cores).
2. **Position rows written a second** by the writer (every node moved, so every row is
   written), against the rows a swarm of each size produces at ``history_hz`` = 1.
3. **History read**: a 10-minute window of 200 agents sampled at 1 Hz (120,000 rows),
   downsampled at 1 s and turned into the API's JSON, as ``GET /api/bots/history`` does,
   against fetching the same rows straight from the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.postgres import postgres_available, temporary_database

from visionflow.observability.metrics import Metrics
from visionflow.server.kpi import bucket_quantile
from visionflow.server.routes.history import _json
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings
from visionflow.store import HistoryLimits, PositionSample, Store, StoreConfig, WriterConfig, window_page
from visionflow.store.records import AgentSeen
from visionflow.store.writer import write_records


def tick_stats(metrics: Metrics) -> tuple[float, float, float, int]:
    """Mean, p50 and p95 tick (ms) and the tick count, from the ``total`` stage histogram."""
    bounds, counts, total, count = [], [], 0.0, 0
    for family in metrics.registry.collect():
        if family.name != "visionflow_processing_duration_seconds":
            continue
        for s in family.samples:
            if s.labels.get("stage") != "total":
                continue
            if s.name.endswith("_bucket"):
                bounds.append(float(s.labels["le"]))
                counts.append(s.value)
            elif s.name.endswith("_sum"):
                total = s.value
            elif s.name.endswith("_count"):
                count = int(s.value)
    p50 = bucket_quantile(0.5, bounds, counts) or 0.0
    p95 = bucket_quantile(0.95, bounds, counts) or 0.0
    return 1000.0 * total / max(count, 1), 1000.0 * p50, 1000.0 * p95, count


async def run_server(agents: int, seconds: float, data_dir: Path, store: bool, url: str | None) -> dict[str, float]:
    settings = Settings(agents=agents, seed=1, physics="cpu", ws_port=0, store=store, data_dir=data_dir,
                        database_url=url)  # fmt: skip
    metrics = Metrics(CollectorRegistry(), process_metrics=False)
    runtime = Runtime(settings, metrics=metrics)
    await runtime.start()
    await asyncio.sleep(1.0)  # past the first ticks
    start_count = tick_stats(metrics)
    await asyncio.sleep(seconds)
    mean1, _, _, n1 = tick_stats(metrics)
    mean0, _, _, n0 = start_count
    mean = (mean1 * n1 - mean0 * n0) / max(n1 - n0, 1)
    _, p50, p95, _ = tick_stats(metrics)
    rows = 0.0
    if runtime.persistence.store is not None:
        rows = metrics.registry.get_sample_value("visionflow_store_write_duration_seconds_count",
                                                 {"kind": "positions"}) or 0.0  # fmt: skip
    await runtime.stop()
    return {"mean_ms": mean, "p50_ms": p50, "p95_ms": p95, "ticks": n1 - n0, "position_writes": rows}


async def rows_per_second(url: str | None, data_dir: Path, agents: int, samples: int) -> float:
    """Rows a second the writer puts into the database when every node moved in every sample."""
    store = Store(StoreConfig(data_dir, url, writer=WriterConfig(queue_rows=10**8)),
                  Metrics(CollectorRegistry(), process_metrics=False))  # fmt: skip
    await store.open()
    rng = np.random.default_rng(1)
    ids = (np.arange(agents, dtype=np.uint32) | np.uint32(1 << 31)).astype(np.uint32)
    keys = np.arange(1, agents + 1, dtype=np.int64)
    now = time.time()
    batches = [PositionSample(now + i, keys, ids, rng.normal(size=(agents, 3)).astype(np.float32) * 50,
                              np.zeros((agents, 3), np.float32)) for i in range(samples)]  # fmt: skip
    began = time.perf_counter()
    for sample in batches:
        store.offer(sample)
    await store.call(store.writer.cycle)  # writes whatever the writer thread has not written yet
    await store.call(store.writer.cycle)  # and waits behind a write it had started
    elapsed = time.perf_counter() - began
    await store.close()
    return agents * samples / elapsed


async def history_read(url: str | None, data_dir: Path) -> tuple[float, float]:
    """Median milliseconds to read and encode a 10-minute, 200-agent, 1 Hz window, and to fetch its raw rows."""
    store = Store(StoreConfig(data_dir, url), Metrics(CollectorRegistry(), process_metrics=False))
    await store.open()
    t0 = time.time() - 700
    agents, seconds = 200, 600
    seen = [AgentSeen(k, f"a{k}", 2**31 + k, f"a{k}", "coder", "busy", "push", t0, {}) for k in range(1, agents + 1)]

    async def fill(conn: Any) -> None:
        await write_records(conn, seen)
        await store.retention.ensure(conn, [t0, t0 + seconds])
        from visionflow.store.repos import positions

        rows = [(k, 2**31 + k, t0 + s, float(k), float(s), 0.5, 0.0, 0.0, 0.0)
                for s in range(seconds) for k in range(1, agents + 1)]  # fmt: skip
        await positions.save(conn, rows)
        await conn.commit()

    await store.read(fill)
    limits = HistoryLimits()

    async def read(conn: Any) -> bytes:
        page = await window_page(conn, start=t0, end=t0 + seconds, step=1.0, agent_ids=None, offset=0, limits=limits)
        assert page["points"] == agents * seconds, (page["points"], page["agents_total"], len(page["agents"]))
        return _json(page)

    async def raw(conn: Any) -> int:
        """The baseline: the same rows straight from the driver, no downsampling, no JSON."""
        driver: Any = (await conn.get_raw_connection()).driver_connection
        sql = "SELECT * FROM agent_positions WHERE t >= {} AND t <= {} ORDER BY agent_key, t"
        if url is None:
            return len(await driver.execute_fetchall(sql.format("?", "?"), (t0, t0 + seconds)))
        return len(await driver.fetch(sql.format("$1", "$2"), t0, t0 + seconds))

    ours, baseline = [], []
    for _ in range(7):
        began = time.perf_counter()
        await store.read(read)
        ours.append((time.perf_counter() - began) * 1000.0)
        began = time.perf_counter()
        assert await store.read(raw) == agents * seconds
        baseline.append((time.perf_counter() - began) * 1000.0)
    await store.close()
    return statistics.median(ours), statistics.median(baseline)


@contextlib.contextmanager
def fresh(kind: str) -> Iterator[str | None]:
    """No URL for SQLite (each run has a folder of its own); a new, empty PostgreSQL database otherwise."""
    if kind == "sqlite":
        yield None
        return
    yield from temporary_database()


def main() -> None:
    logging.getLogger("visionflow").setLevel(logging.ERROR)  # slow-tick lines would bury the figures
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="200,10000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(a) for a in args.agents.split(",")]
    use_pg = not args.no_postgres and postgres_available()
    results: dict[str, Any] = {"ticks": {}, "rows_per_s": {}, "history_ms": {}}
    databases = ["sqlite"] + (["postgresql"] if use_pg else [])
    for db in databases:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
                for round_ in range(2):
                    for mode in ("off", "on"):
                        where = Path(tmp) / f"{n}-{round_}-{mode}"
                        with fresh(db) as url:
                            runs[mode].append(asyncio.run(run_server(n, args.seconds, where, mode == "on", url)))
                off = statistics.mean(r["mean_ms"] for r in runs["off"])
                on = statistics.mean(r["mean_ms"] for r in runs["on"])
                p95 = {mode: statistics.mean(r["p95_ms"] for r in runs[mode]) for mode in runs}
                results["ticks"][f"{db}:{n}"] = {"off_ms": off, "on_ms": on, "ratio": on / off,
                                                 "off_p95_ms": p95["off"], "on_p95_ms": p95["on"]}  # fmt: skip
                with fresh(db) as url:
                    rate = asyncio.run(rows_per_second(url, Path(tmp) / f"rows-{n}", n, max(20, 200_000 // n)))
                results["rows_per_s"][f"{db}:{n}"] = rate
            with fresh(db) as url:
                results["history_ms"][db] = asyncio.run(history_read(url, Path(tmp) / "history"))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("tick with the store on / off (mean ms, same run, alternating):")
    for name, r in results["ticks"].items():
        print(f"  {name:>18}: off {r['off_ms']:.3f} ms  on {r['on_ms']:.3f} ms  ratio {r['ratio']:.3f}  "
              f"(p95 {r['off_p95_ms']:.2f} / {r['on_p95_ms']:.2f} ms)")  # fmt: skip
    print("position rows written a second (every node moved), against what 1 Hz needs:")
    for name, rate in results["rows_per_s"].items():
        need = int(name.split(":")[1])
        print(f"  {name:>18}: {rate:,.0f} rows/s = {rate / need:.1f}x the {need:,} rows/s of 1 Hz")
    print("history: 10 minutes x 200 agents at 1 Hz (120,000 points), read + JSON, median of 7,")
    print("against fetching the same rows raw from the driver (no downsampling, no JSON):")
    for name, (ms, raw_ms) in results["history_ms"].items():
        print(f"  {name:>18}: {ms:.1f} ms  raw {raw_ms:.1f} ms  ratio {ms / raw_ms:.2f}")


if __name__ == "__main__":
    main()
