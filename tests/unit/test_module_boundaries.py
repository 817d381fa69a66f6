"""Modules meet through public names, one way.

* No module imports another's private name (``from orderledger.x import _name``): a name a
  module keeps to itself can change without a second module breaking.
* No import cycle between modules, imports under ``TYPE_CHECKING`` (annotations) included,
  but one: ``OrderLedger`` (application/ledger.py) hands itself to the helper modules that hold
  its methods' bodies, which name it in their annotations. Any other cycle fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.modules import project_modules

LEDGER_AND_ITS_HELPERS = {
    f"orderledger.infrastructure.application.{name}"
    for name in (
        "admin",
        "columnar",
        "execution",
        "follow",
        "lake",
        "lake_pnl",
        "ledger",
        "placing",
        "reads",
        "recording",
    )
}


MODULES = project_modules()


def _imports(path: Path) -> tuple[set[str], list[str]]:
    """The project's modules ``path`` imports (anywhere in it), and the private names it takes."""
    targets: set[str] = set()
    private: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("orderledger"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                targets.add(dotted if dotted in MODULES else node.module)
                if alias.name.startswith("_"):
                    private.append(f"{alias.name} from {node.module} (line {node.lineno})")
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names if alias.name in MODULES)
    return targets & set(MODULES), private


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in graph:
        if module not in index:
            visit(module)
    return groups


def test_no_module_imports_another_modules_private_name() -> None:
    taken = {name: _imports(path)[1] for name, path in MODULES.items()}
    assert {name: names for name, names in taken.items() if names} == {}


def test_no_import_cycle_but_the_ledger_and_its_helpers() -> None:
    graph = {name: _imports(path)[0] - {name} for name, path in MODULES.items()}
    assert _cycles(graph) == [LEDGER_AND_ITS_HELPERS]


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
