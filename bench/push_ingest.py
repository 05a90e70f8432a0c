"""Updates a second through the push ingest hot path: parse + validate + apply a JSON batch.

    python bench/push_ingest.py [--batch 1000] [--batches 50] [--agents 200] [--json]

Beside it, in the same run: the baseline writes the same updates straight into the
SwarmState (``state.update`` / ``record_message``, no JSON, no validation), which is the
floor any ingest pays. Also shown: validation alone. Ratios are ours / baseline in
updates a second, so 0.5 means the ingest runs at half the speed of raw state writes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from visionflow.observability.metrics import Metrics
from visionflow.sources import PushIngest, UpdateBatch
from visionflow.swarm import AgentStatus, SwarmState


def make_batches(count: int, size: int, agents: int) -> list[bytes]:
    batches = []
    n = 0
    for _ in range(count):
        upserts, messages = [], []
        for _ in range(size):
            if n % 4 == 0:
                messages.append({"from": f"a{n % agents}", "to": f"a{(n * 7 + 1) % agents}", "bytes": 100})
            else:
                upserts.append({"id": f"a{n % agents}", "tokens": n, "status": "busy", "workload": 0.5})
            n += 1
        batches.append(orjson.dumps({"agents": upserts, "messages": messages}))
    return batches


def seeded(agents: int) -> tuple[SwarmState, PushIngest]:
    state = SwarmState()
    ingest = PushIngest(state, Metrics(CollectorRegistry(), process_metrics=False))
    ingest.apply(UpdateBatch.model_validate({"agents": [{"id": f"a{i}", "type": "coder"} for i in range(agents)]}))
    return state, ingest


def rate(run: Callable[[], int], repeats: int = 5) -> float:
    """Best-of median updates a second over ``repeats`` runs."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = run()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bodies = make_batches(args.batches, args.batch, args.agents)
    parsed = [json.loads(b) for b in bodies]
    state, ingest = seeded(args.agents)
    base_state, _ = seeded(args.agents)
    now = time.time()

    def baseline() -> int:
        items = 0
        for body in parsed:
            for u in body["agents"]:
                base_state.update(u["id"], tokens=u["tokens"], status=AgentStatus(u["status"]), workload=u["workload"])
            for m in body["messages"]:
                base_state.record_message(m["from"], m["to"], now, m["bytes"])
            items += len(body["agents"]) + len(body["messages"])
        return items

    def validate() -> int:
        return sum(len(UpdateBatch.model_validate_json(b)) for b in bodies)

    def ingest_all() -> int:
        items = 0
        for b in bodies:
            batch = UpdateBatch.model_validate_json(b)
            ingest.apply(batch)
            items += len(batch)
        return items

    base = rate(baseline)
    results: dict[str, Any] = {"baseline_state_writes": base, "validate_only": rate(validate),
                               "ingest_validate_apply": rate(ingest_all)}  # fmt: skip
    state.drain()
    base_state.drain()
    if args.json:
        print(json.dumps({k: {"updates_per_s": v, "ratio_vs_baseline": v / base} for k, v in results.items()}))
        return
    print(f"push ingest, batches of {args.batch}, {args.agents} agents ({args.batches} batches a run, median of 5)")
    for name, value in results.items():
        print(f"  {name:24s} {value:12,.0f} updates/s   {value / base:6.2f}x baseline")


if __name__ == "__main__":
    main()
