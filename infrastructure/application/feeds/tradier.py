"""The ``tradier`` format's feed: Tradier orders replies (polls), one per line.

Tradier reports fills only as cumulative ``exec_quantity``/``avg_fill_price``. Each poll's
orders become their request/ack/ending messages plus what the poll's totals change in the
order's *inferred* fills, one per total (``adapters.tradier.cumulative``): the fill of a new total,
and for a poll read after later ones the corrections that re-split the fills those booked. A
poll that reports nothing new adds nothing, and a real execution recorded later replaces the
inferred quantity. A real execution recorded before its order, waiting (parked) for the poll that
creates the order, counts as booked: the poll's line releases it, so the poll infers only what
the venue's total adds beyond it, as it would had the execution been recorded after.
"""

from __future__ import annotations

from typing import Any

from orderledger.domain.identity import IdentityKey
from orderledger.domain.values import format_decimal
from orderledger.infrastructure.adapters.common import FACT_ORDER, in_applying_order
from orderledger.infrastructure.adapters.declared import NoOptions
from orderledger.infrastructure.adapters.tradier.cumulative import (
    Step,
    beyond,
    booked_of,
    revised,
    revision_messages,
)
from orderledger.infrastructure.adapters.tradier.payloads import (
    Cumulative,
    cumulative_fills,
    instrument_messages,
    order_messages,
    orders_of,
)
from orderledger.infrastructure.application.upkeep.reconcile import corrections_of, waiting_fills
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import Message


class TradierFeed:
    """Tradier orders replies, one per line, with fills inferred from cumulative quantities."""

    commit_each = True
    context_note: str | None = None

    def __init__(self, ledger: Any, venue: str, account: str, options: NoOptions) -> None:
        self.ledger = ledger
        self.venue = venue
        self.account = account

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        out: list[Message] = []
        fills: list[Message] = []
        for order in orders_of(decode_json(raw)):
            # An option's definition (contract size 100): the line's definitions take effect
            # before its orders and fills (ingest.inbound), so every fill, the first one
            # included, is valued per contract of 100, not per share.
            out += instrument_messages(order, venue=self.venue)
            out += order_messages(order, venue=self.venue, account=self.account)
            for total in cumulative_fills(order):
                fills += self._fills(total)
        # Requests and acknowledgements, then each order's revised and new fills (busts and
        # corrections before the fills they make room for), then the endings.
        ordered = in_applying_order(out)
        ending = next((i for i, m in enumerate(ordered) if FACT_ORDER.get(type(m), 3) > 1), len(ordered))
        return [*ordered[:ending], *fills, *ordered[ending:]]

    def _fills(self, total: Cumulative) -> list[Message]:
        """What a report of an order's total fill changes in its inferred fills
        (``adapters.tradier.cumulative``)."""
        processor = self.ledger.processor
        owner = processor.lookup_identity(IdentityKey.venue_order(self.venue, total.venue_order_id))
        order = None if owner is None else processor.load_order(owner, trust_absent=False)
        report = Step(total.exec_quantity, total.avg_fill_price, total.ts, total.price)
        waiting = [] if order is not None else waiting_fills(self.ledger, self.venue, total.venue_order_id)
        if not waiting:
            found = revised(order, report, self.venue, total.venue_order_id)
        else:  # as the order will stand once this line releases them (a real trade: no steps)
            found = beyond(*booked_of(waiting), report, self.venue, total.venue_order_id)
        key = {
            "venue": self.venue,
            "venue_order_id": total.venue_order_id,
            "account": self.account,  # what the poll states of the order (Order.check_stated)
            "instrument": total.instrument,
            "side": total.side,
            "source": "tradier",
        }
        why = f"re-split by Tradier's total {format_decimal(total.exec_quantity)} at {total.ts}"
        return revision_messages(
            found, key=key, why=why, recorded=lambda: corrections_of(self.ledger, owner or "")
        )


__all__ = ["TradierFeed"]
