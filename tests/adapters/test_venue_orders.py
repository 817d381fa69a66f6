"""Orders as the venues define them: each adapter keeps a stop's or take-profit's trigger, a
trailing stop's offset, reduce-only, a GTD expiry, an iceberg's shown part and an order list's
links, from the venue's published examples (tests/support/venue_orders.py), and the ledger books
them end to end. Plain limit and market orders keep their old messages (the adapters' own tests).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.order_terms import OrderTerms
from orderledger.infrastructure.adapters.ccxt.orders import order_messages
from orderledger.infrastructure.adapters.ccxt.payloads import payload_messages
from orderledger.infrastructure.adapters.common import AdapterError
from orderledger.infrastructure.adapters.fix.messages import fix_messages
from orderledger.infrastructure.adapters.hyperliquid.payloads import HyperliquidAdapter
from orderledger.infrastructure.adapters.lighter.payloads import LighterAdapter
from orderledger.infrastructure.adapters.tradier.payloads import order_messages as tradier_messages
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support import venue_orders as examples
from tests.support.adapters import Valid

ACCOUNT = "acc1"
TERMS = ("order_type", "price", *OrderTerms.model_fields)
"""The request fields these tests compare."""


def terms(request: dict[str, Any]) -> dict[str, Any]:
    """What a request says of how the order works (its TERMS that it states)."""
    return {name: request[name] for name in TERMS if name in request}


def requests(valid: Valid, messages: list[Any]) -> list[dict[str, Any]]:
    return [m for m in valid(messages) if m["type"] == "request"]


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Any:
    book = OrderLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        yield book
    finally:
        book.close()


def booked(ledger: OrderLedger, lines: list[Any], **route: Any) -> None:
    """Ingest ``lines`` by the given route (format, venue, account); every line applied."""
    report = ledger.ingest_lines([json.dumps(line) for line in lines], **route)
    assert not report.rejected, [str(r.reason) for r in report.rejected]


# ---------------------------------------------------------------------- ccxt


def test_a_binance_algo_stop_is_a_stop_limit_watching_the_last_price(ccxt_lib: Any, valid: Valid) -> None:
    # Given Binance's algo order example: STOP, triggerPrice 100000, price 102000, CONTRACT_PRICE
    order = examples.binanceusdm_algo_stop(ccxt_lib)
    # ccxt folds STOP into "limit" and keeps the trigger as triggerPrice
    assert (order["type"], order["price"], order["triggerPrice"]) == ("limit", 102000.0, 100000.0)
    (request,) = requests(valid, order_messages(order, venue="binanceusdm", account=ACCOUNT))
    assert request["client_order_id"] == "yT58zmV3DSzMBQxc5tAJXU"
    assert terms(request) == {
        "order_type": "stop_limit",
        "price": "102000",
        "trigger_price": "100000",
        "trigger_reference": "last",  # workingType CONTRACT_PRICE: the contract's last price
    }


def test_a_binance_trailing_stop_keeps_its_callback_rate_and_activation_price(
    ccxt_lib: Any, valid: Valid
) -> None:
    # Given the ORDER_TRADE_UPDATE example: TRAILING_STOP_MARKET, cr 5.0, AP 7476.89, sp 7103.04
    pro = pytest.importorskip("ccxt.pro")
    order = examples.binanceusdm_trailing_stop(pro)
    assert (order["type"], order["triggerPrice"]) == ("market", 7103.04)  # ccxt reads "sp"
    (request,) = requests(valid, order_messages(order, venue="binanceusdm", account=ACCOUNT))
    # sp is to be ignored for a trailing stop (Binance): the activation price is its trigger
    assert terms(request) == {
        "order_type": "trailing_stop",
        "trigger_price": "7476.89",
        "trigger_reference": "last",
        "trailing_offset": "5",  # cr "5.0" → 5 %
        "trailing_offset_type": "percent",
    }


def test_an_okx_trigger_algo_order_is_a_stop_limit(ccxt_lib: Any, valid: Valid) -> None:
    # Given OKX's algo example: ordType trigger, triggerPx 50000 (triggerPxType last), ordPx 50000
    order = examples.okx_algo_trigger(ccxt_lib)
    (request,) = requests(valid, order_messages(order, venue="okx", account=ACCOUNT))
    assert (request["external"], request["venue_order_id"]) == (True, "431375349042380800")  # no clOrdId
    assert terms(request) == {
        "order_type": "stop_limit",
        "price": "50000",
        "trigger_price": "50000",
        "trigger_reference": "last",
    }


def test_a_hyperliquid_stop_limit_reads_alike_by_ccxt_and_natively(ccxt_lib: Any, valid: Valid) -> None:
    # Given the frontendOrder example: Stop Limit buy of 20 BLUR, triggerPx 0.6, limitPx 0.5
    by_ccxt = examples.hyperliquid_stop_limit_ccxt(ccxt_lib)
    assert (by_ccxt["type"], by_ccxt["stopLossPrice"]) == ("limit", 0.6)
    (ccxt_request,) = requests(
        valid, order_messages(by_ccxt | {"status": "open"}, venue="hyperliquid", account=ACCOUNT)
    )
    adapter = HyperliquidAdapter(venue="hyperliquid", account=ACCOUNT)
    (native,) = requests(valid, adapter.messages([examples.hyperliquid_stop_limit()]))
    expected = {"order_type": "stop_limit", "price": "0.5", "trigger_price": "0.6"}
    assert terms(ccxt_request) == terms(native) == expected
    assert native["instrument"] == "BLUR"


def test_a_hyperliquid_trigger_order_without_its_trigger_is_refused() -> None:
    adapter = HyperliquidAdapter(venue="hyperliquid", account=ACCOUNT)
    broken = examples.hyperliquid_stop_limit() | {"isTrigger": False}
    with pytest.raises(AdapterError, match="stop limit order 8670487141 needs isTrigger and triggerPx"):
        adapter.messages([broken])


def test_a_lighter_stop_loss_limit_reads_alike_by_ccxt_and_natively(ccxt_lib: Any, valid: Valid) -> None:
    # Given the published order made a stop-loss-limit sell: trigger 2230.00, limit 2221.60
    by_ccxt = examples.lighter_stop_loss_limit_ccxt(ccxt_lib)
    via_ccxt = requests(valid, payload_messages(by_ccxt, venue="lighter", account="1077"))
    native = LighterAdapter("lighter", "1077")
    native.markets["0"] = "ETH/USDC:USDC"
    by_lighter = requests(valid, native.messages(examples.lighter_stop_loss_limit(), []))
    expected = {"order_type": "stop_limit", "price": "2221.6", "trigger_price": "2230", "reduce_only": True}
    assert [terms(r) for r in via_ccxt] == [terms(r) for r in by_lighter] == [expected]


def test_a_plain_order_with_a_stop_loss_attached_stays_plain(ccxt_lib: Any, valid: Valid) -> None:
    # A Bybit entry order carrying the position's TP/SL states stopLossPrice/takeProfitPrice
    # and no triggerPrice: those are the triggers of other orders, not this one's.
    order = examples.bybit_entry_with_tpsl(ccxt_lib)
    assert (order["stopLossPrice"], order["takeProfitPrice"], order["triggerPrice"]) == (110000, 130000, None)
    (request,) = requests(valid, order_messages(order, venue="bybit", account=ACCOUNT))
    assert terms(request) == {"order_type": "limit", "price": "120518"}  # the example's price


def test_ccxt_stop_orders_are_booked_end_to_end(ccxt_lib: Any, stored_ledger: OrderLedger) -> None:
    # SQLite and PostgreSQL: the Binance algo stop and the OKX trigger order, as ccxt lines
    booked(
        stored_ledger,
        [examples.binanceusdm_algo_stop(ccxt_lib)],
        format="ccxt",
        venue="binanceusdm",
        account=ACCOUNT,
    )
    booked(stored_ledger, [examples.okx_algo_trigger(ccxt_lib)], format="ccxt", venue="okx", account=ACCOUNT)
    stop = stored_ledger.order("yT58zmV3DSzMBQxc5tAJXU")
    assert (stop.order_type.value, str(stop.price), str(stop.trigger_price)) == (
        "stop_limit",
        "102000",
        "100000",
    )
    okx = stored_ledger.order("ext-okx-431375349042380800")
    assert (okx.order_type.value, str(okx.trigger_price)) == ("stop_limit", "50000")


# ---------------------------------------------------------------------- FIX

STOP = {35: "D", 11: "D-1", 1: "ACC-2", 55: "BTC-USD", 54: "2", 38: "3", 40: "3", 99: "90"}
"""A NewOrderSingle: sell 3 BTC-USD on a Stop (OrdType 3) at StopPx 90."""


def test_fix_stop_and_stop_limit_orders_keep_their_stop_price(valid: Valid) -> None:
    (stop,) = valid(fix_messages({**STOP, 60: "20261120-10:00:00"}, venue="venueX"))
    assert terms(stop) == {"order_type": "stop_market", "trigger_price": "90"}
    assert "tags" not in stop  # the type is the ledger's own now, not a tag
    stop_limit = {**STOP, 11: "D-2", 40: "4", 44: "89.5", 60: "20261120-10:00:01"}
    (request,) = valid(fix_messages(stop_limit, venue="venueX"))
    assert terms(request) == {"order_type": "stop_limit", "price": "89.5", "trigger_price": "90"}
    with pytest.raises(AdapterError, match=r"needs StopPx \(99\) for a stop order"):
        fix_messages({**STOP, 99: "", 60: "20261120-10:00:02"}, venue="venueX")


def test_fix_reduce_only_gtd_and_reserve_instructions(valid: Valid) -> None:
    # ExecInst 18 "E 6" (do not increase, participate don't initiate), TimeInForce 6 (GTD)
    # with ExpireTime 126, MaxFloor 111 of 1 shown of 3.
    order = {**STOP, 40: "2", 44: "95", 18: "E 6", 59: "6", 126: "20261121-16:00:00", 111: "1"}
    (request,) = valid(fix_messages({**order, 60: "20261120-10:00:00"}, venue="venueX"))
    assert terms(request) == {
        "order_type": "limit",
        "price": "95",
        "reduce_only": True,
        "display_quantity": "1",
        "expire_at": "2026-11-21T16:00:00.000000Z",
    }
    assert (request["post_only"], request["time_in_force"]) == (True, "GTD")
    # ExpireTime without GTD (a DAY order) sets no expiry of its own
    (day,) = valid(fix_messages({**order, 59: "0", 60: "20261120-10:00:01"}, venue="venueX"))
    assert "expire_at" not in day


def test_a_fix_stop_is_booked_end_to_end(sqlite_ledger: OrderLedger) -> None:
    line = "\x01".join(f"{tag}={value}" for tag, value in {**STOP, 60: "20261120-10:00:00"}.items())
    report = sqlite_ledger.ingest_lines([line + "\x01"], format="fix", venue="venueX")
    assert not report.rejected, [str(r.reason) for r in report.rejected]
    order = sqlite_ledger.order("D-1")
    assert (order.order_type.value, str(order.trigger_price)) == ("stop_market", "90")


# ---------------------------------------------------------------------- Tradier


def test_a_tradier_otoco_books_three_linked_orders(valid: Valid) -> None:
    # Given the published OTOCO: buy 10 AAPL limit 130, then an OCO of sell limit 150 / stop 120
    out = requests(
        valid, tradier_messages(examples.tradier_otoco()["order"], venue="tradier", account="VA000000")
    )
    entry, target, stop = (examples.OTOCO_ID + n for n in (1, 2, 3))
    group = f"tradier-{examples.OTOCO_ID}"
    assert [terms(r) for r in out] == [
        {"order_type": "limit", "price": "130", "group_id": group, "contingency": "bracket"},
        {
            "order_type": "limit",
            "price": "150",
            "group_id": group,
            "contingency": "bracket",
            "linked_ids": [f"ext-tradier-{stop}"],  # its OCO sibling
            "contingent_on": f"ext-tradier-{entry}",  # placed when the entry fills
        },
        {
            "order_type": "stop_market",
            "trigger_price": "120",
            "group_id": group,
            "contingency": "bracket",
            "linked_ids": [f"ext-tradier-{target}"],
            "contingent_on": f"ext-tradier-{entry}",
        },
    ]


def test_tradier_oco_and_oto_legs_and_a_stop_limit(valid: Valid) -> None:
    otoco = examples.tradier_otoco()["order"]
    entry, target, stop = (examples.OTOCO_ID + n for n in (1, 2, 3))
    oco = otoco | {"class": "oco", "leg": otoco["leg"][1:]}
    out = requests(valid, tradier_messages(oco, venue="tradier", account="VA000000"))
    assert [(r["contingency"], r["linked_ids"], r.get("contingent_on")) for r in out] == [
        ("oco", [f"ext-tradier-{stop}"], None),
        ("oco", [f"ext-tradier-{target}"], None),
    ]
    oto = otoco | {"class": "oto", "leg": otoco["leg"][:2]}
    out = requests(valid, tradier_messages(oto, venue="tradier", account="VA000000"))
    assert [(r["contingency"], r.get("linked_ids"), r.get("contingent_on")) for r in out] == [
        ("oto", None, None),
        ("oto", None, f"ext-tradier-{entry}"),
    ]
    # A stop_limit leg: its limit at price, its trigger at stop_price
    leg = otoco["leg"][2] | {"type": "stop_limit", "price": 119.5}
    (request,) = requests(valid, tradier_messages(leg, venue="tradier", account="VA000000"))
    assert terms(request) == {"order_type": "stop_limit", "price": "119.5", "trigger_price": "120"}


def test_a_tradier_otoco_is_booked_end_to_end(sqlite_ledger: OrderLedger) -> None:
    booked(sqlite_ledger, [examples.tradier_otoco()], format="tradier", venue="tradier", account="VA000000")
    stop = sqlite_ledger.order(f"ext-tradier-{examples.OTOCO_ID + 3}")
    assert (stop.order_type.value, str(stop.trigger_price)) == ("stop_market", "120")
    assert (stop.group_id, stop.contingent_on) == (
        f"tradier-{examples.OTOCO_ID}",
        f"ext-tradier-{examples.OTOCO_ID + 1}",
    )


# ---------------------------------------------------------------------- the trigger fired


def test_hyperliquid_triggered_status_records_the_trigger(sqlite_ledger: OrderLedger) -> None:
    # Given the BLUR stop limit open (frontendOpenOrders), then historicalOrders reporting it
    # "triggered" at 1715523700000 (derived: the status Hyperliquid's orderStatus names)
    order = examples.hyperliquid_stop_limit()
    fired = [{"order": order, "status": "triggered", "statusTimestamp": 1715523700000}]
    booked(sqlite_ledger, [[order], fired], format="hyperliquid", venue="hyperliquid", account=ACCOUNT)
    state = sqlite_ledger.order("ext-hyperliquid-8670487141")
    # Then the order is still open, working as its limit order, and records when it fired:
    # 1715523700000 ms = 1715523663687 (2024-05-12T14:21:03.687Z, its placing) + 36.313 s
    assert state.triggered_at is not None and state.triggered_at.isoformat() == "2024-05-12T14:21:40+00:00"
    assert (state.order_type.value, str(state.trigger_price), str(state.price)) == (
        "stop_limit",
        "0.6",
        "0.5",
    )


def test_fix_exec_type_l_records_the_trigger(sqlite_ledger: OrderLedger) -> None:
    # Given our stop (OrdType 3, StopPx 90) acknowledged (150=0), then 150=L "Triggered or
    # Activated by System"
    base = {**STOP, 35: "8", 37: "O-1", 17: "X-1", 39: "0", 14: "0", 6: "0"}
    new = {**base, 150: "0", 60: "20261120-10:00:00"}
    fired = {**base, 17: "X-2", 150: "L", 60: "20261120-10:05:00"}
    lines = ["\x01".join(f"{t}={v}" for t, v in m.items()) + "\x01" for m in (new, fired)]
    report = sqlite_ledger.ingest_lines(lines, format="fix", venue="venueX")
    assert not report.rejected, [str(r.reason) for r in report.rejected]
    state = sqlite_ledger.order("D-1")
    assert (state.order_type.value, str(state.trigger_price)) == ("stop_market", "90")
    assert state.triggered_at is not None and state.triggered_at.isoformat() == "2026-11-20T10:05:00+00:00"


def test_a_binance_gtd_order_keeps_its_expiry(ccxt_lib: Any, valid: Valid) -> None:
    order = examples.binanceusdm_algo_stop_gtd(ccxt_lib)
    (request,) = requests(valid, order_messages(order, venue="binanceusdm", account=ACCOUNT))
    # goodTillDate 1763462176201 ms = 2025-11-18T10:36:16.201Z (createTime 09:36:16.201 + 1 h)
    assert (request["time_in_force"], request["expire_at"]) == ("GTD", "2025-11-18T10:36:16.201000Z")


def test_okx_stop_loss_and_trailing_algo_orders(ccxt_lib: Any, valid: Valid) -> None:
    stop = examples.okx_algo(ccxt_lib, **examples.OKX_STOP_LOSS)
    assert (stop["type"], stop["triggerPrice"], stop["stopLossPrice"]) == ("conditional", None, 45000)
    (request,) = requests(valid, order_messages(stop, venue="okx", account=ACCOUNT))
    assert terms(request) == {
        "order_type": "stop_market",
        "trigger_price": "45000",
        "trigger_reference": "mark",
    }
    trailing = examples.okx_algo(ccxt_lib, **examples.OKX_TRAILING)
    (request,) = requests(valid, order_messages(trailing, venue="okx", account=ACCOUNT))
    assert terms(request) == {
        "order_type": "trailing_stop",
        "trigger_price": "47000",  # activePx
        "trailing_offset": "5",  # callbackRatio 0.05 × 100
        "trailing_offset_type": "percent",
    }


def test_a_lighter_stop_loss_limit_is_booked_end_to_end(sqlite_ledger: OrderLedger) -> None:
    markets = {"order_books": [{"symbol": "ETH", "market_id": 0}]}  # derived: ETH is market 0
    lines = [markets, examples.lighter_stop_loss_limit()]
    booked(sqlite_ledger, lines, format="lighter", venue="lighter", account="1077")
    state = sqlite_ledger.order("ext-lighter-281474977354074")
    assert (state.order_type.value, str(state.price), str(state.trigger_price)) == (
        "stop_limit",
        "2221.6",
        "2230",
    )
    assert state.reduce_only is True
