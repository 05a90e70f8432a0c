"""``POST /api/alerts`` (Alertmanager's webhook) and ``GET /api/alerts`` (what was received and done)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from visionflow.ops.playbook import Playbook, PlaybookConfig
from visionflow.server.alert_desk import AlertDesk
from visionflow.server.runtime import Runtime

__all__ = ["router"]


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
    alerts: list[AlertIn] = Field(max_length=1000)
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str | None = None  # noqa: N815
    version: str | None = None


def router(runtime: Runtime) -> APIRouter:
    s = runtime.settings
    config = PlaybookConfig(
        health_urls=s.alert_health_urls,
        restart_command=s.alert_restart_command,
        restart_wait_s=s.alert_restart_wait_s,
        error_restart_threshold=s.alert_error_restart_threshold,
        escalation_url=s.alert_escalation_url,
        log_file=s.log_file,
    )
    desk = AlertDesk(Playbook(config), keep=s.alerts_kept)
    api = APIRouter(prefix="/api/alerts", tags=["operations"])

    @api.post("", summary="Alertmanager webhook: record alerts and run their playbooks")
    async def receive(body: WebhookIn) -> dict[str, Any]:
        ids = desk.receive(body.receiver, [a.model_dump() for a in body.alerts])
        return {"accepted": len(ids), "ids": ids}

    @api.get("", summary="Alerts received, newest first, with the playbook's actions")
    async def list_alerts(
        status: Annotated[Literal["firing", "resolved"] | None, Query(description="Only this status")] = None,
        alertname: Annotated[str | None, Query(max_length=200, description="Only this alert")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many")] = 100,
    ) -> dict[str, Any]:
        alerts = desk.recent(status=status, alertname=alertname, limit=limit)
        return {"alerts": alerts, "returned": len(alerts), "total": len(desk)}

    return api
