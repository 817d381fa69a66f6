"""Limits replayed over the log (``ledger.risk_controls.risk_replay``, docs/risk.md), on every backend.

Each session is recorded with the ledger's clock set to each message's own time, so that the
recorded time the replay judges at is the time written beside each line. Every position, P&L and
exposure figure below is worked out by hand in the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger import Filter, InvalidInputError, OrderLedger
from orderledger.domain.values import WIDE
from tests.support.risk_replay import (
    DRAWDOWN_DAY,
    LOSS_DAY,
    NOTIONAL_200,
    SESSION,
    Clock,
    at,
    fill,
    mark,
    order,
    placed,
    session,
)

D = Decimal


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger], clock: Clock) -> OrderLedger:
    return make_ledger(clock=clock)


def path_of(answer: Any) -> list[tuple[Any, ...]]:
    return [
        (p.at, p.account, p.currency, p.realized_pnl, p.replayed_realized_pnl, p.net, p.replayed_net,
         p.gross, p.replayed_gross)
        for p in answer.path
    ]  # fmt: skip


def test_an_order_past_its_notional_is_denied_and_its_fills_leave_the_path(
    desk: OrderLedger, clock: Clock
) -> None:
    # Given buys of 2 at 100 (200) and 2 at 120 (240), a sale of 1 at 130, marks 120 then 90 on
    # the next day, and a buy of 1 at 95 (95), with their acks and fills
    session(desk, clock, SESSION)
    head, journal = desk.log_position(), len(list(desk.audit.iter_messages(Filter())))
    # When a limit of 200 per order on the account is replayed over the log
    answer = desk.risk_controls.risk_replay(NOTIONAL_200)
    # Then c2 alone is denied: 2 × 120 = 240 > 200 (c1's 200 is within: at most means equal too)
    [denied] = answer.orders
    assert (denied.client_order_id, denied.outcome, denied.account, denied.side.value) == (
        "c2", "denied", "main", "buy",
    )  # fmt: skip
    assert (denied.quantity, denied.price, denied.ts_recorded) == (
        D(2), D(120), datetime(2025, 3, 3, 10, tzinfo=UTC),
    )  # fmt: skip
    [breach] = denied.breaches
    assert (breach.kind, breach.value, breach.figure) == ("max_order_notional", D(200), D(240))
    assert breach.reason == "max_order_notional 200 on account main: would be 240"
    # And the path, as recorded: 2 @ 100 + 2 @ 120 = 4 @ 110; selling 1 at 130 realizes 20,
    # leaving 3 @ 110: 3 × 120 = 360 at the first day's last mark; the next day 1 more at 95
    # (4 held) at the mark 90: 4 × 90 = 360. Replayed without c2: 2 @ 100; selling 1 at 130
    # realizes 30, leaving 1: 1 × 120 = 120; then 2 held: 2 × 90 = 180.
    assert path_of(answer) == [
        ("2025-03-03", "main", "USDT", D(20), D(30), D(360), D(120), D(360), D(120)),
        ("end", "main", "USDT", D(20), D(30), D(360), D(180), D(360), D(180)),
    ]
    # And the replay wrote nothing: the log and the journal are as they were
    assert (desk.log_position(), len(list(desk.audit.iter_messages(Filter())))) == (head, journal)
    # And as JSON: one document, the orders and the path
    shown = answer.to_json()
    assert shown["orders"][0]["breaches"][0]["figure"] == "240"
    assert shown["path"][-1] == {
        "at": "end", "account": "main", "currency": "USDT", "realized_pnl": "20",
        "replayed_realized_pnl": "30", "net": "360", "replayed_net": "180", "gross": "360",
        "replayed_gross": "180",
    }  # fmt: skip


def test_since_folds_what_came_before_unjudged(desk: OrderLedger, clock: Clock) -> None:
    # Given the session, replayed from 10:30 on the first day: c2 (10:00) is folded as recorded
    session(desk, clock, SESSION)
    answer = desk.risk_controls.risk_replay(NOTIONAL_200, since=datetime(2025, 3, 3, 10, 30, tzinfo=UTC))
    # Then nothing after it passes 200 (c3: 130, c5: 95): nothing denied, the path as recorded
    assert answer.orders == ()
    assert path_of(answer) == [
        ("2025-03-03", "main", "USDT", D(20), D(20), D(360), D(360), D(360), D(360)),
        ("end", "main", "USDT", D(20), D(20), D(360), D(360), D(360), D(360)),
    ]
    # And from 10:00 on, c2 is judged and denied again
    again = desk.risk_controls.risk_replay(NOTIONAL_200, since=datetime(2025, 3, 3, 10, tzinfo=UTC))
    assert [row.client_order_id for row in again.orders] == ["c2"]


def test_a_position_limit_denies_the_order_past_it_and_allows_the_reducing_sale(
    desk: OrderLedger, clock: Clock
) -> None:
    # Given 2 bought at 09:00, then a buy of 1 at 10:30 and a sale of 1 at 11:00, all filled
    session(desk, clock, [
        *placed("c1", "buy", "2", "100", at(3, "09:00:00"), at(3, "09:00:01")),
        *placed("c2", "buy", "1", "100", at(3, "10:30:00"), at(3, "10:30:01")),
        *placed("c3", "sell", "1", "100", at(3, "11:00:00"), at(3, "11:00:01")),
    ])  # fmt: skip
    # When a position limit of 1, in force from 10:00, is replayed
    limits = (
        '{"scope":"account","target":"main","kind":"max_position","value":"1","ts":"2025-03-03T10:00:00Z"}\n'
    )
    answer = desk.risk_controls.risk_replay(limits)
    # Then c1 is not judged by it (it came before the limit), c2 is denied (2 + 1 = 3 > 1), and
    # the sale is allowed: 2 − 1 = 1, and it leaves the position no larger than the 2 held
    [denied] = answer.orders
    assert (denied.client_order_id, [b.figure for b in denied.breaches]) == ("c2", [D(3)])
    # And the path: recorded 2 + 1 − 1 = 2, replayed 2 − 1 = 1, all at 100 (no mark: at cost)
    assert path_of(answer) == [("end", "main", "USDT", D(0), D(0), D(200), D(100), D(200), D(100))]


def test_a_window_of_orders_counts_the_orders_not_denied(desk: OrderLedger, clock: Clock) -> None:
    # Given four orders of 1 at 09:00:00, :20, :40 and 09:01:10
    times = ("09:00:00", "09:00:20", "09:00:40", "09:01:10")
    session(desk, clock, [order(f"c{n}", "buy", "1", "100", at(3, t)) for n, t in enumerate(times, 1)])
    # When at most 2 orders a minute are replayed
    limits = [{"scope": "account", "target": "main", "kind": "max_orders", "value": "2", "interval": 60}]
    answer = desk.risk_controls.risk_replay(limits)
    # Then the third is denied (c1, c2 and itself: 3 > 2); the fourth counts c2 (after 09:00:10)
    # and itself, not c3, which was never placed: 2, allowed
    [denied] = answer.orders
    assert (denied.client_order_id, [b.figure for b in denied.breaches]) == ("c3", [D(3)])
    # And open orders hold nothing: the path has no position
    assert path_of(answer) == []


def test_an_external_order_is_flagged_never_denied(desk: OrderLedger, clock: Clock) -> None:
    # Given an order the venue reported (external), buying 3 at 100 (300), filled
    external = order("e1", "buy", "3", "100", at(3, "09:00:00"), external=True)
    session(desk, clock, [external, fill("e1", "3", "100", at(3, "09:00:01"))])
    # When a limit of 200 per order is replayed
    answer = desk.risk_controls.risk_replay(NOTIONAL_200)
    # Then it is flagged, 300 > 200, and stays in the path: 3 × 100 both ways
    [flagged] = answer.orders
    assert (flagged.client_order_id, flagged.outcome, [b.figure for b in flagged.breaches]) == (
        "e1", "flagged", [D(300)],
    )  # fmt: skip
    assert answer.denied == [] and answer.flagged == [flagged]
    assert path_of(answer) == [("end", "main", "USDT", D(0), D(0), D(300), D(300), D(300), D(300))]


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        ('{"scope":"account","target":"main","kind":"max_position","value":"1"}\n{"scope":"desk"}',
         "line 2: "),
        ('{"scope":"account","target":"main","kind":"max_orders","value":"1"}',
         "line 1: a max_orders limit needs interval (seconds)"),
        ('{"scope":"account","target":"main","kind":"max_position","value":"1","response":"halt"}',
         "line 1: only a max_daily_loss or max_drawdown limit being set takes response"),
        ('[{"scope":"account","target":"main","kind":"max_position","value":"-1"}]', "limit 1: "),
        ("{", "line 1: not JSON"),
    ],
)  # fmt: skip
def test_bad_limits_are_one_line_errors_that_change_nothing(
    desk: OrderLedger, clock: Clock, limits: str, error: str
) -> None:
    session(desk, clock, SESSION[:3])
    head = desk.log_position()
    with pytest.raises(InvalidInputError) as raised:
        desk.risk_controls.risk_replay(limits)
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)
    assert desk.log_position() == head


SIDES = st.sampled_from(("buy", "sell"))
STEPS = st.lists(
    st.tuples(SIDES, st.integers(1, 5), st.integers(90, 110), st.booleans(), st.integers(0, 30)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_limits_that_cannot_bind_deny_nothing_and_the_path_is_the_books(
    make_ledger: Callable[..., OrderLedger], steps: list[tuple[str, int, int, bool, int]]
) -> None:
    # Given any session of orders (filled or left open) and marks over two days
    clock = Clock()
    ledger = make_ledger(clock=clock)
    prefix = f"{uuid.uuid4().hex[:8]}-"
    messages: list[dict[str, Any]] = []
    for n, (side, quantity, price, fills, minutes) in enumerate(steps):
        ts = at(3 + n % 2, f"{10 + n}:{minutes:02d}:00")
        cid = f"{prefix}{n}"
        messages.append(order(cid, side, str(quantity), str(price), ts))
        if fills:
            messages.append({**fill(cid, str(quantity), str(price), ts), "trade_id": f"t-{cid}"})
        messages.append(mark(str(price + minutes), ts))
    messages.sort(key=lambda m: m["ts"])
    for message in messages:
        clock.now = datetime.fromisoformat(message["ts"].replace("Z", "+00:00"))
        ledger.record(message)
    # When limits far past any figure are replayed (and none at all: the same)
    kinds = ("max_position", "max_gross_exposure", "max_order_notional", "max_orders")
    loose = [{"scope": "account", "target": "main", "kind": kind, "value": "1000000000",
              **({"interval": 60} if kind == "max_orders" else {})} for kind in kinds]  # fmt: skip
    answer = ledger.risk_controls.risk_replay(loose)
    assert ledger.risk_controls.risk_replay([]) == answer
    # Then nothing is denied, and at the end the replayed path is the recorded one, which is the
    # positions view: realized P&L, and each position's notional at its mark, signed and not
    assert answer.orders == ()
    end = [p for p in answer.path if p.at == "end"]
    books: dict[tuple[str, str], list[Decimal]] = {}
    for row in ledger.positions():
        figures = books.setdefault((row.account, row.pnl_currency or "?"), [D(0), D(0), D(0)])
        figures[0] = WIDE.add(figures[0], row.realized_pnl)  # exact sums, as the path's
        figures[1] = WIDE.add(figures[1], row.notional if row.quantity >= 0 else WIDE.minus(row.notional))
        figures[2] = WIDE.add(figures[2], row.notional)
    assert {
        (p.account, p.currency): [p.replayed_realized_pnl, p.replayed_net, p.replayed_gross] for p in end
    } == books
    assert all(
        (p.realized_pnl, p.net, p.gross) == (p.replayed_realized_pnl, p.replayed_net, p.replayed_gross)
        for p in answer.path
    )


def test_an_underlying_limit_nets_spot_and_contracts_across_instruments(
    desk: OrderLedger, clock: Clock
) -> None:
    # Given BTC-USDT spot (base BTC) and BTC-PERP (0.5 BTC a contract, underlying BTC) defined
    perp = {
        "type": "instrument",
        "venue": "x",
        "instrument": "BTC-PERP",
        "kind": "swap",
        "contract_size": "0.5",
        "underlying": "BTC",
        "quote_currency": "USDT",
        "ts": at(3, "08:00:00"),
    }
    spot = {"type": "instrument", "venue": "x", "instrument": "BTC-USDT", "kind": "spot",
            "base_currency": "BTC", "quote_currency": "USDT", "ts": at(3, "08:00:00")}  # fmt: skip

    def on_perp(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**m, "instrument": "BTC-PERP"} if m["type"] == "request" else m for m in messages]

    # And 2 BTC bought spot, then 2 contracts bought, 4 sold and 4 bought, each filled
    session(desk, clock, [
        perp, spot,
        *placed("c1", "buy", "2", "100", at(3, "09:00:00"), at(3, "09:00:01")),
        *on_perp(placed("c2", "buy", "2", "100", at(3, "10:00:00"), at(3, "10:00:01"))),
        *on_perp(placed("c3", "sell", "4", "100", at(3, "11:00:00"), at(3, "11:00:01"))),
        *on_perp(placed("c4", "buy", "4", "100", at(3, "12:00:00"), at(3, "12:00:01"))),
    ])  # fmt: skip
    # When at most 2.5 BTC is replayed on the underlying, netted across the two instruments
    answer = desk.risk_controls.risk_replay(
        [{"scope": "underlying", "target": "BTC", "kind": "max_position", "value": "2.5"}]
    )
    # Then c1 makes 2 BTC; c2 would make 2 + 2 × 0.5 = 3 > 2.5: denied; c3 makes 2 − 4 × 0.5 = 0
    # (its figure is the larger of the 2 held and 0), and c4 makes 0 + 4 × 0.5 = 2: both within
    assert [(row.client_order_id, [b.figure for b in row.breaches]) for row in answer.orders] == [
        ("c2", [D(3)])
    ]


def breaches_of(answer: Any) -> list[tuple[str, list[tuple[str, str, Decimal | None]]]]:
    return [(o.client_order_id, [(b.kind, b.reason, b.figure) for b in o.breaches]) for o in answer.orders]


LOSS = "max_daily_loss 50 on account main"


def test_a_daily_loss_halt_denies_every_later_order_for_the_rest_of_the_day(
    desk: OrderLedger, clock: Clock
) -> None:
    session(desk, clock, LOSS_DAY)
    limits = [
        {"scope": "account", "target": "main", "kind": "max_daily_loss", "value": "50", "response": "halt"}
    ]
    answer = desk.risk_controls.risk_replay(limits)
    # The 11:00 mark makes a loss of 60 > 50 (tests/support/risk_replay.py): main is halted for
    # the rest of the day. c3 reduces (the limit lets it through) but the halt denies it; c4 adds
    # and the loss still stands at 60 (c3 left out: 20 × 95 − 1960 = −60); c5 comes after the
    # 13:00 mark (20 × 100 − 1960 = +40: no loss) and the halt still denies it; c6 is the next day.
    halted = f"trading is halted (set by max_daily_loss: {LOSS}: is 60)"
    assert breaches_of(answer) == [
        ("c3", [("max_daily_loss", halted, D(60))]),
        ("c4", [("max_daily_loss", halted, D(60)), ("max_daily_loss", f"{LOSS}: would be 60", D(60))]),
        ("c5", [("max_daily_loss", halted, D(60))]),
    ]
    # The path: as recorded c3's sale realizes 5 × (95 − 98) = −15 and main holds 20 − 5 + 1 + 1 = 17
    # at the day's last mark of 100 (1700), then 18 (1800); replayed it realizes nothing and holds
    # 20 (2000), then 21 (2100)
    assert [(p.at, p.realized_pnl, p.replayed_realized_pnl, p.net, p.replayed_net) for p in answer.path] == [
        ("2025-03-03", D(-15), D(0), D(1700), D(2000)),
        ("end", D(-15), D(0), D(1800), D(2100)),
    ]


def test_a_daily_loss_reduce_only_lets_the_reducing_sale_through(desk: OrderLedger, clock: Clock) -> None:
    session(desk, clock, LOSS_DAY)
    limits = [{"scope": "account", "target": "main", "kind": "max_daily_loss", "value": "50"}]
    answer = desk.risk_controls.risk_replay(limits)
    # Reduce-only (the default response): c3's sale of 5 against 20 reduces and is kept: it realizes
    # 5 × (95 − 98) = −15 and leaves 15 at 98 (15 × 95 − 1470 = −45: the loss is still 60). c4 would
    # make 15 + 1 = 16; c5 too, after the recovery (−15 + 15 × 100 − 1470 = +15: no loss by the limit)
    reduce_only = f"(set by max_daily_loss: {LOSS}: is 60)"
    assert breaches_of(answer) == [
        (
            "c4",
            [
                ("max_daily_loss", f"reduce-only: the position 15 would become 16 {reduce_only}", D(60)),
                ("max_daily_loss", f"{LOSS}: would be 60", D(60)),
            ],
        ),
        ("c5", [("max_daily_loss", f"reduce-only: the position 15 would become 16 {reduce_only}", D(60))]),
    ]
    # Replayed: realized −15, 15 held at 100 (1500), then c6 on the next day: 16 (1600)
    assert [(p.at, p.replayed_realized_pnl, p.replayed_net) for p in answer.path] == [
        ("2025-03-03", D(-15), D(1500)),
        ("end", D(-15), D(1600)),
    ]


def test_a_drawdown_halt_lasts_until_the_drawdown_is_back_within_it(desk: OrderLedger, clock: Clock) -> None:
    session(desk, clock, DRAWDOWN_DAY)
    limits = [
        {"scope": "account", "target": "main", "kind": "max_drawdown", "value": "40", "response": "halt"}
    ]
    answer = desk.risk_controls.risk_replay(limits)
    # At 11:00 the drawdown is 60 − 10 = 50 > 40: halted, so c2's sale (which reduces) is denied;
    # at 12:00 it is 60 − 40 = 20 ≤ 40: the halt lifts, and c3's sale is kept
    drawdown = "max_drawdown 40 on account main"
    assert breaches_of(answer) == [
        ("c2", [("max_drawdown", f"trading is halted (set by max_drawdown: {drawdown}: is 50)", D(50))])
    ]
    # As recorded: c2 realizes 101 − 100 = 1 and c3 104 − 100 = 4 (5), 8 held at 104 (832);
    # replayed: c3's 4, 9 held (936)
    assert [(p.at, p.realized_pnl, p.replayed_realized_pnl, p.net, p.replayed_net) for p in answer.path] == [
        ("end", D(5), D(4), D(832), D(936)),
    ]


def test_since_counts_the_days_loss_from_the_days_start(desk: OrderLedger, clock: Clock) -> None:
    session(desk, clock, LOSS_DAY)
    limits = [
        {"scope": "account", "target": "main", "kind": "max_daily_loss", "value": "50", "response": "halt"}
    ]
    # Judged from 11:15 only, the loss of 60 the day made by 11:00 (before it) still halts main
    answer = desk.risk_controls.risk_replay(limits, since=datetime(2025, 3, 3, 11, 15, tzinfo=UTC))
    assert [o.client_order_id for o in answer.orders] == ["c3", "c4", "c5"]
