"""Two OrderLedger instances writing one database (SQLite file, PostgreSQL): nothing lost, nothing twice.

Each instance caches orders and identities, so interleaving their batches hands each of them
stale state for orders the other has just changed: the commit conflicts on (order, version)
and the batch is decided again. The right answer never depends on the interleaving, so every
run is compared with one ledger that ingested the same messages alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import (
    list_orders,
    list_positions,
    list_trades,
    parse_marks,
    pnl_by,
)
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.errors import StaleBatchError
from orderledger.infrastructure.ingest.inbound import Inbound
from orderledger.infrastructure.messages.models import parse_message
from orderledger.infrastructure.storage.db import is_integrity_error
from tests.support.integration import (
    assert_views_equal_fold,
    event_count,
    fact,
    facts,
    fill,
    lines,
    opened,
    request,
)

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])

MARKS = parse_marks(["BTC-USDT=64100", "ETH-USDT=3090", "BTC/USD=63900", "SOL/USD=150"])


def _answers(ledger: OrderLedger) -> dict[str, Any]:
    """What users see, minus the recording clock."""
    orders = list_orders(ledger.db)
    return {
        "facts": facts(ledger),
        "orders": orders,
        "snapshots": {o["client_order_id"]: ledger.order(o["client_order_id"]).snapshot() for o in orders},
        "trades": sorted(list_trades(ledger.db), key=lambda t: (t["client_order_id"], t["trade_id"])),
        "positions": list_positions(ledger.db, MARKS),
        "pnl": pnl_by(ledger.db, "account"),
    }


def _reference(messages: list[str]) -> dict[str, Any]:
    with opened("memory://") as alone:
        report = alone.ingest_lines(messages)
        assert report.counts["rejected"] == 0
        return _answers(alone)


class ConflictCounter:
    """Counts the commits refused because another instance changed the same orders first."""

    def __init__(self, *ledgers: OrderLedger) -> None:
        self.count = 0
        self._lock = threading.Lock()
        for ledger in ledgers:
            recorder = ledger.recorder
            recorder.commit = self._counting(recorder.commit)  # type: ignore[method-assign]

    def _counting(self, commit: Callable[..., Any]) -> Callable[..., Any]:
        def counting(*args: Any, **kwargs: Any) -> Any:
            try:
                return commit(*args, **kwargs)
            except Exception as error:
                if isinstance(error, StaleBatchError) or is_integrity_error(error):
                    with self._lock:
                        self.count += 1
                raise

        return counting


def test_interleaved_batches_with_stale_caches_store_every_fact_once(file_ledger_url: str) -> None:
    session = lines(*simulate(12, 80))
    expected = _reference(session)
    chunk = 9
    with opened(file_ledger_url) as a, opened(file_ledger_url) as b:
        conflicts = ConflictCounter(a, b)
        for index, start in enumerate(range(0, len(session), chunk)):
            writer = (a, b)[index % 2]
            # Each batch re-sends the previous one (the other instance has just stored it) and
            # brings new facts for the same orders, which the other instance cached before.
            batch = session[max(0, start - chunk) : start + chunk]
            report = writer.ingest_lines(batch)
            assert report.counts["rejected"] == 0, report.rejected

        assert conflicts.count > 0, "the interleaving never handed an instance a stale order"
        a.upkeep.catch_up()
        assert all(n == 1 for n in facts(a).values()), "a fact was stored twice"
        assert _answers(a) == expected
        assert _answers(b) == expected
        assert_views_equal_fold(a)


def test_interleaved_parking_across_instances_loses_nothing(file_ledger_url: str) -> None:
    orders = 40
    requests = [request(f"o{n}", seconds=n, quantity="3") for n in range(orders)]
    acks = [fact("accepted", f"o{n}", seconds=n + 0.1, venue_order_id=f"V{n}") for n in range(orders)]
    fills = [
        fill(None, f"t{n}", "3", seconds=n + 0.2, venue="V", venue_order_id=f"V{n}") for n in range(orders)
    ]
    with opened(file_ledger_url, batch_size=4) as a, opened(file_ledger_url, batch_size=4) as b:
        # Fills by venue order ID reach instance B before A has even recorded the requests.
        for n in range(0, orders, 8):
            assert b.ingest_lines(lines(*fills[n : n + 8])).counts["rejected"] == 0
            assert a.ingest_lines(lines(*requests[n : n + 8])).counts["rejected"] == 0
            assert b.ingest_lines(lines(*acks[n : n + 8])).counts["rejected"] == 0

        a.upkeep.catch_up()
        with a.db.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM parked")[0] == 0
            assert dict(tx.all("SELECT outcome, COUNT(*) FROM messages GROUP BY outcome")) == {
                "applied": 3 * orders
            }
        snapshots = [a.order(f"o{n}").snapshot() for n in range(orders)]
        assert {(s["status"], s["filled_quantity"]) for s in snapshots} == {("filled", "3")}
        assert Counter(facts(a).values()) == Counter({1: 3 * orders})
        assert_views_equal_fold(a)


def test_two_threads_sending_the_same_session_store_it_once(file_ledger_url: str) -> None:
    session = lines(*simulate(13, 60))
    expected = _reference(session)
    with opened(file_ledger_url, batch_size=7) as a, opened(file_ledger_url, batch_size=5) as b:
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def run(ledger: OrderLedger, messages: list[str]) -> None:
            try:
                start.wait(timeout=30)
                report = ledger.ingest_lines(messages)
                assert report.counts["rejected"] == 0, report.rejected
            except BaseException as error:  # reported by the test
                errors.append(error)

        threads = [
            threading.Thread(target=run, args=(a, session)),
            threading.Thread(target=run, args=(b, session)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert errors == []

        a.upkeep.catch_up()
        b.upkeep.catch_up()
        assert _answers(a) == expected
        assert a.views.stats.applied + b.views.stats.applied == event_count(a)
        assert_views_equal_fold(a)


def test_a_fill_is_not_refused_on_state_another_instance_has_changed(file_ledger_url: str) -> None:
    with opened(file_ledger_url) as a, opened(file_ledger_url) as b:
        a.ingest_lines(lines(request("X"), fill("X", "t1", "10", seconds=1)))  # A caches X as filled
        b.ingest_lines(lines(fact("fill_busted", "X", seconds=2, trade_id="t1")))  # 10 open again

        report = a.ingest_lines(lines(fill("X", "t2", "10", "101", seconds=3)))

        assert [r.reason for r in report.rejected] == []
        order = a.order("X").snapshot()
        assert (order["status"], order["filled_quantity"]) == ("filled", "10")


# ============================================================================= retries, decided


def test_after_two_stale_attempts_a_batch_is_decided_holding_the_log_lock(
    file_ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two commits refused as stale (another writer got there first), then the batch is decided
    again inside the recorder's ``locked()`` transaction, where nobody can overtake it."""
    with opened(file_ledger_url) as ledger:
        recorder = ledger.recorder
        commit, locked = recorder.commit, recorder.locked
        inside = [False]
        seen: list[bool] = []

        def spy_locked() -> Any:
            import contextlib

            @contextlib.contextmanager
            def guard() -> Any:
                with locked() as tx:
                    inside[0] = True
                    try:
                        yield tx
                    finally:
                        inside[0] = False

            return guard()

        def stale_twice(batch: Any, after: Any = None) -> Any:
            seen.append(inside[0])
            if len(seen) <= 2:
                raise StaleBatchError("another writer changed an order this batch read")
            return commit(batch, after)

        monkeypatch.setattr(recorder, "locked", spy_locked)
        monkeypatch.setattr(recorder, "commit", stale_twice)
        # (an order a venue reports: a batch holding a request of ours is decided holding the
        # lock from its first attempt, where the risk door judges it)
        report = ledger.ingest_lines(lines(request("L-1", external=True), fill("L-1", "t-1", "4")))
        assert seen == [False, False, True]
        assert report.counts["applied"] == 2
        assert ledger.order("L-1").filled_quantity == 4
        assert_views_equal_fold(ledger)


def test_inputs_with_a_refused_message_keep_their_other_messages(file_ledger_url: str) -> None:
    """Ten multi-message inputs in one batch, each with a good request and then an overfill
    (a fill of 2 on an order of 1), among good lines: in each, the request is applied and the
    fill alone refused (the input's row is `rejected`, its reason gives both fates); the good
    lines are applied, and the batch commits once."""
    items = []
    for i in range(10):
        refused = Inbound(
            raw=f"pair {i}".encode(),
            origin="test",
            line_no=2 * i + 1,
            format="test",
            messages=[
                parse_message(request(f"R-{i}", quantity="1")),
                parse_message(fill(f"R-{i}", f"x{i}", "2")),
            ],
        )
        good = Inbound(
            raw=f"good {i}".encode(),
            origin="test",
            line_no=2 * i + 2,
            format="test",
            messages=[parse_message(request(f"G-{i}"))],
        )
        items += [refused, good]
    with opened(file_ledger_url) as ledger:
        results: list[Any] = []
        report = ledger.ingest_inbound(items, on_batch=results.extend)
        assert report.counts["rejected"] == 10 and report.counts["applied"] == 10
        for result in results[::2]:
            assert result.outcome == "rejected" and len(result.events) == 1  # the request's
            reason = result.reason or ""
            assert reason.startswith("message 1 of 2 applied; message 2 of 2 rejected: ")
            assert reason.endswith("(overfill)")
        assert {e[0] for e in facts(ledger)} == {f"{k}-{i}" for k in "GR" for i in range(10)}
        assert all(ledger.order(f"R-{i}").filled_quantity == 0 for i in range(10))
        assert_views_equal_fold(ledger)
