"""``pnl`` by account, venue, instrument, day, parent or tag on a ledger whose rule is average
reads the days kept with each account book's head under average (``reads._book_pnl``; by parent
or tag each day's sums per group), not every P&L entry of the views, and answers what the
entries give (``queries.pnl_rows``), whatever arrived in between: fills in any order, busts,
corrections, fees in another currency, cash flows, parents learned after their orders' fills, and
reads between any two messages (issue 46, item 2: the P&L tab's grouped P&L)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import order_figures
from orderledger.infrastructure.application.reads.view_queries import pnl_rows
from orderledger.infrastructure.storage import lot_heads
from tests.support.integration import fill, lines, request, ts
from tests.support.lot_heads import Drawn, drawn_session

BOOKS = (("a", "ETH-USDT"), ("a", "BTC-USDT"), ("b", "ETH-USDT"))
GROUPS = (*order_figures.BOOK_GROUPS, "parent", "tag:strategy")


def entries_answer(ledger: OrderLedger) -> list[Any]:
    """What the entries give, less the rows of groups where nothing stands: a group whose every
    fill was busted has entries (the fill's and its bust's), but no book holds a fill of it, so
    the heads, like a fold under any rule, give it no row."""
    return [
        [r for r in pnl_rows(ledger.db, by) if r.fills or r.realized_pnl or r.fees or r.funding]
        for by in GROUPS
    ]


def read(ledger: OrderLedger) -> list[Any]:
    return [ledger.pnl(by=by) for by in GROUPS]


order = st.tuples(
    st.sampled_from([0, 0, 1, 2]),  # the book
    st.sampled_from(["buy", "sell"]),
    st.sampled_from([1, 2, 3]),  # quantity
    st.integers(95, 105),  # price
    st.integers(0, 4),  # venue time, seconds
    st.sampled_from([None, "USDT", "BNB"]),  # the fee's currency (BNB: valued when read)
    st.sampled_from([0, 0, 1]),  # the UTC day of venue time
    st.sampled_from([None, "P1", "P2"]),  # the order's parent
    st.sampled_from([None, "mm", "arb"]),  # its tag "strategy"
    st.booleans(),  # its parent stated only by a second request: learned in any order
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(order, min_size=1, max_size=10),
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(["bust", "correct"]), st.integers(1, 3)), max_size=2
    ),
    st.lists(
        st.tuples(
            # (a flow of 0 would make a row of nothing, which ``entries_answer`` leaves out)
            st.sampled_from(["a", "b"]),
            st.integers(0, 1),
            st.sampled_from([-3, -1, 2]),
            st.sampled_from([None, "mm"]),
        ),
        max_size=2,
    ),
    st.data(),
)
def test_pnl_by_any_group_from_the_heads_answers_what_the_entries_give(
    orders: list[Drawn],
    changes: list[tuple[int, str, int]],
    flows: list[tuple[str, int, int, str | None]],
    data: st.DataObject,
) -> None:
    messages = drawn_session(BOOKS, orders, changes, flows)
    # A mark of BNB, so that a fee in BNB is valued (when it comes after the fee in venue time)
    messages.append(
        {"type": "mark", "venue": "V", "instrument": "BNB-USDT", "source": "x", "price": "300", "ts": ts(1)}
    )
    arrival = data.draw(st.permutations(messages), label="arrival order")
    reads_after = data.draw(st.lists(st.booleans(), min_size=len(arrival), max_size=len(arrival)))
    with OrderLedger("memory://") as ledger:
        for message, then_read in zip(arrival, reads_after, strict=True):
            ledger.record(message)
            if then_read:
                assert read(ledger) == entries_answer(ledger)
        assert read(ledger) == entries_answer(ledger)
        assert read(ledger) == entries_answer(ledger)  # from what is stored alone


SESSION = lines(
    request("b1", instrument="ETH-USDT", quantity="2", seconds=0),
    fill("b1", "t1", "2", "100", seconds=1),
    request("s1", instrument="ETH-USDT", side="sell", quantity="1", seconds=10),
    fill("s1", "t2", "1", "130", seconds=11),
)


def test_pnl_by_account_reads_the_average_heads_and_a_read_only_ledger_the_entries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        # A read-only connection finds no heads and may store none: it reads the entries.
        with OrderLedger(f"sqlite:///{path}?mode=ro") as reader:
            (row,) = reader.pnl(by="account")
            # Bought 2 @ 100, sold 1 @ 130: the average cost of 100 leaves 30 realized.
            assert (row.group, row.realized_pnl) == ("acc", 30)
        with sqlite3.connect(path) as plain:
            assert plain.execute("SELECT name FROM sqlite_schema WHERE name = 'lot_heads'").fetchall() == []
        (row,) = ledger.pnl(by="account")
        assert (row.group, row.realized_pnl) == ("acc", 30)
        with ledger.db.read() as tx:
            assert lot_heads.seen(tx, "average") == ledger.log_position()
        with OrderLedger(f"sqlite:///{path}?mode=ro") as reader:
            assert reader.pnl(by="account") == [row]  # now from the stored heads
