"""Every event type is filed under an aggregate ``verify`` knows (``domain.aggregates``)."""

from __future__ import annotations

from orderledger.domain.aggregates import FACT_AGGREGATES
from orderledger.domain.events import EVENT_TYPES, BreachRecorded


def test_every_fact_that_is_not_an_orders_names_its_aggregate() -> None:
    # An order's events must name their order; a fact of another kind leaves the client order
    # ID empty, and is stored under an aggregate of its own that verify must be able to derive.
    # A breach the risk door found names the request's client order ID (a denied one never
    # became an order), yet is a fact of its own.
    not_orders = {t for t in EVENT_TYPES if not t.model_fields["client_order_id"].is_required()}
    assert not_orders | {BreachRecorded} == set(FACT_AGGREGATES)
