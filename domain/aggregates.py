"""The aggregate each event belongs to, derived from its payload alone.

Most events are an order's, keyed by its client order ID. The facts that are not an order's are
each on an aggregate of their own, keyed by what makes the fact one: an instrument's definition
(venue, instrument), a cash flow (account, venue, instrument, flow ID), a mark (venue,
instrument, time, source), a limit's setting (scope, target, kind, time), a trading state
(account, time) and a breach the risk door found (client order ID, account, time, action).
``verify`` reads every stored payload and asks this module which aggregate it must be stored
under, so a fact of a kind it did not know would be reported as misfiled: each new kind of fact
is named here, and a test walks every event type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from orderledger.domain.cash_flows import cash_flow_id_for, mark_id_for
from orderledger.domain.events import (
    BreachRecorded,
    CashFlowRecorded,
    InstrumentDefined,
    LimitCleared,
    LimitSet,
    MarkRecorded,
    OrderEvent,
    TradingStateSet,
)
from orderledger.domain.instrument import instrument_id_for
from orderledger.domain.order import order_id_for
from orderledger.domain.risk import breach_id_for, limit_id_for, state_id_for


def _limit(event: Any) -> UUID:
    return limit_id_for(event.scope, event.target, event.kind, event.ts_event)


FACT_AGGREGATES: dict[type[OrderEvent], Callable[[Any], UUID]] = {
    InstrumentDefined: lambda e: instrument_id_for(e.venue, e.instrument),
    CashFlowRecorded: lambda e: cash_flow_id_for(e.account, e.venue, e.instrument, e.flow_id),
    MarkRecorded: lambda e: mark_id_for(e.venue, e.instrument, e.ts_event, e.source),
    LimitSet: _limit,
    LimitCleared: _limit,
    TradingStateSet: lambda e: state_id_for(e.account, e.ts_event),
    BreachRecorded: lambda e: breach_id_for(e.client_order_id, e.account, e.ts_event, e.action),
}
"""The events that are not an order's, and the ID of the aggregate each is stored under."""


def aggregate_id(event: OrderEvent) -> UUID:
    """The aggregate ``event`` belongs to: its fact's (``FACT_AGGREGATES``), else its order's."""
    of_fact = FACT_AGGREGATES.get(type(event))
    if of_fact is not None:
        return of_fact(event)
    return order_id_for(event.client_order_id)


__all__ = ["FACT_AGGREGATES", "aggregate_id"]
