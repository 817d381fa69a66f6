"""How many decimal places a person is shown: the one rule behind the tables and the page.

Display only: the ledger, its JSON, Python rows and exports keep every figure exact. The rule:

* a price is shown to the decimal places of its instrument's ``price_increment`` (tick size,
  from the instrument's definition: ``instruments load`` reads ccxt's ``precision.price``), a
  quantity to those of its ``quantity_increment``; an instrument without a definition that
  states them is shown to ``DEFAULT_PLACES``;
* money (P&L, fees, funding, notional) to its currency's places: ``CASH_PLACES`` for the fiat
  currencies and dollar and euro stablecoins in ``CASH_CURRENCIES``, ``COIN_PLACES`` for any
  other currency (a coin's fee of 0.00000412 BTC must not show as 0.00).

A step's places are the digits after its decimal point: 0.01 → 2, 0.5 → 1, 0.0005 → 4, 1 or 5 → 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts
    from orderledger.infrastructure.results.log import InstrumentRow

DEFAULT_PLACES = 8
"""Places of a price or quantity whose instrument states no step."""
CASH_PLACES = 2
COIN_PLACES = 8
CASH_CURRENCIES = frozenset(
    {
        # fiat
        "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SGD", "HKD", "SEK", "NOK", "DKK",
        # dollar and euro stablecoins
        "USDT", "USDC", "BUSD", "TUSD", "USDP", "FDUSD", "DAI", "PYUSD", "USDE", "EURC", "EURT",
    }
)  # fmt: skip
"""Currencies shown to CASH_PLACES (cents); every other currency is shown to COIN_PLACES."""


def step_places(step: Decimal | None) -> int:
    """Decimal places of a price or quantity step (DEFAULT_PLACES when there is none)."""
    if step is None:
        return DEFAULT_PLACES
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a step is a positive finite number (Definition.check)
    return max(0, -exponent)


def currency_places(currency: str | None) -> int:
    """Decimal places money in ``currency`` is shown to."""
    return CASH_PLACES if currency in CASH_CURRENCIES else COIN_PLACES


class Precision:
    """Places per instrument, read once from the definitions in force (``ledger.venues.instruments()``)."""

    def __init__(self, definitions: Iterable[InstrumentRow] = ()) -> None:
        self.steps: dict[tuple[str, str], tuple[int, int]] = {
            (d.venue, d.instrument): (
                step_places(d.definition.price_increment),
                step_places(d.definition.quantity_increment),
            )
            for d in definitions
        }

    @classmethod
    def of(cls, ledger: LedgerParts) -> Precision:
        """The places of every instrument defined in ``ledger`` (its definitions in force)."""
        return cls(ledger.venues.instruments())

    def places(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The places to show a row's figures to (a row as ``to_json`` writes it):
        ``price`` and ``quantity`` of its instrument, ``money`` of its P&L currency (a trade's:
        its fee currency), and ``currencies``: each currency its fees and cash flows are in."""
        price, quantity = self.steps.get(
            (row.get("venue") or "", row.get("instrument") or ""), (DEFAULT_PLACES, DEFAULT_PLACES)
        )
        money = row["pnl_currency"] if "pnl_currency" in row else row.get("fee_currency")
        named = [money, *(row.get("fees") or ()), *(row.get("funding") or ())]
        return {
            "price": price,
            "quantity": quantity,
            "money": currency_places(money),
            "currencies": {c: currency_places(c) for c in dict.fromkeys(named) if c is not None},
        }

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its ``precision`` (``places``) added: the one extra field the page reads."""
        row["precision"] = self.places(row)
        return row


__all__ = [
    "CASH_CURRENCIES",
    "CASH_PLACES",
    "COIN_PLACES",
    "DEFAULT_PLACES",
    "Precision",
    "currency_places",
    "step_places",
]
