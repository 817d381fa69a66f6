"""An external order found to be one of ours: merged into it.

The ledger keeps an order the venue reports with no client order ID (an open-orders snapshot's
row, a venue feed's order) as an external order keyed by its venue order ID
(``domain.order_requests.external_client_order_id``). When our own order is then acknowledged as that
venue order ID (the acknowledgement reached the ledger after the venue's report), both are one
order: had the acknowledgement come first, the report would have found ours. So the books end
as they would have, whatever the arrival:

- the external order's live fills are busted (each at its own venue time, so no day's P&L
  moves) and it records ``OrderMerged``: it leaves the books, its history stays;
- our order is given the external order's facts as the messages that state them: each fill
  (same trade ID, quantity, price, fee, venue time and source) and how the order ended, each
  decided by our order's own rules, at its place in venue time;
- the venue order ID and the aliases lead to our order from then on (``Processor.lookup_identity``
  follows ``merged_into``); the identities table, append-only, keeps its row.

Only an order the ledger keyed itself can be merged: one whose client order ID it made from a
venue order ID, of the same account, instrument and side as ours. Any other holder of the
identity is a conflict, refused as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orderledger.domain.decisions import Decision, Stamp
from orderledger.domain.errors import LedgerError
from orderledger.domain.events import OrderEvent, OrderFilled
from orderledger.domain.order import Order
from orderledger.domain.order_requests import external_client_order_id
from orderledger.domain.values import Status, format_decimal, format_timestamp
from orderledger.infrastructure.messages.models import Message, parse_message

_ENDINGS = {Status.CANCELED: "canceled", Status.EXPIRED: "expired", Status.REJECTED: "rejected"}
"""How an external order ended, as the message that ends ours the same way."""


def mergeable(external: Order, ours: Order) -> bool:
    """Whether ``external`` is an order the ledger kept for a venue order ID before it knew the
    order was ``ours``."""
    return (
        external.external
        and external.merged_into is None
        and not ours.external
        and any(
            external.client_order_id == external_client_order_id(external.venue, v)
            for v in external.venue_order_ids
        )
        and (external.venue, external.account, external.instrument, external.side)
        == (ours.venue, ours.account, ours.instrument, ours.side)
    )


def merged(
    external: Order,
    ours: Order,
    history: list[OrderEvent],
    stamp: Stamp,
    record: Callable[[Order, Decision], list[OrderEvent]],
) -> tuple[list[OrderEvent], list[Message]]:
    """The events that take ``external`` off the books, and the messages that give its facts to
    ``ours`` (``history``: the external order's events; ``stamp``: the message that named ours
    as the external order's venue order ID)."""
    why = f"merged into order {ours.client_order_id!r}"
    live = {t: f for t, f in external.fills.items() if not f.busted}
    facts: list[Message] = []
    for event in history:
        if type(event) is OrderFilled and event.trade_id in live:
            fill = live.pop(event.trade_id)  # as it stands: corrections included
            facts.append(
                _message(
                    "fill",
                    ours,
                    event.source,
                    fill.ts_event,
                    trade_id=fill.trade_id,
                    quantity=format_decimal(fill.qty),
                    price=format_decimal(fill.px),
                    fee=None if fill.fee is None else format_decimal(fill.fee),
                    fee_currency=fill.fee_currency,
                    liquidity=None if fill.liquidity is None else fill.liquidity.value,
                    inferred=fill.inferred or None,
                    venue_realized_pnl=(
                        None if event.venue_realized_pnl is None else format_decimal(event.venue_realized_pnl)
                    ),
                )
            )
    ending = _ENDINGS.get(external.base_status)
    if ending is not None:
        source = history[-1].source if history else stamp.source
        facts.append(_message(ending, ours, source, external.updated_at, reason=external.reason))
    events: list[OrderEvent] = []
    for trade_id, fill in external.fills.items():
        if not fill.busted:
            at = Stamp(fill.ts_event, stamp.ts_recorded, stamp.source)
            events += record(external, external.bust_fill(at, trade_id, why))
    at = Stamp(max(external.updated_at, stamp.ts_event), stamp.ts_recorded, stamp.source)
    events += record(external, external.merge_into(at, ours.client_order_id))
    return events, facts


def _message(kind: str, ours: Order, source: str, ts: Any, **fields: Any) -> Message:
    message = {
        "type": kind,
        "client_order_id": ours.client_order_id,
        "ts": format_timestamp(ts),
        "source": source,
    }
    message.update({k: v for k, v in fields.items() if v is not None})
    return parse_message(message)


def book_facts(
    facts: list[Message], apply: Callable[[Message], list[OrderEvent]], recorded: Callable[[], int]
) -> tuple[list[OrderEvent], list[str]]:
    """Give our order the external order's facts, each decided alone: one the order's rules
    refuse before recording anything (a fill our order's own fills leave no room for) stays in
    the external order's history, busted, instead of refusing the acknowledgement that merged
    them; what refused it is returned, for the acknowledgement's journal row to say. (``recorded``:
    how many events the batch holds; a refusal after some were recorded cannot be undone here, so
    it refuses the message, whose batch is then decided again.)"""
    events: list[OrderEvent] = []
    refused: list[str] = []
    for fact in facts:
        before = recorded()
        try:
            events += apply(fact)
        except LedgerError as error:
            if recorded() != before:
                raise
            trade = getattr(fact, "trade_id", None)
            named = f"{fact.type} {trade!r}" if trade else str(fact.type)
            refused.append(f"the merged order's {named} was not given to ours: {error.message}")
    return events, refused


__all__ = ["book_facts", "mergeable", "merged"]
