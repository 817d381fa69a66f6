"""Positions are folded in venue time: a function of the set of fills, not of their arrival.

The fold orders fills by venue time, then trade ID, then order, then log position; a fill
arriving after a later one is put in its place and the book re-folded from there. So any
permutation of the same fills (and of the busts and corrections that follow each fill) gives
the same positions and the same P&L entry for every fill.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderFilled
from orderledger.domain.values import Side
from orderledger.projections.base import fold
from orderledger.projections.positions import PNL_TABLE, POSITIONS_TABLE, PositionsProjection

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
HEADER: dict[str, Any] = {"account": "acc", "venue": "v", "instrument": "BTC-USDT", "source": "test"}
NAMESPACE = UUID("6f1c1f43-2b55-4a47-9d7e-3a9c1f1d0a01")


def filled(
    n: int, side: Side, qty: Decimal, px: Decimal, second: int, trade_id: str | None = None
) -> OrderFilled:
    return OrderFilled(
        originator_id=uuid5(NAMESPACE, f"o{n}"),
        originator_version=2,
        ts_recorded=T0,
        ts_event=T0 + timedelta(seconds=second),
        client_order_id=f"o{n}",
        trade_id=f"t{n}" if trade_id is None else trade_id,
        last_qty=qty,
        last_px=px,
        side=side,
        fee=Decimal("0.1"),
        fee_currency="USDT",
        quote_currency="USDT",
        **HEADER,
    )


def busted(fill: OrderFilled) -> FillBusted:
    return FillBusted(
        originator_id=fill.originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0 + timedelta(hours=2),
        client_order_id=fill.client_order_id,
        trade_id=fill.trade_id,
        side=fill.side,
        last_qty=fill.last_qty,
        last_px=fill.last_px,
        fee=fill.fee,
        fee_currency="USDT",
        quote_currency="USDT",
        fill_ts_event=fill.ts_event,
        **HEADER,
    )


def corrected(fill: OrderFilled, px: Decimal) -> FillCorrected:
    return FillCorrected(
        originator_id=fill.originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0 + timedelta(hours=2),
        client_order_id=fill.client_order_id,
        trade_id=fill.trade_id,
        side=fill.side,
        previous_qty=fill.last_qty,
        previous_px=fill.last_px,
        previous_fee=fill.fee,
        last_qty=fill.last_qty,
        last_px=px,
        fee=Decimal("0.2"),
        fee_currency="USDT",
        quote_currency="USDT",
        fill_ts_event=fill.ts_event,
        **HEADER,
    )


def outcome(events: list[OrderEvent]) -> tuple[Any, ...]:
    """The position and each fill's P&L entry, keyed by trade (not by log position)."""
    tables = fold(PositionsProjection(), list(enumerate(events, start=1)))
    (book,) = tables[POSITIONS_TABLE.name].rows.values()
    entries = {
        (e.client_order_id, e.trade_id): (e.kind, e.realized, e.before_qty, e.before_cost, e.before_realized)
        for e in tables[PNL_TABLE.name].rows.values()
    }
    return (book.quantity, book.cost, book.realized_pnl, book.fees, book.terms), entries


# A few seconds for many fills: equal venue times are common, and the trade ID decides.
fill_strategy = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 9).map(Decimal),
    st.integers(90, 110).map(Decimal),
    st.integers(0, 4),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(fill_strategy, min_size=2, max_size=10), st.data())
def test_any_arrival_order_gives_the_same_positions_and_pnl(
    fills: list[tuple[Side, Decimal, Decimal, int]], data: st.DataObject
) -> None:
    made = [filled(n, *f) for n, f in enumerate(fills)]
    # Some fills are busted or corrected afterwards; each restatement comes after its fill.
    fates = data.draw(
        st.lists(st.sampled_from(["keep", "bust", "correct"]), min_size=len(made), max_size=len(made))
    )
    later: dict[int, OrderEvent] = {}
    for n, fate in enumerate(fates):
        if fate == "bust":
            later[n] = busted(made[n])
        elif fate == "correct":
            later[n] = corrected(made[n], made[n].last_px + 3)

    def arrival(order: list[int], restate_at: list[int]) -> list[OrderEvent]:
        events: list[OrderEvent] = []
        pending = sorted((at, n) for n, at in zip(order, restate_at, strict=True) if n in later)
        for step, n in enumerate(order):
            events.append(made[n])
            while pending and pending[0][0] <= step and any(e is made[pending[0][1]] for e in events):
                events.append(later[pending.pop(0)[1]])
        events.extend(later[n] for _, n in pending)
        return events

    # The IDs t0, t1 … are not numeric: within one venue time they sort as text.
    in_time = sorted(range(len(made)), key=lambda n: (made[n].ts_event, made[n].trade_id))
    reference = outcome(arrival(in_time, [len(made)] * len(made)))
    order = data.draw(st.permutations(range(len(made))))
    restate_at = data.draw(st.lists(st.integers(0, len(made)), min_size=len(made), max_size=len(made)))
    assert outcome(arrival(list(order), restate_at)) == reference


def test_a_late_fill_refolds_its_position_from_its_place_in_time() -> None:
    """docs/semantics.md, "A late fill": buy 2 @ 100 at 10:00:01, sell 1 @ 110 at 10:00:03, then
    the buy 2 @ 130 of 10:00:02 arrives. In venue time: +2 @ 100; +2 @ 130 → average
    (200 + 260) / 4 = 115; sell 1 @ 110 realizes (110 − 115) × 1 = −5, leaving +3 @ 115.
    In arrival order the sell would have realized (110 − 100) × 1 = +10."""
    first = filled(1, Side.BUY, Decimal(2), Decimal(100), 1)
    sell = filled(2, Side.SELL, Decimal(1), Decimal(110), 3)
    late = filled(3, Side.BUY, Decimal(2), Decimal(130), 2)
    before = fold(PositionsProjection(), [(1, first), (2, sell)])
    assert before[POSITIONS_TABLE.name].rows[("acc", "v", "BTC-USDT")].realized_pnl == Decimal(10)
    tables = fold(PositionsProjection(), [(1, first), (2, sell), (3, late)])
    book = tables[POSITIONS_TABLE.name].rows[("acc", "v", "BTC-USDT")]
    assert (book.quantity, book.average_price, book.realized_pnl) == (Decimal(3), Decimal(115), Decimal(-5))
    entries = tables[PNL_TABLE.name].rows
    assert [entries[p].realized for p in (1, 2, 3)] == [Decimal(0), Decimal(-5), Decimal(0)]
    assert (entries[3].previous, entries[2].previous) == (1, 3)  # linked in venue time
    assert book.last == 2  # the sell stays the latest fill in venue time


def test_numeric_trade_ids_order_fills_of_one_venue_time_by_value() -> None:
    """Three fills at one venue time, trades 9, 10 and 11: buy 1 @ 100, sell 1 @ 120, buy 1 @ 140.
    By number: the sell closes the first buy, (120 − 100) × 1 = +20, and +1 @ 140 is left, in
    whatever order they arrive. Taken as text ("10" < "11" < "9") the sell would open a short
    that the buy at 140 closes: (120 − 140) × 1 = −20, and +1 @ 100 left."""
    fills = [
        filled(1, Side.BUY, Decimal(1), Decimal(100), 0, trade_id="9"),
        filled(2, Side.SELL, Decimal(1), Decimal(120), 0, trade_id="10"),
        filled(3, Side.BUY, Decimal(1), Decimal(140), 0, trade_id="11"),
    ]
    for order in itertools.permutations(fills):
        tables = fold(PositionsProjection(), list(enumerate(order, start=1)))
        book = tables[POSITIONS_TABLE.name].rows[("acc", "v", "BTC-USDT")]
        assert (book.quantity, book.average_price, book.realized_pnl) == (
            Decimal(1),
            Decimal(140),
            Decimal(20),
        )
