"""One precision rule from the door to the lake (``domain.values.MAX_PLACES`` for quantities and
prices, marks' prices and limits' values; ``MAX_MONEY_PLACES`` for fees and cash flows): a
recorded figure with the most decimal places the ledger takes goes into the lake and the Parquet
export and reads back exact; one place more is refused at the door (Python, the command line and
HTTP) in one line, so the log never holds a figure that would stop the lake (docs/analytics.md,
"Types")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import MAX_MONEY_PLACES, MAX_PLACES
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from tests.support.cli import assert_one_line_failure, run_cli
from tests.support.http_api import LOOPBACK, assert_problem
from tests.support.integration import fill, request
from tests.support.lake import contents, lake_rows, record

# Quantities and prices: twelve places each, and the widest magnitudes: 20 digits, and the
# smallest figure there is; money: eighteen places, and the most digits a figure may have (30)
QUANTITY = "12345678.123456789012"
TINY_PRICE = "0.000000000001"
FEE = "-0.123456789012345678"
AMOUNT = "123456789012.123456789012345678"
BIG_PRICE = "99999.999999999999"
ALMOST_ONE = "1.000000000001"
# 12345678.123456789012 × 0.000000000001: the digits moved 12 places right (24 places)
TINY_NOTIONAL = "0.000012345678123456789012"
# (1e5 − 1e-12) × (1 + 1e-12) = 1e5 + 1e-7 − 1e-12 − 1e-24
BIG_NOTIONAL = "100000.000000099998999999999999"


def test_the_rule_is_twelve_places_and_eighteen_for_money() -> None:
    assert (MAX_PLACES, MAX_MONEY_PLACES) == (12, 18)


def test_figures_at_the_most_places_reach_the_lake_and_the_export_exactly(
    ledger: OrderLedger, tmp_path: Path
) -> None:
    record(
        ledger,
        [
            request("P", quantity="99999999", price=TINY_PRICE),
            fill("P", "p1", QUANTITY, TINY_PRICE, seconds=1, fee=FEE, fee_currency="USDT"),
            request("Q", quantity="2", price=BIG_PRICE, seconds=2),
            fill("Q", "q1", ALMOST_ONE, BIG_PRICE, seconds=3),
            {
                "type": "cash_flow",
                "kind": "funding",
                "venue": "V",
                "account": "acc",
                "instrument": "BTC-USDT",
                "flow_id": "cf-1",
                "amount": AMOUNT,
                "currency": "USDT",
                "ts": "2026-11-20T10:00:04Z",
            },
        ],
    )
    ledger.analytics.export_lake(tmp_path / "lake")
    fills = lake_rows(tmp_path / "lake", "fills", "trade_id, quantity, price, fee, notional")
    funding = lake_rows(tmp_path / "lake", "funding", "amount")
    assert fills == [
        ("p1", Decimal(QUANTITY), Decimal(TINY_PRICE), Decimal(FEE), Decimal(TINY_NOTIONAL)),
        ("q1", Decimal(ALMOST_ONE), Decimal(BIG_PRICE), None, Decimal(BIG_NOTIONAL)),
    ]
    assert funding == [(Decimal(AMOUNT),)]
    # The Parquet export of the trades keeps them too
    ledger.analytics.export("trades", tmp_path / "trades.parquet", format="parquet")
    con = duckdb.connect()
    trades = con.execute(
        f"SELECT trade_id, quantity, price, fee FROM read_parquet('{tmp_path / 'trades.parquet'}')"
        " ORDER BY trade_id"
    ).fetchall()
    con.close()
    assert trades == [
        ("p1", Decimal(QUANTITY), Decimal(TINY_PRICE), Decimal(FEE)),
        ("q1", Decimal(ALMOST_ONE), Decimal(BIG_PRICE), None),
    ]


BEYOND = [
    ("quantity", 13, 12, fill("R", "r1", "0.0000000000001", "100", seconds=1)),
    ("price", 13, 12, fill("R", "r2", "1", "100.1234567890123", seconds=1)),
    ("fee", 19, 18, fill("R", "r3", "1", "100", seconds=1, fee="0.0000000000000000001", fee_currency="X")),
    ("price", 13, 12, request("S", price="1.0000000000001")),
    ("decision_price", 13, 12, request("T", decision_price="64000.0000000000001")),
]


def test_one_place_more_is_refused_at_the_door_and_the_lake_still_exports(
    ledger: OrderLedger, tmp_path: Path
) -> None:
    record(ledger, [request("R")])
    for field, places, most, message in BEYOND:
        result = ledger.record(message)
        assert result.outcome == "rejected", message
        assert result.reason is not None and "\n" not in result.reason
        assert result.reason.startswith(
            f"{field} has {places} decimal places; the ledger keeps at most {most}"
        )
    # Trailing zeros are no places: 1.5000000000000000 is 1.5
    assert ledger.record(fill("R", "r4", "1.5000000000000000", "100", seconds=2)).outcome == "applied"
    # Nothing refused reached the log, so the lake takes all of it
    assert ledger.analytics.export_lake(tmp_path / "lake").rows["fills"] == 1


def test_the_command_line_and_http_refuse_it_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    lines = [request("R"), fill("R", "r1", "0.0000000000001", "100", seconds=1)]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = run_cli("ingest", str(path), db=url, cwd=tmp_path)
    assert run.returncode == 1, run.describe()  # a line was rejected
    assert "1 applied" in run.stdout and "1 rejected" in run.stdout
    reasons = run_cli("messages", "--outcome", "rejected", "--json", db=url, cwd=tmp_path).stdout
    assert "quantity has 13 decimal places; the ledger keeps at most 12" in reasons
    with (
        OrderLedger(url) as ledger,
        TestClient(
            create_app(LedgerService(ledger)), base_url=LOOPBACK, raise_server_exceptions=False
        ) as client,
    ):
        response = client.post("/messages", json=[fill("R", "r2", "1", "99.0000000000001", seconds=2)])
        body = assert_problem(response, 422, "price has 13 decimal places; the ledger keeps at most 12")
        assert body["counts"]["rejected"] == 1
        assert ledger.analytics.export_lake(tmp_path / "lake").rows["fills"] == 0


@pytest.mark.parametrize("figure", ["1e-13", "0.00000000000010"])
def test_exponents_and_zeros_count_as_their_places(ledger: OrderLedger, figure: str) -> None:
    record(ledger, [request("R")])
    result = ledger.record(fill("R", "r1", figure, "100", seconds=1))
    assert result.outcome == "rejected" and result.reason is not None
    assert result.reason.startswith("quantity has 13 decimal places")


def _make_format_two(lake: Path) -> None:
    """Turn ``lake`` into one written when money kept 12 places (format 2): every appended file's
    fee and amount columns DECIMAL(38,12), and its manifest saying format 2."""
    con = duckdb.connect()
    for table, column in (("fills", "fee"), ("funding", "amount")):
        for path in (lake / table).rglob("*.parquet"):
            con.execute(
                f"COPY (SELECT * REPLACE (CAST({column} AS DECIMAL(38,12)) AS {column})"
                f" FROM read_parquet('{path}', hive_partitioning = false)) TO '{path}.old' (FORMAT parquet)"
            )
            Path(f"{path}.old").replace(path)
    con.close()
    manifest = json.loads((lake / "_manifest.json").read_text())
    (lake / "_manifest.json").write_text(json.dumps({**manifest, "format": 2}))


def test_a_lake_whose_money_kept_twelve_places_is_widened_before_eighteen_arrive(
    ledger: OrderLedger, tmp_path: Path
) -> None:
    # Given a lake of format 2 holding a fill with a fee of 12 places
    record(
        ledger,
        [request("P", quantity="5"), fill("P", "p1", "1", "100", seconds=1, fee="0.5", fee_currency="X")],
    )
    ledger.analytics.export_lake(tmp_path / "old")
    _make_format_two(tmp_path / "old")
    # When a fee of 18 places is recorded and the lake exported again
    record(ledger, [fill("P", "p2", "1", "100", seconds=2, fee=FEE, fee_currency="X")])
    ledger.analytics.export_lake(tmp_path / "old")
    # Then every fills file holds money at 18 places, the new fee exact (DuckDB reads a table's
    # files in one type: a file left at 12 would have cut it to -0.123456789012)
    con = duckdb.connect()
    glob = tmp_path / "old" / "fills" / "**" / "*.parquet"
    kinds = {
        row[0]
        for path in (tmp_path / "old" / "fills").rglob("*.parquet")
        for row in con.execute(f"SELECT typeof(fee) FROM read_parquet('{path}') LIMIT 1").fetchall()
    }
    fees = con.execute(f"SELECT trade_id, fee FROM read_parquet('{glob}') ORDER BY position").fetchall()
    own = {
        row[0]
        for path in (tmp_path / "old" / "fills").rglob("*.parquet")
        for row in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
        ).fetchall()
    }
    con.close()
    assert kinds == {"DECIMAL(38,18)"}
    # and each widened file keeps its own columns: its folders' day and venue stay folders' names
    assert "fee" in own and not {"day", "venue"} & own
    assert fees == [("p1", Decimal("0.5")), ("p2", Decimal(FEE))]
    # and the lake is the one a single run writes
    ledger.analytics.export_lake(tmp_path / "once")
    assert contents(tmp_path / "old") == contents(tmp_path / "once")


# Limits and marks obey the places quantities do: 12 are taken, more are refused in one line at
# every door, and nothing of a refused one is stored.
LIMIT_22 = "1." + "1" * 21 + "2"  # 22 places
MARK_20 = "64000." + "1" * 19 + "2"  # 20 places
MARK_13 = "64000.0000000000001"  # 13 places
MARK_12 = "64000.000000000001"  # 12 places: taken
REFUSED = "has {} decimal places; the ledger keeps at most 12"


def limit_set(value: str) -> dict[str, object]:
    return {
        "type": "limit_set",
        "scope": "account",
        "target": "acc",
        "kind": "max_position",
        "value": value,
        "set_by": "risk-desk",
        "ts": "2026-11-20T09:00:00Z",
    }


def mark(price: str) -> dict[str, object]:
    return {
        "type": "mark",
        "venue": "V",
        "instrument": "BTC-USDT",
        "price": price,
        "ts": "2026-11-20T11:00:00Z",
    }


def held(ledger: OrderLedger) -> None:
    """A long of 2 BTC-USDT on V at 100: a position the marks value."""
    record(ledger, [request("P"), fill("P", "p1", "2", "100", seconds=1)])


def test_limits_and_marks_refuse_the_places_a_quantity_is_refused_through_python(ledger: OrderLedger) -> None:
    held(ledger)
    # A limit of 22 places, by set_limit and as a limit_set message, and a mark message of 20:
    with pytest.raises(InvalidInputError) as refused:
        ledger.risk_controls.set_limit("account", "acc", "max_position", LIMIT_22, set_by="risk-desk")
    assert str(refused.value).startswith("value " + REFUSED.format(22)) and "\n" not in str(refused.value)
    for message, field, places in ((limit_set(LIMIT_22), "value", 22), (mark(MARK_20), "price", 20)):
        result = ledger.record(message)
        assert result.outcome == "rejected" and result.reason is not None
        assert result.reason.startswith(f"{field} {REFUSED.format(places)}"), result.reason
    # marks given to a read: positions and exposure,
    for read in (ledger.positions, ledger.risk_controls.exposure):
        with pytest.raises(InvalidInputError) as refused:
            read(marks={"BTC-USDT": Decimal(MARK_13)})
        assert str(refused.value).startswith("mark for BTC-USDT " + REFUSED.format(13))
    # nothing refused is stored,
    assert ledger.risk_controls.limits() == [] and ledger.events(types=("MarkRecorded",)) == []
    # and twelve places are taken everywhere: unrealized at 64000.000000000001 on 2 bought at
    # 100 = (64000.000000000001 − 100) × 2 = 127800.000000000002.
    assert ledger.risk_controls.set_limit(
        "account", "acc", "max_position", "1.123456789012", set_by="risk-desk"
    ).outcome == ("applied")
    assert ledger.record(mark(MARK_12)).outcome == "applied"
    (position,) = ledger.positions(marks={"BTC-USDT": Decimal(MARK_12)})
    assert position.unrealized_pnl == Decimal("127800.000000000002")


def test_limits_and_marks_refuse_them_through_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with OrderLedger(url) as ledger:
        held(ledger)
    run = run_cli(
        "limit", "set", "account", "acc", "max_position", LIMIT_22, "--by", "me", db=url, cwd=tmp_path
    )
    assert assert_one_line_failure(run, 2).endswith(
        "value " + REFUSED.format(22) + f" (the places of the lake's decimal columns): {LIMIT_22}"
    )
    for read in ("positions", "exposure"):
        run = run_cli(read, "--mark", f"BTC-USDT={MARK_13}", db=url, cwd=tmp_path)
        assert "mark for BTC-USDT " + REFUSED.format(13) in assert_one_line_failure(run, 2)
    path = tmp_path / "risk.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in (limit_set(LIMIT_22), mark(MARK_20))))
    run = run_cli("ingest", str(path), db=url, cwd=tmp_path)
    assert run.returncode == 1 and "2 rejected" in run.stdout, run.describe()
    with OrderLedger(url) as ledger:
        assert ledger.risk_controls.limits() == [] and ledger.events(types=("MarkRecorded",)) == []


def test_limits_and_marks_refuse_them_through_http(ledger: OrderLedger) -> None:
    held(ledger)
    with TestClient(
        create_app(LedgerService(ledger)), base_url=LOOPBACK, raise_server_exceptions=False
    ) as client:
        for message, field, places in ((limit_set(LIMIT_22), "value", 22), (mark(MARK_20), "price", 20)):
            assert_problem(client.post("/messages", json=message), 422, f"{field} {REFUSED.format(places)}")
        for read in ("/positions", "/exposure"):
            response = client.get(read, params={"mark": f"BTC-USDT={MARK_13}"})
            assert response.status_code in (400, 422), response.text
            assert "mark for BTC-USDT " + REFUSED.format(13) in response.json()["detail"]
            assert "\n" not in response.json()["detail"]
        assert client.get("/positions", params={"mark": f"BTC-USDT={MARK_12}"}).status_code == 200
    assert ledger.risk_controls.limits() == [] and ledger.events(types=("MarkRecorded",)) == []
