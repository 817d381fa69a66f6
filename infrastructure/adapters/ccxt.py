"""CCXT unified order and trade structures → ledger messages.

Input is what CCXT's unified API returns: orders from ``fetch_order(s)``, ``fetch_open_orders``,
``fetch_closed_orders``, ``create_order`` and ``watch_orders``; trades from ``fetch_my_trades``
and ``watch_my_trades`` (https://docs.ccxt.com/#/README?id=order-structure and
``?id=trade-structure``). Output is a list of ledger-format message dicts, each valid for
``infrastructure.messages.parse_message``. Nothing here does I/O or needs ccxt installed.
Venue-specific readings of ``info`` (where a venue keeps its client order ID, its fee, its
realized P&L, its liquidation marker) are in one table, :data:`VENUE_RULES`, chosen by the
ledger's venue name (docs/venues.md lists them).

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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.values import ENDED, Status
from orderledger.infrastructure.adapters.aliases import client_index_value
from orderledger.infrastructure.adapters.common import (
    LIQUIDITIES,
    SIDES,
    AdapterError,
    Message,
    decimal_text,
    in_applying_order,
    message,
    positive_text,
    text_or_none,
    time_from_iso,
    time_from_millis,
)
from orderledger.infrastructure.adapters.hyperliquid import funding_flow_id, liquidated_here, user_of

SOURCE = "ccxt"
SNAPSHOT_STATUS = {
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}
"""CCXT status → the status of a closed-order row in a reconciliation snapshot."""
TERMINAL = {venue: status for venue, status in SNAPSHOT_STATUS.items() if Status(status) in ENDED}
"""CCXT statuses that end an order by a fact of its own, and the ledger message each becomes
(named like the status it leads to; ``closed`` ends an order by its fills)."""
INFO_ORIGINAL_CLIENT_ID_KEYS = ("origClientOrderId",)
"""Keys under which a venue's cancel response (``info``) names the order's own client order ID
while ``clientOrderId`` holds the cancel request's (Binance's DELETE /api/v3/order does this)."""

InstrumentOf = Callable[[str], str]
"""Maps a CCXT symbol (``BTC/USDT``, ``BTC/USDT:USDT``) to the ledger's instrument name."""
FeeReader = Callable[[Mapping[str, Any]], "tuple[str, str | None] | None"]
"""Reads one trade's fee from its ``info`` in the ledger's sign (positive = cost), or None."""
ForcedReader = Callable[[Mapping[str, Any], Mapping[str, Any], "str | None"], "str | None"]
"""(structure, info, account) → ``"liquidation"``, ``"adl"`` or None: was this order/trade the
venue's, placed on ``account``'s position?"""


# ---------------------------------------------------------------------- venue rules


@dataclass(frozen=True)
class VenueRules:
    """How one venue's ccxt structures are read where the unified fields are not enough."""

    client_id_keys: tuple[str, ...] = ("clientOrderId", "clientOid", "clOrdId", "client_oid")
    """Fields of ``info`` (dotted for nested) holding the client order ID when the unified
    ``clientOrderId`` is missing."""
    no_client_id: frozenset[str] = frozenset()
    """Values the venue uses for "no client order ID" (besides null and empty text)."""
    client_index: bool = False
    """The client order ID is a numeric index the connector chose: emitted as an alias."""
    trade_client_index: Callable[[Mapping[str, Any], Mapping[str, Any]], str | None] | None = None
    """(trade, info) → the client index of a trade, for index venues whose trades carry one."""
    realized_pnl_keys: tuple[str, ...] = ()
    """Fields of a trade's ``info`` holding the venue's realized P&L for that fill."""
    fee: FeeReader | None = None
    """Reads the fee from ``info`` instead of the unified ``fee`` (see the module docstring)."""
    forced: ForcedReader | None = None
    """Marks liquidation / ADL orders and trades."""
    order_quantity_keys: tuple[str, ...] = ()
    """Fields of a trade's ``info`` stating its whole order's quantity (the same on every fill of
    the order), used as the quantity of a liquidation/ADL trade's external request."""
    funding_received_positive: bool | None = None
    """Whether a funding history structure's ``amount`` is positive for a payment received
    (ccxt passes each venue's own sign through); None: not established for the venue, and its
    funding history is refused rather than booked with a sign that may be wrong."""
    funding_id: Callable[[Mapping[str, Any]], str | None] | None = None
    """(structure) → the payment's ID where the unified ``id`` is not one."""
    funding_kind: tuple[str, frozenset[str]] | None = None
    """(field of ``info``, dotted for nested; its values for a funding payment): the history
    ccxt reads holds other kinds too (income, bills, executions), signed otherwise, so an entry
    of another kind, or of none, is refused."""
    funding_currency: Callable[[Mapping[str, Any]], str] | None = None
    """(structure) → the payment's currency where ccxt's ``code`` is not it."""


def _okx_fee(info: Mapping[str, Any]) -> tuple[str, str | None] | None:
    # OKX signs fees negative for a cost (docs-v5 "fee"/"fillFee": "negative number represents
    # the user transaction fee charged by the platform"): flip to the ledger's sign. The orders
    # channel carries fillFee/fillFeeCcy, REST fills fee/feeCcy.
    for cost_key, currency_key in (("fillFee", "fillFeeCcy"), ("fee", "feeCcy")):
        cost = decimal_text(info.get(cost_key), f"info.{cost_key}")
        if cost is not None and text_or_none(info.get("tradeId")) is not None:
            return decimal_text(-Decimal(cost), cost_key) or "0", text_or_none(info.get(currency_key))
    return None


def _hyperliquid_fee(info: Mapping[str, Any]) -> tuple[str, str | None] | None:
    # Hyperliquid fills: fee (+ builderFee when present), in feeToken, positive = paid. ccxt's
    # REST parser adds the builder fee, its websocket one does not: read both the REST way.
    cost = decimal_text(info.get("fee"), "info.fee")
    if cost is None:
        return None
    builder = decimal_text(info.get("builderFee"), "info.builderFee") or "0"
    return decimal_text(Decimal(cost) + Decimal(builder), "fee") or "0", text_or_none(info.get("feeToken"))


def _binance_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Binance futures name the venue's own orders by client ID: "autoclose-…" for a liquidation,
    # "adl_autoclose" for auto-deleveraging (USDⓈ-M user data stream, ORDER_TRADE_UPDATE "c").
    client = text_or_none(structure.get("clientOrderId")) or text_or_none(info.get("c"))
    client = client or text_or_none(info.get("clientOrderId"))
    if client is None:
        return None
    if client.startswith("adl_autoclose"):
        return "adl"
    if client.startswith("autoclose-"):
        return "liquidation"
    return None


def _bybit_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Bybit v5 execution execType: BustTrade is a liquidation, AdlTrade an auto-deleverage.
    kind = text_or_none(info.get("execType"))
    return {"BustTrade": "liquidation", "AdlTrade": "adl"}.get(kind or "")


def _okx_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # OKX order "category": full_liquidation, partial_liquidation, adl (normal for the caller's).
    category = text_or_none(info.get("category")) or ""
    if category.endswith("liquidation"):
        return "liquidation"
    return "adl" if category == "adl" else None


def _hyperliquid_forced(
    structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None
) -> str | None:
    # Hyperliquid userFills: both sides of a liquidation's trade carry its "liquidation"
    # object; it is ours when its liquidatedUser is the account (the native adapter's rule).
    # ccxt's structures never name the user, so an account named by a label is no address to
    # compare with: the fill is then an ordinary trade of its order, never our liquidation.
    return "liquidation" if liquidated_here(info, user_of(account)) else None


def _lighter_forced(structure: Mapping[str, Any], info: Mapping[str, Any], account: str | None) -> str | None:
    # Lighter's trade "type": trade, liquidation or deleverage. A liquidation sells the
    # liquidated account's position into the book, so the venue's order is its taker side (the
    # maker's is a resting order of its own); a deleverage closes positions on both sides
    # against each other. An order of type "liquidation" is the venue's too.
    kind = text_or_none(info.get("type"))
    if "order_index" in info:
        return "liquidation" if kind == "liquidation" else None
    if kind == "deleverage":
        return "adl"
    taker = (text_or_none(structure.get("takerOrMaker")) or "").lower() == "taker"
    return "liquidation" if kind == "liquidation" and taker else None


def _lighter_trade_index(trade: Mapping[str, Any], info: Mapping[str, Any]) -> str | None:
    # Lighter trades carry both sides' client indexes; ours is the side ccxt resolved.
    side = (text_or_none(trade.get("side")) or "").lower()
    if side not in SIDES:
        return None
    return text_or_none(info.get("ask_client_id" if side == "sell" else "bid_client_id"))


def _settle_currency(structure: Mapping[str, Any]) -> str:
    # Bybit pays funding in the contract's settle coin (USDT, USDC, or the base coin of an
    # inverse contract), which ccxt's unified symbol names after the colon. ccxt 4.5.90's
    # bybit parse_income says USDT for every linear contract and the quote (USD) for an inverse
    # one, while its parse_trade names the settle coin for the same contract's fees.
    symbol = text_or_none(structure.get("symbol")) or ""
    settle = symbol.partition(":")[2]
    if not settle:
        raise AdapterError(
            f"ccxt funding history: symbol {symbol[:40]!r} names no settle coin"
            " (parse it with the venue's markets loaded)"
        )
    return settle


def _hyperliquid_funding_id(structure: Mapping[str, Any]) -> str | None:
    info = _info(structure)
    delta = info.get("delta")
    coin = delta.get("coin") if isinstance(delta, Mapping) else None
    return None if coin is None else funding_flow_id(str(coin), info.get("time"))


BINANCE = VenueRules(
    client_id_keys=("clientOrderId", "c"),
    realized_pnl_keys=("rp", "realizedPnl"),
    forced=_binance_forced,
    funding_received_positive=True,  # income: "-0.01" FUNDING_FEE is a payment made
    funding_kind=("incomeType", frozenset({"FUNDING_FEE"})),
)
VENUE_RULES: dict[str, VenueRules] = {
    "binance": BINANCE,
    "binanceusdm": BINANCE,
    "binancecoinm": BINANCE,
    "okx": VenueRules(
        client_id_keys=("clOrdId",),
        realized_pnl_keys=("fillPnl",),
        fee=_okx_fee,
        forced=_okx_forced,
        funding_received_positive=True,  # balChg: the signed change of the account's balance
        funding_kind=("type", frozenset({"8"})),  # bill type 8: funding fee (ID: billId)
    ),
    "bybit": VenueRules(
        client_id_keys=("orderLinkId",),
        realized_pnl_keys=("execPnl",),
        forced=_bybit_forced,
        order_quantity_keys=("orderQty",),
        funding_received_positive=False,  # execFee: positive paid (opposite to the log's funding)
        funding_kind=("execType", frozenset({"Funding"})),  # ID: execId
        funding_currency=_settle_currency,
    ),
    # Kraken REST orders carry cl_ord_id/userref; websocket v2 executions say order_userref.
    "kraken": VenueRules(
        client_id_keys=("cl_ord_id", "userref", "order_userref"), no_client_id=frozenset({"0"})
    ),
    "hyperliquid": VenueRules(
        client_id_keys=("cloid", "order.cloid"),
        realized_pnl_keys=("closedPnl",),
        fee=_hyperliquid_fee,
        forced=_hyperliquid_forced,
        funding_received_positive=True,  # usdc: what the position received
        funding_id=_hyperliquid_funding_id,  # its hash is all zeros for every funding payment
        funding_kind=("delta.type", frozenset({"funding"})),
    ),
    "lighter": VenueRules(
        client_id_keys=("client_order_index", "client_order_id"),
        no_client_id=frozenset({"0"}),
        client_index=True,
        trade_client_index=_lighter_trade_index,
        forced=_lighter_forced,
    ),
}
"""Per-venue rules, keyed by ccxt exchange id. The one place venue quirks of ``info`` live."""
DEFAULT_RULES = VenueRules()


def rules_for(venue: str) -> VenueRules:
    """The rules for a ledger venue name: its ccxt exchange id, or a name that starts with one
    followed by a separator (``bybit-main``, ``okx_sub1``); otherwise the generic rules."""
    name = venue.lower()
    if name in VENUE_RULES:
        return VENUE_RULES[name]
    matches = [key for key in VENUE_RULES if name.startswith(key) and not name[len(key)].isalnum()]
    return VENUE_RULES[max(matches, key=len)] if matches else DEFAULT_RULES


# ---------------------------------------------------------------------- identity


@dataclass(frozen=True)
class _Identity:
    """How messages name an order: by client order ID, by a client index alias, or neither."""

    client_order_id: str | None = None
    client_index: str | None = None

    @property
    def known(self) -> bool:
        return self.client_order_id is not None or self.client_index is not None

    def key(self, venue: str, venue_order_id: str | None) -> dict[str, Any]:
        aliases = None if self.client_index is None else {"client_index": self.client_index}
        return {
            "client_order_id": self.client_order_id,
            "venue": venue,
            "venue_order_id": venue_order_id,
            "aliases": aliases,
        }


def _client_id(value: object, rules: VenueRules) -> str | None:
    """A client order ID, or None when the value means "none" at this venue."""
    if isinstance(value, Mapping | list | tuple):
        return None  # not an ID (a nested info object): never its repr
    found = text_or_none(value)
    return None if found is None or found in rules.no_client_id else found


def _info(structure: Mapping[str, Any]) -> Mapping[str, Any]:
    info = structure.get("info")
    return info if isinstance(info, Mapping) else {}


def _at_path(info: Mapping[str, Any], path: str) -> object:
    value: object = info
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _identity(structure: Mapping[str, Any], rules: VenueRules, *, is_order: bool) -> _Identity:
    """The client identity of an order or trade: unified field first, then the venue's own."""
    info = _info(structure)
    found: str | None = None
    if is_order:  # a cancel reply's clientOrderId is the cancel request's; the order's is here
        for name in INFO_ORIGINAL_CLIENT_ID_KEYS:
            found = found or _client_id(info.get(name), rules)
    found = found or _client_id(structure.get("clientOrderId"), rules)
    for path in rules.client_id_keys:
        found = found or _client_id(_at_path(info, path), rules)
    if found is None and not is_order and rules.trade_client_index is not None:
        found = _client_id(rules.trade_client_index(structure, info), rules)
    if found is not None and rules.client_index:
        return _Identity(client_index=client_index_value(found))
    return _Identity(client_order_id=found)


def _forced(structure: Mapping[str, Any], rules: VenueRules, account: str | None) -> str | None:
    return None if rules.forced is None else rules.forced(structure, _info(structure), account)


# ---------------------------------------------------------------------- orders


def order_messages(
    order: Mapping[str, Any],
    *,
    venue: str,
    account: str,
    requests: bool = True,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """The ledger messages one CCXT order structure implies (see the module docstring)."""
    rules = rules_for(venue)
    identity = _identity(order, rules, is_order=True)
    venue_order_id = text_or_none(order.get("id"))
    status = (text_or_none(order.get("status")) or "").lower()
    if not identity.known and venue_order_id is None:
        if status == "rejected":
            return []  # a refusal of an order nobody can name (ccxt's parse of an error reply)
        raise AdapterError("a CCXT order needs an id or a clientOrderId")
    created = _time(order, "timestamp", "datetime") or _time(order, "lastUpdateTimestamp")
    created = created or _time(order, "lastTradeTimestamp")
    if created is None:
        raise AdapterError(f"CCXT order {venue_order_id or identity.client_order_id!r} has no timestamp")
    out: list[Message] = []
    if identity.client_order_id is not None and requests:
        request = _request(order, identity.client_order_id, venue, account, created, instrument_of, source)
        if request is not None:
            out.append(request)
    elif identity.client_order_id is None and venue_order_id is not None and status != "rejected":
        # Placed elsewhere (no client ID), or by a client index nobody here may have recorded:
        # the ledger books it as the order that index names, or else as an external order.
        forced = _forced(order, rules, account)
        aliases = identity.key(venue, venue_order_id)["aliases"]
        request = _request(
            order, None, venue, account, created, instrument_of, source, venue_order_id, aliases
        )
        if request is not None:
            out.append(request | ({"tags": {forced: "true"}} if forced else {}))
    key = identity.key(venue, venue_order_id) | _stated(order, account, instrument_of)
    if status == "rejected":
        if identity.known:
            # No venue_order_id: a message carrying one acknowledges the order implicitly first.
            key["venue_order_id"] = None
            out.append(message("rejected", **key, ts=created, source=source, reason="rejected by the venue"))
        return out
    if venue_order_id is not None:
        out.append(message("accepted", **key, ts=created, source=source))
    last_trade = _time(order, "lastTradeTimestamp") or created
    for trade in _list(order, "trades"):
        if not isinstance(trade, Mapping):
            raise AdapterError(f"a trade of CCXT order {venue_order_id!r} is not a trade structure")
        if _skipped(trade, venue_order_id, notes, embedded=True):
            continue
        stated = _stated(trade, account, instrument_of) or _stated(order, account, instrument_of)
        out.append(_fill(trade, venue, source, rules, venue_order_id, identity, last_trade, notes, stated))
    ending = TERMINAL.get(status)
    reason = None
    if status == "closed" and _short_of_amount(order):
        # ccxt maps Bybit's PartiallyFilledCanceled (and the like) to closed: the order ended
        # with part of it never filled, which is a cancel, not a fill.
        ending = "canceled"
        reason = f"closed by the venue with {decimal_text(order.get('filled'), 'filled')} of "
        reason += f"{decimal_text(order.get('amount'), 'amount')} filled"
    if ending is not None:
        ts = _time(order, "lastUpdateTimestamp") or created
        out.append(message(ending, **key, ts=ts, source=source, reason=reason))
    return out


def _stated(
    structure: Mapping[str, Any], account: str | None, instrument_of: InstrumentOf | None
) -> dict[str, str]:
    """What an order or trade structure states of its order: the account it is read for, its
    symbol (as a request names it) and its side; the ledger refuses a report of an order that
    states another (``Order.check_stated``). Empty when the structure names neither."""
    symbol = text_or_none(structure.get("symbol"))
    side = (text_or_none(structure.get("side")) or "").lower()
    if symbol is None and side not in ("buy", "sell"):
        return {}
    stated = {} if account is None else {"account": account}
    if symbol is not None:
        stated["instrument"] = instrument_of(symbol) if instrument_of else symbol
    if side in ("buy", "sell"):
        stated["side"] = side
    return stated


def _short_of_amount(order: Mapping[str, Any]) -> bool:
    """True when the order says how much of it filled and that is less than its amount."""
    amount = positive_text(order.get("amount"), "amount")
    filled = decimal_text(order.get("filled"), "filled")
    return amount is not None and filled is not None and Decimal(filled) < Decimal(amount)


def _request(
    order: Mapping[str, Any],
    client_id: str | None,
    venue: str,
    account: str,
    ts: str,
    instrument_of: InstrumentOf | None,
    source: str,
    venue_order_id: str | None = None,
    aliases: dict[str, str] | None = None,
) -> Message | None:
    """The order's request; an external one (keyed by venue order ID, naming the venue's client
    index among ``aliases`` where it has one) when ``client_id`` is None."""
    symbol = text_or_none(order.get("symbol"))
    side = (text_or_none(order.get("side")) or "").lower()
    quantity = positive_text(order.get("amount"), "amount")
    order_type = _order_type(order)
    price = positive_text(order.get("price"), "price") if order_type == "limit" else None
    if symbol is None or side not in SIDES or quantity is None:
        return None  # not enough to describe the order: the ack and facts still go through
    if order_type == "limit" and price is None:
        return None
    tif = text_or_none(order.get("timeInForce"))
    return message(
        "request",
        client_order_id=client_id,
        account=account,
        venue=venue,
        venue_order_id=venue_order_id,
        aliases=aliases,
        instrument=instrument_of(symbol) if instrument_of else symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=None if tif is None else tif.upper(),
        external=True if client_id is None else None,
        ts=ts,
        source=source,
    )


def _order_type(order: Mapping[str, Any]) -> str:
    """CCXT's many order types reduced to the ledger's two: priced (limit) or not (market)."""
    kind = (text_or_none(order.get("type")) or "").lower()
    if "market" in kind:  # market, stop_market, take_profit_market …
        return "market"
    if "limit" in kind:  # limit, stop_limit, limit_maker, take_profit_limit …
        return "limit"
    return "limit" if positive_text(order.get("price"), "price") is not None else "market"


# ---------------------------------------------------------------------- trades


def trade_messages(
    trade: Mapping[str, Any],
    *,
    venue: str,
    account: str | None = None,
    instrument_of: InstrumentOf | None = None,
    source: str = SOURCE,
    notes: list[str] | None = None,
) -> list[Message]:
    """The ``fill`` for one CCXT trade structure (from fetch_my_trades or watch_my_trades),
    preceded by an external request when the venue marks it a liquidation or ADL (which needs
    ``account``); nothing (and a note) for a trade listed without amount or price."""
    return _trades_messages([trade], venue, account, instrument_of, source, notes)


def _trades_messages(
    trades: list[Mapping[str, Any]],
    venue: str,
    account: str | None,
    instrument_of: InstrumentOf | None,
    source: str,
    notes: list[str] | None,
) -> list[Message]:
    """Fills of top-level trades; one external request per liquidated/ADL order (an order
    liquidated in several fills is one order). Its quantity is the order's own where the venue
    states it on every fill (Bybit ``orderQty``); otherwise the sum of that order's trades in
    this payload, which is only the whole order when all its fills come in one payload: fills
    of one such order on separate lines state different quantities, and the later line is
    refused by the ledger (docs/venues.md, "Liquidation and ADL")."""
    rules = rules_for(venue)
    out: list[Message] = []
    forced_orders: dict[str, tuple[str, Mapping[str, Any], Decimal]] = {}
    for trade in trades:
        if _skipped(trade, None, notes):
            continue
        identity = _identity(trade, rules, is_order=False)
        stated = _stated(trade, account, instrument_of)
        fill = _fill(trade, venue, source, rules, None, identity, None, notes, stated)
        forced = _forced(trade, rules, account)
        venue_order_id = fill.get("venue_order_id")
        if forced and not identity.known and venue_order_id is not None:
            kind, first, total = forced_orders.get(venue_order_id, (forced, trade, Decimal(0)))
            forced_orders[venue_order_id] = (kind, first, total + Decimal(fill["quantity"]))
        out.append(fill)
    for venue_order_id, (kind, first, total) in forced_orders.items():
        for name in rules.order_quantity_keys:
            total = Decimal(positive_text(_info(first).get(name), f"info.{name}") or total)
        if account is None:
            raise AdapterError(
                f"a {kind} trade of order {venue_order_id!r} needs an account to book its order"
            )
        symbol = text_or_none(first.get("symbol"))
        side = (text_or_none(first.get("side")) or "").lower()
        if symbol is None or side not in SIDES:
            raise AdapterError(f"{kind} trade {text_or_none(first.get('id'))!r} needs a symbol and a side")
        out.append(
            message(
                "request",
                account=account,
                venue=venue,
                venue_order_id=venue_order_id,
                instrument=instrument_of(symbol) if instrument_of else symbol,
                side=side,
                order_type="market",
                quantity=decimal_text(total, "amount"),
                tags={kind: "true"},
                external=True,
                ts=_time(first, "timestamp", "datetime"),
                source=source,
            )
        )
    return out


def _skipped(
    trade: Mapping[str, Any], order_id: str | None, notes: list[str] | None, *, embedded: bool = False
) -> bool:
    """True (and a note) for a trade that cannot be a fill but is no error: one listed by ID
    only, without amount or price, or an embedded one without an ID."""
    trade_id = text_or_none(trade.get("id"))
    of_order = text_or_none(trade.get("order")) or order_id
    where = f"trade {trade_id!r} of order {of_order!r}" if of_order else f"trade {trade_id!r}"
    if trade_id is None and embedded:
        _note(notes, f"a trade of order {order_id!r} without a trade ID was not booked (no dedup key)")
        return True
    if trade_id is not None and (trade.get("amount") is None or trade.get("price") is None):
        _note(notes, f"{where} is listed without amount or price: not booked (fetch_my_trades has it)")
        return True
    return False


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text)


def _fill(
    trade: Mapping[str, Any],
    venue: str,
    source: str,
    rules: VenueRules,
    order_id: str | None,
    order_identity: _Identity | None,
    default_ts: str | None,
    notes: list[str] | None,
    stated: Mapping[str, str],
) -> Message:
    """One fill; an embedded trade's gaps are filled from its order (IDs, last trade time);
    ``stated``: what the trade states of its order (:func:`_stated`)."""
    trade_id = text_or_none(trade.get("id"))
    if trade_id is None:
        raise AdapterError("a CCXT trade without an id cannot be booked (its ID is the dedup key)")
    venue_order_id = text_or_none(trade.get("order")) or order_id
    identity = _identity(trade, rules, is_order=False)
    if not identity.known and order_identity is not None:
        identity = order_identity
    if venue_order_id is None and not identity.known:
        raise AdapterError(f"CCXT trade {trade_id!r} names no order (order or clientOrderId)")
    quantity = positive_text(trade.get("amount"), "amount")
    price = positive_text(trade.get("price"), "price")
    if quantity is None or price is None:
        raise AdapterError(f"CCXT trade {trade_id!r} needs a positive amount and price")
    ts = _time(trade, "timestamp", "datetime") or default_ts
    if ts is None:
        raise AdapterError(f"CCXT trade {trade_id!r} has no timestamp")
    fee, fee_currency = _fee(trade, rules, trade_id, notes)
    liquidity = (text_or_none(trade.get("takerOrMaker")) or "").lower()
    pnl = None
    for name in rules.realized_pnl_keys:  # Binance USDⓈ-M: "rp" on the stream, "realizedPnl" on REST
        pnl = pnl or decimal_text(_info(trade).get(name), f"info.{name}")
    return message(
        "fill",
        **identity.key(venue, venue_order_id),
        **stated,
        trade_id=trade_id,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=liquidity if liquidity in LIQUIDITIES else None,
        venue_realized_pnl=pnl,
        ts=ts,
        source=source,
    )


def _fee(
    trade: Mapping[str, Any], rules: VenueRules, trade_id: str, notes: list[str] | None
) -> tuple[str | None, str | None]:
    """The trade's fee and currency in the ledger's sign (see the module docstring)."""
    if rules.fee is not None:
        read = rules.fee(_info(trade))
        if read is not None:
            return read
    totals: dict[str | None, Decimal] = {}
    for entry in _list(trade, "fees"):
        if isinstance(entry, Mapping) and entry.get("cost") is not None:
            cost = Decimal(decimal_text(entry["cost"], "fees.cost") or "0")
            currency = text_or_none(entry.get("currency"))
            totals[currency] = totals.get(currency, Decimal(0)) + cost
    charged = {c: v for c, v in totals.items() if v}  # a zero placeholder in another currency costs nothing
    if len(charged) > 1:
        shown = ", ".join(f"{decimal_text(v, 'fee')} {c}" for c, v in charged.items())
        _note(notes, f"trade {trade_id!r} has fees in several currencies ({shown}): booked without a fee")
        return None, None
    fee = trade.get("fee")
    if isinstance(fee, Mapping) and fee.get("cost") is not None:
        return decimal_text(fee.get("cost"), "fee.cost"), text_or_none(fee.get("currency"))
    totals = charged or totals
    if len(totals) != 1:
        return None, None
    currency, total = next(iter(totals.items()))
    return decimal_text(total, "fee"), currency


# ---------------------------------------------------------------------- payloads


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


def funding_messages(
    structure: Mapping[str, Any], *, venue: str, account: str, instrument_of: InstrumentOf | None, source: str
) -> list[Message]:
    """One ``cash_flow`` of kind ``funding`` from a funding history structure."""
    rules = rules_for(venue)
    if rules.funding_received_positive is None:
        raise AdapterError(
            f"ccxt funding history of {venue!r}: the sign of its amount is not established for this venue"
            " (docs/venues.md#funding-payments); record its payments as cash_flow messages"
        )
    if rules.funding_kind is not None:
        field, funding = rules.funding_kind
        kind = text_or_none(_at_path(_info(structure), field))
        if kind is None:
            raise AdapterError(
                f"ccxt funding history of {venue!r}: an entry without info.{field} is not known to be"
                " a funding payment"
            )
        if kind not in funding:
            raise AdapterError(
                f"ccxt funding history of {venue!r}: info.{field} {kind[:40]!r} is not a funding payment"
            )
    flow_id = (rules.funding_id(structure) if rules.funding_id else None) or text_or_none(structure.get("id"))
    symbol = text_or_none(structure.get("symbol"))
    currency = (
        rules.funding_currency(structure) if rules.funding_currency else text_or_none(structure.get("code"))
    )
    amount = decimal_text(structure.get("amount"), "amount")
    ts = _time(structure, "timestamp", "datetime")
    if flow_id is None or symbol is None or currency is None or amount is None or ts is None:
        raise AdapterError("a ccxt funding history entry needs id, symbol, code, amount and timestamp")
    if not rules.funding_received_positive:
        amount = decimal_text(-Decimal(amount), "amount")
    return [
        message(
            "cash_flow",
            kind="funding",
            account=account,
            venue=venue,
            instrument=instrument_of(symbol) if instrument_of else symbol,
            flow_id=flow_id,
            amount=amount,
            currency=currency,
            rate=decimal_text(structure.get("rate"), "rate"),
            ts=ts,
            source=source,
        )
    ]


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
    out += _trades_messages(trades, venue, account, instrument_of, source, notes)
    return in_applying_order(out)


# ---------------------------------------------------------------------- reconciliation


def order_row(
    order: Mapping[str, Any], *, instrument_of: InstrumentOf | None = None, venue: str = ""
) -> dict[str, Any] | None:
    """A CCXT order as a reconciliation-snapshot order row (also what the open-orders differ
    reads); None for an order without an id, symbol, side or positive amount."""
    venue_order_id = text_or_none(order.get("id"))
    symbol = text_or_none(order.get("symbol"))
    side = (text_or_none(order.get("side")) or "").lower()
    quantity = positive_text(order.get("amount"), "amount")
    if venue_order_id is None or symbol is None or side not in SIDES or quantity is None:
        return None
    status = (text_or_none(order.get("status")) or "open").lower()
    order_type = _order_type(order)
    row: dict[str, Any] = {
        "venue_order_id": venue_order_id,
        "client_order_id": _identity(order, rules_for(venue), is_order=True).client_order_id,
        "instrument": instrument_of(symbol) if instrument_of else symbol,
        "side": side,
        "order_type": order_type,
        "quantity": quantity,
        "price": positive_text(order.get("price"), "price") if order_type == "limit" else None,
        "filled_quantity": decimal_text(order.get("filled"), "filled") or "0",
        "average_price": positive_text(order.get("average"), "average"),
        "status": SNAPSHOT_STATUS.get(status, "open"),
    }
    return {k: v for k, v in row.items() if v is not None}


def reconciliation_snapshot(
    orders: Iterable[Mapping[str, Any]],
    trades: Iterable[Mapping[str, Any]] = (),
    *,
    venue: str,
    account: str,
    as_of: datetime | str,
    instrument_of: InstrumentOf | None = None,
) -> dict[str, Any]:
    """A snapshot document for ``orderledger reconcile`` (docs/reconciliation.md) built from
    CCXT orders and trades: open and closed order rows, and every trade with an ID as a fill.
    This is where cumulative ``filled`` without trades becomes an (inferred) fill."""
    open_rows: list[dict[str, Any]] = []
    closed_rows: list[dict[str, Any]] = []
    fills: dict[str, dict[str, Any]] = {}
    for order in orders:
        row = order_row(order, instrument_of=instrument_of, venue=venue)
        if row is None:
            continue
        (open_rows if row["status"] == "open" else closed_rows).append(row)
        for trade in _list(order, "trades"):
            if isinstance(trade, Mapping) and not _skipped(trade, "-", None, embedded=True):
                fill = _fill_row(trade, order, instrument_of, venue)
                fills.setdefault(fill["trade_id"], fill)
    for trade in trades:
        if _skipped(trade, None, None):
            continue
        fill = _fill_row(trade, {}, instrument_of, venue)
        fills.setdefault(fill["trade_id"], fill)
    stamp = time_from_iso(as_of, "as_of")  # a datetime must be timezone-aware, like any ledger time
    if stamp is None:
        raise AdapterError("as_of is required")
    return {
        "venue": venue,
        "account": account,
        "as_of": stamp,
        "open_orders": open_rows,
        "closed_orders": closed_rows,
        "fills": list(fills.values()),
    }


def _fill_row(
    trade: Mapping[str, Any], order: Mapping[str, Any], instrument_of: InstrumentOf | None, venue: str
) -> dict[str, Any]:
    rules = rules_for(venue)
    fill = _fill(
        trade,
        venue,
        SOURCE,
        rules,
        text_or_none(order.get("id")),
        _identity(order, rules, is_order=True) if order else None,
        _time(order, "lastTradeTimestamp") or _time(order, "timestamp", "datetime"),
        None,
        {},
    )
    symbol = text_or_none(trade.get("symbol")) or text_or_none(order.get("symbol"))
    side = (text_or_none(trade.get("side")) or text_or_none(order.get("side")) or "").lower()
    row = {
        "trade_id": fill["trade_id"],
        "venue_order_id": fill.get("venue_order_id"),
        "client_order_id": fill.get("client_order_id"),
        "instrument": None if symbol is None else (instrument_of(symbol) if instrument_of else symbol),
        "side": side or None,
        "quantity": fill["quantity"],
        "price": fill["price"],
        "fee": fill.get("fee"),
        "fee_currency": fill.get("fee_currency"),
        "ts": fill["ts"],
    }
    return {k: v for k, v in row.items() if v is not None}


# ---------------------------------------------------------------------- helpers


def _list(structure: Mapping[str, Any], key: str) -> list[Any]:
    """A list-valued field (``trades``, ``fees``); absent or null is empty, anything else refused."""
    value = structure.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise AdapterError(f"{key} must be a list, not {type(value).__name__}")
    return list(value)


def _time(structure: Mapping[str, Any], millis_key: str, iso_key: str | None = None) -> str | None:
    found = time_from_millis(structure.get(millis_key), millis_key)
    if found is None and iso_key is not None:
        found = time_from_iso(structure.get(iso_key), iso_key)
    return found


__all__ = [
    "SOURCE",
    "VENUE_RULES",
    "AdapterError",
    "VenueRules",
    "funding_messages",
    "is_funding",
    "is_order",
    "is_trade",
    "order_messages",
    "order_row",
    "payload_messages",
    "reconciliation_snapshot",
    "rules_for",
    "trade_messages",
]
