"""Importing a module changes nothing in another: what a module does depends on its own code,
never on which modules happened to be imported before it.

Two rules, read from every module's syntax tree: at a module's top level no statement calls a
function of an imported module for its effect (``events.use_event_factory(construct)``), and no
statement assigns to an imported module's attribute (``events.new_event = construct``).
The domain has one way to build its events (``domain.construction``), the same as pydantic's.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from orderledger.domain import events
from orderledger.domain.decisions import Stamp
from orderledger.domain.events import OrderSpec
from orderledger.domain.order import Order
from orderledger.domain.values import OrderType, Side
from tests.support.modules import ROOT, assigned, method_call, project_modules

PROJECT = project_modules()
MODULES = sorted(PROJECT.values())


def _imported_modules(tree: ast.Module) -> set[str]:
    """The local names the module binds to modules: ``import x`` (any module), and ``from a
    import b`` where ``a.b`` is one of the project's modules (not a class or a function)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(
                alias.asname or alias.name for alias in node.names if f"{node.module}.{alias.name}" in PROJECT
            )
    return names


def _import_time_effects(tree: ast.Module) -> list[str]:
    imported = _imported_modules(tree)
    found = []
    for node in tree.body:
        called = method_call(node.value) if isinstance(node, ast.Expr) else None
        if called is not None and called[0] in imported:
            found.append(f"line {node.lineno}: calls {called[0]}.{called[1]}() at import")
        for target in assigned(node):
            owner = target.value if isinstance(target, ast.Attribute) else None
            if isinstance(target, ast.Attribute) and isinstance(owner, ast.Name) and owner.id in imported:
                found.append(f"line {node.lineno}: assigns {owner.id}.{target.attr} at import")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_changes_no_other_module_when_imported(path: Path) -> None:
    assert _import_time_effects(ast.parse(path.read_text(), str(path))) == []


def test_the_rule_finds_a_module_that_replaces_another_modules_global() -> None:
    tree = ast.parse(
        "from orderledger.domain import events\n"
        "events.use_event_factory(construct)\n"
        "events.new_event = construct\n"
    )
    assert _import_time_effects(tree) == [
        "line 2: calls events.use_event_factory() at import",
        "line 3: assigns events.new_event at import",
    ]


def test_the_domain_builds_its_events_as_pydantic_would() -> None:
    """The domain's one way to build an event gives what pydantic's own model_construct gives:
    the same fields, in the same order, and the same fields set."""
    spec = OrderSpec(
        client_order_id="c-1",
        account="a",
        venue="v",
        instrument="BTC-USDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("2"),
        price=Decimal("100"),
    )
    at = datetime(2026, 1, 5, tzinfo=UTC)
    event = Order.request(spec, Stamp(at, at, "test"))[1].events[0]
    again = events.model_construct(type(event), dict(event.__dict__))
    assert list(event.__dict__.items()) == list(again.__dict__.items())
    assert event.model_fields_set == again.model_fields_set
    assert event.model_dump_json() == again.model_dump_json()
