"""What every adapter needs: exact number text, UTC times, message assembly and one error type.

Adapters produce the ledger's message models (:mod:`infrastructure.messages.models`), each
validated once, from its ledger-format fields: numbers as strings, times as ISO 8601 with ``Z``,
absent fields left out (:func:`message`). The helpers here make that text canonical, so two
deliveries of the same venue fact (a REST poll and a websocket push) give the same messages
whatever spelling the venue or library used for a number (``1.0``, ``"1.00000000"`` and
``Decimal("1")`` all become ``"1"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import Liquidity, Side, Status, format_timestamp, parse_timestamp
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.messages.models import (
    AcceptedMessage,
    AmendedMessage,
    CanceledMessage,
    ExpiredMessage,
    FillMessage,
    HeldMessage,
    InstrumentMessage,
    M,
    Message,
    RejectedMessage,
    RequestMessage,
    build,
)

SIDES = tuple(side.value for side in Side)
"""The sides an adapter reads (the ledger's own spelling; a tuple, so any JSON value can be tested)."""
LIQUIDITIES = tuple(kind.value for kind in Liquidity)
"""The liquidity flags an adapter keeps (the ledger's own spelling)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS = re.compile(r"^[+-]?[0-9]{1,20}$")
MAX_EXPONENT = 100
MAX_DIGITS = 100
"""Venue numbers beyond these are refused as text (the ledger's own bounds are far tighter)."""


class AdapterError(MessageError):
    """A venue payload an adapter cannot translate: a missing ID or time, or a bad value."""


CONTEXT = "context:"
"""The prefix of the kind of key a line waiting for its feed's context is parked under
(``context:<kind>``, the value naming what it waits for: a market number, a spot index)."""


class MissingContext(AdapterError):
    """A payload that names what only another line of its feed defines (a Lighter market by
    number, a Hyperliquid spot pair by index) before that line was read: it is parked until
    the line is recorded, then read again (docs/semantics.md, "Arrival order does not matter")."""

    def __init__(self, kind: str, value: str, what: str) -> None:
        super().__init__(f"waits for {what}")
        self.kind = kind  # what is missing: the key it waits under is (venue, CONTEXT + kind, value)
        self.value = value
        self.what = what


def decimal_text(value: object, field: str) -> str | None:
    """The exact, canonical decimal text of a venue number; ``None`` and ``""`` give ``None``.

    A float is read through ``repr`` (its shortest round-trip text), never through arithmetic,
    so ``0.1`` stays ``"0.1"``. Trailing zeros and exponents are dropped: ``"1.50"`` → ``"1.5"``,
    ``1e-05`` → ``"0.00001"``. NaN, infinities and booleans are refused.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise AdapterError(f"{field} must be a number, not {value!r}")
    number: Decimal
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AdapterError(f"{field} must be finite, not {value!r}")
        number = Decimal(repr(value))
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise AdapterError(f"{field} is not a number: {value[:40]!r}") from None
    else:
        raise AdapterError(f"{field} must be a number, not {type(value).__name__}")
    if not number.is_finite():
        raise AdapterError(f"{field} must be finite, not {value!r}")
    if number and (abs(number.adjusted()) > MAX_EXPONENT or len(number.as_tuple().digits) > MAX_DIGITS):
        # Plain notation of 1E+999999999 would be a billion characters: refuse before writing it.
        raise AdapterError(f"{field} is out of range: {str(value)[:40]!r}")
    # format(..., "f") keeps every digit (Decimal.normalize would round to the context precision).
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def positive_text(value: object, field: str) -> str | None:
    """Like :func:`decimal_text`, but ``None`` unless the number is above zero."""
    text = decimal_text(value, field)
    if text is None or Decimal(text) <= 0:
        return None
    return text


def time_from_millis(value: object, field: str) -> str | None:
    """ISO 8601 UTC text of a Unix time in milliseconds (CCXT's ``timestamp``); None if absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            raise AdapterError(f"{field} must be whole milliseconds, not {value!r}")
        millis = int(value)
    elif isinstance(value, int):
        millis = value
    elif isinstance(value, Decimal):  # a JSON number read exactly (infrastructure.messages.decode_json)
        if not value.is_finite() or abs(value.adjusted()) > 20 or value != value.to_integral_value():
            raise AdapterError(f"{field} must be whole milliseconds since the epoch, not {str(value)[:40]}")
        millis = int(value)
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        millis = int(value.strip())
    else:
        raise AdapterError(f"{field} must be milliseconds since the epoch, not {_shown(value)}")
    try:
        return format_timestamp(EPOCH + timedelta(milliseconds=millis))
    except OverflowError:
        raise AdapterError(f"{field} is out of range: {millis}") from None


def time_from_iso(value: object, field: str) -> str | None:
    """Canonical ISO 8601 UTC text of an ISO time with an offset or ``Z``; None if absent."""
    if value is None or value == "":
        return None
    try:
        return format_timestamp(parse_timestamp(value, field))
    except InvalidInputError as error:
        raise AdapterError(error.message) from None
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise AdapterError(f"{field} is out of range: {str(value)[:40]!r}") from None


def text_or_none(value: object) -> str | None:
    """An identifier-like venue value as text: numbers become their digits; None and blanks None.

    An object or a list is refused: its Python repr would otherwise pass for an ID.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, dict | list | tuple | set):
        raise AdapterError(f"an ID, name or status must be text or a number, not {_shown(value)}")
    return str(value)


def _shown(value: object) -> str:
    """A short description of a bad value for a one-line reason."""
    if isinstance(value, dict | list | tuple | set):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    return repr(value)[:40]


def message(model: type[M], /, **fields: Any) -> M:
    """A message of type ``model`` with the given ledger-format fields, leaving out None and
    empty maps, validated (a refusal raises its one-line reason)."""
    return build(model, {n: v for n, v in fields.items() if v is not None and (type(v) is not dict or v)})


ENDINGS: dict[Status, type[CanceledMessage | ExpiredMessage | RejectedMessage]] = {
    Status.CANCELED: CanceledMessage,
    Status.EXPIRED: ExpiredMessage,
    Status.REJECTED: RejectedMessage,
}
"""The message that ends an order in each status it reaches by a fact of its own (an order is
filled by its fills)."""

FACT_ORDER: dict[type[Message], int] = {RequestMessage: 0, HeldMessage: 1, AcceptedMessage: 1, FillMessage: 2}
"""Phase of a message type when a payload's messages are put in applying order."""


def definitions_first(messages: Sequence[Message]) -> list[Message]:
    """The messages of one input with its instrument definitions first (otherwise stable).

    A definition states how the input's fills are valued (an option's contract size of 100):
    a fill applied before it would be valued at the previous terms (size 1 when none), so
    whatever order a venue's payload, or an adapter, puts them in, definitions take effect
    before the orders and fills read with them.
    """
    return sorted(messages, key=lambda m: type(m) is not InstrumentMessage)


def in_applying_order(messages: list[Message]) -> list[Message]:
    """Requests and acknowledgements first, then fills, then everything else (stable).

    A payload that holds both an order ending (canceled, expired) and that order's trades is
    applied trades-first, so fills that happened before the ending are not booked as late.
    """
    return sorted(messages, key=lambda m: FACT_ORDER.get(type(m), 3))


# ---------------------------------------------------------------------- venue-initiated orders

FORCED_TAGS = ("liquidation", "adl")
"""Tags of the external orders a venue places itself (liquidation, auto-deleveraging)."""


@dataclass(frozen=True)
class BookedOrder:
    """What the ledger already holds of an order: its quantity, what filled, and by which trades."""

    quantity: Decimal
    filled: Decimal
    trade_ids: frozenset[str]


BookedLookup = Callable[[str, str], "BookedOrder | None"]
"""(venue, venue order ID) → what the ledger holds of that external order, or None."""


def forced_requests(messages: list[Message]) -> dict[str, RequestMessage]:
    """The external liquidation/ADL requests of a payload's messages, by venue order ID."""
    return {
        m.venue_order_id: m
        for m in messages
        if type(m) is RequestMessage
        and m.external
        and m.venue_order_id is not None
        and any(tag in m.tags for tag in FORCED_TAGS)
    }


def _quantity(value: Decimal) -> Decimal:
    """A quantity summed from valid ones, as validating its canonical text would give it."""
    text = decimal_text(value, "quantity")
    assert text is not None
    return Decimal(text)


def sized_by_fills(messages: list[Message]) -> list[Message]:
    """One request per venue-initiated order, sized by the payload's fills of it (each trade
    once): a venue that states no order size (Hyperliquid) gives a request per fill."""
    forced = forced_requests(messages)
    totals: dict[str, dict[str, Decimal]] = {}
    for m in messages:
        if type(m) is FillMessage and m.venue_order_id in forced and m.client_order_id is None:
            totals.setdefault(m.venue_order_id, {})[m.trade_id] = m.quantity
    out: list[Message] = []
    requested: set[str] = set()
    for m in messages:
        if type(m) is RequestMessage and m.venue_order_id in forced and m.external:
            if m.venue_order_id in requested:
                continue  # the order's first request stands for all
            requested.add(m.venue_order_id)
            fills = totals.get(m.venue_order_id)
            if fills:
                m = m.model_copy(update={"quantity": _quantity(sum(fills.values(), Decimal(0)))})
        out.append(m)
    return out


def grow_forced_orders(messages: list[Message], booked: BookedLookup) -> list[Message]:
    """A venue-initiated order is sized by its fills, so fills of one such order reported in
    separate payloads each size it anew. When the ledger already holds the order, its request
    is restated with the quantity booked (a repeat, not a conflicting size), and when this
    payload's new fills take it past that quantity an ``amended`` raising it to what has then
    filled (booked fills + new ones) comes right after the request: an attributable event, in
    the order's history, that reopens it for those fills (docs/semantics.md, footnote 5)."""
    forced = forced_requests(messages)
    if not forced:
        return messages
    out: list[Message] = []
    for m in messages:
        if type(m) is not RequestMessage or m.venue_order_id not in forced:
            out.append(m)
            continue
        voi = m.venue_order_id
        known = booked(m.venue, voi)
        if known is None:
            out.append(m)
            continue
        new = {
            f.trade_id: f.quantity
            for f in messages
            if type(f) is FillMessage and f.venue_order_id == voi and f.trade_id not in known.trade_ids
        }
        needed = known.filled + sum(new.values(), Decimal(0))
        out.append(m.model_copy(update={"quantity": _quantity(known.quantity)}))
        if needed > known.quantity:
            out.append(
                message(
                    AmendedMessage,
                    venue=m.venue,
                    venue_order_id=voi,
                    quantity=decimal_text(needed, "quantity"),
                    ts=format_timestamp(m.ts),
                    source=m.source,
                )
            )
    return out
