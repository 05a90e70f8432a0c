"""OTLP/HTTP trace requests on the wire: bytes in, an ``ExportTraceServiceRequest`` out, and the answers.

The receiver speaks both encodings the OTLP/HTTP specification defines, protobuf
(``application/x-protobuf``) and JSON (``application/json``), each as sent or gzip-compressed.
The messages are the ``opentelemetry-proto`` package's own; only OTLP's one departure from
protobuf's JSON mapping is handled here: trace and span ids are hex strings, not base64.

Everything here is bounded: the body is refused past ``max_bytes`` as sent *and* once
inflated (a few kilobytes of gzip can inflate to gigabytes), and answers, including
errors, go back as OTLP's own messages (``ExportTraceServiceResponse``, ``google.rpc.Status``)
in the encoding the request came in. Decoding is pure and thread-safe, so the route runs it
off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import enum
import zlib
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from visionflow.errors import PayloadTooLargeError, TelemetryPayloadError, UnsupportedPayloadError

__all__ = [
    "Encoding",
    "decode_request",
    "encode_response",
    "encode_status",
    "encoding_of",
    "inflate",
]


class Encoding(enum.StrEnum):
    """The two OTLP/HTTP encodings; the value is the content type of requests and answers alike."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


def encoding_of(content_type: str | None) -> Encoding:
    """The encoding a ``Content-Type`` header names; ``UnsupportedPayloadError`` for any other type."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    for encoding in Encoding:
        if media == encoding.value:
            return encoding
    raise UnsupportedPayloadError(
        f"content type {media or '(none)'!r} is not OTLP/HTTP: send application/x-protobuf or application/json"
    )


def inflate(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body as encoded by its sender, at most ``max_bytes`` once decompressed.

    ``gzip`` (several members allowed) and ``identity`` are read; anything else is an
    ``UnsupportedPayloadError``. Inflation stops one byte past the limit, so a bomb costs
    at most ``max_bytes`` of memory before it is refused.
    """
    name = (content_encoding or "identity").strip().lower()
    if name in ("", "identity"):
        if len(body) > max_bytes:
            raise PayloadTooLargeError(f"body of {len(body)} bytes exceeds the limit of {max_bytes}")
        return body
    if name != "gzip":
        raise UnsupportedPayloadError(f"content encoding {name!r} is not supported: send gzip or none")
    out = bytearray()
    rest = body
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, max_bytes + 1 - len(out))  # never 0, which means "no limit"
        except zlib.error as exc:
            raise TelemetryPayloadError(f"body is not valid gzip: {exc}") from None
        if len(out) > max_bytes:
            raise PayloadTooLargeError(f"body inflates to more than the limit of {max_bytes} bytes")
        if not inflater.eof:
            raise TelemetryPayloadError("body is truncated gzip")
        rest = inflater.unused_data
    return bytes(out)


def decode_request(data: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """Parse an inflated body; ``TelemetryPayloadError`` says what is wrong with it."""
    request = ExportTraceServiceRequest()
    if encoding is Encoding.PROTOBUF:
        try:
            request.ParseFromString(data)
        except (DecodeError, RecursionError) as exc:
            raise TelemetryPayloadError(f"body is not an ExportTraceServiceRequest: {exc}") from None
        return request
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise TelemetryPayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise TelemetryPayloadError("body must be a JSON object with resourceSpans")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise TelemetryPayloadError(f"body is not an ExportTraceServiceRequest: {exc}") from None
    return request


_ID_FIELDS = (("traceId", "trace_id", 16), ("spanId", "span_id", 8), ("parentSpanId", "parent_span_id", 8))


def _items(node: dict[str, Any], camel: str, snake: str) -> list[Any]:
    value = node.get(camel, node.get(snake))
    return value if isinstance(value, list) else []


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """Rewrite OTLP/JSON's hex ids as the base64 protobuf's JSON parser reads, naming any bad one."""
    for r, resource in enumerate(_items(document, "resourceSpans", "resource_spans")):
        if not isinstance(resource, dict):
            continue
        for s, scope in enumerate(_items(resource, "scopeSpans", "scope_spans")):
            if not isinstance(scope, dict):
                continue
            for i, span in enumerate(_items(scope, "spans", "spans")):
                if not isinstance(span, dict):
                    continue
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                _rewrite_ids(span, where)
                for k, link in enumerate(_items(span, "links", "links")):
                    if isinstance(link, dict):
                        _rewrite_ids(link, f"{where}.links[{k}]")


def _rewrite_ids(node: dict[str, Any], where: str) -> None:
    for camel, snake, size in _ID_FIELDS:
        for key in (camel, snake):
            value = node.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or len(value) != 2 * size:
                raise TelemetryPayloadError(f"{where}.{camel}: expected {2 * size} hex digits")
            try:
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except (ValueError, binascii.Error):
                raise TelemetryPayloadError(f"{where}.{camel}: expected {2 * size} hex digits") from None


def encode_response(encoding: Encoding, rejected_spans: int = 0, message: str = "") -> bytes:
    """A successful export's answer; ``rejected_spans`` and ``message`` fill ``partial_success``."""
    response = ExportTraceServiceResponse()
    if rejected_spans or message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = message
    if encoding is Encoding.PROTOBUF:
        wire: bytes = response.SerializeToString()
        return wire
    return orjson.dumps(json_format.MessageToDict(response))


# google.rpc.Code values for the statuses the receiver answers with.
_RPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 503: 14}


def encode_status(encoding: Encoding, http_status: int, message: str) -> bytes:
    """The body of a failed export: a ``google.rpc.Status`` naming the problem, in the request's encoding."""
    code = _RPC_CODE.get(http_status, 2)
    status = status_pb2.Status(code=code, message=message)
    if encoding is Encoding.PROTOBUF:
        wire: bytes = status.SerializeToString()
        return wire
    return orjson.dumps({"code": code, "message": message})
