"""Rich tables for ``visionflow bench physics``: speed, ratio to each peer, and quality at equal wall time."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["render"]


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def render(result: dict[str, Any], console: Console | None = None) -> None:
    out = console or Console(width=150)
    if "crossover" in result:
        table = Table(title=f"Exact all-pairs vs Barnes-Hut ({result['graph']} graph), ms per step")
        for column in ("nodes", "exact", "barnes-hut"):
            table.add_column(column, justify="right")
        for row in result["rows"]:
            table.add_row(str(row["nodes"]), _f(row["exact_ms"]), _f(row["tree_ms"]))
        out.print(table)
        out.print(f"crossover: {result['crossover'] or 'not reached in these sizes'}")
        return
    speed = Table(
        title=f"Layout step, {result['graph']} graph, median of {result['steps']} steps (ratio = peer / ours)"
    )
    for column in ("nodes", "edges", "contender", "ms/step", "ratio", "note"):
        speed.add_column(column, justify="right" if column not in ("contender", "note") else "left")
    for size in result["sizes"]:
        ours = size["ours"]
        note = (
            f"{ours['method']}, {ours['bytes_per_node']:.0f} B/node + {ours['bytes_per_edge']:.0f} B/edge held; "
            f"traced {ours['traced_bytes_per_node']:.0f}, RSS {ours['rss_bytes_per_node']:.0f} B/node"
        )
        speed.add_row(str(size["nodes"]), str(size["edges"]), "visionflow", _f(ours["ms_per_step"], 4), "1", note)
        for name, peer in size["peers"].items():
            if "skipped" in peer:
                speed.add_row("", "", name, "-", "-", escape(peer["skipped"]))  # "pip install .[bench]" is not markup
            else:
                speed.add_row("", "", name, _f(peer["ms_per_step"], 4), _f(peer["ratio"], 1),
                              f"{peer['iterations']} iterations")  # fmt: skip
    out.print(speed)
    rows = [(size["nodes"], name, q) for size in result["sizes"] for name, q in size["quality"].items()]
    if not rows:
        return
    quality = Table(
        title="Quality at equal wall time (stress, edge CV: lower is better; neighbourhoods, 1 and 2 hops: higher)"
    )
    for column in ("nodes", "peer", "budget s", "steps ours/peer", "stress ours/peer", "edge CV ours/peer",
                   "1-hop ours/peer", "2-hop ours/peer"):  # fmt: skip
        quality.add_column(column, justify="right" if column != "peer" else "left")
    for n, name, q in rows:
        o, p = q["ours"], q["peer"]
        quality.add_row(
            str(n), name, _f(q["budget_s"]), f"{q['ours_steps']}/{q['peer_iterations']}",
            f"{_f(o['stress'])}/{_f(p['stress'])}", f"{_f(o['edge_cv'])}/{_f(p['edge_cv'])}",
            f"{_f(o['neighbourhood'])}/{_f(p['neighbourhood'])}",
            f"{_f(o['neighbourhood_2hop'])}/{_f(p['neighbourhood_2hop'])}",
        )  # fmt: skip
    out.print(quality)
