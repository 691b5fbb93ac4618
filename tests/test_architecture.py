"""The package graph, computed from the code: arrows point one way, and there are no cycles.

The architecture (ARCHITECTURE.md, docs/adr/0001-stack-and-layout.md) stacks the top-level packages in
layers. A package may import only packages of lower layers: never one of its own layer, never one above.
Every ``import`` counts, including those inside functions (a deferred import is still an arrow). A new
top-level package fails here until it is given a layer, so the decision is taken on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from common.settings import REPO_ROOT

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"common"}),  # clock, settings, errors, identifiers: below everyone
    frozenset({"models"}),  # tables
    frozenset({"tenants"}),  # the tenancy kernel: binding, resolution, THE scoping helper
    frozenset({"auth"}),  # principals, policies, passwords, tokens, sessions
    frozenset({"audit"}),  # the hash chain, the recorder, the platform's own log
    frozenset({"people", "storage"}),
    frozenset({"learning", "privacy"}),
    frozenset({"roster"}),
    frozenset({"partners"}),  # integration partners: registry, approvals, OAuth2 clients, OneRoster REST
    frozenset({"subscriptions"}),  # the operator's: trusts, licences, novation, suspension, termination
    frozenset({"graph"}),  # GraphQL only: translates to the services above
    frozenset({"server"}),  # the composition root: HTTP edge, app, CLI, jobs runner
)
OUTSIDE = frozenset({"tests", "bench", "migrations", "docs", "docker"})
"""Not application packages: they may import anything, and nothing imports them."""


def top_level_packages(root: Path) -> set[str]:
    return {p.parent.name for p in root.glob("*/__init__.py") if not p.parent.name.startswith(".")}


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """``{importer: {imported: ["path:line", ...]}}`` between the given top-level packages."""
    names = set(packages)
    graph: dict[str, dict[str, list[str]]] = {name: {} for name in names}
    for package in sorted(names):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    target = module.split(".")[0]
                    if target in names and target != package:
                        where = f"{path.relative_to(root)}:{node.lineno}"
                        graph[package].setdefault(target, []).append(where)
    return graph


def cycles(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, {}):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def forbidden_arrows(
    graph: Mapping[str, Mapping[str, list[str]]], layers: tuple[frozenset[str], ...]
) -> list[str]:
    layer_of = {name: number for number, layer in enumerate(layers) for name in layer}
    return [
        f"{importer} -> {imported} ({', '.join(places[:3])})"
        for importer, targets in sorted(graph.items())
        for imported, places in sorted(targets.items())
        if layer_of[imported] >= layer_of[importer]
    ]


def test_every_package_has_a_layer() -> None:
    """A new top-level package is placed in the layering on purpose, not by accident."""
    placed = set().union(*LAYERS)
    assert top_level_packages(REPO_ROOT) - OUTSIDE == placed


def test_no_package_cycles() -> None:
    graph = import_graph(REPO_ROOT, set().union(*LAYERS))
    assert cycles(graph) == []


def test_arrows_point_down_the_layers() -> None:
    """graph -> domain services -> models; nothing imports graph but server; common imports nothing of ours."""
    graph = import_graph(REPO_ROOT, set().union(*LAYERS))
    assert forbidden_arrows(graph, LAYERS) == []
    assert graph["common"] == {}
    assert [p for p, targets in graph.items() if "graph" in targets] == ["server"]


def test_the_checks_see_cycles_and_upward_arrows(tmp_path: Path) -> None:
    """Not vacuous: a cycle hidden in a function-level import and an arrow up the layers are both reported."""
    files = {
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from high.b import g\n    return g\n",
        "high/__init__.py": "",
        "high/b.py": "import low.a\n",
        "side/__init__.py": "",
        "side/c.py": "from low import a\n",
    }
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(body)
    graph = import_graph(tmp_path, {"low", "high", "side"})
    assert graph == {
        "low": {"high": ["low/a.py:2"]},
        "high": {"low": ["high/b.py:1"]},
        "side": {"low": ["side/c.py:1"]},
    }
    assert cycles(graph) == [["high", "low"]]
    layers = (frozenset({"low", "side"}), frozenset({"high"}))
    assert forbidden_arrows(graph, layers) == ["low -> high (low/a.py:2)", "side -> low (side/c.py:1)"]
