"""Exposure's arithmetic (``domain.exposure``), without a database: hand-worked cases and the
general rules as properties (netting is additive over accounts; a linear position of q at
contract size c is q × c units; the worst cases bracket the net)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderSpec
from orderledger.domain.exposure import (
    ExposureFigures,
    Holding,
    Working,
    exposure,
    underlying_of,
    units_of,
)
from orderledger.domain.instrument import Definition
from orderledger.domain.values import WIDE, OrderType, Side

D = Decimal
PERP = Definition(kind="swap", contract_size=D("0.5"), underlying="BTC", quote_currency="USDT")
INVERSE = Definition(
    kind="swap", contract_size=D("100"), settlement="inverse", base_currency="BTC", quote_currency="USD"
)
PUT = Definition(kind="option", option_type="put", contract_size=D("100"), underlying="AAPL")


def no_prices(venue: str, instrument: str) -> Decimal | None:
    return None


def test_an_instrument_maps_to_its_underlying_else_its_base_else_itself() -> None:
    # the explicit underlying wins over the base; without either, the instrument is its own
    both = Definition(underlying="XBT", base_currency="BTC")
    assert underlying_of("BTC-PERP", both).name == "XBT"
    assert underlying_of("BTC/USDT", Definition(base_currency="BTC")).name == "BTC"
    assert (underlying_of("ETH-USDT", None).name, underlying_of("ETH-USDT", None).source) == (
        "ETH-USDT",
        "instrument",
    )


def test_units_of_linear_inverse_and_option_contracts() -> None:
    # linear: −3 contracts × 0.5 = −1.5 BTC
    assert units_of(D("-3"), PERP, None) == D("-1.5")
    # inverse: 620 contracts × 100 USD / 64000 = 0.96875 BTC; without a price, unknown
    assert units_of(D("620"), INVERSE, D("64000")) == D("0.96875")
    assert units_of(D("620"), INVERSE, None) is None
    # a long put of 2 contracts × 100 shares is short 200 shares (at ±1 per unit: no delta)
    assert units_of(D("2"), PUT, None) == D("-200")
    # no definition: one unit per contract
    assert units_of(D("7"), None, None) == D("7")


def test_an_inverse_position_without_a_mark_is_listed_unpriced_not_dropped() -> None:
    # Given a long of 620 BTCUSD inverse contracts and no mark
    rows = exposure(
        [Holding("a", "inv", "BTCUSD", D("620"))],
        [],
        {("inv", "BTCUSD"): INVERSE},
        no_prices,
        ("underlying",),
    )
    # Then BTC has a row naming the leg it could not convert (no units, no value)
    assert [(r.underlying, r.net_units, r.net_value, r.unpriced) for r in rows] == [
        ("BTC", D(0), {}, ("inv:BTCUSD",))
    ]


def test_the_gross_value_sums_what_netting_hides() -> None:
    # Given long 3 BTC spot (base BTC) marked at 100 and short 4 perpetual contracts of 0.5 BTC
    # marked at 102, both in USDT, on two accounts
    spot = Definition(kind="spot", base_currency="BTC", quote_currency="USDT")
    held = [Holding("a", "s", "BTC-USDT", D("3")), Holding("b", "p", "BTC-PERP", D("-4"))]
    marks = {("s", "BTC-USDT"): D("100"), ("p", "BTC-PERP"): D("102")}
    definitions = {("s", "BTC-USDT"): spot, ("p", "BTC-PERP"): PERP}
    (row,) = exposure(held, [], definitions, lambda v, i: marks[(v, i)], ("underlying",))
    # Then the net is 3 − 4 × 0.5 = 1 BTC, worth 3 × 100 − 2 × 102 = 96 USDT, while the desk
    # holds |300| + |−204| = 504 USDT
    assert (row.net_units, row.net_value, row.gross_value) == (D(1), {"USDT": D(96)}, {"USDT": D(504)})


def test_open_orders_count_per_side_and_a_market_order_at_the_mark() -> None:
    # Given no position, a resting buy of 4 BTC-PERP at 59000, a sell of 2 at 63000 and a
    # market buy of 1 (mark 62000)
    orders = [
        Working("a", "p", "BTC-PERP", Side.BUY, D("4"), D("59000")),
        Working("a", "p", "BTC-PERP", Side.SELL, D("2"), D("63000")),
        Working("a", "p", "BTC-PERP", Side.BUY, D("1")),
    ]
    (row,) = exposure([], orders, {("p", "BTC-PERP"): PERP}, lambda v, i: D("62000"))
    # Then the long side is 4 × 0.5 + 1 × 0.5 = 2.5 BTC, worth 2 × 59000 + 0.5 × 62000 = 149000
    assert (row.open_long_units, row.worst_long_units, row.worst_long_value) == (
        D("2.5"),
        D("2.5"),
        {"USDT": D("149000")},
    )
    # And the short side −2 × 0.5 = −1 BTC, worth −1 × 63000
    assert (row.open_short_units, row.worst_short_units, row.worst_short_value) == (
        D("-1"),
        D("-1"),
        {"USDT": D("-63000")},
    )


def test_a_request_is_the_hypothetical_order_a_check_adds() -> None:
    spec = OrderSpec(
        client_order_id="h-1",
        account="a",
        venue="p",
        instrument="BTC-PERP",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=D("3"),
        price=D("1"),  # a market order's price is not where it fills: the mark is
    )
    assert Working.of(spec) == Working("a", "p", "BTC-PERP", Side.SELL, D("3"), None, None)


@pytest.mark.parametrize(
    ("by", "says"),
    [
        (("account",), "exposure is per underlying; include underlying"),
        (("account", "desk", "underlying"), "'desk' is not one of"),
        (("underlying", "underlying"), "at most once"),
    ],
)
def test_a_grouping_exposure_cannot_answer_is_refused_in_one_line(by: tuple[str, ...], says: str) -> None:
    with pytest.raises(InvalidInputError, match=says):
        exposure([], [], {}, no_prices, by)


# ---------------------------------------------------------------------- properties

ACCOUNTS = st.sampled_from(["a", "b", "c"])
INSTRUMENTS = st.sampled_from(["BTC-PERP", "BTCUSD", "AAPL-P", "ETH-USDT"])
DEFINED = {("v", "BTC-PERP"): PERP, ("v", "BTCUSD"): INVERSE, ("v", "AAPL-P"): PUT}
AMOUNTS = st.decimals(min_value=D("-1000"), max_value=D("1000"), places=3, allow_nan=False)
PRICES = st.decimals(min_value=D("0.001"), max_value=D("100000"), places=3, allow_nan=False)
HOLDINGS = st.lists(st.builds(Holding, ACCOUNTS, st.just("v"), INSTRUMENTS, AMOUNTS), max_size=12)
WORKING = st.lists(
    st.builds(
        Working,
        ACCOUNTS,
        st.just("v"),
        INSTRUMENTS,
        st.sampled_from(list(Side)),
        AMOUNTS.map(abs),
        st.none() | PRICES,
    ),
    max_size=12,
)
MARKS = st.fixed_dictionaries({name: st.none() | PRICES for name in ("BTC-PERP", "BTCUSD", "AAPL-P", "AAPL")})


def _summed(rows: list[ExposureFigures]) -> dict[str, tuple[object, ...]]:
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [D(0)] * 4)
    values: dict[tuple[str, str], Decimal] = defaultdict(lambda: D(0))
    for r in rows:
        for i, figure in enumerate((r.net_units, r.open_long_units, r.open_short_units, r.option_units)):
            totals[r.underlying][i] = WIDE.add(totals[r.underlying][i], figure)
        for currency, value in r.net_value.items():
            values[(r.underlying, currency)] = WIDE.add(values[(r.underlying, currency)], value)
    return {
        name: (*figures, *sorted((c, v) for (u, c), v in values.items() if u == name))
        for name, figures in totals.items()
    }


@settings(max_examples=150, deadline=None)
@given(HOLDINGS, WORKING, MARKS)
def test_netting_is_additive_over_accounts(
    held: list[Holding], orders: list[Working], marks: dict[str, Decimal | None]
) -> None:
    def prices(venue: str, instrument: str) -> Decimal | None:
        return marks.get(instrument)

    # Exposure across accounts is the sum of each account's, figure by figure and per currency
    per_account = exposure(held, orders, DEFINED, prices, ("account", "underlying"))
    across = exposure(held, orders, DEFINED, prices, ("underlying",))
    assert _summed(across) == _summed(per_account)
    # and a leg listed unpriced for an account is listed so across accounts
    for row in across:
        listed = {leg for r in per_account if r.underlying == row.underlying for leg in r.unpriced}
        assert set(row.unpriced) == listed


@settings(max_examples=150, deadline=None)
@given(AMOUNTS, st.decimals(min_value=D("0.0001"), max_value=D("1000"), places=4), PRICES)
def test_a_linear_position_of_q_at_contract_size_c_is_q_times_c_units(
    q: Decimal, c: Decimal, mark: Decimal
) -> None:
    defined = {("v", "X"): Definition(contract_size=c, base_currency="X0", quote_currency="Q")}
    rows = exposure([Holding("a", "v", "X", q)], [], defined, lambda v, i: mark)
    if not q:
        assert rows == []  # a flat position is exposure to nothing
        return
    (row,) = rows
    assert row.net_units == q * c and row.net_value == {"Q": q * c * mark}


@settings(max_examples=150, deadline=None)
@given(HOLDINGS, WORKING, MARKS)
def test_the_worst_cases_bracket_the_net(
    held: list[Holding], orders: list[Working], marks: dict[str, Decimal | None]
) -> None:
    for row in exposure(held, orders, DEFINED, lambda v, i: marks.get(i), ("account", "underlying")):
        assert row.worst_short_units <= row.net_units <= row.worst_long_units
        assert row.open_short_units <= 0 <= row.open_long_units


def test_values_in_one_currency_at_each_venues_rate_or_said_unconverted() -> None:
    # Given long 2 BTC spot worth 100 USDT each at venue s, short 3 perpetual contracts of 0.5 BTC
    # at 102 USD at venue p, and a rate of USD in USDT of 0.998 at p
    spot = Definition(kind="spot", base_currency="BTC", quote_currency="USDT")
    perp = Definition(kind="swap", contract_size=D("0.5"), underlying="BTC", quote_currency="USD")
    held = [Holding("a", "s", "BTC-USDT", D("2")), Holding("a", "p", "BTC-PERP", D("-3"))]
    marks = {("s", "BTC-USDT"): D("100"), ("p", "BTC-PERP"): D("102")}
    definitions = {("s", "BTC-USDT"): spot, ("p", "BTC-PERP"): perp}

    def rates(venue: str, currency: str) -> Decimal | None:
        return D("0.998") if (venue, currency) == ("p", "USD") else None

    def one(currency: str | None) -> ExposureFigures:
        (row,) = exposure(held, [], definitions, lambda v, i: marks[(v, i)], ("underlying",), currency, rates)
        return row

    # Then in USDT: 200 + (−1.5 × 102) × 0.998 = 200 − 152.694 = 47.306 net, 200 + 152.694 gross
    row = one("USDT")
    assert (row.in_currency, row.net_in, row.gross_in, row.unconverted) == (
        "USDT",
        D("47.306"),
        D("352.694"),
        (),
    )
    # And in USD there is no rate of USDT at s: neither figure, and the value without one named
    row = one("USD")
    assert (row.in_currency, row.net_in, row.gross_in, row.unconverted) == ("USD", None, None, ("s:USDT",))
    # And without a currency asked, none
    assert (one(None).in_currency, one(None).net_in, one(None).unconverted) == (None, None, ())
