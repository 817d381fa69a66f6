"""The field tables of docs/messages.md, written from the message models.

Each table sits between ``<!-- generated: NAME -->`` and ``<!-- /generated -->`` in the page;
``python scripts/docs_tables.py --write`` rewrites them, and a test fails when the page and the
models differ. A field's JSON shape and meaning come from the ``About`` on its annotated type,
its "required" from the model, a type's summary from the model's docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, get_args

from pydantic import BaseModel

from orderledger.infrastructure.messages.fields import About
from orderledger.infrastructure.messages.models import KINDS

MARKER = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.DOTALL)
INSTRUMENT = "instrument"


def about(model: type[BaseModel], name: str) -> About:
    """The description of one field of a message model (found in its annotated type)."""
    info = model.model_fields[name]
    stack: list[Any] = [*info.metadata, info.annotation]
    while stack:
        item = stack.pop(0)
        if isinstance(item, About):
            return item
        stack.extend(getattr(item, "__metadata__", ()))
        stack.extend(get_args(item))
    raise LookupError(f"{model.__name__}.{name} has no About: say what the field is")


def _code(name: str) -> str:
    return f"`{name}`"


def _summary(model: type[BaseModel]) -> str:
    text = " ".join((model.__doc__ or "").split()).rstrip(".")
    return text[:1].lower() + text[1:]


def _order_kinds() -> dict[str, type[BaseModel]]:
    """The kinds that name an order (the others, instrument definitions, cash flows, marks and
    the risk facts, have a table of their own)."""
    return {kind: model for kind, model in KINDS.items() if "client_order_id" in model.model_fields}


def message_types() -> str:
    """The table of order message types: what each says and what it requires."""
    rows = ["| `type` | what it says | required besides `type` and `ts` |", "|---|---|---|"]
    for kind, model in _order_kinds().items():
        required = [
            _code(n) for n, f in model.model_fields.items() if f.is_required() and n not in ("type", "ts")
        ]
        needs: list[str] = [] if kind == "request" else ["an order key"]
        needs += required
        note = getattr(model, "needs", "")
        text = ", ".join(needs)
        if note:
            text = f"{text}; {note}" if text else note
        rows.append(f"| {_code(kind)} | {_summary(model)} | {text} |")
    return "\n".join(rows) + "\n"


def message_fields() -> str:
    """The table of every field of the order messages, and which types accept it."""
    kinds = _order_kinds()
    names: list[str] = []
    for model in kinds.values():
        names += [n for n in model.model_fields if n not in names and n != "type"]
    rows = [
        "| field | JSON type | meaning | accepted by |",
        "|---|---|---|---|",
        "| `type` | string | which fact this line reports (the table above) | all (required) |",
    ]
    for name in names:
        holders = {kind: model for kind, model in kinds.items() if name in model.model_fields}
        first = next(iter(holders.values()))
        described = about(first, name)
        required = {kind for kind, model in holders.items() if model.model_fields[name].is_required()}
        if len(holders) == len(kinds):
            accepted = "all (required)" if len(required) == len(kinds) else "all"
        else:
            accepted = ", ".join(_code(k) + (" (required)" if k in required else "") for k in holders)
        rows.append(f"| {_code(name)} | {described.shape} | {described.meaning} | {accepted} |")
    return "\n".join(rows) + "\n"


def kind_fields(kind: str) -> str:
    """The table of one message kind's fields (``instrument``: the domain's Definition and its
    key; ``cash_flow``; ``mark``; the risk facts ``limit_set``, ``limit_cleared``, ``trading_state``)."""
    model = KINDS[kind]
    rows = ["| field | JSON type | meaning |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        described = about(model, name)
        meaning = described.meaning + (" (required)" if info.is_required() else "")
        rows.append(f"| {_code(name)} | {described.shape} | {meaning} |")
    return "\n".join(rows) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "message-types": message_types,
    "message-fields": message_fields,
    "instrument-fields": partial(kind_fields, INSTRUMENT),
    "cash-flow-fields": partial(kind_fields, "cash_flow"),
    "mark-fields": partial(kind_fields, "mark"),
    "limit-set-fields": partial(kind_fields, "limit_set"),
    "limit-cleared-fields": partial(kind_fields, "limit_cleared"),
    "trading-state-fields": partial(kind_fields, "trading_state"),
}


def rendered(page: str) -> str:
    """The page with every generated table written afresh from the models."""

    def table(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in TABLES:
            raise LookupError(f"no generated table named {name!r} (known: {', '.join(TABLES)})")
        return match.group(1) + TABLES[name]() + match.group(4)

    return MARKER.sub(table, page)


__all__ = ["TABLES", "about", "rendered"]
