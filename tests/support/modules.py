"""The library's own modules, by dotted name, and what each imports, for the tests that read its
source as a whole (``tests/unit/test_import_time.py``, ``test_module_boundaries.py``,
``test_import_contracts.py``, ``test_registries.py``)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("domain", "projections", "infrastructure")


@cache
def project_modules() -> dict[str, Path]:
    """``orderledger.x.y`` → its file, for every module and package of the mapped folders."""
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found["orderledger." + ".".join(parts)] = path
    return found


def imported_modules(path: Path) -> tuple[set[str], list[str]]:
    """The project's modules ``path`` imports (anywhere in it), and the private names it takes."""
    modules = project_modules()
    targets: set[str] = set()
    private: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("orderledger"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                targets.add(dotted if dotted in modules else node.module)
                if alias.name.startswith("_"):
                    private.append(f"{alias.name} from {node.module} (line {node.lineno})")
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names if alias.name in modules)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in modules
        ):
            targets.add(node.args[0].value)  # lazy_imports.Module("orderledger...."): imported on first use
    return targets & set(modules), private


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
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


def assigned(node: ast.AST) -> list[ast.expr]:
    """What a statement assigns to (plain, annotated or augmented); [] if it assigns nothing."""
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []


def method_call(node: ast.AST) -> tuple[str, str] | None:
    """(NAME, METHOD) of a call ``NAME.METHOD(...)`` on a plain name; None for any other node."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        if isinstance(owner, ast.Name):
            return owner.id, node.func.attr
    return None
