"""d3-force-3d for the peer tests, installed from ``bench/package-lock.json`` into a prefix of the test's own."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


@dataclass(frozen=True)
class D3Install:
    node_modules: Path | None
    """The ``node_modules`` holding d3-force-3d, or None when it could not be installed (``reason`` says why)."""
    reason: str = ""


def install_d3(prefix: Path) -> D3Install:
    """``npm ci`` of the benchmark's peers into ``prefix`` (from npm's cache when it has them)."""
    if shutil.which("node") is None:
        return D3Install(None, "node is not installed (make system-deps): d3-force-3d runs in node")
    if shutil.which("npm") is None:
        return D3Install(None, "npm is not installed (make system-deps): d3-force-3d comes from npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(BENCH / name, prefix / name)
    done = subprocess.run(["npm", "ci", "--prefix", str(prefix), "--no-audit", "--no-fund", "--prefer-offline"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        return D3Install(None, f"npm ci of d3-force-3d failed: {done.stderr.strip()[-300:]}")
    return D3Install(prefix / "node_modules")
