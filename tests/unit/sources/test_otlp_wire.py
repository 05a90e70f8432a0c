"""OTLP/HTTP bodies: both encodings, gzip, and every way a body can be refused."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from tests.support.spans import Traces

from visionflow.errors import PayloadTooLargeError, TelemetryPayloadError, UnsupportedPayloadError
from visionflow.sources.otlp_spans import read_spans
from visionflow.sources.otlp_wire import (
    Encoding,
    decode_request,
    encode_response,
    encode_status,
    encoding_of,
    inflate,
)

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"
PARENT = "eee19b7ec3c1b173"


def json_body(**span: Any) -> dict[str, Any]:
    """A request in OTLP/JSON as the specification's example writes it: camelCase, hex ids."""
    base = {"traceId": TRACE, "spanId": SPAN, "parentSpanId": PARENT, "name": "invoke_agent Planner",
            "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                           {"key": "gen_ai.agent.name", "value": {"stringValue": "Planner"}},
                           {"key": "retries", "value": {"intValue": "3"}}],
            "status": {"code": 2, "message": "failed"}}  # fmt: skip
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]},
                               "scopeSpans": [{"scope": {"name": "x"}, "spans": [{**base, **span}]}]}]}  # fmt: skip


@pytest.mark.parametrize(
    ("header", "encoding"),
    [("application/x-protobuf", Encoding.PROTOBUF), ("application/json; charset=utf-8", Encoding.JSON),
     ("Application/JSON", Encoding.JSON)],
)  # fmt: skip
def test_content_types(header: str, encoding: Encoding) -> None:
    assert encoding_of(header) is encoding


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/grpc"])
def test_other_content_types_are_unsupported(header: str | None) -> None:
    with pytest.raises(UnsupportedPayloadError, match="application/x-protobuf"):
        encoding_of(header)


def test_protobuf_as_the_sdk_exporter_encodes_it() -> None:
    traces = Traces("svc")
    with traces.span("root", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "A"}):
        pass
    request = decode_request(traces.body(), Encoding.PROTOBUF)
    (record,) = read_spans(request).records
    assert record.agent == "A" and record.service == "svc"


def test_json_with_hex_ids_and_string_integers() -> None:
    request = decode_request(orjson.dumps(json_body()), Encoding.JSON)
    (record,) = read_spans(request).records
    assert record.trace_id.hex() == TRACE and record.span_id.hex() == SPAN and record.parent_id.hex() == PARENT
    assert record.agent == "Planner" and record.failed and record.error == "failed"
    assert record.attributes == {"retries": 3} and record.start_ns == 1544712660000000000


def test_json_with_the_proto_field_names_and_unknown_fields() -> None:
    document = json_body(kind=1, futureField={"x": 1})
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["trace_id"] = span.pop("traceId")
    (record,) = read_spans(decode_request(orjson.dumps(document), Encoding.JSON)).records
    assert record.trace_id.hex() == TRACE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (orjson.dumps(json_body(spanId="xyz")), r"resourceSpans\[0\].scopeSpans\[0\].spans\[0\].spanId"),
        (orjson.dumps(json_body(traceId="zz" * 16)), r"spans\[0\].traceId: expected 32 hex digits"),
        (orjson.dumps({"resourceSpans": "many"}), "ExportTraceServiceRequest"),
        (orjson.dumps(json_body(startTimeUnixNano="soon")), "ExportTraceServiceRequest"),
    ],
)
def test_malformed_json_says_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(TelemetryPayloadError, match=message):
        decode_request(body, Encoding.JSON)


def test_malformed_protobuf() -> None:
    with pytest.raises(TelemetryPayloadError, match="not an ExportTraceServiceRequest"):
        decode_request(b"\x0a\xff\xff\xff\xff\x0f garbage", Encoding.PROTOBUF)


@pytest.mark.parametrize("depth", [200, 5000])
def test_deeply_nested_values_are_refused_not_a_crash(depth: int) -> None:
    deep = '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"x"}' + "}]}}" * depth
    body = orjson.dumps(json_body(attributes=[{"key": "deep", "value": {"stringValue": "DEEP"}}]))
    with pytest.raises(TelemetryPayloadError):
        decode_request(body.replace(b'{"stringValue":"DEEP"}', deep.encode()), Encoding.JSON)


def test_gzip_one_or_several_members() -> None:
    body = b"hello " * 1000
    assert inflate(gzip.compress(body), "gzip", len(body)) == body
    assert inflate(gzip.compress(body) + gzip.compress(body), "GZIP", 2 * len(body)) == body + body
    assert inflate(body, None, len(body)) == body and inflate(body, "identity", len(body)) == body


def test_a_gzip_bomb_is_refused_at_the_limit() -> None:
    bomb = gzip.compress(bytes(64 << 20))  # 64 MiB of zeros in about 64 KiB
    assert len(bomb) < 1 << 17
    with pytest.raises(PayloadTooLargeError, match="inflates to more than"):
        inflate(bomb, "gzip", 1 << 20)


@pytest.mark.parametrize(
    ("body", "encoding", "error"),
    [
        (gzip.compress(b"x" * 100)[:-10], "gzip", TelemetryPayloadError),
        (b"not gzip at all", "gzip", TelemetryPayloadError),
        (b"x", "br", UnsupportedPayloadError),
        (b"x" * 101, None, PayloadTooLargeError),
    ],
)
def test_bad_bodies(body: bytes, encoding: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        inflate(body, encoding, 100)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_answers_are_otlps_own_messages(encoding: Encoding) -> None:
    ok = encode_response(encoding, 2, "2 spans had bad ids")
    bad = encode_status(encoding, 400, "body is not JSON")
    if encoding is Encoding.PROTOBUF:
        response = ExportTraceServiceResponse.FromString(ok)
        assert response.partial_success.rejected_spans == 2
        status = status_pb2.Status.FromString(bad)
        assert (status.code, status.message) == (3, "body is not JSON")
        assert encode_response(encoding) == b""
    else:
        assert orjson.loads(ok) == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "2 spans had bad ids"}}
        assert orjson.loads(bad) == {"code": 3, "message": "body is not JSON"}
        assert orjson.loads(encode_response(encoding)) == {}


def test_spans_with_ids_of_the_wrong_length_are_counted_and_dropped() -> None:
    traces = Traces()
    with traces.span("a", {}):
        pass
    with traces.span("b", {}):
        pass
    request = traces.request()
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01\x02\x03"
    batch = read_spans(request)
    assert batch.invalid == 1 and len(batch.records) == 1
