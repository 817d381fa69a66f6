"""The example file of each native format in docs/examples/, ingested by the real command, books
exactly what docs/venues.md says (docs/examples/lighter.jsonl has its own test in
test_lighter.py; the ccxt-*.jsonl files in test_ccxt_examples.py; the FIX logs in
test_fix_session.py). Every figure is worked out by hand beside its assertion.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.cli import ROOT, cli_json, parse_ingest, run_cli

EXAMPLES = ROOT / "docs" / "examples"


def ingest(tmp_path: Path, name: str, *options: str) -> tuple[str, dict[str, int]]:
    """Ingest docs/examples/NAME into a fresh SQLite ledger file; (database URL, counts)."""
    db = f"sqlite:///{tmp_path / 'example.db'}"
    run = run_cli("ingest", *options, str(EXAMPLES / name), db=db, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    return db, parse_ingest(run.stdout).counts


def orders(db: str, tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {o["client_order_id"]: o for o in cli_json("orders", db=db, cwd=tmp_path)}


def test_hyperliquid_example(tmp_path: Path) -> None:
    db, counts = ingest(tmp_path, "hyperliquid.jsonl", "--format", "hyperliquid", "--venue", "hyperliquid",
                        "--account", "main")  # fmt: skip
    # 7 lines: spotMeta (ignored: names the spot pairs); the userFills snapshot (its two
    # liquidations book, the fills of orders 314848230306 and 296683658818 wait: parked); the
    # openOrders reply (order 251733169011, releasing its waiting fill); the orderUpdates cancel
    # of 323550506865; the historicalOrders copy of it (duplicate); the orderStatus of the spot
    # order 60816227852 (canceled); webData2's open order 6928553534 (new)
    assert counts == {"applied": 4, "duplicate": 1, "parked": 1, "ignored": 1, "rejected": 0}
    found = orders(db, tmp_path)
    assert {k: (o["side"], o["quantity"], o["status"], o["filled_quantity"]) for k, o in found.items()} == {
        "ext-hyperliquid-298509207410": ("sell", "5.2", "filled", "5.2"),  # HYPE liquidation
        "ext-hyperliquid-310636768174": ("sell", "0.27", "filled", "0.27"),  # flx:CRCL liquidation
        "ext-hyperliquid-251733169011": ("buy", "0.14", "filled", "0.14"),
        "ext-hyperliquid-323550506865": ("sell", "1", "canceled", "0"),
        "ext-hyperliquid-60816227852": ("sell", "50", "canceled", "0"),  # PURR/USDC, spot
        "ext-hyperliquid-6928553534": ("buy", "0.1", "accepted", "0"),
    }
    assert found["ext-hyperliquid-60816227852"]["instrument"] == "PURR/USDC"
    assert found["ext-hyperliquid-298509207410"]["tags"] == {"liquidation": "true"}
    trades = sorted((t["trade_id"], t["quantity"], t["price"], t["fee"], t["fee_currency"])
                    for t in cli_json("trades", db=db, cwd=tmp_path))  # fmt: skip
    assert trades == [
        ("1019408913364172", "0.27", "55.877", "0.001173", "USDH"),
        ("202031760494687", "0.14", "70", "0.000282", "USDH"),
        ("345752513742025", "5.2", "21.147", "0.047504", "USDC"),
    ]
    # Positions: HYPE short 5.2 (the liquidation sale; the two HYPE buys still wait), nothing
    # realized. flx:CRCL: sold 0.27 at 55.877, bought 0.14 at 70 → short 0.13, realized
    # (55.877 − 70) × 0.14 = −14.123 × 0.14 = −1.97722; fees 0.001173 + 0.000282 = 0.001455 USDH.
    positions = {p["instrument"]: p for p in cli_json("positions", db=db, cwd=tmp_path)}
    assert (Decimal(positions["HYPE"]["quantity"]), Decimal(positions["HYPE"]["realized_pnl"])) == (
        Decimal("-5.2"),
        0,
    )
    crcl = positions["flx:CRCL"]
    assert (Decimal(crcl["quantity"]), Decimal(crcl["realized_pnl"])) == (
        Decimal("-0.13"),
        Decimal("-1.97722"),
    )
    assert {k: Decimal(v) for k, v in crcl["fees"].items()} == {"USDH": Decimal("0.001455")}


def test_tradier_example(tmp_path: Path) -> None:
    db, counts = ingest(tmp_path, "tradier.jsonl", "--format", "tradier", "--venue", "tradier",
                        "--account", "VA000000")  # fmt: skip
    # 3 lines: the Orders reference's reply (AAPL 228175 and the SPY call 228749 expired, the
    # combo 229063's leg 229064 canceled), then two polls of order 228176 tagged
    # my-tag-example-1: 20 filled at 21.95, then 50 at an average of 21.98
    assert counts == {"applied": 3, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0}
    found = orders(db, tmp_path)
    shown = {k: (o["status"], o["quantity"], o["filled_quantity"], o["parent_id"]) for k, o in found.items()}
    assert shown == {
        "ext-tradier-228175": ("expired", "50", "0", None),
        "ext-tradier-228749": ("expired", "1", "0", None),
        "ext-tradier-229064": ("canceled", "100", "0", "tradier-229063"),  # the leg, by its package
        "ext-tradier-228176": ("filled", "50", "50", "my-tag-example-1"),  # the tag is the parent
    }
    # Inferred fills: 20 at 21.95, then 50 × 21.98 = 1099 less 20 × 21.95 = 439 → 660 for 30 = 22
    trades = sorted((t["quantity"], t["price"]) for t in cli_json("trades", "--parent", "my-tag-example-1",
                                                                   db=db, cwd=tmp_path))  # fmt: skip
    assert trades == [("20", "21.95"), ("30", "22")]
    [aapl] = cli_json("positions", db=db, cwd=tmp_path)
    assert (aapl["instrument"], Decimal(aapl["quantity"]), Decimal(aapl["average_price"])) == (
        "AAPL",
        Decimal("50"),
        Decimal("21.98"),  # 1099 / 50
    )


def test_snapshots_example(tmp_path: Path) -> None:
    db, counts = ingest(tmp_path, "snapshots.jsonl", "--format", "snapshots")
    # 3 snapshots of venue hl: SOL 6928553534 open (a new external order), then 0.04 of 0.1
    # filled at an average of 60 (an inferred fill), then closed as canceled
    assert counts == {"applied": 3, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0}
    [order] = cli_json("orders", db=db, cwd=tmp_path)
    assert (order["client_order_id"], order["status"], order["quantity"], order["filled_quantity"]) == (
        "ext-hl-6928553534",
        "canceled",
        "0.1",
        "0.04",
    )
    [trade] = cli_json("trades", db=db, cwd=tmp_path)
    assert (trade["quantity"], trade["price"]) == ("0.04", "60")
    [sol] = cli_json("positions", db=db, cwd=tmp_path)
    assert (sol["instrument"], Decimal(sol["quantity"])) == ("SOL", Decimal("0.04"))
