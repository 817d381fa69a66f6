"""The inline fold's shortcuts against the general formulas they replace.

Given any sequence of fills under any terms, then booking a position gives the same digits as
the general formula (realized × the terms' sense, every step in its named context); the stored
texts of sides, liquidity and tags are what ``value`` and orjson write; the terms completed with
a quote currency equal ``replace``'s; and a view table's cache after a flush holds the rows, in
the order, that remembering them one by one leaves.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.events import OrderFilled
from orderledger.domain.instrument import Terms
from orderledger.domain.values import AVERAGE, TEXT, WIDE, Liquidity, OrderType, Side, Status
from orderledger.infrastructure.storage.views import ABSENT, SqlTable
from orderledger.projections import positions, trades
from orderledger.projections.base import Column, MemoryTable, TableSpec
from orderledger.projections.book import Position
from orderledger.projections.positions import PositionsProjection
from tests.support import builders
from tests.support.builders import only_event


def general_book(p: Position, signed_qty: Decimal, price: Decimal, terms: Terms) -> Decimal:
    """``Position.book`` as the general formula writes it (main before the shortcuts)."""
    p.terms = terms
    held = p.quantity
    if held == 0 or (held > 0) == (signed_qty > 0):
        p.cost = WIDE.add(p.cost, terms.value(WIDE.abs(signed_qty), price))
        p.quantity = WIDE.add(held, signed_qty)
        return Decimal(0)
    size = WIDE.abs(held)
    closed = min(WIDE.abs(signed_qty), size)
    removed = p.cost if closed == size else AVERAGE.divide(WIDE.multiply(p.cost, closed), size)
    direction = Decimal(1) if held > 0 else Decimal(-1)
    realized = WIDE.multiply(
        WIDE.multiply(WIDE.subtract(terms.value(closed, price), removed), direction), terms.sense
    )
    p.realized_pnl = WIDE.add(p.realized_pnl, realized)
    remaining = WIDE.add(held, signed_qty)
    if (remaining > 0) != (held > 0):
        p.cost = terms.value(WIDE.abs(remaining), price)
    else:
        p.cost = WIDE.subtract(p.cost, removed)
    p.quantity = remaining
    return realized


amounts = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=1, max_value=10**40),
    st.integers(min_value=-12, max_value=4),
)
terms = st.builds(
    Terms,
    st.sampled_from([Decimal("1"), Decimal("1.0"), Decimal("0.01"), Decimal("100"), Decimal("0.1")]),
    st.sampled_from(["linear", "inverse"]),
    st.sampled_from(["USDT", "BTC"]),
    st.integers(min_value=0, max_value=3),
)
fills = st.lists(st.tuples(st.booleans(), amounts, amounts, terms), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(fills)
def test_booking_gives_the_general_formulas_digits(
    sequence: list[tuple[bool, Decimal, Decimal, Terms]],
) -> None:
    fast = Position("a", "v", "i")
    slow = Position("a", "v", "i")
    for buy, qty, price, used in sequence:
        signed = qty if buy else WIDE.minus(qty)
        assert str(fast.book(signed, price, used)) == str(general_book(slow, signed, price, used))
        assert (str(fast.quantity), str(fast.cost), str(fast.realized_pnl)) == (
            str(slow.quantity),
            str(slow.cost),
            str(slow.realized_pnl),
        )


def test_stored_texts_are_what_value_and_orjson_write() -> None:
    assert all(TEXT[side] == side.value for side in Side)
    assert all(TEXT[kind] == kind.value for kind in Liquidity)
    assert all(TEXT[kind] == kind.value for kind in OrderType)
    assert all(TEXT[status] == status.value for status in Status)
    # A fill without a liquidity flag is stored without one; with one, as its text.
    for liquidity in (None, Liquidity.MAKER):
        fill = only_event(
            builders.filled("T-1", 2, liquidity=liquidity)(builders.given(), builders.stamp(1)), OrderFilled
        )
        table: MemoryTable[Any, Any] = MemoryTable()
        trades.TradesProjection().apply(1, fill, {trades.TRADES_TABLE.name: table})
        (row,) = [trades.TRADES_TABLE.to_row(t) for t in table.rows.values()]
        stored = dict(zip((c.name for c in trades.TRADES_TABLE.columns), row, strict=True))
        assert stored["liquidity"] == (None if liquidity is None else "maker")
    for tags in ({}, {"strategy": "x"}, {"a": "1", "b": "é"}):
        assert positions._tags_text(tags) == orjson.dumps(tags).decode()


def test_terms_completed_with_a_quote_currency_equal_replaces() -> None:
    class Defined:
        def __init__(self, terms: Terms) -> None:
            self.terms = terms

    class Table:
        def __init__(self, terms: Terms | None) -> None:
            self.row = None if terms is None else Defined(terms)

        def get(self, key: Any) -> Any:
            return self.row

    for made in (None, Terms(Decimal("0.01"), "linear", None, 2), Terms(Decimal("0.01"), "linear", None, 2)):
        for currency in ("USDT", "USD", None):
            book = Position("a", "v", "i", quote_currency=currency)
            tables: Any = {positions.TERMS_TABLE.name: Table(made)}
            found = PositionsProjection._terms_in_force(tables, book)
            expected = Terms() if made is None else made
            assert found == Terms(expected.contract_size, expected.settlement, currency, expected.version)
            assert PositionsProjection._terms_in_force(tables, book) is found  # made once


SPEC: TableSpec[int, int] = TableSpec(
    name="t",
    columns=(Column("k", "INTEGER"), Column("v", "INTEGER")),
    key=("k",),
    to_row=lambda v: (v,),
    from_row=lambda r: int(r[1]),
    key_of_row=lambda r: int(r[0]),
    key_values=lambda k: (k,),
)


class NoWrites:
    def executemany(self, sql: str, rows: Any) -> None:
        pass


@given(
    st.lists(st.integers(min_value=0, max_value=12), max_size=20),
    st.lists(
        st.lists(st.tuples(st.integers(min_value=0, max_value=12), st.integers(min_value=-1, max_value=9))),
        max_size=5,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_a_flush_leaves_the_cache_remembering_one_by_one_leaves(
    cached: list[int], batches: list[list[tuple[int, int]]], size: int
) -> None:
    table = SqlTable(SPEC, SPEC.name, cache_size=size)
    reference: OrderedDict[Any, Any] = OrderedDict()

    def remember(key: Any, value: Any) -> None:  # what _remember does, row by row
        reference[key] = value
        reference.move_to_end(key)
        while len(reference) > size:
            reference.popitem(last=False)

    for key in cached:
        table._remember(((key, key),))
        remember(key, key)
    for batch in batches:
        for key, value in batch:  # -1: the row is deleted
            if value < 0:
                table.delete(key)
            else:
                table.put(key, value)
        held = dict(table.dirty)
        assert table.flush(NoWrites()) == len(held)  # type: ignore[arg-type]
        for key, value in held.items():
            remember(key, value)
        assert list(table.cache.items()) == list(reference.items())
        assert all(table.get(k) == (None if v is ABSENT else v) for k, v in reference.items())
