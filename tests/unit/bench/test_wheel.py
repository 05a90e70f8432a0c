"""``visionflow bench physics --peers`` from an installed wheel, nowhere near a checkout.

The wheel is built from a copy of the sources, installed without its dependencies into a fresh virtual
environment that borrows this environment's packages (one ``.pth`` line: its ``site-packages`` is put on
the path as a plain directory, so this environment's editable install of visionflow does not come with
it), and the command runs from an empty directory with d3-force-3d given by ``--node-modules``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .peers import D3Install

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copy(ROOT / "README.md", tree)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(dist), str(tree)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (built,) = dist.glob("visionflow-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_borrowed_dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    return env


def run_installed(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VISIONFLOW_NODE_MODULES")}
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_the_wheel_ships_the_peer_script(wheel: Path) -> None:
    assert "visionflow/bench/peers/d3_layout.mjs" in zipfile.ZipFile(wheel).namelist()


def test_bench_physics_with_peers_runs_from_the_installed_wheel(venv: Path, d3: D3Install, tmp_path: Path) -> None:
    if d3.node_modules is None:
        pytest.skip(d3.reason)
    where = run_installed(venv, tmp_path, "python", "-c", "import visionflow.bench.physics as m; print(m.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the installed copy, not the checkout's
    done = run_installed(venv, tmp_path, "visionflow", "bench", "physics", "--nodes", "30", "--steps", "2",
                         "--peers", "--node-modules", str(d3.node_modules), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (size,) = json.loads(done.stdout)["sizes"]
    d3_result = size["peers"]["d3-force-3d"]
    assert "skipped" not in d3_result, d3_result
    assert d3_result["ms_per_step"] > 0 and d3_result["iterations"] == 2
    assert size["quality"]["d3-force-3d"]["peer"]["stress"] > 0


def test_the_installed_command_says_where_d3_was_looked_for(venv: Path, tmp_path: Path) -> None:
    done = run_installed(venv, tmp_path, "visionflow", "bench", "physics", "--nodes", "20", "--steps", "1",
                         "--peers", "--no-quality", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    reason = json.loads(done.stdout)["sizes"][0]["peers"]["d3-force-3d"]["skipped"]
    assert "--node-modules" in reason or "node is not installed" in reason
