"""Instruments: what one unit of order quantity is, and what a quantity of it is worth.

An instrument's definition (contract size, linear or inverse settlement, currencies, option
terms) is recorded as an ``InstrumentDefined`` event on its own aggregate, keyed by (venue,
instrument). The same definition again records nothing; a changed one records the next
version. Positions value every fill with the definition in force when the fill is booked (log
order), so a rebuild reproduces P&L exactly, and each P&L figure names the version it used.

Valuing contracts (``Terms``):

* linear: value = quantity × contract_size × price, in the quote (or settle) currency; a long
  realizes (exit − average) × quantity × contract_size;
* inverse: value = quantity × contract_size / price, in the settlement coin; a long realizes
  quantity × contract_size × (1/average − 1/exit), a short the opposite, and the average entry
  is the contract-weighted harmonic mean of the entry prices.

Both are one rule: P&L = sense × direction × (value at exit − value at entry), with sense +1
for linear and −1 for inverse (an inverse contract's coin value falls as the price rises).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from orderledger.domain.decisions import Stamp
from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import InstrumentDefined
from orderledger.domain.values import AVERAGE, WIDE

INSTRUMENT_NAMESPACE = UUID("3c0f6f8e-2b7d-4f55-a0d8-6a1f5e9b7c21")
"""Distinct from the orders' namespace: an instrument's aggregate never collides with an order's."""

KINDS = ("spot", "swap", "future", "option", "equity", "other")
SETTLEMENTS = ("linear", "inverse")
OPTION_TYPES = ("call", "put")
ONE = Decimal(1)


def instrument_id_for(venue: str, instrument: str) -> UUID:
    """The aggregate ID of an instrument's definitions: a UUID5 of (venue, instrument).

    Identifiers cannot hold control characters, so the newline joining the two is unambiguous.
    """
    return uuid5(INSTRUMENT_NAMESPACE, f"{venue}\n{instrument}")


@dataclass(frozen=True)
class Definition:
    """What an instrument is (every field of ``InstrumentDefined`` beyond its header)."""

    kind: str | None = field(default=None, metadata={"choices": KINDS, "doc": "what it is"})
    contract_size: Decimal = field(
        default=ONE,
        metadata={
            "shape": "decimal, > 0",
            "doc": "what one unit of order quantity is worth in the underlying (OKX BTC-USDT-SWAP"
            " `0.01`, a US equity option `100`, Bybit BTCUSD `1` USD). Default 1",
        },
    )
    settlement: str = field(
        default="linear",
        metadata={
            "choices": SETTLEMENTS,
            "doc": "linear (default): P&L in the quote currency; inverse: P&L in the settlement coin,"
            " by quantity × contract_size × (1/entry − 1/exit). An inverse definition needs"
            " `settle_currency` or `base_currency`",
        },
    )
    settle_currency: str | None = field(
        default=None,
        metadata={"doc": "the currency P&L is booked in (else quote for linear, base for inverse)"},
    )
    base_currency: str | None = field(default=None, metadata={"doc": "the pair's base currency"})
    quote_currency: str | None = field(default=None, metadata={"doc": "the pair's quote currency"})
    underlying: str | None = field(
        default=None, metadata={"doc": "what a derivative is on (an option's stock, a swap's coin)"}
    )
    expiry: str | None = field(default=None, metadata={"doc": "expiry date or time, as the venue states it"})
    strike: Decimal | None = field(
        default=None, metadata={"shape": "decimal, > 0", "doc": "an option's strike"}
    )
    option_type: str | None = field(
        default=None, metadata={"choices": OPTION_TYPES, "doc": "an option's kind"}
    )
    price_increment: Decimal | None = field(
        default=None,
        metadata={
            "shape": "decimal, > 0",
            "doc": "the venue's price step (tick size; ccxt's market `precision.price`). Tables and the"
            " page show prices to its decimal places",
        },
    )
    quantity_increment: Decimal | None = field(
        default=None,
        metadata={
            "shape": "decimal, > 0",
            "doc": "the venue's quantity step (lot size; ccxt's market `precision.amount`). Tables and"
            " the page show quantities to its decimal places",
        },
    )
    price_scale: int | None = field(
        default=None,
        metadata={
            "shape": "whole number 0–18",
            "doc": "for adapters that read integer-scaled venue prices; positions do not rescale",
        },
    )
    quantity_scale: int | None = field(
        default=None,
        metadata={
            "shape": "whole number 0–18",
            "doc": "for adapters that read integer-scaled venue quantities; positions do not rescale",
        },
    )
    security_id: str | None = field(
        default=None,
        metadata={"doc": "the venue's own instrument ID (FIX 48; `venue` from ccxt's market `id`)"},
    )
    security_id_source: str | None = field(
        default=None, metadata={"doc": "what kind of ID `security_id` is (FIX 22)"}
    )

    def check(self) -> None:
        """Refuse a definition positions could not value (one-line error)."""
        if self.contract_size <= 0 or not self.contract_size.is_finite():
            raise InvalidInputError("contract_size must be a positive number", field="contract_size")
        for name in ("price_increment", "quantity_increment"):
            step = getattr(self, name)
            if step is not None and (step <= 0 or not step.is_finite()):
                raise InvalidInputError(f"{name} must be a positive number", field=name)
        if self.settlement not in SETTLEMENTS:
            raise InvalidInputError(f"settlement must be one of {'|'.join(SETTLEMENTS)}", field="settlement")
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {'|'.join(KINDS)}", field="kind")
        if self.option_type is not None and self.option_type not in OPTION_TYPES:
            raise InvalidInputError(
                f"option_type must be one of {'|'.join(OPTION_TYPES)}", field="option_type"
            )
        if self.settlement == "inverse" and not (self.settle_currency or self.base_currency):
            # Inverse P&L is in a coin: without one named, no figure could say what it is in.
            raise InvalidInputError(
                "an inverse instrument needs settle_currency or base_currency (its P&L is in that coin)",
                field="settle_currency",
            )


def definition_of(event: InstrumentDefined) -> Definition:
    """The definition an event records."""
    return Definition(**{name: getattr(event, name) for name in Definition.__dataclass_fields__})


def define(
    current: InstrumentDefined | None,
    venue: str,
    instrument: str,
    definition: Definition,
    stamp: Stamp,
) -> InstrumentDefined | None:
    """The event recording ``definition``, or None when it is already the one in force.

    A definition is compared whole: a restatement that leaves out a field the previous version
    had is a change (the new version is what the sender says the instrument is now).
    """
    definition.check()
    if current is not None and definition_of(current) == definition:
        return None
    stated: dict[str, Any] = asdict(definition)
    return InstrumentDefined(
        originator_id=instrument_id_for(venue, instrument),
        originator_version=1 if current is None else current.originator_version + 1,
        ts_event=stamp.ts_event,
        ts_recorded=stamp.ts_recorded,
        source=stamp.source,
        venue=venue,
        instrument=instrument,
        **stated,
    )


@dataclass(frozen=True)
class Terms:
    """How positions value a quantity of an instrument: the part of a definition P&L needs.

    ``version`` 0 means no definition was recorded: one unit of quantity is one unit of the
    underlying, linear, and P&L is in the fill's quote currency (the ledger's behaviour for
    instruments nobody defined).
    """

    contract_size: Decimal = ONE
    settlement: str = "linear"
    pnl_currency: str | None = None
    version: int = 0

    @property
    def inverse(self) -> bool:
        """True when P&L is booked in the settlement coin (value = quantity × size / price)."""
        return self.settlement == "inverse"

    @property
    def sense(self) -> Decimal:
        """+1 when value rises with the price (linear), −1 when it falls (inverse)."""
        return Decimal(-1) if self.inverse else ONE

    def value(self, quantity: Decimal, price: Decimal) -> Decimal:
        """What ``quantity`` contracts are worth at ``price``, in the P&L currency.

        Linear values are exact (100-digit products); an inverse value is a division, made in
        one fixed 34-digit context so that every rebuild yields the same digits.
        """
        units = WIDE.multiply(quantity, self.contract_size)
        return AVERAGE.divide(units, price) if self.inverse else WIDE.multiply(units, price)

    def average_price(self, quantity: Decimal, cost: Decimal) -> Decimal | None:
        """The average entry price of ``quantity`` contracts that cost ``cost`` (value terms).

        Linear: cost / (quantity × size), the weighted mean. Inverse: (quantity × size) / cost,
        the contract-weighted harmonic mean of the entry prices.
        """
        if quantity == 0 or cost == 0:
            return None
        units = WIDE.multiply(abs(quantity), self.contract_size)
        return AVERAGE.divide(units, cost) if self.inverse else AVERAGE.divide(cost, units)


def terms_of(event: InstrumentDefined) -> Terms:
    """The terms a definition gives positions."""
    if event.settlement == "inverse":
        currency = event.settle_currency or event.base_currency
    else:
        currency = event.settle_currency or event.quote_currency
    return Terms(event.contract_size, event.settlement, currency, event.originator_version)


__all__ = [
    "Definition",
    "Terms",
    "define",
    "definition_of",
    "instrument_id_for",
    "terms_of",
]
