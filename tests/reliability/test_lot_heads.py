"""The heads kept for the lot rules (``storage.lot_heads``): ``lots`` and ``positions
--cost-basis`` read each book's stored position and open lots and fold only the fills recorded
since, yet answer exactly what a fold of the whole log gives, whatever arrived in between: fills
later or earlier in venue time than their book's latest, busts, corrections, definitions, fees in
another currency, and reads between any two messages (issue 46, item 2). The daily P&L by account
reads the days kept with the heads (under average as well) and answers what its fold gives; by
parent or tag, the days of each group's own books' heads, whose fills move when an order learns its
parent after they were folded; ``lots --closed`` reads the closed lots kept beside the heads
(``closed_lots``) and answers the fold's rows, in its order."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import order_figures
from orderledger.infrastructure.application.reads.daily_pnl import daily_pnl_rows
from orderledger.infrastructure.application.reads.view_queries import (
    cash_flows_by,
    grouped_pnl,
    order_parents,
    position_rows,
    recorded_rates,
)
from orderledger.infrastructure.results.pnl import DailyPnlRow, PnlRow
from orderledger.infrastructure.results.positions import LotRow, PositionRow
from orderledger.infrastructure.storage import lot_heads
from orderledger.projections import lots as lots_module
from orderledger.projections.lots import Fill, cost_basis_named
from tests.support.integration import fact, fill, lines, request, separate_database, ts
from tests.support.lot_heads import (
    BOOKS,
    DAY,
    DEFINITION,
    LATE,
    SESSION,
    Drawn,
    changes,
    drawn_session,
    funding,
    marks,
    orders,
    watched,
)
from tests.support.parent_linkage import SESSION as SESSION_BY_PARENT

RULES = ("fifo", "lifo", "hifo")
GROUPINGS = ("parent", "tag:strategy")
Answer = tuple[
    list[LotRow],
    list[PositionRow],
    list[DailyPnlRow],
    list[DailyPnlRow],
    list[list[PnlRow]],
    list[Any],
    list[LotRow],
]


def folded(ledger: OrderLedger, rule: str) -> Answer:
    """Open lots and positions under ``rule``, the daily P&L by account under it and under
    average, by parent and tag under both, and the closed lots, from a fold of the whole log (no
    stored head)."""
    books = order_figures.rule_books(ledger, rule, None, False)
    lots = [LotRow.of_open(rule, lot) for b in books.values() for lot in b.open]
    closed = [LotRow.of_closed(rule, lot) for b in books.values() for lot in b.closed]
    paid = [(key, f) for key, b in books.items() for f in b.fills]
    positions = position_rows(ledger.db, [b.position for b in books.values()], {}, paid=paid)
    daily = daily_pnl_rows(ledger.db, "account", rule)
    fills = [f for b in books.values() for f in b.fills]
    rates = recorded_rates(ledger.db, fills)
    grouped = [
        grouped_pnl(
            by,
            ((_group(f, by), f.realized, f.fee, f.fee_currency, f.pnl_currency, 1, f) for f in fills),
            cash_flows_by(ledger.db, by),
            rates,
        )
        for by in order_figures.BOOK_GROUPS
    ]
    by_group = [
        *(daily_pnl_rows(ledger.db, by, basis) for by in GROUPINGS for basis in (rule, "average")),
        *grouped_by_fill(ledger, rule),
        *grouped_by_fill(ledger, "average"),
    ]
    average = daily_pnl_rows(ledger.db, "account", "average")
    return lots, positions, daily, average, grouped, by_group, closed


def grouped_by_fill(ledger: OrderLedger, rule: str) -> list[list[PnlRow]]:
    """``pnl`` by parent and by tag under ``rule`` as it was read before the heads kept it: the
    log's fills folded in their account books (``reads.rule_books``), each fill's P&L counted
    for its order's parent (as the orders view has it) or its tag."""
    fills = [f for b in order_figures.rule_books(ledger, rule, None, False).values() for f in b.fills]
    parents = order_parents(ledger.db)
    rates = recorded_rates(ledger.db, fills)
    return [
        grouped_pnl(
            by,
            ((_of(f, by, parents), f.realized, f.fee, f.fee_currency, f.pnl_currency, 1, f) for f in fills),
            cash_flows_by(ledger.db, by),
            rates,
        )
        for by in GROUPINGS
    ]


def _group(f: Fill, by: str) -> str:
    return f.ts_event.date().isoformat() if by == "day" else str(getattr(f, by))


def _of(f: Fill, by: str, parents: dict[str, str | None]) -> str | None:
    return f.tags.get(by[4:]) if by.startswith("tag:") else parents.get(f.client_order_id)


def read(ledger: OrderLedger, rule: str, closed_first: bool = False) -> Answer:
    """What ``folded`` gives, read as the ledger answers it: the closed lots last (the heads
    brought up by the reads before them) or (``closed_first``) first."""
    closed = list(ledger.analytics.lots(cost_basis=rule, closed=True)) if closed_first else []
    lots, positions = list(ledger.analytics.lots(cost_basis=rule)), list(ledger.positions(cost_basis=rule))
    daily = ledger.analytics.pnl_daily(cost_basis=rule), ledger.analytics.pnl_daily(cost_basis="average")
    grouped = [ledger.pnl(by=by, cost_basis=rule) for by in order_figures.BOOK_GROUPS]
    by_group = [
        *(
            ledger.analytics.pnl_daily(by=by, cost_basis=basis)
            for by in GROUPINGS
            for basis in (rule, "average")
        ),
        *(ledger.pnl(by=by, cost_basis=basis) for basis in (rule, "average") for by in GROUPINGS),
    ]
    if not closed_first:
        closed = list(ledger.analytics.lots(cost_basis=rule, closed=True))
    return lots, positions, *daily, grouped, by_group, closed


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RULES),
    orders,
    changes,
    st.booleans(),
    marks,
    funding,
    st.data(),
)
def test_stored_heads_answer_what_a_fold_of_the_log_answers_after_every_message(
    rule: str,
    orders: list[Drawn],
    changes: list[tuple[int, str, int]],
    defined: bool,
    prices: list[tuple[str, int, int]],
    flows: list[tuple[str, int, int, str | None]],
    data: st.DataObject,
) -> None:
    messages = drawn_session(BOOKS, orders, changes, flows)
    if defined:
        messages.append({**DEFINITION, "ts": ts(2)})
    for instrument, day, price in prices:
        messages.append(
            {"type": "mark", "venue": "V", "instrument": instrument, "source": "x", "price": str(price),
             "ts": ts(day * DAY + 3)}
        )  # fmt: skip
    arrival = data.draw(st.permutations(messages), label="arrival order")
    reads_after = data.draw(  # none, or a read with the closed lots read last or first
        st.lists(st.sampled_from([None, False, True]), min_size=len(arrival), max_size=len(arrival)),
        label="reads",
    )
    with OrderLedger("memory://") as ledger:
        for message, then_read in zip(arrival, reads_after, strict=True):
            ledger.record(message)
            if then_read is not None:
                assert read(ledger, rule, closed_first=then_read) == folded(ledger, rule)
        assert read(ledger, rule, closed_first=True) == folded(ledger, rule)
        # And once more from what is stored alone: nothing new to fold, the heads as decoded.
        with ledger.db.read() as tx:
            for grouping in ("account", *GROUPINGS):
                assert lot_heads.seen(tx, cost_basis_named(rule), grouping) > 0 or not any(
                    m["type"] == "fill" for m in messages
                )
        assert read(ledger, rule) == folded(ledger, rule)
        report = ledger.audit.verify()  # every grouping's heads, against the fold's
        assert report.ok, report.view_problems


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RULES),
    st.lists(
        st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from([1, 1, 2])), min_size=2, max_size=10
    ),
    st.sampled_from([256, 2, 3]),
    st.data(),
)
def test_a_fill_earlier_than_its_books_latest_folds_again_from_a_mark(
    rule: str, drawn: list[tuple[str, int]], every: int, data: st.DataObject
) -> None:
    # One book whose fills of 1 or 2 often leave it flat (a mark), and (``every``) with a mark
    # after every few fills as well, each fill at its own price and second, arriving in any
    # order after every request, with a read after each.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lots_module, "MARK_EVERY", every)
        _late_fills(rule, drawn, data)


def _late_fills(rule: str, drawn: list[tuple[str, int]], data: st.DataObject) -> None:
    requests = [
        request(f"o{n}", side=side, quantity=str(qty), seconds=n) for n, (side, qty) in enumerate(drawn)
    ]
    fills = [
        fill(f"o{n}", f"t{n}", str(qty), str(100 + 3 * n), seconds=n) for n, (_, qty) in enumerate(drawn)
    ]
    with OrderLedger("memory://") as ledger:
        for message in requests:
            ledger.record(message)
        for message in data.draw(st.permutations(fills), label="arrival order"):
            assert ledger.record(message).error is None
            closed_first = data.draw(st.booleans(), label="closed lots read first")
            assert read(ledger, rule, closed_first) == folded(ledger, rule)
        report = ledger.audit.verify()  # the marks kept, each against the fold's at its place
        assert report.ok, report.view_problems


def _stored(ledger: OrderLedger, rule: str, grouping: str = "account") -> tuple[int, int]:
    with ledger.db.read() as tx:
        (seen,) = tx.one("SELECT seen FROM lot_heads_index WHERE rule = ? AND grouping = ?", (rule, grouping))
        (rows,) = tx.one("SELECT COUNT(*) FROM lot_heads WHERE rule = ? AND grouping = ?", (rule, grouping))
    return int(seen), int(rows)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_ledger_keeps_its_heads_and_folds_only_what_came_after(backend: str, tmp_path: Path) -> None:
    with separate_database(backend, tmp_path, "lot_heads") as url:
        with OrderLedger(url) as ledger:
            ledger.ingest_lines(SESSION)
            # FIFO: the sell of 2 @ 130 closes the 2 @ 100, leaving 1 @ 120 open.
            (lot,) = ledger.analytics.lots(cost_basis="fifo")
            assert (lot.quantity, lot.open_price, lot.open_trade_id) == (1, 120, "t2")
            seen, rows = _stored(ledger, "fifo")
            assert seen == ledger.log_position() and rows == 1
        with OrderLedger(url) as ledger:
            ledger.ingest_lines(LATE)
            # The log now holds, in venue time: buy 1 @ 120 (t2), buy 1 @ 90 (t4), sell 2 @ 130
            # (t3), t1 busted. FIFO closes t2 and t4: nothing open, realized (130−120) + (130−90).
            assert list(ledger.analytics.lots(cost_basis="fifo")) == []
            (position,) = ledger.positions(cost_basis="fifo")
            assert (position.quantity, position.realized_pnl) == (0, 50)
            assert read(ledger, "fifo") == folded(ledger, "fifo")
            assert _stored(ledger, "fifo") == (ledger.log_position(), 1)


def test_heads_of_another_version_or_beyond_the_log_are_folded_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(SESSION)
        expected = read(ledger, "lifo")
        # LIFO: the sell closes 1 @ 120 and 1 of the 2 @ 100, leaving 1 @ 100 open.
        (lot,) = expected[0]
        assert (lot.quantity, lot.open_price) == (1, 100)
    with sqlite3.connect(tmp_path / "ledger.db") as plain:
        plain.execute("UPDATE lot_heads SET head = '{}'")  # unreadable if it were read
        plain.execute("UPDATE lot_heads_index SET version = version + 1")
    with OrderLedger(url) as ledger:
        assert read(ledger, "lifo") == expected
    with sqlite3.connect(tmp_path / "ledger.db") as plain:
        plain.execute("UPDATE lot_heads SET head = '{}'")
        plain.execute("UPDATE lot_heads_index SET seen = 1000000")
    with OrderLedger(url) as ledger:
        assert read(ledger, "lifo") == expected


def test_tables_of_an_earlier_release_are_replaced_when_the_heads_are_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(SESSION)
        expected = folded(ledger, "fifo")
    # Given the tables as the release before groupings made them (no grouping, no group)
    with sqlite3.connect(tmp_path / "ledger.db") as plain:
        plain.execute("DROP TABLE IF EXISTS lot_heads")
        plain.execute("DROP TABLE IF EXISTS lot_heads_index")
        plain.execute(
            "CREATE TABLE lot_heads (rule TEXT NOT NULL, account TEXT NOT NULL, venue TEXT NOT NULL,"
            " instrument TEXT NOT NULL, head TEXT NOT NULL, marks TEXT NOT NULL,"
            " PRIMARY KEY (rule, account, venue, instrument))"
        )
        plain.execute(
            "CREATE TABLE lot_heads_index (rule TEXT PRIMARY KEY, seen BIGINT NOT NULL,"
            " version INTEGER NOT NULL)"
        )
        plain.execute("INSERT INTO lot_heads VALUES ('fifo', 'acc', 'V', 'ETH-USDT', '{}', '[]')")
        plain.execute("INSERT INTO lot_heads_index VALUES ('fifo', 6, 2)")
    # Then a read answers from a fold and stores its heads in the tables as they are now
    with OrderLedger(url) as ledger:
        assert read(ledger, "fifo") == expected
        assert _stored(ledger, "fifo") == (ledger.log_position(), 1)
        assert _stored(ledger, "fifo", "tag:strategy")[0] == ledger.log_position()
        assert read(ledger, "fifo") == expected


def test_a_read_only_ledger_answers_from_a_fold_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        expected = folded(ledger, "hifo")
    with OrderLedger(f"sqlite:///{path}?mode=ro") as ledger:
        assert read(ledger, "hifo") == expected
    with sqlite3.connect(path) as plain:
        assert plain.execute("SELECT name FROM sqlite_schema WHERE name = 'lot_heads'").fetchall() == []


def test_verify_compares_the_stored_heads_with_a_fold_of_the_log(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        ledger.analytics.lots(cost_basis="fifo")
        ledger.analytics.lots(cost_basis="hifo")
        assert ledger.audit.verify().ok
    # Given the FIFO head changed in the table: its one open lot, 1 @ 120, and so its cost, to 100
    with sqlite3.connect(path) as plain:
        (text,) = plain.execute("SELECT head FROM lot_heads WHERE rule = 'fifo'").fetchone()
        assert text.count('"120"') >= 1
        plain.execute("UPDATE lot_heads SET head = ? WHERE rule = 'fifo'", (text.replace('"120"', '"100"'),))
    with OrderLedger(f"sqlite:///{path}") as ledger:
        report = ledger.audit.verify()
        assert not report.ok
        (problem,) = report.view_problems
        assert problem == (
            "lot heads fifo: book acc/V/ETH-USDT has cost Decimal('100'), the log folds to Decimal('120')"
        )


def test_verify_compares_the_days_kept_for_the_daily_pnl_with_a_fold_of_the_log(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        # Average: 2 @ 100 and 1 @ 120 cost 320; the sell of 2 @ 130 realizes 260 − 2 × 320/3.
        (day,) = ledger.analytics.pnl_daily()
        assert (
            round(day.realized_pnl, 4)
            == round(Decimal(260) - Decimal(640) / Decimal(3), 4)
            == Decimal("46.6667")
        )
        assert ledger.audit.verify().ok
    # Given the day's realized P&L changed in the average head's stored days
    with sqlite3.connect(path) as plain:
        (text,) = plain.execute("SELECT head FROM lot_heads WHERE rule = 'average'").fetchone()
        stored = json.loads(text)
        stored["days"][0][1]["USDT"] = "1"
        plain.execute("UPDATE lot_heads SET head = ? WHERE rule = 'average'", (json.dumps(stored),))
    with OrderLedger(f"sqlite:///{path}") as ledger:
        report = ledger.audit.verify()
        assert not report.ok
        (problem,) = report.view_problems
        when = ts(0)[:10]
        book = "lot heads average: book acc/V/ETH-USDT"
        assert problem == f"{book} has other figures for day {when} than the log folds to"


def test_a_rebuild_of_every_view_folds_the_heads_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        expected = read(ledger, "fifo")
        assert _stored(ledger, "fifo")[1] == 1
        ledger.upkeep.rebuild(["orders"])  # one view: the heads stay
        assert _stored(ledger, "fifo")[1] == 1
        assert len(_closed_rows(ledger, "fifo")) == 1
        ledger.upkeep.rebuild()
        with ledger.db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM lot_heads_index")[0] == 0
        assert _closed_rows(ledger, "fifo") == []
        assert read(ledger, "fifo") == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_late_fill_and_a_bust_fold_the_book_again_from_its_flat_moment(
    backend: str, tmp_path: Path
) -> None:
    # Given a book bought 1 @ 100, sold 1 @ 110 (flat: realized 10), bought 1 @ 104, read
    first = lines(
        request("k1", quantity="1", seconds=0),
        fill("k1", "u1", "1", "100", seconds=0),
        request("k2", side="sell", quantity="1", seconds=1),
        fill("k2", "u2", "1", "110", seconds=1),
        request("k3", quantity="1", seconds=3),
        fill("k3", "u3", "1", "104", seconds=3),
    )
    # When a buy of 2 @ 90 filled at second 2 arrives, then the bust of the fill at second 3
    then = lines(
        request("k4", quantity="2", seconds=2),
        fill("k4", "u4", "2", "90", seconds=2),
        fact("fill_busted", "k3", seconds=5, trade_id="u3"),
    )
    with separate_database(backend, tmp_path, "late_fill") as url, OrderLedger(url) as ledger:
        ledger.ingest_lines(first)
        (lot,) = ledger.analytics.lots(cost_basis="lifo")
        assert (lot.quantity, lot.open_price) == (1, 104)
        ledger.ingest_lines(then)
        # Then the book holds 2 @ 90 (one lot) and has realized 10 before it: nothing else.
        (lot,) = ledger.analytics.lots(cost_basis="lifo")
        assert (lot.quantity, lot.open_price, lot.open_trade_id) == (2, 90, "u4")
        (position,) = ledger.positions(cost_basis="lifo")
        assert (position.quantity, position.realized_pnl) == (2, 10)
        assert read(ledger, "lifo") == folded(ledger, "lifo")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_daily_pnl_by_parent_moves_an_orders_fills_to_the_parent_it_learns(
    backend: str, tmp_path: Path
) -> None:
    # Given the parent-linkage session (tests/support/parent_linkage.py) before E learns its
    # parent, BTC-USDT marked at 105, read by parent under each rule: each parent's fills are a
    # book of their own, P2's sell of 6 @ 95 a short, E's buy of 1 @ 100 with D's under (none)
    *first, learned = SESSION_BY_PARENT
    mark = {
        "type": "mark",
        "venue": "V",
        "instrument": "BTC-USDT",
        "source": "x",
        "price": "105",
        "ts": ts(20),
    }
    with separate_database(backend, tmp_path, "parent_heads") as url, OrderLedger(url) as ledger:
        ledger.ingest_lines([*first, json.dumps(mark)])
        for rule in ("average", *RULES):
            assert ledger.analytics.pnl_daily(by="parent", cost_basis=rule) == daily_pnl_rows(
                ledger.db, "parent", rule
            )
        assert _held(ledger) == (35, 0, -60)
        assert _stored(ledger, "fifo", "parent") == (ledger.log_position() - 1, 3)  # (the mark after)
        # When E's request arrives again, naming P2
        ledger.ingest_lines([learned])
        # Then E's fill closes 1 of P2's short at 100: realized −5, short 5 (−50 at 105), and
        # (none) holds D's 2 @ 90 alone (30), under every rule, from the heads folded again
        for rule in ("average", *RULES):
            assert ledger.analytics.pnl_daily(by="parent", cost_basis=rule) == daily_pnl_rows(
                ledger.db, "parent", rule
            )
            assert _stored(ledger, rule, "parent") == (ledger.log_position(), 3)
        assert _held(ledger) == (30, -5, -50)
        report = ledger.audit.verify()
        assert report.ok, report.view_problems


def _held(ledger: OrderLedger) -> tuple[Any, ...]:
    """(none)'s unrealized P&L, and P2's realized and unrealized (average)."""
    rows = {r.group: r for r in ledger.analytics.pnl_daily(by="parent")}
    return rows["(none)"].unrealized_pnl, rows["P2"].realized_pnl, rows["P2"].unrealized_pnl


# ---------------------------------------------------------------------- closed lots


def _closed_rows(ledger: OrderLedger, rule: str) -> list[tuple[int, str]]:
    """The closed lots stored for ``rule``: each row's number and its text."""
    with ledger.db.read() as tx:
        found = tx.all("SELECT n, lot FROM closed_lots WHERE rule = ? ORDER BY n", (rule,))
    return [(int(n), str(text)) for n, text in found]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_closed_lots_are_kept_with_the_heads_and_a_second_read_folds_no_fill(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with separate_database(backend, tmp_path, "closed_lots") as url:
        with OrderLedger(url) as ledger:
            ledger.ingest_lines(SESSION)
            # FIFO: the sell of 2 @ 130 (t3) closes the 2 @ 100 (t1): one closed lot, realized 60.
            (lot,) = ledger.analytics.lots(cost_basis="fifo", closed=True)
            assert (lot.quantity, lot.open_trade_id, lot.close_trade_id, lot.realized_pnl) == (
                2,
                "t1",
                "t3",
                60,
            )
            assert [n for n, _ in _closed_rows(ledger, "fifo")] == [0]
            assert _stored(ledger, "fifo", "closed") == (ledger.log_position(), 1)
            expected = folded(ledger, "fifo")[-1]
        with monkeypatch.context() as patch, OrderLedger(url) as ledger:
            read_events = watched(patch)
            # Then a second read, in another process, reads the rows: no fill event, no fold.
            assert list(ledger.analytics.lots(cost_basis="fifo", closed=True)) == expected
            assert read_events == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_book_extended_then_folded_again_in_one_read_keeps_the_closed_lots_before_its_mark(
    backend: str, tmp_path: Path
) -> None:
    # Given a book that bought 1 @ 100, read (a head with no closed lot stored)
    first = lines(request("k1", quantity="1", seconds=0), fill("k1", "u1", "1", "100", seconds=0))
    # When, before the next read, a sell of 1 @ 110 closes it (flat: a mark, 1 closed lot made),
    # a buy at second 3 extends the book, and a buy filled at second 2 lands before that one
    then = lines(
        request("k2", side="sell", quantity="1", seconds=1),
        fill("k2", "u2", "1", "110", seconds=1),
        request("k3", quantity="1", seconds=3),
        fill("k3", "u3", "1", "104", seconds=3),
        request("k4", side="sell", quantity="1", seconds=2),
        fill("k4", "u4", "1", "90", seconds=2),
        request("k5", side="sell", quantity="2", seconds=4),
        fill("k5", "u5", "2", "120", seconds=4),
    )
    with separate_database(backend, tmp_path, "closed_refold") as url, OrderLedger(url) as ledger:
        ledger.ingest_lines(first)
        assert list(ledger.analytics.lots(cost_basis="fifo", closed=True)) == []
        ledger.ingest_lines(then)
        # Then the book folded again from its mark keeps the lot the extension closed before it:
        # u1 closed by u2, then (short 1 @ 90 from u4) u3 closes it, then u5 opens a short.
        rows = list(ledger.analytics.lots(cost_basis="fifo", closed=True))
        assert [(r.open_trade_id, r.close_trade_id) for r in rows] == [("u1", "u2"), ("u4", "u3")]
        assert rows == folded(ledger, "fifo")[-1]
        assert [n for n, _ in _closed_rows(ledger, "fifo")] == [0, 1]
        assert ledger.audit.verify().ok


@pytest.mark.parametrize("every", [256, 2])
def test_a_correction_of_an_opening_fill_makes_its_closed_lots_again(
    every: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a book flat after a first round (a mark), then 2 bought @ 100 (t1) and 1 @ 120 (t2),
    # and 1 sold @ 130 (t3): FIFO closes 1 of t1's; with ``every`` 2, a mark holds t1's lot too
    monkeypatch.setattr(lots_module, "MARK_EVERY", every)
    session = lines(
        request("r0", quantity="1", seconds=0),
        fill("r0", "t0", "1", "90", seconds=0),
        request("r1", side="sell", quantity="1", seconds=1),
        fill("r1", "tr", "1", "95", seconds=1),
        request("b1", quantity="2", seconds=2),
        fill("b1", "t1", "2", "100", seconds=2, fee="0.1", fee_currency="USDT"),
        request("b2", quantity="1", seconds=3),
        fill("b2", "t2", "1", "120", seconds=3),
        request("s1", side="sell", quantity="1", seconds=4),
        fill("s1", "t3", "1", "130", seconds=4),
    )
    with OrderLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.ingest_lines(session)
        before = list(ledger.analytics.lots(cost_basis="fifo", closed=True))
        assert [(r.open_trade_id, r.open_price, r.realized_pnl) for r in before] == [
            ("t0", 90, 5),
            ("t1", 100, 30),
        ]
        assert before[1].fees == {"USDT": Decimal("0.05")}
        # When t1 (an opening fill) is corrected to 2 @ 98 and its fee to 0.2
        correction = fact(
            "fill_corrected",
            "b1",
            seconds=9,
            trade_id="t1",
            quantity="2",
            price="98",
            fee="0.2",
        )
        assert ledger.ingest_lines(lines(correction)).rejected == []
        # Then its closed lot is made again from the fill as corrected; the first round's stays
        after = list(ledger.analytics.lots(cost_basis="fifo", closed=True))
        assert [(r.open_trade_id, r.open_price, r.realized_pnl) for r in after] == [
            ("t0", 90, 5),
            ("t1", 98, 32),
        ]
        assert after[1].fees == {"USDT": Decimal("0.1")}
        assert after == folded(ledger, "fifo")[-1]
        assert read(ledger, "fifo") == folded(ledger, "fifo")
        assert ledger.audit.verify().ok


def test_a_store_without_closed_lots_is_folded_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        expected = read(ledger, "lifo")
    # Given heads of the version before closed lots were kept, or the closed lots' table dropped
    for damage in ("UPDATE lot_heads_index SET version = 2", ""):
        with sqlite3.connect(path) as plain:
            plain.execute("DROP TABLE closed_lots")
            if damage:
                plain.execute(damage)
        with OrderLedger(f"sqlite:///{path}") as ledger:
            assert read(ledger, "lifo", closed_first=True) == expected
            assert len(_closed_rows(ledger, "lifo")) == 2


def test_a_read_only_ledger_answers_from_its_stored_closed_lots_and_what_came_since(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        ledger.analytics.lots(cost_basis="fifo", closed=True)
        stored = _stored(ledger, "fifo", "closed"), _closed_rows(ledger, "fifo")
        ledger.ingest_lines(LATE)  # (a bust and a fill before the sell: the book folded again)
        expected = folded(ledger, "fifo")
    with OrderLedger(f"sqlite:///{path}?mode=ro") as ledger:
        assert read(ledger, "fifo", closed_first=True) == expected
        assert (_stored(ledger, "fifo", "closed"), _closed_rows(ledger, "fifo")) == stored


def test_verify_compares_the_closed_lots_kept_with_a_fold_of_the_log(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        ledger.analytics.lots(cost_basis="fifo", closed=True)
        assert ledger.audit.verify().ok
    book = "lot heads fifo with closed lots: book acc/V/ETH-USDT"
    # Given the closed lot's closing price changed in its row, then the row deleted
    with sqlite3.connect(path) as plain:
        (text,) = plain.execute("SELECT lot FROM closed_lots WHERE rule = 'fifo'").fetchone()
        assert text.count('"130"') == 1
        plain.execute("UPDATE closed_lots SET lot = ? WHERE rule = 'fifo'", (text.replace('"130"', '"131"'),))
    with OrderLedger(f"sqlite:///{path}") as ledger:
        report = ledger.audit.verify()
        assert report.view_problems == [
            f"{book} has a closed lot 0 (closed by fill 't3') other than the log folds to"
        ]
    with sqlite3.connect(path) as plain:
        plain.execute("DELETE FROM closed_lots")
    with OrderLedger(f"sqlite:///{path}") as ledger:
        report = ledger.audit.verify()
        assert report.view_problems == [f"{book} has 0 closed lots stored, the log folds to 1"]


def test_a_ledger_never_asked_for_its_closed_lots_folds_and_stores_none(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        # Open lots, positions and the P&L under FIFO: heads kept, not one closed lot
        expected = folded(ledger, "fifo")
        assert list(ledger.analytics.lots(cost_basis="fifo")) == expected[0]
        assert list(ledger.positions(cost_basis="fifo")) == expected[1]
        assert ledger.analytics.pnl_daily(cost_basis="fifo") == expected[2]
        assert _stored(ledger, "fifo") == (ledger.log_position(), 1)
        assert _closed_rows(ledger, "fifo") == []
        # Asked for them, the account books are folded again with their closed lots, kept apart:
        # the sell of 2 @ 130 (t3) closes the 2 @ 100 (t1)
        (lot,) = ledger.analytics.lots(cost_basis="fifo", closed=True)
        assert (lot.open_trade_id, lot.close_trade_id, lot.realized_pnl) == ("t1", "t3", 60)
        assert _stored(ledger, "fifo", "closed") == (ledger.log_position(), 1)
        assert [n for n, _ in _closed_rows(ledger, "fifo")] == [0]
        ledger.ingest_lines(LATE)
        assert read(ledger, "fifo") == folded(ledger, "fifo")
        assert ledger.audit.verify().ok
