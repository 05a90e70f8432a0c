"""``POST /v1/traces``: an OTLP/HTTP trace receiver, so agent frameworks need only ``OTEL_EXPORTER_OTLP_ENDPOINT``.

The request is checked in this order, each failure answered with OTLP's own ``google.rpc.Status``
in the request's encoding (so an exporter logs the reason): who sent it (the one auth
dependency, ``authorized``), its content type and encoding (415), its size as sent and once
inflated (413), its shape (400). Decoding runs in a worker thread of its own, so a big
request never holds the 60 Hz loop; the spans are then applied on the loop in chunks, with
ticks free to run between them. A span with bad ids is refused alone, as OTLP's partial
success, and the rest are applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from visionflow.errors import PayloadTooLargeError, TelemetryPayloadError, UnsupportedPayloadError
from visionflow.server.runtime import Runtime
from visionflow.sources.otlp_spans import SpanBatch, read_spans
from visionflow.sources.otlp_wire import (
    Encoding,
    decode_request,
    encode_response,
    encode_status,
    encoding_of,
    inflate,
)

__all__ = ["APPLY_CHUNK", "authorized", "decode_body", "router"]

APPLY_CHUNK = 250
"""Spans applied between two chances for the loop to tick."""

_DECODER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="visionflow-otlp")
"""Decoding threads of their own: the default executor is where large physics steps run."""


def _answer_encoding(request: Request) -> Encoding:
    try:
        return encoding_of(request.headers.get("content-type"))
    except UnsupportedPayloadError:
        return Encoding.JSON


def _status(encoding: Encoding, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(encode_status(encoding, status, message), status_code=status, media_type=encoding.value,
                    headers=headers)  # fmt: skip


class _OtlpRoute(APIRoute):
    """Answers refusals from dependencies (auth) as OTLP does, a ``google.rpc.Status``, not FastAPI's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return _status(_answer_encoding(request), exc.status_code, str(exc.detail), exc.headers)

        return handle


def authorized(runtime: Runtime) -> Callable[[Request], None]:
    """The dependency that decides who may send traces: today the ingest token, like the push API.

    With ``ingest_token`` unset anyone who can reach the port may (the server binds to
    loopback by default). Roles replace this function's body, not its callers.
    """
    expected = hashlib.sha256((runtime.settings.ingest_token or "").encode()).digest()
    required = bool(runtime.settings.ingest_token)
    rejected = runtime.metrics.otlp_rejected.labels("auth")

    def check(request: Request) -> None:
        if not required:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        given = hashlib.sha256(value.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
            rejected.inc()
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    return check


def decode_body(body: bytes, content_type: str | None, content_encoding: str | None, max_bytes: int) -> SpanBatch:
    """Everything between the bytes received and the spans to apply; pure, so it runs in a thread."""
    encoding = encoding_of(content_type)
    return read_spans(decode_request(inflate(body, content_encoding, max_bytes), encoding))


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise PayloadTooLargeError(f"body exceeds the limit of {limit} bytes")
    return bytes(chunks)


_REASONS: dict[type[TelemetryPayloadError], tuple[int, str]] = {
    PayloadTooLargeError: (413, "too_large"),
    UnsupportedPayloadError: (415, "unsupported"),
    TelemetryPayloadError: (400, "malformed"),
}


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(tags=["otlp"], route_class=_OtlpRoute)
    settings = runtime.settings
    metrics = runtime.metrics
    ingest = runtime.otlp
    invalid_spans = metrics.otlp_spans.labels("invalid")

    @api.post("/v1/traces", summary="Receive OpenTelemetry traces (OTLP/HTTP) and show their agents",
              dependencies=[Depends(authorized(runtime))])  # fmt: skip
    async def traces(request: Request) -> Any:
        encoding = _answer_encoding(request)
        if not settings.otlp:
            metrics.otlp_rejected.labels("disabled").inc()
            return _status(encoding, 404, "the OTLP receiver is turned off (otlp: false)")
        limit = settings.otlp_max_body_bytes
        headers = request.headers
        try:
            encoding_of(headers.get("content-type"))  # refused before the body is read
            body = await _read_limited(request, limit)
            loop = asyncio.get_running_loop()
            batch = await loop.run_in_executor(_DECODER, decode_body, body, headers.get("content-type"),
                                               headers.get("content-encoding"), limit)  # fmt: skip
        except TelemetryPayloadError as exc:
            status, reason = next(v for k, v in _REASONS.items() if isinstance(exc, k))
            metrics.otlp_rejected.labels(reason).inc()
            return _status(encoding, status, exc.message)
        ingest.requests += 1
        records = batch.records
        for start in range(0, len(records), APPLY_CHUNK):
            if start:
                await asyncio.sleep(0)  # let a due tick run between chunks
            ingest.apply(records[start : start + APPLY_CHUNK])
        message = ""
        if batch.invalid:
            invalid_spans.inc(batch.invalid)
            message = f"{batch.invalid} spans had a trace id other than 16 bytes or a span id other than 8"
        return Response(encode_response(encoding, batch.invalid, message), media_type=encoding.value)

    return api
