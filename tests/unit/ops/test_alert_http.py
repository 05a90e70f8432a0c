"""The playbook's HTTP client: configured URLs only, no redirects, no bodies, a deadline that frees threads."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.loopback import listener, service

from visionflow.ops.alert_http import AlertHTTP, Outcome, display_url, validate_url


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1:70/", "127.0.0.1:8080/api/health", "http:///api/health",
     "http://127.0.0.1:99999/", "http://127.0.0.1/api/health#x", "ftp://example.org/"],
)  # fmt: skip
def test_only_absolute_http_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        validate_url(url)


def test_display_drops_credentials_and_query() -> None:
    assert display_url("https://user:pw@[::1]:8443/api/health?token=s") == "https://[::1]:8443/api/health"
    assert display_url("http://app/api/health") == "http://app/api/health"


def test_a_redirect_is_reported_not_followed() -> None:
    async def go() -> tuple[Outcome, int]:
        with listener() as target, service(redirect_to=f"http://{target.address}/") as web:
            http = AlertHTTP(5.0)
            outcome = await http.get(f"{web.url}/redirect")
            http.close()
            return outcome, target.accepted

    outcome, accepted = asyncio.run(go())
    assert accepted == 0
    assert outcome.status == 302 and not outcome.ok
    assert outcome.error == "answered 302; redirects are not followed"


def test_statuses_come_back_and_errors_are_in_our_words() -> None:
    async def go() -> list[Outcome]:
        with service() as web:
            http = AlertHTTP(5.0)
            results = [await http.get(f"{web.url}/healthy"), await http.get(f"{web.url}/down"),
                       await http.post_json(f"{web.url}/hook", b'{"a":1}')]  # fmt: skip
        refused = await http.get(web.url + "/healthy")  # the service is gone: nothing listens there now
        http.close()
        return [*results, refused]

    healthy, down, posted, refused = asyncio.run(go())
    assert (healthy.status, healthy.ok, down.status, down.ok, posted.status) == (200, True, 503, False, 200)
    assert refused.status is None and refused.error is not None and refused.error.startswith("ConnectionRefusedError")


def test_the_deadline_gives_up_on_a_silent_peer_and_closes_the_connection() -> None:
    async def go() -> tuple[Outcome, int, int]:
        with listener() as hung:
            http = AlertHTTP(2.0)
            outcome = await http.get(f"http://{hung.address}/api/health")
            for _ in range(1000):  # the shut-down socket reaches the listener as an end of stream
                if hung.closed_by_peer:
                    break
                await asyncio.sleep(0.01)
            http.close()
            return outcome, hung.accepted, hung.closed_by_peer

    outcome, accepted, closed = asyncio.run(go())
    assert outcome.status is None and outcome.error == "timed out after 2 s"
    assert (accepted, closed) == (1, 1)
