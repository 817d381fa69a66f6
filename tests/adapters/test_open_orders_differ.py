"""The open-orders snapshot differ: new, updated and closed orders between successive snapshots."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.ccxt.payloads import order_row
from orderledger.infrastructure.adapters.common import AdapterError
from orderledger.infrastructure.adapters.snapshots.payloads import (
    Changes,
    OpenOrder,
    OpenOrdersDiffer,
    diff_open_orders,
    parse_open_orders,
    snapshot_document,
)
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.upkeep.reconcile import Reconciler, parse_snapshot
from tests.support.adapters import Feed


def row(venue_order_id: str = "V1", **fields: Any) -> dict[str, Any]:
    """An open-orders row as a websocket collector keeps it: a limit buy of 10 at 100."""
    base: dict[str, Any] = {
        "venue_order_id": venue_order_id,
        "client_order_id": f"c-{venue_order_id}",
        "instrument": "BTC-USDT",
        "side": "buy",
        "quantity": "10",
        "price": "100",
        "filled_quantity": "0",
        "status": "open",
    }
    base.update(fields)
    return base


def ids(orders: tuple[OpenOrder, ...]) -> list[str]:
    return [o.venue_order_id for o in orders]


def test_the_first_snapshot_is_all_new() -> None:
    changes = OpenOrdersDiffer().diff([row("V1"), row("V2")])
    assert ids(changes.new) == ["V1", "V2"]
    assert changes.updated == () and changes.closed == ()


def test_new_updated_and_closed_between_snapshots() -> None:
    differ = OpenOrdersDiffer([row("V1"), row("V2"), row("V3")])
    changes = differ.diff(
        [
            row("V1", filled_quantity="3", status="partially_filled"),  # a fill happened
            row("V2"),  # unchanged
            row("V4", side="sell", price="101"),  # new
        ]
    )  # V3 gone
    assert ids(changes.new) == ["V4"]
    assert ids(changes.closed) == ["V3"]
    [update] = changes.updated
    assert update.current.venue_order_id == "V1"
    assert update.changed == ("filled_quantity", "status")
    assert update.filled_delta == Decimal(3)
    assert ids(differ.current) == ["V1", "V2", "V4"]


def test_amended_price_and_quantity_are_updates() -> None:
    differ = OpenOrdersDiffer([row("V1"), row("V2")])
    changes = differ.diff([row("V1", price="99.5"), row("V2", quantity="12")])
    assert [(u.current.venue_order_id, u.changed) for u in changes.updated] == [
        ("V1", ("price",)),
        ("V2", ("quantity",)),
    ]


def test_equal_numbers_in_other_spellings_are_not_changes() -> None:
    differ = OpenOrdersDiffer([row("V1", quantity="10", price="100", filled_quantity="0")])
    changes = differ.diff([row("V1", quantity="10.000", price=100.0, filled_quantity=0)])
    assert not changes
    assert changes == Changes()


def test_a_decrease_in_filled_is_reported_too() -> None:
    differ = OpenOrdersDiffer([row("V1", filled_quantity="4")])
    [update] = differ.diff([row("V1", filled_quantity="1")]).updated
    assert update.filled_delta == Decimal(-3)


def test_terminal_rows_count_as_gone() -> None:
    differ = OpenOrdersDiffer([row("V1"), row("V2")])
    changes = differ.diff(
        [row("V1", status="FILLED", filled_quantity="10"), row("V2"), row("V3", status="canceled")]
    )
    assert ids(changes.closed) == ["V1"]
    assert changes.new == ()  # V3 ended before it was ever seen open
    assert ids(differ.current) == ["V2"]


def test_an_unreadable_snapshot_leaves_the_state_alone() -> None:
    differ = OpenOrdersDiffer([row("V1")])
    for bad, error in (
        ([row("V2"), row("V2")], "listed twice"),
        ([row("V2", quantity="-1")], "quantity must be positive"),
        ([row("V2", side="hold")], "side must be buy or sell"),
        ([row("V2") | {"venue_order_id": None}], "venue_order_id is required"),
        ([row("V2", price="abc")], "not a decimal"),
        (["V2"], "must be an object"),
    ):
        with pytest.raises(AdapterError, match=error):
            differ.diff(bad)  # type: ignore[arg-type]
    assert ids(differ.current) == ["V1"]
    assert not differ.diff([row("V1")])


def test_the_pure_function_and_parsed_rows() -> None:
    before = parse_open_orders([row("V1"), row("V2")])
    after = parse_open_orders([row("V2", price=100.25)])  # a float is read by its repr
    changes = diff_open_orders(before, after)
    assert ids(changes.closed) == ["V1"]
    assert changes.updated[0].current.price == Decimal("100.25")


def test_ccxt_rows_feed_the_differ() -> None:
    unified = {
        "id": "4293153",
        "clientOrderId": "c-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "price": 64000.0,
        "amount": 1.0,
        "filled": 0.0,
        "status": "open",
    }
    differ = OpenOrdersDiffer([order_row(unified)])  # type: ignore[list-item]
    changes = differ.diff([order_row(unified | {"filled": 0.4})])  # type: ignore[list-item]
    assert changes.updated[0].filled_delta == Decimal("0.4")
    assert ids(differ.diff([order_row(unified | {"status": "closed", "filled": 1.0})]).closed) == ["4293153"]  # type: ignore[list-item]


def test_the_current_snapshot_goes_to_reconciliation(feed: Feed, ledger: OrderLedger) -> None:
    """The differ books nothing itself: its snapshot lets reconciliation infer the fill."""
    feed(
        [
            {
                "type": "request",
                "client_order_id": "c-V1",
                "account": "acc1",
                "venue": "venueA",
                "instrument": "BTC-USDT",
                "side": "buy",
                "order_type": "limit",
                "quantity": "10",
                "price": "100",
                "ts": "2026-11-20T10:00:00Z",
            },
            {
                "type": "accepted",
                "client_order_id": "c-V1",
                "venue_order_id": "V1",
                "ts": "2026-11-20T10:00:01Z",
            },
        ]
    )
    differ = OpenOrdersDiffer([row("V1")])
    changes = differ.diff([row("V1", filled_quantity="3", average_price="100", status="partially_filled")])
    assert changes.updated[0].filled_delta == 3
    document = differ.snapshot_document(venue="venueA", account="acc1", as_of="2026-11-20T10:05:00Z")
    assert document["open_orders"][0]["status"] == "partially_filled"
    reconciler = Reconciler(ledger, parse_snapshot(json.dumps(document)))
    differences = reconciler.differences()
    assert [d.kind for d in differences] == ["inferred_fill"]
    reconciler.apply(differences, origin="differ")
    order = ledger.order("c-V1")
    assert (order.status, order.filled_quantity) == (Status.PARTIALLY_FILLED, Decimal(3))


def test_snapshot_document_rows_are_reconciliation_rows() -> None:
    orders = parse_open_orders([row("V1", status="pending_cancel", price=None, order_type=None)])
    document = snapshot_document(orders, venue="venueA", account="acc1", as_of="2026-11-20T10:05:00+01:00")
    assert document["as_of"] == "2026-11-20T09:05:00.000000Z"
    assert document["open_orders"] == [
        {
            "venue_order_id": "V1",
            "client_order_id": "c-V1",
            "instrument": "BTC-USDT",
            "side": "buy",
            "order_type": "market",
            "quantity": "10",
            "filled_quantity": "0",
            "status": "open",
        }
    ]
    parse_snapshot(json.dumps(document))
    with pytest.raises(AdapterError, match="as_of"):
        snapshot_document(orders, venue="venueA", account="acc1", as_of="")
