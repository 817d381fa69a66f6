"""Lots, positions and daily P&L under every rule are read from the stored lots view, which a read
brings up to date with the fills recorded since the last one: a late fill re-folds its book from
its place in venue time, a bust takes it out again; ``verify`` compares the view with a fold of
the log and ``rebuild`` refolds it; a database written without the view gets it when opened."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application import reads, rule_views
from orderledger.infrastructure.application.daily_pnl import daily_pnl_rows
from orderledger.infrastructure.application.queries import position_rows
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.results import LotRow
from orderledger.infrastructure.storage import views as storage_views
from orderledger.projections.lots import COST_BASES
from tests.support.integration import (
    assert_views_equal_fold,
    fact,
    fill,
    lines,
    opened,
    request,
    scrambled,
    view_rows,
)

# ETH-USDT on account acc: buy 1 @ 100 (t1, 10:00:01), buy 1 @ 140 (t2, 10:00:03), sell 1 @ 130
# (t3, 10:00:05); a BTC-USDT book beside it (buy 1 @ 60000, t9) that nothing changes.
SESSION = lines(
    request("b1", instrument="ETH-USDT", quantity="1", price="100", seconds=0),
    request("b2", instrument="ETH-USDT", quantity="1", price="140", seconds=2),
    request("s", instrument="ETH-USDT", side="sell", quantity="1", price="130", seconds=4),
    request("x", instrument="BTC-USDT", quantity="1", price="60000", seconds=0),
    fill("b1", "t1", "1", "100", seconds=1),
    fill("b2", "t2", "1", "140", seconds=3),
    fill("s", "t3", "1", "130", seconds=5),
    fill("x", "t9", "1", "60000", seconds=1),
)
# The late fill: buy 1 @ 90 at 10:00:00.5 (t0), recorded after the sell.
LATE = lines(
    request("b0", instrument="ETH-USDT", quantity="1", price="90", seconds=0),
    fill("b0", "t0", "1", "90", seconds=0.5),
)
BUST = lines(fact("fill_busted", "b0", trade_id="t0", seconds=20))


def closed(ledger: Any, rule: str) -> list[tuple[Any, ...]]:
    return [
        (r.open_trade_id, r.close_trade_id, r.quantity, r.cost, r.proceeds, r.realized_pnl)
        for r in ledger.lots(cost_basis=rule, closed=True)
        if r.instrument == "ETH-USDT"
    ]


def opened_lots(ledger: Any, rule: str) -> list[tuple[Any, ...]]:
    return [(r.open_trade_id, r.cost) for r in ledger.lots(cost_basis=rule) if r.instrument == "ETH-USDT"]


def realized(ledger: Any, rule: str) -> Decimal:
    (eth,) = [p for p in ledger.positions(cost_basis=rule) if p.instrument == "ETH-USDT"]
    return Decimal(eth.realized_pnl)


def test_a_late_fill_and_its_bust_are_read_from_the_stored_view(ledger_url: str) -> None:
    with opened(ledger_url) as ledger:
        ledger.ingest_lines(SESSION)
        # In venue time t1 @ 100, t2 @ 140, then the sell @ 130:
        # FIFO closes t1: 130 − 100 = +30; LIFO and HIFO close t2: 130 − 140 = −10;
        # average (100 + 140) / 2 = 120: 130 − 120 = +10.
        assert closed(ledger, "fifo") == [("t1", "t3", 1, 100, 130, 30)]
        assert opened_lots(ledger, "fifo") == [("t2", 140)]
        assert [realized(ledger, rule) for rule in ("average", "fifo", "lifo", "hifo")] == [10, 30, -10, -10]
        stand = ledger.views.lazy_positions()["lots"]
        assert stand == ledger.recorder.max_notification_id()  # the reads brought it up to date

        ledger.ingest_lines(LATE)
        assert ledger.views.lazy_positions()["lots"] == stand  # ingest leaves the lazy view alone
        # The buy @ 90 comes first in venue time: FIFO's sell now closes it, 130 − 90 = +40,
        # leaving t1 @ 100 and t2 @ 140; LIFO and HIFO still close t2 (−10); average
        # (90 + 100 + 140) / 3 = 110: 130 − 110 = +20.
        assert closed(ledger, "fifo") == [("t0", "t3", 1, 90, 130, 40)]
        assert opened_lots(ledger, "fifo") == [("t1", 100), ("t2", 140)]
        assert opened_lots(ledger, "lifo") == [("t0", 90), ("t1", 100)]
        assert [realized(ledger, rule) for rule in ("average", "fifo", "lifo", "hifo")] == [20, 40, -10, -10]
        # The day's realized P&L by account under FIFO: +40 (all on 2026-11-20).
        [day] = ledger.pnl_daily(cost_basis="fifo")
        assert (day.day, day.group, day.realized_pnl) == ("2026-11-20", "acc", 40)
        assert_views_equal_fold(ledger)

        ledger.ingest_lines(BUST)
        # Without t0 the figures are those before it came: FIFO +30, LIFO and HIFO −10, average +10.
        assert closed(ledger, "fifo") == [("t1", "t3", 1, 100, 130, 30)]
        assert [realized(ledger, rule) for rule in ("average", "fifo", "lifo", "hifo")] == [10, 30, -10, -10]
        [day] = ledger.pnl_daily(cost_basis="fifo")
        assert day.realized_pnl == 30
        assert_views_equal_fold(ledger)


def test_verify_compares_the_view_with_the_log_and_rebuild_refolds_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with opened(url) as ledger:
        ledger.ingest_lines(SESSION + LATE)
        assert realized(ledger, "fifo") == 40
        assert not ledger.verify().view_problems
        with ledger.db.write() as tx:
            tx.execute("UPDATE lot_books_view SET realized_pnl = '999' WHERE rule = 'fifo'")
        ledger.views.tables["lots"]["lot_books_view"].discard()
        assert realized(ledger, "fifo") == 999  # what is stored is what is read
        assert any("lot_books_view" in problem for problem in ledger.verify().view_problems)
        ledger.rebuild(["lots"])
        assert realized(ledger, "fifo") == 40
        assert not ledger.verify().view_problems


def test_a_database_written_without_the_view_gets_it_when_opened_and_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with opened(url) as ledger:
        ledger.ingest_lines(SESSION + LATE)
        assert realized(ledger, "fifo") == 40  # read: the view is stored
        before = view_rows(ledger)
        with ledger.db.write() as tx:  # as a release without the lots view left it
            for table in (
                "lot_books_view",
                "lot_entries_view",
                "lot_days_view",
                "lot_fill_index_view",
                "lot_terms_view",
            ):
                tx.execute(f"DROP TABLE {table}")
            tx.execute("DELETE FROM view_tracking WHERE view = 'lots'")
            tx.execute("DELETE FROM view_versions WHERE view = 'lots'")
    with opened(url) as ledger:
        assert ledger.views.lazy_positions()["lots"] == 0  # made on opening, folded by the first read
        assert realized(ledger, "fifo") == 40
        assert_views_equal_fold(ledger)
        assert view_rows(ledger)["lot_entries_view"] == before["lot_entries_view"]


def test_reads_of_the_stored_view_equal_the_folds_of_the_log_they_replace(ledger_url: str) -> None:
    """A simulated session (late fills, busts, duplicates), its lines swapped at random and
    recorded in several calls, with marks at the end of the day: under every rule, the lots,
    positions and daily P&L read from the view equal those folded from the log."""
    session = lines(*scrambled(simulate(41, 80), seed=3))
    marks = lines(
        fact("mark", venue="venueA", instrument="BTC-USDT", price="64100", seconds=30_000),
        fact("mark", venue="venueB", instrument="SOL/USD", price="150", seconds=30_000),
    )
    with opened(ledger_url, batch_size=40) as ledger:
        for start in range(0, len(session), 150):
            ledger.ingest_lines(session[start : start + 150])
            ledger.lots(cost_basis="fifo")  # a read between the calls: the view goes in steps
        ledger.ingest_lines(marks)
        for rule in COST_BASES:
            books = reads.rule_books(ledger, rule, None, False)
            if rule != "average":
                assert ledger.lots(cost_basis=rule) == [
                    LotRow.of_open(rule, lot) for b in books.values() for lot in b.open
                ]
                assert ledger.lots(cost_basis=rule, closed=True) == [
                    LotRow.of_closed(rule, lot) for b in books.values() for lot in b.closed
                ]
            folded = position_rows(
                ledger.db,
                [b.position for b in books.values()],
                paid=[(key, fill) for key, b in books.items() for fill in b.fills],
            )
            assert list(ledger.positions(cost_basis=rule)) == folded
            assert ledger.pnl_daily(cost_basis=rule) == daily_pnl_rows(ledger.db, "account", rule)
        assert_views_equal_fold(ledger)


def test_a_read_far_behind_folds_the_log_and_the_view_comes_up_after_it_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that finds the view far behind (here: chunks of 5 events) is answered by folding the
    log, as before the view existed; the view is then brought up by a thread, chunk by chunk,
    each under the writer's lock, and later reads are read from it."""
    monkeypatch.setattr(storage_views, "LAZY_CHUNK", 5)
    monkeypatch.setattr(rule_views, "LAZY_CHUNK", 5)
    calls: list[tuple[str, int, bool]] = []
    bring_up = storage_views.Views.bring_up

    def watched(self: storage_views.Views, names: Any, **options: Any) -> int:
        folded = bring_up(self, names, **options)
        calls.append((threading.current_thread().name, folded, options.get("most") == 1))
        return folded

    monkeypatch.setattr(storage_views.Views, "bring_up", watched)
    session = lines(*scrambled(simulate(41, 80), seed=3))
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(session)
        books = reads.rule_books(ledger, "fifo", None, False)
        folded = [LotRow.of_open("fifo", lot) for b in books.values() for lot in b.open]
        assert ledger.lots(cost_basis="fifo") == folded
        rule_views.catch_up(ledger).join(timeout=120)  # the thread that read started
        assert ledger.views.lazy_positions()["lots"] == ledger.recorder.max_notification_id()
        assert len(calls) > 10
        assert all(name == "orderledger-lots" and n <= 5 and one for name, n, one in calls)
        calls.clear()
        assert ledger.lots(cost_basis="fifo") == folded  # from the view, now at the log's end
        assert [n for _, n, _ in calls] == []  # nothing left to fold: no chunk
        assert_views_equal_fold(ledger)
