"""The stored lot and daily views equal a fold of the log, whatever order the fills arrived in.

``LotsProjection`` keeps every book under average, FIFO, LIFO and HIFO as rows, extended fill by
fill and re-folded from a late fill's (or a bust's, a correction's) place in venue time. Its rows
must be exactly those ``lots.fold_books`` gives for the fills as they stand, for any arrival
order and any split of the events into passes (each pass settled, as each commit is).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderFilled
from orderledger.domain.values import WIDE, Side
from orderledger.projections.base import MemoryTable, Table
from orderledger.projections.lot_views import (
    LOT_BOOKS_TABLE,
    LOT_DAYS_TABLE,
    LOT_ENTRIES_TABLE,
    LotsProjection,
)
from orderledger.projections.lots import COST_BASES, fills_of, fold_books

T0 = datetime(2026, 11, 20, 22, tzinfo=UTC)  # two hours before midnight: fills fall on two days
NAMESPACE = UUID("6f1c1f43-2b55-4a47-9d7e-3a9c1f1d0a02")


def filled(
    n: int, side: Side, qty: Decimal, px: Decimal, minute: int, instrument: str = "BTC-USDT"
) -> OrderFilled:
    return OrderFilled(
        originator_id=uuid5(NAMESPACE, f"o{n}"),
        originator_version=2,
        ts_recorded=T0,
        ts_event=T0 + timedelta(minutes=minute),
        client_order_id=f"o{n}",
        trade_id=f"t{n}",
        last_qty=qty,
        last_px=px,
        side=side,
        fee=Decimal("0.1"),
        fee_currency="USDT",
        quote_currency="USDT",
        account="acc",
        venue="v",
        instrument=instrument,
        source="test",
    )


def restated(fill: OrderFilled, bust: bool) -> OrderEvent:
    common: dict[str, Any] = {
        "originator_id": fill.originator_id,
        "originator_version": 3,
        "ts_recorded": T0,
        "ts_event": T0 + timedelta(hours=5),
        "client_order_id": fill.client_order_id,
        "trade_id": fill.trade_id,
        "side": fill.side,
        "last_qty": fill.last_qty,
        "fee_currency": "USDT",
        "quote_currency": "USDT",
        "fill_ts_event": fill.ts_event,
        "account": "acc",
        "venue": "v",
        "instrument": fill.instrument,
        "source": "test",
    }
    if bust:
        return FillBusted(last_px=fill.last_px, fee=fill.fee, **common)
    return FillCorrected(
        previous_qty=fill.last_qty,
        previous_px=fill.last_px,
        previous_fee=fill.fee,
        last_px=fill.last_px + 7,
        fee=Decimal("0.2"),
        **common,
    )


def stored(passes: list[list[tuple[int, OrderEvent]]]) -> dict[str, MemoryTable[Any, Any]]:
    """The view's tables after folding each pass and settling it, as the commits of a run do."""
    projection = LotsProjection()
    tables: dict[str, MemoryTable[Any, Any]] = {s.name: MemoryTable() for s in projection.tables}
    views: dict[str, Table[Any, Any]] = dict(tables)
    for events in passes:
        for position, event in events:
            projection.apply(position, event, views)
        projection.settle(views)
    return tables


def view_of(tables: dict[str, MemoryTable[Any, Any]]) -> dict[str, Any]:
    """What the view says, per rule: each book's figures and open lots, each fill's realized
    P&L and closed lots, and each day's realized P&L, fees and the book at its end."""
    entries = tables[LOT_ENTRIES_TABLE.name].rows
    out: dict[str, Any] = {}
    for (rule, *book), b in tables[LOT_BOOKS_TABLE.name].rows.items():
        if not b.fills:
            continue  # only busted fills: no book
        p = b.position
        out[f"{rule} {book}"] = (p.quantity, p.cost, p.realized_pnl, p.fees, b.open)
    for (rule, position), e in entries.items():
        if e.kind != "busted":
            closed = [(m.opened, m.quantity, m.cost, m.proceeds, m.realized, m.fees) for m in e.matches]
            out[f"{rule} fill {position}"] = (e.fill.realized, closed)
    for (rule, *book, day), d in tables[LOT_DAYS_TABLE.name].rows.items():
        if d.realized:
            out[f"{rule} {book} {day}"] = (d.realized, d.fees, d.quantity, d.cost)
    return out


def folded(events: list[tuple[int, OrderEvent]]) -> dict[str, Any]:
    """The same, from ``lots.fold_books`` over the fills as they stand."""
    out: dict[str, Any] = {}
    fills = fills_of(events)
    for rule in COST_BASES:
        for key, b in fold_books([f for f in fills], rule).items():
            p = b.position
            lots = [(lot.opened.position, lot.quantity, lot.cost) for lot in b.open]
            out[f"{rule} {list(key)}"] = (p.quantity, p.cost, p.realized_pnl, p.fees, lots)
            by_fill: dict[int, list[Any]] = {f.position: [] for f in b.fills}
            for c in b.closed:
                by_fill[c.closed.position].append(
                    (c.opened.position, c.quantity, c.cost, c.proceeds, c.realized, c.fees)
                )
            days: dict[str, Any] = {}
            for f in b.fills:
                out[f"{rule} fill {f.position}"] = (f.realized, by_fill[f.position])
                day = days.setdefault(f.ts_event.date().isoformat(), [{}, {}, None, None])
                currency = f.pnl_currency or ""
                day[0][currency] = WIDE.add(day[0].get(currency, Decimal(0)), f.realized)
                fees = day[1].setdefault(currency, {})
                fees["USDT"] = WIDE.add(fees.get("USDT", Decimal(0)), f.fee or Decimal(0))
            # The book at each day's end: folded again up to the day's last fill.
            for day in days:
                upto = [f for f in fills if f.ts_event.date().isoformat() <= day and f.instrument == key[2]]
                (then,) = fold_books(upto, rule).values()
                days[day][2:] = [then.position.quantity, then.position.cost]
                out[f"{rule} {list(key)} {day}"] = tuple(days[day])
    return out


fill_strategy = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(["1", "2", "0.5", "1.50", "2.25", "3"]).map(Decimal),  # digits that sums rewrite
    st.integers(90, 110).map(Decimal),
    st.integers(0, 240).map(lambda m: m - m % 30),  # half hours over two days: ties are common
    st.sampled_from(["BTC-USDT", "ETH-USDT"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(fill_strategy, min_size=1, max_size=12), st.data())
def test_the_stored_views_equal_a_fold_of_the_log_for_any_arrival_order(
    fills: list[tuple[Side, Decimal, Decimal, int, str]], data: st.DataObject
) -> None:
    made = [filled(n, *f) for n, f in enumerate(fills)]
    fates = data.draw(
        st.lists(st.sampled_from(["keep", "keep", "bust", "correct"]), min_size=len(made), max_size=len(made))
    )
    order = list(data.draw(st.permutations(range(len(made)))))
    # Each restatement comes after its fill, anywhere later in the arrival.
    arrival: list[OrderEvent] = [made[n] for n in order]
    for n, fate in enumerate(fates):
        if fate != "keep":
            after = arrival.index(made[n]) + 1
            arrival.insert(data.draw(st.integers(after, len(arrival))), restated(made[n], fate == "bust"))
    events = list(enumerate(arrival, start=1))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
    passes = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    assert view_of(stored(passes)) == folded(events)
    # And to the digit: the rows a run of passes leaves are those of one pass over the same log
    # (``verify`` compares rows as stored text).
    assert as_text(stored(passes)) == as_text(stored([events]))


def as_text(tables: dict[str, MemoryTable[Any, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as stored, by key."""
    specs = {s.name: s for s in LotsProjection.tables}
    return {name: sorted(specs[name].to_row(v) for v in t.rows.values()) for name, t in tables.items()}
