"""No import runs back up the layers and none forms a cycle (DESIGN.md: a module imports only from stages
to its left, plus ``swarm/`` and ``observability/``).

A fresh interpreter imports every ``visionflow`` module (so each one loads, and the list is the real one);
then each module's source is parsed and every ``visionflow`` import in it, at module level or inside a
function, becomes an edge. ``from package import name`` is an edge to ``package.name`` when that is a
module, else to ``package``. Importing a submodule also runs its packages' ``__init__``; those implicit
edges are left out, since every package that re-exports its submodules would otherwise close a cycle.

Imports under ``if TYPE_CHECKING:`` never run, so they are left out of the cycle check (breaking a cycle
that exists only for annotations is what they are for), but they still count for the layers: naming a
type of a later stage is knowing that stage.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ORDER = ["sources", "physics", "protocol", "stream", "store", "server", "top"]
"""The stages left to right (``swarm/``, the live model between sources and physics, is in the base), then
the commands on top. A layer may import its own, those to its left, and the base."""
BASE = "base"
"""Imported by everyone; imports only the base."""
LAYER_OF = {
    "visionflow": BASE,  # the version only
    "visionflow.errors": BASE,
    "visionflow.types": BASE,
    "visionflow.jit": BASE,
    "visionflow.swarm": BASE,
    "visionflow.observability": BASE,
    "visionflow.client": BASE,  # the reporter frameworks import: standard library only
    "visionflow.sources": "sources",
    "visionflow.physics": "physics",
    "visionflow.protocol": "protocol",
    "visionflow.stream": "stream",
    "visionflow.store": "store",  # history the server feeds and the operator commands read
    # The alert playbook, its HTTP and limit helpers and the log queries it collects recent errors with are
    # operator modules the server runs on Alertmanager's webhook, so they sit in the server's layer; every other
    # ops module is a command on top.
    "visionflow.ops.playbook": "server",
    "visionflow.ops.alert_http": "server",
    "visionflow.ops.alert_limits": "server",
    "visionflow.ops.logs": "server",
    "visionflow.server": "server",
    "visionflow.ops": "top",
    "visionflow.bench": "top",
    "visionflow.cli": "top",
}
"""Each module's layer: the entry for the longest prefix of its name. ``web/`` is static files, no modules."""


def layer_of(module: str) -> str:
    if module == "visionflow":
        return LAYER_OF[module]
    parts = module.split(".")
    for end in range(len(parts), 1, -1):  # the root's entry names the root alone, so a new package needs its own
        prefix = ".".join(parts[:end])
        if prefix in LAYER_OF:
            return LAYER_OF[prefix]
    raise AssertionError(f"{module} has no layer: add it to LAYER_OF")


def may_import(importer: str, imported: str) -> bool:
    mine, theirs = layer_of(importer), layer_of(imported)
    if theirs == BASE:
        return True
    return mine != BASE and ORDER.index(theirs) <= ORDER.index(mine)


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int
    type_only: bool


LIST_MODULES = """
import importlib, json, pkgutil, visionflow
found = {"visionflow": visionflow.__file__}
for info in pkgutil.walk_packages(visionflow.__path__, "visionflow."):
    found[info.name] = importlib.import_module(info.name).__file__
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def modules() -> dict[str, str]:
    """Every visionflow module and its file, as a fresh interpreter that imported them all reports them."""
    done = subprocess.run([sys.executable, "-c", LIST_MODULES], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found: dict[str, str] = json.loads(done.stdout)
    assert {"visionflow.physics.engine", "visionflow.physics.cuda.backend", "visionflow.bench.physics"} <= set(found)
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, type_only: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_only
        elif isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.body:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), type_only)
        else:
            yield from _imports(node, type_only)


def edges_of(name: str, path: str, known: set[str]) -> Iterator[Edge]:
    tree = ast.parse(Path(path).read_text(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    for node, type_only in _imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            if target == "visionflow" or target.startswith("visionflow."):
                while target and target not in known:  # trim what names an attribute rather than a module
                    target = target.rpartition(".")[0]
                if target:
                    yield Edge(name, target, node.lineno, type_only)


@pytest.fixture(scope="module")
def edges(modules: dict[str, str]) -> list[Edge]:
    known = set(modules)
    return [edge for name, path in sorted(modules.items()) for edge in edges_of(name, path, known)]


def test_every_module_has_a_layer(modules: dict[str, str]) -> None:
    for name in modules:
        layer_of(name)


def test_no_import_runs_back_up_the_layers(edges: list[Edge]) -> None:
    upward = [
        f"{e.importer}:{e.line} imports {e.imported} ({layer_of(e.importer)} -> {layer_of(e.imported)})"
        for e in edges
        if not may_import(e.importer, e.imported)
    ]
    assert upward == []


def test_no_import_cycle(edges: list[Edge]) -> None:
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_only and e.importer != e.imported:
            graph.setdefault(e.importer, set()).add(e.imported)
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("visionflow.physics.engine", "visionflow.swarm.models", True),
        ("visionflow.physics.engine", "visionflow.sources.base", True),  # a stage to the left
        ("visionflow.protocol.binary", "visionflow.physics.engine", True),
        ("visionflow.physics.csr", "visionflow.protocol.binary", False),
        ("visionflow.sources.mcp", "visionflow.physics", False),
        ("visionflow.stream.hub", "visionflow.server.runtime", False),
        ("visionflow.swarm.state", "visionflow.sources.base", False),  # the base imports only the base
        ("visionflow.server.runtime", "visionflow.ops.playbook", True),
        ("visionflow.server.runtime", "visionflow.ops.diagnose", False),
        ("visionflow.server.app", "visionflow.bench.physics", False),
        ("visionflow.cli", "visionflow.server.main", True),
        ("visionflow.observability.metrics", "visionflow.errors", True),
    ],
)
def test_the_table_says_what_design_says(importer: str, imported: str, allowed: bool) -> None:
    assert may_import(importer, imported) is allowed


def test_the_graph_sees_imports_inside_functions_and_type_only_ones(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from visionflow.physics import engine, Backend\n"
        "if TYPE_CHECKING:\n    from visionflow.server.runtime import Runtime\n"
        "def later():\n    import visionflow.physics.cuda.backend\n    from . import params\n"
    )
    known = {"visionflow.physics", "visionflow.physics.engine", "visionflow.physics.params",
             "visionflow.physics.cuda.backend", "visionflow.server.runtime"}  # fmt: skip
    found = {(e.imported, e.type_only) for e in edges_of("visionflow.physics.probe", str(source), known)}
    assert found == {
        ("visionflow.physics.engine", False),
        ("visionflow.physics", False),
        ("visionflow.server.runtime", True),
        ("visionflow.physics.cuda.backend", False),
        ("visionflow.physics.params", False),
    }
