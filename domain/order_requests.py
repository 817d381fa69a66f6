"""What makes a request an order: the identity an order is kept under, and the checks a new
request must pass before the aggregate exists.

An order's aggregate ID derives from its client order ID alone (``order_id_for``), so any
writer finds it without a look-up; an order the venue reports without one is keyed by its venue
order ID (``external_client_order_id``).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderSpec
from orderledger.domain.values import PRICED, TRIGGERED, OrderType, parse_positive

ORDER_NAMESPACE = UUID("6f1d3a52-6a4e-4d0e-9a3c-0b7c2a51e0d1")


@lru_cache(maxsize=65_536)
def order_id_for(client_order_id: str) -> UUID:
    """The aggregate ID of an order: a UUID5 of its client order ID, stable forever (cached: a
    batch names each order several times, and uuid5 hashes)."""
    return uuid5(ORDER_NAMESPACE, client_order_id)


EXTERNAL_PREFIX = "ext-"


def external_client_order_id(venue: str, venue_order_id: str) -> str:
    """The key of an order the venue reports without a client order ID (placed elsewhere)."""
    return f"{EXTERNAL_PREFIX}{venue}-{venue_order_id}"


def is_external_key(client_order_id: str) -> bool:
    """Whether a client order ID may be one the ledger made for an external order (cheap: the
    order itself says for sure)."""
    return client_order_id.startswith(EXTERNAL_PREFIX)


def needed_terms(order_type: OrderType) -> tuple[str, ...]:
    """The request fields an order of ``order_type`` cannot do without: a limit price for the
    types that work at one, a trigger price for the stops and take-profits, an offset for a
    trailing stop (docs/messages.md, "Order types")."""
    return _NEEDS[order_type]


_NEEDS = {
    kind: (("price",) if kind in PRICED else ())
    + (("trigger_price",) if kind in TRIGGERED else ())
    + (("trailing_offset",) if kind is OrderType.TRAILING_STOP else ())
    for kind in OrderType
}


def missing_term(spec: Any) -> str | None:
    """The first field a request (an ``OrderSpec`` or a request message) needs and lacks for its
    order type (``needed_terms``); None when it has them."""
    for name in _NEEDS[spec.order_type]:
        if getattr(spec, name) is None:
            return name
    return None


def check_request(spec: OrderSpec) -> None:
    """Refuse a request that cannot describe a real order."""
    check_positive(spec.quantity, "quantity")
    if (missing := missing_term(spec)) is not None:
        raise InvalidInputError(f"a {spec.order_type.value} order needs a {missing}", field=missing)
    if spec.price is not None:
        check_positive(spec.price, "price")
    if spec.decision_price is not None:
        check_positive(spec.decision_price, "decision_price")
    terms = spec.terms
    if terms is not None:
        for name in _TERM_FIGURES:
            value = getattr(terms, name)
            if value is not None:
                check_positive(value, name)
        check_display(spec.quantity, terms.display_quantity)


_TERM_FIGURES = ("trigger_price", "trailing_offset", "display_quantity")
"""A request's figures among its terms: each above zero when given."""


def check_display(quantity: Decimal, display_quantity: Decimal | None) -> None:
    """Refuse an iceberg's visible part above its quantity."""
    if display_quantity is not None and display_quantity > quantity:
        raise InvalidInputError("display_quantity must be at most quantity", field="display_quantity")


def check_positive(value: Decimal, field: str) -> None:
    """Refuse a quantity or price that is not a finite amount above zero.

    Values read from input were parsed by ``parse_positive`` already (digits, range, sign): this
    only guards the aggregate, cheaply, and leaves the refusal and its words to that rule."""
    if not (value.is_finite() and value > 0):
        parse_positive(value, field)


__all__ = [
    "EXTERNAL_PREFIX",
    "ORDER_NAMESPACE",
    "check_display",
    "check_positive",
    "check_request",
    "external_client_order_id",
    "is_external_key",
    "missing_term",
    "needed_terms",
    "order_id_for",
]
