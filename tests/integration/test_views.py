"""Persistent views: rebuilt = incremental = a fresh pure fold; exactly once; recovery costs what was missed.

The four view tables (orders_view, trades_view, positions_view, pnl_entries_view) are compared
row for row: incrementally maintained, rebuilt from the log, and folded in memory by
``projections.base.fold`` over the log read through the recorder and mapper.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.domain.events import OrderRequested
from orderledger.domain.order import order_id_for
from orderledger.domain.values import OrderType, Side
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.projections.orders import OPEN_ONLY, OPEN_SHOWN, SHOWN_COLUMNS, OrdersProjection
from orderledger.projections.positions import PositionsProjection
from orderledger.projections.risk import RiskProjection
from tests.support.integration import (
    VIEW_NAMES,
    assert_views_equal_fold,
    event_count,
    facts,
    fill,
    folded_rows,
    lines,
    opened,
    request,
    scrambled,
    tracking,
    view_rows,
)
from tests.support.soak import sized

# ============================================================================= rebuild = incremental


def test_rebuild_yields_the_incremental_rows_for_the_demo_session(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    ledger = make_ledger(batch_size=25)  # views are updated after each of ~10 group commits
    report = ledger.ingest_lines(lines(*simulate(7, 60)))
    assert report.counts["rejected"] == 0
    incremental = view_rows(ledger)
    # The simulated session declares no instruments and records no cash flows, marks, limits or
    # trading states: every other view table has rows.
    empty = {"instrument_terms_view", "cash_flows_view", "marks_view", "limits_view", "trading_states_view"}
    assert all(incremental[name] for name in incremental if name not in empty), "views have rows"
    assert_views_equal_fold(ledger)

    folded, _seconds = ledger.views.rebuild(VIEW_NAMES)

    assert folded == event_count(ledger) == report.events
    assert view_rows(ledger) == incremental
    assert tracking(ledger) == dict.fromkeys(VIEW_NAMES, event_count(ledger))

    # Views keep updating incrementally after the swap.
    more = ledger.ingest_lines(lines(*simulate(8, 15)))
    assert more.events > 0
    assert_views_equal_fold(ledger)


def test_the_orders_view_writes_the_writers_orders_and_keeps_none_of_them(ledger: OrderLedger) -> None:
    """Inline, the orders view writes each order's row from the order the writer has just decided
    (``Projection.adopt``), not by folding the events again, and keeps no reference to it: the
    writer changes that order in its next batch, whether or not the batch commits."""
    ledger.ingest_lines(lines(request("c-1"), fill("c-1", "t-1", "4", seconds=1)))
    mine = ledger.processor.orders.get("c-1")
    assert mine is not None and mine.filled_quantity == Decimal("4")
    cached = ledger.views.tables["orders"]["orders_view"].cache
    assert all(value is not mine for value in cached.values())

    # A batch decided against that very order, folded inline, then lost with its transaction.
    fold = ledger.processor.inline
    assert fold is not None

    def then_fail(tx: Any, committed: list[tuple[int, Any]], decided: Any) -> None:
        fold(tx, committed, decided)
        raise RuntimeError("the disk went away")

    ledger.processor.inline = then_fail
    with pytest.raises(RuntimeError, match="disk went away"):
        ledger.ingest_lines(lines(fill("c-1", "t-2", "5", seconds=2)))
    ledger.processor.inline = fold
    assert [r[SHOWN_COLUMNS.index("filled_quantity")] for r in view_rows(ledger)["orders_view"]] == ["4"]

    # The next batch folds onto the stored row: 4 + 5 + 1 = 10 of 10, filled.
    ledger.ingest_lines(lines(fill("c-1", "t-2", "5", seconds=3), fill("c-1", "t-4", "1", seconds=4)))
    row = view_rows(ledger)["orders_view"][0]
    assert row[SHOWN_COLUMNS.index("filled_quantity")] == "10"
    assert row[SHOWN_COLUMNS.index("status")] == "filled"
    assert_views_equal_fold(ledger)


def test_rebuilding_one_view_leaves_the_others_alone(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(*simulate(3, 25)))
    before = view_rows(ledger)

    ledger.views.rebuild(["positions"])

    assert view_rows(ledger) == before
    ledger.ingest_lines(lines(*simulate(4, 10)))
    assert_views_equal_fold(ledger)


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**16),
    orders=st.integers(1, 45),
    batch_size=st.integers(1, 80),
    disorder=st.one_of(st.none(), st.integers(0, 2**16)),
    calls=st.integers(1, 3),
)
def test_rebuild_equals_incremental_equals_fold_for_generated_sessions(
    seed: int, orders: int, batch_size: int, disorder: int | None, calls: int
) -> None:
    messages = simulate(seed, orders)
    if disorder is not None:  # facts overtaking their order: parking, refusals, late facts
        messages = scrambled(messages, disorder)
    session = lines(*messages)
    with opened("memory://", batch_size=batch_size) as ledger:
        step = -(-len(session) // calls)
        for start in range(0, len(session), step):
            ledger.ingest_lines(session[start : start + step])
        incremental = view_rows(ledger)
        assert incremental == folded_rows(ledger)

        ledger.views.rebuild(VIEW_NAMES)

        assert view_rows(ledger) == incremental
        assert tracking(ledger) == dict.fromkeys(VIEW_NAMES, event_count(ledger))


# ============================================================================= exactly once


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_instances_sharing_the_views_fold_every_event_exactly_once(file_ledger_url: str) -> None:
    session = lines(*simulate(5, 60))
    batches = [session[start : start + 13] for start in range(0, len(session), 13)]
    with (
        opened(file_ledger_url) as writer,  # folds its own commits (inline, or by catching up)
        opened(file_ledger_url, project=False) as lagging,  # leaves its commits to the others
        opened(file_ledger_url) as follower,  # only catches up
    ):
        for index, batch in enumerate(batches):
            (lagging if index % 3 == 0 else writer).ingest_lines(batch)
            if index % 4 == 1:
                follower.upkeep.catch_up()
        follower.upkeep.catch_up()

        total = event_count(writer)
        assert sum(len(b) for b in batches) == len(session) and total > 0
        assert lagging.views.stats.applied == 0
        # Each instance folded some events, some of them by reading them back from the log
        # (the lagging writer's), and together they folded each event exactly once.
        assert writer.views.stats.read_from_log > 0 and writer.views.stats.handed_over > 0
        assert follower.views.stats.read_from_log > 0
        assert writer.views.stats.applied + follower.views.stats.applied == total
        assert_views_equal_fold(writer)
        assert view_rows(follower) == view_rows(writer)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_follower_thread_and_two_writers_fold_each_event_once(file_ledger_url: str) -> None:
    session = lines(*simulate(6, 50))
    with (
        opened(file_ledger_url, batch_size=5) as writer,
        opened(file_ledger_url, batch_size=7, project=False) as lagging,
        opened(file_ledger_url) as follower,
    ):
        done = threading.Event()
        errors: list[BaseException] = []

        def follow() -> None:
            try:
                # Poll as `project --follow` does; a tight loop would hog SQLite's write lock.
                while not done.wait(0.002):
                    follower.upkeep.catch_up()
                follower.upkeep.catch_up()
            except BaseException as error:  # reported below
                errors.append(error)

        def ingest(ledger: OrderLedger) -> None:
            try:
                ledger.ingest_lines(session)  # both writers send the whole session
            except BaseException as error:  # reported below
                errors.append(error)

        following = threading.Thread(target=follow)
        writers = [threading.Thread(target=ingest, args=(ledger,)) for ledger in (writer, lagging)]
        following.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        done.set()
        following.join(timeout=60)
        assert not any(t.is_alive() for t in [following, *writers])
        assert errors == []

        total = event_count(writer)
        assert all(n == 1 for n in facts(writer).values())
        assert lagging.views.stats.applied == 0
        assert follower.views.stats.applied + writer.views.stats.applied == total
        assert_views_equal_fold(writer)


# ============================================================================= recovery


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_catch_up_after_a_restart_reads_exactly_what_the_views_missed(file_ledger_url: str) -> None:
    first, second = lines(*simulate(9, 30)), lines(*simulate(10, 20))
    with opened(file_ledger_url) as ledger:
        ledger.ingest_lines(first)
        folded = event_count(ledger)
    # A writer that leaves the views behind (as if it died between its commit and the views).
    with opened(file_ledger_url, project=False) as writer:
        missed = writer.ingest_lines(second).events
    assert missed > 0

    with opened(file_ledger_url) as restarted:
        assert tracking(restarted) == dict.fromkeys(VIEW_NAMES, folded)

        stats = restarted.upkeep.catch_up()

        assert (stats.applied, stats.read_from_log, stats.handed_over) == (missed, missed, 0)
        assert_views_equal_fold(restarted)
        again = restarted.upkeep.catch_up()
        assert (again.applied, again.read_from_log) == (0, 0)


def test_views_written_by_an_older_version_are_rebuilt_when_the_ledger_opens(file_ledger_url: str) -> None:
    """A database whose orders view lacks a column this version stores (as before ``fills``
    was one) opens without an error: the outdated view is refolded from the log, the others stay."""
    with opened(file_ledger_url) as ledger:
        ledger.ingest_lines(lines(*simulate(9, 30)))
        expected = view_rows(ledger)
        with ledger.db.write() as tx:
            tx.execute("ALTER TABLE orders_view DROP COLUMN fills")
            tx.execute("UPDATE view_tracking SET position = 3 WHERE view = 'orders'")
            tx.execute("DELETE FROM trades_view")  # not outdated: must be left as it is

    with opened(file_ledger_url) as reopened:
        rows = view_rows(reopened)
        assert rows["orders_view"] == expected["orders_view"]
        assert rows["trades_view"] == []
        assert tracking(reopened)["orders"] == event_count(reopened)


def test_a_view_built_by_another_version_of_its_fold_is_rebuilt_when_the_ledger_opens(
    file_ledger_url: str,
) -> None:
    """Same columns, other rules (``Projection.version``): the rows may differ, so the view is
    refolded from the log; views whose recorded version matches are left alone."""
    with opened(file_ledger_url) as ledger:
        ledger.ingest_lines(lines(*simulate(9, 30)))
        expected = view_rows(ledger)
        with ledger.db.write() as tx:
            tx.execute("DROP TABLE view_versions")  # as a database written before versions were kept
            tx.execute("DELETE FROM orders_view")
            tx.execute("DELETE FROM trades_view")

    with opened(file_ledger_url) as reopened:
        rows = view_rows(reopened)
        assert rows["orders_view"] == expected["orders_view"]
        assert rows["trades_view"] == []
        with reopened.db.read() as tx:
            recorded = dict(tx.all("SELECT view, version FROM view_versions"))
        # trades (version 1) needs no row
        assert recorded == {
            "orders": OrdersProjection.version,
            "positions": PositionsProjection.version,
            "risk": RiskProjection.version,
        }

    with opened(file_ledger_url) as again:  # nothing is rebuilt a second time
        assert view_rows(again)["trades_view"] == []
        assert view_rows(again)["orders_view"] == expected["orders_view"]


def test_open_orders_are_listed_from_their_index_alone_after_an_older_view_is_rebuilt(tmp_path: Path) -> None:
    """Version 5's index of open orders held the snapshot's columns one by one, and its rows no
    packed snapshot: a database built by it refolds its orders view on open, and the new index
    then holds what the listing reads (each open order's packed snapshot)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with opened(url) as ledger:
        ledger.ingest_lines(lines(*simulate(9, 60)))
        expected = ledger.orders(open=True)
        with ledger.db.write() as tx:
            old = tx.one("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%is_open = 1%'")[
                0
            ]
            tx.execute(f"DROP INDEX {old}")
            tx.execute(f"ALTER TABLE orders_view DROP COLUMN {OPEN_SHOWN}")
            included = [c for c in SHOWN_COLUMNS if c not in ("created_at", "client_order_id")]
            tx.execute(
                f"CREATE INDEX ix_v5 ON orders_view (created_at, client_order_id, {', '.join(included)})"
                " WHERE is_open = 1"
            )
            tx.execute("UPDATE view_versions SET version = 5 WHERE view = 'orders'")

    with opened(url) as reopened:
        assert expected and reopened.orders(open=True) == expected
        select = (
            f"SELECT {OPEN_SHOWN}, created_at, client_order_id FROM orders_view"
            f" WHERE {OPEN_ONLY} ORDER BY created_at, client_order_id LIMIT 1000"
        )
        with reopened.db.read() as tx:
            index, root = tx.one(
                "SELECT name, rootpage FROM sqlite_master WHERE type = 'index' AND sql LIKE '%is_open = 1%'"
            )
            program = tx.all(f"EXPLAIN {select}")
    # Every column is read through the cursor on the index; the table's rows are never sought.
    cursors = {int(op[2]) for op in program if op[1] == "OpenRead" and int(op[3]) == int(root)}
    assert index != "ix_v5" and len(cursors) == 1
    assert {int(op[2]) for op in program if op[1] == "Column"} == cursors


# A history far longer than the few hundred events a restart may read: recovery that read the
# whole log (or any fixed fraction of it) would read thousands. The counts the test checks do not
# depend on how much longer, so a soak (tests/support/soak.py) runs it on a million events.
BULK_EVENTS = sized(20_000, 1_000_000)
BULK_CHUNK = min(20_000, BULK_EVENTS // 4)
_INSERT = (
    "INSERT INTO events (notification_id, originator_id, originator_version, topic, state, event_type,"
    " client_order_id, account, venue, instrument, ts_event, ts_recorded, source, message_id, hash)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _synthetic_rows(
    ledger: OrderLedger, count: int, chunk: int, after: tuple[int, bytes]
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of ``count`` OrderRequested events for distinct orders, ``chunk`` at a time, hash-chained.

    The mapper encodes one template request; each row substitutes its own client order ID in that
    encoding (and its own aggregate ID) and is chained with ``infrastructure.chain.link``, as the
    recorder would, after the log's last (notification ID, hash).
    """
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    template_id = "bulk-0000000"
    template = ledger.mapper.to_stored_event(
        OrderRequested(
            originator_id=order_id_for(template_id),
            originator_version=1,
            ts_recorded=moment,
            ts_event=moment,
            source="bulk",
            client_order_id=template_id,
            account="bulk",
            venue="B",
            instrument="BTC-USDT",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=Decimal(1),
            price=Decimal(100),
            quote_currency="USDT",
        )
    )
    needle = f'"{template_id}"'.encode()
    assert template.state.count(needle) == 1
    columns = (template.account, template.venue, template.instrument, template.ts_event, template.ts_recorded)
    position, previous = after
    for start in range(0, count, chunk):
        rows = []
        for n in range(start, min(count, start + chunk)):
            client_order_id = f"bulk-{n:07d}"
            position += 1
            row = (
                position,
                str(order_id_for(client_order_id)),
                1,
                template.topic,
                template.state.replace(needle, f'"{client_order_id}"'.encode()),
                template.event_type,
                client_order_id,
                *columns,
                template.source,
                None,
            )
            previous = link(previous, row)
            rows.append((*row, previous))
        yield rows


def _append_synthetic_requests(ledger: OrderLedger, count: int, chunk: int, chunks_per_commit: int) -> None:
    """Write the synthetic events by raw SQL through the ledger's own database connection."""
    with ledger.db.read() as tx:
        last = tx.one("SELECT notification_id, hash FROM events ORDER BY notification_id DESC LIMIT 1")
        # Enough page cache for the (originator_id, version) index, whose keys are random UUIDs;
        # with several chunks per commit each index page is written to the WAL a few times, not 50.
        tx.execute("PRAGMA cache_size = -262144")
    after = (0, GENESIS) if last is None else (int(last[0]), bytes(last[1]))
    chunks = _synthetic_rows(ledger, count, chunk, after)
    while True:
        group = list(islice(chunks, chunks_per_commit))
        if not group:
            return
        with ledger.db.write() as tx:
            for rows in group:
                tx.executemany(_INSERT, rows)


@pytest.mark.slow
def test_recovery_does_not_grow_with_history(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    url = f"sqlite:///{path}"
    try:
        with opened(url) as ledger:
            ledger.ingest_lines(lines(request("seed"), fill("seed", "t0", "1", seconds=1)))
            _append_synthetic_requests(ledger, BULK_EVENTS, BULK_CHUNK, chunks_per_commit=5)
            last = ledger.recorder.max_notification_id()
            assert last == BULK_EVENTS + 2
            # The views have folded everything up to here (as a long-running ledger would have).
            with ledger.db.write() as tx:
                tx.execute("UPDATE view_tracking SET position = ?", (last,))
            sample = ledger.order(f"bulk-{BULK_EVENTS - 1:07d}").snapshot()
            assert (sample["status"], sample["account"], sample["quantity"]) == ("requested", "bulk", "1")

        def new_orders(prefix: str) -> list[str]:
            batch = []
            for n in range(50):
                batch += [
                    request(f"{prefix}{n}", seconds=n),
                    fill(f"{prefix}{n}", f"{prefix}t{n}", "2", seconds=n),
                ]
            return lines(*batch)

        with opened(url) as restarted:  # a restart: nothing is folded on open
            assert tracking(restarted) == dict.fromkeys(VIEW_NAMES, last)

            report = restarted.ingest_lines(new_orders("new-"))

            stats = restarted.views.stats
            assert report.counts["applied"] == 100 and report.events == 100
            assert stats.applied == report.events
            assert stats.read_from_log + stats.handed_over <= 150
            assert tracking(restarted) == dict.fromkeys(VIEW_NAMES, last + 100)
            with restarted.db.read() as tx:
                assert tx.one("SELECT COUNT(*) FROM orders_view WHERE client_order_id LIKE 'new-%'")[0] == 50
                assert tx.one("SELECT COUNT(*) FROM trades_view")[0] == 51
            assert restarted.upkeep.catch_up().read_from_log == 0

        # A writer dies before its views are updated (here: it leaves them to others) ...
        with opened(url, project=False) as crashed:
            assert crashed.ingest_lines(new_orders("lost-")).events == 100
        # ... and the next process to start catches up on what the views missed, nothing more.
        with opened(url) as recovering:
            stats = recovering.upkeep.catch_up()
            assert (stats.applied, stats.read_from_log, stats.handed_over) == (100, 100, 0)
            assert tracking(recovering) == dict.fromkeys(VIEW_NAMES, last + 200)
            with recovering.db.read() as tx:
                assert tx.one("SELECT COUNT(*) FROM trades_view")[0] == 101
    finally:
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"big.db{suffix}").unlink(missing_ok=True)
