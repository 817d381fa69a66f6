"""The worked examples docs/examples/ccxt-<venue>.jsonl: up to date, and booking what the docs say.

Each file is regenerated in memory by tests/support/ccxt_examples.py (from the tested flows of
ccxt_flows.py); a committed file that differs fails here (rewrite them with
``python -m tests.support.ccxt_examples --write``). Each is then ingested as
``orderledger ingest --format ccxt --venue V --account A FILE`` does (A: the example's
account), and its orders, trades (with fees) and realized P&L are checked against figures
worked out by hand, the same ones docs/venues.md shows.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.books import orders_of, parked_rows, realized, trades_of
from tests.support.ccxt_examples import EXAMPLES, Example, render

BY_NAME = {example.name: example for example in EXAMPLES}
EXPECTED: dict[str, dict[str, Any]] = {
    # Opening buy 0.002 filled 0.001 at 33465.00 + 0.001 at 33465.22 (average 33465.11), the
    # published close of 0.001 at 33468.46: (33468.46 − 33465.11) × 0.001 = 0.00335 = rp.
    # The REST lines repeat the stream: 4 applied, 2 duplicate.
    "binance": {
        "counts": (4, 2),
        "orders": [
            ("bot-open-1", "filled", D("0.002"), D("0.002"), "buy"),
            ("pb2jD6ZQHpfzSdUac8VqMK", "filled", D("0.001"), D("0.001"), "sell"),
        ],
        "trades": [
            ("458032600", D("0.001"), D("33465"), D("0.013386"), "USDT"),
            ("458032601", D("0.001"), D("33465.22"), D("0.01338609"), "USDT"),
            ("458032604", D("0.001"), D("33468.46"), D("0.00027086"), "BNB"),
        ],
        "realized": D("0.00335"),
    },
    # Buy 0.1 LINK at 13.143, sell 0.1 at 13.142: (13.142 − 13.143) × 0.1 = −0.0001 = fillPnl;
    # OKX's fee −0.00026284 (its sign: a cost) is a cost of 0.00026284 from both channels.
    "okx": {
        "counts": (2, 2),
        "orders": [
            ("ext-okx-2657625147249614000", "filled", D("0.1"), D("0.1"), "buy"),
            ("ext-okx-2657625147249614848", "filled", D("0.1"), D("0.1"), "sell"),
        ],
        "trades": [
            ("293429600", D("0.1"), D("13.143"), D("0.00026284"), "USDT"),
            ("293429690", D("0.1"), D("13.142"), D("0.00026284"), "USDT"),
        ],
        "realized": D("-0.0001"),
    },
    # Buy 0.001 at 123498, sell 0.001 at 122529.9: (122529.9 − 123498) × 0.001 = −0.9681 = execPnl.
    "bybit": {
        "counts": (4, 0),
        "orders": [
            ("ext-bybit-aee7453a-a100-465f-857a-3db780e9329a", "filled", D("0.001"), D("0.001"), "buy"),
            ("ext-bybit-f5f2d355-9a11-4af3-9b83-aa1d6ab6ddfe", "filled", D("0.001"), D("0.001"), "sell"),
        ],
        "trades": [
            ("135dbae5-cbed-5275-9290-3956bb2ed907", D("0.001"), D("123498"), D("0.0679239"), "USDT"),
            ("2d3f1f4e-derived-close", D("0.001"), D("122529.9"), D("0.06739145"), "USDT"),
        ],
        "realized": D("-0.9681"),
    },
    # Sell 0.005 BTC at 26500 in 0.002 + 0.003; fees 0.0212 + 0.0318 = 0.053 USD; a short, no
    # realized P&L. pending_new and new are one request (the second line a duplicate), and so
    # is the symbol-less "filled" report.
    "kraken": {
        "counts": (3, 2),
        "orders": [("3", "filled", D("0.005"), D("0.005"), "sell")],
        "trades": [
            ("TKRWS1-DERIV-ED0000", D("0.002"), D("26500"), D("0.0212"), "USD"),
            ("TKRWS2-DERIV-ED0000", D("0.003"), D("26500"), D("0.0318"), "USD"),
        ],
        "realized": D("0"),
    },
    # Long 64.8 NEAR at 4.95, liquidated at 4.6879: (4.6879 − 4.95) × 64.8 = −16.98408 =
    # closedPnl; the liquidation is an external market sell; its WS copy is a duplicate.
    "hyperliquid": {
        "counts": (3, 1),
        "orders": [
            ("ext-hyperliquid-719874960000", "filled", D("64.8"), D("64.8"), "buy"),
            ("ext-hyperliquid-719874965978", "filled", D("64.8"), D("64.8"), "sell"),
        ],
        "trades": [
            ("5787071443000000", D("64.8"), D("4.95"), D("0.128304"), "USDC"),
            ("5787071443114480", D("64.8"), D("4.6879"), D("0.131231"), "USDC"),
        ],
        "realized": D("-16.98408"),
    },
    # An order without a client index (external), 10.2304 of 36.0386 sold; REST trades carry
    # no fee.
    "lighter": {
        "counts": (2, 0),
        "orders": [("ext-lighter-281474977354074", "partially_filled", D("36.0386"), D("10.2304"), "sell")],
        "trades": [("17609", D("10.2304"), D("2958.75"), None, None)],
        "realized": D("0"),
    },
}


def test_every_example_has_expectations() -> None:
    assert (
        sorted(BY_NAME) == sorted(EXPECTED) == ["binance", "bybit", "hyperliquid", "kraken", "lighter", "okx"]
    )


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_committed_example_is_what_the_flows_generate(name: str, ccxt_lib: Any, ccxt_pro: Any) -> None:
    example = BY_NAME[name]
    assert example.path.read_text("utf-8") == render(example, ccxt_lib, ccxt_pro), (
        f"{example.path.name} is stale: run python -m tests.support.ccxt_examples --write"
    )


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_example_books_what_the_docs_show(name: str, make_ledger: Callable[..., OrderLedger]) -> None:
    example: Example = BY_NAME[name]
    expected = EXPECTED[name]
    ledger = make_ledger()
    with example.path.open("rb") as lines:
        report = ledger.ingest_lines(
            lines, origin=example.path.name, format="ccxt", venue=example.venue, account=example.account
        )
    assert (report.counts["applied"], report.counts["duplicate"]) == expected["counts"]
    assert (report.counts["rejected"], report.counts["parked"], parked_rows(ledger)) == (0, 0, 0)
    assert orders_of(ledger) == expected["orders"]
    assert trades_of(ledger) == expected["trades"]
    assert realized(ledger) == expected["realized"]
