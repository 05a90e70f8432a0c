"""``POST /v1/traces`` as an OTLP exporter meets it: answers, refusals in OTLP's shape, limits, auth, the loop."""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client import generate_latest
from tests.support.spans import Traces

from visionflow.errors import ConfigError
from visionflow.server.app import create_app
from visionflow.server.routes.otlp import APPLY_CHUNK
from visionflow.server.runtime import Runtime
from visionflow.server.settings import load_settings
from visionflow.sources import OtlpSource

Api = Callable[..., httpx.Response]
MakeRuntime = Callable[..., Runtime]
PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def agent_trace(name: str = "Planner", tools: int = 1) -> Traces:
    traces = Traces("route-tests")
    with traces.span("invoke_agent", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}):
        for _ in range(tools):
            with traces.span("execute_tool", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "plan"}):
                pass
    return traces


def status_of(response: httpx.Response) -> tuple[int, str]:
    if response.headers["content-type"] == "application/x-protobuf":
        status = status_pb2.Status.FromString(response.content)
        return status.code, status.message
    body = response.json()
    return body["code"], body["message"]


def counter(runtime: Runtime, sample: str) -> float:
    for line in generate_latest(runtime.metrics.registry).decode().splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no sample {sample}")


def test_protobuf_spans_join_the_simulated_swarm(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    response = api(rt, "POST", "/v1/traces", content=agent_trace().body(), headers=PROTOBUF)
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    rt.pipeline.tick_inline()
    agents = {a["name"]: a for a in api(rt, "GET", "/api/bots/data").json()["agents"]}
    assert len(agents) == 6 and agents["Planner"]["current_task"] == "plan"
    assert counter(rt, 'visionflow_otlp_spans_total{kind="agent"}') == 1
    assert counter(rt, 'visionflow_otlp_spans_total{kind="tool"}') == 1
    assert counter(rt, "visionflow_otlp_agents") == 1
    health = api(rt, "GET", "/api/health").json()
    assert health["components"]["source"]["otlp"]["agents"] == 1


def test_json_gzip_and_the_answer_in_json(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    document = json_format.MessageToDict(agent_trace("Writer").request())
    for resource in document["resourceSpans"]:  # protobuf's JSON has base64 ids; OTLP/JSON has hex
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    body = gzip.compress(orjson.dumps(document))
    response = api(rt, "POST", "/v1/traces", content=body, headers={**JSON, "content-encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert "Writer" in {a.name for a in rt.state}


@pytest.mark.parametrize("headers", [PROTOBUF, JSON])
def test_a_malformed_body_is_a_400_status_in_the_requests_encoding(
    make_runtime: MakeRuntime, api: Api, headers: dict[str, str]
) -> None:
    rt = make_runtime(agents=5)
    before = rt.state.version
    response = api(rt, "POST", "/v1/traces", content=b"\x0a\xff\xff\xff\xff\x0f{", headers=headers)
    assert response.status_code == 400 and response.headers["content-type"] == headers["content-type"]
    code, message = status_of(response)
    assert code == 3 and ("not JSON" in message or "not an ExportTraceServiceRequest" in message)
    assert rt.state.version == before
    assert counter(rt, 'visionflow_otlp_rejected_total{reason="malformed"}') == 1


def test_spans_with_bad_ids_are_a_partial_success(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5)
    request = agent_trace(tools=2).request()
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"short"
    response = api(rt, "POST", "/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1 and "trace id" in partial.error_message
    assert [a.tasks_completed for a in rt.state if a.name == "Planner"] == [1]
    assert counter(rt, 'visionflow_otlp_spans_total{kind="invalid"}') == 1


@pytest.mark.parametrize(
    ("settings", "body", "headers", "status", "reason"),
    [
        ({"otlp_max_body_bytes": 1024}, b"\x00" * 2000, PROTOBUF, 413, "too_large"),
        ({"otlp_max_body_bytes": 1024}, gzip.compress(bytes(1 << 20)), {**PROTOBUF, "content-encoding": "gzip"},
         413, "too_large"),
        ({}, b"{}", {"content-type": "text/plain"}, 415, "unsupported"),
        ({}, b"{}", {**JSON, "content-encoding": "zstd"}, 415, "unsupported"),
        ({"otlp": False}, b"{}", JSON, 404, "disabled"),
    ],
)  # fmt: skip
def test_refusals(make_runtime: MakeRuntime, api: Api, settings: dict[str, Any], body: bytes,
                  headers: dict[str, str], status: int, reason: str) -> None:  # fmt: skip
    rt = make_runtime(agents=5, **settings)
    response = api(rt, "POST", "/v1/traces", content=body, headers=headers)
    assert response.status_code == status
    assert status_of(response)[1]
    assert counter(rt, f'visionflow_otlp_rejected_total{{reason="{reason}"}}') == 1


def test_the_ingest_token(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(agents=5, ingest_token="tr4ces-only")
    body = agent_trace().body()
    refused = api(rt, "POST", "/v1/traces", content=body, headers={**PROTOBUF, "authorization": "Bearer nope"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert status_of(refused) == (16, "a valid bearer token is required")
    assert api(rt, "POST", "/v1/traces", content=body, headers=PROTOBUF).status_code == 401
    assert len(rt.otlp.owned) == 0
    good = api(rt, "POST", "/v1/traces", content=body, headers={**PROTOBUF, "authorization": "Bearer tr4ces-only"})
    assert good.status_code == 200 and len(rt.otlp.owned) == 1
    assert counter(rt, 'visionflow_otlp_rejected_total{reason="auth"}') == 2


def test_a_big_request_lets_the_loop_run_between_chunks(make_runtime: MakeRuntime) -> None:
    """The route applies ``APPLY_CHUNK`` spans at a time and yields: a tick due meanwhile runs in between."""
    rt = make_runtime(agents=5)
    body = agent_trace(tools=1999).body()
    seen: list[int] = []

    async def go() -> httpx.Response:
        done = asyncio.Event()

        async def watch() -> None:
            while not done.is_set():
                seen.append(rt.otlp.spans)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        transport = httpx.ASGITransport(app=create_app(rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/v1/traces", content=body, headers=PROTOBUF)
        done.set()
        await watcher
        return response

    assert asyncio.run(go()).status_code == 200
    assert rt.otlp.spans == 2000
    assert set(range(APPLY_CHUNK, 2000, APPLY_CHUNK)) <= set(seen)  # the loop ran after each chunk


def test_source_otlp_runs_no_simulator(make_runtime: MakeRuntime, api: Api) -> None:
    rt = make_runtime(source="otlp")
    assert isinstance(rt.source, OtlpSource) and len(rt.state) == 0
    api(rt, "POST", "/v1/traces", content=agent_trace().body(), headers=PROTOBUF)
    rt.pipeline.tick_inline()
    body = api(rt, "GET", "/api/bots/data").json()
    assert [a["name"] for a in body["agents"]] == ["Planner"] and body["source"]["name"] == "otlp"


@pytest.mark.parametrize(
    ("flags", "field"),
    [({"source": "otlp", "otlp": False}, "settings"), ({"otlp_idle_s": 300.0, "otlp_expire_s": 300.0}, "settings")],
)
def test_settings_that_cannot_work(flags: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match="otlp"):
        load_settings(flags)
