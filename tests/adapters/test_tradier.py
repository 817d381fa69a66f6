"""Tradier orders replies, ingested end to end with ``--format tradier``.

The orders are the published example of Tradier's Orders reference
(https://docs.tradier.com/docs/orders, "Response"): 228175 (AAPL limit buy, expired),
228749 (SPY call buy_to_open, expired), 229063 (a combo, canceled) whose first leg 229064 is
shown as published (id, type, symbol, side, quantity, status); the page excerpt stops there,
so that leg's dates are its parent's. The fill polls are order 228175 with only its fill
fields (status, exec_quantity, avg_fill_price, last_fill_*, remaining_quantity) set as a
partially filled and then filled poll reports them: Tradier publishes no filled example.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.tradier.payloads import instrument_messages
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import (
    list_orders,
    list_positions,
    list_trades,
    pnl_by,
)
from orderledger.infrastructure.errors import ConfigurationError
from tests.support.adapters import check_valid
from tests.support.cli import cli_json, parse_ingest, run_cli
from tests.support.tradier_examples import (
    AAPL,
    ACCOUNT,
    COMBO,
    PENDING,
    REJECTED,
    REJECTION,
    SPY_CALL,
    VENUE,
    poll,
)


@pytest.fixture
def ledger(stored_ledger: OrderLedger) -> OrderLedger:
    """This module's ledgers are stored ones (tests/adapters/conftest.py)."""
    return stored_ledger


def ingest(ledger: OrderLedger, *payloads: Any) -> dict[str, int]:
    lines = [json.dumps(p) for p in payloads]
    return ledger.ingest_lines(lines, format="tradier", venue=VENUE, account=ACCOUNT).counts


def test_the_published_orders_reply_books_expired_and_canceled_orders(ledger: OrderLedger) -> None:
    counts = ingest(ledger, {"orders": {"order": [AAPL, SPY_CALL, COMBO]}})
    assert counts["applied"] == 1 and counts["rejected"] == 0
    aapl = ledger.order("ext-tradier-228175")
    assert (aapl.side.value, aapl.quantity, aapl.price, aapl.time_in_force, aapl.status) == (
        "buy", Decimal("50"), Decimal("22"), "PRE", Status.EXPIRED,
    )  # fmt: skip
    call = ledger.order("ext-tradier-228749")  # buy_to_open → buy, on the OCC symbol
    assert (call.side.value, call.order_type.value, call.instrument) == (
        "buy",
        "market",
        "SPY180720C00274000",
    )
    leg = ledger.order("ext-tradier-229064")  # the combo's leg is the order, linked to its parent
    assert (leg.parent_id, leg.tags, leg.status) == (
        "tradier-229063",
        {"strategy": "covered call", "package": "tradier-229063"},
        Status.CANCELED,
    )
    assert leg.quantity == Decimal("100")
    # The option's contract is 100 shares (defined for the ledger once it books instruments).
    (definition,) = check_valid(instrument_messages(SPY_CALL, venue=VENUE))
    assert (definition["contract_size"], definition["strike"], definition["expiry"]) == (
        "100",
        "274",
        "2018-07-20",
    )


def test_cumulative_fills_become_inferred_fills_and_each_poll_adds_only_what_is_new(
    ledger: OrderLedger,
) -> None:
    # Poll 1: 20 of 50 filled at an average of 21.95 → one inferred fill of 20 at 21.95.
    ingest(ledger, poll("partially_filled", "20", "21.95", "21.95", "20", tag="my-tag-example-1"))
    # Poll 2: 50 filled at an average of 21.98 → 50 × 21.98 = 1099, less the 20 × 21.95 = 439
    # already booked, leaves 660 for the other 30: a second inferred fill of 30 at 660 / 30 = 22.
    ingest(ledger, poll("filled", "50", "21.98", "22", "30", tag="my-tag-example-1"))
    # Poll 2 again: nothing new.
    again = ingest(ledger, poll("filled", "50", "21.98", "22", "30", tag="my-tag-example-1"))
    assert again["applied"] == 0 and again["duplicate"] == 1
    order = ledger.order("ext-tradier-228175")
    assert (order.status, order.filled_quantity, order.tags) == (
        Status.FILLED,
        Decimal("50"),
        {"tag": "my-tag-example-1"},
    )
    trades = sorted((t["quantity"], t["price"]) for t in list_trades(ledger.db))
    assert trades == [("20", "21.95"), ("30", "22")]
    (aapl,) = list_positions(ledger.db)
    assert (aapl["quantity"], aapl["average_price"]) == ("50", "21.98")


def test_a_real_execution_replaces_the_inferred_fill(ledger: OrderLedger) -> None:
    ingest(ledger, poll("partially_filled", "20", "21.95", "21.95", "20"))
    # The caller records the real execution of those 20 (from its own account stream).
    ledger.record({"type": "fill", "venue": VENUE, "venue_order_id": "228175", "trade_id": "exec-1",
                   "quantity": "20", "price": "21.95", "ts": "2018-06-01T12:10:00Z"})  # fmt: skip
    ingest(ledger, poll("filled", "50", "21.98", "22", "30"))
    # The inferred 20 was busted for the real 20; the last poll adds 30 at 22 again: still 50, cost 1099.
    kinds = [type(e).__name__ for e in ledger.audit.order_events("ext-tradier-228175")]
    assert kinds == [
        "OrderRequested",
        "OrderAccepted",
        "OrderFilled",
        "FillBusted",
        "OrderFilled",
        "OrderRestated",  # last changed at 12:10 (the busted guess's 12:30:02 counts for nothing)
        "OrderFilled",
    ]
    order = ledger.order("ext-tradier-228175")
    assert order.filled_quantity == Decimal("50") and order.notional == Decimal("1099")


def test_a_poll_read_after_a_later_one_re_splits_its_fill(ledger: OrderLedger) -> None:
    """The filled poll (50 @ 21.98 at 12:20) is read first: one inferred fill of 50 @ 21.98. The
    partial poll (20 @ 21.95 at 12:10) read next corrects that fill (its trade ID names the total
    50) to the 30 above 20, at (50 × 21.98 − 20 × 21.95) / 30 = (1099 − 439) / 30 = 22, then
    books 20 @ 21.95 at 12:10: the fills the polls give in venue time, no anomaly."""
    ingest(ledger, poll("filled", "50", "21.98", "22", "30", at="2018-06-01T12:20:00Z"))
    (whole,) = list_trades(ledger.db)
    assert (whole["quantity"], whole["price"]) == ("50", "21.98")
    ingest(ledger, poll("partially_filled", "20", "21.95", "21.95", "20", at="2018-06-01T12:10:00Z"))
    events = ledger.audit.order_events("ext-tradier-228175")
    assert [type(e).__name__ for e in events][2:] == ["OrderFilled", "FillCorrected", "OrderFilled"]
    corrected = events[3]
    assert (corrected.trade_id, corrected.last_qty, corrected.last_px, corrected.reason) == (  # type: ignore[attr-defined]
        whole["trade_id"], Decimal("30"), Decimal("22"),
        "re-split by Tradier's total 20 at 2018-06-01T12:10:00.000000Z",
    )  # fmt: skip
    trades = sorted((t["ts_event"], t["quantity"], t["price"]) for t in list_trades(ledger.db))
    assert trades == [
        ("2018-06-01T12:10:00.000000Z", "20", "21.95"),
        ("2018-06-01T12:20:00.000000Z", "30", "22"),
    ]
    order = ledger.order("ext-tradier-228175")
    assert (order.status, order.filled_quantity, order.notional, order.anomalies) == (
        Status.FILLED, Decimal("50"), Decimal("1099"), [],
    )  # fmt: skip


AT_10, AT_15 = "2018-06-01T12:10:00Z", "2018-06-01T12:15:00Z"
FIRST_20 = poll("partially_filled", "20", "21.95", "21.95", "20", at=AT_10)
SAME_20 = poll("partially_filled", "20", "21.95", "21.95", "20", at=AT_15)
"""228175 with 20 filled at an average of 21.95 by 12:10, and the same 20 polled again at 12:15."""
EXECUTION = {"type": "fill", "venue": VENUE, "venue_order_id": "228175", "trade_id": "exec-1",
             "quantity": "20", "price": "21.95", "ts": AT_10}  # fmt: skip
"""The real execution of those 20, at 12:10, from the caller's own account stream."""
OPEN = poll("open", "0", "0", "0", "0", at="2018-06-01T12:05:00Z")
"""228175 working, nothing filled, at 12:05."""


def _last_change(ledger: OrderLedger) -> tuple[Decimal, str, list[tuple[str, str, str]]]:
    order = ledger.order("ext-tradier-228175")
    trades = sorted((t["ts_event"], t["quantity"], t["price"]) for t in list_trades(ledger.db))
    return order.filled_quantity, order.updated_at.isoformat(), trades


def test_a_poll_repeating_a_total_read_first_leaves_the_order_changed_at_the_first(
    ledger: OrderLedger,
) -> None:
    """In order, the 12:15 poll adds nothing to 12:10's: one fill of 20 @ 21.95 at 12:10, the
    order last changed then. Read first, 12:15 books the 20 at 12:15; 12:10 read next busts
    that fill and books it at 12:10. The busted fill's time counts for nothing: the order is
    last changed at 12:10, as in order."""
    with OrderLedger("memory://") as reference:
        ingest(reference, FIRST_20, SAME_20)
        expected = _last_change(reference)
    assert expected == (
        Decimal("20"),
        "2018-06-01T12:10:00+00:00",
        [("2018-06-01T12:10:00.000000Z", "20", "21.95")],
    )
    ingest(ledger, SAME_20)
    assert _last_change(ledger)[1] == "2018-06-01T12:15:00+00:00"
    ingest(ledger, FIRST_20)
    assert _last_change(ledger) == expected


def test_a_real_execution_recorded_after_a_later_poll_leaves_the_order_changed_at_the_execution(
    ledger: OrderLedger,
) -> None:
    """228175 polled open at 12:05. Recorded next, the execution of 20 at 12:10 leaves the 12:15
    poll nothing to add: the order is last changed at 12:10. Recorded after the poll, it
    replaces the inferred 20 the poll booked at 12:15 (busted): a guess withdrawn, whose time
    counts for nothing, so the order is last changed at 12:10 too, with the one trade exec-1."""
    with OrderLedger("memory://") as reference:
        ingest(reference, OPEN)
        reference.record(EXECUTION)
        ingest(reference, SAME_20)
        expected = _last_change(reference)
    assert expected == (
        Decimal("20"),
        "2018-06-01T12:10:00+00:00",
        [("2018-06-01T12:10:00.000000Z", "20", "21.95")],
    )
    ingest(ledger, OPEN, SAME_20)
    ledger.record(EXECUTION)
    assert _last_change(ledger) == expected
    kinds = [type(e).__name__ for e in ledger.audit.order_events("ext-tradier-228175")]
    assert kinds[2:] == ["OrderFilled", "FillBusted", "OrderFilled", "OrderRestated"]


def test_a_real_execution_waiting_for_its_order_counts_in_the_poll_that_creates_it(
    ledger: OrderLedger,
) -> None:
    """The execution of 20 at 12:10 is recorded before any poll: no order has venue order ID
    228175 yet, so it waits. The 12:15 poll creates the order (releasing it) and reports 20
    filled: 20 booked already, it adds nothing. One trade, 20 filled, last changed at 12:10, as
    when the order was polled open first (12:05) and the execution recorded after."""
    assert ledger.record(EXECUTION).outcome.value == "parked"
    ingest(ledger, SAME_20)
    assert _last_change(ledger) == (
        Decimal("20"),
        "2018-06-01T12:10:00+00:00",
        [("2018-06-01T12:10:00.000000Z", "20", "21.95")],
    )
    assert [type(e).__name__ for e in ledger.audit.order_events("ext-tradier-228175")] == [
        "OrderRequested",
        "OrderFilled",
        "OrderAccepted",
    ]


def test_a_rejected_order_is_never_acknowledged_and_strict_is_refused(ledger: OrderLedger) -> None:
    rejected = dict(AAPL, status="rejected", reason_description="Insufficient buying power")
    ingest(ledger, {"order": rejected})
    order = ledger.order("ext-tradier-228175")
    assert order.status is Status.REJECTED
    assert [type(e).__name__ for e in ledger.audit.order_events("ext-tradier-228175")] == [
        "OrderRequested",
        "OrderRejected",
    ]
    with pytest.raises(
        ConfigurationError, match="format tradier reads what earlier lines recorded: it cannot be `strict`"
    ):
        ledger.ingest_lines(
            [json.dumps({"order": AAPL})], format="tradier", venue=VENUE, account=ACCOUNT, strict=True
        )


def test_a_reject_after_pending_ends_the_order_rejected(ledger: OrderLedger) -> None:
    # Poll 1: Tradier holds 228175 (`pending`); the exchange has not accepted it.
    assert ingest(ledger, PENDING)["rejected"] == 0
    order = ledger.order("ext-tradier-228175")
    assert (order.status, order.status.is_open, order.venue_order_ids) == (Status.HELD, True, ["228175"])
    # Poll 2: refused downstream. The reject ends the held order; nothing is refused.
    counts = ingest(ledger, REJECTED)
    assert (counts["applied"], counts["rejected"]) == (1, 0)
    order = ledger.order("ext-tradier-228175")
    assert (order.status, order.reason, order.leaves_quantity) == (Status.REJECTED, REJECTION, 0)
    assert [type(e).__name__ for e in ledger.audit.order_events("ext-tradier-228175")] == [
        "OrderRequested",
        "OrderHeld",
        "OrderRejected",
    ]


def test_the_exchanges_acceptance_after_pending_and_its_fills_move_the_order_on(ledger: OrderLedger) -> None:
    ingest(ledger, PENDING)
    # `partially_filled`: accepted at the exchange, 20 of 50 filled at 21.95 (one inferred fill).
    ingest(ledger, poll("partially_filled", "20", "21.95", "21.95", "20"))
    order = ledger.order("ext-tradier-228175")
    assert (order.status, order.filled_quantity) == (Status.PARTIALLY_FILLED, Decimal("20"))
    kinds = [type(e).__name__ for e in ledger.audit.order_events("ext-tradier-228175")]
    assert kinds == ["OrderRequested", "OrderHeld", "OrderAccepted", "OrderFilled"]


def test_bad_replies_get_one_line() -> None:
    book = OrderLedger("memory://")
    report = book.ingest_lines(['{"orders": {"order": [{"id": 1, "side": "hold"}]}}', "[1]"],
                               format="tradier", venue=VENUE, account=ACCOUNT)  # fmt: skip
    reasons = [r.reason for r in report.rejected]
    assert reasons == [
        "Tradier order 1 needs a known side, a positive quantity and create_date",
        "a Tradier reply is a JSON object with orders or order",
    ]
    book.close()


def test_the_tag_is_the_parent_proposal_order_trade(ledger: OrderLedger) -> None:
    # Given the fill polls of 228175 tagged with the Orders reference's example tag (20 filled
    # at 21.95, then 50 at an average of 21.98: fills 20 @ 21.95 and 30 @ 22, as above), the
    # published combo with that tag on the package, and the published call without a tag,
    tag = "my-tag-example-1"
    ingest(ledger, poll("partially_filled", "20", "21.95", "21.95", "20", tag=tag))
    ingest(ledger, poll("filled", "50", "21.98", "22", "30", tag=tag))
    ingest(ledger, {"orders": {"order": [dict(COMBO, tag=tag), SPY_CALL]}})
    # Then the tag is the parent of the tagged order and of the package's leg (which keeps its
    # package as the tag "package"), and the untagged call has none:
    assert [(o["client_order_id"], o["parent_id"]) for o in list_orders(ledger.db, parent=tag)] == [
        ("ext-tradier-228175", tag),
        ("ext-tradier-229064", tag),
    ]
    assert ledger.order("ext-tradier-229064").tags == {
        "tag": tag,
        "strategy": "covered call",
        "package": "tradier-229063",
    }
    assert ledger.order("ext-tradier-228749").parent_id is None
    # And the parent's trades are 228175's two inferred fills (the combo filled nothing)
    assert sorted((t["quantity"], t["price"]) for t in list_trades(ledger.db, parent=tag)) == [
        ("20", "21.95"),
        ("30", "22"),
    ]
    # And P&L by parent: a long of 50 opened, nothing realized, no fee reported by Tradier
    [row] = [r for r in pnl_by(ledger.db, "parent") if r["parent"] == tag]
    assert (row["realized_pnl"], row["fills"], row["fees"]) == ("0", 2, {})


def test_a_parent_the_caller_recorded_wins_over_the_tag(ledger: OrderLedger) -> None:
    # Given the caller's own order for proposal P-7, acknowledged with Tradier's id 228175,
    ledger.record({"type": "request", "client_order_id": "mine-1", "account": ACCOUNT, "venue": VENUE,
                   "instrument": "AAPL", "side": "buy", "order_type": "limit", "quantity": "50",
                   "price": "22", "parent_id": "P-7", "ts": "2018-06-01T12:02:29Z"})  # fmt: skip
    ledger.record({"type": "accepted", "client_order_id": "mine-1", "venue": VENUE,
                   "venue_order_id": "228175", "ts": "2018-06-01T12:02:29.682Z"})  # fmt: skip
    # When a poll reports it tagged otherwise,
    ingest(ledger, poll("partially_filled", "20", "21.95", "21.95", "20", tag="my-tag-example-1"))
    # Then it stays the caller's order of P-7 (a parent is set once, never changed), tag kept
    order = ledger.order("mine-1")
    assert (order.parent_id, order.tags, order.filled_quantity) == (
        "P-7",
        {"tag": "my-tag-example-1"},
        Decimal("20"),
    )


def test_an_option_first_seen_filled_is_valued_by_its_definition(stored_url: str, tmp_path: Path) -> None:
    # Given the published call 228749 (buy_to_open 1 SPY180720C00274000, market) as a poll
    # reports it once filled (its fill fields set: 1 contract at an average of 5.00), and a
    # later poll of its closing order (the same call, id 228750 and sell_to_close: derived)
    # filled at an average of 6.30. Each poll is the first to see its order, already filled,
    # so one line carries the option's definition, the order and its inferred fill.
    filled = {"status": "filled", "exec_quantity": "1", "last_fill_quantity": "1", "remaining_quantity": "0"}
    opening = dict(SPY_CALL, **filled, avg_fill_price="5.00", last_fill_price="5.00")
    closing = dict(SPY_CALL, **filled, id=228750, side="sell_to_close", avg_fill_price="6.30",
                   last_fill_price="6.30", create_date="2018-06-07T14:30:00.000Z",
                   transaction_date="2018-06-07T14:30:00.250Z")  # fmt: skip
    polls = tmp_path / "polls.jsonl"
    polls.write_text("".join(json.dumps({"order": o}) + "\n" for o in (opening, closing)))
    # When both polls are ingested by the real command,
    run = run_cli("ingest", "--format", "tradier", "--venue", VENUE, "--account", ACCOUNT, str(polls),
                  db=stored_url, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0 and parse_ingest(run.stdout).counts["applied"] == 2, run.describe()
    # Then both fills are valued with the contract size of 100 the definition states, the
    # first one included: (6.30 − 5.00) × 1 contract × 100 = 130 USD realized (valuing the
    # first fill at size 1, before its definition, gave 6.30 × 100 − 5.00 × 1 = 625),
    (position,) = cli_json("positions", db=stored_url, cwd=tmp_path)
    assert (position["instrument"], position["quantity"], position["contract_size"]) == (
        "SPY180720C00274000",
        "0",
        "100",
    )
    assert (Decimal(position["realized_pnl"]), position["pnl_currency"]) == (Decimal("130"), "USD")
    # and the instrument's P&L is one row holding both fills, in USD.
    (row,) = cli_json("pnl", "--by", "instrument", db=stored_url, cwd=tmp_path)
    assert (row["instrument"], Decimal(row["realized_pnl"]), row["quote_currency"], row["fills"]) == (
        "SPY180720C00274000",
        Decimal("130"),
        "USD",
        2,
    )
