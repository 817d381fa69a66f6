"""Instruments in the positions fold, pure: contract sizes, inverse settlement, redefinitions.

Given an instrument's definition and fills, then the position and its P&L entries are what
the figures worked out by hand in each test say. No I/O: the fold runs on in-memory tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.decisions import Stamp
from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import FillBusted, InstrumentDefined, OrderEvent, OrderFilled
from orderledger.domain.instrument import Definition, Terms, define, instrument_id_for
from orderledger.domain.order import order_id_for
from orderledger.domain.values import AVERAGE, WIDE, Side
from orderledger.projections.base import fold
from orderledger.projections.book import PnlEntry, Position
from orderledger.projections.positions import PNL_TABLE, POSITIONS_TABLE, PositionsProjection

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
STAMP = Stamp(T0, T0, "test")


def defined(venue: str, instrument: str, version: int = 1, **fields: Any) -> InstrumentDefined:
    """The definition event a ledger records for ``fields`` (version ``version``)."""
    return InstrumentDefined(
        originator_id=instrument_id_for(venue, instrument),
        originator_version=version,
        ts_event=T0,
        ts_recorded=T0,
        source="test",
        venue=venue,
        instrument=instrument,
        **fields,
    )


def fill(
    n: int,
    side: Side,
    qty: str,
    px: str,
    *,
    venue: str,
    instrument: str,
    quote: str | None,
    fee: str | None = None,
) -> OrderFilled:
    """Trade ``t{n}`` of order ``o{n}`` at account ``acc``."""
    return OrderFilled(
        originator_id=order_id_for(f"o{n}"),
        originator_version=2,
        ts_recorded=T0,
        ts_event=T0 + timedelta(seconds=n),
        source="test",
        client_order_id=f"o{n}",
        account="acc",
        venue=venue,
        instrument=instrument,
        trade_id=f"t{n}",
        last_qty=Decimal(qty),
        last_px=Decimal(px),
        side=side,
        fee=None if fee is None else Decimal(fee),
        fee_currency=None if fee is None else "BTC",
        quote_currency=quote,
    )


def run(events: list[OrderEvent]) -> tuple[dict[Any, Position], list[PnlEntry]]:
    tables = fold(PositionsProjection(), list(enumerate(events, start=1)))
    entries = [tables[PNL_TABLE.name].rows[k] for k in sorted(tables[PNL_TABLE.name].rows)]
    return dict(tables[POSITIONS_TABLE.name].rows), entries


OKX = {"venue": "okx", "instrument": "BTC-USDT-SWAP", "quote": "USDT"}
BYBIT = {"venue": "bybit", "instrument": "BTCUSD", "quote": "USD"}
OKX_SWAP: dict[str, Any] = {
    "kind": "swap",
    "contract_size": Decimal("0.01"),
    "settle_currency": "USDT",
    "quote_currency": "USDT",
}
BYBIT_INVERSE: dict[str, Any] = {
    "kind": "swap",
    "contract_size": Decimal(1),
    "settlement": "inverse",
    "settle_currency": "BTC",
    "base_currency": "BTC",
    "quote_currency": "USD",
}


def test_a_linear_swap_scales_realized_pnl_by_its_contract_size() -> None:
    # Given OKX BTC-USDT-SWAP, one contract = 0.01 BTC
    # When buy 10 contracts at 60000, sell 10 at 61000
    # Then realized = (61000 − 60000) × 10 × 0.01 = 100 USDT (not 10000)
    positions, entries = run(
        [
            defined("okx", "BTC-USDT-SWAP", **OKX_SWAP),
            fill(1, Side.BUY, "10", "60000", **OKX),
            fill(2, Side.SELL, "10", "61000", **OKX),
        ]
    )
    book = positions[("acc", "okx", "BTC-USDT-SWAP")]
    assert book.realized_pnl == Decimal(100)
    assert book.quantity == 0
    assert book.pnl_currency == "USDT"
    assert book.terms == Terms(Decimal("0.01"), "linear", "USDT", 1)
    assert [e.realized for e in entries] == [0, 100]
    assert [e.terms.version for e in entries] == [1, 1]


def test_a_linear_average_and_unrealized_pnl_use_the_contract_size() -> None:
    # Buy 10 at 60000 and 10 at 62000 (contract 0.01): cost = 10×0.01×60000 + 10×0.01×62000
    # = 6000 + 6200 = 12200 USDT; average = 12200 / (20 × 0.01) = 61000.
    # Unrealized at 61500: (61500 − 61000) × 20 × 0.01 = 100 USDT.
    positions, _ = run(
        [
            defined("okx", "BTC-USDT-SWAP", **OKX_SWAP),
            fill(1, Side.BUY, "10", "60000", **OKX),
            fill(2, Side.BUY, "10", "62000", **OKX),
        ]
    )
    book = positions[("acc", "okx", "BTC-USDT-SWAP")]
    assert book.cost == Decimal(12200)
    assert book.average_price == Decimal(61000)
    assert book.unrealized_pnl(Decimal(61500)) == Decimal(100)
    # Notional at 61500: 20 × 0.01 × 61500 = 12300 USDT; without a mark, the cost 12200.
    assert (book.notional(Decimal(61500)), book.notional(None)) == (Decimal(12300), Decimal(12200))


def test_an_equity_option_is_100_shares_and_never_nets_with_its_underlying() -> None:
    # Given AAPL240621C00190000, one contract = 100 shares, and AAPL itself undefined (1 share)
    # When buy 2 options at 3.50, sell 2 at 4.25; and buy 100 AAPL at 190, sell 100 at 191
    # Then the option realizes (4.25 − 3.50) × 2 × 100 = 150 USD,
    #  the stock (191 − 190) × 100 × 1 = 100 USD, in two separate positions.
    option = {"venue": "nasdaq", "instrument": "AAPL240621C00190000", "quote": "USD"}
    stock = {"venue": "nasdaq", "instrument": "AAPL", "quote": "USD"}
    positions, _ = run(
        [
            defined(
                "nasdaq",
                "AAPL240621C00190000",
                kind="option",
                contract_size=Decimal(100),
                quote_currency="USD",
                underlying="AAPL",
                expiry="2024-06-21",
                strike=Decimal(190),
                option_type="call",
            ),
            fill(1, Side.BUY, "2", "3.50", **option),
            fill(2, Side.BUY, "100", "190", **stock),
            fill(3, Side.SELL, "2", "4.25", **option),
            fill(4, Side.SELL, "100", "191", **stock),
        ]
    )
    assert positions[("acc", "nasdaq", "AAPL240621C00190000")].realized_pnl == Decimal(150)
    assert positions[("acc", "nasdaq", "AAPL")].realized_pnl == Decimal(100)
    assert positions[("acc", "nasdaq", "AAPL")].terms.version == 0  # undefined: 1 unit per unit


def test_an_inverse_perpetual_books_pnl_in_the_coin() -> None:
    # Given Bybit BTCUSD inverse, one contract = 1 USD, settled in BTC
    # When long 1000 contracts at 50000, close at 55000
    # Then realized = 1000 × 1 × (1/50000 − 1/55000) = 0.02 − 0.0181818… = 0.0018181818… BTC
    positions, entries = run(
        [
            defined("bybit", "BTCUSD", **BYBIT_INVERSE),
            fill(1, Side.BUY, "1000", "50000", **BYBIT),
            fill(2, Side.SELL, "1000", "55000", **BYBIT),
        ]
    )
    book = positions[("acc", "bybit", "BTCUSD")]
    expected = WIDE.subtract(Decimal("0.02"), AVERAGE.divide(Decimal(1000), Decimal(55000)))
    assert book.realized_pnl == expected
    assert expected.quantize(Decimal("1e-16")) == Decimal("0.0018181818181818")
    assert book.pnl_currency == "BTC"
    assert entries[-1].pnl_currency == "BTC"


def test_an_inverse_short_loses_when_the_price_rises() -> None:
    # Short 1000 at 50000, buy back at 55000: 1000 × (1/55000 − 1/50000) = −0.0018181818… BTC
    positions, _ = run(
        [
            defined("bybit", "BTCUSD", **BYBIT_INVERSE),
            fill(1, Side.SELL, "1000", "50000", **BYBIT),
            fill(2, Side.BUY, "1000", "55000", **BYBIT),
        ]
    )
    expected = WIDE.subtract(AVERAGE.divide(Decimal(1000), Decimal(55000)), Decimal("0.02"))
    assert positions[("acc", "bybit", "BTCUSD")].realized_pnl == expected
    assert expected < 0


def test_an_inverse_average_entry_is_the_contract_weighted_harmonic_mean() -> None:
    # Long 1000 at 50000 and 1000 at 40000: coin cost = 1000/50000 + 1000/40000 = 0.02 + 0.025
    # = 0.045 BTC; average = 2000 / 0.045 = 44444.44… (the harmonic mean, not 45000).
    # Unrealized at 50000: 0.045 − 2000/50000 = 0.045 − 0.04 = 0.005 BTC
    #  (= 2000 × (1/44444.44… − 1/50000) = 2000 × 0.0000025).
    # Close 500 at 50000: removes 500/2000 of the cost = 0.01125, worth 500/50000 = 0.01:
    #  realized 0.00125 BTC; the average stays 44444.44….
    events: list[OrderEvent] = [
        defined("bybit", "BTCUSD", **BYBIT_INVERSE),
        fill(1, Side.BUY, "1000", "50000", **BYBIT),
        fill(2, Side.BUY, "1000", "40000", **BYBIT),
    ]
    positions, _ = run(events)
    book = positions[("acc", "bybit", "BTCUSD")]
    assert book.cost == Decimal("0.045")
    assert book.average_price == AVERAGE.divide(Decimal(2000), Decimal("0.045"))
    assert str(book.average_price).startswith("44444.44444")
    assert book.unrealized_pnl(Decimal(50000)) == Decimal("0.005")
    # Notional at 50000: 2000 contracts of 1 USD are worth 2000 / 50000 = 0.04 BTC.
    assert book.notional(Decimal(50000)) == Decimal("0.04")
    positions, _ = run([*events, fill(3, Side.SELL, "500", "50000", **BYBIT)])
    book = positions[("acc", "bybit", "BTCUSD")]
    assert book.realized_pnl == Decimal("0.00125")
    assert book.average_price == AVERAGE.divide(Decimal(2000), Decimal("0.045"))


def test_inverse_through_zero_opens_the_remainder_at_the_fill_price() -> None:
    # Long 1000 at 50000 (cost 0.02), sell 1500 at 40000: 1000 close at 40000 is worth
    # 1000/40000 = 0.025, so realized = −(0.025 − 0.02) = −0.005 BTC (a long loses as it falls);
    # the remaining 500 short opens at 40000: cost 500/40000 = 0.0125, average 40000.
    positions, _ = run(
        [
            defined("bybit", "BTCUSD", **BYBIT_INVERSE),
            fill(1, Side.BUY, "1000", "50000", **BYBIT),
            fill(2, Side.SELL, "1500", "40000", **BYBIT),
        ]
    )
    book = positions[("acc", "bybit", "BTCUSD")]
    assert book.realized_pnl == Decimal("-0.005")
    assert book.quantity == -500
    assert book.cost == Decimal("0.0125")
    assert book.average_price == Decimal(40000)


def test_a_bust_of_an_inverse_close_restores_the_coin_position() -> None:
    # Long 1000 at 50000, close at 55000 (realized 0.0018…), then the close is busted:
    # realized back to 0, long 1000 at 50000 again, the fee of the busted fill (0.00001 BTC) gone.
    closing = fill(2, Side.SELL, "1000", "55000", fee="0.00001", **BYBIT)
    bust = FillBusted(
        originator_id=closing.originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0,
        source="test",
        client_order_id="o2",
        account="acc",
        venue="bybit",
        instrument="BTCUSD",
        trade_id="t2",
        side=Side.SELL,
        last_qty=Decimal(1000),
        last_px=Decimal(55000),
        fill_ts_event=closing.ts_event,
    )
    positions, _ = run(
        [
            defined("bybit", "BTCUSD", **BYBIT_INVERSE),
            fill(1, Side.BUY, "1000", "50000", **BYBIT),
            closing,
            bust,
        ]
    )
    book = positions[("acc", "bybit", "BTCUSD")]
    assert (book.quantity, book.realized_pnl, book.fees) == (1000, 0, {})
    assert book.average_price == Decimal(50000)


def test_each_fill_uses_the_definition_in_force_when_it_is_booked() -> None:
    # v1: contract 0.01. Buy 10 at 60000, sell 10 at 61000: 1000 × 10 × 0.01 = 100 USDT.
    # v2: contract 0.1.  Buy 10 at 60000, sell 10 at 61000: 1000 × 10 × 0.1 = 1000 USDT.
    # Total 1100; each P&L entry names the version it used.
    positions, entries = run(
        [
            defined("okx", "BTC-USDT-SWAP", **OKX_SWAP),
            fill(1, Side.BUY, "10", "60000", **OKX),
            fill(2, Side.SELL, "10", "61000", **OKX),
            defined("okx", "BTC-USDT-SWAP", version=2, **{**OKX_SWAP, "contract_size": Decimal("0.1")}),
            fill(3, Side.BUY, "10", "60000", **OKX),
            fill(4, Side.SELL, "10", "61000", **OKX),
        ]
    )
    assert positions[("acc", "okx", "BTC-USDT-SWAP")].realized_pnl == Decimal(1100)
    assert [(e.realized, e.terms.version, e.terms.contract_size) for e in entries] == [
        (0, 1, Decimal("0.01")),
        (100, 1, Decimal("0.01")),
        (0, 2, Decimal("0.1")),
        (1000, 2, Decimal("0.1")),
    ]


def test_define_is_a_duplicate_when_unchanged_and_the_next_version_when_changed() -> None:
    first = define(None, "okx", "BTC-USDT-SWAP", Definition(contract_size=Decimal("0.01")), STAMP)
    assert first is not None and first.originator_version == 1
    # 0.010 is the same number as 0.01: the same definition.
    assert define(first, "okx", "BTC-USDT-SWAP", Definition(contract_size=Decimal("0.010")), STAMP) is None
    second = define(first, "okx", "BTC-USDT-SWAP", Definition(contract_size=Decimal("0.1")), STAMP)
    assert second is not None and second.originator_version == 2
    assert second.originator_id == instrument_id_for("okx", "BTC-USDT-SWAP") != order_id_for("BTC-USDT-SWAP")


def test_an_inverse_definition_without_a_coin_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="inverse instrument needs settle_currency"):
        define(None, "bybit", "BTCUSD", Definition(settlement="inverse"), STAMP)


def test_a_fill_before_any_definition_keeps_one_unit_per_contract() -> None:
    # Undefined: buy 2 at 100, sell 2 at 110 → (110 − 100) × 2 = 20 in the fill's quote currency.
    positions, entries = run([fill(1, Side.BUY, "2", "100", **OKX), fill(2, Side.SELL, "2", "110", **OKX)])
    assert positions[("acc", "okx", "BTC-USDT-SWAP")].realized_pnl == Decimal(20)
    assert entries[-1].terms == Terms(Decimal(1), "linear", "USDT", 0)
