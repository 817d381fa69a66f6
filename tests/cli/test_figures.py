"""Figures for people (issue 33 item 6): tables round prices to the instrument's tick,
quantities to its lot and money to its currency's cents, and show the currency; at 80 columns
they keep what a person needs; ``history`` shows each payload as lines. JSON, Python rows and
exports stay exact. Run through the real command.

The session (docs/semantics.md, "Figures for people"): SOL-USDT at kraken is defined with a
tick of 0.01 and a lot of 0.001. g-1 buys 3: 1 @ 100.00 (fee 0.0123 USDT) and 2 @ 100.01 (fee
0.0246 USDT); g-2 sells 0.5 @ 100.50 (fee 0.0201 USDT).
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger import OrderLedger
from orderledger.infrastructure.application.reads.display import currency_places, step_places
from tests.support.cli import cli_env, jsonl, run_cli

DEFINITION = {
    "type": "instrument",
    "venue": "kraken",
    "instrument": "SOL-USDT",
    "kind": "spot",
    "base_currency": "SOL",
    "quote_currency": "USDT",
    "price_increment": "0.01",
    "quantity_increment": "0.001",
    "ts": "2026-11-20T09:00:00Z",
}


def _order(coid: str, side: str, quantity: str, ts: str) -> dict[str, Any]:
    return {
        "type": "request",
        "client_order_id": coid,
        "account": "alpha",
        "venue": "kraken",
        "instrument": "SOL-USDT",
        "side": side,
        "order_type": "market",
        "quantity": quantity,
        "ts": ts,
    }


def _fill(coid: str, trade_id: str, quantity: str, price: str, fee: str, ts: str) -> dict[str, Any]:
    return {
        "type": "fill",
        "client_order_id": coid,
        "trade_id": trade_id,
        "quantity": quantity,
        "price": price,
        "fee": fee,
        "fee_currency": "USDT",
        "ts": ts,
    }


SESSION = [
    DEFINITION,
    _order("g-1", "buy", "3", "2026-11-20T10:00:00Z"),
    _fill("g-1", "s-1", "1", "100.00", "0.0123", "2026-11-20T10:00:01Z"),
    _fill("g-1", "s-2", "2", "100.01", "0.0246", "2026-11-20T10:00:02Z"),
    _order("g-2", "sell", "0.5", "2026-11-20T11:00:00Z"),
    _fill("g-2", "s-3", "0.5", "100.50", "0.0201", "2026-11-20T11:00:01Z"),
]

# By hand (34 significant digits where a division is involved):
# average = (1 × 100.00 + 2 × 100.01) / 3 = 300.02 / 3 = 100.00666…67
AVERAGE = "100.0066666666666666666666666666667"
# the sell of 0.5 takes 0.5 / 3 of the cost: 300.02 / 6 = 50.00333…33 (34 digits);
# realized = 0.5 × 100.50 − 50.00333…33 = 50.25 − 50.00333…33 = 0.24666…67
REALIZED = "0.24666666666666666666666666666667"
# unrealized at 100.777 = 2.5 × 100.777 − (300.02 − 50.00333…33) = 251.9425 − 250.01666…67
UNREALIZED = "1.92583333333333333333333333333333"
MARK = "SOL-USDT=100.777"


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("figures")
    db = f"sqlite:///{folder / 'ledger.db'}"
    run = run_cli("ingest", "-", db=db, cwd=folder, stdin="\n".join(jsonl(*SESSION)) + "\n")
    assert run.returncode == 0, run.describe()
    return db, folder


def shown(db: str, folder: Path, columns: int, *args: str) -> tuple[list[str], list[str]]:
    """What one command prints at ``columns`` wide: (stdout lines, stderr lines)."""
    run = run_cli(*args, db=db, cwd=folder, env=cli_env(COLUMNS=str(columns)))
    assert run.returncode == 0, run.describe()
    return run.stdout.splitlines(), run.stderr.splitlines()


def cells(lines: list[str], column: str, value: str) -> dict[str, str]:
    """The table row whose ``column`` is ``value``, by its header's column names (each column
    where its rule of dashes is: an empty cell stays empty)."""
    spans = [m.span() for m in re.finditer(r"-+", lines[2])]
    rows = [{lines[1][a:b].strip(): line[a:b].strip() for a, b in spans} for line in lines[3:]]
    [row] = [r for r in rows if r.get(column) == value]
    return row


def test_the_rule_places_of_a_step_and_of_a_currency() -> None:
    assert [step_places(Decimal(s)) for s in ("0.01", "0.5", "0.0005", "1", "5", "1E-8", "0.10")] == [
        2, 1, 4, 0, 0, 8, 1,
    ]  # fmt: skip
    assert step_places(None) == 8  # no definition: the documented default
    assert (currency_places("USDT"), currency_places("EUR"), currency_places("BTC")) == (2, 2, 8)
    assert currency_places(None) == 8


@pytest.mark.parametrize("columns", [80, 200])
def test_tables_round_to_the_tick_the_lot_and_cents_and_fit(
    ledger_dir: tuple[str, Path], columns: int
) -> None:
    db, folder = ledger_dir
    outputs = {
        args: shown(db, folder, columns, *args)
        for args in (("orders",), ("trades",), ("positions", "--mark", MARK), ("history", "g-1"))
    }
    if columns == 80:
        for args, (out, err) in outputs.items():
            assert all(len(line) <= 80 for line in out + err), (args, out, err)

    orders, orders_notes = outputs[("orders",)]
    # an order keeps its account and venue at 80 columns (its ID under the heading "order")
    assert {"order", "account", "venue", "instrument", "quantity", "status"} <= set(orders[1].split())
    if columns == 200:
        # the average 100.00666… to the tick 0.01: 100.01, marked … (rounded)
        assert cells(orders, "order", "g-1")["avg-price"] == "100.01…"
    else:
        # one line says how many columns were left out and how to see them: the eight of the
        # lowest ranks (order_type, leaves_quantity, parent_id, created_at and updated_at 1,
        # post_only 2, anomalies 3, average_price 4)
        assert orders_notes == [
            "8 column(s) left out to fit 80; --json or a wider terminal shows them",
        ]

    trades, _ = outputs[("trades",)]
    # a trade keeps its order, trade ID and fee (with its currency)
    assert {"client_order_id", "trade_id", "fee", "fee-ccy"} <= set(trades[1].split())
    first = cells(trades, "trade_id", "s-1")
    # the fee 0.0123 USDT to cents: 0.01, rounded
    assert (first["client_order_id"], first["fee"], first["fee-ccy"]) == ("g-1", "0.01…", "USDT")
    assert first["price"] == "100.00"  # already on the tick: as given

    positions, _ = outputs[("positions", "--mark", MARK)]
    # a position with a mark keeps its unrealized P&L, in its currency
    sol = cells(positions, "instrument", "SOL-USDT")
    assert (sol["pnl-ccy"], sol["quantity"]) == ("USDT", "2.5")
    assert sol["realized_pnl"] == "0.25…"  # 0.24666… to cents
    assert sol["unrealized_pnl"] == "1.93…"  # 1.92583… to cents
    if columns == 200:
        assert sol["average_price"] == "100.01…"
        assert sol["realized_pnl_net"] == "0.19…"  # 0.24666… − (0.0123 + 0.0246 + 0.0201) = 0.18966…
        assert positions[3].endswith("0.06… USDT")  # fees 0.0570 to cents

    one, _ = shown(db, folder, columns, "order", "g-1")
    figures = {line.split()[0]: line.split()[1:] for line in one[2:] if line.split()}
    assert figures["average_price"] == ["100.01…"]  # one order's fields: to the tick too
    assert figures["filled_quantity"] == ["3"]

    history, _ = outputs[("history", "g-1")]
    # each payload a line per field, beside its event
    fill_line = next(i for i, line in enumerate(history) if " OrderFilled " in line)
    assert history[fill_line].endswith("trade_id: s-1")
    assert history[fill_line + 1].strip() == "last_qty: 1"
    assert history[fill_line + 2].strip() == "last_px: 100.00"
    assert not any('{"' in line for line in history)  # no JSON object on one line


def test_json_python_rows_and_exports_stay_exact(ledger_dir: tuple[str, Path]) -> None:
    db, folder = ledger_dir
    [position] = run_cli("positions", "--mark", MARK, "--json", db=db, cwd=folder).json()
    assert (position["average_price"], position["realized_pnl"], position["unrealized_pnl"]) == (
        AVERAGE,
        REALIZED,
        UNREALIZED,
    )
    assert position["fees"] == {"USDT": "0.0570"}  # 0.0123 + 0.0246 + 0.0201
    assert "precision" not in position  # --json is the Python row's to_json, nothing added
    trades = run_cli("trades", "--json", db=db, cwd=folder).json()
    assert [t["fee"] for t in trades] == ["0.0123", "0.0246", "0.0201"]
    with OrderLedger(db, create=False) as ledger:
        [row] = ledger.positions(marks={"SOL-USDT": Decimal("100.777")})
        assert (row.average_price, row.realized_pnl) == (Decimal(AVERAGE), Decimal(REALIZED))
        [defined] = ledger.venues.instruments()
        assert (defined.definition.price_increment, defined.definition.quantity_increment) == (
            Decimal("0.01"),
            Decimal("0.001"),
        )
    out = folder / "trades.csv"
    assert (
        run_cli("export", "trades", "--format", "csv", "--out", str(out), db=db, cwd=folder).returncode == 0
    )
    with out.open(newline="") as handle:
        assert [r["fee"] for r in csv.DictReader(handle)] == ["0.0123", "0.0246", "0.0201"]
