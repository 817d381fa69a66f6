"""The lake's P&L table: a row per fill with what it realized under the ledger's cost-basis rule,
worked by hand here, equal to ``OrderLedger.pnl``'s, read back by DuckDB and Polars, and kept
exact across runs (new fills, and a bust that restates an earlier run's rows).

The session (venue times T0 + seconds, account acc, BTC-USDT on V): A buys 2 @ 100 (fee 0.2),
B buys 1 @ 103 (fee 0.1), C sells 1.5 @ 104 (fee 0.15), a partial close; the next day D sells
1 @ 99 (fee 0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from orderledger.infrastructure.application.analytics.lake import lake_tables, read_manifest
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.columns import typed_sql, typed_value
from tests.support.integration import fact, fill, request
from tests.support.lake import DAY, contents, record

FIRST: list[dict[str, Any]] = [
    request("A", seconds=0, quantity="2", price="100", tags={"strategy": "s1"}),
    fill("A", "a1", "2", "100", seconds=1, fee="0.2", fee_currency="USDT"),
    request("B", seconds=2, quantity="1", price="103", tags={"strategy": "s1"}),
    fill("B", "b1", "1", "103", seconds=3, fee="0.1", fee_currency="USDT"),
    request("C", seconds=4, side="sell", quantity="1.5", price="104", tags={"strategy": "s2"}),
    fill("C", "c1", "1.5", "104", seconds=5, fee="0.15", fee_currency="USDT"),
]
SECOND: list[dict[str, Any]] = [
    request("D", seconds=DAY, side="sell", quantity="1", price="99", tags={"strategy": "s2"}),
    fill("D", "d1", "1", "99", seconds=DAY + 1, fee="0.1", fee_currency="USDT"),
]


def _pnl(lake: Path) -> dict[str, tuple[Any, ...]]:
    """Each fill's row: (realized, fee, side, quantity, client order ID, strategy, day, rule)."""
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT trade_id, realized_pnl, fee, side, quantity, client_order_id, tags->>'strategy',"
            f" CAST(day AS VARCHAR), cost_basis FROM read_parquet('{lake_tables(lake)['pnl']}',"
            " hive_partitioning = true)"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len({row[0] for row in rows}), rows  # a fill is never in it twice
    return {str(row[0]): tuple(row[1:]) for row in rows}


def _ledger_totals(ledger: OrderLedger) -> tuple[Decimal, Decimal]:
    (row,) = ledger.pnl(by="account")
    return row.realized_pnl, row.fees["USDT"]


def _lake_totals(lake: Path) -> tuple[Decimal, Decimal]:
    ((_, realized, fees),) = _lake_by(lake, "account").values()
    return realized, fees


def _lake_by(lake: Path, by: str) -> dict[str, tuple[str, Decimal, Decimal]]:
    """The table grouped by ``by``: group → (P&L currency, realized, fees)."""
    con = duckdb.connect()
    try:
        found = con.execute(
            f"SELECT CAST({by} AS VARCHAR), pnl_currency, sum(realized_pnl), sum(fee)"
            f" FROM read_parquet('{lake_tables(lake)['pnl']}', hive_partitioning = true) GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    return {
        str(group): (currency, Decimal(realized), Decimal(fees)) for group, currency, realized, fees in found
    }


def _ledger_by(ledger: OrderLedger, by: str) -> dict[str, tuple[str, Decimal, Decimal]]:
    return {r.group: (str(r.pnl_currency), r.realized_pnl, r.fees["USDT"]) for r in ledger.pnl(by=by)}


def test_average_cost_pnl_per_fill_over_two_runs(ledger: OrderLedger, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    record(ledger, FIRST)
    assert ledger.analytics.export_lake(lake).rows["pnl"] == 3
    # average 303 / 3 = 101; C closes 1.5 of 3: (104 - 101) × 1.5 = 4.5
    first = _pnl(lake)
    assert first["c1"] == (
        Decimal("4.5"),
        Decimal("0.15"),
        "sell",
        Decimal("1.5"),
        "C",
        "s2",
        "2026-11-20",
        "average",
    )
    assert first["a1"][:2] == (Decimal(0), Decimal("0.2"))
    assert _lake_totals(lake) == _ledger_totals(ledger) == (Decimal("4.5"), Decimal("0.45"))

    record(ledger, SECOND)
    report = ledger.analytics.export_lake(lake)
    assert report.rows["pnl"] == 4  # the three carried and D's
    # D closes 1 of the 1.5 left at 101: (99 - 101) × 1 = -2
    second = _pnl(lake)
    assert second["d1"] == (
        Decimal("-2"),
        Decimal("0.1"),
        "sell",
        Decimal("1"),
        "D",
        "s2",
        "2026-11-21",
        "average",
    )
    assert {k: v for k, v in second.items() if k != "d1"} == first
    assert _lake_totals(lake) == _ledger_totals(ledger) == (Decimal("2.5"), Decimal("0.55"))
    assert read_manifest(lake)["pnl_cost_basis"] == "average"
    # by day: 4.5 and fees 0.45 on the first, -2 and 0.1 on the second, as `pnl --by day` has it
    assert (
        _lake_by(lake, "day")
        == _ledger_by(ledger, "day")
        == {
            "2026-11-20": ("USDT", Decimal("4.5"), Decimal("0.45")),
            "2026-11-21": ("USDT", Decimal("-2"), Decimal("0.1")),
        }
    )

    # a rerun with nothing new leaves the table as it is
    assert ledger.analytics.export_lake(lake).rows["pnl"] == 0
    assert _pnl(lake) == second


def test_fifo_pnl_per_fill_and_polars(ledger: OrderLedger, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ledger.analytics.set_cost_basis("fifo")
    record(ledger, FIRST)
    ledger.analytics.export_lake(lake)
    # C closes 1.5 of A's lot at 100: (104 - 100) × 1.5 = 6
    assert _pnl(lake)["c1"][:2] == (Decimal("6"), Decimal("0.15"))
    # a run without a fill carries the rows as they are
    record(ledger, [request("E", seconds=6, quantity="1", price="90")])
    assert ledger.analytics.export_lake(lake).rows["pnl"] == 3
    assert _pnl(lake)["c1"][:2] == (Decimal("6"), Decimal("0.15"))
    record(ledger, SECOND)
    ledger.analytics.export_lake(lake)
    # D closes A's 0.5 left at 100 and 0.5 of B's at 103: -0.5 - 2 = -2.5
    rows = _pnl(lake)
    assert rows["d1"][:2] == (Decimal("-2.5"), Decimal("0.1"))
    assert rows["d1"][-1] == "fifo"
    assert _lake_totals(lake) == _ledger_totals(ledger) == (Decimal("3.5"), Decimal("0.55"))
    assert (
        _lake_by(lake, "day")
        == _ledger_by(ledger, "day")
        == {
            "2026-11-20": ("USDT", Decimal("6"), Decimal("0.45")),
            "2026-11-21": ("USDT", Decimal("-2.5"), Decimal("0.1")),
        }
    )

    frame = pl.read_parquet(lake_tables(lake)["pnl"], hive_partitioning=True)
    assert frame.schema["realized_pnl"] == pl.Decimal(38, 18)
    assert frame.schema["ts_event"] == pl.Datetime("us", "UTC")
    by_strategy = dict(
        frame.with_columns(pl.col("tags").cast(pl.String).str.json_path_match("$.strategy").alias("strategy"))
        .group_by("strategy")
        .agg(pl.col("realized_pnl").sum())
        .rows()
    )
    assert by_strategy == {"s1": Decimal(0), "s2": Decimal("3.5")}


def test_a_bust_restates_the_rows_of_an_earlier_run(ledger: OrderLedger, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    record(ledger, FIRST)
    ledger.analytics.export_lake(lake)
    record(ledger, [fact("fill_busted", "B", seconds=DAY, trade_id="b1", reason="erroneous")])
    ledger.analytics.export_lake(lake)
    rows = _pnl(lake)
    # without B, C closes 1.5 of A's 2 at 100: (104 - 100) × 1.5 = 6; B's fill has no row
    assert sorted(rows) == ["a1", "c1"]
    assert rows["c1"][0] == Decimal("6")
    assert _lake_totals(lake) == _ledger_totals(ledger) == (Decimal("6"), Decimal("0.35"))


def test_a_realized_figure_past_eighteen_places_is_rounded_half_even(
    ledger: OrderLedger, tmp_path: Path
) -> None:
    record(
        ledger,
        [
            request("A", seconds=0, quantity="3", price="101"),
            fill("A", "a1", "1", "100", seconds=1),
            fill("A", "a2", "2", "100.01", seconds=2),
            request("B", seconds=3, side="sell", quantity="1", price="101"),
            fill("B", "b1", "1", "101", seconds=4),
        ],
    )
    ledger.analytics.export_lake(tmp_path / "lake")
    # average 300.02 / 3 = 100.00666…; B realizes 101 − 100.00666… = 0.99333…, kept to 18 places
    (row,) = ledger.pnl(by="account")
    assert row.realized_pnl.quantize(Decimal("1e-18")) != row.realized_pnl
    assert (
        _pnl(tmp_path / "lake")["b1"][0]
        == Decimal("0.993333333333333333")
        == row.realized_pnl.quantize(Decimal("1e-18"))
    )


def test_the_lake_rounds_a_derived_figure_as_the_export_does() -> None:
    # half-even where half away from zero differs: a tie rounds to the even last digit
    # (to money's 18 places)
    cases = {
        "0.0000000000000000005": "0",
        "0.0000000000000000015": "0.000000000000000002",
        "-2.0000000000000000005": "-2",
        "-7.1234567890123456785": "-7.123456789012345678",
        "-7.1234567890123456775": "-7.123456789012345678",
        "7.12345678901234567750001": "7.123456789012345678",
        "0.99333333333333333333": "0.993333333333333333",
        "-3.5": "-3.5",
    }
    con = duckdb.connect()
    try:
        found = [
            con.execute(f"SELECT {typed_sql('v', 'realized_pnl')} FROM (SELECT ? AS v)", [text]).fetchone()
            for text in cases
        ]
    finally:
        con.close()
    assert [row[0] for row in found if row] == [Decimal(v) for v in cases.values()]
    assert [typed_value("realized_pnl", text) for text in cases] == [Decimal(v) for v in cases.values()]


def test_views_left_to_a_worker_are_caught_up_first(
    make_ledger: Callable[..., OrderLedger], tmp_path: Path
) -> None:
    ledger = make_ledger(project=False)  # the views are a separate `project` worker's
    record(ledger, FIRST)
    assert ledger.upkeep.views_position() == 0
    ledger.analytics.export_lake(tmp_path / "lake")
    assert _pnl(tmp_path / "lake")["c1"][0] == Decimal("4.5")


def test_a_new_rule_recomputes_every_row_on_the_next_run(ledger: OrderLedger, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ledger.analytics.set_cost_basis("fifo")
    record(ledger, FIRST)
    ledger.analytics.export_lake(lake)
    assert _pnl(lake)["c1"][0] == Decimal("6")
    ledger.analytics.set_cost_basis("average")
    record(ledger, SECOND)
    ledger.analytics.export_lake(lake)
    rows = _pnl(lake)
    # C's row from the first run is the average cost's now: 4.5, not FIFO's 6
    assert (rows["c1"][0], rows["d1"][0]) == (Decimal("4.5"), Decimal("-2"))
    assert {row[-1] for row in rows.values()} == {"average"}


def test_a_new_rule_with_nothing_new_rewrites_the_pnl_table(ledger: OrderLedger, tmp_path: Path) -> None:
    # The rule is changed and the lake exported again with no new event: the P&L rows are the
    # new rule's; the appended tables, the orders, the positions and the position stay as they are.
    lake = tmp_path / "lake"
    record(ledger, FIRST)
    ledger.analytics.export_lake(lake)
    before = contents(lake)
    assert _pnl(lake)["c1"][0] == Decimal("4.5")  # average 101: (104 - 101) × 1.5
    ledger.analytics.set_cost_basis("fifo")
    report = ledger.analytics.export_lake(lake)
    assert (report.after, report.position, report.rows["events"], report.rows["pnl"]) == (6, 6, 0, 3)
    rows = _pnl(lake)
    # FIFO: C's 1.5 close A's lot at 100: (104 - 100) × 1.5 = 6; the buys realize nothing
    assert {trade: row[0] for trade, row in rows.items()} == {
        "a1": Decimal(0),
        "b1": Decimal(0),
        "c1": Decimal(6),
    }
    assert {row[-1] for row in rows.values()} == {"fifo"}
    after = contents(lake)
    assert {t: r for t, r in after.items() if t != "pnl"} == {t: r for t, r in before.items() if t != "pnl"}
    assert (read_manifest(lake)["position"], read_manifest(lake)["pnl_cost_basis"]) == (6, "fifo")
    assert len(list(lake.glob("snapshot-*"))) == 1  # the earlier snapshot removed once committed

    # a rerun under the same rule writes nothing
    snapshot = read_manifest(lake)["snapshot"]
    assert not any(ledger.analytics.export_lake(lake).rows.values())
    assert read_manifest(lake)["snapshot"] == snapshot
    assert contents(lake) == after
