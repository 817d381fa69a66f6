"""One door for our own orders (docs/risk.md, "One door"): every request of ours, whichever way
it arrives, is judged inside the write transaction that would record it; what a venue tells the
ledger is recorded whatever the limits say."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger import OrderLedger, Outcome
from tests.support.postgres import empty_database

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
    desk.risk_controls.set_trading_state(
        "halted", account="main", set_by="alice", reason="flash crash", ts=MORNING
    )
    # When a request of ours is recorded, and another ingested as a line
    recorded = desk.record(request("c-1"))
    report = desk.ingest_lines([orjson.dumps(request("c-2"))])
    # Then both are denied with the halt as their one breach, and neither became an order
    assert (recorded.outcome, recorded.reason, recorded.events) == (Outcome.DENIED, HALT, [])
    assert recorded.breaches == [{"reason": HALT}]
    assert report.counts["denied"] == 1 and report.counts["applied"] == 0
    assert list(desk.orders()) == []
    assert [m.client_order_id for m in desk.audit.messages(outcome="denied")] == ["c-1", "c-2"]


def test_what_a_venue_reports_is_recorded_whatever_the_state(desk: OrderLedger) -> None:
    # Given the account halted
    desk.risk_controls.set_trading_state(
        "halted", account="main", set_by="alice", reason="flash crash", ts=MORNING
    )
    # When the venue reports an order placed elsewhere (an external order), and reconciliation's
    # kind of input (a format other than the ledger's own) brings one too
    external = desk.record(request("v-1", external=True, venue_order_id="9"))
    # Then it is recorded: a fact the ledger learns is never refused
    assert external.outcome is Outcome.APPLIED
    assert [o.client_order_id for o in desk.orders()] == ["v-1"]


def test_an_ingest_of_many_requests_is_judged_one_by_one(desk: OrderLedger) -> None:
    # Given at most 3 orders a minute on account main
    desk.risk_controls.set_limit(
        "account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING
    )
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
    assert [m.client_order_id for m in desk.audit.messages(outcome="denied")] == ["c-4", "c-5"]
    [reason] = {m.reason for m in desk.audit.messages(outcome="denied")}
    assert reason == "max_orders 3 per 60s on account main: would be 4"


def test_a_strict_ingest_of_many_requests_under_limits_is_refused_whole(desk: OrderLedger) -> None:
    desk.risk_controls.set_limit(
        "account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING
    )
    lines = [orjson.dumps(request(f"c-{n}")) for n in range(1, 3)]
    with pytest.raises(ValueError, match="cannot be all or nothing"):
        desk.ingest_lines(lines, strict=True)
    assert list(desk.orders()) == [] and list(desk.audit.messages(outcome="denied")) == []
    # One request alone is judged and recorded
    assert desk.ingest_lines(lines[:1], strict=True).counts["applied"] == 1


def test_without_limits_or_states_a_batch_of_requests_is_one_commit(desk: OrderLedger) -> None:
    # Given a ledger that holds no limit and no state: the door has nothing to judge
    report = desk.ingest_lines([orjson.dumps(request(f"c-{n}")) for n in range(1, 6)])
    assert report.counts["applied"] == 5
    # Then the five were journaled together: one commit (one received_at)
    assert len({m.received_at for m in desk.audit.messages()}) == 1


def _placer(url: str, moment: datetime, worker: int, start: Any, answers: Any) -> None:
    """One process: waits for the others, then places 2 orders at the ledger time ``moment``."""
    outcomes = []
    with OrderLedger(url, clock=lambda: moment) as ledger:
        start.wait()
        for n in range(2):
            result = ledger.record(request(f"w{worker}-{moment.minute}-{n}"))
            outcomes.append(str(result.outcome))
    answers.put(outcomes)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_four_processes_placing_two_orders_each_record_exactly_the_limit(store: str, tmp_path: Any) -> None:
    with empty_database(store, tmp_path, "ledger.db") as url:
        # Given at most 3 orders a minute on account main
        with OrderLedger(url, clock=lambda: MORNING) as desk:
            desk.risk_controls.set_limit(
                "account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING
            )
        forked = multiprocessing.get_context("fork")
        for round_ in range(6):
            # When 4 processes each place 2 orders at once, at a ledger time 2 minutes after the
            # last round's (its orders are out of this round's window)
            moment = NOW.replace(minute=2 * round_)
            start, answers = forked.Barrier(4), forked.Queue()
            workers = [
                forked.Process(target=_placer, args=(url, moment, w, start, answers)) for w in range(4)
            ]
            for worker in workers:
                worker.start()
            outcomes = [o for _ in workers for o in answers.get(timeout=120)]
            for worker in workers:
                worker.join()
            # Then exactly 3 of the 8 are recorded (1, 2, 3 ≤ 3) and 5 denied (4 > 3), every round
            assert sorted(outcomes) == ["applied"] * 3 + ["denied"] * 5, (round_, outcomes)
        with OrderLedger(url) as desk:
            assert len(list(desk.orders())) == 18


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 90)),
        st.tuples(
            st.just("request"), st.sampled_from(["2020-01-01T00:00:00Z", "2099-12-31T00:00:00Z", "now"])
        ),
        st.tuples(st.just("state"), st.sampled_from(["halted", "active"])),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(steps=STEPS)
def test_no_request_of_ours_passes_what_a_limit_or_state_forbids(steps: list[tuple[str, Any]]) -> None:
    # Given at most 3 orders a minute on account main, any interleaving of requests (dated by
    # their senders in the past, the future or now), halts, resumptions and the clock moving on
    now = [NOW]
    with OrderLedger("memory://", clock=lambda: now[0]) as desk:
        desk.risk_controls.set_limit(
            "account", "main", "max_orders", "3", interval=60, set_by="alice", ts=MORNING
        )
        halted, changed = False, None
        recorded: list[tuple[datetime, bool]] = []  # each applied request: when, and whether halted then
        for n, (kind, value) in enumerate(steps):
            if kind == "advance":
                now[0] = now[0] + timedelta(seconds=value)
            elif kind == "state" and changed != now[0]:  # one state per instant
                desk.risk_controls.set_trading_state(value, account="main", set_by="alice")
                halted, changed = value == "halted", now[0]
            elif kind == "request":
                ts = now[0].isoformat() if value == "now" else value
                if desk.record(request(f"c-{n}", ts=ts)).outcome is Outcome.APPLIED:
                    recorded.append((now[0], halted))
        # Then no order was recorded while its account was halted, and no 60 s window of the
        # ledger's clock holds more than 3 of them
        assert not any(was_halted for _, was_halted in recorded)
        for at, _ in recorded:
            window = [t for t, _ in recorded if at - timedelta(seconds=60) < t <= at]
            assert len(window) <= 3, (at, recorded)
        assert len(list(desk.orders())) == len(recorded)
