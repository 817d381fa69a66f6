"""P&L in one desk currency through Python, on every backend: realized P&L in USDT and USDC
converted at the marks USDT/USD and USDC-USD and summed into one USD figure per group; a
currency without a mark is a one-line error naming the pair, never a rate of 1
(tests/support/desk_currency.py works the figures by hand)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderledger import InvalidInputError, OrderLedger, Outcome
from tests.support.desk_currency import BTC_USD, DESK_USD, ETH_USD, NO_USDC_RATE, USDC_MARK, USDT_MARK, fills


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    ledger = make_ledger()
    for line in fills():
        assert ledger.record(line).outcome is Outcome.APPLIED
    return ledger


def test_pnl_in_one_currency_sums_each_currency_at_its_recorded_rate(desk: OrderLedger) -> None:
    # Given 12.5 USDT and 3 USDC realized, and only USDT/USD marked
    assert [(r.pnl_currency, r.realized_pnl) for r in desk.pnl(by="account")] == [
        ("USDC", Decimal(3)),
        ("USDT", Decimal("12.5")),
    ]
    assert desk.record(USDT_MARK).outcome is Outcome.APPLIED
    # Then USD is refused in one line naming the missing pair
    with pytest.raises(InvalidInputError) as refused:
        desk.pnl(by="account", in_currency="USD")
    assert str(refused.value) == NO_USDC_RATE
    # When USDC-USD is marked too
    assert desk.record(USDC_MARK).outcome is Outcome.APPLIED
    # Then main's P&L is one USD row: 12.5 × 0.999 + 3 × 1.0002 = 12.4875 + 3.0006 = 15.4881, from 4 fills
    [row] = desk.pnl(by="account", in_currency="USD")
    assert (row.group, row.pnl_currency, row.realized_pnl, row.realized_pnl_net, row.fills) == (
        "main",
        "USD",
        DESK_USD,
        DESK_USD,
        4,
    )
    # And a currency asked in itself is as it is: the USDC row at rate 1, the USDT one at 1 / … never
    # guessed (no USDT/USDC mark)
    with pytest.raises(InvalidInputError, match=r"no mark of USDT/USDC \(or USDT-USDC\)"):
        desk.pnl(by="account", in_currency="USDC")


def test_positions_in_one_currency_convert_each_rows_pnl(desk: OrderLedger) -> None:
    assert desk.record(USDT_MARK).outcome is Outcome.APPLIED
    assert desk.record(USDC_MARK).outcome is Outcome.APPLIED
    # Each flat position's realized P&L in USD: 12.5 × 0.999 and 3 × 1.0002
    rows = desk.positions(in_currency="USD")
    assert [(r.instrument, r.pnl_currency, r.quote_currency, r.realized_pnl) for r in rows] == [
        ("BTC/USDT", "USD", "USDT", BTC_USD),
        ("ETH/USDC", "USD", "USDC", ETH_USD),
    ]
    # And as of 10:59 venue time (before the marks) there is no rate: one line naming the pair
    before = datetime(2026, 11, 20, 10, 59, tzinfo=UTC)
    missing = r"no mark of USDT/USD \(or USDT-USD\) recorded by 2026-11-20T10:59"
    with pytest.raises(InvalidInputError, match=missing):
        desk.positions(in_currency="USD", as_of=before, event_time=True)
