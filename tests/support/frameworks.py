"""A virtual environment holding the agent frameworks the OTLP tests run, built once and kept.

The frameworks cannot share the project's environment: openai-agents 0.24 requires
``websockets<17`` and the server is tested on websockets 17. They do not need to either: a
user's agents run in their own process and only send OTLP to the server, and so do the
tests'. The environment is made from ``tests/frameworks/requirements.txt`` (exact pins) in
the user's cache directory, keyed by that file's content and this interpreter, so fresh
clones on one machine (CI's included) build it once; a lock keeps parallel runs from
building it twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["FRAMEWORKS", "framework_python", "run_framework"]

FRAMEWORKS = Path(__file__).resolve().parents[1] / "frameworks"
REQUIREMENTS = FRAMEWORKS / "requirements.txt"
INSTALL_TIMEOUT_S = 900


def _home() -> Path:
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode() + sys.base_prefix.encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "visionflow" / f"agent-frameworks-{key[:16]}"


def framework_python() -> Path:
    """The interpreter of the frameworks' environment, built first if this machine has none yet."""
    home = _home()
    python = home / "bin" / "python"
    done = home / ".complete"
    if done.exists():
        return python
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f"{home.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return python
        shutil.rmtree(home, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
        steps = ([base, "-m", "venv", str(home)], install)
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"building {home} failed: {' '.join(step)}\n{result.stderr[-4000:]}")
        done.touch()
    return python


def run_framework(script: str, endpoint: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``tests/frameworks/<script>`` in the frameworks' environment, exporting to ``endpoint``.

    The child gets a bare environment: the standard OTLP variables, and nothing that would
    let it reach anything but the server (no API keys, no proxies).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    if token is not None:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = f"Authorization=Bearer%20{token}"
    command = [str(framework_python()), str(FRAMEWORKS / script), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, check=False)
