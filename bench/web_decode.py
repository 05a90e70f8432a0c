"""Time to decode and apply one binary frame in the browser, at 10,000 and 100,000 records.

    python bench/web_decode.py [--records 10000,100000] [--reps 200] [--json]

Frames come from the Python encoder. Debian's Chromium loads the page's own decoder
(src/visionflow/web/js/decoder.js) through Playwright, with every request answered from
disk (no server, no network), and times, in the same run:

- ours: one DataView over the frame, written into the NodeStore's typed arrays
- ours, empty store: the first frame, every node new (what a connect or resync costs)
- naive: an object per record, then a Map of node objects (the usual first client)

Ratios are naive / ours. Goals: <= 1 ms at 10,000 records and <= 8 ms at 100,000.
Beside it, the page's per-render-frame JavaScript for as many agents and links (ease the
positions, fill the instance and link buffers; no GPU): what a 60 FPS frame must fit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from visionflow.protocol.binary import encode
from visionflow.server.routes.web import WEB_DIR, find_three
from visionflow.swarm.models import AGENT_FLAG

CHROMIUM = "/usr/bin/chromium"
ORIGIN = "http://bench.invalid"
HERE = Path(__file__).resolve().parent
GOALS_MS = {10_000: 1.0, 100_000: 8.0}


def frame(records: int) -> bytes:
    rng = np.random.default_rng(records)
    ids = np.arange(records, dtype=np.uint32) | np.uint32(AGENT_FLAG)
    positions = rng.normal(0, 200, (records, 3)).astype(np.float32)
    velocities = rng.normal(0, 2, (records, 3)).astype(np.float32)
    return encode(ids, positions, velocities)


def run(sizes: list[int], reps: int) -> list[dict[str, Any]]:
    from playwright.sync_api import Route, sync_playwright

    frames = {n: frame(n) for n in sizes}
    three = find_three()
    if three is None:
        raise SystemExit("three.js is not installed in node_modules; run `make setup`")
    files = {
        "/js/": WEB_DIR / "js",
        "/bench/": HERE / "web",
        "/vendor/three/build/": three / "build",
        "/vendor/three/addons/": three / "examples" / "jsm",
    }
    page_html = (
        '<!doctype html><title>decode bench</title><script type="importmap">'
        '{"imports": {"three": "/vendor/three/build/three.module.js", "three/addons/": "/vendor/three/addons/"}}'
        "</script>"
    )

    def answer(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body=page_html, content_type="text/html")
            return
        if path.startswith("/frames/"):
            route.fulfill(body=frames[int(path.rsplit("/", 1)[1])], content_type="application/octet-stream")
            return
        for prefix, folder in files.items():
            if path.startswith(prefix):
                route.fulfill(path=folder / path.removeprefix(prefix), content_type="text/javascript")
                return
        route.fulfill(status=404, body="not found")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page()
        page.route(f"{ORIGIN}/**", answer)
        page.goto(ORIGIN + "/")
        results: list[dict[str, Any]] = page.evaluate(
            """async ([sizes, reps]) => {
                const bench = await import('/bench/decode_bench.js');
                const frames = {};
                for (const n of sizes) frames[n] = await (await fetch('/frames/' + n)).arrayBuffer();
                const layers = await import('/bench/layers_bench.js');
                const decode = await bench.run(frames, reps);
                for (const row of decode) {
                    const r = Math.max(3, Math.round(reps / 4 * 10000 / row.records));
                    Object.assign(row, layers.run(frames[row.records], row.records, r));
                }
                return decode;
            }""",
            [sizes, reps],
        )
        version = browser.version
        browser.close()
    for row in results:
        row["chromium"] = version
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", default="10000,100000", help="comma-separated frame sizes")
    parser.add_argument("--reps", type=int, default=200, help="calls per timed batch at 10,000 records")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        print(f"chromium is not installed at {CHROMIUM}; run `make test` or apt-get install chromium", file=sys.stderr)
        return 2
    results = run([int(s) for s in args.records.split(",")], args.reps)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Chromium {results[0]['chromium']}: ms to decode and apply one frame (median of batch means)")
    header = ("records", 8), ("bytes", 9), ("ours", 8), ("empty store", 12), ("naive", 8)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'naive/ours':>11}  goal")
    missed = False
    for r in results:
        goal = GOALS_MS.get(r["records"])
        verdict = "" if goal is None else f"<= {goal:g} ms {'met' if r['ours'] <= goal else 'MISSED'}"
        missed |= goal is not None and r["ours"] > goal
        print(f"{r['records']:>8} {r['bytes']:>9} {r['ours']:>8.3f} {r['fresh']:>12.3f} "
              f"{r['naive']:>8.3f} {r['naive'] / r['ours']:>10.1f}x  {verdict}")  # fmt: skip
    print("\nper render frame, JavaScript only (ease positions, fill instance and link buffers), ms:")
    for r in results:
        print(f"{r['records']:>8} agents, {r['links']:>8} links drawn: {r['frameJs']:>8.3f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
