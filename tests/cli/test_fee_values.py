"""Fees in another currency valued into the P&L currency, through the real CLI on SQLite and
PostgreSQL: a fee in the base coin at the fill's own price, a BNB fee at a recorded rate (the
latest BNB-USDT mark at or before the fill), and none where no rate is known. Every expected
figure is worked out by hand in the test (docs/semantics.md, "A BNB fee valued at a recorded
rate")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_env, cli_json, jsonl, parse_ingest, run_cli, write_lines


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


BOOK = {"account": "a", "venue": "v", "instrument": "BTC-USDT"}
RATE = {"type": "mark", "venue": "v", "instrument": "BNB-USDT", "source": "v-ticker"}

FILLS = jsonl(
    # Buy 0.5 BTC at 60000, fee 0.0005 BTC (the base coin); sell 0.5 at 62000, fee 0.05 BNB.
    {"type": "request", "ts": "2026-11-20T10:00:00Z", "client_order_id": "b1", **BOOK, "side": "buy",
     "order_type": "market", "quantity": "0.5"},
    {"type": "fill", "ts": "2026-11-20T10:00:00Z", "client_order_id": "b1", "trade_id": "t1",
     "quantity": "0.5", "price": "60000", "fee": "0.0005", "fee_currency": "BTC"},
    {"type": "request", "ts": "2026-11-20T12:00:00Z", "client_order_id": "s1", **BOOK, "side": "sell",
     "order_type": "market", "quantity": "0.5"},
    {"type": "fill", "ts": "2026-11-20T12:00:00Z", "client_order_id": "s1", "trade_id": "t2",
     "quantity": "0.5", "price": "62000", "fee": "0.05", "fee_currency": "BNB"},
    # A BNB rate after the sell: not the rate at the fill
    {**RATE, "ts": "2026-11-20T13:00:00Z", "price": "650"},
)  # fmt: skip
LATE_RATE = jsonl({**RATE, "ts": "2026-11-20T11:00:00Z", "price": "600"})
"""The BNB rate at 11:00, recorded after the fills it values."""

# Fee values as JSON: the BTC fee at the buy's price, 0.0005 × 60000 = 30 USDT.
BTC_AT_FILL = {"amount": "0.0005", "value": "30.0000", "rate": "60000", "rates": 1, "source": "fill",
               "instrument": "BTC-USDT", "time": None, "mark_source": None}  # fmt: skip
# The BNB fee at the 11:00 mark, the latest at or before the 12:00 sell: 0.05 × 600 = 30 USDT.
BNB_AT_MARK = {"amount": "0.05", "value": "30.00", "rate": "600", "rates": 1, "source": "mark",
               "instrument": "BNB-USDT", "time": "2026-11-20T11:00:00.000000Z",
               "mark_source": "v-ticker"}  # fmt: skip


def _ingest(db: str, folder: Path, name: str, lines: list[str]) -> None:
    run = run_cli("ingest", str(write_lines(folder / name, lines)), db=db, cwd=folder)
    assert parse_ingest(run.stdout).counts["applied"] == len(lines), run.describe()


def _net(row: dict[str, Any]) -> Decimal | None:
    return None if row["realized_pnl_net"] is None else Decimal(row["realized_pnl_net"])


def test_a_bnb_fee_is_valued_at_a_recorded_rate_even_one_recorded_late(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    # Given the fills, and a BNB rate only after the sell
    _ingest(db, tmp_path, "fills.jsonl", FILLS)
    [position] = cli_json("positions", db=db, cwd=tmp_path)
    # Then realized (62000 − 60000) × 0.5 = 1000 USDT; the BTC fee is valued at the fill's
    # price, the BNB fee has no rate at 12:00: the breakdown stays per currency and says so
    assert Decimal(position["realized_pnl"]) == 1000
    assert position["fees"] == {"BNB": "0.05", "BTC": "0.0005"}
    assert position["fee_values"] == {"BTC": BTC_AT_FILL}
    assert (position["unvalued_fees"], position["realized_pnl_net"]) == (["BNB"], None)

    # When the 11:00 rate is recorded (after the fills, at an earlier venue time)
    _ingest(db, tmp_path, "rate.jsonl", LATE_RATE)
    # Then net P&L is one number: 1000 − 30 (BTC fee) − 30 (BNB fee) = 940 USDT, with each rate
    [position] = cli_json("positions", db=db, cwd=tmp_path)
    assert position["fee_values"] == {"BNB": BNB_AT_MARK, "BTC": BTC_AT_FILL}
    assert (position["unvalued_fees"], _net(position)) == ([], Decimal(940))
    # And P&L by account, by day (daily), under FIFO and as of 12:30 venue time say the same
    [account] = cli_json("pnl", "--by", "account", db=db, cwd=tmp_path)
    [day] = cli_json("pnl", "--daily", db=db, cwd=tmp_path)
    [fifo] = cli_json("positions", "--cost-basis", "fifo", db=db, cwd=tmp_path)
    [fifo_pnl] = cli_json("pnl", "--by", "account", "--cost-basis", "fifo", db=db, cwd=tmp_path)
    [then] = cli_json("positions", "--as-of", "2026-11-20T12:30:00Z", "--event-time", db=db, cwd=tmp_path)
    for row in (account, day, fifo, fifo_pnl, then):
        assert row["fee_values"] == {"BNB": BNB_AT_MARK, "BTC": BTC_AT_FILL}, row
        assert _net(row) == 940, row
    # And as of 11:30 venue time only the buy stands: 0 − 30 = −30 USDT
    [early] = cli_json("positions", "--as-of", "2026-11-20T11:30:00Z", "--event-time", db=db, cwd=tmp_path)
    assert (early["fee_values"], _net(early)) == ({"BTC": BTC_AT_FILL}, Decimal(-30))
    # And the table names each rate
    table = run_cli("positions", db=db, cwd=tmp_path, env=cli_env(COLUMNS="200"))
    assert "BNB@600 mark BTC@60000 fill" in table.stdout, table.describe()


def test_the_figures_do_not_depend_on_when_the_rate_arrived(file_ledger_url: str, tmp_path: Path) -> None:
    # Given the rate recorded before the fills on one ledger, after them on another
    first = f"sqlite:///{tmp_path / 'first.db'}"
    _ingest(first, tmp_path, "rate-first.jsonl", [*LATE_RATE, *FILLS])
    _ingest(file_ledger_url, tmp_path, "fills.jsonl", FILLS)
    _ingest(file_ledger_url, tmp_path, "rate.jsonl", LATE_RATE)
    # Then positions and P&L are the same on both
    for query in (("positions",), ("pnl", "--by", "day"), ("pnl", "--daily")):
        assert cli_json(*query, db=first, cwd=tmp_path) == cli_json(*query, db=file_ledger_url, cwd=tmp_path)
