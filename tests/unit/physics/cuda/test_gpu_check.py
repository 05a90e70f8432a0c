"""bench/gpu_check.sh on the simulator with tiny sizes: every section runs and the last line holds every figure.

The script is for a machine with a GPU, which CI does not have; running it here keeps it from rotting
(a renamed function, a section that stops the others) until the day it runs for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install -e .[gpu])")
if os.environ.get("GPU_CHECK_OUT"):
    pytest.skip("running inside bench/gpu_check.sh itself (the suite runs this dry run)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[4]


def dry_run(**sizes: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "GPU_CHECK_TESTS": "0", "GPU_CHECK_TIME_SCALE": "8",
           "PYTHON": sys.executable, "GPU_CHECK_SIZES": "40", "GPU_CHECK_LIVE_SIZES": "40",
           "GPU_CHECK_MULTIPOLE_SIZES": "24 40", **sizes}  # fmt: skip
    done = subprocess.run(["bash", "bench/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return done, figures


def test_every_section_reports_and_the_last_line_holds_all_figures() -> None:
    done, figures = dry_run()
    assert figures["failed"] == [] and "FAILED" not in done.stdout
    assert figures["device"] == {"device": "simulator", "simulator": True}
    (step,) = figures["steps"]
    assert step["nodes"] == 40 and step["method"] == "exact" and step["finite"]
    assert step["ms_per_step"] > 0 and step["ms_per_step_copied_every_step"] > 0
    (tick,) = figures["live"]
    # Every tick: its frame back (positions, velocities, energy); up, the edits and the new adjacency.
    assert tick["down_per_tick"] == 3 and tick["up_per_tick"] == 5 and tick["allocations"] == 0
    assert [row["nodes"] for row in figures["multipole"]] == [24, 40]
    for row in figures["multipole"]:
        assert row["finite"] and row["error_p99"] < 0.05 and row["exact_ms"] > 0 and row["multipole_ms"] > 0
    assert "crossover" in figures


def test_a_failing_section_is_named_and_the_others_still_run() -> None:
    done, figures = dry_run(GPU_CHECK_SIZES="ten", GPU_CHECK_LIVE_SIZES="", GPU_CHECK_MULTIPOLE_SIZES="16")
    assert "FAILED steps" in done.stdout
    assert figures["failed"] == ["steps"]
    assert figures["steps"] is None and figures["device"]["simulator"]
    assert [row["nodes"] for row in figures["multipole"]] == [16]
