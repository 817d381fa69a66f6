"""The rules that value a fee in the P&L currency (projections.fees), each figure by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from orderledger.projections.fees import (
    FeeValuation,
    MarkLookup,
    Paid,
    Rate,
    net_of_fees,
    rate_of,
    valuations,
)

NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _paid(instrument: str, fee: str, currency: str | None, pnl: str | None, price: str = "100") -> Paid:
    return Paid("v", instrument, NOON, Decimal(price), Decimal(fee), currency, pnl)


def _marks(*marks: tuple[str, int, str, str]) -> MarkLookup:
    """A lookup over (pair, hour, source, price) marks at venue v, as queries.recorded_rates
    chooses: the latest at or before the fill, ties of one time by source."""

    def lookup(venue: str, pairs: tuple[str, ...], at: datetime) -> Rate | None:
        found = [
            (datetime(2026, 11, 20, hour, tzinfo=UTC), source, pair, Decimal(price))
            for pair, hour, source, price in marks
            if pair in pairs and datetime(2026, 11, 20, hour, tzinfo=UTC) <= at
        ]
        if not found:
            return None
        when, source, pair, price = max(found)
        return Rate(price, "mark", pair, when, source)

    return lookup


def test_a_fee_in_the_base_coin_is_valued_at_the_fills_price() -> None:
    # 0.01 BTC on BTC-USDT at 100: 0.01 × 100 = 1 USDT
    rate = rate_of(_paid("BTC-USDT", "0.01", "BTC", "USDT"), _marks())
    assert rate == Rate(Decimal(100), "fill", "BTC-USDT")
    # An inverse contract's P&L is in its coin: a fee of 5 USD at a price of 100 is 5 × 1/100 = 0.05 BTC
    inverse = rate_of(_paid("BTC/USD:BTC", "5", "USD", "BTC"), _marks())
    assert inverse is not None and inverse.rate * 5 == Decimal("0.05")


def test_a_third_currency_takes_the_latest_mark_at_or_before_the_fill() -> None:
    marks = _marks(
        ("BNB/USDT", 11, "a", "590"),
        ("BNB-USDT", 11, "b", "600"),  # same time: source b after a
        ("BNB/USDT", 13, "a", "650"),  # after the fill
    )
    rate = rate_of(_paid("BTC-USDT", "0.05", "BNB", "USDT"), marks)
    assert rate is not None and (rate.rate, rate.instrument, rate.mark_source) == (
        Decimal(600),
        "BNB-USDT",
        "b",
    )
    # No mark of the pair, or a fee without a currency: no rate
    assert rate_of(_paid("BTC-USDT", "1", "ETH", "USDT"), marks) is None
    assert rate_of(_paid("BTC-USDT", "1", None, "USDT"), marks) is None


def test_net_is_one_number_only_when_every_fee_has_a_rate() -> None:
    # Realized 1000 USDT; fees 2 USDT, 0.01 BTC at 100 (1 USDT) and 0.05 BNB at 600 (30 USDT)
    marks = _marks(("BNB/USDT", 11, "a", "600"))
    fills = [
        ("k", _paid("BTC-USDT", "2", "USDT", "USDT")),
        ("k", _paid("BTC-USDT", "0.01", "BTC", "USDT")),
        ("k", _paid("BTC-USDT", "0.05", "BNB", "USDT")),
    ]
    fees = {"USDT": Decimal(2), "BTC": Decimal("0.01"), "BNB": Decimal("0.05")}
    valued = valuations(fills, marks)["k"]
    # 1000 − 2 − 1 − 30 = 967
    assert net_of_fees(Decimal(1000), fees, "USDT", valued) == 967
    assert {c: v.value for c, v in valued.values().items()} == {"BNB": 30, "BTC": 1}
    # Without the BNB rate the BNB fee is unvalued and net is None; the fees as paid are unchanged
    unrated = valuations(fills, _marks())["k"]
    assert (unrated.unvalued(), net_of_fees(Decimal(1000), fees, "USDT", unrated)) == (("BNB",), None)
    # And without any valuation, a fee in another currency leaves net None
    assert net_of_fees(Decimal(1000), fees, "USDT") is None


def test_fees_valued_at_several_rates_give_the_average_rate_and_how_many() -> None:
    # 0.01 BTC at 100 (1 USDT) and 0.03 BTC at 120 (3.6 USDT): 4.6 USDT for 0.04 BTC, 115 on average
    valuation = FeeValuation()
    valuation.add(Decimal("0.01"), "BTC", Rate(Decimal(100), "fill", "BTC-USDT"))
    valuation.add(Decimal("0.03"), "BTC", Rate(Decimal(120), "fill", "BTC-USDT"))
    [(currency, value)] = valuation.values().items()
    assert (currency, value.amount, value.value, value.rate, value.rates) == (
        "BTC",
        Decimal("0.04"),
        Decimal("4.6"),
        Decimal(115),
        2,
    )
