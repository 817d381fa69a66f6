"""docs/glossary.md gives each fact the ledger names one name, and the code is held to it.

The public names are collected from where they are declared: the messages' fields, the events'
fields, the view tables' columns, the order's fields (its JSON), the HTTP API's parameters and
schemas, the CLI's options and arguments and its tables' headings. Each must be a name of the
glossary; a stored name (an event's field, a view's column: renaming it would leave stored
ledgers unreadable) may instead be one the glossary maps to its name; an older spelling is
accepted only where it is declared deprecated, and only where it is marked so (a hidden CLI
option, a deprecated HTTP parameter).
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import typer.main

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "glossary.md"
VERSION = re.compile(r"\d+\.\d+\.\d+")


def glossary_tables() -> dict[str, list[dict[str, str]]]:
    """The glossary's tables, by the heading of their section: rows of cells by column, code
    marks taken off."""
    tables: dict[str, list[dict[str, str]]] = {}
    section, columns = "", list[str]()
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section, columns = line[3:].strip(), []
        elif line.startswith("|"):
            cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
            if not columns:
                columns = cells
            elif not set("".join(cells)) <= set("-: "):
                tables.setdefault(section, []).append(dict(zip(columns, cells, strict=True)))
        else:
            columns = []
    return tables


def _listed(cell: str) -> list[str]:
    """The names of a cell that lists several (`` `a`, `b` ``)."""
    return [name.strip().strip("`") for name in cell.split(",")]


@dataclass(frozen=True)
class Glossary:
    names: dict[str, dict[str, str]]
    stored: dict[str, str]
    """A stored name → its name."""
    deprecated: dict[str, dict[str, str]]
    """An older spelling still accepted → its row (name, where, since, removed in)."""

    @classmethod
    def read(cls) -> Glossary:
        tables = glossary_tables()
        names = {name: row for row in tables["Names"] for name in _listed(row["name"])}
        stored: dict[str, str] = {}
        for row in tables["Stored names"]:
            olds, news = _listed(row["stored name"]), _listed(row["name"])
            stored.update(zip(olds, news * len(olds) if len(news) == 1 else news, strict=True))
        deprecated = {row["alias"]: row for row in tables.get("Deprecated aliases", [])}
        return cls(names, stored, deprecated)

    def heading_of(self, name: str) -> str:
        """The heading a table gives ``name``: its declared short heading, else the name."""
        return self.names[name].get("heading") or name


@dataclass(frozen=True)
class Use:
    """A public name where it is used; ``stored``: kept in stored ledgers; ``deprecated``:
    marked deprecated where it is declared."""

    name: str
    where: str
    stored: bool = False
    deprecated: bool = False


def _message_fields() -> Iterator[Use]:
    from orderledger.infrastructure.messages.models import KINDS

    for kind, model in KINDS.items():
        for name in model.model_fields:
            yield Use(name, f"message {kind}")


def _event_fields() -> Iterator[Use]:
    from orderledger.domain import events

    for event in vars(events).values():
        if isinstance(event, type) and issubclass(event, events.OrderEvent):
            for name in event.model_fields:
                yield Use(name, f"event {event.__name__}", stored=True)


def _view_columns() -> Iterator[Use]:
    import orderledger.projections as projections
    from orderledger.projections.base import TableSpec

    for module in pkgutil.iter_modules(projections.__path__):
        for value in vars(importlib.import_module(f"{projections.__name__}.{module.name}")).values():
            if isinstance(value, TableSpec):
                for column in value.columns:
                    yield Use(column.name, f"view {value.name}", stored=True)


def _order_fields() -> Iterator[Use]:
    from orderledger.domain.order_state import ShownOrder

    for field in fields(ShownOrder):
        yield Use(field.name, "order (JSON)")


def _http_names() -> Iterator[Use]:
    from tests.support.http_docs import openapi_document

    schema = json.loads(openapi_document())
    for path, operations in schema["paths"].items():
        for segment in re.findall(r"\{(\w+)\}", path):
            yield Use(segment, f"HTTP path {path}")
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                name = parameter["name"].replace("-", "_")
                marked = parameter.get("deprecated", False)
                yield Use(name, f"HTTP {method.upper()} {path}", deprecated=marked)
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        for prop in component.get("properties", {}):
            yield Use(prop, f"HTTP schema {name}")


def _cli_names() -> Iterator[Use]:
    from orderledger.infrastructure.cli.app import app

    # typer carries its own click: its parameters and groups are told apart by what they have
    def walk(command: Any, path: str) -> Iterator[Use]:
        for parameter in command.params:
            if parameter.param_type_name == "argument":
                yield Use(str(parameter.name), f"{path} argument")
            for option in parameter.opts if parameter.param_type_name == "option" else []:
                if option.startswith("--"):
                    hidden = bool(getattr(parameter, "hidden", False))
                    yield Use(option[2:].replace("-", "_"), f"{path} option", deprecated=hidden)
        if hasattr(command, "list_commands"):
            for name in command.list_commands(None):
                yield from walk(command.get_command(None, name), f"{path} {name}")

    yield from walk(typer.main.get_command(app), "orderledger")


def _python_names() -> Iterator[Use]:
    """The parameters of the ledgers' public methods; a keyword a method renamed (and still
    takes, warning) is marked so on the method (``__renamed__``)."""
    import inspect

    from orderledger import AsyncOrderLedger, OrderLedger

    for ledger in (OrderLedger, AsyncOrderLedger):
        for name in dir(ledger):
            method = getattr(ledger, name)
            if name.startswith("_") or not callable(method):
                continue
            for parameter in list(inspect.signature(method).parameters)[1:]:
                yield Use(parameter, f"{ledger.__name__}.{name}")
            for old in getattr(method, "__renamed__", {}):
                yield Use(old, f"{ledger.__name__}.{name}", deprecated=True)


def public_names() -> list[Use]:
    """Every public name, where it is used."""
    return [
        *_python_names(),
        *_message_fields(),
        *_event_fields(),
        *_view_columns(),
        *_order_fields(),
        *_http_names(),
        *_cli_names(),
    ]


def table_headings() -> list[tuple[str, str, str]]:
    """(heading, the name of the value under it, where) of every table the CLI shows: the
    orders table's declared columns and ``render``'s ``col(heading, ..., key=name)``."""
    from orderledger.infrastructure.listing import ORDER_COLUMNS

    found = [(c.heading, c.field, "orders table") for c in ORDER_COLUMNS]
    source = ROOT / "infrastructure" / "cli" / "render.py"
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        heading = node.args[0]
        if node.func.id in ("col", "Column") and isinstance(heading, ast.Constant):
            # a heading given as a variable names a row's own key (a grouping, an order field)
            key = next((k.value for k in node.keywords if k.arg == "key"), heading)
            assert isinstance(key, ast.Constant), f"render.py:{node.lineno}: a key as a literal"
            found.append((str(heading.value), str(key.value), f"render.py:{node.lineno}"))
    from orderledger.infrastructure.cli.analytics import _SHOWN as EXECUTION_COLUMNS

    found += [(heading, name, "cli/analytics.py") for heading, name in EXECUTION_COLUMNS]
    return found


STATIC = ROOT / "infrastructure" / "http" / "static"
PAGE_COLUMN = re.compile(r'^\s*(?:\[|num\()"([a-z_]+)", "([^"]+)"', re.MULTILINE)
"""A column of one of the page's tables (app.js): ``["field", "heading", …]`` or
``num("field", "heading", …)`` (the orders table's come from the declaration,
``/assets/columns.json``)."""
ANALYTICS_COLUMN = re.compile(r'\["([^"]+)", "([a-z_]+)"\]')
"""A column of the page's execution-quality table (analytics.js): ``["heading", "field"]``."""


def page_headings() -> list[tuple[str, str, str]]:
    """(heading, the name of the value under it, where) of every table the page shows."""
    found = []
    for name, pattern, heading_first in (
        ("app.js", PAGE_COLUMN, False),
        ("analytics.js", ANALYTICS_COLUMN, True),
    ):
        text = (STATIC / name).read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            field, heading = match.group(2, 1) if heading_first else match.group(1, 2)
            line = text.count("\n", 0, match.start()) + 1
            found.append((heading, field, f"{name}:{line}"))
    assert len(found) > 40  # the patterns still find the page's columns
    return found


def _unknown(uses: list[Use], glossary: Glossary) -> list[str]:
    unknown = []
    for use in uses:
        if use.name in glossary.names:
            continue
        if use.stored and use.name in glossary.stored:
            continue
        if use.deprecated and use.name in glossary.deprecated:
            continue
        unknown.append(f"{use.name} ({use.where})")
    return sorted(set(unknown))


def test_every_public_name_is_a_name_of_the_glossary() -> None:
    # Given the glossary and every public name where it is declared
    glossary, uses = Glossary.read(), public_names()
    # Then each is one of its names, or a stored name it maps, or a deprecated alias marked so
    unknown = _unknown(uses, glossary)
    assert not unknown, "not in docs/glossary.md:\n" + "\n".join(unknown)


def test_an_older_spelling_is_never_the_current_name() -> None:
    # Given the glossary's stored names and deprecated aliases
    glossary, uses = Glossary.read(), public_names()
    older = set(glossary.stored) | set(glossary.deprecated)
    # Then none is also a name of the glossary
    assert sorted(older & set(glossary.names)) == []
    # And no public name that is not stored uses a stored name, nor an unmarked deprecated one
    misused = {
        f"{u.name} ({u.where})"
        for u in uses
        if (not u.stored and u.name in glossary.stored)
        or (not u.deprecated and u.name in glossary.deprecated)
    }
    assert not misused, "an older spelling as a current name:\n" + "\n".join(sorted(misused))


def test_a_stored_name_and_an_alias_name_a_glossary_name() -> None:
    # Given the glossary
    glossary = Glossary.read()
    # Then every stored name and deprecated alias maps to one of its names
    targets = list(glossary.stored.values()) + [row["name"] for row in glossary.deprecated.values()]
    assert [t for t in targets if t not in glossary.names] == []


def test_a_deprecated_alias_says_when_it_goes_and_is_in_the_changelog() -> None:
    # Given the glossary's deprecated aliases and the changelog
    from orderledger.infrastructure.application.deprecated import REMOVED_IN

    sections = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").split("### Deprecated")[1:]
    deprecated = "".join(section.split("\n## ", 1)[0] for section in sections)
    aliases = Glossary.read().deprecated
    for alias, row in aliases.items():
        # Then each names the release that deprecated it and the one that removes it
        assert VERSION.fullmatch(row["since"]), alias
        assert row["removed in"] == REMOVED_IN, alias
        # And the changelog's Deprecated lists it where it is taken, beside its replacement
        for where in _listed(row["where"]):
            assert f"`{where}`" in deprecated and f"`{alias}`" in deprecated, (alias, where)


@pytest.mark.parametrize("shown", [table_headings, page_headings], ids=["cli", "page"])
def test_a_table_heads_a_column_with_its_name_or_its_declared_heading(
    shown: Callable[[], list[tuple[str, str, str]]],
) -> None:
    # Given the glossary and every heading of the CLI's tables, and of the page's
    glossary = Glossary.read()
    headings = shown()
    # Then the value under each is a glossary name, headed by its name or its short heading
    wrong = [
        f"{heading} over {name} ({where})"
        for heading, name, where in headings
        if name not in glossary.names or heading not in (name, glossary.heading_of(name))
    ]
    assert not wrong, "a heading the glossary does not give:\n" + "\n".join(wrong)
    # And no heading stands over two names (one heading, one fact)
    over: dict[str, set[str]] = {}
    for heading, name, _ in headings:
        over.setdefault(heading, set()).add(name)
    assert {h: sorted(n) for h, n in over.items() if len(n) > 1} == {}


def test_the_glossary_parses_as_tables_of_names() -> None:
    # Given the glossary's tables
    glossary: Any = Glossary.read()
    # Then each names its facts once, each with a meaning
    assert glossary.names and all(row["meaning"] for row in glossary.names.values())
    listed = [name for row in glossary_tables()["Names"] for name in _listed(row["name"])]
    assert len(listed) == len(set(listed))
