"""The library's own modules, by dotted name, for the tests that read its source as a whole
(``tests/unit/test_import_time.py``, ``test_module_boundaries.py``, ``test_registries.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("domain", "projections", "infrastructure")


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
