"""The positions fold, pure: busts and corrections restate history exactly.

Property: busting fill k of any fill sequence yields the same position (quantity, average
price, realized P&L, fees) as the sequence that never had fill k; correcting fill k yields the
same as the sequence in which fill k had the corrected values from the start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderFilled
from orderledger.domain.values import WIDE, Side
from orderledger.projections.base import fold
from orderledger.projections.positions import PNL_TABLE, POSITIONS_TABLE, PositionsProjection

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
KEY = ("acc", "v", "BTC-USDT")
HEADER: dict[str, Any] = {"account": "acc", "venue": "v", "instrument": "BTC-USDT", "source": "test"}

Fill = tuple[Side, Decimal, Decimal, Decimal]  # side, qty, price, fee

fills_strategy = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 50).map(Decimal),
        st.integers(9000, 11000).map(lambda c: Decimal(c) / 100),
        st.integers(0, 30).map(lambda c: Decimal(c) / 100),
    ),
    min_size=1,
    max_size=12,
)


def filled(i: int, fill: Fill) -> OrderFilled:
    side, qty, px, fee = fill
    return OrderFilled(
        originator_id=uuid4(),
        originator_version=2,
        ts_recorded=T0,
        ts_event=T0 + timedelta(seconds=i),
        client_order_id=f"o{i}",
        trade_id=f"t{i}",
        last_qty=qty,
        last_px=px,
        side=side,
        fee=fee,
        fee_currency="USDT",
        quote_currency="USDT",
        **HEADER,
    )


def run(events: list[OrderEvent]) -> tuple[Any, ...]:
    tables = fold(PositionsProjection(), list(enumerate(events, start=1)))
    position = tables[POSITIONS_TABLE.name].rows.get(KEY)
    realized_entries = Decimal(0)
    for entry in tables[PNL_TABLE.name].rows.values():
        realized_entries = WIDE.add(realized_entries, entry.realized)
    if position is None:
        return (Decimal(0), None, Decimal(0), {}, realized_entries)
    assert position.realized_pnl == realized_entries  # the entries always add up to the position
    return (position.quantity, position.average_price, position.realized_pnl, position.fees, realized_entries)


@settings(max_examples=60, deadline=None)
@given(fills_strategy, st.data())
def test_busting_a_fill_equals_never_having_had_it(fills: list[Fill], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(fills) - 1))
    original = filled(k, fills[k])
    bust = FillBusted(
        originator_id=original.originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0 + timedelta(hours=1),
        client_order_id=original.client_order_id,
        trade_id=original.trade_id,
        side=original.side,
        last_qty=original.last_qty,
        last_px=original.last_px,
        fee=original.fee,
        fee_currency="USDT",
        quote_currency="USDT",
        fill_ts_event=original.ts_event,
        **HEADER,
    )
    with_bust = run([filled(i, f) for i, f in enumerate(fills)] + [bust])
    never = run([filled(i, f) for i, f in enumerate(fills) if i != k])
    assert with_bust == never


@settings(max_examples=60, deadline=None)
@given(fills_strategy, st.data())
def test_correcting_a_fill_equals_having_had_the_corrected_values(
    fills: list[Fill], data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, len(fills) - 1))
    new_qty = Decimal(data.draw(st.integers(1, 50)))
    new_px = Decimal(data.draw(st.integers(9000, 11000))) / 100
    original = filled(k, fills[k])
    correction = FillCorrected(
        originator_id=original.originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0 + timedelta(hours=1),
        client_order_id=original.client_order_id,
        trade_id=original.trade_id,
        side=original.side,
        previous_qty=original.last_qty,
        previous_px=original.last_px,
        previous_fee=original.fee,
        last_qty=new_qty,
        last_px=new_px,
        fee=original.fee,
        fee_currency="USDT",
        quote_currency="USDT",
        fill_ts_event=original.ts_event,
        **HEADER,
    )
    corrected = run([filled(i, f) for i, f in enumerate(fills)] + [correction])
    replaced = list(fills)
    replaced[k] = (fills[k][0], new_qty, new_px, fills[k][3])
    assert corrected == run([filled(i, f) for i, f in enumerate(replaced)])


def test_a_bust_of_a_closing_sell_restores_the_position_and_its_realized_pnl() -> None:
    buy = filled(0, (Side.BUY, Decimal(10), Decimal(100), Decimal(0)))
    sell = filled(1, (Side.SELL, Decimal(4), Decimal(110), Decimal(0)))
    assert run([buy, sell])[:3] == (Decimal(6), Decimal(100), Decimal(40))
    bust = FillBusted(
        originator_id=sell.originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0,
        client_order_id=sell.client_order_id,
        trade_id=sell.trade_id,
        side=Side.SELL,
        last_qty=Decimal(4),
        last_px=Decimal(110),
        fee=Decimal(0),
        fee_currency="USDT",
        quote_currency="USDT",
        fill_ts_event=T0,
        **HEADER,
    )
    assert run([buy, sell, bust])[:3] == (Decimal(10), Decimal(100), Decimal(0))


def test_thirty_digit_quantities_and_prices_are_booked_without_rounding() -> None:
    """The bounds admit 30 significant digits; Python's default context keeps 28 (a bare ``-qty``
    would round a sell). Positions, costs and P&L stay exact at the bounds."""
    qty = Decimal("12345678901234567890.1234567891")
    price = Decimal("1.23456789012345678901234567891")
    sell = filled(0, (Side.SELL, qty, price, Decimal(0)))
    buy = filled(1, (Side.BUY, Decimal(1), Decimal(2), Decimal(0)))
    quantity, _, realized, _, _ = run([sell, buy])
    assert quantity == WIDE.subtract(Decimal(1), qty)
    tables = fold(PositionsProjection(), [(1, sell), (2, buy)])
    position = tables[POSITIONS_TABLE.name].rows[KEY]
    mark = Decimal("1.5")
    # realized + unrealized is exactly what the trades and the mark say, to the last digit.
    expected = WIDE.add(WIDE.subtract(WIDE.multiply(qty, price), Decimal(2)), WIDE.multiply(mark, quantity))
    assert WIDE.add(realized, position.unrealized_pnl(mark)) == expected


@settings(max_examples=200, deadline=None)
@given(fills_strategy, st.integers(9000, 11000).map(lambda c: Decimal(c) / 100))
def test_total_pnl_is_exact_whatever_the_order_of_the_fills(fills: list[Fill], mark: Decimal) -> None:
    """Realized + unrealized equals sells − buys + mark × quantity exactly, in any order of fills
    (the split between the two is path-dependent under average cost; the total is not)."""
    expected = Decimal(0)
    for side, qty, px, _ in fills:
        notional = WIDE.multiply(qty, px)
        expected = WIDE.add(expected, notional) if side is Side.SELL else WIDE.subtract(expected, notional)
    for order in (fills, list(reversed(fills)), sorted(fills, key=lambda f: (f[2], f[1]))):
        tables = fold(PositionsProjection(), [(i, filled(i, f)) for i, f in enumerate(order, start=1)])
        position = tables[POSITIONS_TABLE.name].rows[KEY]
        total = WIDE.add(position.realized_pnl, position.unrealized_pnl(mark))
        assert total == WIDE.add(expected, WIDE.multiply(mark, position.quantity))
