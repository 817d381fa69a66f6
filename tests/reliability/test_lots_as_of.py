"""``lots --as-of``, ``lots --closed --as-of`` and ``positions --cost-basis RULE --as-of`` from
the stored heads, their marks and the closed lots kept with them
(``application.reads.lots_at_head.heads_as_of``): whatever arrived in any order, recorded at any times
(the clock going back as well as forward, as several writers' clocks do), read between any two
messages, by a connection that may store heads or one that may not, the answer as of any moment,
in recorded or venue time, is what a fold of the log's events up to that moment gives (issue 46,
item 2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import order_figures
from orderledger.infrastructure.application.reads.view_queries import position_rows
from orderledger.infrastructure.results.positions import LotRow, PositionRow
from orderledger.projections import lots as lots_module
from tests.support.integration import T0, at, separate_database, ts
from tests.support.lot_heads import (
    BETWEEN,
    BOOKS,
    DEFINITION,
    LATE,
    ROUND,
    SESSION,
    changes,
    drawn_session,
    funding,
    orders,
    watched,
)
from tests.support.postgres import private_schema, require_postgres

RULES = ("fifo", "lifo", "hifo", "average")


Answer = tuple[list[LotRow], list[LotRow], list[PositionRow]]
"""Open lots, closed lots and positions under a rule as of a moment."""


def folded_then(ledger: OrderLedger, rule: str, moment: datetime, event_time: bool) -> Answer:
    """Open lots, closed lots and positions under ``rule`` as of ``moment``, from a fold of the
    log's events up to it (no stored head, no mark)."""
    books = order_figures.rule_books(ledger, rule, moment, event_time)
    lots = [LotRow.of_open(rule, lot) for b in books.values() for lot in b.open] if rule != "average" else []
    closed = [LotRow.of_closed(rule, lot) for b in books.values() for lot in b.closed]
    paid = [(key, f) for key, b in books.items() for f in b.fills]
    rows = position_rows(
        ledger.db, [b.position for b in books.values()], {}, as_of=moment, event_time=event_time, paid=paid
    )
    return lots, closed if rule != "average" else [], rows


def read_then(ledger: OrderLedger, rule: str, moment: datetime, event_time: bool) -> Answer:
    """The same, read as the ledger answers it."""
    lots, closed = [], []
    if rule != "average":
        lots = list(ledger.analytics.lots(cost_basis=rule, as_of=moment, event_time=event_time))
        closed = list(
            ledger.analytics.lots(cost_basis=rule, closed=True, as_of=moment, event_time=event_time)
        )
    rows = list(ledger.positions(cost_basis=rule, as_of=moment, event_time=event_time))
    return lots, closed, rows


def _moments(ledger: OrderLedger) -> tuple[list[datetime], list[datetime]]:
    """Every recorded time and every venue time of the log's events, and a moment before each."""
    with ledger.db.read() as tx:
        rows = tx.all("SELECT ts_recorded, ts_event FROM events")
    recorded = sorted({parse_timestamp(str(r[0]), "ts_recorded") for r in rows})
    venue = sorted({parse_timestamp(str(r[1]), "ts_event") for r in rows})
    tick = timedelta(microseconds=1)
    return (
        sorted({*recorded, *(m - tick for m in recorded)}),
        sorted({*venue, *(m - tick for m in venue)}),
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RULES),
    orders,
    changes,
    st.booleans(),
    funding,
    st.sampled_from([2, 3, 256]),
    st.data(),
)
def test_a_read_as_of_any_moment_answers_what_a_fold_of_the_log_up_to_it_answers(
    backend: str,
    rule: str,
    orders: list[Any],
    changes: list[tuple[int, str, int]],
    defined: bool,
    flows: list[tuple[str, int, int, str | None]],
    every: int,
    data: st.DataObject,
) -> None:
    database: AbstractContextManager[str] = nullcontext("memory://")
    if backend == "postgres":
        require_postgres()
        database = private_schema("ol_test_as_of")  # (a schema of its own for each example)
    messages = drawn_session(BOOKS, orders, changes, flows)
    if defined:
        messages.append({**DEFINITION, "ts": ts(2)})
    arrival = data.draw(st.permutations(messages), label="arrival order")
    # Each message recorded at a drawn second: the clock goes back as well as forward.
    clock = data.draw(
        st.lists(st.integers(0, 30), min_size=len(arrival), max_size=len(arrival)), label="recorded at"
    )
    stored_after = data.draw(
        st.lists(
            st.sampled_from(["", "open", "closed", "both"]), min_size=len(arrival), max_size=len(arrival)
        ),
        label="heads stored after",
    )
    # Read by a connection that may store heads (each read brings them up to the log's head
    # first), or by one that may not (from those stored as far as the log then went, if any).
    read_only = data.draw(st.booleans(), label="read only")
    now = [T0]
    with pytest.MonkeyPatch.context() as patch, database as url:
        patch.setattr(lots_module, "MARK_EVERY", every)
        with OrderLedger(url, clock=lambda: now[0]) as ledger:
            for message, second, store in zip(arrival, clock, stored_after, strict=True):
                now[0] = T0 + timedelta(hours=1, seconds=second)
                ledger.record(message)
                # (the heads and their marks, and the closed lots, stored as far as the log then went)
                if store in ("open", "both"):
                    ledger.analytics.pnl_daily(cost_basis=rule)
                if store in ("closed", "both") and rule != "average":
                    ledger.analytics.lots(cost_basis=rule, closed=True)
            if read_only:
                patch.setattr(ledger.db, "writable", lambda: False)
            recorded, venue = _moments(ledger)
            for event_time, moments in ((False, recorded), (True, venue)):
                for moment in data.draw(
                    st.lists(st.sampled_from(moments), min_size=1, max_size=6), label="as of"
                ):
                    assert read_then(ledger, rule, moment, event_time) == folded_then(
                        ledger, rule, moment, event_time
                    ), (moment, event_time)


@contextmanager
def marking_every_fill(
    backend: str, tmp_path: Path, name: str, patch: pytest.MonkeyPatch
) -> Iterator[tuple[OrderLedger, list[datetime]]]:
    """A ledger of its own on ``backend`` whose books mark every fill (reads as of a time start
    from the marks), and the clock it records at (``[0]``: T0 + 1 h until moved)."""
    patch.setattr(lots_module, "MARK_EVERY", 1)
    now = [T0 + timedelta(hours=1)]
    with separate_database(backend, tmp_path, name) as url, OrderLedger(url, clock=lambda: now[0]) as ledger:
        yield ledger, now


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_lots_and_positions_as_of_a_moment_come_from_the_marks(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with marking_every_fill(backend, tmp_path, "lots_as_of", monkeypatch) as (ledger, now):
        ledger.ingest_lines(SESSION)  # recorded at T0 + 1 h
        assert ledger.analytics.lots(cost_basis="fifo")  # (the heads and their marks stored)
        now[0] = T0 + timedelta(hours=2)
        ledger.ingest_lines(LATE)  # recorded at T0 + 2 h
        assert ledger.analytics.lots(cost_basis="fifo") == []
        watched(monkeypatch)  # (a fold of the log's fills fails the test)
        # Recorded by T0 + 1.5 h: buy 2 @ 100 (t1), buy 1 @ 120 (t2), sell 2 @ 130 (t3). FIFO
        # closes t1: 1 @ 120 open, realized 2 × (130 − 100) = 60.
        (lot,) = ledger.analytics.lots(cost_basis="fifo", as_of=T0 + timedelta(hours=1, minutes=30))
        assert (lot.open_trade_id, lot.quantity, lot.open_price) == ("t2", 1, 120)
        (position,) = ledger.positions(cost_basis="fifo", as_of=T0 + timedelta(hours=1, minutes=30))
        assert (position.quantity, position.realized_pnl) == (1, 60)
        # In venue time up to second 6: t1 (second 1), t2 (3) and t4 (5, recorded later),
        # not the sell (11) nor the bust of t1 (12): three lots open, 4 held, nothing realized.
        opened = ledger.analytics.lots(cost_basis="fifo", as_of=at(6), event_time=True)
        assert [(x.open_trade_id, x.quantity) for x in opened] == [("t1", 2), ("t2", 1), ("t4", 1)]
        (position,) = ledger.positions(cost_basis="fifo", as_of=at(6), event_time=True)
        assert (position.quantity, position.realized_pnl) == (4, 0)
        # Up to second 11, the sell: FIFO closes t1, realized 60; t1's bust (12) still after.
        opened = ledger.analytics.lots(cost_basis="fifo", as_of=at(11), event_time=True)
        assert [(x.open_trade_id, x.quantity) for x in opened] == [("t2", 1), ("t4", 1)]
        # Now, the bust in: t2 and t4 closed by the sell, realized (130 − 120) + (130 − 90) = 50.
        (position,) = ledger.positions(cost_basis="fifo", as_of=T0 + timedelta(hours=3))
        assert (position.quantity, position.realized_pnl) == (0, 50)
        now[0] = T0 + timedelta(hours=4)
        ledger.ingest_lines(ROUND[:2])  # (the round's buy: 1 @ 140, t5)
        # As of T0 + 3.5 h the book is as it was before b4 (flat, 50 realized): from its mark
        # after the sell's fill, which holds no fill recorded later. Now b4's 1 @ 140 is open.
        (position,) = ledger.positions(cost_basis="fifo", as_of=T0 + timedelta(hours=3, minutes=30))
        assert (position.quantity, position.realized_pnl) == (0, 50)
        assert ledger.analytics.lots(cost_basis="fifo", as_of=T0 + timedelta(hours=3, minutes=30)) == []
        (lot,) = ledger.analytics.lots(cost_basis="fifo", as_of=T0 + timedelta(hours=5))
        assert (lot.open_trade_id, lot.quantity, lot.open_price) == ("t5", 1, 140)


def _closed_then(ledger: OrderLedger, moment: datetime, event_time: bool = False) -> list[tuple[Any, ...]]:
    """The FIFO closed lots as of ``moment``: (opening trade, closing trade, quantity, realized)."""
    found = ledger.analytics.lots(cost_basis="fifo", closed=True, as_of=moment, event_time=event_time)
    return [(x.open_trade_id, x.close_trade_id, x.quantity, x.realized_pnl) for x in found]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_closed_lots_as_of_a_moment_come_from_the_stored_lots_and_the_marks(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with marking_every_fill(backend, tmp_path, "closed_as_of", monkeypatch) as (ledger, now):
        ledger.ingest_lines(SESSION)  # recorded at T0 + 1 h
        assert ledger.analytics.lots(cost_basis="fifo", closed=True)  # (the heads, marks and lots stored)
        for hours, session in ((2, LATE), (4, ROUND), (5, BETWEEN)):
            now[0] = T0 + timedelta(hours=hours)
            ledger.ingest_lines(session)
            ledger.analytics.lots(cost_basis="fifo", closed=True)  # (stored again: folded again from a mark)
        moments = [
            (T0 + timedelta(hours=1, minutes=30), False),
            (at(11), True),
            (T0 + timedelta(hours=3), False),
            (T0 + timedelta(hours=4, minutes=30), False),
            (at(21), True),
            (at(22), True),
        ]
        expected = [folded_then(ledger, "fifo", moment, event_time)[1] for moment, event_time in moments]
        with pytest.MonkeyPatch.context() as patch:
            watched(patch)  # (a fold of the log's fills fails the test)
            # Recorded by T0 + 1.5 h: t1 (2 @ 100), t2, then the sell t3 of 2 @ 130 closes t1.
            # The bust of t1 (recorded later) bounds the book at t1: folded from its first fill.
            assert _closed_then(ledger, moments[0][0]) == [("t1", "t3", 2, 60)]
            # In venue time up to second 11: t4 (second 5) is in, t1's bust (12) is not.
            assert _closed_then(ledger, at(11), event_time=True) == [("t1", "t3", 2, 60)]
            # By T0 + 3 h, t1 busted: the sell closes t2 (1 @ 120) and t4 (1 @ 90); the stored
            # lots up to the mark after t3, which holds nothing recorded later.
            assert _closed_then(ledger, moments[2][0]) == [("t2", "t3", 1, 10), ("t4", "t3", 1, 40)]
            # By T0 + 4.5 h, t6 closes t5 as well; t7 (recorded at 5 h, venue time between them)
            # is not in: the book folded from its mark after t5 (2 lots stored before it) makes
            # the third lot itself.
            assert _closed_then(ledger, moments[3][0]) == [
                ("t2", "t3", 1, 10),
                ("t4", "t3", 1, 40),
                ("t5", "t6", 1, 10),
            ]
            # In venue time up to second 21, t6 not yet; up to 22, the head as it is.
            assert len(_closed_then(ledger, at(21), event_time=True)) == 2
            assert _closed_then(ledger, at(22), event_time=True)[-1] == ("t5", "t6", 1, 10)
            answers = [
                list(
                    ledger.analytics.lots(cost_basis="fifo", closed=True, as_of=moment, event_time=event_time)
                )
                for moment, event_time in moments
            ]
        assert answers == expected


def test_closed_lots_as_of_a_moment_on_a_read_only_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    now = [T0 + timedelta(hours=1)]
    with OrderLedger(f"sqlite:///{path}", clock=lambda: now[0]) as ledger:
        ledger.ingest_lines(SESSION)
        moments = [T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=3)]
    # Given a read-only connection to a ledger with no closed lots stored: the fold answers
    with OrderLedger(f"sqlite:///{path}?mode=ro") as ledger:
        assert _closed_then(ledger, moments[0]) == [("t1", "t3", 2, 60)]
    # And with the closed lots stored, then later fills and a bust the stored heads do not hold
    with OrderLedger(f"sqlite:///{path}", clock=lambda: now[0]) as ledger:
        ledger.analytics.lots(cost_basis="fifo", closed=True)
        now[0] = T0 + timedelta(hours=2)
        ledger.ingest_lines(LATE)
        expected = [folded_then(ledger, "fifo", moment, False)[1] for moment in moments]
    with OrderLedger(f"sqlite:///{path}?mode=ro") as ledger, pytest.MonkeyPatch.context() as patch:
        watched(patch)
        answers = [
            list(ledger.analytics.lots(cost_basis="fifo", closed=True, as_of=moment)) for moment in moments
        ]
    assert answers == expected
    assert [[(x.open_trade_id, x.close_trade_id) for x in found] for found in answers] == [
        [("t1", "t3")],
        [("t2", "t3"), ("t4", "t3")],
    ]
