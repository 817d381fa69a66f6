"""Orders the ledger never requested are booked, not parked (docs/venues.md, "Orders placed
elsewhere"): a venue report carrying an order's account, instrument, side, quantity and venue
order ID, under a client index nobody recorded here (chosen by Lighter's UI or another bot), books
an external order that keeps the index as an alias; its fills apply; a request recorded later
under that index resolves to that order. Payloads: Lighter's order and trade as ccxt 4.5.90
quotes them (tests/adapters/fixtures/ccxt_venues.json), fed to the real command natively and
through ccxt's own Lighter parsers; fields changed from the published values are marked "derived".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.ccxt_flows import LIGHTER_ETH, market, raw
from tests.support.cli import cli_json, parse_ingest, run_cli

ACCOUNT = "1077"  # the published order's owner_account_index
ORDER_INDEX = 281474977354074  # the published order's order_index
EXTERNAL = f"ext-lighter-{ORDER_INDEX}"
INDEX = 4242  # derived: a client_order_index chosen outside this ledger (Lighter's UI, another bot)
MARKETS = {"order_books": [{"symbol": "ETH", "market_id": 0}]}  # derived: ETH is market 0


def _order(**changes: Any) -> dict[str, Any]:
    """The published order (sell 36.0386 ETH at 2221.60), open, limit, good-till-time, under INDEX."""
    order = raw("lighter", "order") | {"status": "open", "type": "limit", "time_in_force": "good-till-time"}
    return order | {"client_order_index": INDEX, "client_order_id": str(INDEX)} | changes


def _trade() -> dict[str, Any]:
    """The published trade (10.2304 ETH at 2958.75, is_maker_ask) as our ask of that order."""
    trade = raw("lighter", "trade") | {"ask_id": ORDER_INDEX, "ask_client_id": INDEX}
    return trade | {"ask_account_id": int(ACCOUNT), "bid_account_id": 20}


def _write(path: Path, *payloads: object) -> str:
    path.write_text("".join(json.dumps(p) + "\n" for p in payloads), encoding="utf-8")
    return str(path)


def _ingest(db: str, cwd: Path, path: str, *options: str) -> dict[str, int]:
    run = run_cli("ingest", *options, path, db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    return {k: v for k, v in parse_ingest(run.stdout).counts.items() if v}


def _lighter(db: str, cwd: Path, name: str, *payloads: object) -> dict[str, int]:
    """One run of ``ingest --format lighter``: the market map (the adapter's, per run), then these."""
    path = _write(cwd / name, MARKETS, *payloads)
    counts = _ingest(db, cwd, path, "--format", "lighter", "--venue", "lighter", "--account", ACCOUNT)
    assert counts.pop("ignored") == 1  # the market map books nothing
    return counts


def _parked(db: str, cwd: Path) -> list[dict[str, Any]]:
    """The messages still parked (``messages --parked --json``: one JSON line each)."""
    run = run_cli("messages", "--parked", "--json", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    return [json.loads(line) for line in run.stdout.splitlines()]


def _book(db: str, cwd: Path) -> list[tuple[Any, ...]]:
    return [
        (
            o["client_order_id"],
            o["status"],
            o["quantity"],
            o["filled_quantity"],
            o["average_price"],
            o["aliases"],
        )
        for o in cli_json("orders", db=db, cwd=cwd)
    ]


def test_a_lighter_order_under_an_unrecorded_client_index_is_booked_and_a_late_request_finds_it(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    # Given the market map, then our ask's trade before any report of its order (a bare fill:
    # no side of the order, no quantity), then the order itself, under client index 4242 that
    # no request here recorded
    counts = _lighter(db, tmp_path, "first.jsonl", {"trades": [_trade()]})
    # Then the bare fill parks: it lacks the details to book an order
    assert counts == {"parked": 1}
    counts = _lighter(db, tmp_path, "second.jsonl", {"orders": [_order()]})
    # When the order arrives it is booked as an external order keyed by Lighter's order index,
    # keeping the index as its alias, and the parked trade applies to it
    assert counts == {"applied": 1}
    assert _parked(db, tmp_path) == []
    assert _book(db, tmp_path) == [
        (EXTERNAL, "partially_filled", "36.0386", "10.2304", "2958.75", {"client_index": str(INDEX)})
    ]
    trades = cli_json("trades", db=db, cwd=tmp_path)
    assert [(t["client_order_id"], t["trade_id"], t["side"], t["quantity"], t["price"]) for t in trades] == [
        (EXTERNAL, "17609", "sell", "10.2304", "2958.75")
    ]

    # When a request is recorded later for that index (a process that recorded intent late)
    late = {
        "type": "request",
        "client_order_id": "c-late",
        "venue": "lighter",
        "account": ACCOUNT,
        "instrument": "ETH/USDC:USDC",
        "side": "sell",
        "order_type": "limit",
        "quantity": "36.0386",
        "price": "2221.60",
        "aliases": {"client_index": str(INDEX)},
        "ts": "2025-12-22T07:18:52Z",
    }
    cancel = {
        "type": "cancel_requested",
        "client_order_id": "c-late",
        "venue": "lighter",
        "ts": "2025-12-22T07:19:00Z",
    }
    counts = _ingest(db, tmp_path, _write(tmp_path / "late.jsonl", late, cancel))
    # Then it resolves to that order (the request's ID becomes an alias), never a second order,
    # and the cancel naming the request's ID reaches it
    assert counts == {"applied": 2}
    aliases = {"client_index": str(INDEX), "client_order_id": "c-late"}
    assert _book(db, tmp_path) == [(EXTERNAL, "pending_cancel", "36.0386", "10.2304", "2958.75", aliases)]

    # When Lighter reports it canceled after 10.2304 of 36.0386 filled
    counts = _lighter(
        db, tmp_path, "third.jsonl", {"orders": [_order(status="canceled", filled_base_amount="10.2304")]}
    )
    assert counts == {"applied": 1}
    assert _book(db, tmp_path) == [(EXTERNAL, "canceled", "36.0386", "10.2304", "2958.75", aliases)]
    # And the position is the short the one fill made: sold 10.2304 at 2958.75, nothing bought
    # back, so nothing realized; its cost is 10.2304 × 2958.75 = 30269.448 (the trade's own
    # usd_amount, 30269.196000, is Lighter's figure at its own rounding)
    positions = cli_json("positions", db=db, cwd=tmp_path)
    assert [(p["quantity"], p["average_price"], p["realized_pnl"]) for p in positions] == [
        ("-10.2304", "2958.75", "0")
    ]
    assert cli_json("verify", db=db, cwd=tmp_path)["ok"] is True


def test_the_ccxt_route_books_a_lighter_order_under_an_unrecorded_index_alike(
    file_ledger_url: str, tmp_path: Path, ccxt_lib: Any
) -> None:
    db = file_ledger_url
    # Given the same order and trade parsed by ccxt's own Lighter parsers (parse_order's
    # clientOrderId is the index, "4242"; parse_trade leaves it to info.ask_client_id, and picks
    # our side by the trade's account_index, derived as tests/support/ccxt_flows.py does)
    exchange = market(ccxt_lib, "lighter", **LIGHTER_ETH)
    order = exchange.parse_order(_order())
    trade = exchange.parse_trade(_trade() | {"account_index": ACCOUNT})
    assert order["clientOrderId"] == str(INDEX)
    # When the trade, then the order, are fed through --format ccxt
    path = _write(tmp_path / "ccxt.jsonl", trade, order)
    counts = _ingest(db, tmp_path, path, "--format", "ccxt", "--venue", "lighter", "--account", ACCOUNT)
    # Then the trade waits for the order, which books as the external order, and applies to it
    # (both in one batch: the trade's line reports its final outcome)
    assert counts == {"applied": 2}
    assert _parked(db, tmp_path) == []
    assert _book(db, tmp_path) == [
        (EXTERNAL, "partially_filled", "36.0386", "10.2304", "2958.75", {"client_index": str(INDEX)})
    ]
    positions = cli_json("positions", db=db, cwd=tmp_path)
    assert [(p["quantity"], p["realized_pnl"]) for p in positions] == [("-10.2304", "0")]
