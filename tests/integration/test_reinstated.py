"""``reinstated``: a closure withdrawn, recorded as its own fact beside the closure it takes back.

Reconciliation closes an order the venue's snapshots stop listing and withdraws that closure
when a listing read later contradicts it (docs/reconciliation.md); the fact is an ordinary
message, so it is journaled, replayed and rebuilt like any other.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from orderledger.domain.values import Status
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.books import all_books
from tests.support.integration import fact, fill, lines, request, ts

ACCEPTED = fact("accepted", "o1", seconds=1, venue_order_id="V-1")
CLOSED = fact("canceled", "o1", seconds=600, reason="absent from the venue's orders")
FILLED_LATER = fill("o1", "t1", "4", seconds=720)  # traded at 12 minutes, after the closure
WITHDRAWN = fact("reinstated", "o1", seconds=600, canceled_at=ts(600), reason="listed again at 12 minutes")


def test_a_withdrawn_closure_leaves_the_order_as_its_other_facts_make_it(ledger: OrderLedger) -> None:
    # Given an order of 10 closed at 10 minutes, then a fill of 4 at 12 minutes (booked late:
    # the order was closed then)
    ledger.ingest_lines(lines(request("o1"), ACCEPTED, CLOSED, FILLED_LATER))
    late = ledger.order("o1")
    assert (late.status, late.anomalies) == (Status.CANCELED, ["late_fill"])
    # When the closure is withdrawn
    report = ledger.ingest_lines(lines(WITHDRAWN))
    # Then the order works: 4 of 10 filled, no late fill, last changed by that fill
    assert report.counts["applied"] == 1
    order = ledger.order("o1")
    assert (order.status, order.filled_quantity, order.leaves_quantity, order.anomalies, order.reason) == (
        Status.PARTIALLY_FILLED,
        Decimal("4"),
        Decimal("6"),
        [],
        None,
    )
    assert order.updated_at.isoformat() == "2026-11-20T10:12:00+00:00"
    # and the closure, its withdrawal and the restatement stay in the order's history
    assert [type(e.event).__name__ for e in ledger.history("o1")][-3:] == [
        "OrderFilled",
        "OrderReinstated",
        "OrderRestated",
    ]
    # and the views folded again from the log say the same
    books = all_books(ledger)
    ledger.upkeep.rebuild()
    assert all_books(ledger) == books


def test_the_same_facts_in_any_arrival_give_the_order_without_the_closure(ledger: OrderLedger) -> None:
    # Every arrival of the closure, its withdrawal and the fill (a withdrawal read before its
    # closure is ignored: there is nothing to withdraw yet, so it is read after it here)
    facts = [CLOSED, WITHDRAWN, FILLED_LATER]
    with OrderLedger("memory://") as reference:
        reference.ingest_lines(lines(request("o1"), ACCEPTED, FILLED_LATER))
        expected = all_books(reference)
    ledger.ingest_lines(lines(request("o1"), ACCEPTED, *facts))
    assert all_books(ledger) == expected
    for number, arrival in enumerate(itertools.permutations(facts)):
        if arrival.index(CLOSED) > arrival.index(WITHDRAWN):
            continue
        with OrderLedger("memory://") as other:
            for message in arrival:  # one commit each
                other.ingest_lines(lines(request("o1"), ACCEPTED, message))
            assert all_books(other) == expected, number


def test_a_withdrawal_on_an_order_not_canceled_is_ignored(ledger: OrderLedger) -> None:
    ledger.ingest_lines(lines(request("o1"), ACCEPTED))
    report = ledger.ingest_lines(lines(WITHDRAWN))
    assert report.counts["ignored"] == 1
    with ledger.db.read() as tx:
        journaled = tx.one("SELECT outcome, reason FROM messages ORDER BY message_id DESC LIMIT 1")
    assert tuple(journaled) == ("ignored", "the order is not canceled")
    assert ledger.order("o1").status is Status.ACCEPTED


def test_a_closure_at_the_same_time_recorded_after_its_withdrawal_counts(ledger: OrderLedger) -> None:
    # The withdrawal takes back the closures recorded before it, not a later one at that time.
    ledger.ingest_lines(lines(request("o1"), ACCEPTED, CLOSED, WITHDRAWN))
    ledger.ingest_lines(lines(dict(CLOSED, reason="closed again")))
    order = ledger.order("o1")
    assert (order.status, order.reason, order.updated_at.isoformat()) == (
        Status.CANCELED,
        "closed again",
        "2026-11-20T10:10:00+00:00",
    )
