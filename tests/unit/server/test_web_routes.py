from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from visionflow.server.routes.web import WEB_DIR, find_three
from visionflow.server.runtime import Runtime

Api = Callable[..., httpx.Response]


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    """A runtime as built, before it starts, with its stream on a port and path of its own."""
    return make_runtime(ticks=0, agents=5, ws_port=4321, ws_path="/stream")


def test_the_page_and_its_modules_are_served(runtime: Runtime, api: Api) -> None:
    page = api(runtime, "GET", "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="importmap">' in page.text and "static/js/main.js" in page.text
    module = api(runtime, "GET", "/static/js/decoder.js")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    assert "export function applyFrame" in module.text
    assert api(runtime, "GET", "/static/css/app.css").headers["content-type"].startswith("text/css")
    assert api(runtime, "HEAD", "/").status_code == 200


def test_every_module_the_page_imports_exists() -> None:
    for js in (WEB_DIR / "js").glob("*.js"):
        for line in js.read_text().splitlines():
            if line.startswith("import ") and "from './" in line:
                target = line.split("from './", 1)[1].split("'", 1)[0]
                assert (WEB_DIR / "js" / target).is_file(), f"{js.name} imports missing {target}"


OUTSIDE = [
    "/static/../routes/web.py",
    "/static/%2e%2e/server/app.py",
    "/static/js/nope.js",
    "/static/js",
    "/vendor/three/build/three.cjs",
    "/vendor/three/addons/../package.json",
]


@pytest.mark.parametrize("path", OUTSIDE)
def test_nothing_outside_the_served_folders_leaks(runtime: Runtime, path: str, api: Api) -> None:
    response = api(runtime, "GET", path)
    assert response.status_code == 404
    assert "def " not in response.text


@pytest.mark.skipif(find_three() is None, reason="three.js is not installed in node_modules (npm ci)")
def test_three_build_and_addons_are_served(runtime: Runtime, api: Api) -> None:
    core = api(runtime, "GET", "/vendor/three/build/three.core.js")
    assert core.status_code == 200 and core.headers["content-type"].startswith("text/javascript")
    module = api(runtime, "GET", "/vendor/three/build/three.module.js")
    assert "./three.core.js" in module.text
    controls = api(runtime, "GET", "/vendor/three/addons/controls/OrbitControls.js")
    assert controls.status_code == 200 and "class OrbitControls" in controls.text


def test_find_three_walks_up_and_reports_absence(tmp_path: Path) -> None:
    assert find_three(tmp_path / "a" / "b") is None
    build = tmp_path / "node_modules" / "three" / "build"
    build.mkdir(parents=True)
    (build / "three.module.js").write_text("export {};\n")
    nested = tmp_path / "src" / "pkg" / "web"
    nested.mkdir(parents=True)
    assert find_three(nested) == tmp_path / "node_modules" / "three"


def test_config_names_the_stream(runtime: Runtime, api: Api) -> None:
    body = api(runtime, "GET", "/api/web/config").json()
    assert body["ws_port"] == 4321 and body["ws_path"] == "/stream"
    assert body["ws_url"] is None, "direct: the page connects to ws_port on its own host"
    assert body["link_decay_s"] == runtime.state.links.decay_tau_s
    assert body["server_time"] > 1.7e9


def test_config_behind_a_proxy_is_same_origin(runtime: Runtime, api: Api) -> None:
    body = api(runtime, "GET", "/api/web/config", headers={"X-Forwarded-For": "10.0.0.1"}).json()
    assert body["ws_url"] == "/stream"
