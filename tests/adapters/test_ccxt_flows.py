"""Whole venue flows from published examples, through ccxt's parsers and ccxt.pro's handlers.

The payloads are built by tests/support/ccxt_flows.py (each builder cites the example it uses
and names every field it derives). Each flow is ingested exactly as ``orderledger ingest
--format ccxt --venue V --account A`` does: one JSON payload per line. Every expected figure
is worked out by hand in the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.events import OrderFilled
from orderledger.domain.values import Liquidity, Status
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from tests.support.books import orders_of, parked_rows, realized, trades_of
from tests.support.ccxt_flows import (
    BYBIT_LINEAR,
    HYPERLIQUID_NEAR,
    LIQUIDATED_USER,
    Recorder,
    binance_spot_ws_flow,
    binanceusdm_rest_flow,
    binanceusdm_ws_flow,
    bybit_inverse_flow,
    hyperliquid_liquidation_fill,
    hyperliquid_liquidation_flow,
    kraken_ws_flow,
    market,
    raw,
)

ACCOUNT = "acc1"
ACCOUNTS = {"hyperliquid": LIQUIDATED_USER}
"""Venues whose flows need the account named as the venue names it: a Hyperliquid liquidation
is ours only when its liquidatedUser is the account (docs/venues.md, "Whose liquidation")."""
MakeLedger = Callable[..., OrderLedger]


def ingest(ledger: OrderLedger, venue: str, *payloads: Any) -> IngestReport:
    """Each payload as one ``--format ccxt`` line."""
    lines = [json.dumps(p) for p in payloads]
    return ledger.ingest_lines(
        lines, origin="flow-test", format="ccxt", venue=venue, account=ACCOUNTS.get(venue, ACCOUNT)
    )


def venue_pnl(ledger: OrderLedger, client_order_id: str) -> list[Decimal | None]:
    """The venue's realized P&L kept on each fill of an order (a cross-check, never booked)."""
    events = ledger.audit.order_events(client_order_id)
    return [e.venue_realized_pnl for e in events if isinstance(e, OrderFilled)]


# ---------------------------------------------------------------------- Binance USDⓈ-M

BINANCEUSDM_TRADES = [
    ("458032600", Decimal("0.001"), Decimal("33465.00"), Decimal("0.013386"), "USDT"),
    ("458032601", Decimal("0.001"), Decimal("33465.22"), Decimal("0.01338609"), "USDT"),
    ("458032604", Decimal("0.001"), Decimal("33468.46"), Decimal("0.00027086"), "BNB"),
]
BINANCEUSDM_ORDERS = [
    ("bot-open-1", "filled", Decimal("0.002"), Decimal("0.002"), "buy"),
    ("pb2jD6ZQHpfzSdUac8VqMK", "filled", Decimal("0.001"), Decimal("0.001"), "sell"),
]


def test_binanceusdm_stream_books_order_partial_fill_fill_then_a_close_whose_pnl_is_rp(
    ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given the user data stream through ccxt.pro's handle_order_update, one line per
    # ORDER_TRADE_UPDATE: the opening buy of 0.002 new, filled 0.001 at 33465.00, then 0.001
    # at 33465.22; then the published close (sell 0.001 at 33468.46, rp 0.00335),
    lines = binanceusdm_ws_flow(ccxt_pro)
    ledger = make_ledger()
    seen = []
    for line in lines:
        assert ingest(ledger, "binanceusdm", line).counts["rejected"] == 0
        state = ledger.order("bot-open-1")
        seen.append((state.status, state.filled_quantity))
    # Then the opening order goes accepted → partially filled → filled,
    assert seen == [
        (Status.ACCEPTED, Decimal("0")),
        (Status.PARTIALLY_FILLED, Decimal("0.001")),
        (Status.FILLED, Decimal("0.002")),
        (Status.FILLED, Decimal("0.002")),
    ]
    # at an average of (33465.00 + 33465.22) / 2 = 33465.11,
    assert ledger.order("bot-open-1").average_price == Decimal("33465.11")
    assert trades_of(ledger) == BINANCEUSDM_TRADES
    # and the ledger's realized P&L is Binance's rp: (33468.46 − 33465.11) × 0.001 = 0.00335.
    assert realized(ledger) == Decimal("0.00335")
    assert venue_pnl(ledger, "pb2jD6ZQHpfzSdUac8VqMK") == [Decimal("0.00335")]


@pytest.mark.parametrize("ws_first", [True, False])
def test_binanceusdm_rest_and_stream_copies_book_once_in_either_order(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger, ws_first: bool
) -> None:
    # Given the same three trades and two orders from the stream (above) and from REST
    # (fetch_my_trades: userTrades without client IDs, so its fills park until the orders
    # line; then fetch_closed_orders),
    ws = binanceusdm_ws_flow(ccxt_pro)
    rest = binanceusdm_rest_flow(ccxt_lib)
    first, second = (ws, rest) if ws_first else (rest, ws)
    ledger = make_ledger()
    assert ingest(ledger, "binanceusdm", *first).counts["rejected"] == 0
    # When the other copy arrives, it books nothing new,
    again = ingest(ledger, "binanceusdm", *second)
    assert (again.counts["applied"], again.counts["rejected"], again.counts["parked"]) == (0, 0, 0)
    # Then orders, trades, fees and P&L are the same whichever copy came first.
    assert orders_of(ledger) == BINANCEUSDM_ORDERS
    assert trades_of(ledger) == BINANCEUSDM_TRADES
    assert realized(ledger) == Decimal("0.00335")  # rp of the closing fill
    assert parked_rows(ledger) == 0


# ---------------------------------------------------------------------- Binance spot / Kraken (ws)


def test_binance_spot_execution_reports_through_handle_order_update(
    ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given a market buy of 2 BNB: NEW, the published partial TRADE (0.332 at 46.866, fee
    # 0.000332 BNB), then the rest (1.668 at 46.866, fee 0.001668 BNB),
    lines = binance_spot_ws_flow(ccxt_pro)
    ledger = make_ledger()
    seen = []
    for line in lines:
        assert ingest(ledger, "binance", line).counts["rejected"] == 0
        state = ledger.order("m4M6AD5MF3b1ERe65l4SPq")
        seen.append((state.status, state.filled_quantity))
    # Then: accepted, 0.332 filled, then all 2 (0.332 + 1.668) at 46.866 with 0.002 BNB of fees.
    assert seen == [
        (Status.ACCEPTED, Decimal("0")),
        (Status.PARTIALLY_FILLED, Decimal("0.332")),
        (Status.FILLED, Decimal("2")),
    ]
    assert trades_of(ledger) == [
        ("109747654", Decimal("0.332"), Decimal("46.866"), Decimal("0.000332"), "BNB"),
        ("109747655", Decimal("1.668"), Decimal("46.866"), Decimal("0.001668"), "BNB"),
    ]
    assert ledger.order("m4M6AD5MF3b1ERe65l4SPq").average_price == Decimal("46.866")


def test_kraken_executions_channel_through_handle_orders_and_handle_my_trades(
    ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given the executions channel for a limit sell of 0.005 BTC/USD at 26500 (userref 3):
    # pending_new, new, trades of 0.002 and 0.003 (fees 0.0212 and 0.0318 USD), then "filled"
    # (which ccxt.pro cannot merge with the earlier reports: Kraken's update omits the symbol
    # its cache is keyed by, so it reaches the ledger as an acknowledgement only),
    lines = kraken_ws_flow(ccxt_pro)
    assert lines[-1][0]["symbol"] is None
    ledger = make_ledger()
    seen = []
    for line in lines:
        assert ingest(ledger, "kraken", line).counts["rejected"] == 0
        state = ledger.order("3")
        seen.append((state.status, state.filled_quantity))
    # Then the order (client order ID "3", Kraken's userref) is accepted, filled 0.002, then all
    # 0.005 (0.002 + 0.003), and its fees add to 0.053 USD = the venue's fee_usd_equiv.
    assert seen == [
        (Status.ACCEPTED, Decimal("0")),
        (Status.ACCEPTED, Decimal("0")),
        (Status.PARTIALLY_FILLED, Decimal("0.002")),
        (Status.FILLED, Decimal("0.005")),
        (Status.FILLED, Decimal("0.005")),
    ]
    assert trades_of(ledger) == [
        ("TKRWS1-DERIV-ED0000", Decimal("0.002"), Decimal("26500"), Decimal("0.0212"), "USD"),
        ("TKRWS2-DERIV-ED0000", Decimal("0.003"), Decimal("26500"), Decimal("0.0318"), "USD"),
    ]
    assert ledger.order("3").time_in_force == "GTC"


# ---------------------------------------------------------------------- liquidation / ADL


@pytest.mark.parametrize("rest_first", [True, False])
def test_hyperliquid_liquidation_is_an_external_market_order_booked_once(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger, rest_first: bool
) -> None:
    # Given a long of 64.8 NEAR bought at 4.95, and the published liquidation fill closing it
    # (64.8 at 4.6879, closedPnl −16.98408) from REST and from the userFills push,
    opening, rest_fill, ws_fill = hyperliquid_liquidation_flow(ccxt_lib, ccxt_pro)
    first, second = (rest_fill, ws_fill) if rest_first else (ws_fill, rest_fill)
    ledger = make_ledger()
    assert ingest(ledger, "hyperliquid", *opening).counts["rejected"] == 0
    # When the liquidation fill arrives on its own (no order of ours names it),
    report = ingest(ledger, "hyperliquid", first)
    assert report.counts["applied"] == 1
    # Then it books at once as an external market sell tagged liquidation, never parked,
    order = ledger.order("ext-hyperliquid-719874965978")
    assert (order.status, order.side.value, order.order_type.value) == (Status.FILLED, "sell", "market")
    assert (order.quantity, order.filled_quantity, order.external) == (Decimal("64.8"), Decimal("64.8"), True)
    assert order.tags == {"liquidation": "true"}
    assert parked_rows(ledger) == 0
    # and the other copy books no new trade: a duplicate, or, when the push came first (ccxt's
    # WebSocket parse leaves takerOrMaker out), the REST copy completes the fill as a taker's.
    again = ingest(ledger, "hyperliquid", second)
    assert (again.counts["applied"], again.counts["duplicate"]) == ((0, 1) if rest_first else (1, 0))
    liquidation = [t for t in ledger.trades() if t.trade_id == "5787071443114480"]
    assert [t.liquidity for t in liquidation] == [Liquidity.TAKER]
    assert trades_of(ledger) == [
        ("5787071443000000", Decimal("64.8"), Decimal("4.95"), Decimal("0.128304"), "USDC"),
        ("5787071443114480", Decimal("64.8"), Decimal("4.6879"), Decimal("0.131231"), "USDC"),
    ]
    # Realized P&L = closedPnl: (4.6879 − 4.95) × 64.8 = −0.2621 × 64.8 = −16.98408.
    assert realized(ledger) == Decimal("-16.98408")


REFUSED_SPLIT = (
    "client order ID 'ext-hyperliquid-719874965978' is already used by an order with different quantity"
)


def test_hyperliquid_liquidation_fills_on_separate_lines_refuse_the_later_line(
    ccxt_lib: Any, make_ledger: MakeLedger
) -> None:
    # The documented limitation (docs/venues.md, "Liquidation and ADL"): Hyperliquid's fills do
    # not state their order's size, so a liquidation's external request is sized by the fills
    # of its order in the same payload. Given the published liquidation split in two fills of
    # the same order (derived: 40 and 24.8, tids +1 and +2) on separate lines,
    rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_NEAR)
    fills = [
        rest.parse_trade(hyperliquid_liquidation_fill() | {"sz": size, "tid": 5787071443114480 + n})
        for n, size in ((1, "40"), (2, "24.8"))
    ]
    ledger = make_ledger()
    first = ingest(ledger, "hyperliquid", [fills[0]])
    second = ingest(ledger, "hyperliquid", [fills[1]])
    # Then the first line books an order of 40, filled; the second states 24.8 for the same
    # order and is refused whole, with its reason, nothing of it booked or parked,
    assert first.counts["applied"] == 1
    assert second.counts["rejected"] == 1
    assert second.rejected[0].reason == REFUSED_SPLIT
    order = ledger.order("ext-hyperliquid-719874965978")
    assert (order.quantity, order.filled_quantity) == (Decimal("40"), Decimal("40"))
    assert parked_rows(ledger) == 0
    # while two such fills in one payload (one REST reply, one userFills push) book both (the
    # same fills given another order ID, 719874965979, in the same ledger: derived).
    other = [fill | {"order": "719874965979", "id": str(int(fill["id"]) + 10)} for fill in fills]
    assert ingest(ledger, "hyperliquid", other).counts["applied"] == 1
    order = ledger.order("ext-hyperliquid-719874965979")
    assert (order.quantity, order.filled_quantity) == (Decimal("64.8"), Decimal("64.8"))  # 40 + 24.8


@pytest.mark.parametrize(("exec_type", "tag"), [("BustTrade", "liquidation"), ("AdlTrade", "adl")])
def test_bybit_liquidation_fills_on_separate_lines_share_the_order_quantity(
    ccxt_pro: Any, make_ledger: MakeLedger, exec_type: str, tag: str
) -> None:
    # Given two executions of one order Bybit closed by itself (the WS execution example with
    # execType BustTrade or AdlTrade, orderQty 0.002, two fills of 0.001: derived), each
    # pushed alone on the execution topic,
    ws = market(ccxt_pro, "bybit", **BYBIT_LINEAR)
    client = Recorder()
    lines = []
    for n, leaves in ((1, "0.001"), (2, "0")):
        execution = raw("bybit", "ws_execution") | {
            "execType": exec_type,
            "execId": f"forced-{n}",
            "orderQty": "0.002",
            "leavesQty": leaves,
            "side": "Sell",
        }
        ws.handle_my_trades(client, {"topic": "execution", "data": [execution]})
        lines.append(client.last()[-1:])
    ledger = make_ledger()
    report = ingest(ledger, "bybit", *lines)
    # Then both lines book into one external market order of Bybit's orderQty 0.002.
    assert (report.counts["applied"], report.counts["rejected"]) == (2, 0)
    order = ledger.order("ext-bybit-aee7453a-a100-465f-857a-3db780e9329a")
    assert (order.status, order.quantity, order.filled_quantity) == (
        Status.FILLED,
        Decimal("0.002"),
        Decimal("0.002"),
    )
    assert order.tags == {tag: "true"}
    # And a repeat of the first line books nothing new.
    assert ingest(ledger, "bybit", lines[0]).counts["applied"] == 0


# ---------------------------------------------------------------------- Bybit inverse

BYBIT_INVERSE_TRADES = [
    ("inv-exec-1", Decimal("60"), Decimal("50000"), Decimal("0.00000024"), "BTC"),
    ("inv-exec-2", Decimal("40"), Decimal("50000"), Decimal("0.00000016"), "BTC"),
    ("inv-exec-3", Decimal("100"), Decimal("62500"), Decimal("0.00000088"), "BTC"),
]


def test_bybit_inverse_fills_and_fees_in_btc(ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger) -> None:
    # Given an inverse BTCUSD round trip: a limit buy of 100 contracts (USD) at 50000 filled
    # 60 + 40, fees 0.00000024 + 0.00000016 BTC; a market sell of 100 at 62500, fee 0.00000088
    # BTC, execPnl 0.0004 BTC; executions first (they park), then the orders,
    lines = bybit_inverse_flow(ccxt_lib, ccxt_pro)
    ledger = make_ledger()
    report = ingest(ledger, "bybit", *lines)
    assert report.counts["rejected"] == 0
    # Then both external orders are filled with every fill once, fees in BTC as charged,
    assert orders_of(ledger) == [
        ("ext-bybit-inv-close-1", "filled", Decimal("100"), Decimal("100"), "sell"),
        ("ext-bybit-inv-open-1", "filled", Decimal("100"), Decimal("100"), "buy"),
    ]
    assert trades_of(ledger) == BYBIT_INVERSE_TRADES
    assert parked_rows(ledger) == 0
    # and Bybit's execPnl is kept on the closing fill for the cross-check.
    assert venue_pnl(ledger, "ext-bybit-inv-close-1") == [Decimal("0.0004")]


BYBIT_INVERSE_INSTRUMENT = {
    "type": "instrument",
    "venue": "bybit",
    "instrument": "BTC/USD:BTC",
    "ts": "2025-09-14T00:00:00Z",
    "kind": "swap",
    "contract_size": "1",
    "settlement": "inverse",
    "settle_currency": "BTC",
    "base_currency": "BTC",
    "quote_currency": "USD",
}
"""Bybit BTCUSD as the instruments engineer's ``instrument`` message states it (1 contract =
1 USD, settled in BTC): fed before the flow."""


def test_bybit_inverse_pnl_is_in_btc_and_equals_exec_pnl(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given BTCUSD defined as inverse (contract 1 USD, settled in BTC), then the round trip,
    ledger = make_ledger()
    assert ledger.ingest_lines([json.dumps(BYBIT_INVERSE_INSTRUMENT)]).counts["rejected"] == 0
    ingest(ledger, "bybit", *bybit_inverse_flow(ccxt_lib, ccxt_pro))
    # Then realized P&L = qty × contract_size × (1/avg − 1/exit) for a long
    # = 100 × 1 × (1/50000 − 1/62500) = 100 × (0.00002 − 0.000016) = 0.0004 BTC = execPnl
    # (linear arithmetic would say (62500 − 50000) × 100 = 1,250,000).
    assert realized(ledger) == Decimal("0.0004")
