"""Cost-basis rules on the same fills: average, FIFO, LIFO and HIFO (docs/semantics.md,
"Cost basis"), and the average rule folded from the log equal to the live view's fold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.events import FillBusted, OrderEvent, OrderFilled
from orderledger.domain.values import Side
from orderledger.projections.base import fold
from orderledger.projections.lots import fills_of, fold_books
from orderledger.projections.positions import POSITIONS_TABLE, PositionsProjection

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
KEY = ("acc", "v", "ETH-USDT")
HEADER: dict[str, Any] = {"account": "acc", "venue": "v", "instrument": "ETH-USDT", "source": "test"}


def filled(n: int, side: Side, qty: str, px: str, fee: str = "1", second: int | None = None) -> OrderFilled:
    return OrderFilled(
        originator_id=uuid4(),
        originator_version=2,
        ts_recorded=T0,
        ts_event=T0 + timedelta(seconds=n if second is None else second),
        client_order_id=f"o{n}",
        trade_id=f"t{n}",
        last_qty=Decimal(qty),
        last_px=Decimal(px),
        side=side,
        fee=Decimal(fee),
        fee_currency="USDT",
        quote_currency="USDT",
        **HEADER,
    )


# Buy 1 @ 100, 1 @ 140, 1 @ 120, 1 @ 110 (fee 1 USDT each), then sell 2 @ 130 (fee 2 USDT).
FILLS = [
    filled(1, Side.BUY, "1", "100"),
    filled(2, Side.BUY, "1", "140"),
    filled(3, Side.BUY, "1", "120"),
    filled(4, Side.BUY, "1", "110"),
    filled(5, Side.SELL, "2", "130", fee="2"),
]
MARK = Decimal(125)


def books(basis: str, events: list[OrderEvent] | None = None) -> Any:
    return fold_books(fills_of(enumerate(FILLS if events is None else events, start=1)), basis)  # type: ignore[arg-type]


def test_average_fifo_lifo_and_hifo_on_the_same_fills() -> None:
    """By hand (mark 125; each total realized + unrealized = 2 × 130 + 2 × 125 − 470 = 40):
    average: 470 / 4 = 117.5; (130 − 117.5) × 2 = 25; 2 left @ 117.5, unrealized 2 × 7.5 = 15.
    FIFO: closes t1 and t2: (130 − 100) + (130 − 140) = 20; left 120 and 110, unrealized 250 − 230 = 20.
    LIFO: closes t4 and t3: (130 − 110) + (130 − 120) = 30; left 100 and 140, unrealized 250 − 240 = 10.
    HIFO: closes t2 and t3: (130 − 140) + (130 − 120) = 0; left 100 and 110, unrealized 250 − 210 = 40."""
    expected = {
        "average": (Decimal(25), Decimal("117.5"), Decimal(15)),
        "fifo": (Decimal(20), Decimal(115), Decimal(20)),
        "lifo": (Decimal(30), Decimal(120), Decimal(10)),
        "hifo": (Decimal(0), Decimal(105), Decimal(40)),
    }
    for basis, (realized, average, unrealized) in expected.items():
        position = books(basis)[KEY].position
        assert (position.quantity, position.realized_pnl, position.average_price) == (
            Decimal(2),
            realized,
            average,
        )
        assert position.unrealized_pnl(MARK) == unrealized
        assert position.fees == {"USDT": Decimal(6)}  # 4 × 1 + 2


def test_fifo_closed_lots_carry_their_fills_cost_proceeds_fees_and_pnl() -> None:
    """FIFO: the sell of 2 (fee 2) closes t1 and t2, one row each: the opening fee 1 (all of a
    1-lot) plus half the sell's fee, 1 → fees 2 USDT per row. Open: t3 and t4 with their fees."""
    book = books("fifo")[KEY]
    rows = [
        (c.opened.trade_id, c.closed.trade_id, c.quantity, c.cost, c.proceeds, c.realized, c.fees)
        for c in book.closed
    ]
    assert rows == [
        ("t1", "t5", Decimal(1), Decimal(100), Decimal(130), Decimal(30), {"USDT": Decimal(2)}),
        ("t2", "t5", Decimal(1), Decimal(140), Decimal(130), Decimal(-10), {"USDT": Decimal(2)}),
    ]
    assert [(lot.opened.trade_id, lot.quantity, lot.cost) for lot in book.open] == [
        ("t3", Decimal(1), Decimal(120)),
        ("t4", Decimal(1), Decimal(110)),
    ]


def test_through_zero_the_remainder_opens_a_lot_at_the_fill_price() -> None:
    """Buy 1 @ 100, then sell 3 @ 90: the lot closes, (90 − 100) × 1 = −10, and a short lot of 2
    opens at 90 with two thirds of the sell's fee 3 (2)."""
    events: list[OrderEvent] = [filled(1, Side.BUY, "1", "100", "0"), filled(2, Side.SELL, "3", "90", "3")]
    book = books("lifo", events)[KEY]
    assert (book.position.quantity, book.position.realized_pnl) == (Decimal(-2), Decimal(-10))
    assert [(c.quantity, c.realized, c.fees) for c in book.closed] == [
        (Decimal(1), Decimal(-10), {"USDT": Decimal(1)})
    ]
    assert [(lot.quantity, lot.price, lot.opened.trade_id) for lot in book.open] == [
        (Decimal(2), Decimal(90), "t2")
    ]


def test_a_busted_fill_is_left_out_of_the_lots() -> None:
    bust = FillBusted(
        originator_id=FILLS[0].originator_id,
        originator_version=3,
        ts_recorded=T0,
        ts_event=T0 + timedelta(hours=1),
        client_order_id="o1",
        trade_id="t1",
        side=Side.BUY,
        last_qty=Decimal(1),
        last_px=Decimal(100),
        fee=Decimal(1),
        fee_currency="USDT",
        quote_currency="USDT",
        fill_ts_event=FILLS[0].ts_event,
        **HEADER,
    )
    # FIFO without t1: the sell closes t2 and t3: (130 − 140) + (130 − 120) = 0.
    assert books("fifo", [*FILLS, bust])[KEY].position.realized_pnl == Decimal(0)


side_fills = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 9), st.integers(90, 110), st.integers(0, 5)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(side_fills, st.integers(90, 110).map(Decimal))
def test_every_rule_gives_the_same_quantity_and_total_and_average_equals_the_live_view(
    fills: list[tuple[Side, int, int, int]], mark: Decimal
) -> None:
    events: list[OrderEvent] = [
        filled(n, side, str(q), str(px), "0", second) for n, (side, q, px, second) in enumerate(fills)
    ]
    live = fold(PositionsProjection(), list(enumerate(events, start=1)))[POSITIONS_TABLE.name].rows[KEY]
    average = books("average", events)[KEY].position
    assert (average.quantity, average.cost, average.realized_pnl) == (
        live.quantity,
        live.cost,
        live.realized_pnl,
    )
    total = live.realized_pnl + live.unrealized_pnl(mark)
    for basis in ("fifo", "lifo", "hifo"):
        position = books(basis, events)[KEY].position
        assert position.quantity == live.quantity
        assert position.realized_pnl + position.unrealized_pnl(mark) == total
