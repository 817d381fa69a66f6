"""CCXT unified orders and trades → ledger messages, and what the ledger makes of them.

The unified structures are written as CCXT documents them (docs.ccxt.com, "Order structure"
and "Trade structure"): floats for numbers, milliseconds plus ISO ``datetime``, the venue's
raw reply under ``info``. Where ccxt is installed, more payloads are built by ccxt's own
``parse_order``/``parse_trade`` from Binance REST replies as Binance's API docs show them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.errors import InvalidInputError, OrderNotFoundError
from orderledger.domain.events import AnomalyRecorded
from orderledger.domain.values import Liquidity, Status
from orderledger.infrastructure.adapters.ccxt.payloads import (
    AdapterError,
    is_order,
    is_trade,
    order_messages,
    order_row,
    payload_messages,
    reconciliation_snapshot,
    trade_messages,
)
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_orders, list_trades
from orderledger.infrastructure.application.upkeep.reconcile import Reconciler, parse_snapshot
from orderledger.infrastructure.ingest.inbound import inbound
from orderledger.infrastructure.messages.models import Message
from tests.support.adapters import Feed, Valid

VENUE = "binance"
ACCOUNT = "acc1"
T0 = 1795168800000  # 2026-11-20T10:00:00Z in milliseconds


def iso(millis: int) -> str:
    """CCXT's ``datetime`` for a millisecond timestamp (``iso8601``)."""
    from datetime import UTC, datetime, timedelta

    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def order(**overrides: Any) -> dict[str, Any]:
    """A CCXT unified order: an open limit buy of 1 BTC/USDT at 64000, nothing filled."""
    base: dict[str, Any] = {
        "id": "4293153",
        "clientOrderId": "c-1",
        "timestamp": T0 + 1000,
        "datetime": iso(T0 + 1000),
        "lastTradeTimestamp": None,
        "lastUpdateTimestamp": T0 + 1000,
        "status": "open",
        "symbol": "BTC/USDT",
        "type": "limit",
        "timeInForce": "GTC",
        "postOnly": False,
        "reduceOnly": None,
        "side": "buy",
        "price": 64000.0,
        "triggerPrice": None,
        "stopPrice": None,
        "average": None,
        "amount": 1.0,
        "filled": 0.0,
        "remaining": 1.0,
        "cost": 0.0,
        "trades": [],
        "fee": None,
        "fees": [],
        "info": {"orderId": 4293153, "clientOrderId": "c-1", "status": "NEW"},
    }
    base.update(overrides)
    if "timestamp" in overrides and "datetime" not in overrides and overrides["timestamp"] is not None:
        base["datetime"] = iso(overrides["timestamp"])
    return base


def trade(**overrides: Any) -> dict[str, Any]:
    """A CCXT unified trade: 0.4 BTC/USDT bought at 64000 as maker, fee 0.0004 BTC."""
    base: dict[str, Any] = {
        "id": "1001",
        "order": "4293153",
        "timestamp": T0 + 60_000,
        "datetime": iso(T0 + 60_000),
        "symbol": "BTC/USDT",
        "type": "limit",
        "side": "buy",
        "takerOrMaker": "maker",
        "price": 64000.0,
        "amount": 0.4,
        "cost": 25600.0,
        "fee": {"cost": 0.0004, "currency": "BTC"},
        "fees": [{"cost": 0.0004, "currency": "BTC"}],
        "info": {"id": 1001, "orderId": 4293153, "isMaker": True},
    }
    base.update(overrides)
    return base


def messages(payload: Any, **options: Any) -> list[Message]:
    return payload_messages(payload, venue=VENUE, account=ACCOUNT, **options)


# ---------------------------------------------------------------------- orders


def test_an_open_limit_order_is_requested_and_acknowledged(valid: Valid) -> None:
    out = valid(order_messages(order(), venue=VENUE, account=ACCOUNT))
    assert out == [
        {
            "type": "request",
            "client_order_id": "c-1",
            "account": ACCOUNT,
            "venue": VENUE,
            "instrument": "BTC/USDT",
            "side": "buy",
            "order_type": "limit",
            "quantity": "1",
            "price": "64000",
            "time_in_force": "GTC",
            "post_only": False,  # the unified order's postOnly
            "ts": "2026-11-20T10:00:01.000000Z",
            "source": "ccxt",
        },
        {
            "type": "accepted",
            "client_order_id": "c-1",
            "venue": VENUE,
            "venue_order_id": "4293153",
            # what the report states of its order, for the ledger to compare (Order.check_stated)
            "account": ACCOUNT,
            "instrument": "BTC/USDT",
            "side": "buy",
            "ts": "2026-11-20T10:00:01.000000Z",
            "source": "ccxt",
        },
    ]


def test_a_filled_market_order_books_its_embedded_trades_and_no_price(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    filled = order(
        id="4293170",
        clientOrderId="c-3",
        type="market",
        price=64010.25,  # CCXT fills a market order's price with its average
        average=64010.25,
        amount=0.1,
        filled=0.1,
        remaining=0.0,
        cost=6401.025,
        status="closed",
        lastTradeTimestamp=T0 + 2000,
        trades=[
            trade(
                id="1004",
                order=None,
                timestamp=None,
                datetime=None,
                takerOrMaker=None,
                amount=0.06,
                price=64010.0,
                fee={"cost": 0.00277, "currency": "BNB"},
            ),
            trade(
                id="1005",
                order=None,
                timestamp=None,
                datetime=None,
                takerOrMaker=None,
                amount=0.04,
                price=64010.625,
                fee={"cost": 0.00185, "currency": "BNB"},
            ),
        ],
    )
    out = valid(order_messages(filled, venue=VENUE, account=ACCOUNT))
    assert [m["type"] for m in out] == ["request", "accepted", "fill", "fill"]
    assert out[0]["order_type"] == "market" and "price" not in out[0]
    fill = out[2]
    assert fill == {
        "type": "fill",
        "client_order_id": "c-3",
        "venue": VENUE,
        "venue_order_id": "4293170",
        "account": ACCOUNT,  # what the trade states of its order (its order's symbol and side)
        "instrument": "BTC/USDT",
        "side": "buy",
        "trade_id": "1004",
        "quantity": "0.06",
        "price": "64010",
        "fee": "0.00277",
        "fee_currency": "BNB",
        "ts": "2026-11-20T10:00:02.000000Z",  # the order's lastTradeTimestamp
        "source": "ccxt",
    }
    report = feed(out)
    assert report.counts["rejected"] == 0
    state = ledger.order("c-3")
    assert state.status is Status.FILLED
    assert state.filled_quantity == Decimal("0.1")
    assert state.average_price == Decimal("64010.25")
    assert state.venue_order_ids == ["4293170"]


def test_cumulative_filled_without_trades_books_no_fill(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    partial = order(filled=0.4, remaining=0.6, average=64000.0, cost=25600.0, lastTradeTimestamp=T0 + 60_000)
    out = valid(order_messages(partial, venue=VENUE, account=ACCOUNT))
    assert [m["type"] for m in out] == ["request", "accepted"]  # no invented trade ID
    feed(out)
    state = ledger.order("c-1")
    assert state.status is Status.ACCEPTED and state.filled_quantity == 0
    # The trade arrives with its real ID: booked once, and the order is partially filled.
    feed(trade_messages(trade(), venue=VENUE))
    state = ledger.order("c-1")
    assert state.status is Status.PARTIALLY_FILLED and state.filled_quantity == Decimal("0.4")


def test_embedded_trades_without_ids_are_not_booked(valid: Valid) -> None:
    # Some venues' order replies list executions without trade IDs: left to trades/reconciliation.
    partial = order(filled=0.4, trades=[trade(id=None, order=None), trade(id="1001", order=None)])
    out = valid(order_messages(partial, venue=VENUE, account=ACCOUNT))
    assert [(m["type"], m.get("trade_id")) for m in out] == [
        ("request", None),
        ("accepted", None),
        ("fill", "1001"),
    ]
    unknown = valid(order_messages(order(status=None), venue=VENUE, account=ACCOUNT))
    assert [m["type"] for m in unknown] == ["request", "accepted"]


def test_reconciliation_infers_the_fill_the_adapter_would_not_invent(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    partial = order(filled=0.4, remaining=0.6, average=64000.0, cost=25600.0)
    feed(valid(order_messages(partial, venue=VENUE, account=ACCOUNT)))
    document = reconciliation_snapshot([partial], venue=VENUE, account=ACCOUNT, as_of="2026-11-20T10:05:00Z")
    assert document["open_orders"][0]["filled_quantity"] == "0.4"
    reconciler = Reconciler(ledger, parse_snapshot(json.dumps(document)))
    differences = reconciler.differences()
    assert [d.kind for d in differences] == ["inferred_fill"]
    reconciler.apply(differences, origin="test")
    state = ledger.order("c-1")
    assert state.filled_quantity == Decimal("0.4") and state.status is Status.PARTIALLY_FILLED
    assert Reconciler(ledger, parse_snapshot(json.dumps(document))).differences() == []


def test_a_canceled_partly_filled_order_ends_canceled_with_its_fill(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    canceled = order(
        id="4293160",
        clientOrderId="c-2",
        side="sell",
        price=65000.0,
        amount=2.0,
        filled=0.5,
        remaining=1.5,
        status="canceled",
        lastUpdateTimestamp=T0 + 150_000,
    )
    sold = trade(
        id="1003",
        order="4293160",
        side="sell",
        amount=0.5,
        price=65000.0,
        fee={"cost": 32.5, "currency": "USDT"},
    )
    # One payload holding the order and its trade: the trade is applied before the cancel.
    out = valid(messages([canceled, sold]))
    assert [m["type"] for m in out] == ["request", "accepted", "fill", "canceled"]
    assert out[-1]["ts"] == "2026-11-20T10:02:30.000000Z"
    assert feed(out).counts["rejected"] == 0
    state = ledger.order("c-2")
    assert state.status is Status.CANCELED
    assert state.filled_quantity == Decimal("0.5")
    assert state.anomalies == []


def test_an_expired_order_expires(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    expired = order(
        id="4293181", clientOrderId="c-4", amount=0.2, price=60000.0, timeInForce="IOC", status="expired"
    )
    out = valid(order_messages(expired, venue=VENUE, account=ACCOUNT))
    assert [m["type"] for m in out] == ["request", "accepted", "expired"]
    assert out[0]["time_in_force"] == "IOC"
    feed(out)
    assert ledger.order("c-4").status is Status.EXPIRED


def test_a_rejected_order_is_rejected_without_an_acknowledgement(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    rejected = order(id="4293190", clientOrderId="c-5", status="rejected")
    out = valid(order_messages(rejected, venue=VENUE, account=ACCOUNT))
    assert [m["type"] for m in out] == ["request", "rejected"]
    assert "venue_order_id" not in out[1]  # it would acknowledge the order first
    feed(out)
    state = ledger.order("c-5")
    assert state.status is Status.REJECTED and state.venue_order_ids == []


def test_a_rejection_nobody_can_name_yields_nothing(valid: Valid) -> None:
    # ccxt's parse of an error reply is {"info": ..., "status": "rejected"} and little else.
    assert order_messages({"info": {}, "status": "rejected"}, venue=VENUE, account=ACCOUNT) == []
    nameless = order(clientOrderId=None, status="rejected", info={"orderId": 4293153, "status": "REJECTED"})
    assert valid(order_messages(nameless, venue=VENUE, account=ACCOUNT)) == []


def test_an_order_without_client_id_is_booked_as_an_external_order(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    # An order placed outside the ledger (no client ID) is booked, never parked for ever.
    placed_in_ui = order(clientOrderId=None, info={"orderId": 4293153, "status": "NEW"})
    out = valid(order_messages(placed_in_ui, venue=VENUE, account=ACCOUNT))
    assert out == [
        {
            "type": "request",
            "account": ACCOUNT,
            "venue": VENUE,
            "venue_order_id": "4293153",
            "instrument": "BTC/USDT",
            "side": "buy",
            "order_type": "limit",
            "quantity": "1",
            "price": "64000",
            "time_in_force": "GTC",
            "post_only": False,  # the unified order's postOnly
            "external": True,
            "ts": "2026-11-20T10:00:01.000000Z",
            "source": "ccxt",
        },
        {
            "type": "accepted",
            "venue": VENUE,
            "venue_order_id": "4293153",
            # what the report states of its order, for the ledger to compare (Order.check_stated)
            "account": ACCOUNT,
            "instrument": "BTC/USDT",
            "side": "buy",
            "ts": "2026-11-20T10:00:01.000000Z",
            "source": "ccxt",
        },
    ]
    assert feed(out).counts["applied"] == 2
    state = ledger.order("ext-binance-4293153")
    assert (state.status, state.venue_order_ids) == (Status.ACCEPTED, ["4293153"])


def test_requests_can_be_left_to_the_trading_system(valid: Valid, feed: Feed, ledger: OrderLedger) -> None:
    own = {
        "type": "request",
        "client_order_id": "c-1",
        "account": ACCOUNT,
        "venue": VENUE,
        "instrument": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": "1",
        "price": "64000",
        "ts": "2026-11-20T10:00:00Z",
    }
    feed([own])
    # The venue reports the order edited to 2 @ 63900 (ccxt edit_order). With requests=False
    # only the venue's facts are taken; a request read from the report records the differences.
    edited = order(amount=2.0, price=63900.0, remaining=2.0)
    out = valid(order_messages(edited, venue=VENUE, account=ACCOUNT, requests=False))
    assert [m["type"] for m in out] == ["accepted"]
    assert feed(out).counts["applied"] == 1
    with_request = feed(order_messages(edited, venue=VENUE, account=ACCOUNT))
    # The report is the venue's, not the caller's: never a refusal. Its differences from the
    # caller's request are anomalies holding both values (the order keeps the caller's), and
    # the time in force the caller left out is added.
    assert with_request.counts["rejected"] == 0
    assert with_request.counts["applied"] == 1
    assert with_request.counts["duplicate"] == 1  # the ack
    events = ledger.audit.order_events("c-1")
    anomalies = {(e.field, e.recorded, e.reported) for e in events if isinstance(e, AnomalyRecorded)}
    assert anomalies == {("quantity", "1", "2"), ("price", "64000", "63900")}
    order_now = ledger.order("c-1")
    assert (order_now.quantity, order_now.price, order_now.time_in_force) == (1, 64000, "GTC")
    assert sorted(order_now.anomalies) == ["price_mismatch", "quantity_mismatch"]
    again = feed(order_messages(edited, venue=VENUE, account=ACCOUNT))
    assert again.counts["duplicate"] == 2  # the same differences are recorded once


def test_order_types_are_the_ledgers_own(valid: Valid) -> None:
    def order_type(**fields: Any) -> str:
        request = valid(order_messages(order(**fields), venue=VENUE, account=ACCOUNT))[0]
        return str(request["order_type"])

    assert order_type(type="stop_limit", triggerPrice=63000.0) == "stop_limit"
    assert order_type(type="take_profit_market", price=None, triggerPrice=66000.0) == "take_profit_market"
    assert order_type(type="limit_maker") == "limit"
    # A stop's name without its trigger is booked as the plain type it folds to
    assert order_type(type="stop_market", price=None) == "market"
    assert order_type(type=None, price=64000.0) == "limit"
    assert order_type(type=None, price=None) == "market"


def test_no_request_when_the_order_cannot_be_described(valid: Valid) -> None:
    # A limit order without a price, or a quote-sized market buy without an amount.
    for fields in ({"price": None}, {"type": "market", "amount": None}, {"symbol": None}):
        out = valid(order_messages(order(**fields), venue=VENUE, account=ACCOUNT))
        assert [m["type"] for m in out] == ["accepted"], fields


def test_instrument_names_can_be_mapped(valid: Valid) -> None:
    out = valid(
        order_messages(order(), venue=VENUE, account=ACCOUNT, instrument_of=lambda s: s.replace("/", "-"))
    )
    assert out[0]["instrument"] == "BTC-USDT"


def test_times_fall_back_to_datetime_then_update_time(valid: Valid) -> None:
    assert (
        valid(
            order_messages(
                order(timestamp=None, datetime="2026-11-20T10:00:01.5Z"), venue=VENUE, account=ACCOUNT
            )
        )[0]["ts"]
        == "2026-11-20T10:00:01.500000Z"
    )
    watched = order(timestamp=None, datetime=None, lastUpdateTimestamp=T0 + 7)
    assert (
        valid(order_messages(watched, venue=VENUE, account=ACCOUNT))[0]["ts"] == "2026-11-20T10:00:00.007000Z"
    )
    with pytest.raises(AdapterError, match="no timestamp"):
        order_messages(
            order(timestamp=None, datetime=None, lastUpdateTimestamp=None), venue=VENUE, account=ACCOUNT
        )


def test_an_order_with_no_identity_is_refused() -> None:
    with pytest.raises(AdapterError, match="id or a clientOrderId"):
        order_messages(order(id=None, clientOrderId=None, info={}), venue=VENUE, account=ACCOUNT)


def test_a_cancel_reply_names_the_order_not_the_cancel_request(
    valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    # Binance's DELETE /api/v3/order, parsed by ccxt: clientOrderId is the cancel's own ID.
    reply = order(
        id="4293160",
        clientOrderId="cxl-2",
        status="canceled",
        info={"origClientOrderId": "c-2", "clientOrderId": "cxl-2", "orderId": 4293160},
    )
    out = valid(order_messages(reply, venue=VENUE, account=ACCOUNT))
    assert {m["client_order_id"] for m in out} == {"c-2"}
    feed(out)
    assert ledger.order("c-2").status is Status.CANCELED


# ---------------------------------------------------------------------- trades


def test_a_trade_is_one_fill_with_fee_and_liquidity(valid: Valid) -> None:
    assert valid(trade_messages(trade(), venue=VENUE)) == [
        {
            "type": "fill",
            "venue": VENUE,
            "venue_order_id": "4293153",
            "instrument": "BTC/USDT",  # what the trade states of its order (no account given)
            "side": "buy",
            "trade_id": "1001",
            "quantity": "0.4",
            "price": "64000",
            "fee": "0.0004",
            "fee_currency": "BTC",
            "liquidity": "maker",
            "ts": "2026-11-20T10:01:00.000000Z",
            "source": "ccxt",
        }
    ]


def test_fees_come_from_fees_when_they_share_a_currency(valid: Valid) -> None:
    split = trade(fee=None, fees=[{"cost": 0.1, "currency": "USDT"}, {"cost": 0.2, "currency": "USDT"}])
    fill = valid(trade_messages(split, venue=VENUE))[0]
    assert (fill["fee"], fill["fee_currency"]) == ("0.3", "USDT")  # exact: not 0.30000000000000004
    mixed = trade(fee=None, fees=[{"cost": 0.1, "currency": "USDT"}, {"cost": 0.001, "currency": "BNB"}])
    fill = valid(trade_messages(mixed, venue=VENUE))[0]
    assert "fee" not in fill and "fee_currency" not in fill
    rebate = valid(trade_messages(trade(fee={"cost": -0.01, "currency": "USDT"}), venue=VENUE))[0]
    assert rebate["fee"] == "-0.01"
    as_text = valid(trade_messages(trade(fee={"cost": "0.00040000", "currency": "BTC"}), venue=VENUE))[0]
    assert as_text["fee"] == "0.0004"


def test_a_trade_carries_the_client_order_id_when_the_venue_gives_one(valid: Valid) -> None:
    okx_like = trade(info={"tradeId": "1001", "ordId": "4293153", "clOrdId": "c-1"})
    assert valid(trade_messages(okx_like, venue="okx"))[0]["client_order_id"] == "c-1"
    # Each venue's own field (VENUE_RULES): Binance's is not OKX's.
    assert "client_order_id" not in valid(trade_messages(okx_like, venue=VENUE))[0]
    unified = trade(clientOrderId="c-1")
    assert valid(trade_messages(unified, venue=VENUE))[0]["client_order_id"] == "c-1"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"id": None}, "without an id"),
        ({"order": None}, "names no order"),
        ({"amount": 0.0}, "positive amount and price"),
        ({"price": -1.0}, "positive amount and price"),
        ({"timestamp": None, "datetime": None}, "no timestamp"),
        ({"amount": float("nan")}, "finite"),
        ({"price": True}, "must be a number"),
    ],
)
def test_a_trade_that_cannot_be_booked_is_refused(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(AdapterError, match=error):
        trade_messages(trade(**fields), venue=VENUE)


def test_numbers_are_exact_text_of_the_float(valid: Valid) -> None:
    fill = valid(
        trade_messages(trade(amount=2**-10, price=1e-05, fee={"cost": 1e-08, "currency": "X"}), venue=VENUE)
    )[0]
    assert fill["quantity"] == "0.0009765625"  # what the float is, never rounded
    assert fill["price"] == "0.00001"
    assert fill["fee"] == "0.00000001"
    big = valid(trade_messages(trade(price=1e16, amount=3), venue=VENUE))[0]
    assert (big["price"], big["quantity"]) == ("10000000000000000", "3")
    # A float's noise past the ledger's places (0.1 + 0.2 is 0.30000000000000004) is refused
    # with its reason, never rounded to something the venue did not say
    with pytest.raises(
        InvalidInputError, match="quantity has 17 decimal places; the ledger keeps at most 12"
    ):
        trade_messages(trade(amount=0.1 + 0.2), venue=VENUE)


# ---------------------------------------------------------------------- payloads and feeds


def test_fetch_and_watch_deliveries_translate_identically() -> None:
    # The same order as fetch_order returns it and as watch_orders pushes it: other `info`,
    # other key order, strings where the other has floats, trades None instead of [].
    fetched = order(filled=0.4, remaining=0.6, lastTradeTimestamp=T0 + 60_000)
    watched = dict(reversed(list(fetched.items())))
    watched.update(
        info={"e": "executionReport", "x": "TRADE", "i": 4293153, "c": "c-1"},
        price="64000.00000000",
        amount="1.00000000",
        filled="0.40000000",
        trades=None,
        fee={"cost": "0.0004", "currency": "BTC"},
    )
    assert messages(fetched) == messages(watched)
    polled = trade()
    pushed = trade(info={"e": "executionReport", "t": 1001}, amount="0.40000000", price="64000.00")
    assert messages(polled) == messages(pushed)


def test_payloads_are_recognised_and_put_in_applying_order(valid: Valid) -> None:
    canceled = order(filled=0.4, status="canceled")
    out = valid(messages([canceled, trade()]))
    assert [m["type"] for m in out] == ["request", "accepted", "fill", "canceled"]
    assert is_order(canceled) and not is_trade(canceled)
    assert is_trade(trade()) and not is_order(trade())
    assert messages(trade()) == trade_messages(trade(), venue=VENUE, account=ACCOUNT)
    assert messages([]) == []
    with pytest.raises(AdapterError, match="neither a CCXT order, a CCXT trade nor a funding history entry"):
        messages({"symbol": "BTC/USDT", "bid": 1.0})
    with pytest.raises(AdapterError, match=r"payload\[1\]"):
        messages([order(), "not a structure"])  # type: ignore[list-item]


def test_one_raw_payload_can_be_ingested_as_one_input(ledger: OrderLedger) -> None:
    payload = [order(filled=0.4, status="open"), trade()]
    raw = json.dumps(payload).encode()
    item = inbound(raw, messages(payload), origin="ws:orders", format="ccxt")
    assert item.error is None and len(item.messages) == 3
    report = ledger.ingest_inbound([item])
    assert report.counts["applied"] == 1
    assert ledger.order("c-1").filled_quantity == Decimal("0.4")
    # A message the ledger would refuse is refused as the adapter builds it, in the ledger's words,
    # and the whole payload with it (its raw line still journaled).
    broken = [order(id="4293160", clientOrderId="c-9"), trade(id="9" * 200, order="4293160")]
    with pytest.raises(InvalidInputError, match="trade_id is longer than 128 characters"):
        messages(broken)
    refused = ledger.ingest_lines([json.dumps(broken)], format="ccxt", venue=VENUE, account=ACCOUNT)
    assert refused.counts["rejected"] == 1 and refused.events == 0
    assert "trade_id is longer than 128 characters" in str(refused.rejected[0].reason)
    assert refused.rejected[0].message_id is not None  # journaled
    with pytest.raises(OrderNotFoundError):
        ledger.order("c-9")


def test_order_rows_for_reconciliation_and_the_differ() -> None:
    row = order_row(order(filled=0.4, average=64000.0, status="open"))
    assert row == {
        "venue_order_id": "4293153",
        "client_order_id": "c-1",
        "instrument": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": "1",
        "price": "64000",
        "filled_quantity": "0.4",
        "average_price": "64000",
        "status": "open",
        "created_at": "2026-11-20T10:00:01.000000Z",  # the order's ``timestamp``
    }
    assert order_row(order(status="closed", filled=1.0))["status"] == "filled"  # type: ignore[index]
    assert order_row(order(id=None)) is None
    snapshot = reconciliation_snapshot(
        [
            order(
                status="closed",
                filled=1.0,
                trades=[trade(order=None), trade(id="1002", amount=0.6, order=None)],
            )
        ],
        [trade()],
        venue=VENUE,
        account=ACCOUNT,
        as_of="2026-11-20T10:05:00Z",
    )
    parsed = parse_snapshot(json.dumps(snapshot))
    assert [f.trade_id for f in parsed.fills] == ["1001", "1002"]
    assert parsed.closed_orders[0].status == "filled"
    with pytest.raises(AdapterError, match="as_of"):
        reconciliation_snapshot([], venue=VENUE, account=ACCOUNT, as_of="")


# ---------------------------------------------------------------------- through ccxt itself


@pytest.fixture
def binance(ccxt_lib: Any, fixture_json: Callable[[str], Any]) -> Any:
    """ccxt's Binance parser with the one market the fixtures use (no network)."""
    exchange = ccxt_lib.binance()
    exchange.set_markets([exchange.safe_market_structure(fixture_json("binance_spot.json")["market"])])
    return exchange


def test_ccxt_parsed_binance_orders_reach_the_right_states(
    binance: Any, fixture_json: Callable[[str], Any], valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    raw = fixture_json("binance_spot.json")
    orders = [binance.parse_order(o) for o in raw["rest_all_orders_t2"]]
    trades = [binance.parse_trade(t) for t in raw["rest_my_trades_t2"]]
    report = feed(valid(messages(orders + trades)))
    assert report.counts["rejected"] == 0
    expected = {
        "c-1": (Status.FILLED, "1", "4293153"),
        "c-2": (Status.CANCELED, "0.5", "4293160"),
        "c-3": (Status.FILLED, "0.1", "4293170"),
        "c-4": (Status.EXPIRED, "0", "4293181"),
    }
    for client_id, (status, filled, venue_order_id) in expected.items():
        state = ledger.order(client_id)
        assert (state.status, state.filled_quantity, state.venue_order_ids) == (
            status,
            Decimal(filled),
            [venue_order_id],
        ), client_id
    blotter = {t["trade_id"]: t for t in list_trades(ledger.db)}
    assert sorted(blotter) == ["1001", "1002", "1003", "1004"]
    assert (Decimal(blotter["1004"]["fee"]), blotter["1004"]["fee_currency"]) == (Decimal("0.00462"), "BNB")
    assert blotter["1001"]["liquidity"] == "maker" and blotter["1004"]["liquidity"] == "taker"


def test_ccxt_parsed_full_new_order_reply_books_its_fills(
    binance: Any, fixture_json: Callable[[str], Any], valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    reply = binance.parse_order(fixture_json("binance_spot.json")["rest_new_order_full"])
    out = valid(order_messages(reply, venue=VENUE, account=ACCOUNT))
    assert [m["type"] for m in out] == ["request", "accepted", "fill"]
    assert (out[2]["trade_id"], out[2]["quantity"], out[2]["price"]) == ("1004", "0.1", "64010.5")
    feed(out)
    # The same trade from GET /api/v3/myTrades books nothing new but the liquidity the order
    # reply's fill left out (taker): it completes the trade, as a missing fee would.
    assert ledger.trades()[0].liquidity is None
    my_trade = binance.parse_trade(fixture_json("binance_spot.json")["rest_my_trades_t2"][3])
    again = feed(trade_messages(my_trade, venue=VENUE))
    assert (again.counts["applied"], again.counts["duplicate"]) == (1, 0)
    assert [(t.trade_id, t.quantity, t.liquidity) for t in ledger.trades()] == [
        ("1004", Decimal("0.1"), Liquidity.TAKER)
    ]
    assert feed(trade_messages(my_trade, venue=VENUE)).counts["duplicate"] == 1  # then a copy
    assert ledger.order("c-3").status is Status.FILLED


def test_ccxt_parsed_cancel_reply_does_not_request_a_phantom_order(
    binance: Any, fixture_json: Callable[[str], Any], valid: Valid, feed: Feed, ledger: OrderLedger
) -> None:
    reply = binance.parse_order(fixture_json("binance_spot.json")["rest_cancel_order"])
    assert reply["clientOrderId"] == "cxl-2"  # ccxt reports the cancel request's ID
    out = valid(order_messages(reply, venue=VENUE, account=ACCOUNT))
    assert {m.get("client_order_id") for m in out} == {"c-2"}
    feed(out)
    assert ledger.order("c-2").status is Status.CANCELED
    assert [o["client_order_id"] for o in list_orders(ledger.db)] == ["c-2"]
