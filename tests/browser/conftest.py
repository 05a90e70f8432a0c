"""Playwright driving Debian's Chromium against a real server; skipped where either is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, start_server
from visionflow.server.routes.web import find_three

CHROMIUM = Path(os.environ.get("VISIONFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
VIEWPORT = {"width": 1600, "height": 900}

if not CHROMIUM.is_file():
    pytest.skip(f"chromium is not installed at {CHROMIUM} (make test installs it)", allow_module_level=True)
if find_three() is None:
    pytest.skip("three.js is not installed in node_modules (make setup runs npm ci)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402  (only once chromium is known)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API holds an event loop open in this thread while it runs,
    which would break later tests that call ``asyncio.run``."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("web") / "server.log", "--agents", "120", "--seed", "5")
    yield server
    server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
