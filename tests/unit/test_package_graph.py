"""The packages of ``src/authgate`` import one way: no cycle between them, and nothing imports
a package of a layer above its own (docs/design.md). Read from the source with ``ast``: every
import counts, also under ``TYPE_CHECKING`` and inside functions."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import authgate

ROOT = Path(authgate.__file__).resolve().parent

# Top to bottom. A package may import its own layer's packages (without a cycle) and any
# layer below; ``web`` is what ``flow`` and ``portal`` share, so it sits below them.
LAYERS: list[set[str]] = [
    {"__main__", "cli"},
    {"server"},
    {"flow", "portal", "demo"},
    {"web"},
    {"forward", "accounts", "deploy", "doctor", "statefile"},
    {"storage", "signing", "config", "errors"},
]

# Module imports that still point up a layer: the store builds the hot path's data types
# (AppView, Identity, SessionRecord) and canonical hosts from ``forward/``. Listed one by one
# so that a new one fails; moving those types below ``storage`` empties this list.
KNOWN_UPWARD = {
    ("authgate.storage.store.apps", "authgate.forward.hosts"),
    ("authgate.storage.store.apps", "authgate.forward.model"),
    ("authgate.storage.store.claims", "authgate.forward.hosts"),
    ("authgate.storage.store.sessions", "authgate.forward.model"),
    ("authgate.storage.store.sessions", "authgate.forward.sessions"),
    # the shared session cache hands the same SessionRecord as the store's loader
    ("authgate.storage.redis.sessions", "authgate.forward.model"),
    ("authgate.storage.redis.sessions", "authgate.forward.sessions"),
    (
        "authgate.storage.migrations.versions.0003_app_hosts_and_path_case",
        "authgate.forward.hosts",
    ),
}


def module_name(path: Path) -> str:
    parts = ["authgate", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: list[str]) -> Iterator[str]:
    """Every module ``source`` imports, wherever the import statement stands; relative
    imports resolved against ``package``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield ".".join([*base, *([node.module] if node.module else [])])
            elif node.module:
                yield node.module


def package_of(module: str) -> str | None:
    """The top-level package (or module) of ``authgate`` a module belongs to."""
    parts = module.split(".")
    if parts[0] != "authgate" or len(parts) < 2:
        return None
    return parts[1]


def module_edges() -> set[tuple[str, str]]:
    edges = set()
    for path in ROOT.rglob("*.py"):
        source = module_name(path)
        for target in imported_modules(path):
            if package_of(target) not in (None, package_of(source)):
                edges.add((source, target))
    return edges


def package_graph(edges: set[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        a, b = package_of(source), package_of(target)
        assert a is not None and b is not None
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None; a plain depth-first search."""
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        stack.append(node)
        for nxt in sorted(graph[node]):
            cycle = visit(nxt)
            if cycle:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def layer_of(package: str) -> int:
    for depth, layer in enumerate(LAYERS):
        if package in layer:
            return depth
    raise AssertionError(f"package {package!r} is in no layer of LAYERS: place it there")


@pytest.fixture(scope="module")
def edges() -> set[tuple[str, str]]:
    return module_edges()


def test_every_kind_of_import_is_read() -> None:
    """Imports under TYPE_CHECKING, inside functions and relative ones count too (else the
    other tests could pass on a graph with holes)."""
    source = """
from typing import TYPE_CHECKING
import authgate.errors
if TYPE_CHECKING:
    from authgate.server import AuthgateApp
def later():
    from authgate.portal import routes
from . import pages
from ..flow.rd import rd_from_query
"""
    found = set(imports_in(source, ["authgate", "web"]))
    assert {
        "authgate.errors",
        "authgate.server",
        "authgate.portal",
        "authgate.web",  # from . import pages
        "authgate.flow.rd",
    } <= found


def test_the_real_graph_has_the_lazy_imports(edges: set[tuple[str, str]]) -> None:
    assert ("authgate.cli.command", "authgate.storage.revision") in edges  # in a function
    assert ("authgate.server", "authgate.flow") in edges


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_cycle_between_packages(edges: set[tuple[str, str]]) -> None:
    graph = package_graph(edges)
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or []) + "\n" + _culprits(edges, cycle or [])


def test_every_package_has_a_layer(edges: set[tuple[str, str]]) -> None:
    for package in package_graph(edges):
        layer_of(package)


def test_nothing_imports_a_package_above_it(edges: set[tuple[str, str]]) -> None:
    upward = {
        (source, target)
        for source, target in edges
        if layer_of(str(package_of(target))) < layer_of(str(package_of(source)))
    }
    assert upward == KNOWN_UPWARD


@pytest.mark.parametrize("above", ["flow", "portal", "server", "cli"])
def test_web_imports_neither_flow_nor_portal(edges: set[tuple[str, str]], above: str) -> None:
    assert not [e for e in edges if package_of(e[0]) == "web" and package_of(e[1]) == above]


def _culprits(edges: set[tuple[str, str]], cycle: list[str]) -> str:
    pairs = set(itertools.pairwise(cycle))
    return "\n".join(
        f"{s} imports {t}" for s, t in sorted(edges) if (package_of(s), package_of(t)) in pairs
    )
