"""Triggered and linked orders as each venue sends them, for tests/adapters/test_venue_orders.py.

The ccxt structures are the venues' published examples (tests/adapters/fixtures/ccxt_venues.json,
each entry's ``_source`` naming ccxt's file and lines) run through ccxt 4.5.90's own parsers
offline (``parse_order``, ccxt.pro's ``handle_order_update``), as tests/support/ccxt_flows.py
builds its flows. The native frames are the venues' documented ones; where a venue publishes no
example of a field, the frame is derived from its published example by changing the fields
named in the builder's docstring.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.support import ccxt_flows as flows
from tests.support import tradier_examples as tradier

OKX_BTC_SWAP = flows._swap(
    "BTC-USDT-SWAP", "BTC", "USDT", "USDT", contractSize=0.01, precision={"amount": 1, "price": 0.1}
)
"""OKX public/instruments: BTC-USDT-SWAP, ctVal 0.01 BTC a contract (the algo example's ctVal)."""
HYPERLIQUID_BLUR = flows._swap(
    "BLUR", "BLUR", "USDC", "USDC", precision={"amount": 1, "price": 0.000001}, info={"name": "BLUR"}
)
"""Hyperliquid's BLUR perpetual, named by its coin (the frontendOrder example's)."""


def binanceusdm_algo_stop(ccxt_lib: Any) -> dict[str, Any]:
    """The USDⓈ-M algo order example (a STOP buy of 0.002 BTCUSDT: trigger 100000, limit
    102000, workingType CONTRACT_PRICE, client ID yT58zmV3DSzMBQxc5tAJXU) as parse_order reads it."""
    exchange = flows.market(ccxt_lib, "binanceusdm", **flows.BINANCEUSDM_BTC)
    return dict(exchange.parse_order(flows.raw("binanceusdm", "rest_algo_conditional")))


def binanceusdm_trailing_stop(ccxt_pro: Any) -> dict[str, Any]:
    """The ORDER_TRADE_UPDATE example (a TRAILING_STOP_MARKET sell of 0.001 BTCUSDT, client ID
    TEST: callback rate cr 5.0 %, activation price AP 7476.89, wt CONTRACT_PRICE) as ccxt.pro's
    handle_order_update resolves it for watch_orders."""
    ws = flows.market(ccxt_pro, "binanceusdm", **flows.BINANCEUSDM_BTC)
    client = flows.Recorder()
    ws.handle_order_update(client, flows.raw("binanceusdm", "ws_order_trade_update"))
    return dict(client.last("orders")[-1])


def okx_algo_trigger(ccxt_lib: Any) -> dict[str, Any]:
    """The OKX algo order example (ordType trigger: a buy of 1 BTC-USDT-SWAP contract,
    triggerPx 50000 on the last price, ordPx 50000, no clOrdId) as parse_order reads it."""
    exchange = flows.market(ccxt_lib, "okx", **OKX_BTC_SWAP)
    return dict(exchange.parse_order(flows.raw("okx", "algo_trigger")))


def hyperliquid_stop_limit() -> dict[str, Any]:
    """Hyperliquid's frontendOpenOrders entry quoted by ccxt (a Stop Limit buy of 20 BLUR:
    isTrigger, triggerPx 0.6, limitPx 0.5, no cloid), as the venue sends it."""
    return flows.raw("hyperliquid", "frontend_order_stop_limit")


def hyperliquid_stop_limit_ccxt(ccxt_lib: Any) -> dict[str, Any]:
    """The same entry as ccxt's parse_order reads it (type limit, triggerPrice and
    stopLossPrice 0.6)."""
    exchange = flows.market(ccxt_lib, "hyperliquid", **HYPERLIQUID_BLUR)
    return dict(exchange.parse_order(hyperliquid_stop_limit()))


def bybit_entry_with_tpsl(ccxt_lib: Any) -> dict[str, Any]:
    """Bybit's v5 order example (bybit.py lines 3814-3863) made a resting limit buy carrying a
    take-profit and a stop-loss for the position it opens (derived: orderType Limit, side Buy,
    orderStatus New, nothing filled, takeProfit 130000, stopLoss 110000), as parse_order reads
    it: stopLossPrice and takeProfitPrice set, no triggerPrice."""
    order = flows.raw("bybit", "order_v5")
    order.update(orderType="Limit", side="Buy", orderStatus="New", timeInForce="GTC", reduceOnly=False)
    order.update(cumExecQty="0", cumExecValue="0", cumExecFee="0", avgPrice="", leavesQty="0.001")
    order.update(takeProfit="130000", stopLoss="110000", orderLinkId="entry-1")
    exchange = flows.market(ccxt_lib, "bybit", **flows.BYBIT_LINEAR)
    return dict(exchange.parse_order(order))


LIGHTER_TRIGGER = "2230.00"
"""The stop-loss-limit sell's trigger: below its limit's published price 2221.60's market."""


def lighter_stop_loss_limit() -> dict[str, Any]:
    """Lighter's accountInactiveOrders entry (ccxt lighter.py lines 2199-2233: a sell of
    36.0386 ETH at 2221.60) made a resting trigger order (derived): type ``stop-loss-limit``,
    trigger_price 2230.00, reduce_only true, status open."""
    order = flows.raw("lighter", "order")
    order.update(type="stop-loss-limit", trigger_price=LIGHTER_TRIGGER, reduce_only=True, status="open")
    return order


def lighter_stop_loss_limit_ccxt(ccxt_lib: Any) -> dict[str, Any]:
    """The same order as ccxt's lighter parse_order reads it."""
    exchange = flows.market(ccxt_lib, "lighter", **flows.LIGHTER_ETH)
    return dict(exchange.parse_order(lighter_stop_loss_limit()))


OTOCO_ID = 229070
"""The OTOCO's order ID (derived: the published examples' numbering continued)."""


def tradier_otoco(status: str = "open") -> dict[str, Any]:
    """Tradier's published OTOCO placement example (class otoco: buy 10 AAPL limit 130, then an
    OCO of sell 10 limit 150 and sell 10 stop 120; documentation.tradier.com/brokerage-api/
    trading/place-otoco-order) as GET /v1/accounts/{id}/orders reports it: each leg in the
    published AAPL order's shape (tests/support/tradier_examples.py), ``stop_price`` the stop's
    trigger (derived: IDs 229071-229073, the legs' fields from the placement)."""
    legs = []
    for offset, (side, kind, price, stop) in enumerate(
        (("buy", "limit", 130.0, None), ("sell", "limit", 150.0, None), ("sell", "stop", None, 120.0)),
        start=1,
    ):
        leg = copy.deepcopy(tradier.AAPL) | {"id": OTOCO_ID + offset, "side": side, "type": kind}
        leg |= {"quantity": 10.0, "status": status, "duration": "day"}
        leg.pop("price")
        if price is not None:
            leg["price"] = price
        if stop is not None:
            leg["stop_price"] = stop
        legs.append(leg)
    parent = copy.deepcopy(tradier.AAPL) | {"id": OTOCO_ID, "type": "limit", "quantity": 10.0}
    parent |= {"status": status, "duration": "day", "class": "otoco", "num_legs": 3, "leg": legs}
    return {"order": parent}


def binanceusdm_algo_stop_gtd(ccxt_lib: Any) -> dict[str, Any]:
    """The algo order example good till a date (derived: timeInForce GTD, goodTillDate an hour
    after its createTime, 1763458576201 + 3600000 = 1763462176201 ms)."""
    order = flows.raw("binanceusdm", "rest_algo_conditional")
    order.update(timeInForce="GTD", goodTillDate=1763462176201)
    exchange = flows.market(ccxt_lib, "binanceusdm", **flows.BINANCEUSDM_BTC)
    return dict(exchange.parse_order(order))


def okx_algo(ccxt_lib: Any, **fields: Any) -> dict[str, Any]:
    """The OKX algo order example with ``fields`` changed (derived), as parse_order reads it."""
    exchange = flows.market(ccxt_lib, "okx", **OKX_BTC_SWAP)
    return dict(exchange.parse_order(flows.raw("okx", "algo_trigger") | fields))


OKX_STOP_LOSS = {"ordType": "conditional", "triggerPx": "", "triggerPxType": "", "ordPx": ""}
OKX_STOP_LOSS |= {"slTriggerPx": "45000", "slTriggerPxType": "mark", "slOrdPx": "-1", "side": "sell"}
"""The algo example made a one-way stop-loss: sell at market once the mark price reaches 45000."""
OKX_TRAILING = {"ordType": "move_order_stop", "triggerPx": "", "triggerPxType": "", "ordPx": ""}
OKX_TRAILING |= {"callbackRatio": "0.05", "activePx": "47000", "side": "sell"}
"""The algo example made a trailing stop: 5% below the best price, once the price reaches 47000."""
