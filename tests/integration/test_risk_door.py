"""One door for our own orders (docs/risk.md, "One door"): every request of ours, whichever way
it arrives, is judged inside the write transaction that would record it; what a venue tells the
ledger is recorded whatever the limits say."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from orderledger import OrderLedger, Outcome

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
MORNING = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
HALT = "trading is halted (set by alice: flash crash)"


@pytest.fixture
def desk(make_ledger: Callable[..., OrderLedger]) -> OrderLedger:
    return make_ledger(clock=lambda: NOW)


def request(cid: str, quantity: str = "1", **more: Any) -> dict[str, Any]:
    return {
        "type": "request", "client_order_id": cid, "venue": "x", "account": "main",
        "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": quantity,
        "price": "100", "ts": "2025-03-03T11:59:30Z", **more,
    }  # fmt: skip


def test_record_and_ingest_deny_a_request_of_ours_on_a_halted_account(desk: OrderLedger) -> None:
    # Given the account halted by alice
    desk.set_trading_state("halted", account="main", set_by="alice", reason="flash crash", ts=MORNING)
    # When a request of ours is recorded, and another ingested as a line
    recorded = desk.record(request("c-1"))
    report = desk.ingest_lines([orjson.dumps(request("c-2"))])
    # Then both are denied with the halt as their one breach, and neither became an order
    assert (recorded.outcome, recorded.reason, recorded.events) == (Outcome.DENIED, HALT, [])
    assert recorded.breaches == [{"reason": HALT}]
    assert report.counts["denied"] == 1 and report.counts["applied"] == 0
    assert list(desk.orders()) == []
    assert [m.client_order_id for m in desk.messages(outcome="denied")] == ["c-1", "c-2"]


def test_what_a_venue_reports_is_recorded_whatever_the_state(desk: OrderLedger) -> None:
    # Given the account halted
    desk.set_trading_state("halted", account="main", set_by="alice", reason="flash crash", ts=MORNING)
    # When the venue reports an order placed elsewhere (an external order), and reconciliation's
    # kind of input (a format other than the ledger's own) brings one too
    external = desk.record(request("v-1", external=True, venue_order_id="9"))
    # Then it is recorded: a fact the ledger learns is never refused
    assert external.outcome is Outcome.APPLIED
    assert [o.client_order_id for o in desk.orders()] == ["v-1"]


def test_an_ingest_of_many_requests_is_judged_one_by_one(desk: OrderLedger) -> None:
    # Given at most 3 orders a minute on account main
    desk.set_limit("account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING)
    # When 5 requests of ours arrive in one ingest (one batch), with a mark between them
    mark = {
        "type": "mark",
        "venue": "x",
        "instrument": "BTC-USDT",
        "price": "100",
        "ts": "2025-03-03T11:59:00Z",
    }
    lines = [request(f"c-{n}") for n in range(1, 4)] + [mark] + [request(f"c-{n}") for n in range(4, 6)]
    report = desk.ingest_lines([orjson.dumps(line) for line in lines])
    # Then the first 3 are orders (1, 2, 3 within 3) and the 4th and 5th denied (4 > 3): each
    # judged after the ones before it were recorded; the mark is recorded in its place
    assert (report.counts["applied"], report.counts["denied"]) == (4, 2)
    assert [o.client_order_id for o in desk.orders()] == ["c-1", "c-2", "c-3"]
    assert [m.client_order_id for m in desk.messages(outcome="denied")] == ["c-4", "c-5"]
    [reason] = {m.reason for m in desk.messages(outcome="denied")}
    assert reason == "max_orders 3 per 60s on account main: would be 4"


def test_a_strict_ingest_of_many_requests_under_limits_is_refused_whole(desk: OrderLedger) -> None:
    desk.set_limit("account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING)
    lines = [orjson.dumps(request(f"c-{n}")) for n in range(1, 3)]
    with pytest.raises(ValueError, match="cannot be all or nothing"):
        desk.ingest_lines(lines, strict=True)
    assert list(desk.orders()) == [] and list(desk.messages(outcome="denied")) == []
    # One request alone is judged and recorded
    assert desk.ingest_lines(lines[:1], strict=True).counts["applied"] == 1


def test_without_limits_or_states_a_batch_of_requests_is_one_commit(desk: OrderLedger) -> None:
    # Given a ledger that holds no limit and no state: the door has nothing to judge
    report = desk.ingest_lines([orjson.dumps(request(f"c-{n}")) for n in range(1, 6)])
    assert report.counts["applied"] == 5
    # Then the five were journaled together: one commit (one received_at)
    assert len({m.received_at for m in desk.messages()}) == 1
