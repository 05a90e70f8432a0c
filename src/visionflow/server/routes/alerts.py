"""``POST /api/alerts`` (Alertmanager's webhook) and ``GET /api/alerts`` (what was received and done).

The receiver is guarded before a byte of the body is read: with ``alert_webhook_token`` set it
takes only ``Authorization: Bearer <token>``; without one, only clients on this host (the
deployment Alertmanager shares a machine with), and the server says so at start. Bodies above
``alert_max_body_bytes`` are refused with 413 while they arrive; a payload with more alerts,
or longer strings, than the limits is refused whole with 422 naming the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.types import Message

from visionflow.observability.logging import log_event
from visionflow.ops.playbook import Playbook, PlaybookConfig
from visionflow.server.alert_desk import AlertDesk
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings

__all__ = ["router"]

log = logging.getLogger("visionflow.alerts")

MAX_ENTRIES = 64
"""Most labels, or annotations, one alert (or the payload's group and common labels) may have."""
_REFUSAL_LOG_EVERY_S = 10.0


class AlertIn(BaseModel):
    """One alert of Alertmanager's webhook payload (version 4)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None  # noqa: N815 - Alertmanager's field names
    endsAt: str | None = None  # noqa: N815
    generatorURL: str | None = None  # noqa: N815
    fingerprint: str | None = None


class WebhookIn(BaseModel):
    receiver: str = ""
    status: Literal["firing", "resolved"]
    alerts: list[AlertIn]
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str | None = None  # noqa: N815
    version: str | None = None
    groupKey: str | None = None  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815


def _error(status: int, loc: list[str | int], msg: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status_code=status, headers=headers)


def _printable(key: str) -> str:
    """``key`` shortened and encodable, to name it in an error (a lone surrogate cannot travel in JSON)."""
    return key[:100].encode("utf-8", "backslashreplace").decode("utf-8")


def _over_limits(value: Any, loc: list[str | int], max_chars: int) -> Response | None:
    """The first string that is too long or not valid Unicode, or mapping with too many entries."""
    if isinstance(value, str):
        if len(value) > max_chars:
            return _error(422, loc, f"longer than {max_chars} characters (alert_max_value_chars)", "too_long")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _error(422, loc, "not valid Unicode (a lone surrogate escape)", "string_unicode")
    elif isinstance(value, dict):
        if len(value) > MAX_ENTRIES:
            return _error(422, loc, f"more than {MAX_ENTRIES} entries", "too_long")
        for key, item in value.items():
            where = [*loc, _printable(key)]
            refusal = _over_limits(key, where, max_chars) or _over_limits(item, where, max_chars)
            if refusal is not None:
                return refusal
    elif isinstance(value, list):
        for i, item in enumerate(value):
            refusal = _over_limits(item, [*loc, i], max_chars)
            if refusal is not None:
                return refusal
    return None


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _WebhookGate:
    """Who may post alerts, and how much: checked before the body is read."""

    def __init__(self, settings: Settings) -> None:
        token = settings.alert_webhook_token
        self._digest = hashlib.sha256(token.encode()).digest() if token else None
        self.max_body_bytes = settings.alert_max_body_bytes
        self._refused = 0
        self._last_logged = float("-inf")

    def refusal(self, request: Request) -> Response | None:
        if self._digest is None:
            peer = request.client.host if request.client else None
            if _is_loopback(peer):
                return None
            self._log_refusal("not_loopback", peer)
            return _error(403, ["header", "authorization"], "alert_webhook_token is not set on this server, so only "
                          "clients on this host may post alerts", "forbidden")  # fmt: skip
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        digest = hashlib.sha256(given.strip().encode()).digest()  # equal lengths: the comparison leaks nothing
        if scheme.lower() == "bearer" and hmac.compare_digest(digest, self._digest):
            return None
        self._log_refusal("bad_token", request.client.host if request.client else None)
        return _error(401, ["header", "authorization"], "a valid bearer token is required (alert_webhook_token)",
                      "unauthorized", headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    def _log_refusal(self, why: str, peer: str | None) -> None:
        """One line per ``_REFUSAL_LOG_EVERY_S`` at most, counting the rest."""
        self._refused += 1
        now = time.monotonic()
        if now - self._last_logged >= _REFUSAL_LOG_EVERY_S:
            log_event(log, "WARN", "alert_webhook_refused", category="security", reason=why, client=peer,
                      refused_since_last_line=self._refused)  # fmt: skip
            self._refused = 0
            self._last_logged = now

    async def read(self, request: Request) -> bytes | None:
        """The body, or None as soon as it is known to exceed the limit."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body_bytes:
                return None
        return bytes(body)

    def route_class(self) -> type[APIRoute]:
        gate = self

        class GatedRoute(APIRoute):
            """FastAPI's route, with the gate in front of its body parsing."""

            def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
                handler = super().get_route_handler()

                async def gated(request: Request) -> Response:
                    if request.method != "POST":
                        return await handler(request)
                    refusal = gate.refusal(request)
                    if refusal is not None:
                        return refusal
                    body = await gate.read(request)
                    if body is None:
                        return _error(413, ["body"], f"body exceeds {gate.max_body_bytes} bytes "
                                      "(alert_max_body_bytes)", "too_large")  # fmt: skip
                    return await handler(Request(request.scope, _replay(body, request)))

                return gated

        return GatedRoute


def _replay(body: bytes, request: Request) -> Callable[[], Coroutine[Any, Any, Message]]:
    """An ASGI receive that hands over ``body`` once, then the client's own messages (disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def router(runtime: Runtime) -> APIRouter:
    s = runtime.settings
    config = PlaybookConfig(
        health_urls=s.alert_health_urls,
        known_instances=s.alert_known_instances,
        restart_command=s.alert_restart_command,
        restart_wait_s=s.alert_restart_wait_s,
        restart_max_per_hour=s.alert_restart_max_per_hour,
        error_restart_threshold=s.alert_error_restart_threshold,
        escalation_url=s.alert_escalation_url,
        escalation_max_per_hour=s.alert_escalation_max_per_hour,
        http_timeout_s=s.alert_http_timeout_s,
        log_file=s.log_file,
    )
    desk = AlertDesk(Playbook(config, self_health=runtime.health), keep=s.alerts_kept,
                     max_bytes=s.alert_store_max_bytes)  # fmt: skip
    runtime.persistence.attach_alerts(desk)
    if not s.alert_webhook_token:
        log_event(log, "WARN", "alert_webhook_unauthenticated", category="security",
                  detail="alert_webhook_token is not set: POST /api/alerts takes alerts from loopback clients "
                         "without a token")  # fmt: skip
    if s.alert_restart_command and not (s.alert_health_urls or s.alert_known_instances):
        log_event(log, "WARN", "alert_restart_unverifiable", category="system",
                  detail="alert_restart_command is set but neither alert_health_urls nor alert_known_instances: "
                         "ServiceDown cannot be checked, so it will never restart")  # fmt: skip
    gate = _WebhookGate(s)
    api = APIRouter(prefix="/api/alerts", tags=["operations"], route_class=gate.route_class())

    @api.post(
        "",
        summary="Alertmanager webhook: record alerts and run their playbooks",
        responses={
            401: {"description": "alert_webhook_token is set and the request lacks it"},
            403: {"description": "alert_webhook_token is not set and the client is not on this host"},
            413: {"description": "body over alert_max_body_bytes"},
            422: {"description": "malformed payload, or over alert_max_alerts_per_post / alert_max_value_chars"},
        },
    )
    async def receive(body: WebhookIn) -> Any:
        if len(body.alerts) > s.alert_max_alerts_per_post:
            return _error(422, ["body", "alerts"], f"{len(body.alerts)} alerts in one request; the limit is "
                          f"{s.alert_max_alerts_per_post} (alert_max_alerts_per_post)", "too_long")  # fmt: skip
        alerts = [a.model_dump() for a in body.alerts]
        refusal = _over_limits(body.model_dump(exclude={"alerts"}), ["body"], s.alert_max_value_chars) or (
            _over_limits(alerts, ["body", "alerts"], s.alert_max_value_chars)
        )
        if refusal is not None:
            return refusal
        ids = desk.receive(body.receiver, alerts)
        return {"accepted": len(ids), "ids": ids}

    @api.get("", summary="Alerts received, newest first, with the playbook's actions")
    async def list_alerts(
        status: Annotated[Literal["firing", "resolved"] | None, Query(description="Only this status")] = None,
        alertname: Annotated[str | None, Query(max_length=200, description="Only this alert")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many")] = 100,
    ) -> dict[str, Any]:
        alerts = desk.recent(status=status, alertname=alertname, limit=limit)
        return {"alerts": alerts, "returned": len(alerts), "total": len(desk), "stored_bytes": desk.stored_bytes}

    return api
