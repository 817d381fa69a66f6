"""An order's conditional terms: what only some orders state (a trigger and what it watches, a
trailing offset, reduce-only, an iceberg's visible part, an expiry, an order list and its links).

``OrderTerms`` declares them once, each with its markers (``domain.order_fields``) as a request's
other fields carry theirs; a request holds them as one value (``OrderSpec.terms``) and an order
shows them as one JSON-ready mapping (``ShownOrder.terms``), with the two a venue reports of it
(``triggered_at``, ``canceled_by``). ``TermsRead`` reads each by name, typed, from either.

A plain order states none, so it carries one absent value at every step (its message's
validation aside, which states each term as a field of its own): one field to build, store,
compare and read back, not one per term.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from orderledger.domain.construction import construct
from orderledger.domain.order_fields import Check, Repeat, Says, field_markers, unmarked
from orderledger.domain.values import (
    ClientOrderId,
    Contingency,
    DecimalStr,
    TrailingOffsetType,
    TriggerReference,
    UtcTime,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)


class OrderTerms(BaseModel):
    """An order's conditional terms: what only some orders state (a trigger, a flag, an expiry,
    an order list), each a field with its markers as a request's fields carry them. An order
    holds them as one value (``OrderSpec.terms``, None when it states none), so a plain order
    carries, stores and compares one absent value, not one of each. A stored form holds only the
    terms stated (``model_dump`` leaves out the others too)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger_price: Annotated[
        DecimalStr | None,
        Says(
            Check.FIGURE,
            "the price that sets a conditional order working (required for `stop_market`, `stop_limit`,"
            " `take_profit_market`, `take_profit_limit`; a `trailing_stop`'s activation price). `triggered`:"
            " the price that fired it",
        ),
        Repeat.MUST_MATCH,
    ] = None
    """Must match: a repeat of our own request states it as requested, an amendment changes it."""
    trigger_reference: Annotated[
        TriggerReference | None,
        Says(Check.CHOICE, "the price the trigger watches, where the venue says"),
        Repeat.MAY_ADD,
    ] = None
    """May be added: a venue's report states it where our request left it to the venue's default."""
    trailing_offset: Annotated[
        DecimalStr | None,
        Says(Check.FIGURE, "a `trailing_stop`'s distance from the best price (required for it)"),
        Repeat.MUST_MATCH,
    ] = None
    trailing_offset_type: Annotated[
        TrailingOffsetType | None,
        Says(Check.CHOICE, "how `trailing_offset` is stated; left out: `price`"),
        Repeat.MUST_MATCH,
    ] = None
    reduce_only: Annotated[
        bool | None,
        Says(
            Check.FLAG,
            "the order may only shrink the position: risk never counts it as growing one. Left out:"
            " the request did not say",
        ),
        Repeat.MUST_MATCH,
    ] = None
    """Must match: what risk judged the order by; another value is another order's terms."""
    display_quantity: Annotated[
        DecimalStr | None,
        Says(Check.FIGURE, "an iceberg's visible part, at most `quantity`; the rest is hidden"),
        Repeat.MAY_ADD,
    ] = None
    """May be added: a venue may report the visible part our request left out."""
    expire_at: Annotated[
        UtcTime | None,
        Says(Check.TIMESTAMP, "when a good-till-date order expires (the venue's `expired` records it)"),
        Repeat.MUST_MATCH,
    ] = None
    group_id: Annotated[
        str | None,
        Says(
            Check.IDENTIFIER,
            "the order list (OCO, OTO, bracket) the order belongs to; queried with `orders --group G`",
        ),
        Repeat.MAY_ADD,
    ] = None
    """May be added: a venue names its order lists when it reports them."""
    contingency: Annotated[
        Contingency | None,
        Says(Check.CHOICE, "how the order is linked to its group: `oco`, `oto` or `bracket`"),
        Repeat.MAY_ADD,
    ] = None
    linked_ids: Annotated[
        list[ClientOrderId] | None,
        Says(
            Check.IDENTIFIERS,
            "client order IDs of the order's OCO siblings: when one fills, this one is canceled",
        ),
        Repeat.MUST_MATCH,
    ] = None
    contingent_on: Annotated[
        ClientOrderId | None,
        Says(
            Check.IDENTIFIER,
            "client order ID of the order whose fill activates this one (an OTO's or bracket's parent)",
        ),
        Repeat.MUST_MATCH,
    ] = None

    @model_serializer(mode="wrap")
    def _stated(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        shown: dict[str, Any] = handler(self)
        return {name: value for name, value in shown.items() if value is not None}


if unmarked(OrderTerms, Says, Repeat):  # a term no repeat would compare: refused, not ignored
    raise TypeError(
        f"OrderTerms fields without one Says and one Repeat: {unmarked(OrderTerms, Says, Repeat)}"
    )
TERM_NAMES: frozenset[str] = frozenset(OrderTerms.model_fields)
"""The names of the conditional terms, as a request message states them."""


def stated_terms(values: Mapping[str, Any]) -> OrderTerms | None:
    """The terms among ``values`` (a request's fields by name) that are stated (not None), built
    without validating again; None when none is."""
    stated = {name: values[name] for name in OrderTerms.model_fields if values.get(name) is not None}
    return construct(OrderTerms, stated) if stated else None


def gather_terms(data: Any) -> Any:
    """A request's fields with its terms stated side by side (``trigger_price``, ...) gathered
    into ``terms``; anything else as it is. Both forms at once are refused (one value would
    hide the other)."""
    if type(data) is not dict or TERM_NAMES.isdisjoint(data):
        return data
    if data.get("terms") is not None:
        raise ValueError("terms are given both as `terms` and as fields of their own")
    flat = dict(data)
    flat["terms"] = {name: flat.pop(name) for name in OrderTerms.model_fields if name in data}
    return flat


def _same(value: Any) -> Any:
    return value


_TERM_FORMS: dict[Check, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    Check.FIGURE: (format_decimal, Decimal),
    Check.TIMESTAMP: (format_timestamp, parse_timestamp),
    Check.CHOICE: (str, _same),  # an enumeration's value, read back as its text
    Check.IDENTIFIER: (_same, _same),
    Check.IDENTIFIERS: (list, list),
    Check.FLAG: (_same, _same),
}
"""How a term is shown (JSON-ready) and read back, by the rule its message checks it by."""
REPORTED_TERMS = {"triggered_at": Check.TIMESTAMP, "canceled_by": Check.IDENTIFIER}
"""The terms a venue's report states of an order (its trigger fired; the sibling that canceled it)."""
_TERM_CHECKS = {
    **{name: says.check for name, says in field_markers(OrderTerms, Says).items()},
    **REPORTED_TERMS,
}
TERMS: tuple[str, ...] = tuple(_TERM_CHECKS)
"""An order's terms, in the order ``ShownOrder.terms`` holds them: its request's, then its reports'."""
TERM_SHOWS: dict[str, Callable[[Any], Any]] = {
    name: _TERM_FORMS[check][0] for name, check in _TERM_CHECKS.items()
}
TERM_READS: dict[str, Callable[[Any], Any]] = {
    name: _TERM_FORMS[check][1] for name, check in _TERM_CHECKS.items()
}


def shown_terms(terms: OrderTerms) -> dict[str, Any] | None:
    """The terms a request states (``terms``), JSON-ready, in order; None when it states none."""
    return {
        name: TERM_SHOWS[name](value) for name, value in terms.__dict__.items() if value is not None
    } or None


class TermsRead:
    """An order's terms (``TERMS``), each typed, read by name (a property each) from the one
    value that holds them (``terms``: an ``OrderTerms``, or their JSON-ready mapping):
    ``order.trigger_price`` is None when the order does not state it. Shared by the request
    (``OrderSpec``, and so ``OrderRequested``), the order's state and what it shows
    (``ShownOrder``, and so ``OrderRow``)."""

    __slots__ = ()

    if typing.TYPE_CHECKING:
        terms: Mapping[str, Any] | OrderTerms | None
        trigger_price: Decimal | None
        trigger_reference: str | None
        trailing_offset: Decimal | None
        trailing_offset_type: str | None
        reduce_only: bool | None
        display_quantity: Decimal | None
        expire_at: datetime | None
        group_id: str | None
        contingency: str | None
        linked_ids: list[str] | None
        contingent_on: str | None
        triggered_at: datetime | None
        canceled_by: str | None


def _term_property(name: str) -> property:
    """The typed value of the term ``name`` of ``terms``: None when not stated."""
    read = TERM_READS[name]

    def term(order: Any) -> Any:
        terms = order.terms
        if terms is None:
            return None
        if type(terms) is OrderTerms:
            return terms.__dict__.get(name)
        value = terms.get(name)
        return None if value is None else read(value)

    return property(term, doc=f"The order's term ``{name}``, typed (None: not stated).")


# Properties, not ``__getattr__``: a class with ``__getattr__`` makes every attribute read of
# its instances slower, the order's own slots included.
for _name in TERMS:
    setattr(TermsRead, _name, _term_property(_name))


__all__ = [
    "REPORTED_TERMS",
    "TERMS",
    "TERM_NAMES",
    "TERM_READS",
    "TERM_SHOWS",
    "OrderTerms",
    "TermsRead",
    "gather_terms",
    "shown_terms",
    "stated_terms",
]
