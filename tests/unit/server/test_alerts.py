"""``/api/alerts``: the Alertmanager webhook records alerts and runs the playbook.

Besides what the playbook does, these tests hold the receiver to what it must not do, checked
the way an attacker on the network would see it: a listener on loopback counts every
connection the server opens to it, the restart command appends a line to a file for every
run, and a webhook receiver counts the escalations.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.support.loopback import BODY_MARKER, Service, listener, service

from visionflow.observability.metrics import Metrics
from visionflow.server.app import create_app
from visionflow.server.runtime import Runtime
from visionflow.server.settings import Settings

TOKEN = "alert-token-0123456789abcdef"


@pytest.fixture
def web() -> Iterator[Service]:
    with service() as svc:
        yield svc


def alert(name: str, status: str = "firing", severity: str = "critical", instance: str = "app:1") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "instance": instance, "job": "visionflow"},
        "annotations": {"summary": name},
        "startsAt": "2026-11-26T10:00:00Z",
        "fingerprint": f"{name}-{instance}",
    }


def payload(*alerts: dict[str, Any], receiver: str = "critical-alerts") -> dict[str, Any]:
    return {"version": "4", "receiver": receiver, "status": alerts[0]["status"], "alerts": list(alerts)}


def appender(path: Path) -> str:
    """A restart command that appends one line to ``path`` per run."""
    return f"{sys.executable} -c \"open('{path}', 'a').write('restarted\\n')\""


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


class Receiver:
    """One app on an in-process transport; ``settled`` waits for the playbooks like an operator would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, body: Any, **kwargs: Any) -> httpx.Response:
        return await self.client.post("/api/alerts", json=body, **kwargs)

    async def settled(self, path: str = "/api/alerts?limit=10000") -> httpx.Response:
        deadline = time.monotonic() + 60
        while True:
            response = await self.client.get(path)
            busy = [a for a in response.json()["alerts"] if a["playbook"] in ("pending", "running")]
            if not busy or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.02)


@asynccontextmanager
async def receiver(
    settings: Settings, metrics: Metrics, client: tuple[str, int] = ("127.0.0.1", 40000)
) -> AsyncIterator[Receiver]:
    app = create_app(Runtime(settings, metrics=metrics))
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Receiver(http)


def exchange(settings: Settings, metrics: Metrics, calls: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """POST/GET in order on one app, waiting for the playbooks before each GET."""

    async def go() -> list[httpx.Response]:
        out = []
        async with receiver(settings, metrics) as r:
            for method, path, body in calls:
                out.append(await (r.post(body) if method == "POST" else r.settled(path)))
        return out

    return asyncio.run(go())


# ------------------------------------------------------------------- what the playbook does
def test_service_down_probes_restarts_reprobes_and_escalates(web: Service, tmp_path: Path, metrics: Metrics) -> None:
    marker = tmp_path / "restarted"
    settings = Settings(alert_health_urls=(f"{web.url}/down",), alert_restart_command=appender(marker),
                        alert_restart_wait_s=0, alert_escalation_url=f"{web.url}/hook")  # fmt: skip
    post, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(alert("ServiceDown"))),
                                                ("GET", "/api/alerts", None)])  # fmt: skip
    assert post.status_code == 200 and post.json()["accepted"] == 1
    record = listed.json()["alerts"][0]
    assert record["alertname"] == "ServiceDown" and record["receiver"] == "critical-alerts"
    steps = [(a["name"], a["ok"]) for a in record["actions"]]
    assert steps == [("health_probe", False), ("restart", True), ("health_probe_after_restart", False),
                     ("escalate", True)]  # fmt: skip
    probe = record["actions"][0]["detail"]["probes"][0]
    assert probe["target"] == f"{web.url}/down" and probe["status"] == 503 and probe["ms"] >= 0
    assert lines(marker) == 1
    (escalation,) = web.posts
    assert escalation["reason"] == "failed to recover service"
    assert escalation["alert"]["labels"]["alertname"] == "ServiceDown"
    assert [a["name"] for a in escalation["actions"]] == ["health_probe", "restart", "health_probe_after_restart"]


def test_service_down_with_a_healthy_probe_stops_there(web: Service, metrics: Metrics) -> None:
    settings = Settings(alert_health_urls=(f"{web.url}/healthy",), alert_restart_command="false")
    _, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(alert("ServiceDown"))),
                                             ("GET", "/api/alerts", None)])  # fmt: skip
    assert [(a["name"], a["ok"]) for a in listed.json()["alerts"][0]["actions"]] == [("health_probe", True)]


def test_a_known_instance_selects_its_configured_health_url(web: Service, tmp_path: Path, metrics: Metrics) -> None:
    marker = tmp_path / "restarted"
    settings = Settings(alert_known_instances={"app:1": f"{web.url}/healthy", "app:2": f"{web.url}/down"},
                        alert_health_urls=(f"{web.url}/down",), alert_restart_command=appender(marker),
                        alert_restart_wait_s=0)  # fmt: skip
    _, first, _, second = exchange(settings, metrics, [
        ("POST", "/api/alerts", payload(alert("ServiceDown", instance="app:1"))), ("GET", "/api/alerts", None),
        ("POST", "/api/alerts", payload(alert("ServiceDown", instance="app:2"))), ("GET", "/api/alerts", None),
    ])  # fmt: skip
    healthy = first.json()["alerts"][0]["actions"]
    assert [(a["name"], a["ok"]) for a in healthy] == [("health_probe", True)]
    assert healthy[0]["detail"]["probes"][0]["target"] == f"{web.url}/healthy"
    down = second.json()["alerts"][0]["actions"]
    assert down[0]["detail"]["probes"][0]["target"] == f"{web.url}/down"
    assert web.gets == ["/healthy", "/down", "/down"]
    assert lines(marker) == 1


def test_self_means_this_servers_own_health_read_in_process(tmp_path: Path, metrics: Metrics) -> None:
    marker = tmp_path / "restarted"
    settings = Settings(alert_known_instances={"127.0.0.1:8080": "self"}, alert_restart_command=appender(marker),
                        alert_restart_wait_s=0)  # fmt: skip
    _, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(alert("ServiceDown",
                                                                                   instance="127.0.0.1:8080"))),
                                             ("GET", "/api/alerts", None)])  # fmt: skip
    probe = listed.json()["alerts"][0]["actions"][0]["detail"]["probes"][0]
    # Not started, so its loop is not ticking: unhealthy, the 503 GET /api/health would give.
    assert (probe["target"], probe["health"], probe["status"]) == ("self", "unhealthy", 503)


def test_high_error_rate_collects_recent_errors(tmp_path: Path, metrics: Metrics) -> None:
    log = tmp_path / "v.log"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    record = {"ts": stamp, "level": "ERROR", "component": "pipeline", "event": "tick_failed", "error": "boom"}
    log.write_bytes((orjson.dumps(record) + b"\n") * 3)
    _, listed = exchange(Settings(log_file=log), metrics, [("POST", "/api/alerts", payload(alert("HighErrorRate"))),
                                                          ("GET", "/api/alerts", None)])  # fmt: skip
    (action,) = listed.json()["alerts"][0]["actions"]
    assert action["name"] == "collect_errors" and action["ok"]
    assert action["detail"]["last_5m"] == 3
    assert action["detail"]["groups"][0]["error_message"] == "boom"


def test_resolved_and_warning_alerts_are_recorded_without_actions(metrics: Metrics) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/api/alerts", payload(alert("HighProcessingLatency", severity="warning"), receiver="warning-alerts")),
        ("POST", "/api/alerts", payload(alert("ServiceDown", status="resolved"))),
        ("GET", "/api/alerts", None),
        ("GET", "/api/alerts?status=resolved", None),
        ("GET", "/api/alerts?alertname=HighProcessingLatency&limit=1", None),
    ]
    *_, every, resolved, one = exchange(Settings(), metrics, calls)
    assert every.json()["total"] == 2
    assert [a["alertname"] for a in every.json()["alerts"]] == ["ServiceDown", "HighProcessingLatency"]
    assert all(a["actions"] == [] and a["playbook"] == "none" for a in every.json()["alerts"])
    assert [a["status"] for a in resolved.json()["alerts"]] == ["resolved"]
    assert one.json()["returned"] == 1


def test_unknown_critical_alert_escalates_and_says_when_it_cannot(metrics: Metrics) -> None:
    _, listed = exchange(Settings(), metrics, [("POST", "/api/alerts", payload(alert("DiskOnFire"))),
                                               ("GET", "/api/alerts", None)])  # fmt: skip
    (action,) = listed.json()["alerts"][0]["actions"]
    assert action["name"] == "escalate" and not action["ok"]
    assert "no escalation webhook" in action["detail"]["error"]


# ------------------------------------------------- finding 1: no request the labels direct
INSTANCE_SHAPES = [
    "{a}",
    "{a}/",
    "{a}#",
    "{a}/x?",
    "{a}/api/health#",
    "{a}/../../admin?x=",
    "user:pw@{a}",
    "{a}@127.0.0.1:9",
    "127.0.0.1:9@{a}",
    "http://{a}/",
    "localhost:{p}",
    "[::ffff:127.0.0.1]:{p}",
    "{a}\r\nX-Injected: 1",
    "{a}\\@127.0.0.1:9",
]


def shapes(address: str, port: int) -> list[str]:
    return [s.format(a=address, p=port) for s in INSTANCE_SHAPES]


@pytest.mark.parametrize("configured", ["nothing", "known_instances", "health_urls"])
def test_no_instance_label_makes_the_server_connect_anywhere(
    configured: str, web: Service, tmp_path: Path, metrics: Metrics
) -> None:
    marker = tmp_path / "restarted"
    extra: dict[str, Any] = {
        "nothing": {},
        "known_instances": {"alert_known_instances": {"app:1": f"{web.url}/healthy", "127.0.0.1:8080": "self"}},
        "health_urls": {"alert_health_urls": (f"{web.url}/healthy",)},
    }[configured]
    settings = Settings(alert_restart_command=appender(marker), alert_restart_wait_s=0, **extra)

    async def go() -> tuple[int, bytes, str]:
        with listener() as target:
            async with receiver(settings, metrics) as r:
                for instance in shapes(target.address, target.port):
                    response = await r.post(payload(alert("ServiceDown", instance=instance)))
                    assert response.status_code == 200, response.text
                    await r.settled()
                listed = await r.settled()
            return target.accepted, bytes(target.received), listed.text

    accepted, received, listed = asyncio.run(go())
    assert accepted == 0 and received == b""
    assert BODY_MARKER not in listed
    if configured == "nothing":
        assert lines(marker) == 0  # an alert no configured check can confirm restarts nothing
        assert "no health check is configured" in listed
    else:
        assert set(web.gets) <= {"/healthy"}


def test_a_configured_url_that_redirects_is_a_failed_probe_and_is_not_followed(
    tmp_path: Path, metrics: Metrics
) -> None:
    async def go() -> tuple[int, list[str], dict[str, Any], str]:
        with listener() as target, service(redirect_to=f"http://{target.address}/api/health") as web:
            settings = Settings(alert_health_urls=(f"{web.url}/redirect",))
            async with receiver(settings, metrics) as r:
                await r.post(payload(alert("ServiceDown")))
                listed = await r.settled()
            return target.accepted, web.gets, listed.json()["alerts"][0], listed.text

    accepted, gets, record, text = asyncio.run(go())
    assert accepted == 0
    assert gets == ["/redirect"]
    probe = record["actions"][0]
    assert probe["name"] == "health_probe" and not probe["ok"]
    assert probe["detail"]["probes"][0]["status"] == 302
    assert "redirects are not followed" in probe["detail"]["probes"][0]["error"]
    assert BODY_MARKER not in text and "/api/health" not in text  # neither the body nor the Location


def test_probe_results_carry_status_and_timing_only(web: Service, metrics: Metrics) -> None:
    settings = Settings(alert_health_urls=(f"{web.url}/healthy", f"{web.url}/down"))
    _, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(alert("ServiceDown"))),
                                             ("GET", "/api/alerts", None)])  # fmt: skip
    probes = listed.json()["alerts"][0]["actions"][0]["detail"]["probes"]
    assert [set(p) for p in probes] == [{"target", "status", "ms"}, {"target", "status", "ms"}]
    assert BODY_MARKER not in listed.text


# ------------------------------------------------ finding 2: a thousand alerts, one restart
def burst(size: int, tag: str) -> dict[str, Any]:
    alerts = []
    for i in range(size):
        a = alert("ServiceDown", instance=f"{tag}-{i}.example:{1000 + i}")
        a["labels"]["team"] = "x" * 300
        a["annotations"]["description"] = f"{tag} attacker text " * 40
        alerts.append(a)
    return payload(*alerts)


def test_a_thousand_service_down_alerts_run_the_restart_at_most_once_per_window(
    web: Service, tmp_path: Path, metrics: Metrics
) -> None:
    marker = tmp_path / "restarted"
    settings = Settings(alert_health_urls=(f"{web.url}/down",), alert_restart_command=appender(marker),
                        alert_restart_wait_s=0, alert_restart_max_per_hour=2,
                        alert_escalation_url=f"{web.url}/hook")  # fmt: skip

    async def go() -> list[tuple[int, int, dict[str, Any]]]:
        seen = []
        async with receiver(settings, metrics) as r:
            for tag in ("first", "second", "third"):
                response = await r.post(burst(1000, tag))
                assert response.status_code == 200 and response.json()["accepted"] == 1000
                listed = (await r.settled()).json()["alerts"]
                (run,) = [a for a in listed if a["playbook"] == "done" and tag in a["labels"]["instance"]]
                seen.append((lines(marker), len(web.posts), run))
        return seen

    (lines1, hooks1, run1), (lines2, hooks2, _), (lines3, hooks3, run3) = asyncio.run(go())
    assert (lines1, hooks1) == (1, 1)
    assert run1["coalesced"] == 999
    assert (lines2, hooks2) == (2, 2)  # a later burst in the same hour: one more restart, within the budget
    assert (lines3, hooks3) == (2, 3)  # the budget of 2 an hour is spent: no restart, still one escalation
    restart = next(a for a in run3["actions"] if a["name"] == "restart")
    assert not restart["ok"] and "restart limit reached: 2 per hour" in restart["detail"]["error"]

    first = web.posts[0]
    assert first["alert_count"] == 1000 and len(first["alerts"]) <= 20
    assert set(first["alert"]["labels"]) <= {"alertname", "severity", "instance", "job"}
    sent = orjson.dumps(first).decode()
    assert "attacker text" not in sent and "xxxxx" not in sent and len(sent) < 10_000


def test_distinct_critical_alerts_share_one_escalation(web: Service, metrics: Metrics) -> None:
    settings = Settings(alert_escalation_url=f"{web.url}/hook")
    alerts = [alert(f"Critical{i}", instance=f"i{i}") for i in range(1000)]
    post, listed = exchange(settings, metrics, [("POST", "/api/alerts", payload(*alerts)),
                                                ("GET", "/api/alerts?limit=10000", None)])  # fmt: skip
    assert post.status_code == 200
    (escalation,) = web.posts
    assert escalation["alert_count"] == 1000
    assert all(a["actions"][0]["ok"] for a in listed.json()["alerts"])


def test_escalations_have_an_hourly_budget(web: Service, metrics: Metrics) -> None:
    settings = Settings(alert_escalation_url=f"{web.url}/hook", alert_escalation_max_per_hour=2)
    calls: list[tuple[str, str, Any]] = []
    for i in range(4):
        calls += [("POST", "/api/alerts", payload(alert(f"Critical{i}"))), ("GET", "/api/alerts", None)]
    *_, listed = exchange(settings, metrics, calls)
    assert len(web.posts) == 2
    refused = listed.json()["alerts"][0]["actions"][0]
    assert not refused["ok"] and "escalation limit reached: 2 per hour" in refused["detail"]["error"]


# --------------------------------------------- slow targets do not stall the server's threads
def test_hanging_probes_and_escalations_leave_the_default_executor_free(metrics: Metrics) -> None:
    async def go() -> None:
        with listener() as hung:
            url = f"http://{hung.address}"
            settings = Settings(alert_health_urls=(f"{url}/api/health",), alert_escalation_url=f"{url}/hook",
                                alert_http_timeout_s=60)  # fmt: skip
            async with receiver(settings, metrics) as r:
                alerts = [alert("ServiceDown", instance=f"i{i}") for i in range(50)]
                alerts += [alert(f"Critical{i}") for i in range(50)]
                await r.post(payload(*alerts))
                for _ in range(3000):  # the probe and the escalation, both waiting for an answer
                    if hung.open_connections() >= 2:
                        break
                    await asyncio.sleep(0.01)
                names = {t.name for t in threading.enumerate()}
                assert any(n.startswith("visionflow-alert-http") for n in names)

                loop = asyncio.get_running_loop()
                done = await asyncio.wait_for(
                    asyncio.gather(*(loop.run_in_executor(None, lambda i=i: i) for i in range(20))), 30
                )
                assert done == list(range(20))
                # Still hung at that moment: the work above did not wait for a probe to give up.
                assert hung.open_connections() == 2 and hung.accepted == 2
                listed = (await r.client.get("/api/alerts?alertname=ServiceDown&limit=1000")).json()["alerts"]
                assert [a["playbook"] for a in listed].count("running") == 1
                hung.stop()  # the hung requests fail, and so does anything after them, at once
                settled = (await r.settled()).json()["alerts"]
                probe = next(a for a in settled if a["playbook"] == "done" and a["alertname"] == "ServiceDown")
                assert not probe["actions"][0]["ok"]

    asyncio.run(go())


# ----------------------------------------------------------------- who may post, and how much
def test_with_a_token_the_receiver_wants_it(metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(alert_webhook_token=TOKEN)

    async def go() -> list[httpx.Response]:
        body = payload(alert("Info", severity="info"))
        async with receiver(settings, metrics, client=("203.0.113.7", 5000)) as r:
            return [
                await r.post(body),
                await r.post(body, headers={"Authorization": f"Bearer {TOKEN}x"}),
                await r.post(body, headers={"Authorization": f"Basic {TOKEN}"}),
                await r.post(body, headers={"Authorization": "Bearer"}),
                await r.post(body, headers={"Authorization": f"Bearer {TOKEN}"}),
                await r.client.get("/api/alerts"),
            ]

    with caplog.at_level(logging.WARNING, logger="visionflow.alerts"):
        *refused, accepted, listed = asyncio.run(go())
    for response in refused:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "alert_webhook_token" in response.json()["detail"][0]["msg"]
    assert accepted.status_code == 200 and listed.json()["total"] == 1
    events = [getattr(r, "event", "") for r in caplog.records]
    assert "alert_webhook_unauthenticated" not in events
    assert events.count("alert_webhook_refused") == 1  # one line per burst of refusals, not one per request


def test_without_a_token_only_this_host_may_post_and_the_start_says_so(
    metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    async def go(client: tuple[str, int]) -> httpx.Response:
        async with receiver(Settings(), metrics, client=client) as r:
            return await r.post(payload(alert("Info", severity="info")))

    with caplog.at_level(logging.WARNING, logger="visionflow.alerts"):
        remote = asyncio.run(go(("203.0.113.7", 5000)))
    assert remote.status_code == 403 and "alert_webhook_token" in remote.json()["detail"][0]["msg"]
    warnings = [r for r in caplog.records if getattr(r, "event", "") == "alert_webhook_unauthenticated"]
    assert warnings and warnings[0].levelname == "WARN" and getattr(warnings[0], "category", "") == "security"
    assert asyncio.run(go(("127.0.0.1", 5000))).status_code == 200
    assert asyncio.run(go(("::1", 5000))).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(metrics: Metrics) -> None:
    settings = Settings(alert_max_body_bytes=4096)
    big = payload(*[alert("Info", severity="info", instance=f"i{i}") for i in range(100)])

    async def chunks() -> AsyncIterator[bytes]:
        data = orjson.dumps(big)
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    async def go() -> list[httpx.Response]:
        async with receiver(settings, metrics) as r:
            return [
                await r.post(big),
                await r.client.post("/api/alerts", content=chunks(), headers={"Content-Type": "application/json"}),
                await r.client.get("/api/alerts"),
            ]

    declared, streamed, listed = asyncio.run(go())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["detail"][0]["msg"] == "body exceeds 4096 bytes (alert_max_body_bytes)"
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    ("settings", "change", "loc", "msg"),
    [
        ({"alert_max_alerts_per_post": 5}, lambda p: p["alerts"].extend([alert("Info", severity="info")] * 5),
         ["body", "alerts"], "6 alerts in one request; the limit is 5 (alert_max_alerts_per_post)"),
        ({"alert_max_value_chars": 100}, lambda p: p["alerts"][0]["annotations"].update(description="d" * 101),
         ["body", "alerts", 0, "annotations", "description"], "longer than 100 characters (alert_max_value_chars)"),
        ({"alert_max_value_chars": 100}, lambda p: p["alerts"][0]["labels"].update({"k" * 101: "v"}),
         ["body", "alerts", 0, "labels", "k" * 100], "longer than 100 characters (alert_max_value_chars)"),
        ({"alert_max_value_chars": 100}, lambda p: p.update(receiver="r" * 101),
         ["body", "receiver"], "longer than 100 characters (alert_max_value_chars)"),
        ({}, lambda p: p["alerts"][0]["labels"].update({f"l{i}": "v" for i in range(64)}),
         ["body", "alerts", 0, "labels"], "more than 64 entries"),
    ],
)  # fmt: skip
def test_alerts_over_a_limit_are_refused_whole_naming_it(
    settings: dict[str, Any], change: Any, loc: list[Any], msg: str, metrics: Metrics
) -> None:
    body = payload(alert("Info", severity="info"))
    change(body)
    posted, listed = exchange(Settings(**settings), metrics, [("POST", "/api/alerts", body),
                                                              ("GET", "/api/alerts", None)])  # fmt: skip
    assert posted.status_code == 422
    assert posted.json()["detail"] == [{"loc": loc, "msg": msg, "type": "too_long"}]
    assert listed.json()["total"] == 0


@pytest.mark.parametrize("raw", [b'"\\ud800x"', b'"ok", "\\udfff": "v"'])
def test_strings_that_are_not_unicode_are_a_422_not_a_500(raw: bytes, metrics: Metrics) -> None:
    body = b'{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":' + raw + b"}}]}"

    async def go() -> list[httpx.Response]:
        async with receiver(Settings(), metrics) as r:
            posted = await r.client.post("/api/alerts", content=body, headers={"Content-Type": "application/json"})
            return [posted, await r.client.get("/api/alerts")]

    posted, listed = asyncio.run(go())
    assert posted.status_code == 422 and posted.json()["detail"][0]["type"] == "string_unicode"
    assert listed.status_code == 200 and listed.json()["total"] == 0


def test_stored_alerts_are_capped_in_bytes_as_well_as_count(metrics: Metrics) -> None:
    cap = 64 << 10
    settings = Settings(alert_store_max_bytes=cap, alerts_kept=1000)
    calls: list[tuple[str, str, Any]] = []
    for i in range(20):
        alerts = [alert("Info", severity="info", instance=f"{i}-{j}") for j in range(10)]
        for a in alerts:
            a["annotations"]["description"] = "d" * 4000
        calls.append(("POST", "/api/alerts", payload(*alerts)))
    calls.append(("GET", "/api/alerts?limit=10000", None))
    *posts, listed = exchange(settings, metrics, calls)
    assert all(p.status_code == 200 for p in posts)
    body = listed.json()
    assert 0 < body["total"] < 200 and body["stored_bytes"] <= cap
    assert len(orjson.dumps(body["alerts"])) == body["stored_bytes"]
    assert body["alerts"][0]["labels"]["instance"] == "19-9"  # the newest stays


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "firing"}, "alerts"),
        ({"status": "boiling", "alerts": []}, "status"),
        ({"status": "firing", "alerts": [{"status": "firing"}]}, "labels"),
        ({"status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1}}]}, "a"),
    ],
)
def test_bad_payload_is_a_422_naming_the_field(body: dict[str, Any], field: str, metrics: Metrics) -> None:
    (response,) = exchange(Settings(), metrics, [("POST", "/api/alerts", body)])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
