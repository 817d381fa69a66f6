"""Lighter (``--format lighter``): its raw order and trade objects, as its REST API and account
WebSocket channels send them, translated through the CCXT adapter's Lighter rules.

Lighter's objects are turned into CCXT-shaped structures (raw object kept as ``info``) and
booked by :func:`infrastructure.adapters.ccxt.payloads.payload_messages`, so the two routes to one venue
can never book differently (client index rules, external orders, cancels, fills):

* an order (``order_index``): ``client_order_index`` is a numeric index the connector chose; it
  resolves through the ``client_index`` alias the request recorded (never becomes a client
  order ID); 0 means none, and the order is then an external one keyed by ``order_index``.
  ``is_ask`` gives the side; ``initial_base_amount``, ``price``, ``filled_base_amount``;
  ``created_at``/``updated_at`` (seconds). Status ``filled`` books no fill by itself (fills come
  from trades); ``canceled`` and every ``canceled-<reason>`` end the order as canceled with the
  venue's status as the reason.
* a trade (``trade_id``, ``ask_id``/``bid_id``): ours is the side whose ``*_account_id`` is the
  feed's ``--account`` (Lighter's account index); its order is found by that side's
  ``*_client_id`` (the alias) or else its ``*_id``; ``is_maker_ask`` gives maker or taker.
  A self-trade (both sides the account's) books a fill on each of the two orders. A trade that
  is neither side of the account is refused with a reason. The fee is the side's rate
  (``maker_fee``/``taker_fee``, millionths) of ``usd_amount`` in USDC (:func:`trade_fee`).
  ``type`` ``liquidation`` on the taker side, and ``deleverage`` on either, is the venue's
  order: an external market request tagged ``liquidation``/``adl`` precedes the fill (the
  CCXT adapter's Lighter rules; docs/venues.md, "Liquidation and ADL").
* instruments: an order or trade names its market by number (``market_index``/``market_id``);
  a line with Lighter's ``order_books`` (or ``order_book_details``) reply maps each
  ``market_id`` to ``<symbol>/USDC:USDC`` (CCXT's symbol, so both routes name it alike). A
  line naming a market not mapped yet raises ``MissingContext``: the ingest parks it until a
  map defining the market is recorded (``application.feeds.FeedContext``).
* containers: a list of objects, ``{"orders": [...]}`` / ``{"trades": [...]}`` (REST replies),
  or the same keyed by market (``{"orders": {"0": [...]}}``, the account channels).

Not supported yet: positions and funding from Lighter; integrator (builder) fees are noted.
Lighter documents neither the sign of a funding payment's ``change`` nor the unit of its
``timestamp``, so its payments are not booked with a guessed sign: the account channels'
``funding_histories``/``funding_history`` are noted, and a ``position_fundings`` reply
(``GET /api/v1/positionFunding``) is refused with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orderledger.infrastructure.adapters.ccxt.payloads import order_row, payload_messages
from orderledger.infrastructure.adapters.common import (
    AdapterError,
    MissingContext,
    decimal_text,
    message,
    positive_text,
    text_or_none,
)
from orderledger.infrastructure.messages.models import CanceledMessage, Message, json_ready

FEE_RATE_SCALE = Decimal(1_000_000)
"""A trade's ``maker_fee``/``taker_fee`` is this many times the rate (see :func:`trade_fee`)."""
FEE_CURRENCY = "USDC"
STATUS = {
    "open": "open",
    "in-progress": "open",
    "pending": "open",
    "filled": "closed",
    "canceled": "canceled",
}


MARKETS_NOTE = "Lighter markets known"
"""How the journal reason of a market-map line (``order_books``) ends: a settlement finds the
map by it (``feeds.LighterFeed.context_note``)."""
MARKET = "lighter_market"
"""The context a line naming an unknown market waits for (``common.MissingContext``)."""


def _post_only(time_in_force: object) -> bool | None:
    """Lighter's ``post-only`` time in force as ccxt's unified ``postOnly`` (None: not said)."""
    tif = text_or_none(time_in_force)
    return None if tif is None else tif == "post-only"


class LighterAdapter:
    """Lighter payloads, one per line; remembers the market map it was given."""

    def __init__(self, venue: str, account: str) -> None:
        self.venue = venue
        self.account = account
        self.markets: dict[str, str] = {}
        self.learned: list[tuple[str, str]] = []  # (context kind, value) learned, for the feed to take

    def messages(self, payload: Any, notes: list[str]) -> list[Message]:
        if isinstance(payload, Mapping):
            _funding(payload, notes)
            books = payload.get("order_books", payload.get("order_book_details"))
            if isinstance(books, list):
                return self._markets(books, notes)
            if not {"order_index", "trade_id", "orders", "trades"} & set(payload) and (
                "channel" in payload or "type" in payload
            ):
                # The stream's own messages (connected, ping, subscribed without data): kept in
                # the journal with this note, nothing to book.
                notes.append(
                    f"Lighter {text_or_none(payload.get('type')) or 'channel'} message: nothing to book"
                )
                return []
        structures = [s for item in _items(payload) for s in self._structures(item, notes)]
        reasons = {s["id"]: s.pop("_reason") for s in structures if "_reason" in s}
        out = payload_messages(structures, venue=self.venue, account=self.account, notes=notes)
        for index, sent in enumerate(out):  # the venue's own cancel reason (canceled-post-only …)
            reason = reasons.get(sent.venue_order_id) if type(sent) is CanceledMessage else None
            if reason:  # the venue's text, validated as any reason is
                fields = {name: value for name, value in json_ready(sent).items() if name != "type"}
                out[index] = message(CanceledMessage, **(fields | {"reason": reason}))
        return out

    def order_rows(self, payload: Any) -> list[dict[str, Any]]:
        """A Lighter orders reply (``accountActiveOrders``) as reconciliation-snapshot order rows
        (docs/reconciliation.md), each order read as :meth:`messages` reads it."""
        rows = []
        for item in _items(payload):
            structure = self._order(item) if isinstance(item, Mapping) else None
            if structure is None:
                raise AdapterError("a Lighter orders reply holds something other than an order")
            structure.pop("_reason", None)
            row = order_row(structure, venue=self.venue)
            if row is not None:
                rows.append(row)
        return rows

    def _markets(self, books: list[Any], notes: list[str]) -> list[Message]:
        for book in books:
            market = text_or_none(book.get("market_id")) if isinstance(book, Mapping) else None
            symbol = text_or_none(book.get("symbol")) if isinstance(book, Mapping) else None
            if market is None or symbol is None:
                raise AdapterError("a Lighter order book entry needs market_id and symbol")
            self.markets[market] = f"{symbol}/USDC:USDC"
            self.learned.append((MARKET, market))
        notes.append(f"{len(books)} {MARKETS_NOTE}")
        return []

    def _symbol(self, raw: Mapping[str, Any]) -> str:
        market = text_or_none(raw.get("market_index", raw.get("market_id")))
        if market is None:
            raise AdapterError("a Lighter order or trade needs market_index or market_id")
        if market not in self.markets:
            raise MissingContext(MARKET, market, f"Lighter market {market}'s definition (order_books)")
        return self.markets[market]

    def _structures(self, raw: Any, notes: list[str]) -> list[dict[str, Any]]:
        """An order's structure, or a trade's: one per side of the account (two for a self-trade)."""
        if not isinstance(raw, Mapping):
            raise AdapterError("a Lighter payload item is not an object")
        if "order_index" in raw:
            return [self._order(raw)]
        if "trade_id" in raw and "ask_id" in raw:
            sides = [s for s in ("ask", "bid") if text_or_none(raw.get(f"{s}_account_id")) == self.account]
            if not sides:
                raise AdapterError(
                    f"Lighter trade {text_or_none(raw.get('trade_id'))!r} is not account {self.account}'s"
                )
            if len(sides) == 2:
                notes.append(
                    f"Lighter trade {text_or_none(raw.get('trade_id'))!r} is a self-trade:"
                    " booked on both orders (the ask's and the bid's)"
                )
            return [self._trade(raw, side, notes) for side in sides]
        raise AdapterError("neither a Lighter order (order_index) nor a Lighter trade (trade_id, ask_id)")

    def _order(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        status = text_or_none(raw.get("status")) or ""
        unified = STATUS.get(status, "canceled" if status.startswith("canceled") else None)
        if unified is None:
            raise AdapterError(f"Lighter order status {status!r} is unknown")
        created, updated = _seconds(raw.get("created_at")), _seconds(raw.get("updated_at"))
        return {
            "id": text_or_none(raw.get("order_index")),
            "status": unified,
            "symbol": self._symbol(raw),
            "side": "sell" if raw.get("is_ask") is True else "buy",
            "type": text_or_none(raw.get("type")),
            # A trigger order (type stop-loss, stop-loss-limit, take-profit, take-profit-limit)
            # fires at trigger_price; "0.00" on every other order, as ccxt reads it (omit zero).
            "triggerPrice": positive_text(raw.get("trigger_price"), "trigger_price"),
            "reduceOnly": raw.get("reduce_only") is True or None,
            "timeInForce": text_or_none(raw.get("time_in_force")),
            "postOnly": _post_only(raw.get("time_in_force")),
            "amount": raw.get("initial_base_amount"),
            "price": raw.get("price"),
            "filled": raw.get("filled_base_amount"),
            "timestamp": created,
            "lastUpdateTimestamp": updated or created,
            "info": dict(raw),
            "_reason": status if status.startswith("canceled-") else None,
        }

    def _trade(self, raw: Mapping[str, Any], side: str, notes: list[str]) -> dict[str, Any]:
        """The trade as the account's ``side`` (``ask`` or ``bid``) of it saw it."""
        ask = side == "ask"
        maker = raw.get("is_maker_ask") is ask
        return {
            "id": text_or_none(raw.get("trade_id")),
            "order": text_or_none(raw.get(f"{side}_id")),
            "side": "sell" if ask else "buy",
            "symbol": self._symbol(raw),
            "amount": raw.get("size"),
            "price": raw.get("price"),
            "timestamp": raw.get("timestamp"),
            "takerOrMaker": "maker" if maker else "taker",
            "fee": trade_fee(raw, maker, notes),
            # ccxt's Lighter rules read the client index of the side the trade is on.
            "info": dict(raw),
        }


def trade_fee(raw: Mapping[str, Any], maker: bool, notes: list[str]) -> dict[str, str] | None:
    """The fee one side of a Lighter trade paid, in USDC (positive = cost), or None when the
    trade states no fee rate (Lighter's REST trades: the stream's copy brings it).

    ``maker_fee``/``taker_fee`` are rates in millionths of the trade's ``usd_amount``: ccxt
    4.5.90 reads them so (``pro/lighter.py`` ``parse_ws_order_trade``: rate = value / 1000000,
    cost = usd_amount × rate, currency USDC). Lighter leaves a zero rate out, so once a trade
    states either rate the other side's missing one is 0 (as ccxt books it). Integrator
    (builder) fees are noted, not booked: ccxt does not book them either, and both routes to
    Lighter must agree.
    """
    trade = text_or_none(raw.get("trade_id"))
    for name in ("integrator_maker_fee", "integrator_taker_fee"):
        value = decimal_text(raw.get(name), name)
        if value is not None and Decimal(value) != 0:
            notes.append(f"Lighter trade {trade!r}: {name}={value} not booked")
    if "maker_fee" not in raw and "taker_fee" not in raw:
        return None
    key = "maker_fee" if maker else "taker_fee"
    rate = Decimal(decimal_text(raw.get(key), key) or "0") / FEE_RATE_SCALE
    amount = decimal_text(raw.get("usd_amount"), "usd_amount")
    if amount is None:
        size, price = decimal_text(raw.get("size"), "size"), decimal_text(raw.get("price"), "price")
        if size is None or price is None:
            raise AdapterError(f"Lighter trade {trade!r} needs usd_amount, or size and price, for its fee")
        amount = decimal_text(Decimal(size) * Decimal(price), "usd_amount")
    cost = decimal_text(Decimal(amount or "0") * rate, "fee") or "0"
    return {"cost": cost, "currency": FEE_CURRENCY}


FUNDING_NOT_BOOKED = (
    "Lighter documents neither the sign of a payment's change nor the unit of its timestamp"
    " (docs/venues.md#lighter); record them as cash_flow messages"
)


def _funding(payload: Mapping[str, Any], notes: list[str]) -> None:
    """Refuses a ``position_fundings`` reply and notes the account channels' funding payments:
    neither is booked (see the module docstring)."""
    if "position_fundings" in payload:
        raise AdapterError(
            f"Lighter funding payments (position_fundings) are not booked: {FUNDING_NOT_BOOKED}"
        )
    histories = payload.get("funding_histories")
    found = payload.get("funding_history")
    count = 1 if isinstance(found, Mapping) and found else 0
    if isinstance(histories, Mapping):
        count += sum(len(group) for group in histories.values() if isinstance(group, list))
    if count:
        notes.append(f"{count} Lighter funding payment(s) not booked: {FUNDING_NOT_BOOKED}")


def _items(payload: Any) -> list[Any]:
    """The objects of one line: one, a list, or a REST/WebSocket container (maybe by market)."""
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, Mapping):
        raise AdapterError("a Lighter payload is an object or a list")
    for key in ("orders", "trades"):
        if key in payload:
            found = payload[key]
            if isinstance(found, Mapping):
                return [item for group in found.values() if isinstance(group, list) for item in group]
            if isinstance(found, list):
                return found
            raise AdapterError(f"Lighter {key!r} is neither a list nor lists by market")
    return [payload]


def _seconds(value: object) -> int | None:
    text = text_or_none(value)
    if text is None or not text.isdigit() or int(text) == 0:
        return None
    return int(text) * 1000


__all__ = ["FEE_CURRENCY", "FEE_RATE_SCALE", "LighterAdapter", "trade_fee"]
