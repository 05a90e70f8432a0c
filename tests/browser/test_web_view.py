"""The 3D web view in a real browser against a real server: load, live data, picking, reconnect."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import PageErrors
from tests.support.live import LiveServer, free_port, start_server

pytestmark = pytest.mark.browser

LIVE = "() => window.visionflow?.state === 'open' && window.visionflow.nodeCount() > 0"


def open_view(page: Page, server: LiveServer) -> PageErrors:
    errors = PageErrors(page)
    page.goto(server.http + "/")
    page.wait_for_function(LIVE, timeout=15_000)
    return errors


def hud_agents(page: Page) -> int:
    return int(page.locator("[data-hud=agents]").inner_text())


def test_page_loads_without_errors_and_shows_the_api_agent_count(page: Page, web_server: LiveServer) -> None:
    errors = PageErrors(page)
    page.goto(web_server.http + "/")
    deadline = time.monotonic() + 3.0
    shown = api = -1
    while time.monotonic() < deadline:
        api = web_server.get("/api/bots/data").json()["total_agents"]
        shown = hud_agents(page)
        if shown == api:
            break
        time.sleep(0.1)
    assert shown == api, f"the HUD shows {shown} agents, the API {api}"
    expect(page.locator("[data-hud=connection]")).to_have_text("live")
    expect(page.locator("[data-sys=backend]")).to_contain_text("CPU")
    page.wait_for_timeout(1000)
    assert errors.messages == []


def test_canvas_pixels_change_as_the_layout_moves(page: Page, web_server: LiveServer) -> None:
    open_view(page, web_server)
    before = page.evaluate("window.visionflow.samplePixels(8)")
    assert max(before) > 120, "something bright is drawn"
    page.wait_for_timeout(1500)
    after = page.evaluate("window.visionflow.samplePixels(8)")
    changed = sum(1 for a, b in zip(before, after, strict=True) if abs(a - b) > 24)
    assert changed >= 20, f"only {changed} of {len(before)} sampled pixels changed"


def test_clicking_an_agent_opens_its_panel(page: Page, web_server: LiveServer, output_dir: Path) -> None:
    errors = open_view(page, web_server)
    page.wait_for_timeout(1500)  # let the layout and the camera settle into place
    page.evaluate("window.visionflow.togglePause()")
    page.wait_for_timeout(300)
    names: list[str] = page.evaluate("window.visionflow.isolatedAgents(26)")
    assert names, "some agent stands apart on screen"
    name = names[0]
    point = page.evaluate("(name) => window.visionflow.screenPoint(name)", name)
    page.mouse.move(point["x"], point["y"])
    expect(page.locator("#hover-label")).to_contain_text(name)
    page.mouse.click(point["x"], point["y"])
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail.locator("[data-detail=name]")).to_have_text(name)
    expect(detail.locator("[data-detail=fields]")).to_contain_text("position")  # only the API reports it
    expect(detail.locator("[data-detail=fields]")).to_contain_text("token_rate")
    expect(page.locator("#hud .paused-badge")).to_be_visible()
    page.evaluate("window.visionflow.togglePause()")
    page.wait_for_timeout(600)
    # It moves on resume, and may pass close to another agent: hovering where it is now finds it
    # within a few tries (each reads its position afresh).
    hovered = []
    for _ in range(10):
        point = page.evaluate("(name) => window.visionflow.screenPoint(name)", name)
        page.mouse.move(point["x"], point["y"])
        page.wait_for_timeout(100)
        hovered.append(page.locator("#hover-label").inner_text())
        if name in hovered[-1]:
            break
    assert name in hovered[-1], hovered
    page.screenshot(path=str(output_dir / "web-view.png"))
    assert errors.messages == []


def test_search_flies_to_an_agent(page: Page, web_server: LiveServer) -> None:
    open_view(page, web_server)
    name = page.evaluate("window.visionflow.agentNames().sort()[7]")
    page.locator("#search").fill(name)
    expect(page.locator("#search-results button").first).to_contain_text(name)
    page.locator("#search").press("Enter")
    expect(page.locator("#detail [data-detail=name]")).to_have_text(name)
    page.wait_for_function("(name) => window.visionflow.targetDistanceTo(name) < 3", arg=name, timeout=10_000)


def test_dispose_closes_the_stream_and_stops_cleanly(page: Page, web_server: LiveServer) -> None:
    errors = open_view(page, web_server)
    page.evaluate("window.visionflow.dispose()")
    assert page.evaluate("window.visionflow.state") == "idle"
    page.wait_for_timeout(1500)
    assert page.evaluate("window.visionflow.state") == "idle", "no reconnect after dispose"
    assert errors.messages == []


def test_reconnects_after_a_server_restart_and_shows_fresh_data(page: Page, tmp_path: Path) -> None:
    ports = (free_port(), free_port())
    server = start_server(tmp_path / "first.log", "--agents", "60", "--seed", "1", ports=ports)
    try:
        open_view(page, server)
        first = set(page.evaluate("window.visionflow.agentNames()"))
        server.stop()
        page.wait_for_function("window.visionflow.state === 'waiting'", timeout=15_000)
        expect(page.locator("[data-hud=connection]")).to_contain_text("retry in")
        server = start_server(tmp_path / "second.log", "--agents", "90", "--seed", "9", ports=ports)
        page.wait_for_function(
            "window.visionflow.opened >= 2 && window.visionflow.state === 'open'"
            " && window.visionflow.agentCount() >= 85",
            timeout=60_000,
        )
        page.wait_for_timeout(500)
        api = {a["name"] for a in server.get("/api/bots/data").json()["agents"]}
        shown = set(page.evaluate("window.visionflow.agentNames()"))
        assert len(shown ^ api) <= 4, "the page shows the new server's swarm (allowing churn in flight)"
        assert shown != first
        expect(page.locator("[data-hud=connection]")).to_have_text("live")
    finally:
        server.stop()
