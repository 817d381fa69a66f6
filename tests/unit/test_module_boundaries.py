"""Modules meet through public names, one way.

* No module imports another's private name (``from orderledger.x import _name``): a name a
  module keeps to itself can change without a second module breaking.
* No import cycle between modules, imports under ``TYPE_CHECKING`` (annotations) and the
  modules ``application.lazy`` imports on first use (``lazy.Module("orderledger....")``)
  included. ``OrderLedger`` (application/ledger.py) hands itself to the helper modules that hold
  its methods' bodies; they name it by the parts they use (``application.parts.LedgerParts``),
  never by importing the ledger back.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.modules import project_modules

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
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in MODULES
        ):
            targets.add(node.args[0].value)  # lazy.Module("orderledger...."): imported on first use
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


def test_no_import_cycle_annotations_and_lazy_imports_included() -> None:
    graph = {name: _imports(path)[0] - {name} for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_an_annotation_only_import_and_a_lazy_one_are_imports(tmp_path: Path) -> None:
    # Given a module that names the ledger under TYPE_CHECKING, and one that imports a module lazily
    typed = tmp_path / "typed.py"
    typed.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from orderledger.infrastructure.application.ledger import OrderLedger\n"
    )
    late = tmp_path / "late.py"
    late.write_text(
        "from orderledger.infrastructure.application import lazy\n"
        'x = lazy.Module("orderledger.infrastructure.application.execution")\n'
    )
    # Then both are dependencies of theirs
    assert "orderledger.infrastructure.application.ledger" in _imports(typed)[0]
    assert "orderledger.infrastructure.application.execution" in _imports(late)[0]


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
