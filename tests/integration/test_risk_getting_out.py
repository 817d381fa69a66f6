"""Getting out is always allowed: an order that reduces its position, counting the open orders on
its side, is never denied by a position, gross exposure, daily loss or drawdown limit, and
reduce-only counts the open reducing orders, so the ones it allows never add up to more than the
position (docs/risk.md, "Getting out").

Every expected figure is worked out in the test from the fills, marks and orders given.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger import OrderDeniedError, OrderLedger, Outcome
from tests.support.risk_desk import MORNING, NOW, at, filled, mark, spec

REVIEW = " (set by alice: risk review)"


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    return make_ledger(clock=lambda: NOW)


def fill(ledger: OrderLedger, cid: str, quantity: str, price: str = "100") -> None:
    """Fill an order placed through ``placing`` in full at 12:00 (the ledger's clock)."""
    message = {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": quantity}
    assert ledger.record({**message, "price": price, "ts": NOW.isoformat()}).outcome is Outcome.APPLIED


def place(ledger: OrderLedger, order: dict[str, Any]) -> str | None:
    """Place an order through ``placing`` (checked): None when it was sent, else the denial."""
    try:
        with ledger.placing(order) as placement:
            placement.accepted(f"v-{order['client_order_id']}")
    except OrderDeniedError as denial:
        return denial.reason
    return None


def net(ledger: OrderLedger) -> Decimal:
    return sum((p.quantity for p in ledger.positions(account="main")), start=Decimal(0))


def reduce_only(ledger: OrderLedger) -> None:
    ledger.risk_controls.set_trading_state(
        "reduce_only", account="main", set_by="alice", reason="risk review", ts=at("10:00")
    )


def test_reduce_only_counts_the_open_sells_so_a_long_never_turns_short(desk: OrderLedger) -> None:
    # Given long 1, and the account reduce-only
    filled(desk, "b1", "buy", "1", "100", "09:00")
    reduce_only(desk)
    # Then a sale of 1 is allowed: 1 to reduce, nothing open to sell
    assert desk.check(spec("sell", "1")).allowed
    # When five sales of 1 are placed one after the other
    denials = [place(desk, spec("sell", "1", client_order_id=f"s{n}")) for n in range(5)]
    # Then the first is sent; with it open, each next one would take 1 − 1 − 1 = −1: denied
    refusal = "reduce-only: the position 1 would become -1 with the 1 open to sell filled (0 left to reduce)"
    assert denials == [None] + [refusal + REVIEW] * 4
    assert [o.client_order_id for o in desk.orders(open=True)] == ["s0"]
    # And when the one sent fills, the account is flat, never short
    fill(desk, "s0", "1")
    assert net(desk) == 0
    # And flat, a sale is no reduction: 0 would become −1
    assert desk.check(spec("sell", "1")).reasons == ["reduce-only: the position 0 would become -1" + REVIEW]


def test_reduce_only_mirrored_a_short_buys_back_to_flat_and_no_further(desk: OrderLedger) -> None:
    # Given short 2, and the account reduce-only
    filled(desk, "s1", "sell", "2", "100", "09:00")
    reduce_only(desk)
    # When three purchases of 1 are placed: 1 (2 left), then 1 with 1 open (1 + 1 = 2 ≤ 2),
    # then 1 with 2 open (2 + 1 = 3 > 2: −2 + 2 + 1 = 1)
    denials = [place(desk, spec("buy", "1", client_order_id=f"b{n}")) for n in range(3)]
    refusal = "reduce-only: the position -2 would become 1 with the 2 open to buy filled (0 left to reduce)"
    assert denials == [None, None, refusal + REVIEW]
    # And a sale makes the short larger: −2 − 1 = −3, denied; the open buys are on the other side
    assert desk.check(spec("sell", "1")).reasons == ["reduce-only: the position -2 would become -3" + REVIEW]
    # When both purchases sent fill, the account is flat
    fill(desk, "b0", "1")
    fill(desk, "b1", "1")
    assert net(desk) == 0


def test_reduce_only_nets_the_position_over_the_accounts_venues(desk: OrderLedger) -> None:
    # Given long 1 on venue x and long 1 on venue y: 2 in the account
    filled(desk, "bx", "buy", "1", "100", "09:00")
    request = {
        "type": "request",
        "client_order_id": "by",
        **spec("buy", "1", venue="y"),
        "ts": at("09:01").isoformat(),
    }
    desk.record(request)
    fill(desk, "by", "1")
    reduce_only(desk)
    # When a sale of 1 is placed on y, a sale of 1 on x (1 open + 1 = 2 ≤ 2), and one more on y
    denials = [
        place(desk, spec("sell", "1", venue="y", client_order_id="sy")),
        place(desk, spec("sell", "1", client_order_id="sx")),
        place(desk, spec("sell", "1", venue="y", client_order_id="sy2")),
    ]
    # Then the third is denied: 2 − 2 − 1 = −1
    refusal = "reduce-only: the position 2 would become -1 with the 2 open to sell filled (0 left to reduce)"
    assert denials == [None, None, refusal + REVIEW]
    # And once both fill, each venue is flat
    fill(desk, "sy", "1")
    fill(desk, "sx", "1")
    assert [(p.venue, p.quantity) for p in desk.positions(account="main")] == [("x", 0), ("y", 0)]


@pytest.mark.parametrize(("into", "out"), [("buy", "sell"), ("sell", "buy")])
def test_a_breached_gross_or_position_limit_lets_a_position_shrink(
    desk: OrderLedger, into: str, out: str
) -> None:
    # Given 2 held at 100 (long, or short for the mirror), marked at 100: gross 2 × 100 = 200
    filled(desk, "p1", into, "2", "100", "09:00")
    mark(desk, "100", "09:30")
    # and limits set since that it is past: gross at most 150, position at most 1
    desk.risk_controls.set_limit(
        "account", "main", "max_gross_exposure", "150", set_by="alice", ts=at("10:00")
    )
    desk.risk_controls.set_limit("account", "main", "max_position", "1", set_by="alice", ts=at("10:00"))
    # Then 1 back at 100 is allowed: gross on its side |200 − 100| = 100 (the other side 200),
    # not 200 + 100 = 300, and the position 2 → 1
    assert desk.check(spec(out, "1")).allowed
    # And all 2 back at 350 are allowed, though that side would be |200 − 700| = 500: it reduces
    assert desk.check(spec(out, "2", "350")).allowed
    # While 1 more at 100 is denied: gross 200 + 100 = 300 > 150, position 3 > 1
    grows = desk.check(spec(into, "1"))
    assert sorted((b.limit.kind, b.figure) for b in grows.breaches if b.limit) == [
        ("max_gross_exposure", Decimal(300)),
        ("max_position", Decimal(3)),
    ]
    # And 5 back is no reduction: the position 2 → −3 (or 3), |3| > 2 and > 1; gross |200 − 500| = 300
    turns = desk.check(spec(out, "5"))
    assert sorted((b.limit.kind, b.figure) for b in turns.breaches if b.limit) == [
        ("max_gross_exposure", Decimal(300)),
        ("max_position", Decimal(3)),
    ]


def test_a_breached_drawdown_lets_a_position_shrink_counting_the_open_sells(desk: OrderLedger) -> None:
    # Given at most 30 of drawdown, 10 bought at 100, marks of 106 then 102: the day's P&L rose to
    # (106 − 100) × 10 = 60 and stands at (102 − 100) × 10 = 20, a drawdown of 40 > 30
    desk.risk_controls.set_limit("account", "main", "max_drawdown", "30", set_by="alice", ts=MORNING)
    filled(desk, "b1", "buy", "10", "100", "09:00")
    mark(desk, "106", "10:00")
    mark(desk, "102", "11:00")
    # Then the limit's response set the account reduce-only at the mark (docs/risk.md, "Responses")
    assert [(s.state, s.set_by) for s in desk.risk_controls.trading_states()] == [
        ("reduce_only", "max_drawdown")
    ]

    def limits(order: dict[str, Any]) -> list[str]:
        return [b.reason for b in desk.check(order).breaches if b.limit]

    # And selling 5 is allowed, buying 1 is not, nor selling 11 (10 → −1)
    assert desk.check(spec("sell", "5", "102")).allowed
    breach = ["max_drawdown 30 on account main: would be 40"]
    assert limits(spec("buy", "1", "102")) == breach
    assert limits(spec("sell", "11", "102")) == breach
    # When 6 are offered (sent: 6 ≤ 10 reduces), 4 more still reduce (6 + 4 = 10); 5 do not
    assert place(desk, {**spec("sell", "6", "103"), "client_order_id": "o1"}) is None
    assert desk.check(spec("sell", "4", "102")).allowed
    assert limits(spec("sell", "5", "102")) == breach


def test_a_breached_daily_loss_lets_a_position_close_and_sets_reduce_only(desk: OrderLedger) -> None:
    # Given at most 50 lost a day, 10 bought at 100 and marked at 94: a loss of (100 − 94) × 10 = 60
    desk.risk_controls.set_limit("account", "main", "max_daily_loss", "50", set_by="alice", ts=MORNING)
    filled(desk, "b1", "buy", "10", "100", "09:00")
    mark(desk, "94", "11:00")
    # Then the limit's response set the account reduce-only at the mark, before any check
    cited = "max_daily_loss 50 on account main (limit event 1, set by alice at 2025-03-03T08:00:00.000000Z)"
    cited += ": is 60"
    assert [(s.account, s.state, s.set_by, s.reason) for s in desk.risk_controls.trading_states()] == [
        ("main", "reduce_only", "max_daily_loss", cited)
    ]
    # And selling the 10 is allowed, while buying 1 is denied by the state and the limit
    assert desk.check(spec("sell", "10", "94")).allowed
    denied = desk.check(spec("buy", "1", "94"))
    assert denied.reasons == [
        f"reduce-only: the position 10 would become 11 (set by max_daily_loss: {cited})",
        "max_daily_loss 50 on account main: would be 60",
    ]
    # And getting out stays allowed: 10 ≤ 10; 11 would turn short (10 → −1)
    assert desk.check(spec("sell", "10", "94")).allowed
    turns = desk.check(spec("sell", "11", "94"))
    assert turns.reasons == [
        f"reduce-only: the position 10 would become -1 (set by max_daily_loss: {cited})",
        "max_daily_loss 50 on account main: would be 60",
    ]


# ---------------------------------------------------------------------- properties

SIDES = st.sampled_from(["buy", "sell"])
ORDERS = st.lists(st.tuples(SIDES, st.integers(1, 3)), max_size=4)


def signed(side: str, quantity: int) -> int:
    return quantity if side == "buy" else -quantity


def holding(ledger: OrderLedger, position: int) -> None:
    """``position`` bought (or sold) at 100 at 09:00 and marked at 10:00 against it (90 for a
    long, 110 for a short): the day's P&L fell from 0 to −10 × |position|."""
    if position:
        filled(ledger, "p", "buy" if position > 0 else "sell", str(abs(position)), "100", "09:00")
        mark(ledger, "90" if position > 0 else "110", "10:00")


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(position=st.integers(-4, 4), working=ORDERS, order=st.tuples(SIDES, st.integers(1, 5)))
def test_an_order_that_reduces_is_never_denied_by_position_gross_or_loss_limits(
    position: int, working: list[tuple[str, int]], order: tuple[str, int]
) -> None:
    with OrderLedger("memory://", clock=lambda: NOW) as ledger:
        # Given a position, open orders of any sides at 100, and every limit at 0: each is past
        # its limit as soon as anything is held
        holding(ledger, position)
        for n, (side, quantity) in enumerate(working):
            request = {"type": "request", "client_order_id": f"w{n}", **spec(side, str(quantity))}
            ledger.record({**request, "ts": at("11:00").isoformat()})
        for scope, target in (("account", "main"), ("instrument", "BTC-USDT")):
            for kind in ("max_position", "max_gross_exposure"):
                ledger.risk_controls.set_limit(scope, target, kind, "0", set_by="alice", ts=MORNING)
        for kind in ("max_daily_loss", "max_drawdown"):
            ledger.risk_controls.set_limit("account", "main", kind, "0", set_by="alice", ts=MORNING)
        # When an order is checked: it reduces when it is against the position and, with the
        # open orders on its side, takes it no further than flat
        side, quantity = order
        same_side = sum(q for s, q in working if s == side)
        reduces = position * signed(side, 1) < 0 and same_side + quantity <= abs(position)
        result = ledger.check(spec(side, str(quantity)))
        # Then an order that reduces is allowed; one that does not, while something is held, is
        # denied (the day's loss of 10 × |position| is past 0)
        if reduces:
            assert result.allowed, result.reasons
        elif position:
            assert not result.allowed


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(position=st.integers(-4, 4), orders=st.lists(st.tuples(SIDES, st.integers(1, 3)), max_size=6))
def test_reduce_only_never_allows_more_than_the_position_in_reducing_orders(
    position: int, orders: list[tuple[str, int]]
) -> None:
    with OrderLedger("memory://", clock=lambda: NOW) as ledger:
        # Given a position and the account reduce-only
        holding(ledger, position)
        reduce_only(ledger)
        # When orders are placed one after the other, each checked with the ones sent still open
        sent = [
            (side, quantity)
            for n, (side, quantity) in enumerate(orders)
            if place(ledger, spec(side, str(quantity), client_order_id=f"o{n}")) is None
        ]
        # Then only orders against the position are sent, as long as their sum is within it
        expected, room = [], abs(position)
        for side, quantity in orders:
            if position * signed(side, 1) < 0 and quantity <= room:
                expected.append((side, quantity))
                room -= quantity
        assert sent == expected
        # And when every order sent fills, the position is no larger and has not changed sign
        for n, (_, quantity) in enumerate(orders):
            if any(o.client_order_id == f"o{n}" for o in ledger.orders(open=True)):
                fill(ledger, f"o{n}", str(quantity))
        after = net(ledger)
        assert after == position + sum(signed(side, quantity) for side, quantity in sent)
        assert abs(after) <= abs(position) and after * position >= 0


def test_an_underlying_limit_lets_its_net_units_shrink(desk: OrderLedger) -> None:
    # Given BTC spot (base BTC, USDT) long 3 at 100, marked at 100: 3 BTC worth 300 USDT, and an
    # underlying gross limit of 250 set since
    desk.venues.define_instrument(
        venue="x", instrument="BTC-USDT", kind="spot", base_currency="BTC", quote_currency="USDT", ts=MORNING
    )
    filled(desk, "b1", "buy", "3", "100", "09:00")
    mark(desk, "100", "09:30")
    desk.risk_controls.set_limit(
        "underlying", "BTC", "max_gross_exposure", "250", set_by="alice", ts=at("10:00")
    )
    # Then selling 2 at 350 is allowed: it reduces the 3 BTC (2 ≤ 3), though its side would be
    # worth 300 − 2 × 350 = −400 USDT
    assert desk.check(spec("sell", "2", "350")).allowed
    # While selling 4 at 100 turns it short: no reduction, and its side is worth 300 − 400 = −100,
    # while the other stays 300 > 250: no larger than before, allowed; at 350, 300 − 1400 = −1100
    assert desk.check(spec("sell", "4", "100")).allowed
    turns = desk.check(spec("sell", "4", "350"))
    assert [(b.limit.kind, b.figure) for b in turns.breaches if b.limit] == [
        ("max_gross_exposure", Decimal(1100))
    ]
