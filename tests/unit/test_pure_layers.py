"""The domain and the projections hold rules only: no generated code, no pydantic internals.

Code generated at run time (``exec``, ``eval``, ``compile``) and pydantic's private slots are
performance work; they live in ``infrastructure/storage/codecs.py``, where the storage boundary
applies them. Two modules of the domain are the exceptions, each for one thing:
``domain/construction.py`` for the slots (it builds the events the domain decides: the domain's
one way to build them, so that no other module's import changes how), and ``domain/compiled.py``
for generated code (the functions compiled from a declaration's list of fields, which the order's
state and the orders view use; nothing else in the pure layers generates code). (That the domain
imports no ``pydantic_core`` is an import-linter contract.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = sorted((ROOT / "domain").rglob("*.py")) + sorted((ROOT / "projections").rglob("*.py"))
GENERATORS = {"exec", "eval", "compile"}
BUILDS_EVENTS = ROOT / "domain" / "construction.py"
COMPILES_DECLARATIONS = ROOT / "domain" / "compiled.py"


def _generated_code(tree: ast.AST) -> list[str]:
    return [
        f"{node.func.id}( at line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GENERATORS
    ]


def _pydantic_internals(tree: ast.AST) -> list[str]:
    names = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    names += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return [name for name in names if name.startswith("__pydantic_")]


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_pure_module_generates_no_code_and_touches_no_pydantic_internals(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    if path != COMPILES_DECLARATIONS:
        assert _generated_code(tree) == []
    if path != BUILDS_EVENTS:
        assert _pydantic_internals(tree) == []


def test_the_check_finds_what_it_looks_for() -> None:
    tree = ast.parse('exec("x = 1")\nBaseModel.__dict__["__pydantic_extra__"]\nm.__pydantic_fields_set__')
    assert _generated_code(tree) == ["exec( at line 1"]
    assert _pydantic_internals(tree) == ["__pydantic_fields_set__", "__pydantic_extra__"]


def test_the_pure_layers_are_found() -> None:
    assert {p.name for p in PURE} >= {"events.py", "order.py", "values.py", "positions.py"}
    assert {BUILDS_EVENTS, COMPILES_DECLARATIONS} <= set(PURE)  # the exceptions are pure modules
