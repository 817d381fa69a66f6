"""eventsourcing's live subscription over the ledger's log: the notifications after a position,
in log order, then each one committed later, until it is stopped (on both file backends)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import Notification

from orderledger import OrderLedger
from orderledger.infrastructure.storage.store import PollingSubscription


def _request(client_order_id: str) -> dict[str, Any]:
    return {
        "type": "request",
        "client_order_id": client_order_id,
        "venue": "v",
        "account": "a",
        "instrument": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "quantity": "1",
        "price": "100",
        "ts": "2026-11-20T10:00:00Z",
    }


def _accepted(client_order_id: str) -> dict[str, Any]:
    return {
        "type": "accepted",
        "client_order_id": client_order_id,
        "venue_order_id": f"x-{client_order_id}",
        "ts": "2026-11-20T10:00:01Z",
    }


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[OrderLedger]:
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    with OrderLedger(url) as opened:
        yield opened


def test_a_subscription_starts_after_the_position_it_is_given(ledger: OrderLedger) -> None:
    # Given two orders requested and acknowledged: four events at positions 1–4
    for coid in ("c-1", "c-2"):
        assert ledger.record(_request(coid)).outcome == "applied"
        assert ledger.record(_accepted(coid)).outcome == "applied"
    # When subscribing after position 1 and taking three notifications
    with ledger.recorder.subscribe(gt=1) as subscription:
        taken = [next(subscription) for _ in range(3)]
    # Then they are positions 2, 3, 4, in order: c-1 accepted, c-2 requested, c-2 accepted
    assert [n.id for n in taken] == [2, 3, 4]
    assert [n.topic.rsplit(":", 1)[1] for n in taken] == ["OrderAccepted", "OrderRequested", "OrderAccepted"]


def test_a_subscription_filters_by_topic(ledger: OrderLedger) -> None:
    for coid in ("c-1", "c-2"):
        ledger.record(_request(coid))
        ledger.record(_accepted(coid))
    with ledger.recorder.subscribe(gt=0, topics=["domain.events:OrderAccepted"]) as subscription:
        taken = [next(subscription) for _ in range(2)]
    assert [n.id for n in taken] == [2, 4]


def test_a_subscription_yields_events_committed_after_it_started_until_stopped(ledger: OrderLedger) -> None:
    ledger.record(_request("c-1"))
    subscription = ledger.recorder.subscribe(gt=0)
    assert isinstance(subscription, PollingSubscription)
    subscription.interval = 0.01
    seen: list[Notification] = []
    three = threading.Event()

    def consume() -> None:
        with subscription:
            for notification in subscription:
                seen.append(notification)
                if len(seen) == 3:
                    three.set()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    # When two more events are committed while the reader waits
    ledger.record(_accepted("c-1"))
    ledger.record(_request("c-2"))
    # Then the reader has all three, in log order (the wait is a safety net, not a timing)
    assert three.wait(60), seen
    assert [n.id for n in seen] == [1, 2, 3]
    # And stopping it ends the iteration while it waits for more
    subscription.stop()
    reader.join(60)
    assert not reader.is_alive()
