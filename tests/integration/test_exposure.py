"""Exposure through the Python API on every backend (memory, SQLite file, PostgreSQL): a desk
long BTC spot, short a perpetual, long an inverse swap and a call, with open orders on both
sides, netted per account and across accounts (the figures are worked out by hand in
``tests/support/exposure.py``); the ccxt markets' definitions map instruments to their
underlying; the pre-trade check's hypothetical order; bad input refused in one line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from orderledger import AsyncOrderLedger, InvalidInputError, OrderLedger
from orderledger.domain.events import OrderSpec
from orderledger.domain.exposure import Working
from orderledger.domain.values import OrderType, Side
from orderledger.infrastructure.application.risk.exposure_rows import exposure_rows
from orderledger.requests import Exposure
from tests.support.exposure import BTC_ACROSS_ACCOUNTS, BY_ACCOUNT, DESK, exact, expected

D = Decimal


def desk(ledger: OrderLedger) -> OrderLedger:
    for message in DESK:
        result = ledger.record(message)
        assert result.outcome.value == "applied", (message, result.reason)
    return ledger


def test_spot_perp_inverse_and_options_on_one_underlying_are_netted_per_account(ledger: OrderLedger) -> None:
    # Given the desk (tests/support/exposure.py: positions, open orders, marks)
    desk(ledger)
    # When exposure is read by account and underlying (the default), and across accounts
    per_account = [exact(row.to_json()) for row in ledger.risk_controls.exposure()]
    across = [exact(row.to_json()) for row in ledger.risk_controls.exposure(by="underlying")]
    # Then each figure is the hand-worked one: alpha long 3 BTC, beta short 0.53125 BTC, ...
    assert per_account == expected(BY_ACCOUNT)
    # And across accounts BTC nets to 3 − 0.53125 = 2.46875, the undefined ETH-USDT apart
    assert across[0] == expected([BTC_ACROSS_ACCOUNTS])[0]
    assert (across[1]["underlying"], across[1]["unmapped"]) == ("ETH-USDT", ("spot-a:ETH-USDT",))
    # And the typed request answers the same rows
    assert ledger.handle(Exposure(("account", "underlying"))) == ledger.risk_controls.exposure()


def test_by_venue_splits_the_underlying_by_where_it_is_held(ledger: OrderLedger) -> None:
    desk(ledger)
    rows = {(r.venue, r.underlying): r for r in ledger.risk_controls.exposure(by=("venue", "underlying"))}
    # perp-b: −3 × 0.5 = −1.5 BTC; inv-d: 620 × 100 / 64000 = 0.96875 BTC
    assert rows[("perp-b", "BTC")].net_units == D("-1.5")
    assert rows[("inv-d", "BTC")].net_units == D("0.96875")
    assert rows[("inv-d", "BTC")].net_value == {"USD": D("62000")}  # 0.96875 × 64000


def test_a_mark_given_values_instead_of_the_recorded_one(ledger: OrderLedger) -> None:
    desk(ledger)
    # Given BTCUSD marked at 62000 instead of 64000: beta's inverse long is 620 × 100 / 62000 = 1
    # BTC, worth 62000 USD whatever the mark (an inverse contract is worth its face)
    beta = {
        (r.account, r.underlying): r for r in ledger.risk_controls.exposure(marks={"BTCUSD": D("62000")})
    }[("beta", "BTC")]
    # net −1.5 + 1 = −0.5; the open sell of 1280 at its limit 64000 is still −2 BTC
    assert (beta.net_units, beta.net_value["USD"], beta.worst_short_units) == (
        D("-0.5"),
        D("62000"),
        D("-3.5"),
    )
    # And a mark for an option's underlying values the option: alpha's call at BTC 60000 is
    # 1 × 60000, so alpha's BTC is 2 × 62000 + 60000 = 184000 USDT
    rows = {(r.account, r.underlying): r for r in ledger.risk_controls.exposure(marks={"BTC": D("60000")})}
    alpha = rows[("alpha", "BTC")]
    assert alpha.net_value == {"USDT": D("184000")}
    # And a mark for an instrument nothing holds is refused in one line
    with pytest.raises(InvalidInputError, match="mark SOL: no position or open order in that instrument"):
        ledger.risk_controls.exposure(marks={"SOL": D("1")})


def test_the_pre_trade_check_reads_exposure_with_a_hypothetical_order(ledger: OrderLedger) -> None:
    desk(ledger)
    # Given alpha would sell 4 BTC/USDT at 61000 (not recorded)
    spec = OrderSpec(
        client_order_id="h-1",
        account="alpha",
        venue="spot-a",
        instrument="BTC/USDT",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        quantity=D("4"),
        price=D("61000"),
    )
    before = ledger.log_position()
    rows = exposure_rows(ledger, ("account", "underlying"), adding=[Working.of(spec)])
    alpha = next(r for r in rows if (r.account, r.underlying) == ("alpha", "BTC"))
    # Then its short side is −2 (the put) − 4 = −6: worst short 3 − 6 = −3, worth
    # 186050 − 124100 − 4 × 61000 = −182050 USDT; the long side is unchanged
    assert (alpha.open_short_units, alpha.worst_short_units) == (D("-6"), D("-3"))
    assert alpha.worst_short_value == {"USDT": D("-182050")}
    assert alpha.worst_long_units == D("4")
    # And nothing was recorded
    assert ledger.log_position() == before


def test_ccxt_markets_map_a_swap_and_its_spot_to_one_underlying(ledger: OrderLedger) -> None:
    # Given ccxt's markets for a linear swap (contract size 0.01) and the spot pair
    markets = {
        "BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "type": "swap", "swap": True, "linear": True,
                          "base": "BTC", "quote": "USDT", "settle": "USDT", "contractSize": 0.01},
        "BTC/USDT": {"symbol": "BTC/USDT", "type": "spot", "spot": True, "base": "BTC", "quote": "USDT"},
    }  # fmt: skip
    assert ledger.venues.load_ccxt_markets(markets, venue="okx").counts["applied"] == 2
    # And a short of 150 swap contracts and a long of 1 BTC spot
    for cid, instrument, side, qty in (("s", "BTC/USDT:USDT", "sell", "150"), ("b", "BTC/USDT", "buy", "1")):
        ledger.record({"type": "request", "client_order_id": cid, "account": "a", "venue": "okx",
                       "instrument": instrument, "side": side, "order_type": "market", "quantity": qty,
                       "ts": "2026-11-20T10:00:00Z"})  # fmt: skip
        ledger.record({"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": qty,
                       "price": "60000", "ts": "2026-11-20T10:00:01Z"})  # fmt: skip
    # Then both are BTC: 1 − 150 × 0.01 = −0.5 BTC, worth 60000 − 90000 = −30000 USDT at the
    # instruments' given marks
    (row,) = ledger.risk_controls.exposure(marks={"BTC/USDT:USDT": D("60000"), "BTC/USDT": D("60000")})
    assert (row.underlying, row.net_units, row.net_value) == ("BTC", D("-0.5"), {"USDT": D("-30000")})
    assert row.instruments == ("okx:BTC/USDT", "okx:BTC/USDT:USDT") and row.unmapped == ()


def test_a_grouping_without_the_underlying_is_refused_in_one_line(ledger: OrderLedger) -> None:
    desk(ledger)
    before = ledger.log_position()
    with pytest.raises(InvalidInputError, match="`by`: exposure is per underlying; include underlying"):
        ledger.risk_controls.exposure(by="account")
    with pytest.raises(InvalidInputError, match="`by`: 'desk' is not one of account, venue, underlying"):
        ledger.risk_controls.exposure(by="desk,underlying")
    with pytest.raises(InvalidInputError, match="exposure\\(\\): marks"):
        ledger.risk_controls.exposure(marks=[1])  # type: ignore[arg-type]
    assert ledger.log_position() == before


def test_the_async_ledger_answers_the_same(ledger: OrderLedger) -> None:
    desk(ledger)

    async def read() -> list[dict[str, object]]:
        async with AsyncOrderLedger(ledger=ledger) as opened:
            return [
                exact(row.to_json())
                for row in await opened.risk_controls.exposure(by=["account", "underlying"])
            ]

    assert asyncio.run(read()) == expected(BY_ACCOUNT)


def test_exposure_as_of_a_past_time(make_ledger: Callable[..., OrderLedger]) -> None:
    # Given a ledger whose clock the test moves (the recorded time of each line)
    now = [datetime(2025, 3, 3, 8, 0, tzinfo=UTC)]
    ledger = make_ledger(clock=lambda: now[0])

    def at(clock: str) -> datetime:
        return datetime.fromisoformat(f"2025-03-03T{clock}+00:00")

    def record(clock: str, *messages: dict[str, Any], ts: str | None = None) -> None:
        now[0] = at(clock)
        for message in messages:
            result = ledger.record({**message, "ts": at(ts or clock).isoformat()})
            assert result.outcome.value == "applied", (message, result.reason)

    book = {"venue": "x", "account": "main", "instrument": "BTC-USDT", "order_type": "limit"}

    def request(cid: str, side: str, quantity: str, price: str) -> dict[str, Any]:
        asked = {"side": side, "quantity": quantity, "price": price}
        return {"type": "request", "client_order_id": cid, **book, **asked}

    def fill(cid: str, quantity: str, price: str) -> dict[str, Any]:
        done = {"trade_id": f"t-{cid}", "quantity": quantity, "price": price}
        return {"type": "fill", "client_order_id": cid, **done}

    def mark(price: str) -> dict[str, Any]:
        return {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": price}

    # BTC-USDT is spot BTC; 2 bought at 100 at 09:00, marked 110 at 09:30, a buy of 1 at 105
    # left open at 10:00
    spot = {"kind": "spot", "base_currency": "BTC", "quote_currency": "USDT"}
    ledger.venues.define_instrument(venue="x", instrument="BTC-USDT", ts=at("08:00"), **spot)
    record("09:00", request("b1", "buy", "2", "100"), fill("b1", "2", "100"))
    record("09:30", mark("110"))
    record("10:00", request("b2", "buy", "1", "105"))
    # and after 10:30: at 11:00 the open buy fills at 105, 1 is sold at 120, the mark is 130; at
    # 11:30 a sale of 1 at 115 done at 10:15 arrives late
    record(
        "11:00",
        fill("b2", "1", "105"),
        request("s1", "sell", "1", "120"),
        fill("s1", "1", "120"),
        mark("130"),
    )
    record("11:30", request("s2", "sell", "1", "115"), fill("s2", "1", "115"), ts="10:15")

    def figures(rows: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (
                r.underlying,
                r.net_units,
                r.net_value,
                r.open_long_units,
                r.worst_long_units,
                r.worst_long_value,
            )
            for r in rows
        ]

    # Then as the ledger knew it at 10:30: 2 BTC worth 2 × 110 = 220 USDT, 1 more open to buy at
    # 105: at worst 3 BTC worth 220 + 105 = 325
    then = figures(ledger.risk_controls.exposure(as_of=at("10:30")))
    assert then == [("BTC", D(2), {"USDT": D(220)}, D(1), D(3), {"USDT": D(325)})]
    # And in venue time 10:30 the late sale done at 10:15 counts: 1 BTC worth 110, at worst 2
    # worth 110 + 105 = 215
    venue_then = figures(ledger.risk_controls.exposure(as_of=at("10:30"), event_time=True))
    assert venue_then == [("BTC", D(1), {"USDT": D(110)}, D(1), D(2), {"USDT": D(215)})]
    # And now: 2 + 1 − 1 − 1 = 1 BTC at 130, no open order
    assert figures(ledger.risk_controls.exposure()) == [
        ("BTC", D(1), {"USDT": D(130)}, D(0), D(1), {"USDT": D(130)})
    ]
    # And before anything was held there is no exposure
    assert ledger.risk_controls.exposure(as_of=at("08:30")) == []


def test_net_and_gross_in_one_currency_at_the_rates_recorded(ledger: OrderLedger) -> None:
    # Given the desk: alpha's BTC is all in USDT (186050 net and gross); beta's BTC is −93150 USDT
    # (perp-b) and 62000 USD (inv-d); and no rate of USD in USDT recorded yet
    desk(ledger)
    alpha, _, beta = ledger.risk_controls.exposure(in_currency="USDT")
    # Then alpha's figures are in USDT already (a rate of 1): net and gross 186050
    assert (alpha.in_currency, alpha.net_in, alpha.gross_in, alpha.unconverted) == (
        "USDT",
        D(186050),
        D(186050),
        (),
    )
    # And beta's USD at inv-d has no rate: neither figure, and the value without one named
    assert (beta.net_in, beta.gross_in, beta.unconverted) == (None, None, ("inv-d:USD",))
    # When a rate of USD in USDT of 0.999 is recorded at inv-d (a mark of the pair USD/USDT)
    rate = {"type": "mark", "venue": "inv-d", "instrument": "USD/USDT", "price": "0.999"}
    assert ledger.record({**rate, "ts": "2026-11-20T10:00:03Z"}).outcome.value == "applied"
    # Then beta's 62000 USD are 62000 × 0.999 = 61938 USDT: net −93150 + 61938 = −31212, gross
    # 93150 + 61938 = 155088
    _, _, beta = ledger.risk_controls.exposure(in_currency="USDT")
    assert (beta.net_in, beta.gross_in, beta.unconverted) == (D(-31212), D(155088), ())
    # And across accounts BTC is 92900 + 61938 = 154838 net, 279200 + 61938 = 341138 gross
    btc, _ = ledger.risk_controls.exposure(by="underlying", in_currency="USDT")
    assert (btc.net_in, btc.gross_in) == (D(154838), D(341138))
    # And the other figures stay per currency, as without a currency asked
    assert btc.net_value == {"USD": D(62000), "USDT": D(92900)}
    # And a name that is not one currency is refused in one line
    with pytest.raises(InvalidInputError, match="the name of one currency"):
        ledger.risk_controls.exposure(in_currency="US D")
