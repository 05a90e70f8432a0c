"""The physics benchmark on tiny graphs: its graphs, its report, each installed peer, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from visionflow.bench import physics as benchmark
from visionflow.cli import app

from .peers import D3Install


def test_graphs_are_seeded_and_shaped_as_documented() -> None:
    swarm = benchmark.make_graph("swarm", 1000, seed=3)
    assert 1.3 < swarm.edges / swarm.n < 1.45
    assert (swarm.src != swarm.dst).all()
    again = benchmark.make_graph("swarm", 1000, seed=3)
    np.testing.assert_array_equal(swarm.start, again.start)
    ba = benchmark.make_graph("ba", 500, seed=1)
    assert ba.edges == 2 * (500 - 2)
    degrees = np.bincount(np.r_[ba.src, ba.dst], minlength=500)
    assert degrees.max() > 5 * np.median(degrees)  # preferential attachment makes hubs
    with pytest.raises(ValueError, match="unknown graph"):
        benchmark.make_graph("ring", 10)


def test_run_reports_our_speed_method_and_memory() -> None:
    result = benchmark.run([40], "ba", 3)
    (size,) = result["sizes"]
    assert size["nodes"] == 40
    assert size["ours"]["ms_per_step"] > 0
    assert size["ours"]["method"] == "exact"
    assert 0 < size["ours"]["bytes_per_node"] < 1000
    # Everything the engine holds is NumPy memory, so tracing sees at least that much.
    assert size["ours"]["traced_bytes_per_node"] >= size["ours"]["bytes_per_node"]
    assert size["peers"] == {}


def test_rss_per_node_is_the_resident_set_growth_over_the_node_count(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([50_000_000, 50_000_000 + 40 * 700])
    monkeypatch.setattr(benchmark, "_resident_bytes", lambda: next(readings))
    assert benchmark.run([40], "ba", 3)["sizes"][0]["ours"]["rss_bytes_per_node"] == 700


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc/self/statm (not Linux)")
def test_the_resident_set_is_read_from_proc() -> None:
    # A process that has loaded NumPy and Numba holds tens of megabytes; 0 would mean the probe broke.
    assert benchmark._resident_bytes() > 20 * 2**20


PEERS = ["numpy-reference", "igraph-fr-3d", "fa2-3d", "networkx-spring-3d", "d3-force-3d"]


@pytest.fixture(scope="module")
def with_peers(d3: D3Install) -> dict[str, Any]:
    """One run with every peer on a tiny graph (d3-force-3d from the lock file, where npm could install it)."""
    (size,) = benchmark.run([40], "swarm", 3, peers=True, seed=2, node_modules=d3.node_modules)["sizes"]
    return size  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", PEERS)
def test_each_installed_peer_runs_and_is_scored(with_peers: dict[str, Any], name: str) -> None:
    result = with_peers["peers"][name]
    if "skipped" in result:
        assert "not installed" in result["skipped"], result  # a peer that failed is not a missing one
        pytest.skip(result["skipped"])
    assert result["ms_per_step"] > 0 and result["ratio"] > 0
    scored = with_peers["quality"][name]
    assert set(scored["peer"]) == {"stress", "edge_cv", "neighbourhood", "neighbourhood_2hop"}
    assert scored["ours_steps"] >= 1


def test_every_peer_is_reported(with_peers: dict[str, Any]) -> None:
    assert set(with_peers["peers"]) == set(PEERS)


def test_node_modules_are_looked_for_where_documented(tmp_path: Path) -> None:
    assert benchmark.find_node_modules(cwd=tmp_path) is None
    (tmp_path / "node_modules" / "d3-force-3d").mkdir(parents=True)
    assert benchmark.find_node_modules(cwd=tmp_path) == tmp_path / "node_modules"
    (tmp_path / "bench" / "node_modules" / "d3-force-3d").mkdir(parents=True)
    assert benchmark.find_node_modules(cwd=tmp_path) == tmp_path / "bench" / "node_modules"  # a checkout's first
    prefix = tmp_path / "elsewhere"
    (prefix / "node_modules" / "d3-force-3d").mkdir(parents=True)
    assert benchmark.find_node_modules(prefix, cwd=tmp_path) == prefix / "node_modules"  # npm's prefix
    assert benchmark.find_node_modules(prefix / "node_modules", cwd=tmp_path) == prefix / "node_modules"
    assert benchmark.find_node_modules(tmp_path / "missing", cwd=tmp_path) is None  # given: looked nowhere else


def test_a_peer_over_its_limit_is_skipped_with_a_reason() -> None:
    n = benchmark.REFERENCE_LIMIT + 1
    result = benchmark.run([n], "swarm", 1, peers=True, quality=False)["sizes"][0]["peers"]["numpy-reference"]
    assert result == {"skipped": f"not run above {benchmark.REFERENCE_LIMIT} nodes"}


def test_crossover_compares_exact_and_tree() -> None:
    result = benchmark.crossover([30, 60], steps=2)
    assert [row["nodes"] for row in result["rows"]] == [30, 60]
    assert all(row["exact_ms"] > 0 and row["tree_ms"] > 0 for row in result["rows"])


def test_cli_prints_one_json_object() -> None:
    done = CliRunner().invoke(app, ["bench", "physics", "--nodes", "30", "--steps", "2", "--json"])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["graph"] == "swarm" and body["sizes"][0]["nodes"] == 30


def test_cli_prints_tables() -> None:
    done = CliRunner().invoke(app, ["bench", "physics", "--nodes", "30", "--steps", "2"])
    assert done.exit_code == 0, done.output
    assert "visionflow" in done.stdout and "ms/step" in done.stdout


@pytest.mark.parametrize("nodes", ["x", "1", "", "20,abc"])
def test_cli_rejects_bad_sizes_naming_the_flag(nodes: str) -> None:
    done = CliRunner().invoke(app, ["bench", "physics", "--nodes", nodes])
    assert done.exit_code == 2
    assert "--nodes" in done.output


def test_cli_rejects_node_modules_without_d3_naming_the_flag(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["bench", "physics", "--nodes", "20", "--peers", "--node-modules", str(tmp_path)])
    assert done.exit_code == 2
    assert "--node-modules" in done.output and "d3-force-3d" in done.output
