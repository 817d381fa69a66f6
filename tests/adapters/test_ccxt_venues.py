"""Real venue payloads, parsed offline by ccxt 4.5.90 itself, booked through ``--format ccxt``.

Every raw payload comes from tests/adapters/fixtures/ccxt_venues.json, whose entries are the
venues' published examples as ccxt's own source quotes them (each entry's ``_source`` names the
file and lines). Where a flow needs a step the venue's example does not show (the opening trade
of a position the example closes, a later status of the same order), the test derives it from
the example by changing the fields it names, and says so. Markets are declared with
``set_markets`` (contracts with ``contractSize``, ``linear``, ``inverse``, ``settle``).

Each flow is ingested exactly as ``orderledger ingest --format ccxt`` does
(``OrderLedger.ingest_lines(format="ccxt", venue=..., account=...)``): one JSON payload per line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.aliases import client_index_alias
from orderledger.infrastructure.adapters.ccxt.payloads import payload_messages
from orderledger.infrastructure.adapters.common import time_from_millis
from orderledger.infrastructure.application.ledger import IngestReport, OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_positions
from tests.support.adapters import check_valid
from tests.support.books import realized, trades_of
from tests.support.ccxt_flows import (
    BYBIT_LINEAR,
    HYPERLIQUID_ETH,
    KRAKEN_XRPEUR,
    LIGHTER_ETH,
    OKX_LINK_SWAP,
    Recorder,
    binance_spot_ws_flow,
    bybit_closing_execution,
    bybit_linear_flow,
    market,
    okx_fill,
    okx_rest_flow,
    okx_ws_flow,
    raw,
)

ACCOUNT = "acc1"
MakeLedger = Callable[..., OrderLedger]


def ingest(ledger: OrderLedger, venue: str, *payloads: Any) -> IngestReport:
    """Each payload as one ``--format ccxt`` line."""
    lines = [json.dumps(p) for p in payloads]
    return ledger.ingest_lines(lines, origin="venue-test", format="ccxt", venue=venue, account=ACCOUNT)


# ---------------------------------------------------------------------- Bybit (linear)


def test_bybit_linear_orders_without_order_link_id_are_external_and_pnl_matches_execpnl(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given ccxt.pro's parse of both executions from the private "execution" topic and ccxt's
    # REST parse of both orders (orderLinkId "" → no client order ID), Bybit reporting IOC,
    opening_fill, closing_fill, opening, closing = bybit_linear_flow(ccxt_lib, ccxt_pro)
    assert opening["clientOrderId"] is None and opening["timeInForce"] == "IOC"
    ledger = make_ledger()
    # When the fills arrive before their orders (they park), then the orders,
    report = ingest(ledger, "bybit", opening_fill, closing_fill, opening, closing)
    # Then both orders are external, filled, and every fill is booked once with its fee.
    assert report.counts["rejected"] == 0
    for venue_order_id in ("aee7453a-a100-465f-857a-3db780e9329a", "f5f2d355-9a11-4af3-9b83-aa1d6ab6ddfe"):
        state = ledger.order(f"ext-bybit-{venue_order_id}")
        assert (state.status, state.filled_quantity) == (Status.FILLED, Decimal("0.001"))
    assert trades_of(ledger) == [
        (
            "135dbae5-cbed-5275-9290-3956bb2ed907",
            Decimal("0.001"),
            Decimal("123498"),
            Decimal("0.0679239"),
            "USDT",
        ),
        ("2d3f1f4e-derived-close", Decimal("0.001"), Decimal("122529.9"), Decimal("0.06739145"), "USDT"),
    ]
    # And the ledger's realized P&L equals the venue's execPnl: (122529.9 − 123498) × 0.001.
    assert realized(ledger) == Decimal("-0.9681") == Decimal("0") + Decimal("-0.9681")


def test_bybit_partially_filled_canceled_ends_canceled_not_open(
    ccxt_lib: Any, make_ledger: MakeLedger
) -> None:
    # Given the v5 order example as Bybit reports a market order that filled 0.001 of 0.002 and
    # had its rest canceled (orderStatus PartiallyFilledCanceled; qty/leavesQty derived),
    rest = market(ccxt_lib, "bybit", **BYBIT_LINEAR)
    reported = raw("bybit", "order_v5")
    reported.update(orderStatus="PartiallyFilledCanceled", qty="0.002", orderLinkId="bot-7")
    order = rest.parse_order(reported)
    assert (order["status"], order["filled"], order["amount"]) == ("closed", 0.001, 0.002)  # ccxt's reading
    execution = bybit_closing_execution() | {"orderLinkId": "bot-7"}
    ws = market(ccxt_lib, "bybit", **BYBIT_LINEAR)
    trade = ws.parse_trade(execution)
    ledger = make_ledger()
    report = ingest(ledger, "bybit", [trade, order])
    assert report.counts["rejected"] == 0
    # Then the order is canceled (terminal) with its one fill, and Bybit's IOC is recorded.
    state = ledger.order("bot-7")
    assert (state.status, state.filled_quantity, state.quantity) == (
        Status.CANCELED,
        Decimal("0.001"),
        Decimal("0.002"),
    )
    assert state.time_in_force == "IOC"


# ---------------------------------------------------------------------- OKX (swap)


def test_okx_swap_fee_is_the_same_cost_from_rest_and_from_the_orders_channel(
    ccxt_lib: Any, ccxt_pro: Any
) -> None:
    # Given the same OKX order (filled, fee "-0.00026284": OKX signs a cost negative),
    rest = market(ccxt_lib, "okx", **OKX_LINK_SWAP)
    ws = market(ccxt_pro, "okx", **OKX_LINK_SWAP)
    client = Recorder()
    ws.handle_my_trades(
        client, {"arg": {"channel": "orders", "instType": "SWAP"}, "data": [raw("okx", "order_swap")]}
    )
    ws_trade = client.last()[0]
    assert ws_trade["fee"]["cost"] == -0.00026284  # ccxt.pro passes OKX's sign through
    rest_trade = rest.parse_trade(okx_fill(raw("okx", "order_swap")))
    assert rest_trade["fee"]["cost"] == 0.00026284  # ccxt's REST parser negates it
    # Then both copies give one fill with fee +0.00026284 USDT (a cost), and fillPnl kept.
    (from_ws,) = check_valid(payload_messages(ws_trade, venue="okx", account=ACCOUNT))
    (from_rest,) = check_valid(payload_messages(rest_trade, venue="okx", account=ACCOUNT))
    assert from_ws == from_rest
    assert (from_ws["fee"], from_ws["fee_currency"], from_ws["venue_realized_pnl"]) == (
        "0.00026284",
        "USDT",
        "-0.0001",
    )


@pytest.mark.parametrize("ws_first", [True, False])
def test_okx_swap_close_books_once_in_either_arrival_order_and_pnl_matches_fillpnl(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger, ws_first: bool
) -> None:
    # Given the example (a reduce-only sell of 0.1 contract at 13.142, fillPnl −0.0001) and the
    # opening buy it closes (ccxt_flows.okx_opening_order: bought at 13.143), each as ccxt.pro's
    # orders channel resolves it (trades and the order cache) and as ccxt's REST parsers read it,
    ws_trades, ws_orders = okx_ws_flow(ccxt_pro)
    rest_trades, rest_orders = okx_rest_flow(ccxt_lib)
    ledger = make_ledger()
    first, second = (
        ([ws_trades, ws_orders], [rest_trades, rest_orders])
        if ws_first
        else (
            [rest_trades, rest_orders],
            [ws_trades, ws_orders],
        )
    )
    report = ingest(ledger, "okx", *first, *second)
    assert report.counts["rejected"] == 0
    assert trades_of(ledger) == [
        ("293429600", Decimal("0.1"), Decimal("13.143"), Decimal("0.00026284"), "USDT"),
        ("293429690", Decimal("0.1"), Decimal("13.142"), Decimal("0.00026284"), "USDT"),
    ]
    for ord_id in ("2657625147249614000", "2657625147249614848"):
        state = ledger.order(f"ext-okx-{ord_id}")
        assert (state.status, state.filled_quantity) == (Status.FILLED, Decimal("0.1"))
    assert realized(ledger) == Decimal("-0.0001")  # OKX's fillPnl on the closing fill


def test_okx_btc_swap_pnl_scales_by_contract_value(ccxt_lib: Any, make_ledger: MakeLedger) -> None:
    # BTC-USDT-SWAP: ctVal 0.01 BTC per contract (okx.py lines 4126-4169, the algo order example).
    # The swap example's two fills moved to it (derived): buy 0.1 contract at 13.143, sell at
    # 13.142. Realized = (13.142 − 13.143) × 0.1 × 0.01 = −0.000001 USDT, as OKX's fillPnl would say.
    btc = dict(
        OKX_LINK_SWAP, id="BTC-USDT-SWAP", symbol="BTC/USDT:USDT", base="BTC", baseId="BTC", contractSize=0.01
    )
    rest = market(ccxt_lib, "okx", **btc)
    opening = raw("okx", "order_swap") | {
        "instId": "BTC-USDT-SWAP",
        "ordId": "1",
        "tradeId": "11",
        "side": "buy",
        "fillPx": "13.143",
        "px": "13.143",
    }
    closing = raw("okx", "order_swap") | {"instId": "BTC-USDT-SWAP", "fillPnl": "-0.000001"}
    ledger = make_ledger()
    # The definition comes from the markets ccxt itself built (what load_markets() returns).
    loaded = ledger.venues.load_ccxt_markets(json.loads(rest.json(rest.markets)), venue="okx")
    assert loaded.counts["applied"] == 1
    ingest(
        ledger,
        "okx",
        [rest.parse_order(opening), rest.parse_trade(okx_fill(opening))],
        [rest.parse_order(closing), rest.parse_trade(okx_fill(closing))],
    )
    assert realized(ledger) == Decimal("-0.000001")


# ---------------------------------------------------------------------- Lighter (client index)


def test_lighter_client_index_resolves_to_the_callers_order_not_a_phantom(
    ccxt_lib: Any, make_ledger: MakeLedger
) -> None:
    # Given the caller's request for "c-eth-1", recording its numeric client index as an alias,
    index = client_index_alias("c-eth-1")["client_index"]
    request = {
        "type": "request",
        "client_order_id": "c-eth-1",
        "account": ACCOUNT,
        "venue": "lighter",
        "instrument": "ETH/USDC:USDC",
        "side": "sell",
        "order_type": "limit",
        "quantity": "36.0386",
        "price": "2221.6",
        "aliases": {"client_index": index},
        "ts": "2025-12-22T07:18:00Z",
    }
    ledger = make_ledger()
    ledger.ingest_lines([json.dumps(request)])
    # and Lighter's order example reporting it (client_order_index/client_order_id set to that
    # index, status open and nothing filled: derived), then its trade example as our ask
    # (ask_id = the order, ask_client_id = the index, ask_account_id = our account: derived),
    exchange = market(ccxt_lib, "lighter", **LIGHTER_ETH)
    reported = raw("lighter", "order") | {
        "client_order_index": int(index),
        "client_order_id": index,
        "status": "open",
        "remaining_base_amount": "36.0386",
        "time_in_force": "good-till-time",
        "type": "limit",
    }
    order = exchange.parse_order(reported)
    assert order["clientOrderId"] == index  # ccxt reports the index as the client order ID
    traded = raw("lighter", "trade") | {
        "ask_id": 281474977354074,
        "ask_client_id": int(index),
        "ask_account_id": 1077,
        "bid_account_id": 20,
        "account_index": "1077",
    }
    trade = exchange.parse_trade(traded)
    report = ingest(ledger, "lighter", order, trade)
    # Then both resolve to c-eth-1 through the alias: one order, partly filled, no phantom.
    assert report.counts["rejected"] == 0
    state = ledger.order("c-eth-1")
    assert (state.status, state.filled_quantity) == (Status.PARTIALLY_FILLED, Decimal("10.2304"))
    assert state.venue_order_ids == ["281474977354074"]
    assert [o["client_order_id"] for o in list_orders(ledger.db)] == ["c-eth-1"]
    # Lighter's REST trade has no fee (its websocket copy does): booked without one.
    assert trades_of(ledger) == [("17609", Decimal("10.2304"), Decimal("2958.75"), None, None)]


def test_lighter_order_without_client_index_is_external(ccxt_lib: Any, make_ledger: MakeLedger) -> None:
    # Lighter's example as published: client_order_index 0 (none), status
    # canceled-margin-not-allowed, which ccxt reads as rejected: nobody's order, nothing to book.
    exchange = market(ccxt_lib, "lighter", **LIGHTER_ETH)
    order = exchange.parse_order(raw("lighter", "order"))
    assert (order["clientOrderId"], order["status"]) == (None, "rejected")
    assert payload_messages(order, venue="lighter", account=ACCOUNT) == []
    # Canceled instead (derived): an external order, acknowledged then canceled.
    canceled = exchange.parse_order(raw("lighter", "order") | {"status": "canceled"})
    ledger = make_ledger()
    assert ingest(ledger, "lighter", canceled).counts["rejected"] == 0
    assert ledger.order("ext-lighter-281474977354074").status is Status.CANCELED


# ---------------------------------------------------------------------- Kraken


def test_kraken_userref_zero_is_no_client_id_and_trade_id_stubs_are_noted(
    ccxt_lib: Any, make_ledger: MakeLedger
) -> None:
    exchange = market(ccxt_lib, "kraken", **KRAKEN_XRPEUR)
    exchange.markets_by_altname = {"XRPEUR": exchange.markets["XRP/EUR"]}
    # Given Kraken's open-order example (userref 0) as a limit sell with an id, and as
    # QueryOrders with trades=true reports it partly done: a trades list of IDs only (derived),
    listed = raw("kraken", "open_order_userref_0")
    listed["descr"] |= {"ordertype": "limit", "price": "0.5", "order": "sell 10.00000000 XRPEUR @ limit 0.5"}
    order = exchange.parse_order(listed | {"id": "OXVPSU-Q726F-L3SDEP"})
    assert order["clientOrderId"] == "0"  # ccxt passes userref 0 through
    done = exchange.parse_order(
        listed | {"id": "OXVPSU-Q726F-L3SDEP", "vol_exec": "4.00000000", "trades": ["TZX2WP-XSEOP-FP7WYR"]}
    )
    assert done["trades"][0]["amount"] is None
    ledger = make_ledger()
    report = ingest(ledger, "kraken", order, done)
    # Then the order is external (keyed by its txid), and the stub is a note, not a refusal.
    assert report.counts["rejected"] == 0
    state = ledger.order("ext-kraken-OXVPSU-Q726F-L3SDEP")
    assert (state.status, state.quantity, state.price) == (Status.ACCEPTED, Decimal("10"), Decimal("0.5"))
    notes: list[str] = []
    payload_messages(done, venue="kraken", account=ACCOUNT, notes=notes)
    assert notes == [
        "trade 'TZX2WP-XSEOP-FP7WYR' of order 'OXVPSU-Q726F-L3SDEP' is listed without amount or price:"
        " not booked (fetch_my_trades has it)"
    ]


# ---------------------------------------------------------------------- Hyperliquid


@pytest.mark.parametrize("ws_first", [True, False])
def test_hyperliquid_fills_rest_and_ws_book_once_and_pnl_matches_closed_pnl(
    ccxt_lib: Any, ccxt_pro: Any, make_ledger: MakeLedger, ws_first: bool
) -> None:
    # Given the userFills example closing 0.0841 ETH at 2381.1 with closedPnl 0.19343, and the
    # opening buy it closes (derived: tid/oid/side/dir/time changed, closedPnl 0, px 2378.8 so
    # that (2381.1 − 2378.8) × 0.0841 = 2.3 × 0.0841 = 0.19343),
    rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_ETH)
    ws = market(ccxt_pro, "hyperliquid", **HYPERLIQUID_ETH)
    closing = raw("hyperliquid", "rest_fill_close")
    opening = closing | {
        "tid": 128423918764000,
        "oid": 3929354000,
        "side": "B",
        "dir": "Open Long",
        "px": "2378.8",
        "closedPnl": "0.0",
        "startPosition": "0.0",
        "time": 1704262800000,
    }
    rest_trades = [rest.parse_trade(opening), rest.parse_trade(closing)]
    client = Recorder()
    ws.handle_my_trades(
        client,
        {"channel": "userFills", "data": {"isSnapshot": False, "user": "0x1", "fills": [opening, closing]}},
    )
    ws_trades = client.last()
    ledger = make_ledger()
    first, second = (ws_trades, rest_trades) if ws_first else (rest_trades, ws_trades)
    # Neither order's cloid is set (null): each fill parks until its order is known, so the
    # orders (derived from the orderStatus example: oid, side, size, px) arrive last.
    orders = [
        rest.parse_order(
            raw("hyperliquid", "rest_order")
            | {
                "order": raw("hyperliquid", "rest_order")["order"]
                | {"oid": oid, "side": side, "origSz": "0.0841", "sz": "0", "limitPx": px, "coin": "ETH"},
                "status": "filled",
            }
        )
        for oid, side, px in (("3929354000", "B", "2378.8"), ("3929354691", "A", "2381.1"))
    ]
    # Each userFills push and REST reply is one line holding both fills: all of them park.
    report = ingest(ledger, "hyperliquid", first, second, orders)
    assert report.counts["rejected"] == 0
    # Then each fill is booked once with its fee (USDC, a cost), and realized P&L = closedPnl.
    assert trades_of(ledger) == [
        ("128423918764000", Decimal("0.0841"), Decimal("2378.8"), Decimal("0.050062"), "USDC"),
        ("128423918764978", Decimal("0.0841"), Decimal("2381.1"), Decimal("0.050062"), "USDC"),
    ]
    assert realized(ledger) == Decimal("0.19343")


BINANCE_BTCUSDT = {
    "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC",
    "quoteId": "USDT", "type": "spot", "spot": True, "active": True,
    "precision": {"amount": 0.00001, "price": 0.01},
}  # fmt: skip


def test_binance_bnb_commission_is_valued_at_a_recorded_bnb_rate(
    ccxt_lib: Any, make_ledger: MakeLedger
) -> None:
    # Given Binance's createOrder FULL example: a market buy of 0.0005 BTC/USDT at 58941.63 whose
    # fill paid 0.0000705 BNB (binance.py lines 6046-6069), parsed by ccxt's own parse_order
    rest = market(ccxt_lib, "binance", **BINANCE_BTCUSDT)
    ledger = make_ledger()
    report = ingest(ledger, "binance", rest.parse_order(raw("binance", "rest_order_full")))
    assert report.counts["applied"] == 1, report
    [position] = list_positions(ledger.db)
    # Then, with no BNB rate recorded, the fee stays in BNB and net P&L says it cannot be one number
    assert (position["fees"], position["unvalued_fees"], position["realized_pnl_net"]) == (
        {"BNB": "0.0000705"},
        ["BNB"],
        None,
    )
    # When a BNB/USDT rate is recorded: Binance's published BNBUSDT trade (the executionReport
    # example, pro/binance.py lines 1387-1420) at 46.866 on 2021-01-19, the latest before the
    # fill of 2021-03-31
    trade = raw("binance", "ws_execution_report_trade")
    mark = {"type": "mark", "venue": "binance", "instrument": "BNB/USDT", "source": "binance-trade",
            "ts": time_from_millis(trade["T"], "T"), "price": trade["L"]}  # fmt: skip
    recorded = ledger.record(mark)
    assert recorded.outcome.value == "applied", recorded.reason
    # Then the fee is 0.0000705 × 46.866 = 0.003304053 USDT and net P&L is one number:
    # 0 realized − 0.003304053 = −0.003304053 USDT
    [position] = list_positions(ledger.db)
    value = position["fee_values"]["BNB"]
    assert (Decimal(value["rate"]), Decimal(value["value"]), value["source"], value["instrument"]) == (
        Decimal("46.866"),
        Decimal("0.003304053"),
        "mark",
        "BNB/USDT",
    )
    assert value["time"] == "2021-01-19T13:44:21.488000Z"
    assert Decimal(position["realized_pnl_net"]) == Decimal("-0.003304053")


def test_binance_fee_in_the_base_coin_is_valued_at_the_fills_price(
    ccxt_pro: Any, make_ledger: MakeLedger
) -> None:
    # Given the Binance spot flow of a market buy of 2 BNB/USDT through ccxt.pro: the published
    # TRADE report (0.332 at 46.866, fee 0.000332 BNB) and the rest (1.668 at 46.866, fee 0.001668 BNB)
    ledger = make_ledger()
    ingest(ledger, "binance", *binance_spot_ws_flow(ccxt_pro))
    [position] = list_positions(ledger.db)
    # Then the BNB fees, 0.000332 + 0.001668 = 0.002 BNB, are in the base coin and valued at the
    # fills' price: 0.002 × 46.866 = 0.093732 USDT; net P&L 0 − 0.093732 = −0.093732 USDT
    value = position["fee_values"]["BNB"]
    assert (Decimal(value["amount"]), Decimal(value["rate"]), value["rates"], value["source"]) == (
        Decimal("0.002"),
        Decimal("46.866"),
        1,
        "fill",
    )
    assert Decimal(value["value"]) == Decimal("0.093732")
    assert Decimal(position["realized_pnl_net"]) == Decimal("-0.093732")
