"""``pnl_series`` (``application.reads.pnl_series.realized_series``: the texts of five columns, slices found
by bisecting venue times as text, sums in C) answers what the contract's walk of every entry gives
(``tests.support.series.walked_series``), row for row and digit for digit, for any number of
slices: sessions of several accounts and quote currencies, fills at one time or in one
microsecond, times with and without microseconds, late fills that re-fold a book (its entries
rewritten), busts and corrections, reads between any two messages (issue 46, item 2: the P&L
tab's series)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import pnl_series
from orderledger.infrastructure.application.reads.pnl_series import realized_series
from orderledger.infrastructure.application.reads.time_slices import micros
from tests.support.integration import fill, request
from tests.support.series import BOOKS, FRACTIONS, PRICES, Drawn, many_books, paths, session, walked_series


def answers(ledger: OrderLedger, points: int | None) -> tuple[list[Any], list[Any]]:
    """The series from the kept running sums and from the view's entries, and the walk's twice,
    each as its rows and as JSON (which shows every amount's digits: 1.50 is not 1.5 there)."""
    kept, read = realized_series(ledger.db, points), realized_series(ledger.db, points, keep=False)
    walked = walked_series(ledger.db, points)
    return [[rows, [row.to_json() for row in rows]] for rows in (kept, read)], [
        [walked, [row.to_json() for row in walked]]
    ] * 2


order = st.tuples(
    st.integers(0, len(BOOKS) - 1),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 3),
    st.sampled_from(PRICES),
    st.integers(0, 9),
    st.sampled_from(FRACTIONS),
)
slices = st.one_of(st.none(), st.integers(1, 3), st.integers(1, 40))


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(order, min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["bust", "correct"])), max_size=3),
    st.sampled_from([1, 1, 32]),
    st.sampled_from([3, 1 << 20]),
    st.data(),
)
def test_the_series_in_any_slices_answers_what_the_walk_of_every_entry_gives(
    orders: list[Drawn], changes: list[tuple[int, str]], dense: int, span: int, data: st.DataObject
) -> None:
    messages = session(orders, changes)
    arrival = data.draw(st.permutations(messages), label="arrival order")
    reads_after = data.draw(st.lists(st.booleans(), min_size=len(arrival), max_size=len(arrival)))
    with OrderLedger("memory://") as ledger, paths(dense, span):
        for message, then_read in zip(arrival, reads_after, strict=True):
            ledger.record(message)
            if then_read:
                points = data.draw(slices, label="points")
                new, walked = answers(ledger, points)
                assert new == walked
        for points in (None, 1, 2, len(orders), len(orders) + 1, data.draw(slices, label="points")):
            new, walked = answers(ledger, points)
            assert new == walked


@given(st.datetimes(), st.datetimes())
def test_the_views_times_sort_as_text_in_time_order_and_give_the_timestamps_seconds(
    one: datetime, other: datetime
) -> None:
    one, other = one.replace(tzinfo=UTC), other.replace(tzinfo=UTC)
    assert (one < other) == (one.isoformat() < other.isoformat())
    assert (one == other) == (one.isoformat() == other.isoformat())
    assert micros(one.isoformat()) / 1_000_000 == one.timestamp()


def test_the_series_on_postgresql_answers_what_the_walk_gives(postgres_url: str) -> None:
    with OrderLedger(postgres_url) as ledger:
        for message in many_books(46, 300):
            ledger.record(message)
        for dense, span in ((1, 1 << 20), (1, 50), (32, 1 << 20)):
            with paths(dense, span):
                for points in (None, 1, 2, 7, 50, 299, 300, 301, 5000):
                    new, walked = answers(ledger, points)
                    assert new == walked, (dense, span, points)


def test_a_name_holding_the_separator_is_read_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Names are joined with a separator no name may hold; were one to hold it, its span of the
    # log is read row by row instead (here: commas between names, and an account with one)
    monkeypatch.setattr(pnl_series, "_SEPARATORS", (",",) * 5)
    messages = [
        m
        for n in range(40)
        for m in (
            request(
                f"o{n}", account="desk,1" if n % 3 else "desk", side="buy" if n % 2 else "sell", seconds=0
            ),
            fill(f"o{n}", f"t{n}", "10", str(100 + n), seconds=n + 0.5 * (n % 2)),
        )
    ]
    with OrderLedger("memory://") as ledger, paths(1, 1 << 20):
        for message in messages:
            ledger.record(message)
        for points in (1, 2, 5):
            new, walked = answers(ledger, points)
            assert new == walked
            assert {row.account for row in new[1][0]} == {"desk", "desk,1"}


def test_slices_start_at_their_first_microsecond_whatever_the_span() -> None:
    # A span of one microsecond, of 2 µs in 3 slices, and of a year in 500: each slice's first
    # entry is the first whose time the contract's formula puts in it
    base = datetime(2026, 11, 20, 10, tzinfo=UTC)
    for span, points in (
        (timedelta(microseconds=1), 3),
        (timedelta(microseconds=2), 3),
        (timedelta(days=365), 500),
    ):
        times = sorted({base + span * k / 997 for k in range(998)})
        stamps = [t.isoformat() for t in times]
        moments = [t.timestamp() for t in times]
        width = (moments[-1] - moments[0]) / points or 1.0
        expected = [min(points - 1, int((m - moments[0]) / width)) for m in moments]
        starts = pnl_series._slice_starts(stamps, points)
        assert [sum(1 for s in starts[1:-1] if s <= i) for i in range(len(stamps))] == expected
