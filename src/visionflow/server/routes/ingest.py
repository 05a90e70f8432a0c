"""``POST /api/bots/update``: the push ingest API for agent frameworks.

The body is read with a hard size limit before it is parsed, validated whole (a bad item
is a 422 naming it), checked for conflicts with other sources (409), and only then applied.
With the store on, the answer waits until the batch is saved (committed, or fsynced to the
store's spool while the database is away): a 200 means a restart will not lose it.
With ``VISIONFLOW_INGEST_TOKEN`` set, requests must carry ``Authorization: Bearer <token>``.

Every answer to an authorised request carries the server's ``instance_id``, new at each
start: a client that sees it change knows the server restarted and may have lost what it
was sent before.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from visionflow.server.runtime import Runtime
from visionflow.sources import IngestConflictError, UpdateBatch

__all__ = ["router"]


def _error(status: int, loc: list[str | int], msg: str, kind: str, *, instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": [{"loc": loc, "msg": msg, "type": kind}]}
    if instance is not None:
        body["instance_id"] = instance
    return JSONResponse(body, status_code=status)


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/bots", tags=["ingest"])
    settings = runtime.settings
    rejected = runtime.metrics.ingest_rejected
    token = (settings.ingest_token or "").encode()

    async def read_limited(request: Request) -> bytes | None:
        limit = settings.ingest_max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks = bytearray()
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > limit:
                return None
        return bytes(chunks)

    @api.post("/update", summary="Push a batch of agent upserts, removals and messages")
    async def update(request: Request) -> Any:
        if not settings.ingest:
            return _error(404, ["path"], "the ingest API is turned off (ingest: false)", "not_found")
        if token:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token):
                rejected.labels("auth").inc()
                return JSONResponse({"detail": "a valid bearer token is required"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        instance = runtime.instance_id
        body = await read_limited(request)
        if body is None:
            rejected.labels("too_large").inc()
            return _error(413, ["body"], f"body exceeds {settings.ingest_max_body_bytes} bytes", "too_large",
                          instance=instance)  # fmt: skip
        try:
            batch = UpdateBatch.model_validate_json(body or b"{}")
        except ValidationError as exc:
            rejected.labels("invalid").inc()
            errors = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()[:20]]
            return JSONResponse({"detail": errors, "instance_id": instance}, status_code=422)
        if len(batch) > settings.ingest_max_batch:
            rejected.labels("invalid").inc()
            return _error(422, ["body"], f"batch has {len(batch)} items; the limit is {settings.ingest_max_batch}",
                          "too_long", instance=instance)  # fmt: skip
        try:
            applied = runtime.ingest.apply(batch)
        except IngestConflictError as exc:
            rejected.labels("conflict").inc()
            return _error(409, list(exc.loc), exc.message, "conflict", instance=instance)
        try:
            pairs = [(m.sender, m.to) for m in batch.messages] + [(link.sender, link.to) for link in batch.links]
            await runtime.persistence.pushed((u.id for u in batch.agents), pairs)
        except RuntimeError as exc:  # the store stopped under it (shutdown): not saved, so not acknowledged
            return _error(503, ["body"], f"applied but not saved: {exc}", "not_saved", instance=instance)
        return {"applied": applied, "total_agents": len(runtime.state), "instance_id": instance}

    return api
