"""The fast rebuild: rows equal to the incremental views and to a pure fold, whether folded in
one process or split across several; the old views survive a failed rebuild; events decoded
without validation are the events validation builds, upcasting included.

Tables are made to hold only a few rows in memory (``HELD_ROWS``), so these sessions exercise
what a large log does: rows written early, read back, deleted after being written, and P&L
entries restated from rows already in SQL.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderAccepted, OrderCanceled, OrderEvent, OrderFilled, OrderRequested
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.errors import DatabaseCorruptError, DatabaseLockedError, StoreError
from orderledger.infrastructure.storage import early_check, rebuild
from orderledger.infrastructure.storage import sqlite as sqlite_storage
from orderledger.infrastructure.storage import views as views_storage
from orderledger.infrastructure.storage.backends import open_database
from orderledger.infrastructure.storage.sqlite import SqliteTx
from orderledger.infrastructure.storage.view_schema import create_table_sql
from orderledger.projections.base import EVERY, Projection
from orderledger.projections.orders import OrdersProjection
from orderledger.projections.positions import PositionsProjection
from orderledger.projections.trades import TradesProjection
from tests.support.cli import run_cli
from tests.support.integration import (
    VIEW_NAMES,
    event_count,
    folded_rows,
    lines,
    opened,
    tracking,
    view_rows,
)


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few rows held per table: writes, read-backs and scans of written rows all happen."""
    monkeypatch.setattr(rebuild, "HELD_ROWS", 6)
    monkeypatch.setattr(rebuild, "KNOWN_ROWS", 3)
    monkeypatch.setattr(rebuild, "READ_CHUNK", 17)


def _session(ledger: Any) -> None:
    """Two simulated sessions (busts and corrections among their fills) around an instrument
    definition that changes between them, so positions value fills under two definitions."""
    ledger.venues.define_instrument("venueA", "BTC-USDT", kind="swap", contract_size=Decimal("0.01"))
    first = ledger.ingest_lines(lines(*simulate(21, 40, tag="a")))
    ledger.venues.define_instrument("venueA", "BTC-USDT", kind="swap", contract_size=Decimal("0.1"))
    second = ledger.ingest_lines(lines(*simulate(22, 30, tag="b")))
    assert first.counts["rejected"] == second.counts["rejected"] == 0


@pytest.mark.usefixtures("small_tables")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_rebuild_split_across_processes_writes_the_rows_of_one_process(
    file_ledger_url: str, tmp_path: Path
) -> None:
    with opened(file_ledger_url, batch_size=30) as ledger:
        _session(ledger)
        incremental = view_rows(ledger)
        assert incremental == folded_rows(ledger)
        kinds = {row[7] for row in incremental["pnl_entries_view"]}
        assert "busted" in kinds, "a bust restates P&L entries"
        assert len(incremental["instrument_terms_view"]) == 1  # one instrument, defined twice
        # Several books, so that a split across three processes gives each some of them.
        assert len(incremental["positions_view"]) >= 3

        one, _ = ledger.views.rebuild(VIEW_NAMES, jobs=1)
        assert view_rows(ledger) == incremental

        split, _ = ledger.views.rebuild(VIEW_NAMES, jobs=3)  # a view per process
        assert view_rows(ledger) == incremental
        assert one == split == event_count(ledger)

        # More processes than views: views are also split into shares of their keys.
        cut, _ = ledger.views.rebuild(VIEW_NAMES, jobs=5)
        assert view_rows(ledger) == incremental
        cut_one, _ = ledger.views.rebuild(["positions"], jobs=2)
        assert view_rows(ledger) == incremental
        assert cut == cut_one == one
        assert tracking(ledger) == dict.fromkeys(VIEW_NAMES, event_count(ledger))

        more = ledger.ingest_lines(lines(*simulate(23, 10, tag="c")))  # views go on incrementally
        assert more.events > 0
        assert view_rows(ledger) == folded_rows(ledger)

    verified = run_cli("verify", db=file_ledger_url, cwd=tmp_path)
    assert verified.returncode == 0, verified.describe()

    run = run_cli("rebuild", "--all", "--jobs", "2", db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.stdout.startswith("rebuilt orders, trades, positions, cash_flows, marks, risk: "), (
        run.describe()
    )
    with opened(file_ledger_url) as ledger:
        assert view_rows(ledger) == folded_rows(ledger)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_rebuild_leaves_the_old_views_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(lines(*simulate(5, 30)))
        before = view_rows(ledger)
        positions = tracking(ledger)
        fills = [row[0] for row in before["pnl_entries_view"]]
        fold = PositionsProjection.apply

        def failing(self: PositionsProjection, position: int, event: Any, tables: Any) -> None:
            if position == fills[len(fills) // 2]:
                raise RuntimeError("disk on fire")
            fold(self, position, event, tables)

        monkeypatch.setattr(PositionsProjection, "apply", failing)  # forked processes inherit it
        expected = StoreError if jobs > 1 else RuntimeError
        with pytest.raises(expected, match="disk on fire"):
            ledger.views.rebuild(VIEW_NAMES, jobs=jobs)
        monkeypatch.setattr(PositionsProjection, "apply", fold)

        assert view_rows(ledger) == before
        assert tracking(ledger) == positions
        ledger.ingest_lines(lines(*simulate(6, 5, tag="later")))
        assert view_rows(ledger) == folded_rows(ledger)


def test_jobs_below_one_are_refused_and_memory_ledgers_fold_in_one_process() -> None:
    with opened("memory://") as ledger:
        ledger.ingest_lines(lines(*simulate(9, 12)))
        before = view_rows(ledger)
        with pytest.raises(InvalidInputError, match="jobs must be at least 1"):
            ledger.views.rebuild(VIEW_NAMES, jobs=0)
        folded, _ = ledger.views.rebuild(VIEW_NAMES, jobs=4)  # no other process sees memory://
        assert folded == event_count(ledger)
        assert view_rows(ledger) == before


def test_trusted_decoding_builds_the_events_validation_builds(tmp_path: Path) -> None:
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.venues.define_instrument("venueB", "SOL/USD", kind="spot", contract_size=Decimal("1"))
        ledger.ingest_lines(lines(*simulate(13, 40)))
        with ledger.db.read() as tx:
            rows = tx.all("SELECT originator_id, originator_version, topic, state FROM events")
        mapper = ledger.mapper
        assert len(rows) == event_count(ledger)
        for originator_id, version, topic, state in rows:
            checked = mapper.decode(topic, bytes(state), originator_id, version)
            trusted = mapper.decode(topic, bytes(state), originator_id, version, trusted=True)
            assert type(trusted) is type(checked)
            assert trusted == checked
            assert trusted.model_fields_set == checked.model_fields_set
            assert [type(v) for v in trusted.__dict__.values()] == [
                type(v) for v in checked.__dict__.values()
            ]


def test_stored_events_are_upcast_whether_validated_or_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(lines(*simulate(4, 30)))
        with ledger.db.read() as tx:
            rows = tx.all(
                "SELECT originator_id, originator_version, topic, state FROM events WHERE topic = ?",
                ("domain.events:OrderCanceled",),
            )
        assert rows, "the session cancels orders"

        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason"] = f"{state.get('reason') or 'canceled'} (stored at v1)"

        # A version 2 of the event: rows written at version 1 are upcast when read.
        monkeypatch.setattr(OrderCanceled, "class_version", 2)
        monkeypatch.setattr(OrderCanceled, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False)
        mapper = ledger.mapper
        for originator_id, version, topic, state in rows:
            for trusted in (False, True):
                event = mapper.decode(topic, bytes(state), originator_id, version, trusted=trusted)
                assert isinstance(event, OrderCanceled)
                assert event.reason is not None and event.reason.endswith(" (stored at v1)")


def _statements_of_a_rebuild(ledger: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], int]:
    """The SQL texts a one-process rebuild hands SQLite to prepare (but its index names, random by
    design), and how many statements that write view rows it runs."""
    texts: set[str] = set()
    writes = 0

    class Recording:
        def __init__(self, conn: Any) -> None:
            self._conn = conn

        def _note(self, sql: str) -> None:
            nonlocal writes
            if not sql.startswith("CREATE INDEX"):
                texts.add(sql)
            writes += "__rebuild (" in sql

        def execute(self, sql: str, *args: Any) -> Any:
            self._note(sql)
            return self._conn.execute(sql, *args)

        def executemany(self, sql: str, *args: Any) -> Any:
            self._note(sql)
            return self._conn.executemany(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

    made = SqliteTx.__init__

    def recording(self: SqliteTx, conn: Any, *rest: Any) -> None:
        made(self, cast(sqlite3.Connection, Recording(conn)), *rest)

    with monkeypatch.context() as patch:
        patch.setattr(SqliteTx, "__init__", recording)
        ledger.views.rebuild(VIEW_NAMES)
    return texts, writes


@pytest.mark.usefixtures("small_tables")
def test_a_rebuild_runs_the_same_statements_however_long_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite keeps every statement it prepared (sqlite3 caches the last 128, a multi-row INSERT of
    # 1,000 rows ~3 MB): writes whose text followed each batch's length made the rebuild's memory
    # grow with the log. Its statements must not depend on the log's length: but for the sizes of
    # a multi-row INSERT's groups (a few fixed ones, the larger used once the connection has
    # written enough rows of that INSERT), the same texts.
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}", batch_size=25) as ledger:
        ledger.ingest_lines(lines(*simulate(31, 30)))
        short, few = _statements_of_a_rebuild(ledger, monkeypatch)
        ledger.ingest_lines(lines(*simulate(32, 90, tag="b")))
        long, many = _statements_of_a_rebuild(ledger, monkeypatch)
        assert view_rows(ledger) == folded_rows(ledger)
    assert many > few > 10, "tables holding a few rows write many batches"
    assert {_one_row(sql) for sql in long} == {_one_row(sql) for sql in short}
    for texts in (short, long):
        shapes = Counter(_one_row(sql) for sql in texts)
        assert max(shapes.values()) <= len(sqlite_storage._GROUPS)


def _one_row(sql: str) -> str:
    """A multi-row INSERT as the INSERT of one of its rows."""
    return re.sub(r"(\(\?(?:, \?)*\))(?:,\1)+", r"\1", sql)


def test_a_share_of_a_partitioned_fold_parses_only_its_own_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(lines(*simulate(33, 60)))
        total = event_count(ledger)
        projections = ledger.views.projections
        with ledger.db.write() as tx:
            for spec in [s for p in projections for s in p.tables]:
                tx.execute(f"DROP TABLE IF EXISTS {rebuild.rebuild_name(spec)}")
                tx.execute(create_table_sql(spec, rebuild.rebuild_name(spec), "sqlite")[0])
        mapper = ledger.mapper
        parsed: list[int] = []
        load = type(mapper).load

        def counting_load(self: Any, topic: str, data: bytes, originator_id: Any, version: int) -> Any:
            parsed.append(version)
            return load(self, topic, data, originator_id, version)

        monkeypatch.setattr(type(mapper), "load", counting_load)
        counts = []
        for index in (0, 1):
            parsed.clear()
            share = rebuild.Share(index, 2, 0, total)
            read, _ = rebuild.fold_share(ledger.db, mapper, [(p, share) for p in projections])
            assert read == total  # every share reads the whole log...
            counts.append(len(parsed))
        # ...but parses only the events it folds (an event whose order falls in one share and whose
        # book in the other is parsed by both).
        assert all(0 < count < total for count in counts)
        assert sum(counts) >= total


def test_a_partitioned_rebuild_deals_whole_views_first_then_cuts_the_heaviest() -> None:
    # Given views weighed by the events of the log's mix they fold (1 + their count): the orders
    # view folds all 100 of these, trades and positions the 40 fills each.
    views = [OrdersProjection(), TradesProjection(), PositionsProjection()]
    mix: dict[type[OrderEvent], int] = {OrderRequested: 30, OrderAccepted: 30, OrderFilled: 40}

    def dealt(jobs: int) -> list[list[tuple[str, int, int]]]:
        parts = rebuild.plan(views, jobs, 500, mix)
        assert all((s.after, s.stop) == (0, 500) for part in parts for _, s in part)
        return [[(p.name, s.index, s.count) for p, s in part] for part in parts]

    # When two processes share them, then the heaviest view (101) goes to one, and the other two
    # (41 each) to the other: whole views, so no process reads events it then throws away.
    assert dealt(2) == [[("orders", 0, 1)], [("trades", 0, 1), ("positions", 0, 1)]]
    assert dealt(3) == [[("orders", 0, 1)], [("trades", 0, 1)], [("positions", 0, 1)]]
    # With more processes than views, the heaviest piece is cut into one more share each time:
    # orders into two (50.5 each), then three (33.7 each, below trades' and positions' 41).
    assert dealt(5) == [
        [("trades", 0, 1)],
        [("positions", 0, 1)],
        [("orders", 0, 3)],
        [("orders", 1, 3)],
        [("orders", 2, 3)],
    ]
    assert dealt(1) == [[("orders", 0, 1), ("trades", 0, 1), ("positions", 0, 1)]]


def test_a_view_without_a_partition_key_is_never_cut() -> None:
    class Whole(TradesProjection):
        name = "whole"
        partition = Projection.partition  # the default: everything in one share

    parts = rebuild.plan([Whole()], 4, 10, {OrderFilled: 5})
    assert [[(p.name, s.index, s.count) for p, s in part] for part in parts] == [[("whole", 0, 1)]]


def test_few_keys_are_dealt_to_the_shares_in_turn_alike_in_every_process() -> None:
    # A book's key in the order the log first names it: dealt to shares 0, 1, 0, 1 …, so two
    # processes reading the same log agree on every key without telling each other.
    keys = ["acc/V/BTC", "acc/V/ETH", "acc/V/BTC", "acc/W/BTC", "acc/W/ETH", "acc/V/ETH", EVERY]
    taken = []
    for index in (0, 1):
        share = rebuild.Share(index, 2)
        dealt: dict[str, int] = {}
        taken.append([key for key in keys if share.mine(key, dealt)])
        assert dealt == {"acc/V/BTC": 0, "acc/V/ETH": 1, "acc/W/BTC": 0, "acc/W/ETH": 1}
    assert taken == [
        ["acc/V/BTC", "acc/V/BTC", "acc/W/BTC", EVERY],
        ["acc/V/ETH", "acc/W/ETH", "acc/V/ETH", EVERY],
    ]
    # Positions have few keys (a book each); orders, one per order, are shared by a hash.
    assert PositionsProjection.few_partitions and not OrdersProjection.few_partitions


@pytest.mark.usefixtures("small_tables")
def test_a_share_that_finds_the_write_lock_taken_folds_on_and_writes_later(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with opened(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(lines(*simulate(34, 20)))
        db = ledger.db
        spec = ledger.views.projections[0].tables[0]  # orders
        with db.write() as tx:
            tx.execute(f"DROP TABLE IF EXISTS {rebuild.rebuild_name(spec)}")
            tx.execute(create_table_sql(spec, rebuild.rebuild_name(spec), "sqlite")[0])
        table = rebuild.BulkTable(db, spec)
        with db.read() as tx:
            rows = tx.all(f"SELECT * FROM {spec.name} ORDER BY client_order_id")
        for row in rows[: rebuild.HELD_ROWS + 2]:
            table.put(spec.key_of_row(tuple(row)), spec.from_row(tuple(row)))
        assert table.over() and not table.full()

        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(DatabaseLockedError), db.write(wait=False):
                pass
            rebuild._write_held(db.write, [table], wait=False)  # returns at once, keeping every row
            assert len(table.held) == rebuild.HELD_ROWS + 2
        finally:
            other.execute("ROLLBACK")
            other.close()
        rebuild._write_held(db.write, [table], wait=False)  # the lock is free: the oldest rows go
        assert len(table.held) == rebuild.HELD_ROWS // 2
        with db.read() as tx:
            written = tx.all(f"SELECT * FROM {rebuild.rebuild_name(spec)} ORDER BY client_order_id")
        assert len(written) == rebuild.HELD_ROWS + 2 - rebuild.HELD_ROWS // 2
        assert set(written) <= {tuple(r) for r in rows}


def test_only_the_rebuilding_thread_commits_unsynced(tmp_path: Path) -> None:
    # Given a SQLite ledger database whose one connection two threads share
    db = open_database(f"sqlite:///{tmp_path / 'sync.db'}")
    try:

        def mode() -> int:
            with db.write() as tx:
                return int(tx.one("PRAGMA synchronous")[0])

        # When one thread writes inside `unsynced` (a rebuild's new tables) and another writes meanwhile
        seen: list[int] = []
        with db.unsynced():
            inside = mode()
            other = threading.Thread(target=lambda: seen.append(mode()))
            other.start()
            other.join()
        after = mode()
        # Then only the first thread's commits skip the sync (NORMAL = 1); every other commit,
        # during the block and after it, is synced (FULL = 2)
        assert (inside, seen, after) == (1, [2], 2)
    finally:
        db.close()


def _ledger_file(tmp_path: Path, *, seed: int) -> tuple[str, dict[str, Any]]:
    """A SQLite ledger file of 30 simulated orders, closed and not known sound (as a copy of it
    would be, or the file after a crash: the next opener checks it before writing): its URL and its
    views' rows."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    with opened(url) as ledger:
        ledger.ingest_lines(lines(*simulate(seed, 30)))
        rows = view_rows(ledger)
    Path(f"{path}{early_check.SOUND_SUFFIX}").unlink()
    return url, rows


def test_a_one_process_rebuild_checks_the_file_beside_its_fold_and_writes_only_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a SQLite ledger opened by a new process (its file not yet checked)
    url, expected = _ledger_file(tmp_path, seed=35)
    steps: list[str] = []
    reading = threading.Event()
    check = sqlite_storage.check_sqlite_file
    read_log = rebuild.read_log

    def checked(tx: Any, path: str, *, deep: bool = False) -> str:
        # The check ends only once the fold has read the log: it must be running beside it.
        assert reading.wait(timeout=60), "the fold did not read while the check ran"
        steps.append(f"check in {threading.current_thread().name}")
        return check(tx, path, deep=deep)

    def reads(*args: Any, **kwargs: Any) -> Any:
        for chunk in read_log(*args, **kwargs):
            if not steps or steps[-1] != "read":
                steps.append("read")
            reading.set()
            yield chunk

    make_tables = rebuild.make_tables

    def created(tx: Any, specs: Any) -> None:
        steps.append("write")  # the first write makes the new tables
        make_tables(tx, specs)

    monkeypatch.setattr(sqlite_storage, "check_sqlite_file", checked)
    monkeypatch.setattr(rebuild, "read_log", reads)
    monkeypatch.setattr(views_storage, "make_tables", created)
    with opened(url) as ledger:
        # When every view is rebuilt in one process
        ledger.upkeep.rebuild()
        # Then the check ran in its own thread while the fold read, and nothing was written
        # before its verdict; the rows are the same
        assert steps[:2] == ["read", "check in orderledger-check"]
        assert steps.index("write") > 1
        assert view_rows(ledger) == expected
    assert not [t for t in threading.enumerate() if t.name == "orderledger-check"]


def test_a_check_ahead_that_finds_damage_fails_the_first_write_and_close_stops_one_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a SQLite file whose check finds a problem
    path = _plain_file(tmp_path, rows=2_000)
    monkeypatch.setattr(
        sqlite_storage,
        "check_sqlite_file",
        _raising(DatabaseCorruptError("database is corrupt: found by the test")),
    )
    db = open_database(f"sqlite:///{path}")
    db.check_ahead()
    try:
        # When the process first writes: the check's verdict is raised, nothing is written
        with pytest.raises(DatabaseCorruptError, match="found by the test"), db.write() as tx:
            tx.execute("DELETE FROM t")
        with db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM t")[0] == 2_000
    finally:
        db.close()
    # And closing a database whose check is still running stops that check
    monkeypatch.undo()
    again = open_database(f"sqlite:///{path}")
    again.check_ahead()
    again.close()
    assert not [t for t in threading.enumerate() if t.name == "orderledger-check"]


def test_a_partitioned_rebuild_writes_nothing_until_the_file_has_passed_its_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a SQLite ledger opened by a new process, whose file's check finds damage
    url, expected = _ledger_file(tmp_path, seed=36)
    monkeypatch.setattr(
        sqlite_storage,
        "check_sqlite_file",
        _raising(DatabaseCorruptError("database is corrupt: found by the test")),
    )
    with opened(url) as ledger:
        # When every view is rebuilt by two processes (they fold while this one checks)
        with pytest.raises(DatabaseCorruptError, match="found by the test"):
            ledger.views.rebuild(VIEW_NAMES, jobs=2)
        # Then the damage is raised, and neither process made its tables: nothing was written
        with ledger.db.read() as tx:
            left = tx.all("SELECT name FROM sqlite_master WHERE name LIKE '%__rebuild'")
        assert left == []
        assert view_rows(ledger) == expected
    # And once the file passes, the same rebuild gives the same rows
    monkeypatch.undo()
    with opened(url) as ledger:
        ledger.views.rebuild(VIEW_NAMES, jobs=2)
        assert view_rows(ledger) == expected


def test_dropping_a_table_does_not_write_its_pages_out_again(tmp_path: Path) -> None:
    # Given a table of ~150 pages, all in the main file (closing it emptied the write-ahead log)
    path = _plain_file(tmp_path, rows=2_000)
    db = open_database(f"sqlite:///{path}")
    try:
        with db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM dbstat WHERE name = 't'")[0] > 140
        # When it is dropped, as a rebuild's swap drops the old views
        with db.write() as tx:
            tx.execute("DROP TABLE t")
        # Then its pages go to the free list without each being zeroed and written to the log
        # (SQLite's secure_delete, on in Debian's build, would write every one of them)
        frames = (path.with_name(path.name + "-wal").stat().st_size - 32) // (4096 + 24)
        assert frames < 10, frames
    finally:
        db.close()


def _plain_file(tmp_path: Path, *, rows: int) -> Path:
    """A SQLite file (not a ledger) with one table ``t`` of ``rows`` rows, not known sound (the
    next opener checks it before writing)."""
    path = tmp_path / "plain.db"
    with contextlib.closing(open_database(f"sqlite:///{path}")) as db, db.write() as tx:
        tx.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)")
        tx.executemany("INSERT INTO t VALUES (?, ?)", [(i, "y" * 300) for i in range(rows)])
    Path(f"{path}{early_check.SOUND_SUFFIX}").unlink()
    return path


def _raising(error: Exception) -> Any:
    def check(tx: Any, path: str, *, deep: bool = False) -> str:
        raise error

    return check


def test_a_check_ahead_that_could_not_read_the_file_is_made_again_by_the_first_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a sound file whose check ahead fails for a reason other than damage (busy)
    path = _plain_file(tmp_path, rows=0)
    calls: list[str] = []
    check = sqlite_storage.check_sqlite_file

    def flaky(tx: Any, where: str, *, deep: bool = False) -> str:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return check(tx, where, deep=deep)

    monkeypatch.setattr(sqlite_storage, "check_sqlite_file", flaky)
    db = open_database(f"sqlite:///{path}")
    try:
        db.check_ahead()
        # When the process first writes: it checks the file itself, then writes
        with db.write() as tx:
            tx.execute("INSERT INTO t VALUES (1, 'y')")
        with db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM t")[0] == 1
    finally:
        db.close()
    assert calls == ["orderledger-check", threading.current_thread().name]


def _tables(ledger: Any) -> dict[str, int]:
    """Each table's root page: a table copied into keeps its own, a table renamed over it brings
    the rebuilt table's."""
    with ledger.views.db.read() as tx:
        return {
            str(r[0]): int(r[1])
            for r in tx.all("SELECT name, rootpage FROM sqlite_schema WHERE type = 'table'")
        }


def _shape(ledger: Any, table: str) -> list[str]:
    with ledger.views.db.read() as tx:
        rows = tx.all("SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND sql IS NOT NULL", (table,))
    return sorted(str(r[0])[str(r[0]).index("(") :] for r in rows)


def test_a_small_rebuilt_view_is_copied_into_its_table_and_a_large_one_renamed_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a ledger of 30 orders (one position per account and instrument: a handful of rows)
    monkeypatch.setattr(rebuild, "COPIED_BELOW", 20)
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(lines(*simulate(31, 30)))
        before = _tables(ledger)
        with ledger.views.db.read() as tx:
            positions = int(tx.one("SELECT COUNT(*) FROM positions_view")[0])
        assert 0 < positions < 20
        # When every view is rebuilt
        ledger.views.rebuild(VIEW_NAMES)
        after = _tables(ledger)
        # Then the positions' rows were copied into their table, the orders' table replaced
        assert after["positions_view"] == before["positions_view"]
        assert after["orders_view"] != before["orders_view"]
        assert not [name for name in after if name.endswith(rebuild.SUFFIX)]
        assert view_rows(ledger) == folded_rows(ledger)
        # And a second rebuild copies again into the same table, with the same rows
        ledger.views.rebuild(VIEW_NAMES)
        assert _tables(ledger)["positions_view"] == before["positions_view"]
        assert view_rows(ledger) == folded_rows(ledger)


@pytest.mark.parametrize(
    "change",
    ["ALTER TABLE positions_view ADD COLUMN extra TEXT", "CREATE INDEX ix_extra ON positions_view (fees)"],
)
def test_a_view_table_shaped_otherwise_is_replaced_however_few_its_rows(tmp_path: Path, change: str) -> None:
    # Given a small view's table whose columns or indexes are not those its fold makes
    with opened(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(lines(*simulate(31, 30)))
        made = _shape(ledger, "positions_view")
        with ledger.views.db.write() as tx:
            tx.execute(change)
        assert _shape(ledger, "positions_view") != made
        before = _tables(ledger)["positions_view"]
        # When it is rebuilt
        ledger.views.rebuild(VIEW_NAMES)
        # Then it is replaced by a table of the fold's shape (a copy would have kept the change)
        assert _tables(ledger)["positions_view"] != before
        assert _shape(ledger, "positions_view") == made
        assert view_rows(ledger) == folded_rows(ledger)
