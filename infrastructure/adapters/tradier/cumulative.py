"""Fills inferred from cumulative reports, as a function of the reports read, not of their order.

Tradier states an order's fills only as a total: ``exec_quantity`` and ``avg_fill_price`` as of
``transaction_date`` (``adapters.tradier.Cumulative``). Each total filled quantity a report
shows is a **step**; when reports of one quantity disagree (a partial fill, then the cancel
that ends the order, reported with the cancel's time), the step is the earliest report (then
the lowest average). The order's inferred fills are one per step, in quantity order (venue
time, for a venue whose totals only grow): the quantity beyond the step below, priced so the
venue's average holds (:func:`inferred_price`), at the step's time, named by the step
(:func:`inferred_trade_id` of its quantity, average and time).

Reports read in venue time each add the fill of their step. A report read after later ones
revises what it changes, so the booked fills are always those the reports read give in venue
time (:func:`revision`):

* a step below booked ones: the fill of the step above it is corrected down to the quantity
  between them (with the price that leaves), and the step's own fill booked;
* an earlier report of a booked step: the fill booked for the later report is busted (its ID
  names a time it did not happen at) and the step's fill booked at the earlier time (the
  busted fill's time then counts for nothing in the order's ``updated_at``,
  ``domain.folds.latest``);
* either way, a later step whose price the rounding of an inferred price moves is corrected.

The corrections come first, so the order never holds more than the venue reported. A
re-split is not an anomaly: the venue stated nothing that contradicts the ledger, the ledger
learnt a step it had not seen.

The steps are read back from the booked fills (:func:`booked_steps`): a fill's total is the
order's inferred fills up to it, its average that total's notional over it, taken to the
places that give back the fill's trade ID (which names exactly these). An order whose fills
are not all such steps (a real execution replaced part of one; a fill whose trade ID names no
time) gets only the fill of what the report adds beyond what is booked (:func:`fill_beyond`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from orderledger.domain.fills import Fill
from orderledger.domain.order import Order
from orderledger.domain.values import (
    EXACT,
    MAX_PLACES,
    WIDE,
    format_decimal,
    format_timestamp,
    parse_timestamp,
    places_of,
)
from orderledger.infrastructure.adapters.common import message
from orderledger.infrastructure.messages.models import (
    FillBustedMessage,
    FillCorrectedMessage,
    FillMessage,
    Message,
)

ZERO = Decimal(0)


def inferred_trade_id(
    venue: str, venue_order_id: str, filled: Decimal, average: Decimal | None, at: str | None = None
) -> str:
    """A trade ID derived from what the venue reported, so that every run infers the same one
    (``at``: the report's venue time, for an ID that names a step)."""
    shown = [format_decimal(filled.normalize()), format_decimal((average or ZERO).normalize())]
    basis = "|".join([venue, venue_order_id, *shown, *([] if at is None else [at])])
    return "inferred-" + hashlib.sha256(basis.encode()).hexdigest()[:20]


def inferred_price(
    filled: Decimal, average: Decimal | None, limit: Decimal | None, gap: Decimal, booked_notional: Decimal
) -> Decimal | None:
    """The price of the ``gap`` of a venue's cumulative ``filled`` that no booked fill explains:
    what the venue's average leaves once the booked notional is taken out (else the limit). A
    division: past the places a recorded price may have (``MAX_PLACES``), it is rounded half-even
    to them, as the lake rounds a derived figure (the venue stated no such price to keep)."""
    if average is None:
        return limit
    price = (average * filled - booked_notional) / gap
    if places_of(price) > MAX_PLACES:
        price = price.quantize(Decimal(1).scaleb(-MAX_PLACES), rounding=ROUND_HALF_EVEN)
    return price


@dataclass(frozen=True)
class Step:
    """What a report says an order has filled in total by a venue time."""

    filled: Decimal
    average: Decimal | None
    ts: str
    """Canonical UTC text (``values.format_timestamp``), as trade IDs name it."""
    limit: Decimal | None = None
    """The price of the step's fill when the venue states no average."""

    def precedes(self, other: Step) -> bool:
        """True when this report, not ``other``, is the step of their (equal) total."""
        return (self.ts, self.average or ZERO) < (other.ts, other.average or ZERO)


@dataclass(frozen=True)
class Planned:
    """A fill the steps give: its trade ID, quantity, price and venue time."""

    trade_id: str
    quantity: Decimal
    price: Decimal
    ts: str


@dataclass(frozen=True)
class Revision:
    """What one report changes in an order's inferred fills, in applying order."""

    busted: list[Planned]
    corrected: list[Planned]
    """Each with the fill's new quantity and price, stamped at the report's time."""
    added: list[Planned]


def step_trade_id(venue: str, venue_order_id: str, step: Step) -> str:
    """The trade ID of a step's fill."""
    return inferred_trade_id(venue, venue_order_id, step.filled, step.average, step.ts)


def planned_fills(steps: Iterable[Step], venue: str, venue_order_id: str) -> list[Planned]:
    """The fills of ``steps`` (one per total) as reports read in venue time book them. A step
    whose fill cannot be priced (no average and no limit) books nothing; the next one covers it.
    A total below one reported earlier in venue time (a bust the ledger lacks) books nothing
    either: read in any order, the steps give the fills of the highest total so far."""
    out: list[Planned] = []
    booked, notional = ZERO, ZERO
    for step in sorted(steps, key=lambda s: (s.ts, s.filled)):
        fill = fill_beyond(booked, notional, step, venue, venue_order_id)
        if fill is not None:
            out.append(fill)
            booked, notional = step.filled, EXACT.add(notional, EXACT.multiply(fill.quantity, fill.price))
    return out


def fill_beyond(
    booked: Decimal, notional: Decimal, step: Step, venue: str, venue_order_id: str
) -> Planned | None:
    """The fill of what ``step`` adds beyond fills of ``booked`` in total at ``notional``; None
    when it adds nothing or cannot be priced (no average and no limit)."""
    gap = EXACT.subtract(step.filled, booked)
    if gap <= 0:
        return None
    price = inferred_price(step.filled, step.average, step.limit, gap, notional)
    if price is None or price <= 0:
        return None
    return Planned(step_trade_id(venue, venue_order_id, step), gap, price, step.ts)


def booked_steps(fills: Iterable[Fill], venue: str, venue_order_id: str) -> list[Step] | None:
    """The steps an order's booked fills are, lowest first; None when one fill is not a step's."""
    pending = sorted((f for f in fills if not f.busted), key=lambda f: f.ts_event)
    if any(not f.inferred for f in pending):
        return None
    steps: list[Step] = []
    filled, notional = ZERO, ZERO
    while pending:
        # The earliest first: the next step, as a rule (fills of one time may come in any order).
        found = next(
            ((f, s) for f in pending if (s := _step_of(f, filled, notional, venue, venue_order_id))),
            None,
        )
        if found is None:
            return None
        fill, step = found
        pending.remove(fill)
        steps.append(step)
        filled = step.filled
        notional = EXACT.add(notional, EXACT.multiply(fill.qty, fill.px))
    return steps


def _step_of(fill: Fill, filled: Decimal, notional: Decimal, venue: str, oid: str) -> Step | None:
    """The step ``fill`` is when the booked steps below it total ``filled`` at ``notional``."""
    total = EXACT.add(filled, fill.qty)
    ts = format_timestamp(fill.ts_event)
    if step_trade_id(venue, oid, Step(total, None, ts)) == fill.trade_id:
        return Step(total, None, ts, limit=fill.px)
    # The average the venue reported, to the rounding of an inferred price (< 1e-12 away).
    mean = WIDE.divide(EXACT.add(notional, EXACT.multiply(fill.qty, fill.px)), total)
    for places in range(MAX_PLACES + 1):
        average = mean.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=WIDE)
        if average > 0 and step_trade_id(venue, oid, Step(total, average, ts)) == fill.trade_id:
            return Step(total, average, ts)
    return None


def revision(fills: Iterable[Fill], report: Step, venue: str, venue_order_id: str) -> Revision | None:
    """What ``report`` changes in an order's inferred ``fills`` (None: they are not all steps)."""
    fills = list(fills)
    steps = booked_steps(fills, venue, venue_order_id)
    if steps is None:
        return None
    same = [s for s in steps if s.filled == report.filled]
    if same and not report.precedes(same[0]):
        return Revision([], [], [])
    read = [s for s in steps if s.filled != report.filled] + [report]
    booked: dict[str, Fill] = {f.trade_id: f for f in fills if not f.busted}
    planned = planned_fills(read, venue, venue_order_id)
    wanted = {p.trade_id for p in planned}
    busted = [
        Planned(f.trade_id, f.qty, f.px, format_timestamp(f.ts_event))
        for f in booked.values()
        if f.trade_id not in wanted
    ]
    corrected = [
        Planned(p.trade_id, p.quantity, p.price, report.ts)
        for p in planned
        if p.trade_id in booked and (booked[p.trade_id].qty, booked[p.trade_id].px) != (p.quantity, p.price)
    ]
    added = [p for p in planned if p.trade_id not in booked]
    return Revision(busted, corrected, added)


def revised(order: Order | None, report: Step, venue: str, venue_order_id: str) -> Revision:
    """What ``report`` changes in ``order``'s fills (None: no order yet): the revision of its
    steps, or, when its fills are not all steps, the fill of what the report adds beyond them."""
    found = revision([] if order is None else order.fills.values(), report, venue, venue_order_id)
    if found is None:
        booked, notional = (ZERO, ZERO) if order is None else (order.filled_quantity, order.notional)
        return beyond(booked, notional, report, venue, venue_order_id)
    return found


def beyond(booked: Decimal, notional: Decimal, report: Step, venue: str, venue_order_id: str) -> Revision:
    """The revision that only adds the fill of what ``report`` states beyond fills of ``booked``
    in total at ``notional`` (:func:`fill_beyond`), if it adds anything."""
    added = fill_beyond(booked, notional, report, venue, venue_order_id)
    return Revision([], [], [] if added is None else [added])


def revision_messages(
    found: Revision,
    *,
    key: dict[str, Any],
    why: str,
    recorded: Callable[[], set[tuple[datetime, str]]],
) -> list[Message]:
    """The messages of a revision, in applying order (busts and corrections before the fills
    they make room for). ``key`` names the order (and the messages' source); ``recorded`` gives
    the corrections the order holds, read only when the revision corrects a fill."""
    out: list[Message] = [
        message(FillBustedMessage, **key, trade_id=p.trade_id, ts=p.ts, reason=why) for p in found.busted
    ]
    done = recorded() if found.corrected else set()
    out += [
        message(FillCorrectedMessage, **key, **_figures(p), ts=correction_time(done, p), reason=why)
        for p in found.corrected
    ]
    out += [message(FillMessage, **key, **_figures(p), inferred=True, ts=p.ts) for p in found.added]
    return out


def booked_of(fills: Iterable[FillMessage]) -> tuple[Decimal, Decimal]:
    """The quantity and notional (quantity × price, exact) of these fills, as ``Order`` sums them."""
    quantity = notional = ZERO
    for fill in fills:
        quantity = EXACT.add(quantity, fill.quantity)
        notional = EXACT.add(notional, EXACT.multiply(fill.quantity, fill.price))
    return quantity, notional


def _figures(fill: Planned) -> dict[str, str]:
    """A planned fill's trade ID, quantity and price, as a message states them."""
    price = format_decimal(fill.price.normalize())
    return {"trade_id": fill.trade_id, "quantity": format_decimal(fill.quantity), "price": price}


def correction_time(done: set[tuple[datetime, str]], planned: Planned) -> str:
    """The report's time for a correction of ``planned``'s trade, a microsecond earlier while a
    correction of the trade at that time is recorded (``done``): reports of one time that each
    split the trade (another correction at the same time would be a copy of the first). Earlier,
    not later: a correction stamped before its trade stands right after it (``domain.folds``),
    so the order folds as with the report's time, and its latest time is not moved."""
    at = parse_timestamp(planned.ts)
    while (at, planned.trade_id) in done:
        at -= timedelta(microseconds=1)
    return format_timestamp(at)


__all__ = [
    "Planned",
    "Revision",
    "Step",
    "beyond",
    "booked_steps",
    "correction_time",
    "fill_beyond",
    "inferred_price",
    "inferred_trade_id",
    "planned_fills",
    "revised",
    "revision",
    "revision_messages",
    "step_trade_id",
]
