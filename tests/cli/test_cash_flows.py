"""Funding payments and other position cash flows, through the real CLI on SQLite and PostgreSQL.

Each venue's payment is its published example, as ccxt 4.5.90's source quotes it
(tests/adapters/fixtures/ccxt_venues.json): Hyperliquid's ``userFunding`` info reply entry,
Binance USDⓈ-M's ``FUNDING_FEE`` income entry, Bybit's ``execType`` Funding execution and OKX's
funding fee bill (type 8), read natively (Hyperliquid) and through what ccxt's own
``fetch_funding_history`` parses them with (all four). Every expected figure is the venue's
own, or worked out by hand below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.support import ccxt_flows as flows
from tests.support.cli import cli_json, jsonl, parse_ingest, run_cli, write_lines

HL_ACCOUNT = "0x5c902b2eb0e1d9eb9a232014824ae6247df0a480"
HL_SOL = flows._swap("SOL/USDC:USDC", "SOL", "USDC", "USDC", info={"name": "SOL", "szDecimals": 2})
BINANCE_ETH = flows._swap("ETHUSDT", "ETH", "USDT", "USDT")
BYBIT_XMR = flows._swap("XMRUSDT", "XMR", "USDT", "USDT")
OKX_ETH_INVERSE = flows._swap("ETH-USD-SWAP", "ETH", "USD", "ETH")


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


def _ingest(lines: list[str], db: str, folder: Path, name: str, *options: str) -> dict[str, int]:
    run = run_cli("ingest", *options, str(write_lines(folder / name, lines)), db=db, cwd=folder)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.describe()
    return dict(parse_ingest(run.stdout).counts)


def _flows(db: str, folder: Path) -> list[dict[str, Any]]:
    """The payloads of the log's CashFlowRecorded events (``events --json`` prints JSON lines)."""
    run = run_cli("events", "--type", "CashFlowRecorded", "--json", db=db, cwd=folder)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    return [json.loads(line)["payload"] for line in run.stdout.splitlines()]


def _position(db: str, folder: Path, instrument: str) -> dict[str, Any]:
    rows = [r for r in cli_json("positions", db=db, cwd=folder) if r["instrument"] == instrument]
    assert len(rows) == 1, rows
    return dict(rows[0])


def test_hyperliquid_funding_from_its_reply_and_its_channel_is_booked_once(
    file_ledger_url: str, tmp_path: Path
) -> None:
    # Given Hyperliquid's published userFunding entry (a short SOL position received 75.635093
    # USDC at a funding rate of 0.00004381), as the info reply gives it, and the same payment as
    # the userFundings channel pushes it (its entries carry time, coin, usdc, szi, fundingRate:
    # the reply's delta fields and its time)
    entry = flows.raw("hyperliquid", "rest_user_funding")
    pushed = {k: entry["delta"][k] for k in ("coin", "usdc", "szi", "fundingRate")} | {"time": entry["time"]}
    reply = json.dumps([entry])
    channel = json.dumps({"channel": "userFundings", "data": {"user": HL_ACCOUNT, "fundings": [pushed]}})
    options = ("--format", "hyperliquid", "--venue", "hyperliquid", "--account", HL_ACCOUNT)
    # When both are ingested through the CLI
    counts = _ingest([reply, channel], file_ledger_url, tmp_path, "funding.jsonl", *options)
    # Then the payment is booked once: the channel's copy is a duplicate
    assert counts["applied"] == 1 and counts["duplicate"] == 1, counts
    # And the position shows it apart, with the venue's figures, and counts it in net P&L:
    # no fills, no fees, so net = 0 realized − 0 fees + 75.635093 funding = 75.635093 USDC
    row = _position(file_ledger_url, tmp_path, "SOL")
    assert row["funding"] == {"USDC": "75.635093"}
    assert row["realized_pnl"] == "0" and row["fees"] == {}
    assert row["realized_pnl_net"] == "75.635093"
    # And P&L by day puts it on 2024-12-12 (1734026400057 ms = 2024-12-12T18:00:00.057Z)
    days = cli_json("pnl", "--by", "day", db=file_ledger_url, cwd=tmp_path)
    assert [(d["day"], d["funding"], d["realized_pnl_net"]) for d in days] == [
        ("2024-12-12", {"USDC": "75.635093"}, "75.635093")
    ]
    # And the event keeps the rate and the position size the venue stated
    assert _flows(file_ledger_url, tmp_path) == [
        {
            "kind": "funding",
            "flow_id": "funding:SOL:1734026400057",
            "amount": "75.635093",
            "currency": "USDC",
            "rate": "0.00004381",
            "position_quantity": "-7375.9",
            "tags": {},
        }
    ]


@pytest.mark.parametrize(
    ("exchange_id", "market", "example", "instrument", "amount", "currency", "flow_id"),
    [
        # Hyperliquid: usdc 75.635093 received; its hash is all zeros, so the ID is coin + time.
        (
            "hyperliquid",
            HL_SOL,
            ("hyperliquid", "rest_user_funding"),
            "SOL/USDC:USDC",
            "75.635093",
            "USDC",
            "funding:SOL:1734026400057",
        ),
        # Binance USDⓈ-M: income 0.00134317 USDT received, ID tranId.
        (
            "binanceusdm",
            BINANCE_ETH,
            ("binanceusdm", "rest_income_funding"),
            "ETH/USDT:USDT",
            "0.00134317",
            "USDT",
            "4480321991774044580",
        ),
        # Bybit: execFee −0.10232512 on a short (side Sell) of 0.98 XMR. Bybit's execFee is
        # positive for funding paid (its transaction log's funding is "opposite to the execFee"),
        # so the position received −(−0.10232512) = 0.10232512 USDT (the contract's settle
        # coin), booked as stated: 134.3678 execValue × 0.000761 feeRate = 0.1022538958 is not
        # the venue's figure and is not what the ledger books. ID execId.
        (
            "bybit",
            BYBIT_XMR,
            ("bybit", "rest_execution_funding"),
            "XMR/USDT:USDT",
            "0.10232512",
            "USDT",
            "8d1ef156-4ec6-4445-9a6c-1c0c24dbd046",
        ),
        # OKX: bill type 8, subType 174 (funding fee income), balChg +0.0000148752712240 ETH, the
        # signed change of the balance: 0.000014875271224 ETH received on the inverse ETH-USD
        # swap (its pnl says the same). ID billId.
        (
            "okx",
            OKX_ETH_INVERSE,
            ("okx", "rest_bills_funding"),
            "ETH/USD:ETH",
            "0.000014875271224",
            "ETH",
            "377970609204146187",
        ),
    ],
)
def test_ccxt_funding_history_is_booked_with_the_venues_figures(
    file_ledger_url: str,
    tmp_path: Path,
    exchange_id: str,
    market: dict[str, Any],
    example: tuple[str, str],
    instrument: str,
    amount: str,
    currency: str,
    flow_id: str,
) -> None:
    # Given the venue's published funding entry run through ccxt's own parser
    structure = flows.funding_history(ccxt, exchange_id, market, flows.raw(*example))
    line = json.dumps(structure)
    options = ("--format", "ccxt", "--venue", exchange_id, "--account", "acct")
    # When it is ingested twice through the CLI
    counts = _ingest([line, line], file_ledger_url, tmp_path, "funding.jsonl", *options)
    # Then it is booked once, on its position, with the venue's amount, currency and ID
    assert counts["applied"] == 1 and counts["duplicate"] == 1, counts
    row = _position(file_ledger_url, tmp_path, instrument)
    assert (row["account"], row["venue"]) == ("acct", exchange_id)
    assert row["funding"] == {currency: amount} and row["realized_pnl_net"] == amount
    assert [(e["flow_id"], e["amount"]) for e in _flows(file_ledger_url, tmp_path)] == [(flow_id, amount)]


def test_bybit_funding_is_booked_in_the_contracts_settle_coin_not_ccxts_code(
    file_ledger_url: str, tmp_path: Path
) -> None:
    # Given Bybit's funding execution on an inverse contract (derived from the published
    # XMRUSDT entry: symbol BTCUSD, whose settle coin is BTC), for which ccxt's parse_income
    # names the quote, USD, as the currency
    entry = flows.raw("bybit", "rest_execution_funding") | {"symbol": "BTCUSD"}
    structure = flows.funding_history(ccxt, "bybit", flows.BYBIT_INVERSE, entry)
    assert (structure["symbol"], structure["code"]) == ("BTC/USD:BTC", "USD")
    options = ("--format", "ccxt", "--venue", "bybit", "--account", "acct")
    # When it is ingested
    assert _ingest([json.dumps(structure)], file_ledger_url, tmp_path, "f.jsonl", *options)["applied"] == 1
    # Then the payment is in BTC, what the contract settles in: −(−0.10232512) = 0.10232512 BTC
    assert _position(file_ledger_url, tmp_path, "BTC/USD:BTC")["funding"] == {"BTC": "0.10232512"}


@pytest.mark.parametrize(
    ("venue", "structure_of", "reason"),
    [
        # Bybit's published trade execution (execType Trade, execFee 0.0679239 paid) through the
        # parser of its funding history: a trading fee, not a funding payment
        (
            "bybit",
            lambda: flows.funding_history(
                ccxt, "bybit", flows.BYBIT_LINEAR, flows.raw("bybit", "ws_execution")
            ),
            "ccxt funding history of 'bybit': info.execType 'Trade' is not a funding payment",
        ),
        # Binance's published FUNDING_FEE entry without its incomeType (derived): nothing says
        # it is funding rather than another kind of income
        (
            "binanceusdm",
            lambda: flows.funding_history(
                ccxt,
                "binanceusdm",
                BINANCE_ETH,
                {
                    k: v
                    for k, v in flows.raw("binanceusdm", "rest_income_funding").items()
                    if k != "incomeType"
                },
            ),
            "ccxt funding history of 'binanceusdm': an entry without info.incomeType is not known to be"
            " a funding payment",
        ),
        # OKX's funding bill named by a venue whose sign of amount no rule establishes
        (
            "kraken",
            lambda: flows.funding_history(
                ccxt, "okx", OKX_ETH_INVERSE, flows.raw("okx", "rest_bills_funding")
            ),
            "ccxt funding history of 'kraken': the sign of its amount is not established for this venue"
            " (docs/venues.md#funding-payments); record its payments as cash_flow messages",
        ),
    ],
    ids=("bybit-trade", "binance-no-kind", "unestablished-venue"),
)
def test_ccxt_funding_history_the_rules_do_not_establish_is_refused(
    file_ledger_url: str, tmp_path: Path, venue: str, structure_of: Any, reason: str
) -> None:
    # Given an entry of ccxt's funding history the venue's rules do not establish as funding
    path = write_lines(tmp_path / "f.jsonl", [json.dumps(structure_of())])
    # When it is ingested
    run = run_cli("ingest", "--format", "ccxt", "--venue", venue, "--account", "acct", str(path),
                  db=file_ledger_url, cwd=tmp_path)  # fmt: skip
    # Then the line is rejected with a one-line reason, and nothing is booked
    assert parse_ingest(run.stdout).counts["rejected"] == 1, run.describe()
    assert run.stderr_lines == [f"line 1: rejected: {reason}"], run.describe()
    assert _flows(file_ledger_url, tmp_path) == []


TS = "2026-11-20T{}:00Z"


def test_ledger_format_funding_counts_in_net_pnl_and_a_changed_amount_is_refused(
    file_ledger_url: str, tmp_path: Path
) -> None:
    # Given a short of 2 BTC-USDT at 100 closed at 90 (fees 0.1 USDT each) and, while it was
    # open, a funding payment of 0.5 USDT paid
    base = {"account": "a", "venue": "v", "instrument": "BTC-USDT"}
    lines = jsonl(
        {"type": "request", "ts": TS.format("10:00"), "client_order_id": "s", **base, "side": "sell",
         "order_type": "market", "quantity": "2"},
        {"type": "fill", "ts": TS.format("10:00"), "client_order_id": "s", "trade_id": "t1",
         "quantity": "2", "price": "100", "fee": "0.1", "fee_currency": "USDT"},
        {"type": "cash_flow", "ts": TS.format("16:00"), **base, "kind": "funding", "flow_id": "f1",
         "amount": "-0.5", "currency": "USDT", "rate": "0.0025"},
        {"type": "request", "ts": TS.format("20:00"), "client_order_id": "b", **base, "side": "buy",
         "order_type": "market", "quantity": "2"},
        {"type": "fill", "ts": TS.format("20:00"), "client_order_id": "b", "trade_id": "t2",
         "quantity": "2", "price": "90", "fee": "0.1", "fee_currency": "USDT"},
    )  # fmt: skip
    assert _ingest(lines, file_ledger_url, tmp_path, "day.jsonl")["applied"] == 5
    # Then realized = (100 − 90) × 2 = 20; fees 0.1 + 0.1 = 0.2; funding −0.5;
    # net = 20 − 0.2 − 0.5 = 19.3 USDT
    row = _position(file_ledger_url, tmp_path, "BTC-USDT")
    assert (row["realized_pnl"], row["fees"], row["funding"]) == ("20", {"USDT": "0.2"}, {"USDT": "-0.5"})
    assert row["realized_pnl_net"] == "19.3"
    for by, group in (("account", "a"), ("instrument", "BTC-USDT"), ("day", "2026-11-20")):
        (total,) = cli_json("pnl", "--by", by, db=file_ledger_url, cwd=tmp_path)
        assert (total[by], total["funding"], total["realized_pnl_net"]) == (group, {"USDT": "-0.5"}, "19.3")
    # When the same payment ID arrives again with another amount
    changed = jsonl(
        {"type": "cash_flow", "ts": TS.format("16:00"), **base, "kind": "funding", "flow_id": "f1",
         "amount": "-0.6", "currency": "USDT"},
    )  # fmt: skip
    again_path = write_lines(tmp_path / "again.jsonl", changed)
    run = run_cli("ingest", str(again_path), db=file_ledger_url, cwd=tmp_path)
    # Then it is rejected with a one-line reason naming both amounts, and nothing changes
    assert parse_ingest(run.stdout).counts["rejected"] == 1, run.describe()
    assert run.stderr_lines == [
        "line 1: rejected: cash flow 'f1' of 'a' in 'BTC-USDT' at 'v' already recorded with"
        " amount -0.5 (now -0.6)"
    ], run.describe()
    assert _position(file_ledger_url, tmp_path, "BTC-USDT") == row
    # And the same payment again is a duplicate
    again = _ingest(lines[2:3], file_ledger_url, tmp_path, "dup.jsonl")
    assert again["duplicate"] == 1 and again["applied"] == 0
