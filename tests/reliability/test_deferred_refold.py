"""A book's re-fold left for the end of an ingest: a session in random order re-folds each book
once per ingest, not once per commit, and gives the books of the in-order run.

``PositionsProjection.settle(defer=True)`` leaves a book whose re-fold would walk back over more
than ``DEFER_AFTER`` entries (and four times what the commit added) for the run's end: its place
is stored in the book's row (``unsettled``), its fills wait unlinked. The tests lower
``DEFER_AFTER`` so that small sessions take that path, and check that it was taken
(``views_lag().settles``: the times left work was done).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.projections import positions
from orderledger.projections.book import PnlEntry
from tests.support.books import all_books
from tests.support.postgres import private_schema, require_postgres


@pytest.fixture(autouse=True)
def short_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(positions, "DEFER_AFTER", 2)


def in_order(lines: list[str]) -> dict[str, object]:
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(lines)
        assert ledger.upkeep.views_lag().settles == 0  # one commit: nothing left for later
        return all_books(ledger)


def shuffled(seed: int, orders: int) -> tuple[list[str], list[str]]:
    lines = list(simulate_lines(seed=seed, orders=orders))
    mixed = lines[:]
    random.Random(seed).shuffle(mixed)
    return lines, mixed


class Stopped(Exception):
    """What stops an ingest part-way, as a killed process would."""


def stopping_after(lines: list[str], count: int) -> Iterator[str]:
    yield from lines[:count]
    raise Stopped


def committed(lines: list[str], batch: int = 20) -> int:
    """How many lines, leaving about 30, end a commit of ``batch`` lines (so none is lost)."""
    return (len(lines) - 30) // batch * batch


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_shuffled_session_in_full_commits_is_refolded_at_the_end_to_the_same_books(
    tmp_path: Path, kind: str
) -> None:
    lines, mixed = shuffled(seed=11, orders=60)
    if kind == "postgres":
        require_postgres()
    with (
        private_schema() if kind == "postgres" else _sqlite(tmp_path) as url,
        OrderLedger(url, batch_size=20) as ledger,
    ):
        ledger.ingest_lines(mixed)
        lag = ledger.upkeep.views_lag()
        assert lag.settles >= 1  # some book's re-fold was left for the end, and done
        assert lag.unsettled == 0 and lag.current
        assert all_books(ledger) == in_order(lines)
        # Every row, links between P&L entries included, as a fresh fold of the log makes it.
        report = ledger.audit.verify()
        assert report.ok and not report.view_problems and report.views_unsettled == 0


def test_an_ingest_that_stops_leaves_its_books_marked_and_project_finishes_them(tmp_path: Path) -> None:
    lines, mixed = shuffled(seed=5, orders=60)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url, batch_size=20) as ledger:
        rest = committed(mixed)
        with pytest.raises(Stopped):
            ledger.ingest_lines(stopping_after(mixed, rest))
        lag = ledger.upkeep.views_lag()
        assert lag.unsettled >= 1 and not lag.current
        assert "re-folded in venue time" in lag.warning()
        # Not final, so not compared: verify says so rather than calling them damage.
        report = ledger.audit.verify()
        assert report.ok and report.views_unsettled == lag.unsettled
    with OrderLedger(url) as reopened:
        assert reopened.upkeep.views_lag().unsettled == lag.unsettled  # stored, not in one process's memory
        reopened.upkeep.catch_up()
        assert reopened.upkeep.views_lag().unsettled == 0
        reopened.ingest_lines(mixed[rest:])
        assert all_books(reopened) == in_order(lines)
        assert reopened.audit.verify().ok


def test_the_books_left_for_the_end_are_refolded_and_written_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A book left for later is re-folded whole (every P&L entry from its earliest change on):
    each is written before the next book's entries are read, so that memory holds one book's
    entries, not every book's (a whole session in random order leaves every book)."""
    lines, mixed = shuffled(seed=3, orders=120)
    settles: list[list[tuple[object, int]]] = []  # per settle: (book, its entries held before it)
    projection = positions.PositionsProjection
    settle, read_book = projection.settle, projection._book_since

    def counting_settle(self: positions.PositionsProjection, *args: Any, **kwargs: Any) -> bool:
        settles.append([])
        return settle(self, *args, **kwargs)

    def counting_read(key: Any, book: Any, at: Any, entries: Any) -> Any:
        done = {done for done, _ in settles[-1]}
        entries_held = [e for e in entries.dirty.values() if isinstance(e, PnlEntry)]
        held = [e for e in entries_held if (e.account, e.venue, e.instrument) in done]
        settles[-1].append((key, len(held)))
        return read_book(key, book, at, entries)

    monkeypatch.setattr(projection, "settle", counting_settle)
    monkeypatch.setattr(projection, "_book_since", staticmethod(counting_read))
    with OrderLedger(f"sqlite:///{tmp_path / 'ledger.db'}", batch_size=20) as ledger:
        ledger.ingest_lines(mixed)
        assert ledger.upkeep.views_lag().settles >= 1
        assert all_books(ledger) == in_order(lines)
    assert max(len(read) for read in settles) >= 2  # several books re-folded at one end
    assert [held for read in settles for _, held in read] == [0] * sum(map(len, settles))


def _line(**fields: object) -> str:
    return json.dumps(fields)


def _fill(trade: int, second: int) -> str:
    ts = (T0 + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
    return _line(
        type="fill",
        venue="v",
        venue_order_id="V-1",
        trade_id=f"T{trade:02}",
        quantity="1",
        price="100",
        ts=ts,
    )


def _request(client_order_id: str, instrument: str, second: float) -> str:
    ts = (T0 + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")
    return _line(
        type="request",
        client_order_id=client_order_id,
        account="acc",
        venue="v",
        instrument=instrument,
        side="buy",
        order_type="limit",
        quantity="100",
        price="200",
        ts=ts,
    )


T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_a_writer_whose_cached_book_another_settled_reads_it_again(tmp_path: Path) -> None:
    """Writer A leaves a book's re-fold for later and stops, the book held in its caches; B
    finishes it; A's next fill of that book must be folded on B's row, not on what A held (no
    event moved the views' positions: only the count of finished work tells A)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    accepted = _line(
        type="accepted", client_order_id="o", venue_order_id="V-1", ts="2026-11-20T09:00:00.500Z"
    )
    first = [_request("o", "BTC-USD", 0), accepted, *(_fill(n, 10 + n) for n in range(1, 19))]
    # A full commit: a fill before all 18 (the book would be walked back over 18 entries, more
    # than four times the 2 fills this commit adds to it: left for later) and one after them.
    second = [_fill(19, 5), _fill(20, 50), *(_request(f"p{n}", "ETH-USD", 1) for n in range(18))]
    assert len(first) == len(second) == 20
    with OrderLedger(url, batch_size=20) as a:
        with pytest.raises(Stopped):
            a.ingest_lines(stopping_after(first + second, 40))
        assert a.upkeep.views_lag().unsettled == 1
        with OrderLedger(url) as b:
            b.upkeep.catch_up()
            assert b.upkeep.views_lag().unsettled == 0
        a.ingest_lines([_fill(21, 60)])
        (book,) = [p for p in a.positions() if p.instrument == "BTC-USD"]
        # 21 fills of 1 at 100, the last of them (T21) the latest in venue time.
        assert (book.quantity, book.average_price) == (Decimal(21), Decimal(100))


class _sqlite:
    def __init__(self, directory: Path) -> None:
        self.url = f"sqlite:///{directory / 'ledger.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None
