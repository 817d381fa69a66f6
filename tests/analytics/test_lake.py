"""The Parquet lake: read back as is by DuckDB and Polars with real types and exact decimals;
exported incrementally, so that two runs with ingest between them, a rerun, or a run killed
between its data files and its manifest all leave what one run over the whole log leaves.

The session is ``tests/support/lake.py``'s: X and Y on the first day, Z on the next.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.order_state import FROM_REQUEST, PLAIN, STATE
from orderledger.infrastructure.application.analytics import columnar
from orderledger.infrastructure.application.analytics.lake import (
    DECLARED,
    FORMAT,
    export_lake,
    lake_tables,
    read_manifest,
)
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.cli import assert_one_line_failure, run_cli
from tests.support.integration import T0, fact, fill, request
from tests.support.lake import FIRST, SECOND, contents, lake_rows, record


def test_duckdb_and_polars_read_the_lake_with_real_types(ledger: OrderLedger, tmp_path: Path) -> None:
    record(ledger, FIRST + SECOND)
    report = ledger.analytics.export_lake(tmp_path / "lake")
    # events: X 4 (requested, accepted, 2 filled), Y 3 (requested, filled, busted), Z 2 = 9
    assert (report.after, report.position, report.rows["events"]) == (0, 9, 9)
    # fills: x1, x2, y1 and its bust (a row taking it back), z1 = 5 rows
    assert report.rows["fills"] == 5
    tables = lake_tables(tmp_path / "lake")

    con = duckdb.connect()
    fills = con.execute(
        f"SELECT trade_id, kind, quantity, price, fee, notional, limit_price, day, venue"
        f" FROM read_parquet('{tables['fills']}', hive_partitioning = true) ORDER BY position"
    ).fetchall()
    types = dict(
        con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{tables['fills']}'))"
        ).fetchall()
    )
    con.close()
    assert (types["quantity"], types["price"], types["fee"]) == ("DECIMAL(38,12)",) * 2 + ("DECIMAL(38,18)",)
    assert (types["notional"], types["ts_event"]) == ("DECIMAL(38,24)", "TIMESTAMP WITH TIME ZONE")
    by_trade = {(row[0], row[1]): row for row in fills}
    # exact decimals: 0.5 × 100.10 = 50.05; the maker fee 0.0100; the rebate -0.002
    assert by_trade[("x1", "fill")][2:6] == (
        Decimal("0.5"),
        Decimal("100.10"),
        Decimal("0.0100"),
        Decimal("50.05"),
    )
    assert by_trade[("x2", "fill")][4] == Decimal("-0.002")
    # the bust takes y1 back: -2 at 10.5, notional -21; its order's limit 10.5 travels with it
    assert by_trade[("y1", "bust")][2:7] == (
        Decimal("-2"),
        Decimal("10.5"),
        None,
        Decimal("-21"),
        Decimal("10.5"),
    )
    # partitioned by the venue day and the venue
    assert (str(by_trade[("z1", "fill")][7]), by_trade[("z1", "fill")][8]) == ("2026-11-21", "V1")

    frame = pl.read_parquet(tables["fills"], hive_partitioning=True)
    assert frame.schema["quantity"] == pl.Decimal(38, 12)
    assert frame.schema["ts_event"] == pl.Datetime("us", "UTC")
    x1 = frame.filter(pl.col("trade_id") == "x1").row(0, named=True)
    assert (x1["quantity"], x1["fee"], x1["liquidity"]) == (Decimal("0.5"), Decimal("0.0100"), "maker")

    orders = pl.read_parquet(tables["orders"], hive_partitioning=True).sort("client_order_id")
    # X: 0.5 + 1 = 1.5 filled of 1.5; Y: 2 filled then busted = 0; Z: 0.25 of 0.25
    assert orders["filled_quantity"].to_list() == [Decimal("1.5"), Decimal("0"), Decimal("0.25")]
    assert orders["ended_as"].to_list() == ["filled", None, "filled"]
    positions = pl.read_parquet(tables["positions"]).sort("instrument")
    # BTC-USDT on V1: bought 1.5 + 0.25 = 1.75; ETH-USDT on V2: sold 2, busted: 0
    assert positions.select("instrument", "quantity").rows() == [
        ("BTC-USDT", Decimal("1.75")),
        ("ETH-USDT", Decimal("0")),
    ]


def test_two_runs_with_ingest_between_equal_one_run(make_ledger: Any, tmp_path: Path) -> None:
    ledger = make_ledger()
    record(ledger, FIRST)
    first = ledger.analytics.export_lake(tmp_path / "twice")
    assert ledger.analytics.export_lake(tmp_path / "twice").rows["events"] == 0  # a rerun adds nothing
    record(ledger, SECOND)
    second = ledger.analytics.export_lake(tmp_path / "twice")
    # the first run read positions 1–7 (X 4, Y 3); the second 8–9 (Z 2)
    assert (first.after, first.position, second.after, second.position) == (0, 7, 7, 9)
    ledger.analytics.export_lake(tmp_path / "once")
    assert contents(tmp_path / "twice") == contents(tmp_path / "once")


def test_an_encrypted_and_compressed_ledger_exports_the_same_lake(make_ledger: Any, tmp_path: Path) -> None:
    # Given the session in a ledger whose payloads are compressed and encrypted (the mapper path)
    # and in a plain one, their lakes hold the same rows.
    from eventsourcing.cryptography import AESCipher

    env = {
        "CIPHER_KEY": AESCipher.create_key(16),
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
    }
    sealed = make_ledger(env=env, clock=lambda: T0)  # one recording time for both ledgers
    record(sealed, FIRST + SECOND)
    sealed.analytics.export_lake(tmp_path / "sealed")
    with OrderLedger("memory://", clock=lambda: T0) as plain:
        record(plain, FIRST + SECOND)
        plain.analytics.export_lake(tmp_path / "plain")
    assert contents(tmp_path / "sealed") == contents(tmp_path / "plain")


def test_an_order_across_runs_and_chunks_equals_one_run(make_ledger: Any, tmp_path: Path) -> None:
    # W is requested and accepted in the first run, filled 1 of 2 and amended to 1.5 in the
    # second, filled 0.5 (complete at 1.5) and its first fill corrected in the third: its row is
    # recomputed from events of three runs, X's and Y's rows are carried from the last snapshot.
    # The one-shot lake is read one position per chunk: fifteen chunks give the same rows.
    ledger = make_ledger()
    runs = [
        [request("W", seconds=10, venue="V1", quantity="2", price="50"), fact("accepted", "W", seconds=11)],
        [
            fill("W", "w1", "1", "50", seconds=12, fee="0.05", fee_currency="USDT"),
            fact("amended", "W", seconds=13, quantity="1.5"),
        ],
        [
            fill("W", "w2", "0.5", "49.5", seconds=14),
            fact("fill_corrected", "W", seconds=15, trade_id="w1", quantity="1", price="49.9"),
        ],
    ]
    record(ledger, FIRST)
    for run in runs:
        record(ledger, run)
        ledger.analytics.export_lake(tmp_path / "runs")
    record(ledger, SECOND)
    ledger.analytics.export_lake(tmp_path / "runs")
    export_lake(ledger, tmp_path / "chunks", chunk=1)
    once = contents(tmp_path / "chunks")
    assert contents(tmp_path / "runs") == once
    assert len(list((tmp_path / "chunks" / "events").rglob("*.parquet"))) == 15  # one file a position
    con = duckdb.connect()
    orders = lake_tables(tmp_path / "runs")["orders"]
    [w] = con.execute(
        "SELECT quantity, filled_quantity, notional, fees, ended_as, epoch(completed_at - requested_at),"
        f" replaces FROM read_parquet('{orders}') WHERE client_order_id = 'W'"
    ).fetchall()
    con.close()
    # 1.5 of 1.5 filled: 1 × 49.9 (corrected) + 0.5 × 49.5 = 49.9 + 24.75 = 74.65; fee 0.05 kept;
    # complete at w2, 4 s after the request
    assert w == (Decimal("1.5"), Decimal("1.5"), Decimal("74.65"), Decimal("0.05"), "filled", 4.0, 1)


def _fills_schema(lake: Path) -> list[tuple[str, str]]:
    """The columns of the lake's fills' files and their types, as DuckDB reads them (whatever
    the lake's format)."""
    con = duckdb.connect()
    try:
        source = f"read_parquet('{lake / 'fills' / '**' / '*.parquet'}', hive_partitioning = false)"
        return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    finally:
        con.close()


def test_a_fill_carries_every_term_the_declaration_takes_from_the_request(
    ledger: OrderLedger, tmp_path: Path
) -> None:
    # Given an order requested with every term a request message states, and its fill
    terms: dict[str, Any] = {"time_in_force": "GTC", "post_only": True, "aliases": {"exchange_id": "E-1"}}
    terms |= {
        "tags": {"strategy": "s1"},
        "parent_id": "P",
        "quote_currency": "USDT",
        "decision_price": "99.5",
    }
    record(ledger, [request("T", quantity="2", price="100", **terms), fill("T", "t1", "1", "100", seconds=1)])
    ledger.analytics.export_lake(tmp_path / "lake")
    # Then the fills' columns after the leg's own (through its notional) are the terms the
    # order's declaration takes from its request, less the fill's own (key, account, venue,
    # instrument, side), each once (the request's quantity and price, which restoring an order
    # keeps again as requested, once), then when it was requested: the declaration's, in its
    # order and its lake types
    described = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}  # DuckDB's name for the type
    declared = [
        (column, described.get(lake_type, lake_type))
        for column, (field, kind) in columnar.fill_terms().items()
        if (lake_type := columnar.lake_type(column, field, kind))
    ]
    schema = _fills_schema(tmp_path / "lake")
    after = [name for name, _ in schema].index("notional") + 1
    assert schema[after:] == [*declared, ("requested_at", "TIMESTAMP WITH TIME ZONE")]
    read = {field for field, _ in columnar.fill_terms().values()}
    assert read == set(FROM_REQUEST.values()) - set(columnar.FILL_OWN)
    assert {"post_only", "time_in_force", "aliases", "external"} <= read
    # And the fill's row holds the order's terms as requested (external: the ledger's own order)
    [row] = lake_rows(
        tmp_path / "lake",
        "fills",
        "order_type, order_quantity, limit_price, decision_price, time_in_force, post_only, aliases,"
        " tags, parent_id, quote_currency, external",
    )
    assert row[:6] == ("limit", Decimal("2"), Decimal("100"), Decimal("99.5"), "GTC", True)
    assert (json.loads(row[6]), json.loads(row[7])) == ({"exchange_id": "E-1"}, {"strategy": "s1"})
    assert row[8:] == ("P", "USDT", False)


def test_a_term_added_to_the_declaration_is_a_column_of_the_lakes_fills() -> None:
    # Given the order's declaration with one more value a new order takes from its request
    requested = {**FROM_REQUEST, "venue_account": "venue_account"}
    kinds = {**STATE, "venue_account": PLAIN}
    # Then the fills carry it, as text, after the terms before it
    terms = columnar.fill_terms(requested, kinds)
    assert list(terms)[-1] == "venue_account" and terms["venue_account"] == ("venue_account", PLAIN)
    assert "CAST(venue_account AS VARCHAR) AS venue_account" in columnar.terms_sql("rows", requested, kinds)


def _without(lake: Path, folder: Path, columns: list[str]) -> None:
    """Rewrite every file under ``folder`` of ``lake`` without ``columns``."""
    con = duckdb.connect()
    for path in folder.rglob("*.parquet"):
        con.execute(
            f"COPY (SELECT * EXCLUDE ({', '.join(columns)})"
            f" FROM read_parquet('{path}', hive_partitioning = false)) TO '{path}.old' (FORMAT parquet)"
        )
        Path(f"{path}.old").replace(path)
    con.close()


def _make_format_five(lake: Path) -> None:
    """Turn ``lake`` into one written before a fill carried every term of its order's request
    (format 5): its fills' files lack the terms other than format 5's, and its manifest says 5
    (and records no declared columns)."""
    manifest = read_manifest(lake)
    kept = (
        "order_type",
        "limit_price",
        "order_quantity",
        "decision_price",
        "parent_id",
        "tags",
        "quote_currency",
    )
    _without(lake, lake / "fills", [column for column in columnar.fill_terms() if column not in kept])
    del manifest[DECLARED]
    (lake / "_manifest.json").write_text(json.dumps({**manifest, "format": 5}))


def _written_without(lake: Path, value: str) -> None:
    """Turn ``lake`` into one written under an order's declaration without ``value`` (a request's
    term): its fills' files and its orders' snapshot lack its column, and its manifest's
    declared columns do not name it."""
    manifest = read_manifest(lake)
    _without(lake, lake / "fills", [value])
    _without(lake, lake / manifest["snapshot"] / "orders", [value])
    manifest[DECLARED] = {
        table: [c for c in columns if c != value] for table, columns in manifest[DECLARED].items()
    }
    (lake / "_manifest.json").write_text(json.dumps(manifest))


def test_a_lake_whose_fills_lack_terms_has_them_added_from_its_own_events(
    make_ledger: Any, tmp_path: Path
) -> None:
    # A format-5 lake's fills lack post_only and the other terms added since: DuckDB would refuse
    # to read its files beside a new run's. The next run adds them to the files it has, from the
    # requests among the lake's own events, and the lake is then what one run leaves.
    ledger = make_ledger()
    record(ledger, [*FIRST, request("P", seconds=7, post_only=True, time_in_force="IOC")])
    record(ledger, [fill("P", "p1", "1", "100", seconds=8)])
    ledger.analytics.export_lake(tmp_path / "old")
    _make_format_five(tmp_path / "old")
    assert "post_only" not in dict(_fills_schema(tmp_path / "old"))
    record(ledger, SECOND)
    ledger.analytics.export_lake(tmp_path / "old")
    ledger.analytics.export_lake(tmp_path / "once")
    assert contents(tmp_path / "old") == contents(tmp_path / "once")
    assert read_manifest(tmp_path / "old")["format"] == FORMAT
    # P's fill, written by the first run, holds its order's terms: post-only, IOC
    rows = lake_rows(tmp_path / "old", "fills", "trade_id, post_only, time_in_force", "trade_id")
    assert rows[0] == ("p1", True, "IOC")  # (p1 sorts before x1, x2, y1, z1)


def test_a_term_added_to_the_declaration_reaches_a_lake_written_before_it(
    make_ledger: Any, tmp_path: Path
) -> None:
    # Given a lake written under a declaration without post_only, in this format all the same:
    # its fills, its orders' snapshot and its manifest's declared columns lack it
    ledger = make_ledger()
    record(ledger, [*FIRST, request("P", seconds=7, post_only=True), fill("P", "p1", "1", "100", seconds=8)])
    ledger.analytics.export_lake(tmp_path / "old")
    _written_without(tmp_path / "old", "post_only")
    assert "post_only" not in dict(_fills_schema(tmp_path / "old"))
    # When the log grows and the lake is exported again
    record(ledger, SECOND)
    ledger.analytics.export_lake(tmp_path / "old")
    # Then it is the lake one run writes under today's declaration: P, which the run did not
    # touch, says post-only on its fill and on its order's row
    ledger.analytics.export_lake(tmp_path / "once")
    assert contents(tmp_path / "old") == contents(tmp_path / "once")
    assert lake_rows(tmp_path / "old", "fills", "trade_id, post_only", "trade_id")[0] == ("p1", True)
    assert lake_rows(tmp_path / "old", "orders", "client_order_id, post_only", "client_order_id")[0] == (
        "P",
        True,
    )


def test_a_venue_name_needing_escapes_reads_back_as_itself(ledger: OrderLedger, tmp_path: Path) -> None:
    # The events' partitions are named by the export itself, the fills' by DuckDB: one name each.
    venue = "Prime/Desk 2=é%"
    record(
        ledger, [request("E", venue=venue, quantity="1", price="10"), fill("E", "e1", "1", "10", seconds=1)]
    )
    ledger.analytics.export_lake(tmp_path / "lake")
    tables = lake_tables(tmp_path / "lake")
    con = duckdb.connect()
    read = {
        table: con.execute(
            f"SELECT DISTINCT venue FROM read_parquet('{tables[table]}', hive_partitioning = true)"
        ).fetchall()
        for table in ("events", "fills", "orders")
    }
    con.close()
    assert read == {"events": [(venue,)], "fills": [(venue,)], "orders": [(venue,)]}
    assert pl.read_parquet(tables["events"], hive_partitioning=True)["venue"].unique().to_list() == [venue]
    folders = {
        table: {p.name for p in (tmp_path / "lake" / table).glob("day=*/venue=*")}
        for table in ("events", "fills")
    }
    assert folders["events"] == folders["fills"] == {"venue=Prime%2FDesk%202%3D%C3%A9%25"}


def _make_format_one(lake: Path) -> None:
    """Turn ``lake`` into one written before the orders carried their seconds and slippage parts
    (format 1): its snapshot's rows lack those columns and its manifest says format 1."""
    manifest = read_manifest(lake)
    con = duckdb.connect()
    newer = ", ".join(
        ["ack_seconds", "first_fill_seconds", "completion_seconds"]
        + [f"{ref}_slippage_{part}" for ref in ("limit", "decision") for part in ("cost", "base")]
    )
    for path in (lake / manifest["snapshot"] / "orders").rglob("*.parquet"):
        con.execute(
            f"COPY (SELECT * EXCLUDE ({newer}) FROM read_parquet('{path}')) TO '{path}.old' (FORMAT parquet)"
        )
        Path(f"{path}.old").replace(path)
    con.close()
    (lake / "_manifest.json").write_text(json.dumps({**manifest, "format": 1}))


def test_a_lake_of_the_format_before_has_every_order_recomputed(make_ledger: Any, tmp_path: Path) -> None:
    # A format-1 lake's snapshot rows lack the newer columns, so the next run recomputes X's and
    # Y's rows too.
    ledger = make_ledger()
    record(ledger, FIRST)
    ledger.analytics.export_lake(tmp_path / "old")
    _make_format_one(tmp_path / "old")
    record(ledger, SECOND)
    ledger.analytics.export_lake(tmp_path / "old")
    ledger.analytics.export_lake(tmp_path / "once")
    assert contents(tmp_path / "old") == contents(tmp_path / "once")
    assert read_manifest(tmp_path / "old")["format"] == FORMAT


def test_reading_a_lake_of_the_format_before_is_refused_in_one_line(tmp_path: Path) -> None:
    # Its orders lack the columns the report reads: a clear line telling to export again, in
    # the API and the CLI (exit 2), never DuckDB's binder error; the export brings it up to date.
    db = f"sqlite:///{tmp_path / 'orderledger.db'}"
    lake = tmp_path / "lake"
    with OrderLedger(db) as ledger:
        record(ledger, FIRST)
        ledger.analytics.export_lake(lake)
        _make_format_one(lake)
        with pytest.raises(InvalidInputError, match=r"lake of format 1, .*: run export lake .* to update it"):
            ledger.analytics.execution_quality(lake=lake)
    run = run_cli("analytics", "execution", "--lake", str(lake), db=db, cwd=tmp_path)
    line = assert_one_line_failure(run, 2)
    assert "lake of format 1" in line and "run export lake" in line and "Binder" not in line
    # nothing new in the log, but the snapshot is rewritten in this version's format
    exported = run_cli("export", "lake", str(lake), db=db, cwd=tmp_path)
    assert exported.returncode == 0, exported.describe()
    assert exported.stdout.startswith(f"rewrote the snapshot of {lake} at position 7: 0 events"), (
        exported.stdout
    )
    with OrderLedger(db) as ledger:
        assert [row.orders for row in ledger.analytics.execution_quality(lake=lake)] == [2]


def test_reading_a_directory_that_is_not_a_lake_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match=r"is not an exported lake \(no _manifest.json\)"):
        lake_tables(tmp_path / "empty")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "_manifest.json").write_text(json.dumps({"format": 99, "position": 1}))
    with pytest.raises(
        InvalidInputError, match=rf"lake of format 99, which this version \(format {FORMAT}\)"
    ):
        lake_tables(tmp_path / "odd")


def test_a_run_with_nothing_to_read_starts_from_no_row(ledger: OrderLedger) -> None:
    # The table is created from the chunk view's columns alone: the view holds no row.
    con = columnar.connect()
    try:
        columnar.load_events(con, ledger, (0, 0), "nothing")
        counts = [
            con.execute(f"SELECT count(*) FROM {name}").fetchone()
            for name in (columnar.CHUNK_VIEW, "nothing")
        ]
    finally:
        con.close()
    assert counts == [(0,), (0,)]
