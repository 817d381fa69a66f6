"""CCXT unified order and trade structures → ledger messages.

Input is what CCXT's unified API returns: orders from ``fetch_order(s)``, ``fetch_open_orders``,
``fetch_closed_orders``, ``create_order`` and ``watch_orders``; trades from ``fetch_my_trades``
and ``watch_my_trades`` (https://docs.ccxt.com/#/README?id=order-structure and
``?id=trade-structure``). Output is a list of the ledger's message models, each validated as it
is built (``adapters.common.message``). Nothing here does I/O or needs ccxt installed.
Venue-specific readings of ``info`` (where a venue keeps its client order ID, its fee, its
realized P&L, its liquidation marker) are each exchange's own, in its module of
``adapters.ccxt.exchanges``, whose table :data:`VENUE_RULES` chooses them by the ledger's venue
name (docs/venues.md lists them).

An order structure yields, in this order:

* ``request`` — when the order carries a client order ID and says what it is (symbol, side,
  a positive ``amount``, and a ``price`` for a limit order). Source ``ccxt``. The ledger treats
  a repeat with the same content as a duplicate, so an order seen on every poll is created once.
  ``timeInForce`` is passed on as the venue reports it (the ledger records a contradiction with
  the caller's own request as an anomaly). Pass ``requests=False`` when the trading system
  records its own requests.
* an **external** ``request`` (``external: true``, no client order ID, keyed by venue and venue
  order ID) when the order has no client order ID at all: placed in the venue's UI, by a caller
  that sent none (ccxt's default on many venues), or by the venue itself (liquidation, ADL:
  tagged ``{"liquidation": "true"}`` / ``{"adl": "true"}``). It is emitted even with
  ``requests=False``: nobody else will record these orders.
* ``accepted`` with ``venue_order_id = id`` — for every status but ``rejected`` (a venue that
  rejects never accepted: an ack would make the ledger refuse the rejection).
* one ``fill`` per embedded trade (``order["trades"]``) that has a trade ``id``, an amount and a
  price. A trade listed by ID only (Kraken's ``fetch_order`` with ``trades=true``; ccxt makes
  it ``{"id": …, "order": …}``) is not booked: a note says so, and the full trade comes from
  ``fetch_my_trades``.
* the terminal fact for ``canceled`` (also spelled ``cancelled``), ``expired`` and ``rejected``.
  ``closed`` means *filled* in CCXT only when ``filled`` reaches ``amount``: it then yields no
  fact by itself, because fills come from trades. A ``closed`` order with ``filled < amount``
  ended without filling (Bybit's ``PartiallyFilledCanceled``, which ccxt maps to ``closed``):
  it yields ``canceled``. ``open`` and a missing status yield nothing.

Client order IDs that mean "none" are absent: null, empty text, and per venue the values the
venue uses for none (Kraken's ``userref`` 0, Lighter's client index 0). Where the unified
``clientOrderId`` is missing, the venue's own field in ``info`` is read (Hyperliquid ``cloid``,
Bybit ``orderLinkId``, OKX ``clOrdId``, Binance ``clientOrderId``/``c``). A venue whose client
ID is a numeric *index* the connector chose (Lighter's ``client_order_index``) is an index venue:
the value is emitted as ``aliases: {"client_index": value}``, which resolves to the order whose
request recorded that alias (:mod:`infrastructure.adapters.aliases`), never as a client order ID
(which would create a second, phantom order).

**Cumulative ``filled`` without trades is not turned into fills.** A fill needs the venue's
trade ID: it is the ledger's dedup key, and the same trade will arrive again, with its real ID,
from ``fetch_my_trades`` or ``watch_my_trades``. An adapter that invented an ID would have that
trade counted twice, or refused as an overfill. So an order reported with ``filled > 0`` and no
trade IDs is acknowledged and left at the fill state its booked trades give it; the ledger's
reconciliation (``orderledger reconcile``; build its snapshot with
:func:`reconciliation_snapshot`) infers the gap explicitly. Embedded trades without an ``id``
are noted and skipped for the same reason.

A trade yields one ``fill``: ``trade_id = id``, ``venue_order_id = order``, ``quantity =
amount`` (contracts, for derivatives), ``price``, ``fee``/``fee_currency``, ``liquidity =
takerOrMaker`` and ``venue_realized_pnl`` (the venue's own P&L for the fill, where its ``info``
has one: Binance USDⓈ-M ``rp``, Bybit ``execPnl``, OKX ``fillPnl``, Hyperliquid ``closedPnl``).
A trade with no client order ID names its order by ``venue`` + ``venue_order_id`` and waits
(parked) until that order is known. A liquidation or ADL trade (marked in ``info``: Bybit
``execType`` BustTrade/AdlTrade, Hyperliquid ``liquidation``, OKX ``category``, Binance's
``autoclose-``/``adl_autoclose`` client IDs, Lighter's trade ``type`` liquidation (its taker
side) / deleverage) is preceded by an external market request for it.

Fees follow the ledger's convention: positive = a cost paid, negative = a rebate received.
ccxt's unified ``fee.cost`` already means that on most paths; where a path does not (ccxt.pro's
OKX orders channel passes OKX's own negative-is-cost ``fillFee`` through), or where REST and
websocket disagree (Hyperliquid's builder fee), the fee is read from ``info`` with the venue's
sign, so every copy of a trade carries the same fee. A ``fees`` list is summed per currency;
fees in several currencies cannot be one fill's fee, so the fill then has none and a note names
them all.

Overlapping feeds: messages are computed from the unified fields (and the per-venue ``info``
fields above, which REST and websocket copies share), numbers are canonical text and times ISO
8601 UTC with microseconds, so the same order or trade delivered by a REST poll and by a
websocket stream gives identical messages, and the ledger sees duplicates.

One ordering matters: the ledger flags a fill that arrives after its order's cancel or expiry
as ``late_fill`` (it judges by arrival, not by venue time), so poll ``fetch_my_trades`` before
``fetch_orders``; a list payload is already applied trades before endings
(:func:`payload_messages`).

Times: an order's request and ack carry its ``timestamp`` (creation); its terminal fact carries
``lastUpdateTimestamp`` when given, else the creation time; a trade carries its ``timestamp``
(an embedded trade without one takes the order's ``lastTradeTimestamp``). ``datetime`` is used
when the millisecond field is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.exchanges import VENUE_RULES, rules_for
from orderledger.infrastructure.adapters.ccxt.funding import funding_messages
from orderledger.infrastructure.adapters.ccxt.orders import order_messages
from orderledger.infrastructure.adapters.ccxt.reconciliation import order_row, reconciliation_snapshot
from orderledger.infrastructure.adapters.ccxt.rules import (
    SOURCE,
    InstrumentOf,
    VenueRules,
)
from orderledger.infrastructure.adapters.ccxt.trades import trade_messages, trades_messages
from orderledger.infrastructure.adapters.common import AdapterError, in_applying_order
from orderledger.infrastructure.adapters.declared import NoOptions
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import Message


def is_order(structure: Mapping[str, Any]) -> bool:
    """True for a CCXT order structure (it has a status or fill progress; trades have neither)."""
    return any(name in structure for name in ("status", "filled", "remaining"))


def is_trade(structure: Mapping[str, Any]) -> bool:
    """True for a CCXT trade structure."""
    return not is_order(structure) and ("takerOrMaker" in structure or "order" in structure)


def is_funding(structure: Mapping[str, Any]) -> bool:
    """True for a CCXT funding history structure (``fetch_funding_history``: a currency ``code``
    and an ``amount``, and neither an order's nor a trade's fields)."""
    return (
        "code" in structure and "amount" in structure and not is_order(structure) and not is_trade(structure)
    )


def payload_messages(
    payload: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    venue: str,
    account: str,
    requests: bool = True,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """Messages for an order, a trade, a funding history entry, or a list of them (what any
    fetch_*/watch_* returns).

    ``notes`` collects one line for each part of the payload deliberately not booked (for
    example a trade listed without amount or price); the journal keeps them with the input.

    A list's messages come requests and acks first, then fills, then endings, so a payload
    that holds both a canceled order and its trades books the trades before the cancel.
    """
    if isinstance(payload, Mapping):
        items: list[Any] = [payload]
    elif isinstance(payload, str | bytes | Decimal) or not isinstance(payload, Iterable):
        raise AdapterError("a CCXT payload is an order or trade structure, or a list of them")
    else:
        items = list(payload)
    out: list[Message] = []
    trades: list[Mapping[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise AdapterError(f"payload[{index}] is not a CCXT order or trade structure")
        if is_order(item):
            out += order_messages(
                item,
                venue=venue,
                account=account,
                requests=requests,
                instrument_of=instrument_of,
                source=source,
                notes=notes,
            )
        elif is_trade(item):
            trades.append(item)
        elif is_funding(item):
            out += funding_messages(
                item, venue=venue, account=account, instrument_of=instrument_of, source=source
            )
        else:
            raise AdapterError(
                f"payload[{index}] is neither a CCXT order, a CCXT trade nor a funding history entry"
            )
    out += trades_messages(trades, venue, account, instrument_of, source, notes)
    return in_applying_order(out)


def line_messages(
    raw: bytes, *, venue: str, account: str | None, notes: list[str], options: NoOptions
) -> list[Message]:
    """The ``ccxt`` format's reading of one line (``venue.VENUE``): one JSON payload."""
    return payload_messages(decode_json(raw), venue=venue, account=account or "", notes=notes)


__all__ = [
    "SOURCE",
    "VENUE_RULES",
    "AdapterError",
    "VenueRules",
    "funding_messages",
    "is_funding",
    "is_order",
    "is_trade",
    "line_messages",
    "order_messages",
    "order_row",
    "payload_messages",
    "reconciliation_snapshot",
    "rules_for",
    "trade_messages",
]
