"""A fact decided in place folds its order once.

A fact that arrives after later facts of its order is decided against the order as its facts up
to its place in venue time leave it (``fold_until``), and the order is then restated as the
venue-time fold of all its facts. That fold goes on from the one that decided the fact: the
facts after its place are applied after what it decided (``fold_on``), which is the whole fold
whenever what it decided stands, in venue time, between the two; otherwise every fact is folded
again. Both give the same order: checked here against a whole fold for every fact a shuffled
session decides in place.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from orderledger.domain import folds
from orderledger.domain.events import OrderEvent
from orderledger.domain.order import Order
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.ingest import batch
from tests.support.books import all_books


def _state(order: Order) -> dict[str, Any]:
    state = order.to_state()
    del state["seen"]  # the deciding fold keeps the order's fingerprints: only commands read them
    return state


def test_a_shuffled_session_decides_in_place_with_one_fold_each(monkeypatch: pytest.MonkeyPatch) -> None:
    went_on: list[bool] = []
    whole = [0]
    real_on, real_whole = folds.fold_on, folds.in_venue_time

    def fold_on(fold: folds.VenueFold, decided: Sequence[OrderEvent]) -> Order | None:
        expected = _state(real_whole([*fold.applied, *decided, *fold.rest]))
        folded = real_on(fold, decided)
        went_on.append(folded is not None)
        if folded is not None:
            assert _state(folded) == expected
        return folded

    def in_venue_time(events: Any, until: Any = None) -> Order:
        whole[0] += 1
        return real_whole(events, until)

    monkeypatch.setattr(batch, "fold_on", fold_on)
    monkeypatch.setattr(batch, "in_venue_time", in_venue_time)
    lines = list(simulate_lines(seed=7, orders=400))
    shuffled = lines[:]
    random.Random(7).shuffle(shuffled)
    with OrderLedger("memory://", batch_size=100) as ledger:
        ledger.ingest_lines(shuffled)
        books = all_books(ledger)
    assert len(went_on) > 50  # facts decided in place, each with what it decided
    # Each went on from its deciding fold: no second whole fold of the order.
    assert all(went_on)
    assert whole[0] == 0
    with OrderLedger("memory://") as reference:
        reference.ingest_lines(lines)
        assert books == all_books(reference)
