"""Responses: a loss or drawdown limit sets its account's trading state after the commit that
passes it, without waiting for an order's check (docs/risk.md, "Responses")."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderledger import AsyncOrderLedger, InvalidInputError, OrderLedger, Outcome
from orderledger.infrastructure.application.risk.standing import StateChange

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MORNING = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2025-03-03T{clock}+00:00")


def filled(ledger: OrderLedger, cid: str, side: str, quantity: str, price: str, ts: str, **fill: Any) -> None:
    """An order filled in full at venue time ``ts``, as a venue reports it (an external order: a
    fact the ledger learns, which the risk door never refuses, so the loss it makes is booked)."""
    request = {"type": "request", "client_order_id": cid, "venue": "x", "account": "main", "external": True}
    request |= {"instrument": "BTC-USDT", "side": side, "order_type": "limit", "quantity": quantity}
    assert ledger.record({**request, "price": price, "ts": at(ts).isoformat()}).outcome is Outcome.APPLIED
    trade = {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": quantity}
    outcome = ledger.record({**trade, "price": price, "ts": at(ts).isoformat(), **fill}).outcome
    assert outcome is Outcome.APPLIED


def mark(ledger: OrderLedger, price: str, ts: str) -> None:
    message = {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": price}
    assert ledger.record({**message, "ts": at(ts).isoformat()}).outcome is Outcome.APPLIED


def states(ledger: OrderLedger) -> list[tuple[str, str, str, str | None]]:
    return [(s.account, s.state, s.set_by, s.reason) for s in ledger.risk_controls.trading_states()]


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    return make_ledger(clock=lambda: NOW)


def test_a_fill_past_the_daily_loss_sets_reduce_only_at_once_citing_the_limit(desk: OrderLedger) -> None:
    # Given at most 50 USDT of loss a day (the log's first event: position 1), 10 BTC bought at 100
    desk.risk_controls.set_limit("account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING)
    filled(desk, "b1", "buy", "10", "100", "09:00")
    # Then nothing is set: the position has no mark, so the day's loss is not known
    assert desk.risk_controls.trading_states() == []
    # When the 10 are sold at 94: realized (94 − 100) × 10 = −60, a loss of 60 > 50
    filled(desk, "s1", "sell", "10", "94", "10:00")
    # Then, without any check, the account is reduce-only, set by the limit's kind, citing it
    reason = "max_daily_loss 50 on account main (limit event 1, set by alice at 2025-03-03T08:00:00.000000Z)"
    reason += ": is 60"
    assert states(desk) == [("main", "reduce_only", "max_daily_loss", reason)]
    [row] = desk.risk_controls.trading_states()
    assert row.ts_event == NOW
    # When another buy and sale lose 2 more while the account is still past its limit
    filled(desk, "b2", "buy", "1", "100", "10:30")
    filled(desk, "s2", "sell", "1", "98", "10:40")
    # Then nothing more is recorded: one state fact, the first
    facts = [e for e in desk.events() if e.type == "TradingStateSet"]
    assert len(facts) == 1
    assert states(desk) == [("main", "reduce_only", "max_daily_loss", reason)]


def test_a_limit_whose_response_is_halt_halts(desk: OrderLedger) -> None:
    # Given at most 50 USDT of loss a day, answered by a halt
    desk.risk_controls.set_limit(
        "account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING, response="halt"
    )
    [limit] = desk.risk_controls.limits()
    assert limit.response == "halt" and limit.to_json()["response"] == "halt"
    # When 10 bought at 100 are sold at 95 with a fee of 1: −50 − 1 = a loss of 51 > 50
    filled(desk, "b1", "buy", "10", "100", "09:00")
    filled(desk, "s1", "sell", "10", "95", "10:00", fee="1", fee_currency="USDT")
    # Then the account is halted
    [(account, state, by, reason)] = states(desk)
    assert (account, state, by) == ("main", "halted", "max_daily_loss")
    assert reason is not None and reason.endswith(": is 51")


def test_a_response_is_refused_on_other_kinds_of_limit(desk: OrderLedger) -> None:
    with pytest.raises(
        InvalidInputError, match="only a max_daily_loss or max_drawdown limit being set takes"
    ):
        desk.risk_controls.set_limit("account", "main", "max_position", "5", set_by="alice", response="halt")
    with pytest.raises(InvalidInputError, match=r"response must be one of reduce_only\|halt"):
        desk.risk_controls.set_limit("account", "main", "max_drawdown", "5", set_by="alice", response="stop")
    assert desk.risk_controls.limits() == []


def test_a_mark_past_the_drawdown_sets_the_response(desk: OrderLedger) -> None:
    # Given at most 40 USDT of drawdown a day, answered by a halt, 10 BTC bought at 100 at 09:00
    desk.risk_controls.set_limit(
        "account", "main", "max_drawdown", "40", set_by="alice", ts=MORNING, response="halt"
    )
    filled(desk, "b1", "buy", "10", "100", "09:00")
    # When marks of 106 (P&L (106 − 100) × 10 = 60, the high) and 102 (20: drawdown 40) arrive
    mark(desk, "106", "10:00")
    mark(desk, "102", "11:00")
    # Then 40 is at the limit, not past it: nothing is set
    assert desk.risk_controls.trading_states() == []
    # When a mark of 101.5 arrives: P&L 15, a drawdown of 60 − 15 = 45 > 40
    mark(desk, "101.5", "11:30")
    [(account, state, by, reason)] = states(desk)
    assert (account, state, by) == ("main", "halted", "max_drawdown")
    assert reason is not None and reason.startswith("max_drawdown 40 on account main (limit event 1,")
    assert reason.endswith(": is 45.0")  # (101.5 − 100) × 10 = 15.0: one decimal place, as the mark


def test_a_cooldown_lifts_itself_at_its_end(make_ledger: Callable[..., OrderLedger]) -> None:
    now = [NOW]
    desk = make_ledger(clock=lambda: now[0])
    # Given the account reduce-only since 11:00, then halted at 12:00 until 12:30
    desk.risk_controls.set_trading_state("reduce_only", account="main", set_by="bob", ts=at("11:00:00"))
    desk.risk_controls.set_trading_state(
        "halted", account="main", set_by="ops", until=at("12:30:00"), reason="cooldown"
    )
    [row] = desk.risk_controls.trading_states()
    assert (row.state, row.until) == ("halted", at("12:30:00"))
    assert row.to_json()["until"] == "2025-03-03T12:30:00.000000Z"
    # When the clock reaches 12:29:59.999999 the halt stands
    now[0] = at("12:30:00") - timedelta(microseconds=1)
    assert [(s.state, s.set_by) for s in desk.risk_controls.trading_states()] == [("halted", "ops")]
    assert not desk.check({"venue": "x", "account": "main", "instrument": "BTC-USDT", "side": "buy",
                           "order_type": "limit", "quantity": "1", "price": "1"}).allowed  # fmt: skip
    # Then at 12:30 it lifts itself: the state set before it (reduce-only, by bob) applies again
    now[0] = at("12:30:00")
    assert [(s.state, s.set_by, s.until) for s in desk.risk_controls.trading_states()] == [
        ("reduce_only", "bob", None)
    ]
    # And as of a time within the cooldown it is answered as it stood
    assert [s.state for s in desk.risk_controls.trading_states(as_of=at("12:10:00"))] == ["halted"]


def test_a_cooldown_with_nothing_before_it_leaves_the_account_active(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    now = [NOW]
    desk = make_ledger(clock=lambda: now[0])
    desk.risk_controls.set_trading_state("halted", account="main", set_by="ops", until=at("12:30:00"))
    now[0] = at("13:00:00")
    [row] = desk.risk_controls.trading_states()
    assert (row.state, row.effective_state, row.ts_event) == ("active", "active", at("12:30:00"))
    with pytest.raises(InvalidInputError, match="until must be after the state's time"):
        desk.risk_controls.set_trading_state("halted", account="main", set_by="ops", until=at("12:00:00"))


def test_the_asyncio_iterator_says_each_state_change(file_ledger_url: str) -> None:
    now = [NOW]

    async def main() -> list[tuple[str, str, str, datetime]]:
        async with AsyncOrderLedger(file_ledger_url, clock=lambda: now[0]) as ledger:
            # Given at most 50 lost a day on main, answered by a halt, and 10 bought at 100
            await ledger.risk_controls.set_limit(
                "account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING, response="halt"
            )
            await asyncio.to_thread(filled, ledger.ledger, "b1", "buy", "10", "100", "09:00")
            seen: list[tuple[str, str, str, datetime]] = []
            events = ledger.risk_events(poll_seconds=0.05)
            async with contextlib.aclosing(events):
                # When the 10 are sold at 94 (a loss of 60 > 50)
                await asyncio.to_thread(filled, ledger.ledger, "s1", "sell", "10", "94", "10:00")
                async for event in events:
                    if isinstance(event, StateChange):
                        seen.append(
                            (event.state.account, event.state.state, event.state.set_by, event.changed_at)
                        )
                        if len(seen) == 1:
                            # Then the halt is one change, at the clock's time; when beta is
                            # halted for 30 minutes and the clock passes its end
                            await ledger.risk_controls.set_trading_state(
                                "halted", account="beta", set_by="ops", lasting=timedelta(minutes=30)
                            )
                        elif len(seen) == 2:
                            now[0] = NOW + timedelta(minutes=30)
                        else:
                            return seen
        raise AssertionError("the events ended")

    seen = asyncio.run(asyncio.wait_for(main(), 30))
    # Then the cooldown's end is a change of its own, at its end: beta is active again
    assert seen == [
        ("main", "halted", "max_daily_loss", NOW),
        ("beta", "halted", "ops", NOW),
        ("beta", "active", "ops", NOW + timedelta(minutes=30)),
    ]


def test_respond_records_what_another_process_passed(file_ledger_url: str) -> None:
    # Given a writer that leaves its views to a follower (so it works out no response), recording a
    # sale at a loss of (94 − 100) × 10 = 60 past a limit of 50
    with OrderLedger(file_ledger_url, clock=lambda: NOW) as writer:
        writer.risk_controls.set_limit("account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING)
    with OrderLedger(file_ledger_url, clock=lambda: NOW, project=False) as writer:
        filled(writer, "b1", "buy", "10", "100", "09:00")
        filled(writer, "s1", "sell", "10", "94", "10:00")
    with OrderLedger(file_ledger_url, clock=lambda: NOW) as watcher:
        watcher.upkeep.catch_up()
        assert watcher.risk_controls.trading_states() == []
        # When a watcher (risk --watch) asks for the responses
        assert len(watcher.risk_controls.respond()) == 1
        # Then the state is recorded once; asked again, nothing more
        assert [(s.state, s.set_by) for s in watcher.risk_controls.trading_states()] == [
            ("reduce_only", "max_daily_loss")
        ]
        assert watcher.risk_controls.respond() == []
