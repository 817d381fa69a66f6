"""``pnl`` by parent or tag under any rule reads the heads of the account books whose days count
each fill by its group (``in:parent``, ``in:tag:NAME``): each fill's P&L as its account's book
realized it, counted for the fill's group, which a group's own book (what the daily P&L by parent
or tag folds) does not give when several groups' fills meet in one book. A second read folds
no fill and reads no P&L entry (issue 46, item 2)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.integration import fill, lines, request, separate_database, ts
from tests.support.lot_heads import watched

# One account book (acc/V/BTC-USDT) that two strategies trade:
#   m1 (mm, parent PM)   buy  2 @ 100   second 0
#   a1 (arb, parent PA)  buy  2 @ 110   second 1
#   a2 (arb)             sell 2 @ 120   second 2, fee 1 USDT (its parent PA learned later)
#   m2 (mm, parent PM)   sell 2 @ 125   second 3
SESSION = lines(
    request("m1", quantity="2", seconds=0, tags={"strategy": "mm"}, parent_id="PM"),
    fill("m1", "t1", "2", "100", seconds=0),
    request("a1", quantity="2", seconds=1, tags={"strategy": "arb"}, parent_id="PA"),
    fill("a1", "t2", "2", "110", seconds=1),
    request("a2", side="sell", quantity="2", seconds=2, tags={"strategy": "arb"}),
    fill("a2", "t3", "2", "120", seconds=2, fee="1", fee_currency="USDT"),
    request("m2", side="sell", quantity="2", seconds=3, tags={"strategy": "mm"}, parent_id="PM"),
    fill("m2", "t4", "2", "125", seconds=3),
)
LEARNED = lines(request("a2", side="sell", quantity="2", seconds=2, parent_id="PA"))


def _rows(ledger: OrderLedger, by: str, cost_basis: str | None) -> list[tuple[Any, ...]]:
    return [
        (r.group, r.realized_pnl, r.realized_pnl_net, r.fees, r.fills)
        for r in ledger.pnl(by=by, cost_basis=cost_basis)
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_pnl_by_tag_and_parent_count_each_fill_as_its_account_book_realized_it(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with separate_database(backend, tmp_path, "pnl_group_heads") as url:
        with OrderLedger(url) as ledger:
            ledger.ingest_lines(SESSION)
            # FIFO in the account book: a2's sell of 2 @ 120 closes m1's 2 @ 100, realizing
            # 2 × (120 − 100) = 40 for arb (net of its fee of 1: 39); m2's sell of 2 @ 125 closes
            # a1's 2 @ 110, realizing 2 × (125 − 110) = 30 for mm. (Each strategy's own book
            # would give mm 2 × (125 − 100) = 50 and arb 2 × (120 − 110) = 20.)
            fifo_by_tag = [("arb", 40, 39, {"USDT": 1}, 2), ("mm", 30, 30, {}, 2)]
            assert _rows(ledger, "tag:strategy", "fifo") == fifo_by_tag
            # Average in the account book: 2 @ 100 and 2 @ 110 cost 105 each; a2's sell realizes
            # 2 × (120 − 105) = 30 for arb (net 29), m2's 2 × (125 − 105) = 40 for mm.
            average_by_tag = [("arb", 30, 29, {"USDT": 1}, 2), ("mm", 40, 40, {}, 2)]
            assert _rows(ledger, "tag:strategy", None) == average_by_tag
            # By parent, a2 has none yet: its 40 under "(none)", a1's opening buy under PA.
            before = [("(none)", 40, 39, {"USDT": 1}, 1), ("PA", 0, 0, {}, 1), ("PM", 30, 30, {}, 2)]
            assert _rows(ledger, "parent", "fifo") == before
            # a2 learns its parent PA: its fill moves there (the book folded again).
            ledger.ingest_lines(LEARNED)
            by_parent = [("PA", 40, 39, {"USDT": 1}, 2), ("PM", 30, 30, {}, 2)]
            assert _rows(ledger, "parent", "fifo") == by_parent
            assert _rows(ledger, "parent", None) == [("PA", 30, 29, {"USDT": 1}, 2), ("PM", 40, 40, {}, 2)]
            assert ledger.audit.verify().ok
        with monkeypatch.context() as patch, OrderLedger(url) as ledger:
            read_events = watched(patch)
            # Then a second read, in another process, reads the heads alone.
            assert _rows(ledger, "tag:strategy", "fifo") == fifo_by_tag
            assert _rows(ledger, "tag:strategy", None) == average_by_tag
            assert _rows(ledger, "parent", "fifo") == by_parent
            assert read_events == []


def test_verify_compares_each_days_sums_per_group_with_a_fold_of_the_log(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with OrderLedger(f"sqlite:///{path}") as ledger:
        ledger.ingest_lines(SESSION)
        assert _rows(ledger, "tag:strategy", "fifo")[0][:2] == ("arb", 40)
        assert ledger.audit.verify().ok
    # Given arb's realized P&L of the day changed in the stored head by tag
    with sqlite3.connect(path) as plain:
        (text,) = plain.execute(
            "SELECT head FROM lot_heads WHERE rule = 'fifo' AND grouping = 'in:tag:strategy'"
        ).fetchone()
        stored = json.loads(text)
        stored["days"][0][7]["arb"][0]["USDT"] = "1"
        plain.execute(
            "UPDATE lot_heads SET head = ? WHERE rule = 'fifo' AND grouping = 'in:tag:strategy'",
            (json.dumps(stored),),
        )
    with OrderLedger(f"sqlite:///{path}") as ledger:
        assert _rows(ledger, "tag:strategy", "fifo")[0][:2] == ("arb", 1)  # (what a read takes)
        report = ledger.audit.verify()
        assert not report.ok
        (problem,) = report.view_problems
        day = ts(0)[:10]
        assert problem == (
            f"lot heads fifo by in:tag:strategy: book acc/V/BTC-USDT has other figures for day {day}"
            " than the log folds to"
        )
