"""Facts about positions that are not trades: cash flows (funding, interest, rebates) and marks.

Each is recorded once, as one immutable event on an aggregate of its own, keyed by what
identifies the fact at the venue:

* a cash flow by (account, venue, instrument, flow_id): the venue's ID of the payment. The
  same ID again with the same content is a duplicate; with another amount, currency, kind or
  time it is a clear error (the venue does not restate a payment under the same ID, so one of
  the two reports is wrong and neither is booked over the other);
* a mark by (venue, instrument, time, source): a source states one price per instrument and
  time. The same mark again is a duplicate; another price is a clear error.

Keying by the fact's own identity (rather than one aggregate per position with successive
versions) makes a duplicate a lookup of one aggregate, and two writers recording different
facts of the same position never contend.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from orderledger.domain.decisions import Stamp
from orderledger.domain.errors import FactConflictError, InvalidInputError
from orderledger.domain.events import CashFlowRecorded, MarkRecorded
from orderledger.domain.values import format_decimal, format_timestamp

CASH_FLOW_NAMESPACE = UUID("0b6f3f7e-6a53-4c39-9f3e-2f6d1c8a4e10")
MARK_NAMESPACE = UUID("5d1c7a2b-8e4f-4b6a-9c3d-7e2f1a0b9c84")
"""Distinct from the orders' and instruments' namespaces: no aggregate ID collides."""

CASH_FLOW_KINDS = ("funding", "interest", "rebate")
"""funding: a perpetual swap's periodic payment; interest: borrow interest on a margin
position; rebate: any other payment the venue credits (or debits) to the position."""


def cash_flow_id_for(account: str, venue: str, instrument: str, flow_id: str) -> UUID:
    """The aggregate ID of one cash flow (identifiers hold no control characters, so the
    newlines joining the parts are unambiguous)."""
    return uuid5(CASH_FLOW_NAMESPACE, f"{account}\n{venue}\n{instrument}\n{flow_id}")


def mark_id_for(venue: str, instrument: str, ts_event: datetime, source: str) -> UUID:
    """The aggregate ID of one mark: (venue, instrument, time, source)."""
    return uuid5(MARK_NAMESPACE, f"{venue}\n{instrument}\n{format_timestamp(ts_event)}\n{source}")


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_decimal(value)
    return format_timestamp(value) if isinstance(value, datetime) else str(value)


def _differences(existing: Any, new: Any, names: tuple[str, ...]) -> list[str]:
    return [
        f"{name} {_shown(getattr(existing, name))} (now {_shown(getattr(new, name))})"
        for name in names
        if getattr(existing, name) != getattr(new, name)
    ]


CASH_FLOW_IDENTITY = ("kind", "amount", "currency", "ts_event")
"""What two reports of one cash flow ID must agree on (rate, size and tags are details)."""


def record_cash_flow(
    existing: CashFlowRecorded | None,
    *,
    account: str,
    venue: str,
    instrument: str,
    kind: str,
    flow_id: str,
    amount: Decimal,
    currency: str,
    stamp: Stamp,
    rate: Decimal | None = None,
    position_quantity: Decimal | None = None,
    tags: dict[str, str] | None = None,
) -> CashFlowRecorded | None:
    """The event recording a cash flow, or None when ``existing`` already records it."""
    if kind not in CASH_FLOW_KINDS:
        raise InvalidInputError(f"kind must be one of {'|'.join(CASH_FLOW_KINDS)}", field="kind")
    if not amount.is_finite():
        raise InvalidInputError("amount must be a finite number", field="amount")
    event = CashFlowRecorded(
        originator_id=cash_flow_id_for(account, venue, instrument, flow_id),
        originator_version=1,
        ts_event=stamp.ts_event,
        ts_recorded=stamp.ts_recorded,
        source=stamp.source,
        account=account,
        venue=venue,
        instrument=instrument,
        kind=kind,
        flow_id=flow_id,
        amount=amount,
        currency=currency,
        rate=rate,
        position_quantity=position_quantity,
        tags=tags or {},
    )
    if existing is None:
        return event
    differences = _differences(existing, event, CASH_FLOW_IDENTITY)
    if differences:
        raise FactConflictError(
            f"cash flow {flow_id!r} of {account!r} in {instrument!r} at {venue!r} already recorded with"
            f" {', '.join(differences)}"
        )
    return None


def record_mark(
    existing: MarkRecorded | None, *, venue: str, instrument: str, price: Decimal, stamp: Stamp
) -> MarkRecorded | None:
    """The event recording a mark, or None when ``existing`` already records it."""
    if not price.is_finite() or price <= 0:
        raise InvalidInputError("price must be a positive number", field="price")
    event = MarkRecorded(
        originator_id=mark_id_for(venue, instrument, stamp.ts_event, stamp.source),
        originator_version=1,
        ts_event=stamp.ts_event,
        ts_recorded=stamp.ts_recorded,
        source=stamp.source,
        venue=venue,
        instrument=instrument,
        price=price,
    )
    if existing is None:
        return event
    if existing.price != price:
        raise FactConflictError(
            f"mark of {instrument!r} at {venue!r} from {stamp.source!r} at"
            f" {format_timestamp(stamp.ts_event)} already recorded at {format_decimal(existing.price)}"
            f" (now {format_decimal(price)})"
        )
    return None


__all__ = [
    "CASH_FLOW_KINDS",
    "cash_flow_id_for",
    "mark_id_for",
    "record_cash_flow",
    "record_mark",
]
