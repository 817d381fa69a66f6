"""The writer's wiring: which decision each kind of message takes in a batch, and the writer made
with that table (``application.bootstrap`` shows the stages around it).

``DECISIONS`` names every message kind once (``tests/unit/test_messages.py`` holds it to
that): a request is decided by ``Batch.request`` (a new order, or the same order asked again);
a fact about an order (accepted, filled, canceled …) by ``Batch.order_fact``, which finds the
order or parks the fact until it is known, then applies the kind's rule
(``order_facts.ORDER_FACTS``); a fact of its own aggregate (an instrument's definition, a cash
flow, a mark, a limit, a trading state) is booked there, never parked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from orderledger.infrastructure.ingest.batch import Batch, Decide
from orderledger.infrastructure.ingest.definitions import book_instrument
from orderledger.infrastructure.ingest.fates import Handled
from orderledger.infrastructure.ingest.order_facts import ORDER_FACTS
from orderledger.infrastructure.ingest.position_facts import book_cash_flow, book_mark
from orderledger.infrastructure.ingest.processing import Processor
from orderledger.infrastructure.ingest.risk_facts import book_limit, book_state
from orderledger.infrastructure.messages.models import (
    CashFlowMessage,
    InstrumentMessage,
    LimitClearedMessage,
    LimitSetMessage,
    MarkMessage,
    Message,
    RequestMessage,
    TradingStateMessage,
)
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import JournalEntry, LedgerRecorder


def _booked(book: Callable[[Batch, Any, JournalEntry], Handled]) -> Decide:
    """A booking of a fact on its own aggregate, as a decision (a booking reads no part number:
    its fact never parks)."""
    return lambda batch, message, entry, part: book(batch, message, entry)


DECISIONS: Mapping[type[Message], Decide] = {
    RequestMessage: Batch.request,
    **dict.fromkeys(ORDER_FACTS, Batch.order_fact),
    InstrumentMessage: _booked(book_instrument),
    CashFlowMessage: _booked(book_cash_flow),
    MarkMessage: _booked(book_mark),
    LimitSetMessage: _booked(book_limit),
    LimitClearedMessage: _booked(book_limit),
    TradingStateMessage: _booked(book_state),
}
"""Each message kind and the decision it takes in a batch (``Batch.decide_message``)."""


def writer(recorder: LedgerRecorder, mapper: LedgerMapper, clock: Callable[[], datetime]) -> Processor:
    """The ledger's writer, deciding each kind of message as ``DECISIONS`` says."""
    return Processor(recorder, mapper, clock, decisions=DECISIONS)


__all__ = ["DECISIONS", "writer"]
