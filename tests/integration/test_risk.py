"""Limits and trading states as facts, and the pre-trade check, on every backend.

Every expected figure is worked out in the test: positions from the fills given, P&L from their
prices, notionals from quantity × contract size × price.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger import AsyncOrderLedger, InvalidInputError, OrderDeniedError, OrderLedger, Outcome
from orderledger.infrastructure.application.risk import exposure_rows, pretrade
from tests.support.postgres import empty_database
from tests.support.risk_desk import MORNING, NOW, at, filled, mark, spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    return make_ledger(clock=lambda: NOW)


def test_limits_are_facts_answerable_as_of_any_time(make_ledger: Callable[..., OrderLedger]) -> None:
    # Given a limit set at 08:00, raised at 10:00 by someone else, and cleared at 11:00, each
    # recorded then by the ledger's clock
    now = [MORNING]
    desk = make_ledger(clock=lambda: now[0])
    now[0] = at("08:00")
    desk.risk_controls.set_limit(
        "account", "main", "max_position", "5", set_by="alice", reason="desk rule", ts=at("08:00")
    )
    now[0] = at("10:00")
    desk.risk_controls.set_limit("account", "main", "max_position", "8", set_by="bob", ts=at("10:00"))
    # (recorded at 10:00 and dated 09:00 by its sender: in force from when the ledger knew it)
    desk.risk_controls.set_limit(
        "instrument", "BTC-USDT", "max_order_notional", "1000", set_by="alice", ts=at("09:00")
    )
    now[0] = at("11:00")
    desk.risk_controls.clear_limit("account", "main", "max_position", set_by="carol", ts=at("11:00"))
    now[0] = NOW
    assert desk.risk_controls.limits(as_of=at("09:30")) == desk.risk_controls.limits(as_of=at("08:30"))
    # Then each moment has its own limits, with who set them
    assert [(r.kind, r.value, r.set_by) for r in desk.risk_controls.limits(as_of=at("08:30"))] == [
        ("max_position", Decimal(5), "alice")
    ]
    assert [(r.kind, r.value, r.set_by) for r in desk.risk_controls.limits(as_of=at("10:30"))] == [
        ("max_position", Decimal(8), "bob"),
        ("max_order_notional", Decimal(1000), "alice"),
    ]
    assert [(r.scope, r.kind) for r in desk.risk_controls.limits()] == [("instrument", "max_order_notional")]
    assert desk.risk_controls.limits(as_of=at("07:59")) == []
    # And the same line again is a duplicate; another value at the same instant a clear error
    again = desk.record(
        {
            "type": "limit_set",
            "scope": "account",
            "target": "main",
            "kind": "max_position",
            "value": "5",
            "set_by": "alice",
            "reason": "desk rule",
            "ts": "2025-03-03T08:00:00Z",
        }
    )
    assert again.outcome is Outcome.DUPLICATE
    other = desk.record(
        {
            "type": "limit_set",
            "scope": "account",
            "target": "main",
            "kind": "max_position",
            "value": "6",
            "set_by": "alice",
            "ts": "2025-03-03T08:00:00Z",
        }
    )
    assert other.outcome is Outcome.REJECTED and "already recorded as 5 (now 6)" in str(other.reason)


def test_bad_limits_are_refused_in_one_line(desk: OrderLedger) -> None:
    with pytest.raises(InvalidInputError, match="a max_orders limit needs interval"):
        desk.risk_controls.set_limit("account", "main", "max_orders", "3", set_by="alice")
    with pytest.raises(InvalidInputError, match="a max_daily_loss limit's scope must be one of account"):
        desk.risk_controls.set_limit("tag", "strategy=mm", "max_daily_loss", "3", set_by="alice")
    with pytest.raises(InvalidInputError, match=re.escape("state must be one of active|reduce_only|halted")):
        desk.risk_controls.set_trading_state("paused", set_by="alice")
    assert desk.risk_controls.limits() == [] and desk.risk_controls.trading_states() == []


def test_every_limit_the_order_would_breach_is_given(desk: OrderLedger) -> None:
    # Given 2 BTC held (bought at 100), a mark of 110, and a contract of 0.5 BTC on another venue
    filled(desk, "b1", "buy", "2", "100", "09:00")
    desk.record(
        {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": "110", "ts": "2025-03-03T09:30:00Z"}
    )
    desk.risk_controls.set_limit("instrument", "BTC-USDT", "max_position", "4", set_by="alice", ts=MORNING)
    desk.risk_controls.set_limit("account", "main", "max_gross_exposure", "500", set_by="alice", ts=MORNING)
    desk.risk_controls.set_limit("account", "main", "max_order_notional", "300", set_by="alice", ts=MORNING)
    # When an order to buy 3 more at 105 is checked
    result = desk.check(spec("buy", "3", "105"))
    # Then all three limits it passes are given, with the figures it would make:
    # position 2 + 3 = 5 > 4; gross 2 × 110 (held, at the mark) + 3 × 105 = 220 + 315 = 535 > 500;
    # order notional 3 × 105 = 315 > 300
    assert not result.allowed
    assert sorted((b.limit.kind, b.figure) for b in result.breaches if b.limit) == [
        ("max_gross_exposure", Decimal(535)),
        ("max_order_notional", Decimal(315)),
        ("max_position", Decimal(5)),
    ]
    # And an order within all three is allowed: 2 + 1 = 3 ≤ 4; 220 + 1 × 105 = 325 ≤ 500; 105 ≤ 300
    assert desk.check(spec("buy", "1", "105")).allowed
    # And an open order's worst case counts: with a working buy of 1 at 90, the same order makes
    # the position 2 + 1 + 1 = 4 ≤ 4, and gross 220 + 90 + 105 = 415 ≤ 500
    desk.record(
        {"type": "request", "client_order_id": "w1", **spec("buy", "1", "90"), "ts": "2025-03-03T11:00:00Z"}
    )
    assert desk.check(spec("buy", "1", "105")).allowed  # 4 ≤ 4
    # and a buy of 2 makes 2 + 1 + 2 = 5 > 4, and gross 220 + 90 + 2 × 105 = 520 > 500
    held = desk.check(spec("buy", "2", "105"))
    assert sorted((b.limit.kind, b.figure) for b in held.breaches if b.limit) == [
        ("max_gross_exposure", Decimal(520)),
        ("max_position", Decimal(5)),
    ]


def test_a_contract_size_and_a_market_order_are_valued_at_the_mark(desk: OrderLedger) -> None:
    # Given a perpetual whose contract is 0.01 BTC, marked at 50,000, and an order notional limit
    desk.venues.define_instrument(
        venue="x", instrument="BTC-PERP", kind="swap", contract_size="0.01", ts=MORNING
    )
    desk.record(
        {
            "type": "mark",
            "venue": "x",
            "instrument": "BTC-PERP",
            "price": "50000",
            "ts": "2025-03-03T09:00:00Z",
        }
    )
    desk.risk_controls.set_limit(
        "instrument", "BTC-PERP", "max_order_notional", "1000", set_by="alice", ts=MORNING
    )
    # Then a market order for 3 contracts is 3 × 0.01 × 50,000 = 1,500 > 1,000
    result = desk.check(spec("buy", "3", None, instrument="BTC-PERP"))
    assert [b.figure for b in result.breaches] == [Decimal(1500)]
    # And 2 contracts are 2 × 0.01 × 50,000 = 1,000: at the limit, allowed
    assert desk.check(spec("buy", "2", None, instrument="BTC-PERP")).allowed


def test_an_underlying_limit_nets_spot_and_perpetual_across_accounts(desk: OrderLedger) -> None:
    # Given BTC spot (base BTC) and a BTC perpetual of 0.5 BTC a contract (underlying BTC), both
    # quoted in USDT and marked at 100
    desk.venues.define_instrument(
        venue="x", instrument="BTC-USDT", kind="spot", base_currency="BTC", quote_currency="USDT", ts=MORNING
    )
    desk.venues.define_instrument(
        venue="x",
        instrument="BTC-PERP",
        kind="swap",
        contract_size="0.5",
        underlying="BTC",
        quote_currency="USDT",
        ts=MORNING,
    )
    for instrument in ("BTC-USDT", "BTC-PERP"):
        mark = {
            "type": "mark",
            "venue": "x",
            "instrument": instrument,
            "price": "100",
            "ts": "2025-03-03T09:00:00Z",
        }
        desk.record(mark)
    # and main long 3 BTC spot, hedge short 4 perpetual contracts: 3 − 4 × 0.5 = 1 BTC net
    filled(desk, "s1", "buy", "3", "100", "09:00")
    request = {"type": "request", "client_order_id": "p1", **spec("sell", "4", "100", instrument="BTC-PERP")}
    desk.record({**request, "account": "hedge", "ts": at("09:01").isoformat()})
    fill = {"type": "fill", "client_order_id": "p1", "trade_id": "t-p1", "quantity": "4", "price": "100"}
    desk.record({**fill, "ts": at("09:01").isoformat()})
    desk.risk_controls.set_limit("underlying", "BTC", "max_position", "2", set_by="alice", ts=at("09:02"))
    desk.risk_controls.set_limit(
        "underlying", "BTC", "max_gross_exposure", "250", set_by="alice", ts=at("09:02")
    )
    # Then buying 1 more BTC spot makes 1 + 1 = 2 BTC, worth 2 × 100 = 200: at both limits, allowed
    assert desk.check(spec("buy", "1", "100")).allowed
    # And 2 perpetual contracts more (2 × 0.5 = 1 BTC) from hedge: 2 BTC as well, allowed
    assert desk.check(spec("buy", "2", "100", instrument="BTC-PERP", account="hedge")).allowed
    # But 2 BTC spot makes 1 + 2 = 3 BTC > 2, worth 3 × 100 = 300 > 250
    denied = desk.check(spec("buy", "2", "100"))
    assert sorted((b.limit.kind, b.figure) for b in denied.breaches if b.limit) == [
        ("max_gross_exposure", Decimal(300)),
        ("max_position", Decimal(3)),
    ]
    # And selling 4 BTC spot brings 1 to 1 − 4 = −3 BTC: |−3| > 2 as well
    assert ("max_position", Decimal(3)) in [
        (b.limit.kind, b.figure) for b in desk.check(spec("sell", "4", "100")).breaches if b.limit
    ]
    # While selling 1 brings the net to 0: allowed
    assert desk.check(spec("sell", "1", "100")).allowed
    # And the standing figure of the position limit is the 1 BTC net
    standing = {s.limit.kind: s for s in desk.risk()}
    assert standing["max_position"].figure == Decimal(1)


def test_an_undefined_instrument_is_its_own_underlying_for_the_check_as_for_exposure(
    desk: OrderLedger,
) -> None:
    # Given 2 BTC-USDT bought with no definition of it: exposure maps it to itself (unmapped)
    filled(desk, "u1", "buy", "2", "100", "09:00")
    assert [r.underlying for r in desk.risk_controls.exposure(by=("underlying",))] == ["BTC-USDT"]
    desk.risk_controls.set_limit(
        "underlying", "BTC-USDT", "max_position", "2", set_by="alice", ts=at("09:01")
    )
    # Then buying 1 more makes 2 + 1 = 3 > 2 of that underlying: denied, as the standing
    # figure (2) says of the same limit
    denied = desk.check(spec("buy", "1", "100"))
    assert [(b.limit.kind, b.figure) for b in denied.breaches if b.limit] == [("max_position", Decimal(3))]
    assert [s.figure for s in desk.risk()] == [Decimal(2)]


def test_a_limit_that_cannot_be_evaluated_denies(desk: OrderLedger) -> None:
    # Given an order notional limit on an instrument nobody marked, and a market order
    desk.risk_controls.set_limit(
        "account", "main", "max_order_notional", "10", set_by="alice", ts=at("09:00")
    )
    assert "no price to value the order" in desk.check(spec("buy", "1", None)).reasons[0]


def test_max_orders_counts_the_orders_the_ledger_recorded_within_the_interval(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given the ledger's clock, and at most 2 orders of strategy=mm per 60 s
    now = [MORNING]
    desk = make_ledger(clock=lambda: now[0])
    desk.risk_controls.set_limit(
        "tag", "strategy=mm", "max_orders", "2", interval=60, set_by="alice", ts=MORNING
    )
    # When mm orders are recorded at 11:58:59 and 11:59:30 by the ledger's clock, their senders
    # dating them 2099 and 2020 (a client's ts counts for nothing here)
    for cid, recorded, ts in (
        ("m1", "11:58:59", "2099-01-01T00:00:00Z"),
        ("m2", "11:59:30", "2020-01-01T00:00:00Z"),
    ):
        now[0] = at(recorded)
        message = {"type": "request", "client_order_id": cid, **spec(tags={"strategy": "mm"}), "ts": ts}
        assert desk.record(message).outcome is Outcome.APPLIED
    # Then at 12:00 the window (11:59:00, 12:00:00] holds m2: with this one, 2 ≤ 2
    now[0] = NOW
    assert desk.check(spec(tags={"strategy": "mm"})).allowed
    # And an order of another strategy is not counted against mm
    assert desk.check(spec(tags={"strategy": "arb"})).allowed
    # And once this one is placed (dated 2099 by its sender), the next mm order is the third: denied
    with desk.placing(spec(tags={"strategy": "mm"}, ts="2099-01-01T00:00:00Z")) as placement:
        placement.accepted("v-1")
    assert [b.figure for b in desk.check(spec(tags={"strategy": "mm"})).breaches] == [Decimal(3)]


def test_orders_dated_by_their_senders_in_2020_or_2099_are_counted(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    # Given at most 3 orders an hour on account main, and the ledger's clock at 12:00
    desk = make_ledger(clock=lambda: NOW)
    desk.risk_controls.set_limit(
        "account", "main", "max_orders", "3", interval=3600, set_by="alice", ts=MORNING
    )
    # When 15 requests are recorded, dated 2020 and 2099 by their senders in turn
    dates = ["2020-06-01T00:00:00Z", "2099-06-01T00:00:00Z"]
    results = [
        desk.record({"type": "request", "client_order_id": f"c-{n}", **spec(), "ts": dates[n % 2]})
        for n in range(15)
    ]
    # Then the first 3 are recorded (1, 2, 3 ≤ 3) and the other 12 denied (4 > 3): 3 orders
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 3 + [Outcome.DENIED] * 12
    assert len(list(desk.orders())) == 3


def test_a_denied_placement_is_journaled_and_never_sent(desk: OrderLedger) -> None:
    desk.risk_controls.set_limit("account", "main", "max_order_notional", "50", set_by="alice", ts=MORNING)
    sent = []
    denial = "max_order_notional 50 on account main: would be 100"
    with pytest.raises(OrderDeniedError, match=denial), desk.placing(spec(client_order_id="c-denied")):
        sent.append("sent")
    # Then the body never ran, no order exists, and the request is in the journal as denied
    assert sent == [] and list(desk.orders()) == []
    [message] = [m for m in desk.audit.messages() if m.client_order_id == "c-denied"]
    assert message.outcome == "denied" and "would be 100" in str(message.reason)
    # And the check cannot be left out: only an override lets the order through, journaled
    # with who and why and the breach it passed
    with pytest.raises(InvalidInputError, match="always passes the risk door"):
        desk.placing(spec("buy", "1", "100", client_order_id="c-unchecked"), check=False).__enter__()
    override = {"by": "carol", "reason": "hedge"}
    with desk.placing(spec(client_order_id="c-overridden"), override=override) as placement:
        placement.accepted("v-2")
    assert [o.client_order_id for o in desk.orders()] == ["c-overridden"]
    message, _accepted = [m for m in desk.audit.messages() if m.client_order_id == "c-overridden"]
    assert message.outcome == "applied"
    assert message.reason == (
        "risk override by carol (hedge) of: max_order_notional 50 on account main: would be 100"
    )


def test_reduce_only_and_halted_accounts(desk: OrderLedger) -> None:
    # Given 3 BTC held, and the account set to reduce-only
    filled(desk, "b1", "buy", "3", "100", "09:00")
    desk.risk_controls.set_trading_state(
        "reduce_only", account="main", set_by="alice", reason="risk review", ts=at("10:00")
    )
    # Then a sale of 2 (3 → 1) is allowed, a purchase (3 → 4) and a sale of 4 (3 → −1) are not
    assert desk.check(spec("sell", "2")).allowed
    assert desk.check(spec("buy", "1")).reasons == [
        "reduce-only: the position 3 would become 4 (set by alice: risk review)"
    ]
    assert not desk.check(spec("sell", "4")).allowed
    # And a global halt makes every account halted, whatever its own state; resuming the global
    # state returns each account to its own
    desk.risk_controls.set_trading_state("halted", set_by="ops", reason="venue incident", ts=at("11:00"))
    assert desk.check(spec("sell", "1")).reasons == ["trading is halted (set by ops: venue incident)"]
    # And the states say so: main's own reduce-only stands, the halt of every account is in force
    # on it (halted is stricter than reduce_only), and comes from the global state
    assert [
        (s.account, s.state, s.effective_state, s.effective_from, s.shown)
        for s in desk.risk_controls.trading_states()
    ] == [
        ("", "halted", "halted", "global", "halted"),
        ("main", "reduce_only", "halted", "global", "halted (global); own reduce_only"),
    ]
    desk.risk_controls.set_trading_state("active", set_by="ops", ts=at("11:30"))
    assert desk.check(spec("sell", "1")).allowed and not desk.check(spec("buy", "1")).allowed
    assert [
        (s.account, s.state, s.set_by, s.effective_state, s.effective_from)
        for s in desk.risk_controls.trading_states()
    ] == [
        ("", "active", "ops", "active", "global"),
        ("main", "reduce_only", "alice", "reduce_only", "account"),
    ]
    # And a global reduce-only over main's own reduce-only: as strict, so main's own is in force
    # (it stays when the global is resumed)
    desk.risk_controls.set_trading_state("reduce_only", set_by="ops", ts=at("11:45"))
    [_, main] = desk.risk_controls.trading_states()
    assert (main.effective_state, main.effective_from, main.shown) == (
        "reduce_only",
        "account",
        "reduce_only",
    )


def test_a_late_fill_refolded_in_venue_time_breaches_the_daily_loss_and_stops_adding(
    desk: OrderLedger,
) -> None:
    # Given at most 50 USDT of loss a day, 10 BTC bought at 100 at 09:00, and a mark of 97 at 11:00
    desk.risk_controls.set_limit("account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING)
    filled(desk, "b1", "buy", "10", "100", "09:00")
    desk.record(
        {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": "97", "ts": "2025-03-03T11:00:00Z"}
    )
    # Then the day's loss is the unrealized (97 − 100) × 10 = −30: 30 ≤ 50, allowed
    assert desk.check(spec()).allowed
    # When a sale of the 10 at 94 (fee 1 USDT) done at 10:00 arrives late, after the 11:00 mark
    filled(desk, "s1", "sell", "10", "94", "10:00", fee="1", fee_currency="USDT")
    # Then the day, folded in venue time, realized (94 − 100) × 10 = −60, paid 1 in fees and holds
    # nothing: a loss of 61 > 50, so the order is denied
    result = desk.check(spec())
    assert [(b.limit.kind, b.figure) for b in result.breaches if b.limit] == [("max_daily_loss", Decimal(61))]
    # And the rule set the account reduce-only, as a fact signed with its name
    [state] = desk.risk_controls.trading_states()
    assert (state.account, state.state, state.set_by, state.ts_event) == (
        "main",
        "reduce_only",
        "max_daily_loss",
        NOW,
    )
    assert result.state == "reduce_only"
    assert desk.risk_controls.trading_states(as_of=at("11:59")) == []


def test_a_placement_past_the_daily_loss_is_denied_and_stops_adding_under_the_lock(
    file_ledger_url: str,
) -> None:
    # Given at most 50 USDT of loss a day, and 10 BTC bought at 100 and sold at 94: a loss of 60
    with OrderLedger(file_ledger_url, clock=lambda: NOW) as desk:
        desk.risk_controls.set_limit("account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING)
        filled(desk, "b1", "buy", "10", "100", "09:00")
        filled(desk, "s1", "sell", "10", "94", "10:00")
        # When an order is placed, its check (made under the log lock) records the state too
        with pytest.raises(OrderDeniedError, match="would be 60"), desk.placing(spec(client_order_id="c-1")):
            pytest.fail("an order past the daily loss was sent")
    # Then another ledger opened on the database finds the denied request and the state
    with OrderLedger(file_ledger_url, clock=lambda: NOW) as again:
        assert [m.client_order_id for m in again.audit.messages(outcome="denied")] == ["c-1"]
        assert [(s.account, s.state, s.set_by) for s in again.risk_controls.trading_states()] == [
            ("main", "reduce_only", "max_daily_loss")
        ]


def test_the_drawdown_is_the_fall_of_the_days_pnl_from_its_high_in_venue_time(desk: OrderLedger) -> None:
    # Given at most 40 USDT of drawdown a day, 10 BTC bought at 100 at 09:00 (not marked yet: the
    # day's P&L at 09:00 is unknown and left out of the high), a mark of 106 at 10:00 and 102 at 11:00
    desk.risk_controls.set_limit("account", "main", "max_drawdown", "40", set_by="alice", ts=MORNING)
    filled(desk, "b1", "buy", "10", "100", "09:00")
    mark(desk, "106", "10:00")
    mark(desk, "102", "11:00")
    # Then the day's P&L opened at 0, rose to (106 − 100) × 10 = 60 and stands at
    # (102 − 100) × 10 = 20: a drawdown of 60 − 20 = 40, at the limit: allowed, and near it
    assert desk.check(spec()).allowed
    [standing] = desk.risk()
    assert (standing.status, standing.figure) == ("near", Decimal(40))
    # When 5 are sold at 101 at 11:30, paying a fee of 2 USDT
    filled(desk, "s1", "sell", "5", "101", "11:30", fee="2", fee_currency="USDT")
    # Then the day realized (101 − 100) × 5 = 5, paid 2, and holds 5 at 102: (102 − 100) × 5 = 10,
    # a P&L of 5 − 2 + 10 = 13 (the day's P&L as pnl_daily gives it) and a drawdown of 60 − 13 = 47
    [day] = [r for r in desk.analytics.pnl_daily() if r.day == "2025-03-03"]
    assert day.realized_pnl_net is not None and day.unrealized_pnl is not None
    assert day.realized_pnl_net + day.unrealized_pnl == Decimal(13)
    result = desk.check(spec())
    assert [(b.limit.kind, b.figure) for b in result.breaches if b.limit] == [("max_drawdown", Decimal(47))]
    assert result.reasons[-1] == "max_drawdown 40 on account main: would be 47"
    # And the limit's response (reduce-only, by default) was set by the fill's commit
    assert result.state == "reduce_only"
    assert [(s.state, s.set_by) for s in desk.risk_controls.trading_states()] == [
        ("reduce_only", "max_drawdown")
    ]
    # When a mark of 110 at 10:30 arrives late, it is folded in venue time: the high becomes
    # (110 − 100) × 10 = 100 at 10:30, and the drawdown 100 − 13 = 87
    mark(desk, "110", "10:30")
    [standing] = desk.risk()
    assert (standing.status, standing.figure) == ("breached", Decimal(87))


def test_the_drawdown_starts_from_the_days_opening_and_counts_cash_flows(desk: OrderLedger) -> None:
    # Given 2 BTC bought at 100 the day before, marked at 90 then: the day opens at
    # (90 − 100) × 2 = −20 (what pnl_daily gives a day with no fill but the position held)
    desk.risk_controls.set_limit("account", "main", "max_drawdown", "15", set_by="alice", ts=MORNING)
    yesterday = {"type": "request", "client_order_id": "b0", **spec("buy", "2"), "ts": "2025-03-02T09:00:00Z"}
    desk.record(yesterday)
    desk.record({"type": "fill", "client_order_id": "b0", "trade_id": "t-b0", "quantity": "2",
                 "price": "100", "ts": "2025-03-02T09:00:00Z"})  # fmt: skip
    desk.record({"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": "90",
                 "ts": "2025-03-02T20:00:00Z"})  # fmt: skip
    # Then with nothing happened today the drawdown is 0: the high is the opening, −20
    [standing] = desk.risk()
    assert (standing.status, standing.figure) == ("ok", Decimal(0))
    # When funding of −10 USDT is paid at 09:00 and the mark is 95 at 10:00 and 85 at 11:00
    flow = {"type": "cash_flow", "kind": "funding", "venue": "x", "account": "main"}
    flow |= {"instrument": "BTC-USDT", "flow_id": "f1", "amount": "-10", "currency": "USDT"}
    assert desk.record({**flow, "ts": at("09:00").isoformat()}).outcome is Outcome.APPLIED
    mark(desk, "95", "10:00")
    mark(desk, "85", "11:00")
    # Then the day went −20 (opening), −30 (funding), −10 − 10 = −20 at 95, and stands at
    # −10 + (85 − 100) × 2 = −40: the high is −20, a drawdown of 20 > 15
    [standing] = desk.risk()
    assert (standing.status, standing.figure) == ("breached", Decimal(20))


def test_a_check_reads_each_view_once_however_many_limits_ask(
    desk: OrderLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given position and gross exposure limits on the underlying BTC and on the account, and
    # 2 BTC spot held, marked at 110
    for scope, target in (("underlying", "BTC"), ("account", "main")):
        desk.risk_controls.set_limit(scope, target, "max_position", "5", set_by="alice", ts=MORNING)
        desk.risk_controls.set_limit(scope, target, "max_gross_exposure", "1000", set_by="alice", ts=MORNING)
    desk.venues.define_instrument(
        venue="x", instrument="BTC-USDT", kind="spot", base_currency="BTC", quote_currency="USDT", ts=MORNING
    )
    filled(desk, "b1", "buy", "2", "100", "09:00")
    mark(desk, "110", "10:00")
    reads: list[str] = []

    def counted(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def counting(*args: Any, **kwargs: Any) -> Any:
            reads.append(name)
            return read(*args, **kwargs)

        return counting

    for name in ("holdings", "working"):
        monkeypatch.setattr(exposure_rows, name, counted(name, getattr(exposure_rows, name)))
    for name in ("positions", "orders"):
        monkeypatch.setattr(desk, name, counted(name, getattr(desk, name)))
    # When an order of 1 more at 100 is checked: 3 BTC, worth 2 × 110 + 100 = 320, allowed
    result = desk.check(spec())
    assert result.allowed, result.reasons
    # Then the four limits read the exposure's rows once, and the account's positions and open
    # orders once
    assert sorted(reads) == ["holdings", "orders", "positions", "working"]
    # And the standing of the limits reads them once too: 2 BTC, worth 2 × 110 = 220
    reads.clear()
    assert [(s.limit.scope, s.limit.kind, s.figure) for s in desk.risk()] == [
        ("account", "max_gross_exposure", Decimal(220)),
        ("account", "max_position", Decimal(2)),
        ("underlying", "max_gross_exposure", Decimal(220)),
        ("underlying", "max_position", Decimal(2)),
    ]
    assert sorted(reads) == ["holdings", "orders", "positions", "working"]


HALTER = """
import sys
from datetime import datetime, UTC
from orderledger import OrderLedger
ledger = OrderLedger(sys.argv[1])
ledger.risk_controls.set_trading_state("halted", account="main", set_by="alice", reason="flash crash")
print("halted", flush=True)
sys.stdin.read()  # blocks: the parent kills the process here
"""


def test_a_halt_survives_a_kill_9_and_a_restart(file_ledger_url: str) -> None:
    # Given a process that halts the account and is then killed with SIGKILL
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    with subprocess.Popen(
        [sys.executable, "-c", HALTER, file_ledger_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    ) as child:
        try:
            # (waits on the child's line, not on the clock)
            assert child.stdout is not None and child.stdout.readline().strip() == "halted"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert child.returncode == -signal.SIGKILL
    # When the ledger is opened again by another process
    with OrderLedger(file_ledger_url) as restarted:
        # Then it finds itself halted, and places nothing
        result = restarted.check(spec())
        assert result.state == "halted" and result.reasons == [
            "trading is halted (set by alice: flash crash)"
        ]
        with pytest.raises(OrderDeniedError), restarted.placing(spec()):
            pytest.fail("a halted ledger sent an order")


def test_concurrent_placements_never_pass_a_count_limit(desk: OrderLedger) -> None:
    # Given at most 3 orders a minute, and 8 threads placing at once
    desk.risk_controls.set_limit(
        "account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING
    )
    sent: list[str] = []
    denied: list[str] = []

    def place(n: int) -> None:
        try:
            with desk.placing(spec(client_order_id=f"c-{n}")) as placement:
                sent.append(placement.client_order_id)
        except OrderDeniedError:
            denied.append(str(n))

    threads = [threading.Thread(target=place, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly 3 were sent and 5 denied
    assert (len(sent), len(denied)) == (3, 5)


FILLS = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 5)), min_size=1, max_size=6)


@settings(max_examples=25)
@given(
    fills=FILLS, order=st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 9)), shuffle=st.randoms()
)
def test_check_never_allows_an_order_past_a_position_limit_whatever_the_order_of_fills(
    fills: list[tuple[str, int]], order: tuple[str, int], shuffle: Any
) -> None:
    # Given fills recorded in any order (their venue times fixed), and at most 6 BTC either way
    limit = 6
    with OrderLedger("memory://", clock=lambda: NOW) as ledger:
        ledger.risk_controls.set_limit(
            "instrument", "BTC-USDT", "max_position", str(limit), set_by="alice", ts=MORNING
        )
        numbered = list(enumerate(fills))
        shuffle.shuffle(numbered)
        for n, (side, quantity) in numbered:
            filled(ledger, f"f{n}", side, str(quantity), "100", f"09:{n:02d}")
        # The position is the signed sum of the fills; the order moves it by its signed quantity
        held = sum(q if s == "buy" else -q for s, q in fills)
        after = held + (order[1] if order[0] == "buy" else -order[1])
        result = ledger.check(spec(order[0], str(order[1])))
        # Then it is denied exactly when it takes the position past the limit and further from
        # zero than it was (an order that brings a position over its limit back is allowed)
        assert result.allowed == (abs(after) <= limit or abs(after) <= abs(held)), (
            held,
            after,
            result.reasons,
        )


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["max_orders", "max_position"]),
    first=st.integers(1, 4),
    second=st.integers(1, 4),
    interleaved=st.booleans(),
)
def test_check_never_allows_an_order_past_its_limit_whatever_the_interleaving_of_writers(
    store: str,
    tmp_path: Path,
    kind: str,
    first: int,
    second: int,
    interleaved: bool,
) -> None:
    # Given two ledgers on one database (two writers, as two processes would be), and at most one
    # order a minute, or at most 4 BTC, on the account
    with (
        empty_database(store, tmp_path, f"{uuid.uuid4().hex}.db") as url,
        OrderLedger(url, clock=lambda: NOW) as one,
        OrderLedger(url, clock=lambda: NOW) as other,
        pytest.MonkeyPatch.context() as monkeypatch,
    ):
        if kind == "max_orders":
            one.risk_controls.set_limit("account", "main", kind, "1", interval=60, set_by="alice", ts=MORNING)
        else:
            one.risk_controls.set_limit("account", "main", kind, "4", set_by="alice", ts=MORNING)
        placed: list[int] = []
        threads: list[threading.Thread] = []
        moved = threading.Event()  # the other writer finished, or reached the lock it waits on
        real_check, real_locked = pretrade.check, other.recorder.locked

        def place(ledger: OrderLedger, quantity: int) -> None:
            try:
                with ledger.placing(spec("buy", str(quantity))):
                    placed.append(quantity)
            except OrderDeniedError:
                pass
            finally:
                moved.set()

        @contextlib.contextmanager
        def locked() -> Iterator[Any]:
            moved.set()
            with real_locked() as tx:
                yield tx

        def check(ledger: Any, request: Any, now: datetime) -> Any:
            # The interleaving: the other writer places its order after this one's check
            # and before this one is recorded (unless the lock makes it wait for the record)
            result = real_check(ledger, request, now)
            if ledger is one and interleaved and not moved.is_set():
                threads.append(threading.Thread(target=place, args=(other, second)))
                threads[0].start()
                assert moved.wait(60), "the other writer neither finished nor reached the lock"
            return result

        monkeypatch.setattr(pretrade, "check", check)
        monkeypatch.setattr(other.recorder, "locked", locked)
        # When each places a buy, the other one during the first one's check (interleaved)
        # or after it
        place(one, first)
        if not interleaved:
            place(other, second)
        for thread in threads:
            thread.join()
        # Then the first is placed (alone it is within the limit), and the second only when
        # both together are: never for one order a minute, for 4 BTC when first + second ≤ 4
        expected = [first, second] if kind == "max_position" and first + second <= 4 else [first]
        assert placed == expected


def test_the_async_placing_checks_too(file_ledger_url: str) -> None:
    # Given a halted account
    async def main() -> list[str]:
        async with AsyncOrderLedger(file_ledger_url) as ledger:
            ledger.ledger.risk_controls.set_trading_state("halted", account="main", set_by="alice")
            # Then an async placement is denied and its body never runs
            with pytest.raises(OrderDeniedError, match="trading is halted"):
                async with ledger.placing(spec()):
                    pytest.fail("a halted account sent an order")
            # And with an override it is placed
            async with ledger.placing(spec(), override={"by": "carol", "reason": "unwind"}) as placement:
                await placement.accepted("v-1")
            return [o.client_order_id for o in await ledger.orders()]

    assert len(asyncio.run(main())) == 1
