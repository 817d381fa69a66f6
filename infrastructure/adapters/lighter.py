"""Lighter (``--format lighter``): its raw order and trade objects, as its REST API and account
WebSocket channels send them, translated through the CCXT adapter's Lighter rules.

Lighter's objects are turned into CCXT-shaped structures (raw object kept as ``info``) and
booked by :func:`infrastructure.adapters.ccxt.payload_messages`, so the two routes to one venue
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
  A trade that is neither side of the account is refused with a reason.
* instruments: an order or trade names its market by number (``market_index``/``market_id``);
  a line with Lighter's ``order_books`` (or ``order_book_details``) reply maps each
  ``market_id`` to ``<symbol>/USDC:USDC`` (CCXT's symbol, so both routes name it alike).
* containers: a list of objects, ``{"orders": [...]}`` / ``{"trades": [...]}`` (REST replies),
  or the same keyed by market (``{"orders": {"0": [...]}}``, the account channels).

Not supported yet: fees (the REST trade example has none), liquidation/ADL trades, positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderledger.infrastructure.adapters.ccxt import payload_messages
from orderledger.infrastructure.adapters.common import AdapterError, Message, text_or_none

STATUS = {
    "open": "open",
    "in-progress": "open",
    "pending": "open",
    "filled": "closed",
    "canceled": "canceled",
}


class LighterAdapter:
    """Lighter payloads, one per line; remembers the market map it was given."""

    def __init__(self, venue: str, account: str) -> None:
        self.venue = venue
        self.account = account
        self.markets: dict[str, str] = {}

    def messages(self, payload: Any, notes: list[str]) -> list[Message]:
        if isinstance(payload, Mapping):
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
        structures = [self._structure(item, notes) for item in _items(payload)]
        reasons = {s["id"]: s.pop("_reason") for s in structures if "_reason" in s}
        out = payload_messages(structures, venue=self.venue, account=self.account, notes=notes)
        for sent in out:  # the venue's own cancel reason (canceled-post-only, -margin-not-allowed …)
            if sent["type"] == "canceled" and reasons.get(sent.get("venue_order_id")):
                sent["reason"] = reasons[sent.get("venue_order_id")]
        return out

    def _markets(self, books: list[Any], notes: list[str]) -> list[Message]:
        for book in books:
            market = text_or_none(book.get("market_id")) if isinstance(book, Mapping) else None
            symbol = text_or_none(book.get("symbol")) if isinstance(book, Mapping) else None
            if market is None or symbol is None:
                raise AdapterError("a Lighter order book entry needs market_id and symbol")
            self.markets[market] = f"{symbol}/USDC:USDC"
        notes.append(f"{len(books)} Lighter markets known")
        return []

    def _symbol(self, raw: Mapping[str, Any]) -> str:
        market = text_or_none(raw.get("market_index", raw.get("market_id")))
        if market is None:
            raise AdapterError("a Lighter order or trade needs market_index or market_id")
        if market not in self.markets:
            raise AdapterError(f"Lighter market {market} is unknown: feed the orderBooks reply first")
        return self.markets[market]

    def _structure(self, raw: Any, notes: list[str]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise AdapterError("a Lighter payload item is not an object")
        if "order_index" in raw:
            return self._order(raw)
        if "trade_id" in raw and "ask_id" in raw:
            return self._trade(raw, notes)
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
            "timeInForce": text_or_none(raw.get("time_in_force")),
            "amount": raw.get("initial_base_amount"),
            "price": raw.get("price"),
            "filled": raw.get("filled_base_amount"),
            "timestamp": created,
            "lastUpdateTimestamp": updated or created,
            "info": dict(raw),
            "_reason": status if status.startswith("canceled-") else None,
        }

    def _trade(self, raw: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
        ask = text_or_none(raw.get("ask_account_id")) == self.account
        bid = text_or_none(raw.get("bid_account_id")) == self.account
        if ask == bid:
            raise AdapterError(
                f"Lighter trade {text_or_none(raw.get('trade_id'))!r} is "
                + ("a self-trade (not supported)" if ask else f"not account {self.account}'s")
            )
        side = "ask" if ask else "bid"
        maker = raw.get("is_maker_ask") is ask
        rates = {k: raw[k] for k in ("maker_fee", "taker_fee") if k in raw}
        if rates:  # fee rates, not amounts; their unit is not published with the examples
            shown = ", ".join(f"{k}={v}" for k, v in rates.items())
            notes.append(f"Lighter trade {text_or_none(raw.get('trade_id'))!r}: fee rate {shown} not booked")
        return {
            "id": text_or_none(raw.get("trade_id")),
            "order": text_or_none(raw.get(f"{side}_id")),
            "side": "sell" if ask else "buy",
            "symbol": self._symbol(raw),
            "amount": raw.get("size"),
            "price": raw.get("price"),
            "timestamp": raw.get("timestamp"),
            "takerOrMaker": "maker" if maker else "taker",
            # ccxt's Lighter rules read the client index of the side the trade is on.
            "info": dict(raw),
        }


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


__all__ = ["LighterAdapter"]
