"""CCXT markets dumps → instrument definitions, with the dump produced by ccxt itself.

The venues' published instrument examples (OKX GET /api/v5/public/instruments: a USDT swap,
a BTC option and a spot pair; Bybit GET /v5/market/instruments-info?category=inverse: the
BTCUSD inverse perpetual) go through ccxt's own market parsers offline; ``exchange.markets``
is dumped to JSON as a user would dump ``load_markets()``, then loaded by the CLI and by
Python. Then the definitions say what ccxt says, and a fill on the swap books 100 USDT.
"""

from __future__ import annotations

import json
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderledger.infrastructure.adapters.ccxt.markets import markets_messages
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions
from orderledger.infrastructure.messages.models import InstrumentMessage
from tests.support.adapters import FIXTURES, check_valid
from tests.support.cli import assert_one_line_failure, cli_json, run_cli

TS = "2026-11-20T00:00:00.000000Z"  # the ledger's own spelling, as a message states it


def okx_markets(ccxt: Any) -> dict[str, Any]:
    """``exchange.markets`` of an offline OKX fed the published instruments example."""
    exchange = ccxt.okx()
    published = json.loads((FIXTURES / "okx_public_instruments.json").read_text())["data"]
    exchange.set_markets([exchange.parse_market(m) for m in published])
    return dict(exchange.markets)


def bybit_inverse_markets(ccxt: Any) -> dict[str, Any]:
    """``exchange.markets`` of an offline Bybit whose instruments endpoint answers the example."""
    exchange = ccxt.bybit()
    published = json.loads((FIXTURES / "bybit_instruments_inverse.json").read_text())
    exchange.publicGetV5MarketInstrumentsInfo = lambda params=None: published
    exchange.set_markets(exchange.fetch_future_markets({"category": "inverse"}))
    return dict(exchange.markets)


def dump(markets: dict[str, Any], path: Path) -> Path:
    """What ``json.dump(exchange.load_markets(), f)`` writes (floats and all)."""
    path.write_text(json.dumps(markets))
    return path


def by_instrument(messages: list[InstrumentMessage]) -> dict[str, dict[str, Any]]:
    return {m["instrument"]: m for m in check_valid(messages)}


def test_okx_markets_become_swap_option_and_spot_definitions(ccxt_lib: Any) -> None:
    found = by_instrument(markets_messages(okx_markets(ccxt_lib), venue="okx", ts=TS))
    assert found["BTC/USDT:USDT"] == {
        "type": "instrument",
        "venue": "okx",
        "instrument": "BTC/USDT:USDT",
        "ts": TS,
        "source": "ccxt-markets",
        "kind": "swap",
        "contract_size": "0.01",  # ctVal 0.01 BTC per contract
        "settlement": "linear",
        "settle_currency": "USDT",
        "base_currency": "BTC",
        "quote_currency": "USDT",
        "underlying": "BTC",
        "price_increment": "0.1",  # tickSz 0.1 (ccxt's precision.price)
        "quantity_increment": "1",  # lotSz 1 contract (ccxt's precision.amount)
        "security_id": "BTC-USDT-SWAP",
        "security_id_source": "venue",
    }
    option = found["BTC/USD:BTC-240628-60000-C"]
    assert (option["kind"], option["settlement"], option["strike"], option["option_type"]) == (
        "option",
        "inverse",
        "60000",
        "call",
    )
    assert option["expiry"] == "2024-06-28T08:00:00.000000Z"  # expTime 1719561600000
    spot = found["BTC/USDT"]
    assert (spot["kind"], "contract_size" in spot, "settlement" in spot) == ("spot", False, False)


def test_bybit_inverse_perpetual_is_settled_in_btc(ccxt_lib: Any) -> None:
    [message] = check_valid(markets_messages(bybit_inverse_markets(ccxt_lib), venue="bybit", ts=TS))
    assert (message["instrument"], message["contract_size"], message["settlement"]) == (
        "BTC/USD:BTC",
        "1",
        "inverse",
    )
    assert (message["settle_currency"], message["quote_currency"]) == ("BTC", "USD")


def test_a_dump_loads_through_the_cli_and_a_swap_fill_books_by_its_contract_size(
    ccxt_lib: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    okx = dump(okx_markets(ccxt_lib), tmp_path / "okx-markets.json")
    run = run_cli("instruments", "load", "--format", "ccxt", str(okx), "--venue", "okx", db=url, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.stdout.strip() == (
        "3 markets: 3 applied, 0 duplicate, 0 parked, 0 ignored, 0 rejected; 3 definitions recorded"
    )
    again = run_cli(
        "instruments", "load", "--format", "ccxt", str(okx), "--venue", "okx", db=url, cwd=tmp_path
    )
    assert "0 applied, 3 duplicate" in again.stdout, again.describe()
    listed = run_cli("instruments", "--json", db=url, cwd=tmp_path).json()
    assert [(r["instrument"], r["contract_size"], r["version"]) for r in listed] == [
        ("BTC/USD:BTC-240628-60000-C", "1", 1),
        ("BTC/USDT", "1", 1),
        ("BTC/USDT:USDT", "0.01", 1),
    ]
    # Buy 10 contracts at 60000, sell 10 at 61000 → 10 × 0.01 × 1000 = 100 USDT.
    with closing(OrderLedger(url)) as ledger:
        base = {
            "venue": "okx",
            "account": "a",
            "instrument": "BTC/USDT:USDT",
            "order_type": "market",
            "ts": TS,
        }
        ledger.record({"type": "request", "client_order_id": "b", "side": "buy", "quantity": "10", **base})
        ledger.record(
            {
                "type": "fill",
                "client_order_id": "b",
                "trade_id": "1",
                "quantity": "10",
                "price": "60000",
                "ts": TS,
            }
        )
        ledger.record({"type": "request", "client_order_id": "s", "side": "sell", "quantity": "10", **base})
        ledger.record(
            {
                "type": "fill",
                "client_order_id": "s",
                "trade_id": "2",
                "quantity": "10",
                "price": "61000",
                "ts": TS,
            }
        )
        [row] = list_positions(ledger.db)
    assert (Decimal(row["realized_pnl"]), row["pnl_currency"]) == (100, "USDT")


def test_a_market_that_cannot_be_read_is_rejected_alone(ccxt_lib: Any, tmp_path: Path) -> None:
    markets = bybit_inverse_markets(ccxt_lib)
    broken = {**markets["BTC/USD:BTC"], "symbol": "ETH/USD:ETH", "contractSize": None}
    with closing(OrderLedger("memory://")) as ledger:
        report = ledger.venues.load_ccxt_markets([*markets.values(), broken], venue="bybit")
        assert (report.counts["applied"], report.counts["rejected"]) == (1, 1)
        assert report.rejected[0].reason == "market ETH/USD:ETH: a contract without a positive contractSize"
        assert [r.instrument for r in ledger.venues.instruments()] == ["BTC/USD:BTC"]


def test_the_cli_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "markets.json"
    bad.write_text("{not json")
    run = run_cli(
        "instruments", "load", "--format", "ccxt", str(bad), "--venue", "okx", db="memory://", cwd=tmp_path
    )
    assert assert_one_line_failure(run, 2).startswith(f"orderledger: {bad}: not JSON:")


def test_plain_ingest_of_instrument_lines_records_definitions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    definition = {"type": "instrument", "venue": "nasdaq", "instrument": "AAPL240621C00190000", "ts": TS}
    path = tmp_path / "defs.jsonl"
    path.write_text(json.dumps({**definition, "kind": "option", "contract_size": "100"}) + "\n")
    run = run_cli("ingest", str(path), db=url, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.startswith("1 lines: 1 applied"), run.describe()
    [row] = run_cli("instruments", "--json", db=url, cwd=tmp_path).json()
    assert (row["kind"], row["contract_size"], row["version"], row["source"]) == (
        "option",
        "100",
        1,
        "ingest",
    )


def test_entries_that_are_not_markets_are_refused_alone(
    ccxt_lib: Any, stored_url: str, tmp_path: Path
) -> None:
    # Given the OKX dump ccxt makes of the published instruments (a swap, an option, a spot
    # pair), followed by three entries that are not markets: a symbol that is a number, the
    # swap reported as spot while flagged a swap (which size, 0.01 or none, would be a guess),
    # and the swap without its contract size,
    markets = okx_markets(ccxt_lib)
    swap = markets["BTC/USDT:USDT"]
    bad = [
        {"symbol": 5},
        {**swap, "symbol": "ETH/USDT:USDT", "type": "spot"},
        {**swap, "symbol": "LTC/USDT:USDT", "contractSize": None},
    ]
    path = dump([*markets.values(), *bad], tmp_path / "markets.json")  # type: ignore[arg-type]
    # When it is loaded by the real command,
    run = run_cli("instruments", "load", "--format", "ccxt", str(path), "--venue", "okx", db=stored_url,
                  cwd=tmp_path)  # fmt: skip
    # Then each bad entry is rejected alone, with its reason on one line (exit 1), and the
    # three markets are recorded: 3 applied + 3 rejected = the 6 entries,
    assert run.returncode == 1, run.describe()
    assert run.stdout.strip() == (
        "6 markets: 3 applied, 0 duplicate, 0 parked, 0 ignored, 3 rejected; 3 definitions recorded"
    )
    assert run.stderr_lines == [
        "market 4: rejected: not a CCXT market: its symbol must be text, not 5",
        "market 5: rejected: market ETH/USDT:USDT: type spot but contract is true",
        "market 6: rejected: market LTC/USDT:USDT: a contract without a positive contractSize",
    ]
    # and none of them is an instrument (no "5", no ETH/USDT:USDT valued at some size),
    listed = cli_json("instruments", db=stored_url, cwd=tmp_path)
    assert [(r["instrument"], r["kind"], r["contract_size"]) for r in listed] == [
        ("BTC/USD:BTC-240628-60000-C", "option", "1"),
        ("BTC/USDT", "spot", "1"),
        ("BTC/USDT:USDT", "swap", "0.01"),
    ]
    # while each is journaled as received, refused with that reason.
    journal = run_cli("messages", "--outcome", "rejected", "--json", db=stored_url, cwd=tmp_path)
    refused = [json.loads(line) for line in journal.stdout.splitlines()]
    assert [(m["line"], m["reason"]) for m in refused] == [
        (number, line.split("rejected: ", 1)[1])
        for number, line in zip((4, 5, 6), run.stderr_lines, strict=True)
    ]
