"""The running sums kept for the P&L series in slices (``storage.pnl_runs``,
``application.reads.pnl_run_slices``): a read brings them up to the views summing only what changed (a fill
in venue order its own row; a late fill, a bust or a correction its currency's rows from the
changed place on), and whatever was kept, the series is the contract's walk (issue 46, item 2:
the P&L tab's series at the cost of what it shows). The property test of every arrival order
and read is ``test_pnl_series``; these pin what a read writes and what it does with rows it
cannot trust."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import pnl_run_slices
from orderledger.infrastructure.application.reads.pnl_series import realized_series
from orderledger.infrastructure.errors import DatabaseLockedError, StoreError
from orderledger.infrastructure.storage import pnl_runs as stored
from tests.support.integration import fact, fill, request
from tests.support.series import paths, walked_series

POINTS = 5


def fills(first: int, count: int, *, at: float | None = None) -> list[dict[str, Any]]:
    """Orders ``o{first}`` on: each a request and a fill of 1 at a price that moves, alternately
    buying and selling in two books of one account and currency (USDT), each fill a second after
    the last (or all at second ``at``)."""
    messages: list[dict[str, Any]] = []
    for n in range(first, first + count):
        instrument = ("ETH-USDT", "BTC-USDT")[n % 2]
        side = ("buy", "buy", "sell", "sell")[n % 4]
        second = float(n if at is None else at)
        messages.append(request(f"o{n}", instrument=instrument, side=side, quantity="1", seconds=0))
        messages.append(fill(f"o{n}", f"t{n}", "1", f"{100 + n % 7}.25", seconds=second))
    return messages


def record_all(ledger: OrderLedger, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        ledger.record(message)


@contextmanager
def stores() -> Iterator[list[tuple[dict[str, str | None], list[stored.Run]]]]:
    """Each store's replaced currencies and rows, as the reads in the block make them."""
    seen: list[tuple[dict[str, str | None], list[stored.Run]]] = []
    keep = stored.store

    def spy(tx: Any, was: Any, now: Any, replaced: dict[str, str | None], rows: list[stored.Run]) -> bool:
        seen.append((dict(replaced), list(rows)))
        return keep(tx, was, now, replaced, rows)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stored, "store", spy)
        yield seen


def read(ledger: OrderLedger) -> list[Any]:
    """The series in ``POINTS`` slices from the kept sums, checked against the contract's walk."""
    series = realized_series(ledger.db, POINTS)
    assert [p.to_json() for p in series] == [p.to_json() for p in walked_series(ledger.db, POINTS)]
    return series


def state(ledger: OrderLedger) -> tuple[int, int] | None:
    with ledger.db.read() as tx:
        return stored.state(tx)


def test_a_read_after_fills_in_venue_order_sums_only_those_fills(ledger_url: str) -> None:
    with OrderLedger(ledger_url) as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        with stores() as made:
            read(ledger)
        assert [len(rows) for _, rows in made] == [40]  # the first read sums every entry
        record_all(ledger, fills(40, 3))
        with stores() as made:
            read(ledger)
        ((replaced, rows),) = made
        # Only the three new entries: the rows before them keep their sums and totals
        assert sorted(r.n for r in rows) == [40, 41, 42]
        assert replaced == {"USDT": min(r.ts for r in rows)}
        assert [r.ts for r in rows] == sorted(r.ts for r in rows)
        with stores() as made:
            read(ledger)  # nothing new: read as kept
        assert made == []


def test_a_late_fill_sums_its_currency_again_from_its_place(ledger_url: str) -> None:
    with OrderLedger(ledger_url) as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        record_all(ledger, fills(40, 1, at=19.5))  # between the fills at seconds 19 and 20
        with stores() as made:
            read(ledger)
        ((replaced, rows),) = made
        # Its book is folded again from there on, so both books' entries from second 19.5 on
        # (20 through 39, and the late one) are summed again, in venue time
        assert len(rows) == 21
        assert rows[0].position == max(r.position for r in rows)  # the late fill, first in time
        assert replaced == {"USDT": rows[0].ts}


def test_a_bust_sums_its_book_again_from_the_busted_fill(ledger_url: str) -> None:
    with OrderLedger(ledger_url) as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        ledger.record(fact("fill_busted", "o30", seconds=60, trade_id="t30"))
        with stores() as made:
            series = read(ledger)
        ((_, rows),) = made
        assert len(rows) == 10  # the busted fill's entry (second 30) and the nine after it
        assert next(r for r in rows if r.n == 30).realized == "0"
        assert series  # (and the series is the walk's: ``read`` checks it)


def test_kept_sums_of_a_later_state_than_the_views_are_summed_again() -> None:
    # A store restored from an older copy keeps rows that name a later state: they are not used
    with OrderLedger("memory://") as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        with ledger.db.write() as tx:
            tx.execute("UPDATE pnl_runs_index SET seen = seen + 1000")
            tx.execute("UPDATE pnl_runs SET line_sum = '0', total = '0'")
        with stores() as made:
            read(ledger)
        assert [len(rows) for _, rows in made] == [40]
        with ledger.db.read() as tx:
            assert state(ledger) == (int(tx.one("SELECT max(notification_id) FROM events")[0]), 0)


def test_a_rebuild_of_the_positions_view_forgets_the_kept_sums(ledger_url: str) -> None:
    with OrderLedger(ledger_url) as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        ledger.upkeep.rebuild(["orders"])  # another view: kept
        assert state(ledger) is not None
        ledger.upkeep.rebuild(["positions"])
        assert state(ledger) is None
        with stores() as made:
            read(ledger)
        assert [len(rows) for _, rows in made] == [40]


def test_a_read_only_ledger_reads_the_series_from_the_view(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        record_all(ledger, fills(40, 5))
        kept = state(ledger)
    with OrderLedger(f"sqlite:///{path}?mode=ro", create=False) as ledger, paths(1, 1 << 20):
        with stores() as made:
            read(ledger)
        assert made == [] and state(ledger) == kept  # the new fills summed in memory, nothing written


def test_a_store_after_another_process_stored_writes_nothing() -> None:
    with OrderLedger("memory://") as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        kept = state(ledger)
        assert kept is not None
        with ledger.db.write() as tx:
            assert not stored.store(tx, (kept[0] - 1, kept[1]), (kept[0] + 1, kept[1]), {"USDT": None}, [])
            assert tx.one("SELECT count(*) FROM pnl_runs")[0] == 40
        assert state(ledger) == kept


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE pnl_runs SET line_sum = '1' WHERE n = 20",
        "UPDATE pnl_runs SET total = '1' WHERE n = 20",
        "UPDATE pnl_runs SET fine = '' WHERE n = 20",
        "DELETE FROM pnl_runs WHERE n = 20",
        "INSERT INTO pnl_runs SELECT position + 100000, account, currency, ts, venue, instrument, quote,"
        " realized, n, line_sum, total, fine FROM pnl_runs WHERE n = 20",
    ],
)
def test_verify_finds_a_kept_sum_changed_added_or_removed(tamper: str, ledger_url: str) -> None:
    with OrderLedger(ledger_url) as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        read(ledger)
        assert ledger.audit.verify().ok
        with ledger.db.write() as tx:
            tx.execute(tamper)
        report = ledger.audit.verify()
        assert not report.ok
        assert [p for p in report.view_problems if p.startswith("pnl_runs: ")], report.view_problems
        with ledger.db.write() as tx:
            stored.forget(tx)  # derived: the next read sums them again
        read(ledger)
        assert ledger.audit.verify().ok


def test_a_store_refused_for_good_is_not_tried_again_by_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # (an application role not granted the tables, a full disk): the view's walk answers, and
    # the process no longer sums every entry for a store that will fail
    with OrderLedger("memory://") as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))

        def refused(*_: Any) -> bool:
            raise StoreError("permission denied for table pnl_runs")

        monkeypatch.setattr(stored, "store", refused)
        read(ledger)
        summed: list[int] = []
        keep = pnl_run_slices._caught_up

        def counted(*arguments: Any) -> Any:
            summed.append(1)
            return keep(*arguments)

        monkeypatch.setattr(pnl_run_slices, "_caught_up", counted)
        read(ledger)
        assert summed == [] and state(ledger) is None


def test_a_store_met_by_another_writer_is_tried_again_by_the_next_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with OrderLedger("memory://") as ledger, paths(1, 1 << 20):
        record_all(ledger, fills(0, 40))
        keep = stored.store

        def locked(*_: Any) -> bool:
            raise DatabaseLockedError("database is locked")

        monkeypatch.setattr(stored, "store", locked)
        read(ledger)
        monkeypatch.setattr(stored, "store", keep)
        read(ledger)
        assert state(ledger) is not None
