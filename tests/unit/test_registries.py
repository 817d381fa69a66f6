"""No table is filled as a side effect of importing a module: what answers a request, decides a
message, assigns an event or rules on a fact is named in a literal table (or one built by an
expression from literal rows), read top to bottom where it stands (``application.bootstrap``,
``ingest.batch.DECISIONS``, ``Order._APPLIERS``, ``lifecycle.TRANSITIONS``).

Three rules, read from every module's syntax tree:

- no decorator fills a module's container (``@handles(Orders)`` adding to ``HANDLERS``): a
  function that returns an inner function which writes into a module-level name, or a function
  used as a decorator in its module that does;
- no statement at a module's top level writes into a module-level container, straight
  (``TABLE[key] = value``, ``TABLE.update(...)``) or through a function of the module that does
  (``_rows(...)`` filling ``TRANSITIONS``);
- no module is imported for its effect (``import_module(name)`` whose module is not used): an
  import that fills a table is one the import-time test cannot see.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tests.support.modules import ROOT, assigned, method_call, project_modules

MODULES = sorted(project_modules().values())
FILLING = frozenset({"update", "append", "add", "setdefault", "extend", "insert", "__setitem__"})
"""The methods by which a call writes into a dict, list or set."""
IMPORTERS = frozenset({"import_module", "__import__"})


def _module_names(tree: ast.Module) -> set[str]:
    """The names a module binds at its top level by assignment."""
    names: set[str] = set()
    for node in tree.body:
        names.update(t.id for t in assigned(node) if isinstance(t, ast.Name))
    return names


def _written(
    node: ast.AST,
    names: set[str],
    local: frozenset[str] | set[str] = frozenset(),
    walk: Callable[[ast.AST], Iterable[ast.AST]] = ast.walk,
) -> list[str]:
    """The module-level names of ``names`` that ``node`` writes into (not rebinds), shadowing
    aside."""
    found = []
    for inner in walk(node):
        target = None
        for t in assigned(inner):
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                target = t.value.id
        called = method_call(inner)
        if called is not None and called[1] in FILLING:
            target = called[0]
        if target is not None and target in names and target not in local:
            found.append(target)
    return found


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function binds itself (its parameters and assignments)."""
    bound = {a.arg for a in [*function.args.args, *function.args.kwonlyargs, *function.args.posonlyargs]}
    for inner in ast.walk(function):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
            bound.add(inner.id)
    return bound


def _decorator_names(tree: ast.Module) -> set[str]:
    """The names the module uses as decorators (``@name`` or ``@name(...)``)."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                called = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(called, ast.Name):
                    used.add(called.id)
    return used


def registries_filled(tree: ast.Module) -> list[str]:
    """Where a module-level container is filled by a decorator or at import, one line each."""
    names = _module_names(tree)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    filling = {
        name: written
        for name, function in functions.items()
        if (written := _written(function, names, _locals(function) - _module_globals(function)))
    }
    found = []
    decorators = _decorator_names(tree)
    for name, function in functions.items():
        inner = [n for n in function.body if isinstance(n, ast.FunctionDef)]
        returned = {
            r.value.id
            for r in ast.walk(function)
            if isinstance(r, ast.Return) and isinstance(r.value, ast.Name)
        }
        for nested in inner:
            written = _written(nested, names, _locals(nested) - _module_globals(nested))
            if nested.name in returned and written:
                found.append(f"line {function.lineno}: decorator {name} fills {written[0]}")
        if name in decorators and name in filling and not inner:
            found.append(f"line {function.lineno}: decorator {name} fills {filling[name][0]}")
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        written = _written(node, names, walk=_run_now)
        calls = [
            c.func.id
            for c in _run_now(node)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in filling
        ]
        if written:
            found.append(f"line {node.lineno}: fills {written[0]} at import")
        elif calls:
            found.append(f"line {node.lineno}: {calls[0]}() fills {filling[calls[0]][0]} at import")
    return found


def _run_now(node: ast.AST) -> list[ast.AST]:
    """The nodes of a top-level statement that run when the module is imported (not those of a
    lambda, which runs when called)."""
    found = [node]
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.Lambda):
            found += _run_now(child)
    return found


def _module_globals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function declares ``global``."""
    return {name for n in ast.walk(function) if isinstance(n, ast.Global) for name in n.names}


def imports_for_effect(tree: ast.Module) -> list[str]:
    """Where a module is imported by name only for what importing it does."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in IMPORTERS:
                found.append(f"line {node.lineno}: {name}() for its effect")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_fills_a_registry_by_a_decorator_or_at_import(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    assert registries_filled(tree) + imports_for_effect(tree) == []


def test_the_rules_find_a_decorator_registry_and_a_table_filled_at_import() -> None:
    tree = ast.parse(
        "HANDLERS = {}\n"
        "def handles(kind):\n"
        "    def declare(handler):\n"
        "        HANDLERS[kind] = handler\n"
        "        return handler\n"
        "    return declare\n"
        "TRANSITIONS = {}\n"
        "def _rows(statuses, fact, rule):\n"
        "    for status in statuses:\n"
        "        TRANSITIONS[(status, fact)] = rule\n"
        "_rows((1, 2), 'filled', 'apply')\n"
        "KINDS = []\n"
        "KINDS.append('fill')\n"
        "def handle(kind):\n"
        "    import_module('commands')\n"
        "    return HANDLERS[kind]\n"
    )
    assert registries_filled(tree) + imports_for_effect(tree) == [
        "line 2: decorator handles fills HANDLERS",
        "line 11: _rows() fills TRANSITIONS at import",
        "line 13: fills KINDS at import",
        "line 15: import_module() for its effect",
    ]


def test_the_rules_leave_a_literal_table_and_a_cache_filled_when_asked() -> None:
    tree = ast.parse(
        "def order_at(ledger, request):\n"
        "    return ledger\n"
        "READ_HANDLERS = {'OrderAt': order_at}\n"
        "ROWS = ((('new',), 'filled', 'apply'),)\n"
        "TRANSITIONS = {(s, f): r for ss, f, r in ROWS for s in ss}\n"
        "_SORTED = {}\n"
        "def sorted_fields(model):\n"
        "    found = _SORTED.get(model)\n"
        "    if found is None:\n"
        "        found = _SORTED[model] = tuple(model)\n"
        "    return found\n"
        "def load(module, attribute):\n"
        "    return getattr(import_module(module), attribute)\n"
    )
    assert registries_filled(tree) + imports_for_effect(tree) == []
