"""The markers of an order request's fields: each field of ``OrderSpec`` (``domain.events``)
carries, in its ``Annotated`` type, what its message says of it (``Says``: the rule its value is
checked by, and what it means) and what a repeated request or a later report of the order may do
with it (a ``Repeat``).

The message model of a request (``infrastructure.messages.models.RequestMessage``) takes its
fields' rules and words from ``Says``; ``Order.request_again`` compares and completes an order by
``Repeat``, and ``OrderDetailsAdded`` carries what a repeat may add or change. What the order
shows of each field (its kind, column and figure) is ``domain.order_state.ShownOrder``'s, marked
``REQUESTED`` there. Every field carries one of each marker: a test fails on one without.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

_M = TypeVar("_M")


class Repeat(StrEnum):
    """What a repeated request of an order (its client order ID again), or a venue's later
    report of it, may do with a field. A repeat that states a field differently is never a
    silent duplicate: it is an addition, a change, or a conflict (refused from the party that
    made the request, recorded as an anomaly holding both values from anyone else)."""

    NAMES = "names"
    """One of the order's names (its client order ID, venue order ID, aliases): the ledger's
    identities match and add them (``infrastructure.ingest``), not the comparison."""
    IDENTITY = "identity"
    """What the order is: another value is another order under a reused ID, from anyone."""
    MUST_MATCH = "must_match"
    """Stated again (not left out), it must be the order's value; left out, it is not compared."""
    MAY_ADD = "may_add"
    """Must match when the order has it; one the order lacks (None, or a mapping's new names) is
    added (``OrderDetailsAdded``)."""
    MAY_CHANGE = "may_change"
    """Stated again with another value, the order takes it (``OrderDetailsAdded``)."""
    CLEARS = "clears"
    """A flag our own request clears: ``external`` becomes False when our request of an order
    the venue reported first arrives; never set again by a repeat."""


CHANGES = (Repeat.MAY_ADD, Repeat.MAY_CHANGE)
"""The repeat rules under which a repeat changes the order (an ``OrderDetailsAdded`` field)."""


class Check(StrEnum):
    """The rule a message's value of a field is checked by (the message's ``Rule``)."""

    IDENTIFIER = "identifier"
    """A string identifier."""
    FIGURE = "figure"
    """A recorded figure: a positive decimal within the figures' places."""
    FLAG = "flag"
    """True or false."""
    LABELS = "labels"
    """An object of name → string identifier."""
    CHOICE = "choice"
    """One of the field's enumeration's values, in any case."""
    TIMESTAMP = "timestamp"
    """A time, as ``ts`` is given: ISO 8601 with ``Z`` or an offset."""
    IDENTIFIERS = "identifiers"
    """A non-empty list of string identifiers."""


@dataclass(frozen=True, slots=True)
class Says:
    """Marks a request field with what its message says of it: the rule its value is checked
    by (``check``) and what it means (docs/messages.md's field table)."""

    check: Check
    meaning: str


FIELD_MARKERS = (Says, Repeat)
"""The markers every request field carries, one of each: they say what the field means and what a
repeat may do with it, nothing of its type, how it is validated or how it is stored."""


def without_markers(hint: Any) -> Any:
    """``hint`` without a request field's markers: its ``Annotated`` metadata less ``FIELD_MARKERS``
    (its bare type when nothing else is left); ``hint`` itself when it carries none."""
    if typing.get_origin(hint) is not Annotated:
        return hint
    kept = tuple(mark for mark in hint.__metadata__ if not isinstance(mark, FIELD_MARKERS))
    if len(kept) == len(hint.__metadata__):
        return hint
    base = typing.get_args(hint)[0]
    return Annotated[(base, *kept)] if kept else base


def held_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field of type ``annotation`` holds (``Model`` or ``Model | None``), whose own
    fields carry the markers; None for any other type."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    hint = (
        args[0]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1
        else annotation
    )
    return hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None


def flat_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """The fields of ``model``, in order, a field that holds a model (``held_model``: an order's
    terms) replaced by that model's fields: the fields a request message states side by side."""
    found: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        held = held_model(info.annotation)
        if held is None:
            found[name] = info
        else:
            found.update(flat_fields(held))
    return found


def field_markers(model: type[BaseModel], marker: type[_M]) -> dict[str, _M]:
    """The fields of ``model`` (``flat_fields``) that carry a ``marker`` (an instance of that
    class), in order, each with its first."""
    found = {
        name: [m for m in info.metadata if isinstance(m, marker)] for name, info in flat_fields(model).items()
    }
    return {name: marks[0] for name, marks in found.items() if marks}


def unmarked(model: type[BaseModel], *markers: type[Any]) -> list[str]:
    """The fields of ``model`` (``flat_fields``) that lack one of ``markers``, or carry one twice."""
    return [
        name
        for name, info in flat_fields(model).items()
        if any(sum(isinstance(m, marker) for m in info.metadata) != 1 for marker in markers)
    ]


__all__ = [
    "CHANGES",
    "FIELD_MARKERS",
    "Check",
    "Repeat",
    "Says",
    "field_markers",
    "flat_fields",
    "held_model",
    "unmarked",
    "without_markers",
]
