"""Spans a second through the OTLP receiver's hot path, against the push API's updates a second, in one run.

    python bench/otlp_ingest.py [--spans 1000] [--requests 50] [--gzip] [--json]

The OTLP side takes protobuf ``ExportTraceServiceRequest`` bodies of ``--spans`` spans each, as an
agent framework's exporter sends them (children before parents; agents reused across traces
through a conversation id, 200 in all), and measures what the route does with one: inflate,
parse, read the spans (``decode_body``, the part that runs in a worker thread) and apply them to
the swarm (the part on the event loop). Beside it, the push API's hot path from
``bench/push_ingest.py``: parse, validate and apply a 1,000-item JSON batch. Ratios are spans a
second over push updates a second, measured in the same round, so 1.0 means a span costs what a
pushed update costs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from push_ingest import make_batches, seeded  # the push benchmark's own batches
from visionflow.observability.metrics import Metrics
from visionflow.server.routes.otlp import decode_body
from visionflow.sources import OtlpIngest, UpdateBatch
from visionflow.swarm import SwarmState

AGENTS = ("planner", "coder", "reviewer", "tester", "writer")
SESSIONS = 40  # x 5 names = 200 agents, as in the push benchmark


def attrs(**values: Any) -> list[KeyValue]:
    out = []
    for key, value in values.items():
        any_value = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
        out.append(KeyValue(key=key.replace("__", "."), value=any_value))
    return out


def make_requests(count: int, spans: int, compress: bool) -> list[bytes]:
    """``count`` bodies of ``spans`` spans: traces of five agents, each with model calls, tools and a step."""
    bodies = []
    trace_no = span_no = 0
    t0 = 1_700_000_000_000_000_000
    for _ in range(count):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.extend(attrs(service__name="bench"))
        out = resource.scope_spans.add().spans
        while len(out) < spans:
            trace_no += 1
            trace_id = trace_no.to_bytes(16, "big")
            session = f"s{trace_no % SESSIONS}"
            for a, name in enumerate(AGENTS):
                span_no += 1
                agent_span = span_no.to_bytes(8, "big")
                start = t0 + trace_no * 10**9 + a * 10**8
                children = []
                for k in range(9):
                    span_no += 1
                    if k < 4:
                        kv = attrs(gen_ai__operation__name="chat", gen_ai__usage__input_tokens=100 + k,
                                   gen_ai__usage__output_tokens=20, gen_ai__request__model="m")  # fmt: skip
                    elif k < 8:
                        kv = attrs(gen_ai__operation__name="execute_tool", gen_ai__tool__name=f"tool{k}")
                    else:
                        kv = attrs(step="x")
                    children.append(Span(trace_id=trace_id, span_id=span_no.to_bytes(8, "big"),
                                         parent_span_id=agent_span, name=f"child{k}", attributes=kv,
                                         start_time_unix_nano=start + (k + 1) * 10**6,
                                         end_time_unix_nano=start + (k + 2) * 10**6))  # fmt: skip
                out.extend(children)  # children end, and are exported, before their agent
                out.append(Span(trace_id=trace_id, span_id=agent_span, name=f"invoke_agent {name}",
                                attributes=attrs(gen_ai__operation__name="invoke_agent", gen_ai__agent__name=name,
                                                 gen_ai__conversation__id=session),
                                start_time_unix_nano=start, end_time_unix_nano=start + 20 * 10**6))  # fmt: skip
        del out[spans:]
        body = request.SerializeToString()
        bodies.append(gzip.compress(body) if compress else body)
    return bodies


def measure(runs: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median items a second of each run, and its median ratio to the first run's rate.

    The runs take turns within each repeat, so every ratio compares rates measured under the
    same load (this machine is shared; absolute rates move with it, ratios much less).
    """
    rates: dict[str, list[float]] = {name: [] for name in runs}
    ratios: dict[str, list[float]] = {name: [] for name in runs}
    first = next(iter(runs))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            items = run()
            rates[name].append(items / (time.perf_counter() - start))
        for name in runs:
            ratios[name].append(rates[name][-1] / rates[first][-1])
    return {name: (statistics.median(rates[name]), statistics.median(ratios[name])) for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1000, help="spans a request")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--gzip", action="store_true", help="compress the OTLP bodies, as exporters may")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    encoding = "gzip" if args.gzip else None
    bodies = make_requests(args.requests, args.spans, args.gzip)
    limit = 256 << 20
    decoded = [decode_body(b, "application/x-protobuf", encoding, limit).records for b in bodies]

    def fresh() -> OtlpIngest:
        return OtlpIngest(SwarmState(), Metrics(CollectorRegistry(), process_metrics=False))

    def decode_only() -> int:
        return sum(len(decode_body(b, "application/x-protobuf", encoding, limit).records) for b in bodies)

    def apply_only() -> int:
        ingest = fresh()
        return sum(ingest.apply(records) for records in decoded)

    def otlp_ingest() -> int:
        ingest = fresh()
        return sum(ingest.apply(decode_body(b, "application/x-protobuf", encoding, limit).records) for b in bodies)

    push_bodies = make_batches(args.requests, 1000, 200)
    _, push = seeded(200)

    def push_ingest() -> int:
        items = 0
        for body in push_bodies:
            batch = UpdateBatch.model_validate_json(body)
            push.apply(batch)
            items += len(batch)
        return items

    results = measure({"push_validate_apply": push_ingest, "otlp_decode_thread": decode_only,
                       "otlp_apply_loop": apply_only, "otlp_decode_apply": otlp_ingest}, args.repeats)  # fmt: skip
    check = fresh()
    for records in decoded:
        check.apply(records)
    agents = len(check.owned)
    if args.json:
        print(json.dumps({k: {"per_s": v, "ratio_vs_push": r} for k, (v, r) in results.items()} | {"agents": agents}))
        return
    size = sum(len(b) for b in bodies) / len(bodies)
    print(f"OTLP ingest, requests of {args.spans} spans ({size / 1024:.0f} KiB{' gzip' if args.gzip else ''}), "
          f"{agents} agents; push batches of 1,000 items, 200 agents ({args.requests} a run, "
          f"medians of {args.repeats}, runs taking turns)")  # fmt: skip
    for name, (value, ratio) in results.items():
        unit = "updates/s" if name.startswith("push") else "spans/s  "
        print(f"  {name:22s} {value:12,.0f} {unit}  {ratio:6.2f}x push")


if __name__ == "__main__":
    main()
