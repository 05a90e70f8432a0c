"""The 3D web view: ``/`` (the page), ``/static/*`` (its modules), ``/vendor/three/*``, ``/api/web/config``.

The page is static ES modules shipped as package data under ``visionflow/web``. three.js
comes from the project's npm install (``node_modules/three``, found by walking up from
the package, which is where a source checkout keeps it); only its two build modules and
its ``examples/jsm`` add-ons are served. Nothing is fetched from elsewhere at run time.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from visionflow import __version__
from visionflow.observability.logging import log_event
from visionflow.server.runtime import Runtime

__all__ = ["THREE_BUILD_FILES", "WEB_DIR", "find_three", "router"]

log = logging.getLogger("visionflow.server")

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
"""The page's files: ``index.html``, ``css/``, ``js/``."""

THREE_BUILD_FILES = frozenset({"three.module.js", "three.core.js"})
"""three 0.187's browser build: the module imports the core; there is no minified module."""

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate with the ETag, so an upgrade shows at once
_FORWARDED = ("x-forwarded-for", "x-forwarded-host", "forwarded")


def find_three(start: Path = WEB_DIR) -> Path | None:
    """The ``node_modules/three`` package nearest above ``start``, or None when it is not installed."""
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / "three"
        if (candidate / "build" / "three.module.js").is_file():
            return candidate
    return None


def _file(root: Path, relative: str) -> FileResponse:
    """``root/relative`` as a response; 404 for anything outside ``root`` or not a known file type."""
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file() or path.suffix not in _MEDIA_TYPES:
        raise HTTPException(status_code=404, detail=f"no such file: {relative}")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=_NO_CACHE)


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(tags=["web"])
    three = find_three()
    if three is None:
        log_event(log, "WARN", "web_three_missing", category="system",
                  detail="node_modules/three not found; run `make setup` (npm ci) for the 3D view")  # fmt: skip

    @api.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return _file(WEB_DIR, "index.html")

    @api.api_route("/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def static(path: str) -> FileResponse:
        return _file(WEB_DIR, path)

    @api.api_route("/vendor/three/build/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def three_build(name: str) -> FileResponse:
        if three is None or name not in THREE_BUILD_FILES:
            raise HTTPException(status_code=404, detail=f"no such file: {name} (is three.js installed?)")
        return _file(three / "build", name)

    @api.api_route("/vendor/three/addons/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def three_addon(path: str) -> FileResponse:
        if three is None:
            raise HTTPException(status_code=404, detail="three.js is not installed")
        return _file(three / "examples" / "jsm", path)

    @api.get("/api/web/config", summary="Where the page finds the binary stream")
    async def web_config(request: Request) -> dict[str, Any]:
        """``ws_url`` is a same-origin path when the request came through a proxy, else null.

        Without it the page connects to ``ws_port`` and ``ws_path`` on the host it was loaded from.
        """
        proxied = any(name in request.headers for name in _FORWARDED)
        settings = runtime.settings
        return {
            "ws_port": runtime.hub.bound_port or settings.ws_port,
            "ws_path": settings.ws_path,
            "ws_url": settings.ws_path if proxied else None,
            "link_decay_s": runtime.state.links.decay_tau_s,
            "server_time": time.time(),
            "version": __version__,
            "three": three is not None,
        }

    return api
