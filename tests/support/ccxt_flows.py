"""Venue flows built offline by ccxt 4.5.90's own parsers and ccxt.pro's handlers.

Every raw payload comes from tests/adapters/fixtures/ccxt_venues.json, whose entries are the
venues' published examples as ccxt's own source quotes them (each entry's ``_source`` names the
file and lines). Where a flow needs a step the venue's example does not show (the opening trade
of a position the example closes, a later status of the same order), it is derived from the
example by changing the fields named here, and the docstring says so. Markets are declared with
``set_markets`` (contracts with ``contractSize``, ``linear``, ``inverse``, ``settle``).

The tests (test_ccxt_venues.py, test_ccxt_flows.py) and the worked example files
(docs/examples/ccxt-<venue>.jsonl, written by ccxt_examples.py) share these builders, so an
example file is exactly a flow the tests check.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.support.adapters import FIXTURES as ADAPTER_FIXTURES

FIXTURES = json.loads((ADAPTER_FIXTURES / "ccxt_venues.json").read_text("utf-8"))
Payload = Any
"""What a ccxt fetch_*/watch_* returns: an order or trade structure, or a list of them."""


def raw(venue: str, name: str) -> dict[str, Any]:
    """A deep copy of one published example (so a flow may derive from it)."""
    return copy.deepcopy(FIXTURES[venue][name]["payload"])


def market(ccxt_module: Any, exchange_id: str, **fields: Any) -> Any:
    """An offline ccxt exchange (``ccxt`` or ``ccxt.pro``) knowing the one market traded."""
    exchange = getattr(ccxt_module, exchange_id)()
    exchange.set_markets([exchange.safe_market_structure(fields)])
    return exchange


class Recorder:
    """Stands in for ccxt.pro's websocket client: keeps what the handler resolves."""

    def __init__(self) -> None:
        self.resolved: list[tuple[Any, str]] = []

    def resolve(self, result: Any, message_hash: str) -> None:
        self.resolved.append((copy.deepcopy(list(result)), message_hash))

    def last(self, message_hash: str | None = None) -> Any:
        """The last value resolved (for ``message_hash`` when given)."""
        return [r for r, h in self.resolved if message_hash in (None, h)][-1]

    def since(self, start: int, message_hash: str) -> list[Any]:
        """Every value resolved for ``message_hash`` from position ``start`` on."""
        return [r for r, h in self.resolved[start:] if h == message_hash]


def _swap(symbol_id: str, base: str, quote: str, settle: str, **extra: Any) -> dict[str, Any]:
    linear = settle == quote
    return {
        "id": symbol_id,
        "symbol": f"{base}/{quote}:{settle}",
        "base": base,
        "quote": quote,
        "settle": settle,
        "baseId": base,
        "quoteId": quote,
        "settleId": settle,
        "type": "swap",
        "spot": False,
        "swap": True,
        "contract": True,
        "linear": linear,
        "inverse": not linear,
        "contractSize": 1,
        "active": True,
        **extra,
    }


BYBIT_LINEAR = _swap("BTCUSDT", "BTC", "USDT", "USDT", precision={"amount": 0.001, "price": 0.1})
BYBIT_INVERSE = _swap("BTCUSD", "BTC", "USD", "BTC", precision={"amount": 1, "price": 0.5})
"""Bybit BTCUSD inverse perpetual: 1 contract = 1 USD, settled in BTC (instruments-info)."""
OKX_LINK_SWAP = _swap("LINK-USDT-SWAP", "LINK", "USDT", "USDT", precision={"amount": 0.01, "price": 0.001})
"""OKX public/instruments: LINK-USDT-SWAP ctVal 1 (LINK per contract)."""
LIGHTER_ETH = _swap("0", "ETH", "USDC", "USDC", precision={"amount": 0.0001, "price": 0.01})
HYPERLIQUID_ETH = _swap(
    "1",
    "ETH",
    "USDC",
    "USDC",
    baseId="1",
    precision={"amount": 0.0001, "price": 0.1},
    info={"name": "ETH", "szDecimals": 4, "baseId": 1},
)
HYPERLIQUID_NEAR = _swap(
    "NEAR/USDC:USDC",
    "NEAR",
    "USDC",
    "USDC",
    precision={"amount": 0.1, "price": 0.0001},
    info={"name": "NEAR", "szDecimals": 1},
)
HYPERLIQUID_HYPE = _swap(
    "HYPE",
    "HYPE",
    "USDC",
    "USDC",
    precision={"amount": 0.01, "price": 0.001},
    info={"name": "HYPE", "szDecimals": 2},
)
BINANCEUSDM_BTC = _swap("BTCUSDT", "BTC", "USDT", "USDT", precision={"amount": 0.001, "price": 0.01})


def _spot(symbol_id: str, base: str, quote: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": symbol_id,
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "type": "spot",
        "spot": True,
        "active": True,
        **extra,
    }


HYPERLIQUID_HYPE_SPOT = _spot("@107", "HYPE", "USDC", precision={"amount": 0.01, "price": 0.00001})
"""Hyperliquid's spot pair @107, HYPE/USDC (ccxt names a spot pair by its ``@index`` id)."""


KRAKEN_XRPEUR = _spot(
    "XXRPZEUR", "XRP", "EUR", altname="XRPEUR", baseId="XXRP", quoteId="ZEUR", precision={"amount": 1e-8}
)
KRAKEN_BTCUSD = _spot(
    "XXBTZUSD", "BTC", "USD", altname="XBTUSD", wsname="XBT/USD", precision={"amount": 1e-8, "price": 0.1}
)
BINANCE_BNBUSDT = _spot("BNBUSDT", "BNB", "USDT", precision={"amount": 0.01, "price": 0.001})


# ---------------------------------------------------------------------- Bybit (linear)


def bybit_opening_order() -> dict[str, Any]:
    """The buy the WS execution example fills: the v5 order example with that execution's order
    ID, side, price, fee and reduceOnly=false (derived)."""
    order = raw("bybit", "order_v5")
    order.update(
        orderId="aee7453a-a100-465f-857a-3db780e9329a",
        side="Buy",
        avgPrice="123498",
        cumExecValue="123.498",
        cumExecFee="0.0679239",
        cumFeeDetail={"USDT": "0.0679239"},
        reduceOnly=False,
        createdTime="1757837580460",
        updatedTime="1757837580469",
    )
    return order


def bybit_closing_execution() -> dict[str, Any]:
    """The execution of the v5 order example (a reduce-only market sell of 0.001 at 122529.9):
    the WS execution example with that order's ID, side, price, value and fee; execPnl worked
    out as (122529.9 − 123498) × 0.001 = −0.9681 (derived)."""
    execution = raw("bybit", "ws_execution")
    execution.update(
        orderId="f5f2d355-9a11-4af3-9b83-aa1d6ab6ddfe",
        side="Sell",
        execId="2d3f1f4e-derived-close",
        execPrice="122529.9",
        execValue="122.5299",
        execFee="0.06739145",
        execPnl="-0.9681",
        execTime="1757837618909",
        orderPrice="120518",
        closedSize="0.001",
    )
    return execution


def bybit_linear_flow(ccxt_lib: Any, ccxt_pro: Any) -> list[Payload]:
    """Both executions from the private ``execution`` topic (ccxt.pro handle_my_trades), then
    both orders as REST reports them (parse_order; orderLinkId "" → no client order ID)."""
    rest = market(ccxt_lib, "bybit", **BYBIT_LINEAR)
    ws = market(ccxt_pro, "bybit", **BYBIT_LINEAR)
    client = Recorder()
    ws.handle_my_trades(client, {"topic": "execution", "data": [raw("bybit", "ws_execution")]})
    opening_fill = client.last()
    ws.handle_my_trades(client, {"topic": "execution", "data": [bybit_closing_execution()]})
    closing_fill = client.last()[-1:]
    opening = rest.parse_order(bybit_opening_order())
    closing = rest.parse_order(raw("bybit", "order_v5"))
    return [opening_fill, closing_fill, opening, closing]


# ---------------------------------------------------------------------- Bybit (inverse)

_INVERSE_FIELDS = "orderId execId side orderType orderQty orderPrice execQty execPrice execValue execFee"
_INVERSE_FIELDS += " feeRate isMaker leavesQty execPnl execTime"
BYBIT_INVERSE_STEPS = [
    dict(zip(_INVERSE_FIELDS.split(), step, strict=True))
    for step in (
        ("inv-open-1", "inv-exec-1", "Buy", "Limit", "100", "50000", "60", "50000")
        + ("0.0012", "0.00000024", "0.0002", True, "40", "0", "1757837500000"),
        ("inv-open-1", "inv-exec-2", "Buy", "Limit", "100", "50000", "40", "50000")
        + ("0.0008", "0.00000016", "0.0002", True, "0", "0", "1757837510000"),
        ("inv-close-1", "inv-exec-3", "Sell", "Market", "100", "59375", "100", "62500")
        + ("0.0016", "0.00000088", "0.00055", False, "0", "0.0004", "1757837600000"),
    )
]
"""An inverse round trip on BTCUSD (derived from the linear WS execution example, bybit.py
lines 3182-3216: category inverse, symbol BTCUSD, qty in USD contracts, execValue and execFee
in BTC, feeCoin BTC). Figures: execValue = execQty / execPrice (60 / 50000 = 0.0012 BTC,
40 / 50000 = 0.0008, 100 / 62500 = 0.0016); execFee = execValue × feeRate (0.0012 × 0.0002 =
0.00000024, 0.0008 × 0.0002 = 0.00000016, 0.0016 × 0.00055 = 0.00000088); execPnl of the close
= 100 × (1/50000 − 1/62500) = 100 × (0.00002 − 0.000016) = 0.0004 BTC."""


def bybit_inverse_executions() -> list[dict[str, Any]]:
    """The three raw executions of :data:`BYBIT_INVERSE_STEPS`."""
    out = []
    for step in BYBIT_INVERSE_STEPS:
        execution = raw("bybit", "ws_execution")
        execution.update(step, category="inverse", symbol="BTCUSD", orderLinkId="", feeCoin="BTC")
        execution.update(
            closedSize=step["execQty"] if step["side"] == "Sell" else "0", markPrice=step["execPrice"]
        )
        out.append(execution)
    return out


def bybit_inverse_orders() -> list[dict[str, Any]]:
    """Both orders as GET /v5/order/realtime reports them once done (derived from the v5 order
    example: category inverse fields, quantities in contracts, values and fees in BTC)."""
    opening = raw("bybit", "order_v5")
    opening.update(
        symbol="BTCUSD",
        orderId="inv-open-1",
        orderType="Limit",
        side="Buy",
        price="50000",
        qty="100",
        cumExecQty="100",
        avgPrice="50000",
        cumExecValue="0.002",
        cumExecFee="0.0000004",
        cumFeeDetail={"BTC": "0.0000004"},
        timeInForce="GTC",
        reduceOnly=False,
        createdTime="1757837490000",
        updatedTime="1757837510000",
    )
    closing = raw("bybit", "order_v5")
    closing.update(
        symbol="BTCUSD",
        orderId="inv-close-1",
        price="59375",
        qty="100",
        cumExecQty="100",
        avgPrice="62500",
        cumExecValue="0.0016",
        cumExecFee="0.00000088",
        cumFeeDetail={"BTC": "0.00000088"},
        createdTime="1757837599990",
        updatedTime="1757837600000",
    )
    return [opening, closing]


def bybit_inverse_flow(ccxt_lib: Any, ccxt_pro: Any) -> list[Payload]:
    """The executions (one WS push each, handle_my_trades), then both orders (parse_order)."""
    rest = market(ccxt_lib, "bybit", **BYBIT_INVERSE)
    ws = market(ccxt_pro, "bybit", **BYBIT_INVERSE)
    client = Recorder()
    fills = []
    for execution in bybit_inverse_executions():
        ws.handle_my_trades(client, {"topic": "execution", "data": [execution]})
        fills.append(client.last()[-1:])
    return [*fills, [rest.parse_order(o) for o in bybit_inverse_orders()]]


# ---------------------------------------------------------------------- OKX (swap)


def okx_fill(order: dict[str, Any]) -> dict[str, Any]:
    """The order's last fill as GET /api/v5/trade/fills reports it: the same fields, with the
    fill time under ``ts`` (derived)."""
    return order | {"ts": order["fillTime"]}


def okx_opening_order() -> dict[str, Any]:
    """The opening buy the swap example closes (derived: ordId/tradeId/side changed, price
    13.143 so that (13.142 − 13.143) × 0.1 × 1 = −0.0001, fee −0.00026284 kept, fillPnl 0)."""
    opening = raw("okx", "order_swap")
    opening.update(
        ordId="2657625147249614000",
        tradeId="293429600",
        side="buy",
        px="13.143",
        avgPx="13.143",
        fillPx="13.143",
        lastPx="13.143",
        reduceOnly="false",
        fillPnl="0",
        pnl="0",
        cTime="1751705701423",
        uTime="1751705707467",
        fillTime="1751705707467",
    )
    return opening


def okx_ws_flow(ccxt_pro: Any) -> tuple[list[Payload], list[Payload]]:
    """(trades, orders) resolved by ccxt.pro's OKX ``orders`` channel handler for both orders."""
    ws = market(ccxt_pro, "okx", **OKX_LINK_SWAP)
    client = Recorder()
    for order in (okx_opening_order(), raw("okx", "order_swap")):
        ws.handle_orders(client, {"arg": {"channel": "orders", "instType": "SWAP"}, "data": [order]})
    return client.last("orders::myTrades"), client.last("orders")


def okx_rest_flow(ccxt_lib: Any) -> tuple[list[Payload], list[Payload]]:
    """(trades, orders) as fetch_my_trades and fetch_closed_orders parse them."""
    rest = market(ccxt_lib, "okx", **OKX_LINK_SWAP)
    orders = (okx_opening_order(), raw("okx", "order_swap"))
    return [rest.parse_trade(okx_fill(o)) for o in orders], [rest.parse_order(o) for o in orders]


# ---------------------------------------------------------------------- Binance USDⓈ-M

BINANCEUSDM_OPEN_STEPS = (
    # (x, X, l, z, L, ap, t, n, T)
    ("NEW", "NEW", "0", "0", "0", "0", 0, "0", 1612095100000),
    (
        "TRADE",
        "PARTIALLY_FILLED",
        "0.001",
        "0.001",
        "33465.00",
        "33465.00",
        458032600,
        "0.01338600",
        1612095110000,
    ),
    ("TRADE", "FILLED", "0.001", "0.002", "33465.22", "33465.11", 458032601, "0.01338609", 1612095120000),
)
"""The opening limit buy of 0.002 at 33465.22 (client ID bot-open-1, order 13351190000), as
ORDER_TRADE_UPDATE reports it: new, a maker fill of 0.001 at 33465.00, then 0.001 at 33465.22
(derived from the fixture's ORDER_TRADE_UPDATE example, pro/binance.py lines 4383-4422: side,
type, quantity, price, IDs, fill fields; the trailing-stop fields AP/cr dropped and its stop
price sp "0", as a limit order's). Average
(33465.00 + 33465.22) / 2 = 33465.11, so the published close (sell 0.001 at 33468.46,
rp 0.00335) realizes (33468.46 − 33465.11) × 0.001 = 0.00335. Fees at the 0.04% maker rate:
33.465 × 0.0004 = 0.013386 and 33.46522 × 0.0004 = 0.013386088 → 0.01338609 (8 places)."""


def binanceusdm_ws_messages() -> list[dict[str, Any]]:
    """The four ORDER_TRADE_UPDATE messages: the opening order's three, then the published
    closing fill (pro/binance.py lines 1424-1456) in its event envelope."""
    envelope = raw("binanceusdm", "ws_order_trade_update")
    template = envelope["o"]
    for name in ("AP", "cr"):
        template.pop(name)
    template.update(c="bot-open-1", S="BUY", o="LIMIT", ot="LIMIT", q="0.002", p="33465.22", i=13351190000)
    template.update(ps="BOTH", m=True, sp="0")
    out = []
    for x, status, last, cumulative, price, average, trade, fee, at in BINANCEUSDM_OPEN_STEPS:
        fields = dict(x=x, X=status, l=last, z=cumulative, L=price, ap=average, t=trade, n=fee, T=at)
        out.append(envelope | {"E": at, "T": at, "o": template | fields})
    close = raw("binanceusdm", "ws_trade_linear")
    out.append(envelope | {"E": close["T"], "T": close["T"], "o": close})
    return out


def binanceusdm_ws_flow(ccxt_pro: Any) -> list[Payload]:
    """One line per ORDER_TRADE_UPDATE, as a bot watching watch_my_trades and watch_orders
    receives it through ccxt.pro's handle_order_update (handle_my_trade, then handle_order):
    the trade it carries (if any), then the order as updated."""
    ws = market(ccxt_pro, "binanceusdm", **BINANCEUSDM_BTC)
    client = Recorder()
    lines = []
    for update in binanceusdm_ws_messages():
        start = len(client.resolved)
        ws.handle_order_update(client, update)
        trades = client.since(start, "myTrades")
        orders = client.since(start, "orders")[-1]
        order = [o for o in orders if o["id"] == str(update["o"]["i"])]
        lines.append([*(trades[-1][-1:] if trades else []), *order])
    return lines


def binanceusdm_rest_payloads() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The GET /fapi/v1/userTrades entries and the order entries of binanceusdm_rest_flow: the
    userTrades example (binance.py lines 5181-5197) and the order example (lines 6002-6024)
    restated for the same three trades and two orders (derived: IDs, side, prices, quantities,
    fees, times)."""
    close = raw("binanceusdm", "ws_trade_linear")
    trades = []
    for x, _status, last, _cum, price, _avg, trade, fee, at in BINANCEUSDM_OPEN_STEPS:
        if x == "TRADE":
            trades.append(
                _binance_user_trade(trade, 13351190000, "BUY", price, last, "0", fee, "USDT", at, maker=True)
            )
    pnl, fee, asset = close["rp"], close["n"], close["N"]
    trades.append(
        _binance_user_trade(
            close["t"], close["i"], "SELL", close["L"], close["l"], pnl, fee, asset, close["T"]
        )
    )
    orders = [
        raw("binanceusdm", "rest_order")
        | {
            "orderId": 13351190000,
            "clientOrderId": "bot-open-1",
            "status": "FILLED",
            "price": "33465.22",
            "avgPrice": "33465.11",
            "origQty": "0.002",
            "executedQty": "0.002",
            "cumQty": "0.002",
            "cumQuote": "66.93022",
            "time": 1612095100000,
            "updateTime": 1612095120000,
        },
        raw("binanceusdm", "rest_order")
        | {
            "orderId": close["i"],
            "clientOrderId": close["c"],
            "status": "FILLED",
            "price": "0",
            "avgPrice": close["ap"],
            "origQty": close["q"],
            "executedQty": close["z"],
            "cumQty": close["z"],
            "cumQuote": "33.46846",
            "type": "MARKET",
            "origType": "MARKET",
            "side": "SELL",
            "time": close["T"],
            "updateTime": close["T"],
        },
    ]
    return trades, orders


def binanceusdm_rest_flow(ccxt_lib: Any) -> list[Payload]:
    """fetch_my_trades then fetch_closed_orders of binanceusdm_rest_payloads, as ccxt parses them."""
    rest = market(ccxt_lib, "binanceusdm", **BINANCEUSDM_BTC)
    trades, orders = binanceusdm_rest_payloads()
    return [[rest.parse_trade(t) for t in trades], [rest.parse_order(o) for o in orders]]


def _binance_user_trade(
    trade_id: Any,
    order_id: Any,
    side: str,
    price: str,
    qty: str,
    pnl: str,
    fee: str,
    fee_asset: str,
    at: int,
    *,
    maker: bool = False,
) -> dict[str, Any]:
    return raw("binanceusdm", "rest_user_trade") | {
        "id": trade_id,
        "orderId": order_id,
        "side": side,
        "price": price,
        "qty": qty,
        "realizedPnl": pnl,
        "commission": fee,
        "commissionAsset": fee_asset,
        "time": at,
        "maker": maker,
        "buyer": side == "BUY",
    }


# ---------------------------------------------------------------------- Binance spot


def binance_spot_reports(client_order_id: str | None = None) -> list[dict[str, Any]]:
    """The three executionReports of binance_spot_ws_flow (NEW, the published TRADE, FILLED),
    for the published client order ID or the one given (an order a bot placed)."""
    trade = raw("binance", "ws_execution_report_trade")
    if client_order_id is not None:
        trade["c"] = client_order_id
    new = trade | {"x": "NEW", "X": "NEW", "l": "0", "z": "0", "L": "0", "n": "0", "N": None, "t": -1}
    new |= {"E": 1611063861400, "T": 1611063861400, "Z": "0", "Y": "0"}
    rest = trade | {"X": "FILLED", "l": "1.66800000", "z": "2.00000000", "n": "0.00166800", "t": 109747655}
    rest |= {"E": 1611063862489, "T": 1611063862488, "Z": "93.73200000", "Y": "78.17248800"}
    return [new, trade, rest]


def binance_spot_ws_flow(ccxt_pro: Any) -> list[Payload]:
    """A market buy of 2 BNB through ccxt.pro's handle_order_update: the order's NEW report
    (derived: x/X NEW, nothing filled, no trade), the published TRADE report (pro/binance.py
    lines 1387-1420: 0.332 at 46.866, fee 0.000332 BNB), and the rest (derived: 1.668 at
    46.866, fee 0.001668 BNB, trade 109747655, status FILLED). One line per report: its trade
    (if any), then the order."""
    ws = market(ccxt_pro, "binance", **BINANCE_BNBUSDT)
    client = Recorder()
    lines = []
    for report in binance_spot_reports():
        start = len(client.resolved)
        ws.handle_order_update(client, report)
        trades = client.since(start, "myTrades")
        orders = client.since(start, "orders")[-1]
        order = [o for o in orders if o["id"] == str(report["i"])]
        lines.append([*(trades[-1][-1:] if trades else []), *order])
    return lines


# ---------------------------------------------------------------------- Kraken (websocket v2)


def kraken_ws_flow(ccxt_pro: Any) -> list[Payload]:
    """The executions channel for one order, through ccxt.pro's handle_orders and
    handle_my_trades: the published pending_new report (pro/kraken.py lines 1259-1283: sell
    0.005 BTC/USD limit 26500, userref 3), then "new" (derived), two trades of that order
    (derived from the published trade, lines 1135-1163: order, symbol, quantities 0.002 and
    0.003 at 26500, maker, fees 0.0212 and 0.0318 USD = 0.04% of 53 and 79.5, exec and trade
    IDs, a timestamp, which the published trade lacks), and the order's "filled" report
    (derived: cum_qty 0.005, avg_price 26500)."""
    ws = market(ccxt_pro, "kraken", **KRAKEN_BTCUSD)
    pending = raw("kraken", "ws_execution_pending_new")
    order = pending["data"][0]
    new = order | {"exec_type": "new", "order_status": "new", "timestamp": "2023-09-22T10:33:05.710100Z"}
    published = raw("kraken", "ws_execution_trade")["data"][0]
    trades = []
    for number, (qty, cost, fee, at, status) in enumerate(
        (
            ("0.002", "53", "0.0212", "2023-09-22T10:34:00.000000Z", "partially_filled"),
            ("0.003", "79.5", "0.0318", "2023-09-22T10:35:00.000000Z", "filled"),
        ),
        start=1,
    ):
        trades.append(
            published
            | {
                "order_id": order["order_id"],
                "exec_id": f"TKRWS{number}-DERIV-ED0000",
                "trade_id": 8253473 + number,
                "symbol": "BTC/USD",
                "side": "sell",
                "last_qty": float(qty),
                "last_price": 26500.0,
                "liquidity_ind": "m",
                "cost": float(cost),
                "order_userref": 3,
                "order_status": status,
                "order_type": "limit",
                "fee_usd_equiv": float(fee),
                "fees": [{"asset": "USD", "qty": float(fee)}],
                "timestamp": at,
            }
        )
    filled = {
        "order_id": order["order_id"],
        "order_userref": 3,
        "exec_type": "filled",
        "order_status": "filled",
        "cum_qty": 0.005,
        "cum_cost": 132.5,
        "avg_price": 26500.0,
        "fee_usd_equiv": 0.053,
        "timestamp": "2023-09-22T10:35:00.000000Z",
    }
    client = Recorder()
    lines = []
    for report in (order, new):
        ws.handle_orders(client, {"channel": "executions", "type": "update", "data": [report]})
        lines.append(client.last("orders")[-1:])
    for trade in trades:
        ws.handle_my_trades(client, {"channel": "executions", "type": "update", "data": [trade]})
        lines.append(client.last("myTrades")[-1:])
    ws.handle_orders(client, {"channel": "executions", "type": "update", "data": [filled]})
    lines.append(client.last("orders")[-1:])
    return lines


# ---------------------------------------------------------------------- Hyperliquid


def hyperliquid_liquidation_fill() -> dict[str, Any]:
    """The published liquidation fill (hyperliquid.py lines 3520-3541): 64.8 NEAR sold at
    4.6879 closing a long, closedPnl −16.98408, fee 0.131231 USDC, order 719874965978."""
    return raw("hyperliquid", "rest_fill_liquidation")


LIQUIDATED_USER = "0x5c902b2eb0e1d9eb9a232014824ae6247df0a480"


def hyperliquid_opening() -> tuple[dict[str, Any], dict[str, Any]]:
    """(order, fill) of the long the liquidation closes (derived: the buy of 64.8 NEAR at 4.95,
    so that (4.6879 − 4.95) × 64.8 = −0.2621 × 64.8 = −16.98408 = closedPnl; oid/tid/side/dir/
    time changed, no liquidation object, fee 0.128304 = 64.8 × 4.95 × 0.0004; the order is the
    orderStatus example, hyperliquid.py lines 3213-3234, with that oid, coin, side and size)."""
    fill = hyperliquid_liquidation_fill()
    fill.pop("liquidation")
    fill.update(
        tid=5787071443000000,
        oid=719874960000,
        side="B",
        dir="Open Long",
        px="4.95",
        sz="64.8",
        startPosition="0.0",
        closedPnl="0.0",
        fee="0.128304",
        time=1790964000000,
    )
    order = raw("hyperliquid", "rest_order")
    order["order"] = order["order"] | {
        "oid": 719874960000,
        "coin": "NEAR",
        "side": "B",
        "origSz": "64.8",
        "sz": "0",
        "limitPx": "4.95",
        "timestamp": 1790963999000,
    }
    order["status"] = "filled"
    return order, fill


def hyperliquid_liquidation_flow(ccxt_lib: Any, ccxt_pro: Any) -> tuple[list[Payload], Payload, Payload]:
    """(opening lines, the liquidation fill by REST fetch_my_trades, the same fill by the WS
    userFills push through ccxt.pro's handle_my_trades)."""
    rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_NEAR)
    ws = market(ccxt_pro, "hyperliquid", **HYPERLIQUID_NEAR)
    order, fill = hyperliquid_opening()
    opening = [[rest.parse_order(order)], [rest.parse_trade(fill)]]
    client = Recorder()
    push = {"isSnapshot": False, "user": LIQUIDATED_USER, "fills": [hyperliquid_liquidation_fill()]}
    ws.handle_my_trades(client, {"channel": "userFills", "data": push})
    return opening, [rest.parse_trade(hyperliquid_liquidation_fill())], client.last("myTrades")


# ---------------------------------------------------------------------- Lighter


def lighter_external_flow(ccxt_lib: Any) -> list[Payload]:
    """An order placed without a client index (Lighter's example as published:
    client_order_index 0) while still open (derived: status open, type limit, good-till-time),
    then its trade (the published trade, lighter.py lines 2861-2884, with ask_id =
    the order, ask_client_id 0, ask_account_id = the order's account: derived)."""
    exchange = market(ccxt_lib, "lighter", **LIGHTER_ETH)
    reported = raw("lighter", "order") | {"status": "open", "type": "limit"}
    reported["time_in_force"] = "good-till-time"
    traded = raw("lighter", "trade") | {
        "ask_id": 281474977354074,
        "ask_client_id": 0,
        "ask_account_id": 1077,
        "bid_account_id": 20,
        "account_index": "1077",
    }
    return [exchange.parse_order(reported), exchange.parse_trade(traded)]


# ---------------------------------------------------------------------- funding history


def funding_history(ccxt_module: Any, exchange_id: str, fields: dict[str, Any], entry: dict[str, Any]) -> Any:
    """One funding history entry as ccxt's ``fetch_funding_history`` returns it: through the
    parser it calls (``parse_income``), or, for OKX, whose ``fetch_funding_history`` parses the
    bills itself, through that method with its one request (``GET /api/v5/account/bills-archive``)
    answered by the entry in OKX's ``{code, msg, data}`` reply."""
    exchange = market(ccxt_module, exchange_id, **fields)
    if exchange_id != "okx":
        return exchange.parse_income(entry)
    exchange.privateGetAccountBillsArchive = lambda params: {"code": "0", "msg": "", "data": [entry]}
    [structure] = exchange.fetch_funding_history()
    return structure


# ---------------------------------------------------------------------- a liquidation's counterparty
#
# Hyperliquid puts a liquidation's ``liquidation`` object on both sides of its trade: the
# liquidated account's fill and the fill of the resting order the liquidation hit (the
# liquidationFills stream of docs.hydromancer.xyz and goldrush.dev lists the latter: "the address
# is the wallet whose order was filled, liquidation.liquidatedUser the wallet whose position was
# liquidated"). Our side here: the published NEAR liquidation fill of ccxt's
# fetch_my_liquidations (tests/adapters/fixtures/ccxt_venues.json "rest_fill_liquidation":
# 64.8 NEAR at 4.6879, tid 5787071443114480, fee 0.131231 USDC, liquidatedUser 0x5c90…a480)
# as the account OURS (the user of ccxt's published WS userFills example) receives it: derived,
# its order is our resting limit buy (oid 719874965001), side B, "Open Long" from 0, nothing
# closed, not crossed (a maker); tid, hash, time, px, sz, fee and the liquidation object kept.
# Our order is ccxt's published orderStatus example ("rest_order") with that oid, coin, size and
# price: a buy of 64.8 NEAR at 4.6879 resting since 1790964500000.
OURS = "0x15f43d1f2dee81424afd891943262aa90f22cc2a"


OUR_OID = 719874965001


def counterparty_fill() -> dict[str, Any]:
    ours = {"oid": OUR_OID, "side": "B", "dir": "Open Long", "startPosition": "0.0", "closedPnl": "0.0"}
    return hyperliquid_liquidation_fill() | ours | {"crossed": False}


def resting_order() -> dict[str, Any]:
    order = raw("hyperliquid", "rest_order")
    order["order"] |= {"oid": OUR_OID, "coin": "NEAR", "side": "B", "origSz": "64.8", "sz": "64.8",
                       "limitPx": "4.6879", "timestamp": 1790964500000}  # fmt: skip
    order["statusTimestamp"] = 1790964500000
    return order
