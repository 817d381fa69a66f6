"""Hyperliquid's own payloads, ingested end to end with ``--format hyperliquid``.

Every venue payload below is a published example, copied field for field:

* ccxt's recorded Hyperliquid replies, ccxt/ccxt ts/src/test/static/response/hyperliquid.json
  (``fetchMyTrades`` "trades with builderFee" and "user trades", ``fetchOrders``,
  ``fetchClosedOrders``, ``fetchOpenOrders``, ``fetchOrder``): these are the raw info-endpoint
  replies (``httpResponse``) for userFills, historicalOrders, openOrders and orderStatus;
* the spotMeta example of Hyperliquid's docs (for-developers/api/info-endpoint/spot), with the
  doc's two typos fixed (a missing colon after ``weiDecimals``, trailing commas).

The WebSocket envelopes (``{"channel": "userFills", "data": {"isSnapshot", "user", "fills"}}``,
``{"channel": "orderUpdates", "data": [...]}``, ``{"channel": "webData2", "data": {...}}``) are
the shapes of Hyperliquid's docs (websocket/subscriptions: WsUserFills, WsOrder[], WebData2)
around those same published fills and orders: a WsFill has the fields of a userFills entry.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.events import OrderAmended, OrderFilled
from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.common import AdapterError, MissingContext
from orderledger.infrastructure.adapters.hyperliquid.payloads import (
    HyperliquidAdapter,
    SpotNames,
    web_data_snapshot,
)
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades
from tests.support.ccxt_flows import (
    HYPERLIQUID_HYPE,
    HYPERLIQUID_HYPE_SPOT,
    HYPERLIQUID_NEAR,
    LIQUIDATED_USER,
    OUR_OID,
    OURS,
    Recorder,
    counterparty_fill,
    hyperliquid_liquidation_fill,
    market,
    raw,
    resting_order,
)
from tests.support.cli import cli_json, parse_ingest, run_cli

VENUE = "hyperliquid"
ACCOUNT = "main"
USER = "0x193bd350ec838b1e22d6f302da5343b920aa1c2b"  # the liquidatedUser of the published fills

# ccxt hyperliquid.json, fetchMyTrades "trades with builderFee", httpResponse (info userFills).
FILLS: list[dict[str, Any]] = [
    {"coin": "HYPE", "px": "33.209", "sz": "0.73", "side": "B", "time": "1770458548926",
     "startPosition": "0.0", "dir": "Open Long", "closedPnl": "0.0",
     "hash": "0x53542a9ac057af8454cd0434d851d202028b00805b5ace56f71cd5ed7f5b896e",
     "oid": "314848230306", "crossed": True, "fee": "0.012896", "builderFee": "0.002424",
     "tid": "882779857052503", "feeToken": "USDC", "twapId": None},
    {"coin": "flx:CRCL", "px": "55.877", "sz": "0.27", "side": "A", "time": "1770134398172",
     "startPosition": "0.27", "dir": "Close Long", "closedPnl": "-5.147253",
     "hash": "0x0e90e4d738497681100a04349b4a0e02013600bcd34c9553b2599029f74d506b",
     "oid": "310636768174", "crossed": True, "fee": "0.001173", "tid": "1019408913364172",
     "liquidation": {"liquidatedUser": "0x193bd350ec838b1e22d6f302da5343b920aa1c2b",
                     "markPx": "55.92", "method": "market"},
     "feeToken": "USDH", "twapId": None},
    {"coin": "flx:CRCL", "px": "70.0", "sz": "0.14", "side": "B", "time": "1769178808067",
     "startPosition": "0.13", "dir": "Open Long", "closedPnl": "0.0",
     "hash": "0x83750d8e924aa58584ee0433e6631e020e8600742d4dc457273db8e1514e7f70",
     "oid": "251733169011", "crossed": False, "fee": "0.000282", "tid": "202031760494687",
     "feeToken": "USDH", "twapId": None},
    {"coin": "HYPE", "px": "21.147", "sz": "5.2", "side": "A", "time": "1768931202995",
     "startPosition": "5.2", "dir": "Close Long", "closedPnl": "-46.0356",
     "hash": "0xc0de326d5c05d659c2570433b86b0f02040d0052f708f52b64a6ddc01b09b044",
     "oid": "298509207410", "crossed": True, "fee": "0.047504", "tid": "345752513742025",
     "liquidation": {"liquidatedUser": "0x193bd350ec838b1e22d6f302da5343b920aa1c2b",
                     "markPx": "21.193", "method": "market"},
     "feeToken": "USDC", "twapId": None},
    {"coin": "HYPE", "px": "25.585", "sz": "1.0", "side": "A", "time": "1768713164026",
     "startPosition": "6.2", "dir": "Close Long", "closedPnl": "-4.415",
     "hash": "0x9241b58cca43e2e993bb04338fc60f0201910072654701bb360a60df8947bcd4",
     "oid": "296683658818", "crossed": True, "fee": "0.01361", "builderFee": "0.002558",
     "tid": "727991321631002", "feeToken": "USDC", "twapId": None},
]  # fmt: skip

# ccxt hyperliquid.json, fetchMyTrades "user trades" (SOL, with a cloid), httpResponse.
CLOID_FILL: dict[str, Any] = {
    "cloid": "0x1234567890abcdef1234567890abcdef", "closedPnl": "0.0", "coin": "SOL",
    "crossed": True, "dir": "Open Long", "fee": "0.023154",
    "hash": "0x15da87c3e05b83745fc3040add877e011a002956f66ac116e249b862dc71f07f",
    "liquidationMarkPx": None, "oid": "6928122855", "px": "132.31", "side": "B",
    "startPosition": "2.84", "sz": "0.5", "tid": "566849930446139", "time": "1709643346297",
    "feeToken": "USDC",
}  # fmt: skip

# ccxt hyperliquid.json, fetchOpenOrders "open order using a non usdc hip3 market" (openOrders).
OPEN_ORDERS = [
    {"coin": "flx:CRCL", "side": "B", "limitPx": "70.0", "sz": "0.14", "oid": "251733169011",
     "timestamp": "1764346344235", "triggerCondition": "N/A", "isTrigger": False,
     "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": False,
     "orderType": "Limit", "origSz": "0.14", "tif": "Gtc", "cloid": None},
]  # fmt: skip

# ccxt hyperliquid.json, fetchOrders "ensure orders are dedup ..." (historicalOrders): the same
# order twice, once canceled (numbers as strings), once open (numbers as numbers).
HISTORICAL = [
    {"order": {"coin": "HYPE", "side": "A", "limitPx": "40.0", "sz": "1.0", "oid": "323550506865",
               "timestamp": "1771401340649", "triggerCondition": "N/A", "isTrigger": False,
               "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": False,
               "orderType": "Limit", "origSz": "1.0", "tif": "Gtc", "cloid": None},
     "status": "canceled", "statusTimestamp": "1771402034835"},
    {"order": {"coin": "HYPE", "side": "A", "limitPx": "40.0", "sz": "1.0", "oid": 323550506865,
               "timestamp": 1771401340649, "triggerCondition": "N/A", "isTrigger": False,
               "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": False,
               "orderType": "Limit", "origSz": "1.0", "tif": "Gtc", "cloid": None},
     "status": "open", "statusTimestamp": 1771401340649},
]  # fmt: skip

# ccxt hyperliquid.json, fetchOrder "fetchOrder with both ts" (orderStatus): a spot order.
ORDER_STATUS_SPOT = {
    "status": "order",
    "order": {
        "order": {"coin": "PURR/USDC", "side": "A", "limitPx": "0.5", "sz": "50.0",
                  "oid": "60816227852", "timestamp": "1736094308023", "triggerCondition": "N/A",
                  "isTrigger": False, "triggerPx": "0.0", "children": [], "isPositionTpsl": False,
                  "reduceOnly": False, "orderType": "Limit", "origSz": "50.0", "tif": "Gtc",
                  "cloid": None},
        "status": "canceled", "statusTimestamp": "1736094629472",
    },
}  # fmt: skip

# ccxt hyperliquid.json, fetchOpenOrders "open orders" (a bare frontend open order, SOL).
SOL_OPEN = {"coin": "SOL", "limitPx": "60.0", "oid": "6928553534", "origSz": "0.1", "side": "B",
            "sz": "0.1", "timestamp": "1709643776949"}  # fmt: skip

# Hyperliquid docs, info endpoint / spot, "Retrieve spot metadata" response.
SPOT_META = {
    "tokens": [
        {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
         "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True,
         "evmContract": None, "fullName": None},
        {"name": "PURR", "szDecimals": 0, "weiDecimals": 5, "index": 1,
         "tokenId": "0xc1fb593aeffbeb02f85e0308e9956a90", "isCanonical": True,
         "evmContract": None, "fullName": None},
        {"name": "HFUN", "szDecimals": 2, "weiDecimals": 8, "index": 2,
         "tokenId": "0xbaf265ef389da684513d98d68edf4eae", "isCanonical": False,
         "evmContract": None, "fullName": None},
    ],
    "universe": [
        {"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True},
        {"tokens": [2, 0], "name": "@1", "index": 1, "isCanonical": False},
    ],
}  # fmt: skip


def ws(channel: str, data: Any) -> dict[str, Any]:
    return {"channel": channel, "data": data}


def lines(*payloads: Any) -> list[str]:
    return [json.dumps(p) for p in payloads]


@pytest.fixture
def ledger(stored_ledger: OrderLedger) -> OrderLedger:
    """This module's ledgers are stored ones (tests/adapters/conftest.py)."""
    return stored_ledger


def ingest(ledger: OrderLedger, *payloads: Any) -> dict[str, int]:
    report = ledger.ingest_lines(lines(*payloads), format="hyperliquid", venue=VENUE, account=ACCOUNT)
    return report.counts


def position(ledger: OrderLedger, instrument: str) -> dict[str, Any]:
    return next(p for p in list_positions(ledger.db) if p["instrument"] == instrument)


def test_user_fills_book_liquidations_and_wait_for_orders_named_only_by_oid(ledger: OrderLedger) -> None:
    # Given the userFills snapshot pushed on subscribing, then the openOrders reply that names
    # the order of the one maker fill.
    counts = ingest(ledger, ws("userFills", {"isSnapshot": True, "user": USER, "fills": FILLS}), OPEN_ORDERS)

    # Then the two liquidations are booked at once, each on an external market order for its size.
    hype_liq = ledger.order("ext-hyperliquid-298509207410")
    assert hype_liq.external and hype_liq.tags == {"liquidation": "true"}
    assert (hype_liq.side.value, hype_liq.quantity, hype_liq.status) == (
        "sell",
        Decimal("5.2"),
        Status.FILLED,
    )
    crcl_liq = ledger.order("ext-hyperliquid-310636768174")
    assert (crcl_liq.quantity, crcl_liq.status) == (Decimal("0.27"), Status.FILLED)
    # The maker buy of 0.14 flx:CRCL waited for its order; the openOrders reply released it.
    resting = ledger.order("ext-hyperliquid-251733169011")
    assert (resting.order_type.value, resting.price, resting.time_in_force) == ("limit", Decimal("70"), "GTC")
    assert (resting.filled_quantity, resting.status) == (Decimal("0.14"), Status.FILLED)
    # The two other HYPE fills name orders nobody has reported yet: still waiting (one line).
    assert counts == {"applied": 1, "duplicate": 0, "parked": 1, "ignored": 0, "rejected": 0}

    # Trades: fees are fee + builderFee in feeToken, crossed → taker, closedPnl kept.
    trades = {t["trade_id"]: t for t in list_trades(ledger.db)}
    assert set(trades) == {"345752513742025", "1019408913364172", "202031760494687"}
    assert (trades["345752513742025"]["fee"], trades["345752513742025"]["fee_currency"]) == (
        "0.047504",
        "USDC",
    )
    assert trades["202031760494687"]["liquidity"] == "maker"
    filled = [
        e for e in ledger.audit.order_events("ext-hyperliquid-298509207410") if isinstance(e, OrderFilled)
    ]
    assert filled[0].venue_realized_pnl == Decimal("-46.0356")

    # Positions, by hand. HYPE: short 5.2 (the liquidation sale). flx:CRCL: sold 0.27 at 55.877,
    # then bought 0.14 at 70 → short 0.13; the buy closed 0.14 of the short at a loss of
    # (55.877 − 70) × 0.14 = −14.123 × 0.14 = −1.97722. Fees 0.001173 + 0.000282 = 0.001455 USDH.
    hype = position(ledger, "HYPE")
    assert (hype["quantity"], hype["realized_pnl"], hype["fees"]) == ("-5.2", "0", {"USDC": "0.047504"})
    crcl = position(ledger, "flx:CRCL")
    assert (crcl["quantity"], crcl["realized_pnl"], crcl["fees"]) == (
        "-0.13",
        "-1.97722",
        {"USDH": "0.001455"},
    )


def test_the_same_fills_by_websocket_and_rest_book_once_in_either_order(tmp_path: Path) -> None:
    snapshot = ws("userFills", {"isSnapshot": True, "user": USER, "fills": FILLS})
    stream = ws("userFills", {"user": USER, "fills": [CLOID_FILL]})
    request = {"type": "request", "client_order_id": CLOID_FILL["cloid"], "venue": VENUE, "account": ACCOUNT,
               "instrument": "SOL", "side": "buy", "order_type": "limit", "quantity": "0.5",
               "price": "132.31", "ts": "2024-03-05T12:55:46Z"}  # fmt: skip
    results = []
    for name, order in (
        ("ws-first", [snapshot, stream, FILLS + [CLOID_FILL]]),
        ("rest-first", [FILLS + [CLOID_FILL], stream, snapshot]),
    ):
        book = OrderLedger(f"sqlite:///{tmp_path / name}.db")
        book.record(request)  # the caller records its own order (cloid) before sending it
        for payload in order:
            ingest(book, payload, OPEN_ORDERS)
        trades = sorted((t["trade_id"], t["quantity"], t["fee"]) for t in list_trades(book.db))
        results.append((trades, book.order(CLOID_FILL["cloid"]).status))
        book.close()
    # Four trades booked once each; the caller's SOL order is filled by its cloid fill, whose fee is 0.023154.
    assert results[0] == results[1]
    assert results[0][0] == [
        ("1019408913364172", "0.27", "0.001173"),
        ("202031760494687", "0.14", "0.000282"),
        ("345752513742025", "5.2", "0.047504"),
        ("566849930446139", "0.5", "0.023154"),
    ]
    assert results[0][1] is Status.FILLED


def test_orders_without_cloid_are_external_and_ws_rest_copies_agree(ledger: OrderLedger) -> None:
    # Given the orderUpdates push of the cancel, then the historicalOrders reply with both entries.
    first = ingest(ledger, ws("orderUpdates", HISTORICAL[:1]), HISTORICAL, ORDER_STATUS_SPOT)
    order = ledger.order("ext-hyperliquid-323550506865")
    # Then one external order: sell 1 HYPE limit 40 GTC, acknowledged as 323550506865, canceled.
    assert (order.side.value, order.quantity, order.price, order.status) == (
        "sell",
        Decimal("1"),
        Decimal("40"),
        Status.CANCELED,
    )
    assert order.venue_order_ids == ["323550506865"]
    # The spot order keeps its BASE/QUOTE name.
    spot = ledger.order("ext-hyperliquid-60816227852")
    assert (spot.instrument, spot.status) == ("PURR/USDC", Status.CANCELED)
    assert (first["applied"], first["duplicate"], first["rejected"]) == (2, 1, 0)  # REST repeats the push
    # When the same input is ingested again, nothing new is recorded.
    again = ingest(ledger, ws("orderUpdates", HISTORICAL[:1]), HISTORICAL, ORDER_STATUS_SPOT)
    assert again["applied"] == 0 and again["rejected"] == 0


def test_webdata2_open_orders_are_diffed_per_user(ledger: OrderLedger) -> None:
    # Given a webData2 push listing one resting SOL order, then one without it.
    report = ledger.ingest_lines(
        lines(
            ws("webData2", {"user": USER, "openOrders": [SOL_OPEN]}),
            ws("webData2", {"user": USER, "openOrders": []}),
        ),
        format="hyperliquid", venue=VENUE, account=ACCOUNT,
    )  # fmt: skip
    # Then the new order is requested and acknowledged; its leaving is noted, not guessed.
    order = ledger.order("ext-hyperliquid-6928553534")
    assert (order.side.value, order.quantity, order.price, order.status) == (
        "buy",
        Decimal("0.1"),
        Decimal("60"),
        Status.ACCEPTED,
    )
    assert report.counts["applied"] == 1 and report.counts["ignored"] == 1
    reasons = [
        r[0] for r in ledger.db.read().__enter__().all("SELECT reason FROM messages ORDER BY message_id")
    ]
    assert "left the open orders" in reasons[-1]


def test_spot_index_names_come_from_the_spot_meta() -> None:
    names = SpotNames(SPOT_META)
    assert names.instrument("@1") == "HFUN/USDC"
    assert names.instrument("@0") == "PURR/USDC"
    assert names.instrument("BTC") == "BTC"
    with pytest.raises(MissingContext, match=r"waits for Hyperliquid spot pair @107's name \(spotMeta\)"):
        names.instrument("@107")


def test_spot_meta_as_a_line_names_later_spot_orders(ledger: OrderLedger) -> None:
    hfun = dict(SOL_OPEN, coin="@1")  # the published open order, on the spot pair @1
    report = ledger.ingest_lines(
        lines([hfun], SPOT_META, [hfun]), format="hyperliquid", venue=VENUE, account=ACCOUNT
    )
    # The first line waits for the meta (parked, saying so); once the meta is recorded it is read
    # again (a line of its own, no line number) and the order is HFUN/USDC; the third is a copy.
    outcomes = [(r.line_no, r.outcome, r.reason) for r in report.rejected]
    assert outcomes == [] and {k: v for k, v in report.counts.items() if v} == {
        "parked": 1, "ignored": 1, "applied": 1, "duplicate": 1,
    }  # fmt: skip
    assert ledger.order("ext-hyperliquid-6928553534").instrument == "HFUN/USDC"
    assert list(ledger.audit.messages(parked=True)) == []


def test_a_spot_order_read_before_the_spot_meta_waits_for_it_in_a_later_ingest(stored_url: str) -> None:
    hfun = dict(SOL_OPEN, coin="@1")  # the published open order, on the spot pair @1
    # Given the order alone: no spot meta known to this ingest or the ledger
    with OrderLedger(stored_url) as first:
        assert ingest(first, [hfun])["parked"] == 1
        (waiting,) = first.audit.messages(parked=True)
        assert waiting.reason == "waits for Hyperliquid spot pair @1's name (spotMeta)"
    # When the spot meta comes in another ingest of the ledger opened again (another process)
    with OrderLedger(stored_url) as second:
        ingest(second, SPOT_META)
        # Then the order is booked on HFUN/USDC (buy 0.1 at 60, as published) and nothing waits
        order = second.order("ext-hyperliquid-6928553534")
        assert (order.instrument, order.side.value, order.quantity, order.price) == (
            "HFUN/USDC", "buy", Decimal("0.1"), Decimal("60"),
        )  # fmt: skip
        assert list(second.audit.messages(parked=True)) == []
        # And a later ingest of the same order, knowing no meta itself, learns it from the journal
        assert ingest(second, [hfun])["duplicate"] == 1
        assert second.audit.verify().ok


def test_bad_payloads_are_refused_with_one_line() -> None:
    adapter = HyperliquidAdapter(venue=VENUE, account=ACCOUNT)
    with pytest.raises(AdapterError, match="needs tid and oid"):
        adapter.messages([{k: v for k, v in FILLS[0].items() if k != "tid"} | {"oid": None, "tid": None}])
    with pytest.raises(AdapterError, match="channel 'l2Book'"):
        adapter.messages(ws("l2Book", {}))


# The published HYPE liquidation fill (FILLS[3]: oid 298509207410, 5.2 @ 21.147, fee 0.047504
# USDC, closedPnl −46.0356, startPosition 5.2) split into three fills of the same order
# (derived: sizes 3, 1.2 and 1, tids +1..+3; fees 0.03 + 0.012 + 0.005504 = 0.047504; closedPnl
# per unit −46.0356 / 5.2 = −8.853 (an entry at 21.147 + 8.853 = 30), so −26.559, −10.6236,
# −8.853; the same time and hash, as the fills of one liquidation have).
SPLIT = [
    FILLS[3] | {"sz": size, "tid": 345752513742025 + n, "fee": fee, "closedPnl": pnl,
                "startPosition": start}
    for n, size, fee, pnl, start in (
        (1, "3", "0.03", "-26.559", "5.2"),
        (2, "1.2", "0.012", "-10.6236", "2.2"),
        (3, "1", "0.005504", "-8.853", "1"),
    )
]  # fmt: skip


@pytest.mark.parametrize("rest_first", [False, True], ids=["pushes-then-rest", "rest-then-pushes"])
def test_a_liquidations_fills_on_separate_lines_grow_its_order(ledger: OrderLedger, rest_first: bool) -> None:
    # Given a long of 5.2 HYPE bought at 30 (derived: our order "long-1" and its fill) on the
    # account named by its address (the REST reply names no user: --account says whose),
    opened = [
        {"type": "request", "client_order_id": "long-1", "venue": VENUE, "account": USER,
         "instrument": "HYPE", "side": "buy", "order_type": "limit", "quantity": "5.2",
         "price": "30", "ts": "2026-01-20T10:00:00Z"},
        {"type": "fill", "client_order_id": "long-1", "trade_id": "own-1", "quantity": "5.2",
         "price": "30", "ts": "2026-01-20T10:00:01Z"},
    ]  # fmt: skip
    assert ledger.ingest_lines(lines(*opened)).counts["applied"] == 2
    # When the liquidation's three fills come as three userFills pushes and the REST userFills
    # reply holds all three (in either order),
    pushes = [ws("userFills", {"user": USER, "fills": [fill]}) for fill in SPLIT]
    rest = list(SPLIT)
    payloads = [rest, *pushes] if rest_first else [*pushes, rest]
    counts = ledger.ingest_lines(lines(*payloads), format="hyperliquid", venue=VENUE, account=USER).counts
    # Then every fill books, once: one external liquidation order of 3 + 1.2 + 1 = 5.2, filled
    assert (counts["applied"], counts["duplicate"], counts["rejected"]) == (
        (1, 3, 0) if rest_first else (3, 1, 0)
    )
    order = ledger.order("ext-hyperliquid-298509207410")
    assert (order.tags, order.side.value, order.quantity, order.filled_quantity, order.status) == (
        {"liquidation": "true"}, "sell", Decimal("5.2"), Decimal("5.2"), Status.FILLED,
    )  # fmt: skip
    # And, line by line, the order grew by explicit amendments from Hyperliquid's fills:
    # 3, then 3 + 1.2 = 4.2, then 4.2 + 1 = 5.2 (none when REST brought all three at once)
    amended = [
        e.quantity for e in ledger.audit.order_events(order.client_order_id) if isinstance(e, OrderAmended)
    ]
    assert amended == ([] if rest_first else [Decimal("4.2"), Decimal("5.2")])
    # And the position is flat: realized (21.147 − 30) × 5.2 = −8.853 × 5.2 = −46.0356, which is
    # Hyperliquid's closedPnl −26.559 − 10.6236 − 8.853; fees 0.047504 USDC
    hype = position(ledger, "HYPE")
    assert (Decimal(hype["quantity"]), Decimal(hype["realized_pnl"])) == (0, Decimal("-46.0356"))
    assert hype["fees"] == {"USDC": "0.047504"}
    # And the whole input again records nothing new
    again = ledger.ingest_lines(lines(*payloads), format="hyperliquid", venue=VENUE, account=USER).counts
    assert (again["applied"], again["rejected"]) == (0, 0)


# ---------------------------------------------------------------------- a liquidation's counterparty
# (its payloads, derived from published examples: tests/support/ccxt_flows.py)


def ingest_as_ours(fmt: str, payloads: list[Any], db: str, tmp_path: Path) -> None:
    """Ingest the payloads (one a line) with the real command for the account OURS: the first
    two lines apply, the third (a copy of the second's fill) is a duplicate."""
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in payloads))
    run = run_cli(
        "ingest", "--format", fmt, "--venue", VENUE, "--account", OURS, str(path), db=db, cwd=tmp_path
    )
    assert run.returncode == 0, run.describe()
    assert parse_ingest(run.stdout).counts == {
        "applied": 2, "duplicate": 1, "parked": 0, "ignored": 0, "rejected": 0,
    }  # fmt: skip


def assert_our_order_filled(db: str, tmp_path: Path, instrument: str) -> None:
    """Our order took the whole liquidation sale: one order, its one trade, a long of 64.8."""
    key = f"ext-hyperliquid-{OUR_OID}"
    orders = cli_json("orders", db=db, cwd=tmp_path)
    assert [(o["client_order_id"], o["side"], o["order_type"], o["status"], o["filled_quantity"], o["tags"])
            for o in orders] == [(key, "buy", "limit", "filled", "64.8", {})]  # fmt: skip
    trades = cli_json("trades", db=db, cwd=tmp_path)
    assert [(t["client_order_id"], t["trade_id"], t["quantity"], t["price"], t["fee"], t["fee_currency"],
             t["liquidity"]) for t in trades] == [
        (key, "5787071443114480", "64.8", "4.6879", "0.131231", "USDC", "maker"),
    ]  # fmt: skip
    # A long of 64.8 at 4.6879 (cost 64.8 × 4.6879 = 303.77592), nothing realized; the fee
    # 0.131231 USDC is the fill's.
    (near,) = cli_json("positions", db=db, cwd=tmp_path)
    assert (near["instrument"], Decimal(near["quantity"]), Decimal(near["average_price"])) == (
        instrument,
        Decimal("64.8"),
        Decimal("4.6879"),
    )
    assert (Decimal(near["realized_pnl"]), near["fees"]) == (0, {"USDC": "0.131231"})


def test_a_fill_of_another_accounts_liquidation_is_an_ordinary_fill(stored_url: str, tmp_path: Path) -> None:
    # Given our resting order (an orderStatus reply), then our fill as the userFills push for
    # OURS and again in the info userFills reply (a list, naming no user: --account says whose),
    payloads = [
        {"status": "order", "order": resting_order()},
        ws("userFills", {"user": OURS, "fills": [counterparty_fill()]}),
        [counterparty_fill()],
    ]
    # When they are ingested by the real command for the account OURS, then the fill is an
    # ordinary fill of our order, never a liquidation order of ours under our order's key
    # (which the ledger refused, losing the fill, its fee and the position): the order and the
    # push applied, the REST copy a duplicate.
    ingest_as_ours("hyperliquid", payloads, stored_url, tmp_path)
    assert_our_order_filled(stored_url, tmp_path, "NEAR")


def test_ccxt_route_reads_the_liquidated_user_too(
    stored_url: str, tmp_path: Path, ccxt_lib: Any, ccxt_pro: Any
) -> None:
    # Given the same order and fill through ccxt's own hyperliquid parsers: parse_order, the
    # REST parse_trade, and ccxt.pro's handle_my_trades of the userFills push for OURS,
    rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_NEAR)
    stream = market(ccxt_pro, "hyperliquid", **HYPERLIQUID_NEAR)
    client = Recorder()
    push = {"isSnapshot": False, "user": OURS, "fills": [counterparty_fill()]}
    stream.handle_my_trades(client, {"channel": "userFills", "data": push})
    payloads = [
        [rest.parse_order(resting_order())],
        [rest.parse_trade(counterparty_fill())],
        client.last("myTrades"),
    ]
    assert payloads[1][0]["info"]["liquidation"]["liquidatedUser"] != OURS  # ccxt keeps the raw fill
    # When they are ingested by the real command for the account OURS, then, as on the native
    # route: the order and the REST trade applied, the push a duplicate, our order filled.
    ingest_as_ours("ccxt", payloads, stored_url, tmp_path)
    assert_our_order_filled(stored_url, tmp_path, "NEAR/USDC:USDC")  # ccxt's symbol


def test_our_own_liquidation_is_still_a_liquidation_on_both_routes(
    ledger: OrderLedger, ccxt_lib: Any
) -> None:
    # Given the published NEAR liquidation fill (liquidatedUser 0x5c90…a480) read for that very
    # account on the native route, and a second liquidation like it (derived: oid and tid + 1)
    # on the ccxt route, whose instrument is ccxt's symbol,
    liquidated = "0x5c902b2eb0e1d9eb9a232014824ae6247df0a480"
    fill = hyperliquid_liquidation_fill()
    second = fill | {"oid": fill["oid"] + 1, "tid": fill["tid"] + 1}
    rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_NEAR)
    native = ledger.ingest_lines(lines([fill]), format="hyperliquid", venue=VENUE, account=liquidated)
    routed = ledger.ingest_lines(
        lines([rest.parse_trade(second)]), format="ccxt", venue=VENUE, account=liquidated
    )
    assert (native.counts["applied"], routed.counts["applied"]) == (1, 1)
    # Then each books the venue's external market sell of 64.8, tagged, and its fill.
    for oid in (719874965978, 719874965979):
        order = ledger.order(f"ext-hyperliquid-{oid}")
        assert (order.tags, order.order_type.value, order.side.value, order.filled_quantity) == (
            {"liquidation": "true"}, "market", "sell", Decimal("64.8"),
        )  # fmt: skip
    # And a liquidation object without liquidatedUser (derived: the published one without it)
    # keeps meaning ours, whatever the account.
    bare = fill | {"oid": fill["oid"] + 2, "tid": fill["tid"] + 2}
    bare["liquidation"] = {"markPx": "4.69112", "method": "market"}
    assert (
        ledger.ingest_lines(lines([bare]), format="hyperliquid", venue=VENUE, account=OURS).counts["applied"]
        == 1
    )
    assert ledger.order("ext-hyperliquid-719874965980").tags == {"liquidation": "true"}


def test_a_label_account_never_takes_another_accounts_liquidation_for_ours(
    stored_url: str, tmp_path: Path, ccxt_lib: Any
) -> None:
    # Given the account named by a label (--account main), not by its address: our resting
    # order, then our fill that another account's liquidation made (liquidatedUser 0x5c90…a480)
    # in an info userFills reply, a list that names no user,
    payloads = [{"status": "order", "order": resting_order()}, [counterparty_fill()]]
    path = tmp_path / "label.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in payloads))
    run = run_cli(
        "ingest", "--format", "hyperliquid", "--venue", VENUE, "--account", "main", str(path),
        db=stored_url, cwd=tmp_path,
    )  # fmt: skip
    # When ingested by the real command, then the fill itself says whose liquidation it is: a
    # maker fill (crossed false) opening a long is a resting order of ours that the liquidation
    # hit, so it is an ordinary fill of our order (never a liquidation order under its key)
    assert run.returncode == 0, run.describe()
    assert parse_ingest(run.stdout).counts == {
        "applied": 2, "duplicate": 0, "parked": 0, "ignored": 0, "rejected": 0,
    }  # fmt: skip
    assert_our_order_filled(stored_url, tmp_path, "NEAR")
    # And the journal says how it was read, on the fill's line
    rows = [
        json.loads(r) for r in run_cli("messages", "--json", db=stored_url, cwd=tmp_path).stdout.splitlines()
    ]
    assert f"a fill of our resting order {OUR_OID} it hit" in rows[-1]["reason"]


# Our long of 5.2 HYPE bought at 30 (derived: our order "long-1" and its fill), which the
# published HYPE liquidation fill (FILLS[3]: a taker sell of 5.2 at 21.147, dir Close Long,
# startPosition 5.2, closedPnl −46.0356, liquidatedUser 0x193b…1c2b) closes.
def opened_long(instrument: str) -> list[dict[str, Any]]:
    return [
        {"type": "request", "client_order_id": "long-1", "venue": VENUE, "account": "main",
         "instrument": instrument, "side": "buy", "order_type": "limit", "quantity": "5.2",
         "price": "30", "ts": "2026-01-20T10:00:00Z"},
        {"type": "fill", "client_order_id": "long-1", "trade_id": "own-1", "quantity": "5.2",
         "price": "30", "ts": "2026-01-20T10:00:01Z"},
    ]  # fmt: skip


@pytest.mark.parametrize("route", ["native", "ccxt"])
def test_a_label_accounts_own_liquidation_is_read_from_the_fill(
    ledger: OrderLedger, route: str, ccxt_lib: Any, ccxt_pro: Any
) -> None:
    # Given --account main (a label: no address anywhere) holding a long of 5.2 HYPE at 30,
    instrument = "HYPE" if route == "native" else "HYPE/USDC:USDC"  # ccxt's symbol
    assert ledger.ingest_lines(lines(*opened_long(instrument))).counts["applied"] == 2
    # When the published liquidation fill comes from our own fill stream, by REST (an info
    # userFills reply, naming no user) and by WebSocket (ccxt.pro's handle_my_trades of the
    # userFills push, whose user ccxt drops), then again (a copy),
    if route == "native":
        payloads: list[Any] = [[FILLS[3]], [FILLS[3]]]
    else:
        rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_HYPE)
        stream = market(ccxt_pro, "hyperliquid", **HYPERLIQUID_HYPE)
        client = Recorder()
        push = {"isSnapshot": False, "user": USER, "fills": [FILLS[3]]}
        stream.handle_my_trades(client, {"channel": "userFills", "data": push})
        payloads = [[rest.parse_trade(FILLS[3])], client.last("myTrades")]
    fmt = "hyperliquid" if route == "native" else "ccxt"
    counts = ledger.ingest_lines(lines(*payloads), format=fmt, venue=VENUE, account="main").counts
    # Then it is read from the fill itself (a taker sell closing a long: the liquidation's own
    # market order) as our liquidation: booked at once, never parked, its copy a duplicate,
    assert (counts["applied"], counts["duplicate"], counts["parked"], counts["rejected"]) == (1, 1, 0, 0)
    order = ledger.order("ext-hyperliquid-298509207410")
    assert (order.tags, order.order_type.value, order.side.value, order.quantity, order.status) == (
        {"liquidation": "true"}, "market", "sell", Decimal("5.2"), Status.FILLED,
    )  # fmt: skip
    # and the position is flat with (21.147 − 30) × 5.2 = −8.853 × 5.2 = −46.0356 realized,
    # Hyperliquid's own closedPnl; the fee 0.047504 USDC is the fill's
    hype = position(ledger, instrument)
    assert (Decimal(hype["quantity"]), Decimal(hype["realized_pnl"])) == (0, Decimal("-46.0356"))
    assert hype["fees"] == {"USDC": "0.047504"}


def test_a_named_address_decides_whose_liquidation_it_is(stored_url: str, tmp_path: Path) -> None:
    # Given --account main and --address naming the account: the published NEAR liquidation
    # fill (liquidatedUser 0x5c90…a480, a closing taker fill) in an info userFills reply
    fill = hyperliquid_liquidation_fill()
    path = tmp_path / "fills.jsonl"
    path.write_text(json.dumps([fill]) + "\n")

    def ingest_for(address: str) -> Any:
        return run_cli(
            "ingest", "--format", "hyperliquid", "--venue", VENUE, "--account", "main",
            "--address", address, str(path), db=stored_url, cwd=tmp_path,
        )  # fmt: skip

    # When the address is another account's (OURS), then the address decides over what the
    # fill suggests: not our liquidation, an ordinary fill of order 719874965978, waiting
    # (parked) for that order
    other = ingest_for(OURS)
    assert parse_ingest(other.stdout).counts["parked"] == 1, other.describe()
    # When the address is the liquidated user's (upper case: compared without case), then it is
    # our liquidation: an external market sell of 64.8, tagged, filled; the parked copy of the
    # line stays what it was (its order, now booked, is the liquidation's)
    ours = ingest_for(LIQUIDATED_USER.upper().replace("0X", "0x"))
    assert parse_ingest(ours.stdout).counts["applied"] == 1, ours.describe()
    (order,) = [o for o in cli_json("orders", db=stored_url, cwd=tmp_path)]
    assert (order["client_order_id"], order["tags"], order["side"], order["filled_quantity"]) == (
        "ext-hyperliquid-719874965978", {"liquidation": "true"}, "sell", "64.8",
    )  # fmt: skip
    # And an address that is none is refused in one line before anything is read
    bad = ingest_for("main")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "address 'main' is not a Hyperliquid address" in bad.stderr


def test_the_feeds_user_comes_from_the_frames_that_name_it(ledger: OrderLedger) -> None:
    # Given --account main (a label) and the published NEAR liquidation fill (liquidatedUser
    # 0x5c90…a480) in an info userFills reply, which names no user:
    fill = hyperliquid_liquidation_fill()
    # When an earlier frame of the same ingest named another user as the feed's (a webData2
    # push of OURS, derived: Hyperliquid's WebData2 with no open orders), then the fill is
    # compared with that user: not our liquidation, a fill of order 719874965978, parked
    other = ledger.ingest_lines(
        lines(ws("webData2", {"user": OURS, "openOrders": []}), [fill]),
        format="hyperliquid", venue=VENUE, account="main",
    )  # fmt: skip
    assert (other.counts["parked"], other.counts["applied"]) == (1, 0)
    assert [o.client_order_id for o in ledger.orders()] == []
    # When the frame named the liquidated user, then the reply's fill (a second, derived: oid
    # and tid + 2) is our liquidation: an external market sell of 64.8 tagged liquidation
    second = fill | {"oid": fill["oid"] + 2, "tid": fill["tid"] + 2}
    named = ledger.ingest_lines(
        lines(ws("webData2", {"user": LIQUIDATED_USER, "openOrders": []}), [second]),
        format="hyperliquid", venue=VENUE, account="main",
    )  # fmt: skip
    assert named.counts["applied"] == 1
    order = ledger.order("ext-hyperliquid-719874965980")
    assert (order.tags, order.order_type.value, order.side.value, order.filled_quantity, order.account) == (
        {"liquidation": "true"}, "market", "sell", Decimal("64.8"), "main",
    )  # fmt: skip


# ---------------------------------------------------------------------- each perp in its settle currency


def test_perpetuals_are_valued_in_their_settle_currency_without_definitions_loaded(
    ledger: OrderLedger,
) -> None:
    # Given no instrument loaded: the caller's SOL order (recorded with its cloid, no quote
    # currency: a bare coin names none), its published fill (CLOID_FILL: buy 0.5 at 132.31, fee
    # 0.023154 USDC), the published SOL funding payment (ccxt's quoted userFunding entry: +75.635093
    # USDC), and the published flx:CRCL fills (a sell of 0.27 at 55.877 and a buy of 0.14 at 70,
    # fees in USDH, the dex's collateral; the buy's resting order from the openOrders reply)
    request = {"type": "request", "client_order_id": CLOID_FILL["cloid"], "venue": VENUE,
               "account": ACCOUNT, "instrument": "SOL", "side": "buy", "order_type": "limit",
               "quantity": "0.5", "price": "132.31", "ts": "2024-03-05T12:55:46Z"}  # fmt: skip
    assert ledger.ingest_lines(lines(request)).counts["applied"] == 1
    funding = raw("hyperliquid", "rest_user_funding")
    crcl_fills = ws("userFills", {"user": USER, "fills": FILLS[1:3]})
    counts = ingest(ledger, [CLOID_FILL], [funding], crcl_fills, OPEN_ORDERS)
    assert (counts["applied"], counts["rejected"]) == (3, 0)  # the fills' line waited for the order
    # Then each perpetual is defined by the adapter as a swap settling in its currency: USDC
    # for a coin of the first perp dex, the fees' token for a builder-deployed dex's
    defined = ledger.venues.instruments()
    assert {(i.instrument, i.definition.kind, i.definition.settle_currency) for i in defined} == {
        ("SOL", "swap", "USDC"), ("flx:CRCL", "swap", "USDH"),
    }  # fmt: skip
    # And SOL is one position in USDC, its funding in its net: 0 realized − 0.023154 fee
    # + 75.635093 funding = 75.611939 USDC
    sol = position(ledger, "SOL")
    assert (sol["pnl_currency"], sol["quantity"], sol["funding"]) == ("USDC", "0.5", {"USDC": "75.635093"})
    assert Decimal(sol["realized_pnl_net"]) == Decimal("75.611939")
    # And flx:CRCL in USDH: (55.877 − 70) × 0.14 = −1.97722 realized, − 0.001455 fees = −1.978675
    crcl = position(ledger, "flx:CRCL")
    assert (crcl["pnl_currency"], Decimal(crcl["realized_pnl_net"])) == ("USDH", Decimal("-1.978675"))
    # And P&L by instrument has one row per coin (fills and funding together)
    rows = [(r.group, r.pnl_currency, r.realized_pnl_net) for r in ledger.pnl(by="instrument")]
    assert sorted(rows) == [
        ("SOL", "USDC", Decimal("75.611939")), ("flx:CRCL", "USDH", Decimal("-1.978675")),
    ]  # fmt: skip


def test_a_loaded_definition_is_never_replaced_by_the_adapters(ledger: OrderLedger) -> None:
    # Given SOL defined by the user with more than the adapter knows (derived: a price step)
    definition = {"type": "instrument", "venue": VENUE, "instrument": "SOL", "kind": "swap",
                  "settle_currency": "USDC", "price_increment": "0.01",
                  "ts": "2024-01-01T00:00:00Z"}  # fmt: skip
    assert ledger.ingest_lines(lines(definition)).counts["applied"] == 1
    # When the published SOL open order is ingested, then no second version is recorded
    assert ingest(ledger, [SOL_OPEN])["applied"] == 1
    (sol,) = ledger.venues.instruments(all_versions=True)
    assert (sol.version, sol.definition.price_increment) == (1, Decimal("0.01"))


# ---------------------------------------------------------------------- spot fees in the received coin
# A recorded mainnet WsFill of the spot pair @107 (HYPE/USDC), published in
# nautechsystems/nautilus_trader crates/adapters/hyperliquid/src/websocket/messages.rs
# (test_ws_fill_data_deserialization_with_cloid_and_twap): a buy of 0.31 HYPE at 31.737 whose fee
# is 0.00021699 HYPE, the coin bought.
SPOT_FILL: dict[str, Any] = {
    "coin": "@107", "px": "31.737", "sz": "0.31", "side": "B", "time": 1769920606068,
    "startPosition": "0.0", "dir": "Buy", "closedPnl": "0.0",
    "hash": "0xc731e7561e5334a0c8ab043472ce7d01d400ff3bb95653726afa92a8dd570e8b",
    "oid": 308086083674, "crossed": True, "fee": "0.00021699", "tid": 812806034449156,
    "cloid": "0xd211f1c27288259290850338d22132a0", "feeToken": "HYPE", "twapId": None,
}  # fmt: skip


@pytest.mark.parametrize("route", ["native", "ccxt"])
def test_a_spot_fee_in_the_bought_coin_reduces_what_is_held(
    ledger: OrderLedger, route: str, ccxt_lib: Any
) -> None:
    # Given our buy of 0.31 HYPE/USDC (recorded by us under the fill's cloid), then the
    # published fill: natively with its pair named (derived: @107 written HYPE/USDC, the name
    # the spot meta gives it), or through ccxt's parse_trade with the @107 market
    request = {"type": "request", "client_order_id": SPOT_FILL["cloid"], "venue": VENUE, "account": ACCOUNT,
               "instrument": "HYPE/USDC", "side": "buy", "order_type": "limit", "quantity": "0.31",
               "price": "31.737", "ts": "2026-02-01T04:36:46Z"}  # fmt: skip
    assert ledger.ingest_lines(lines(request)).counts["applied"] == 1
    if route == "native":
        counts = ingest(ledger, [SPOT_FILL | {"coin": "HYPE/USDC"}])
    else:
        rest = market(ccxt_lib, "hyperliquid", **HYPERLIQUID_HYPE_SPOT)
        payload = [rest.parse_trade(SPOT_FILL)]
        counts = ledger.ingest_lines(lines(payload), format="ccxt", venue=VENUE, account=ACCOUNT).counts
    assert counts["applied"] == 1
    # Then the order filled 0.31, but 0.31 − 0.00021699 = 0.30978301 HYPE is held (the fee left
    # the wallet in HYPE), at the fill's price, 31.737; the fee is kept as paid
    assert ledger.order(SPOT_FILL["cloid"]).filled_quantity == Decimal("0.31")
    (held,) = ledger.positions()
    assert (held.instrument, held.quantity, held.average_price) == (
        "HYPE/USDC", Decimal("0.30978301"), Decimal("31.737"),
    )  # fmt: skip
    assert held.fees == {"HYPE": Decimal("0.00021699")}
    # And counted once in net P&L, valued at the fill's price: 0.00021699 × 31.737 = 0.00688661163 USDC
    assert held.realized_pnl_net == Decimal("-0.00688661163")
    # And so under FIFO lots too
    (lot,) = ledger.positions(cost_basis="fifo")
    assert lot.quantity == Decimal("0.30978301")

    # And a reconciliation against the venue's balance of 0.30978301 HYPE agrees (0.31 would not)
    def mismatches(quantity: str) -> list[str]:
        snapshot = {"venue": VENUE, "account": ACCOUNT, "as_of": "2026-02-01T05:00:00Z",
                    "positions": [{"instrument": "HYPE/USDC", "quantity": quantity}]}  # fmt: skip
        return [d.kind for d in ledger.venues.reconcile(json.dumps(snapshot)).differences]

    assert mismatches("0.30978301") == [] and mismatches("0.31") == ["position_mismatch"]
    # When we sell all of it at 32 paying 0.01 USDC (derived: our order, fee in the quote),
    sell = [
        {"type": "request", "client_order_id": "sell-1", "venue": VENUE, "account": ACCOUNT,
         "instrument": "HYPE/USDC", "side": "sell", "order_type": "limit", "quantity": "0.30978301",
         "price": "32", "ts": "2026-02-01T06:00:00Z"},
        {"type": "fill", "client_order_id": "sell-1", "trade_id": "sell-1-t", "quantity": "0.30978301",
         "price": "32", "fee": "0.01", "fee_currency": "USDC", "ts": "2026-02-01T06:00:01Z"},
    ]  # fmt: skip
    assert ledger.ingest_lines(lines(*sell)).counts["applied"] == 2
    # then the base is left alone by the quote fee: flat; realized 0.30978301 × (32 − 31.737) =
    # 0.30978301 × 0.263 = 0.08147293163; net 0.08147293163 − 0.01 − 0.00688661163 = 0.06458632,
    # what the wallet made: −0.31 × 31.737 + 0.30978301 × 32 − 0.01 = −9.83847 + 9.91305632 − 0.01
    (flat,) = ledger.positions()
    assert (flat.quantity, flat.realized_pnl) == (0, Decimal("0.08147293163"))
    assert flat.realized_pnl_net == Decimal("0.06458632")
    # And the stored views equal a fresh fold of the log
    assert ledger.audit.verify().ok


def test_a_web_data_frame_becomes_a_snapshot_whose_orders_keep_when_they_were_placed() -> None:
    # The published open order (SOL, oid 6928553534) was placed at timestamp 1709643776949 ms:
    # 1709643776 s = 2024-03-05T13:02:56Z, plus 949 ms. Its snapshot row says so, and a frame
    # without serverTime read by a collector whose clock is behind (13:02:00) is as of that time,
    # never before an order it holds was placed.
    frame = {"user": USER, "openOrders": [SOL_OPEN]}
    behind = datetime(2024, 3, 5, 13, 2, tzinfo=UTC)
    document = web_data_snapshot(frame, SpotNames(), venue="hyperliquid", as_of=behind)
    ((row,),) = [document["open_orders"]]
    assert row["created_at"] == "2024-03-05T13:02:56.949000Z"
    assert document["as_of"] == "2024-03-05T13:02:56.949000Z"
    ahead = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
    later = web_data_snapshot(frame, SpotNames(), venue="hyperliquid", as_of=ahead)
    assert later["as_of"] == "2024-03-05T14:00:00.000000Z"
