"""Reconciliation: each case of docs/reconciliation.md, and idempotence.

Given a ledger state (ingested messages) and a venue snapshot, when reconciling (dry run or
applied), then the report names each difference and the corrections are explicit events
with source ``reconciliation``; a second run changes nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderFilled
from orderledger.infrastructure.adapters.tradier.cumulative import inferred_trade_id
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.upkeep.reconcile import Reconciler, parse_snapshot

T0 = "2026-11-20T10:00:00Z"
AS_OF = "2026-11-20T10:05:00Z"


def request(coid: str, qty: str = "10", side: str = "buy", ts: str = T0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "request",
        "client_order_id": coid,
        "account": "acc1",
        "venue": "venueA",
        "instrument": "BTC-USDT",
        "side": side,
        "order_type": "limit",
        "quantity": qty,
        "price": "100",
        "ts": ts,
        **extra,
    }


def ack(coid: str, voi: str) -> dict[str, Any]:
    return {"type": "accepted", "client_order_id": coid, "venue_order_id": voi, "ts": T0}


def venue_order(
    voi: str,
    coid: str | None = None,
    *,
    filled: str = "0",
    avg: str | None = None,
    status: str = "open",
    qty: str = "10",
    **extra: Any,
) -> dict[str, Any]:
    row = {
        "venue_order_id": voi,
        "instrument": "BTC-USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": qty,
        "price": "100",
        "filled_quantity": filled,
        "status": status,
        **extra,
    }
    if coid:
        row["client_order_id"] = coid
    if avg:
        row["average_price"] = avg
    return row


def snapshot(**lists: Any) -> str:
    return json.dumps({"venue": "venueA", "account": "acc1", "as_of": AS_OF, **lists})


def given(ledger: OrderLedger, *messages: dict[str, Any]) -> None:
    report = ledger.ingest_lines(json.dumps(m) for m in messages)
    assert report.counts["rejected"] == 0, report.rejected


def reconcile(ledger: OrderLedger, text: str, *, apply: bool = False, grace: int = 60) -> list[Any]:
    reconciler = Reconciler(ledger, parse_snapshot(text), grace=timedelta(seconds=grace))
    found = reconciler.differences()
    if apply:
        reconciler.apply(found, origin="test")
    return found


def kinds(found: list[Any]) -> list[str]:
    return sorted(d.kind for d in found)


def event_count(ledger: OrderLedger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_a_fill_the_ledger_lacks_is_booked_with_source_reconciliation(ledger: OrderLedger) -> None:
    given(ledger, request("c1"), ack("c1", "V1"))
    text = snapshot(
        open_orders=[venue_order("V1", "c1", filled="3", avg="100")],
        fills=[
            {
                "trade_id": "t1",
                "venue_order_id": "V1",
                "quantity": "3",
                "price": "100",
                "fee": "0.1",
                "fee_currency": "USDT",
                "ts": "2026-11-20T10:01:00Z",
            }
        ],
    )

    found = reconcile(ledger, text, apply=True)

    assert kinds(found) == ["missing_fill"]
    order = ledger.order("c1")
    assert order.filled_quantity == Decimal(3)
    fill = next(e for e in ledger.audit.order_events("c1") if e.type_name() == "OrderFilled")
    assert isinstance(fill, OrderFilled)
    assert fill.source == "reconciliation" and fill.trade_id == "t1"


def test_unexplained_venue_fill_is_inferred_at_the_price_that_keeps_the_venue_average(
    ledger: OrderLedger,
) -> None:
    given(
        ledger,
        request("c1"),
        ack("c1", "V1"),
        {
            "type": "fill",
            "client_order_id": "c1",
            "trade_id": "t1",
            "quantity": "3",
            "price": "100",
            "ts": T0,
        },
    )
    text = snapshot(open_orders=[venue_order("V1", "c1", filled="5", avg="100.4")])

    found = reconcile(ledger, text, apply=True)

    assert kinds(found) == ["inferred_fill"]
    order = ledger.order("c1")
    assert order.filled_quantity == Decimal(5)
    assert order.average_price == Decimal("100.4")  # (3×100 + 2×101) / 5
    # Named by the venue's total, its average and the snapshot's time (one fill per total).
    stamp = "2026-11-20T10:05:00.000000Z"
    inferred = order.fills[inferred_trade_id("venueA", "V1", Decimal(5), Decimal("100.4"), stamp)]
    assert (inferred.qty, inferred.px) == (Decimal(2), Decimal(101))


def fill(coid: str, trade_id: str, qty: str, ts: str) -> dict[str, Any]:
    return {"type": "fill", "client_order_id": coid, "trade_id": trade_id, "quantity": qty, "price": "100",
            "ts": ts}  # fmt: skip


def test_a_venue_total_below_what_the_ledger_filled_by_then_is_reported_not_changed(
    ledger: OrderLedger,
) -> None:
    # The ledger filled 5 at 10:00; the venue says 3 filled as of 10:05: a bust may be missing.
    given(ledger, request("c1"), ack("c1", "V1"), fill("c1", "t1", "5", T0))
    found = reconcile(ledger, snapshot(open_orders=[venue_order("V1", "c1", filled="3", avg="100")]))
    assert [(d.kind, d.detail, d.corrections) for d in found] == [
        (
            "ledger_fills_exceed_venue",
            "the ledger has 5 filled by 2026-11-20T10:05:00.000000Z, the venue reports 3; not changed"
            " (a bust may be missing)",
            [],
        )
    ]


def test_an_older_snapshot_below_fills_booked_since_is_no_difference(ledger: OrderLedger) -> None:
    # 2 filled at 10:00 and 3 at 10:07; the snapshot of 10:05 says 2: what the ledger had then.
    given(
        ledger,
        request("c1"),
        ack("c1", "V1"),
        fill("c1", "t1", "2", T0),
        fill("c1", "t2", "3", "2026-11-20T10:07:00Z"),
    )
    found = reconcile(ledger, snapshot(open_orders=[venue_order("V1", "c1", filled="2", avg="100")]))
    assert found == []


def test_an_older_snapshot_re_splits_the_fill_a_later_one_inferred(ledger: OrderLedger) -> None:
    # The 10:05 snapshot's 5 filled at an average of 100 is inferred as one fill of 5 at 100.
    # A snapshot of 10:03 then says 2 filled: one fill per total, so the fill of 5 is corrected
    # to the 3 between them ((5 × 100 − 2 × 100) / 3 = 100) and 2 at 100 booked at 10:03.
    given(ledger, request("c1"), ack("c1", "V1"))
    reconcile(ledger, snapshot(open_orders=[venue_order("V1", "c1", filled="5", avg="100")]), apply=True)
    older = json.dumps(
        {"venue": "venueA", "account": "acc1", "as_of": "2026-11-20T10:03:00Z",
         "open_orders": [venue_order("V1", "c1", filled="2", avg="100")]}
    )  # fmt: skip
    (found,) = reconcile(ledger, older, apply=True)
    assert (found.kind, found.detail) == (
        "inferred_fill",
        "the venue reports 2 filled at 2026-11-20T10:03:00.000000Z, earlier than fills inferred from"
        " its later reports: they are re-split to it",
    )
    assert [(c["type"], c["quantity"], c["price"], c["ts"]) for c in found.corrections] == [
        ("fill_corrected", "3", "100", "2026-11-20T10:03:00.000000Z"),
        ("fill", "2", "100", "2026-11-20T10:03:00.000000Z"),
    ]
    fills = sorted((f.ts_event.isoformat(), f.qty, f.px) for f in ledger.order("c1").fills.values())
    assert fills == [
        ("2026-11-20T10:03:00+00:00", Decimal(2), Decimal(100)),
        ("2026-11-20T10:05:00+00:00", Decimal(3), Decimal(100)),
    ]


def test_inferred_trade_ids_are_deterministic_so_a_rerun_books_nothing(ledger: OrderLedger) -> None:
    given(ledger, request("c1"), ack("c1", "V1"))
    text = snapshot(open_orders=[venue_order("V1", "c1", filled="4", avg="99")])

    first = reconcile(ledger, text, apply=True)
    after_first = event_count(ledger)
    second = reconcile(ledger, text, apply=True)

    assert kinds(first) == ["inferred_fill"]
    assert second == []
    assert event_count(ledger) == after_first
    assert inferred_trade_id("venueA", "V1", Decimal("4.0"), Decimal("99.00")) == inferred_trade_id(
        "venueA", "V1", Decimal(4), Decimal(99)
    )


def test_an_order_absent_at_the_venue_is_closed_after_the_grace_window(ledger: OrderLedger) -> None:
    given(
        ledger,
        request("old", ts="2026-11-20T10:00:00Z"),
        ack("old", "V1"),
        request("recent", ts="2026-11-20T10:04:30Z"),
    )

    found = reconcile(ledger, snapshot(open_orders=[]), apply=True)

    assert kinds(found) == ["absent_at_venue", "absent_within_grace"]
    assert ledger.order("old").status.value == "canceled"
    assert ledger.order("recent").status.value == "requested"
    canceled = ledger.audit.order_events("old")[-1]
    assert canceled.type_name() == "OrderCanceled" and canceled.source == "reconciliation"


def test_a_shorter_grace_window_closes_the_recent_order_too(ledger: OrderLedger) -> None:
    given(ledger, request("recent", ts="2026-11-20T10:04:30Z"))

    found = reconcile(ledger, snapshot(open_orders=[]), apply=True, grace=10)

    assert kinds(found) == ["absent_at_venue"]
    assert ledger.order("recent").status.value == "canceled"


def test_an_order_first_heard_of_after_the_snapshot_was_read_is_not_judged_by_it(ledger: OrderLedger) -> None:
    # Given "before" known when the venue's view was read (log position noted), and "after"
    # (requested earlier at the venue, but first heard of by the ledger after that position),
    given(ledger, request("before"), ack("before", "V1"))
    known_at = ledger.log_position()
    given(ledger, request("after"), ack("after", "V2"))

    # when the view, which lists neither, is reconciled with known_at,
    found = ledger.venues.reconcile(snapshot(open_orders=[]), apply=True, known_at=known_at)

    # then only "before" is absent and closed; "after" is left open, unreported.
    assert [(d.kind, d.client_order_id) for d in found.differences] == [("absent_at_venue", "before")]
    assert ledger.order("before").status.value == "canceled"
    assert ledger.order("after").status.value == "accepted"


def test_an_absent_order_whose_fills_explain_it_is_not_canceled(ledger: OrderLedger) -> None:
    given(ledger, request("c1", qty="2"), ack("c1", "V1"))
    text = snapshot(
        open_orders=[],
        fills=[{"trade_id": "t1", "venue_order_id": "V1", "quantity": "2", "price": "100", "ts": T0}],
    )

    found = reconcile(ledger, text, apply=True)

    assert kinds(found) == ["missing_fill"]
    assert ledger.order("c1").status.value == "filled"


def test_an_unknown_venue_order_becomes_an_external_order_once(ledger: OrderLedger) -> None:
    text = snapshot(open_orders=[venue_order("V9", filled="1", avg="100")])

    found = reconcile(ledger, text, apply=True)
    again = reconcile(ledger, text, apply=True)

    assert kinds(found) == ["external_order", "inferred_fill"]
    assert again == []
    order = ledger.order("ext-venueA-V9")
    assert order.external and order.venue_order_ids == ["V9"] and order.filled_quantity == Decimal(1)
    assert ledger.audit.order_events("ext-venueA-V9")[0].source == "reconciliation"


@pytest.mark.parametrize(
    ("ledger_messages", "venue_row"),
    [
        pytest.param([request("c1"), ack("c1", "V1")], venue_order("V1", "c1"), id="by-client-order-id"),
        pytest.param([request("c1"), ack("c1", "V1")], venue_order("V1"), id="by-venue-order-id"),
        pytest.param(
            [request("c1", aliases={"client_index": "42"})],
            venue_order("V7", aliases={"client_index": "42"}),
            id="by-alias",
        ),
    ],
)
def test_venue_orders_match_existing_ones_before_any_external_order_is_invented(
    ledger: OrderLedger, ledger_messages: list[dict[str, Any]], venue_row: dict[str, Any]
) -> None:
    given(ledger, *ledger_messages)

    found = reconcile(ledger, snapshot(open_orders=[venue_row]), apply=True)

    assert "external_order" not in kinds(found)
    from orderledger.infrastructure.application.reads.view_queries import list_orders

    assert [r["client_order_id"] for r in list_orders(ledger.db)] == ["c1"]
    assert ledger.order("c1").venue_order_ids[-1] == venue_row["venue_order_id"]


@pytest.mark.parametrize("status", ["canceled", "expired", "rejected"])
def test_an_order_closed_at_the_venue_is_closed_in_the_ledger(ledger: OrderLedger, status: str) -> None:
    given(ledger, request("c1"))  # never acknowledged, so a venue reject is valid too
    text = snapshot(closed_orders=[venue_order("V1", "c1", status=status)])

    found = reconcile(ledger, text, apply=True)

    assert "closed_at_venue" in kinds(found)
    assert ledger.order("c1").status.value == status


def test_position_mismatches_are_reported_not_corrected(ledger: OrderLedger) -> None:
    given(
        ledger,
        request("c1"),
        ack("c1", "V1"),
        {
            "type": "fill",
            "client_order_id": "c1",
            "trade_id": "t1",
            "quantity": "3",
            "price": "100",
            "ts": T0,
        },
    )
    text = snapshot(
        open_orders=[venue_order("V1", "c1", filled="3", avg="100")],
        positions=[{"instrument": "BTC-USDT", "quantity": "4"}],
    )
    before = event_count(ledger)

    found = reconcile(ledger, text, apply=True)

    assert kinds(found) == ["position_mismatch"]
    assert "venue holds 4, the ledger 3" in found[0].detail
    assert event_count(ledger) == before


def test_a_dry_run_records_nothing(ledger: OrderLedger) -> None:
    given(ledger, request("c1"), ack("c1", "V1"))
    text = snapshot(open_orders=[venue_order("V1", "c1", filled="4", avg="99"), venue_order("V9")])
    before = event_count(ledger)
    with ledger.db.read() as tx:
        journal = tx.one("SELECT COUNT(*) FROM messages")[0]

    found = reconcile(ledger, text)

    assert kinds(found) == ["external_order", "inferred_fill"]
    assert event_count(ledger) == before
    with ledger.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM messages")[0] == journal


def test_applying_twice_changes_nothing_the_second_time(ledger: OrderLedger) -> None:
    given(ledger, request("c1"), ack("c1", "V1"), request("c2", ts="2026-11-20T09:00:00Z"))
    text = snapshot(
        open_orders=[venue_order("V1", "c1", filled="4", avg="99"), venue_order("V9", filled="1", avg="100")],
        closed_orders=[venue_order("V3", "c3", status="canceled")],
        fills=[{"trade_id": "t1", "venue_order_id": "V1", "quantity": "1", "price": "98", "ts": T0}],
    )

    first = reconcile(ledger, text, apply=True)
    after_first = event_count(ledger)
    second = reconcile(ledger, text, apply=True)

    assert first and all(d.applied in (None, "applied") for d in first)
    assert event_count(ledger) == after_first
    assert [d for d in second if d.corrections] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "a snapshot must be a JSON object"),
        (json.dumps({"venue": "v", "account": "a"}), "as_of is required"),
        (json.dumps({"venue": "v", "account": "a", "as_of": "2026-11-20T10:00:00"}), "no UTC offset"),
        (snapshot(open_orders=[{"venue_order_id": "V1"}]), "open_orders[0]: status is required"),
        (snapshot(open_orders=[venue_order("V1", status="filled")]), "open_orders[0]: status must be one of"),
        (snapshot(extra=1), "unknown field 'extra'"),
    ],
)
def test_a_bad_snapshot_gets_a_one_line_error(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_snapshot(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_real_trade_arriving_after_an_inferred_fill_replaces_it(ledger: OrderLedger) -> None:
    given(ledger, request("c1"), ack("c1", "V1"))
    reconcile(ledger, snapshot(open_orders=[venue_order("V1", "c1", filled="4", avg="99")]), apply=True)
    assert ledger.order("c1").filled_quantity == Decimal(4)

    # The venue's own trades arrive later (e.g. from fetch_my_trades): 3, then 1.
    given(
        ledger,
        {
            "type": "fill",
            "venue": "venueA",
            "venue_order_id": "V1",
            "trade_id": "real-1",
            "quantity": "3",
            "price": "98.5",
            "ts": T0,
        },
    )
    order = ledger.order("c1")
    assert order.filled_quantity == Decimal(4)  # 1 inferred left + 3 real, never 7
    given(
        ledger,
        {
            "type": "fill",
            "venue": "venueA",
            "venue_order_id": "V1",
            "trade_id": "real-2",
            "quantity": "1",
            "price": "100.5",
            "ts": T0,
        },
    )
    order = ledger.order("c1")
    assert order.filled_quantity == Decimal(4)
    assert sorted(t for t, f in order.fills.items() if not f.busted) == ["real-1", "real-2"]
    types = [e.type_name() for e in ledger.audit.order_events("c1")]
    assert types[-5:] == ["FillCorrected", "OrderFilled", "FillBusted", "OrderFilled", "OrderRestated"]
    # The inferred fill at the snapshot's 10:05 busted, nothing happened after 10:00: the order
    # is restated as last changed at 10:00, as when the trades arrive before the snapshot.
    assert order.updated_at.isoformat() == "2026-11-20T10:00:00+00:00"
    from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades

    assert [t["trade_id"] for t in list_trades(ledger.db)] == ["real-1", "real-2"]
    assert list_positions(ledger.db)[0]["quantity"] == "4"
    # Reconciling the same snapshot again finds nothing to infer.
    assert [
        d
        for d in reconcile(ledger, snapshot(open_orders=[venue_order("V1", "c1", filled="4", avg="99")]))
        if d.corrections
    ] == []


def test_an_inferred_price_past_twelve_places_is_rounded_half_even(ledger: OrderLedger) -> None:
    # The venue: 4 of V1 filled at an average of 99; the ledger booked 1 at 98. The other 3 are
    # inferred at (4 × 99 − 98) / 3 = 298 / 3 = 99.333…, which a recorded price (12 places at
    # most) keeps as 99.333333333333, rounded half-even
    given(ledger, request("c1"), ack("c1", "V1"))
    text = snapshot(
        open_orders=[venue_order("V1", "c1", filled="4", avg="99")],
        fills=[{"trade_id": "t1", "venue_order_id": "V1", "quantity": "1", "price": "98", "ts": T0}],
    )
    applied = reconcile(ledger, text, apply=True)
    assert all(d.applied in (None, "applied") for d in applied)
    inferred = [t for t in ledger.trades() if t.trade_id.startswith("inferred-")]
    assert [(str(t.quantity), str(t.price)) for t in inferred] == [("3", "99.333333333333")]
