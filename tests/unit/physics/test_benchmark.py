"""The physics benchmark on tiny graphs: its graphs, its report, each installed peer, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from visionflow.cli import app
from visionflow.physics import benchmark


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
    assert size["ours"]["rss_bytes_per_node"] >= 0
    assert size["peers"] == {}


@pytest.mark.parametrize("name", [peer.name for peer in benchmark._peers()])
def test_each_installed_peer_runs_and_is_scored(name: str) -> None:
    peer = next(p for p in benchmark._peers() if p.name == name)
    reason = peer.available()
    if reason:
        pytest.skip(reason)
    graph = benchmark.make_graph("swarm", 40, seed=2)
    entry: dict[str, object] = {"quality": {}}
    result = benchmark._run_peer(peer, graph, 3, 0.01, True, entry)
    assert "skipped" not in result, result
    assert result["ms_per_step"] > 0 and result["ratio"] > 0
    scored = entry["quality"][name]  # type: ignore[index]
    assert set(scored["peer"]) == {"stress", "edge_cv", "neighbourhood", "neighbourhood_2hop"}
    assert scored["ours_steps"] >= 1


def test_a_peer_over_its_limit_is_skipped_with_a_reason() -> None:
    peer = benchmark._Peer("tiny", benchmark._reference, lambda: None, limit=10)
    result = benchmark._run_peer(peer, benchmark.make_graph("swarm", 20), 2, 1.0, False, {"quality": {}})
    assert result == {"skipped": "not run above 10 nodes"}


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
