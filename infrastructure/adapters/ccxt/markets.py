"""CCXT markets → ``instrument`` messages: contract size, settlement and option terms.

Reads what ``exchange.load_markets()`` returns (a dict symbol → market, as dumped to JSON) or
the list ``exchange.fetch_markets()`` returns. Pure translation, no I/O. Per market:

==================  ===========================================================
ccxt                ledger ``instrument`` message
==================  ===========================================================
``symbol``          ``instrument`` (through ``instrument_of`` when given, as the
                    CCXT order adapter does, so fills and definitions agree)
``type``            ``kind``: spot, swap, future, option (margin → spot,
                    delivery → future, anything else → other)
``contractSize``    ``contract_size`` (contracts only; spot is 1 unit = 1 unit)
``inverse``         ``settlement``: inverse when true, else linear
``settle``          ``settle_currency``
``base``/``quote``  ``base_currency``/``quote_currency``; ``base`` is also the
                    ``underlying`` of a contract
``expiryDatetime``  ``expiry`` (ISO 8601 UTC)
``strike``          ``strike``; ``optionType`` → ``option_type``
``id``              ``security_id`` (the venue's own instrument ID),
                    ``security_id_source`` ``venue``
``precision``       ``price_increment`` (``price``), ``quantity_increment``
                    (``amount``): read as tick sizes
==================  ===========================================================

ccxt states ``precision`` as tick sizes (its ``TICK_SIZE`` precision mode) for every exchange
it ships but two: Bitfinex and Bithumb state significant digits, which a markets dump cannot
tell apart from a step (``5`` could be either). Their precision is only used to show figures
(tables and the page round to the step's decimal places), never to value anything.

CCXT prices and amounts are in natural units already, so no ``price_scale`` or
``quantity_scale`` is set. An entry that is not a market is refused alone, with its symbol and
reason, and recorded as nothing: a definition is never guessed. Every ccxt market states its
``symbol`` and ``type`` as text, so an entry without them (``{"symbol": 5}``) is not one. A
market is a contract when its ``type`` is one (swap, future, delivery, option) or any of its
flags ``contract``, ``swap``, ``future``, ``option``, ``linear``, ``inverse`` is true (ccxt sets
``linear``/``inverse`` on contracts only); a contract needs a positive ``contractSize``, since
valuing it as 1 could misstate its P&L a hundredfold. A flag that is not true, false or null,
and a spot ``type`` with a contract flag, contradict themselves and are refused too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orderledger.infrastructure.adapters.common import (
    AdapterError,
    message,
    positive_text,
    text_or_none,
    time_from_iso,
)
from orderledger.infrastructure.messages.models import InstrumentMessage

KINDS = {
    "spot": "spot",
    "margin": "spot",
    "swap": "swap",
    "future": "future",
    "delivery": "future",
    "option": "option",
}
CONTRACT_TYPES = ("swap", "future", "delivery", "option")
CONTRACT_FLAGS = ("contract", "swap", "future", "option", "linear", "inverse")
"""Flags of a ccxt market that are true on contracts only."""
SOURCE = "ccxt-markets"


def market_list(markets: Any) -> list[Any]:
    """The markets of a dump: the values of ``load_markets()``'s dict, or a list as is."""
    if isinstance(markets, Mapping):
        return list(markets.values())
    if isinstance(markets, list):
        return markets
    raise AdapterError("a CCXT markets dump is an object of symbol → market, or a list of markets")


def markets_messages(
    markets: Any,
    *,
    venue: str,
    ts: str,
    instrument_of: Callable[[str], str] | None = None,
) -> list[InstrumentMessage]:
    """One ``instrument`` message per market of a CCXT markets dump, recorded at ``ts``."""
    return [market_message(m, venue=venue, ts=ts, instrument_of=instrument_of) for m in market_list(markets)]


def market_message(
    market: Any, *, venue: str, ts: str, instrument_of: Callable[[str], str] | None = None
) -> InstrumentMessage:
    """The ``instrument`` message of one CCXT market."""
    if not isinstance(market, Mapping):
        raise AdapterError("a CCXT market must be an object")
    symbol = _text(market, "symbol", "its")
    kind = _text(market, "type", f"{symbol}'s")
    flags = []
    for flag in CONTRACT_FLAGS:
        value = market.get(flag)
        if value is not None and not isinstance(value, bool):  # 1 == True: test the type
            raise AdapterError(
                f"market {symbol}: {flag} must be true, false or null, not {str(value)[:40]!r}"
            )
        if value is True:
            flags.append(flag)
    if flags and KINDS.get(kind) == "spot":
        raise AdapterError(f"market {symbol}: type {kind} but {flags[0]} is true")
    contract = bool(flags) or kind in CONTRACT_TYPES
    contract_size = None
    if contract:
        contract_size = positive_text(market.get("contractSize"), f"{symbol} contractSize")
        if contract_size is None:
            # Valuing it as 1 could misstate P&L a hundredfold: refuse rather than guess.
            raise AdapterError(f"market {symbol}: a contract without a positive contractSize")
    option_type = text_or_none(market.get("optionType"))
    venue_id = text_or_none(market.get("id"))
    precision = market.get("precision")
    steps = precision if isinstance(precision, Mapping) else {}
    return message(
        InstrumentMessage,
        kind=KINDS.get(kind, "other"),
        venue=venue,
        instrument=instrument_of(symbol) if instrument_of else symbol,
        ts=ts,
        source=SOURCE,
        contract_size=contract_size,
        settlement=("inverse" if market.get("inverse") is True else "linear") if contract else None,
        settle_currency=text_or_none(market.get("settle")),
        base_currency=text_or_none(market.get("base")),
        quote_currency=text_or_none(market.get("quote")),
        underlying=text_or_none(market.get("base")) if contract else None,
        expiry=time_from_iso(market.get("expiryDatetime"), f"{symbol} expiryDatetime"),
        strike=positive_text(market.get("strike"), f"{symbol} strike"),
        option_type=None if option_type is None else option_type.lower(),
        price_increment=positive_text(steps.get("price"), f"{symbol} precision.price"),
        quantity_increment=positive_text(steps.get("amount"), f"{symbol} precision.amount"),
        security_id=venue_id,
        security_id_source="venue" if venue_id else None,
    )


def _text(market: Mapping[str, Any], key: str, what: str) -> str:
    """A field every ccxt market states as text (its symbol, its type)."""
    value = market.get(key)
    if not isinstance(value, str) or not value.strip():
        shown = "none" if value is None else repr(value)[:40]
        raise AdapterError(f"not a CCXT market: {what} {key} must be text, not {shown}")
    return value.strip()


__all__ = ["market_list", "market_message", "markets_messages"]
