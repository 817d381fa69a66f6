"""Reconciliation: the venue's view of orders, fills and positions against the ledger's.

Every difference becomes a report line; with ``apply`` each correction becomes an explicit
event whose source is ``reconciliation``, recorded through the normal ingest path (so it is
journaled, deduplicated and hash-chained like any other fact). Running it twice changes
nothing the second time: corrections are ordinary facts, so the second run finds no
difference, and an inferred fill's trade ID is derived from its content.

Snapshot format (docs/reconciliation.md)::

    {"venue": "venueA", "account": "acc1", "as_of": "2026-11-20T10:05:00Z",
     "open_orders": [...], "closed_orders": [...], "fills": [...], "positions": [...]}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import FillCorrected
from orderledger.domain.identity import IdentityKey
from orderledger.domain.order import Order, external_client_order_id
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import (
    OrderType,
    Side,
    Status,
    format_decimal,
    format_timestamp,
    parse_decimal,
    parse_identifier,
    parse_positive,
    parse_timestamp,
)
from orderledger.infrastructure.adapters.snapshots.payloads import RECONCILE_OPEN_STATUSES
from orderledger.infrastructure.adapters.tradier.cumulative import (
    Step,
    beyond,
    booked_of,
    revised,
    revision_messages,
)
from orderledger.infrastructure.application.reads.view_queries import (
    first_position,
    list_orders,
    list_positions,
)
from orderledger.infrastructure.ingest.inbound import Inbound, Result
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import (
    FillMessage,
    json_ready,
    message_from_line,
    parse_message,
)

SOURCE = "reconciliation"
CLOSED_STATUSES = tuple(s.value for s in Status if s.is_terminal)
"""What a closed-order row of a snapshot may say (the ledger's terminal statuses)."""
ZERO = Decimal(0)


# ---------------------------------------------------------------------- the snapshot


def waiting_fills(ledger: Any, venue: str, venue_order_id: str) -> list[FillMessage]:
    """The real executions parked for an order the ledger does not hold yet, named by its venue
    order ID: the line that creates the order releases them, so what a report of its total adds
    is judged beyond them, as it would be had they been recorded after the order."""
    key = IdentityKey.venue_order(venue, venue_order_id)
    found = (message_from_line(stored) for _, _, _, stored, _ in ledger.processor.parked.lines_for([key]))
    return [m for m in found if type(m) is FillMessage and not m.inferred]


def corrections_of(ledger: Any, client_order_id: str) -> set[tuple[datetime, str]]:
    """(venue time, trade ID) of each correction an order has recorded."""
    events = ledger.audit.order_events(client_order_id)
    return {(e.ts_event, e.trade_id) for e in events if isinstance(e, FillCorrected)}


@dataclass(frozen=True)
class VenueOrder:
    """One order as the venue reports it."""

    venue_order_id: str
    client_order_id: str | None
    instrument: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    filled_quantity: Decimal
    average_price: Decimal | None
    status: str
    aliases: dict[str, str]
    created_at: datetime | None = None
    """When the venue created the order (ccxt's ``timestamp``), if the row says."""


@dataclass(frozen=True)
class VenueFill:
    """One fill as the venue reports it."""

    trade_id: str
    venue_order_id: str | None
    client_order_id: str | None
    instrument: str | None
    side: Side | None
    quantity: Decimal
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    ts: datetime


@dataclass(frozen=True)
class Snapshot:
    """The venue's view at ``as_of``. A value, as a request's field is (``requests.Reconcile``):
    compared by every field, hashed by its venue, account and time (its rows are lists)."""

    venue: str
    account: str
    as_of: datetime
    open_orders: list[VenueOrder] = field(hash=False)
    closed_orders: list[VenueOrder] = field(hash=False)
    fills: list[VenueFill] = field(hash=False)
    positions: dict[str, Decimal] = field(hash=False)


def _require(data: dict[str, Any], name: str, where: str) -> Any:
    if name not in data or data[name] is None:
        raise InvalidInputError(f"{where}: {name} is required", field=name)
    return data[name]


def _order_row(data: Any, where: str, closed: bool) -> VenueOrder:
    if not isinstance(data, dict):
        raise InvalidInputError(f"{where} must be an object")
    status = str(_require(data, "status", where)).lower()
    allowed = CLOSED_STATUSES if closed else RECONCILE_OPEN_STATUSES
    if status not in allowed:
        raise InvalidInputError(f"{where}: status must be one of {'|'.join(allowed)}, not {status!r}")
    try:
        side = Side(str(_require(data, "side", where)).lower())
        order_type = OrderType(str(data.get("order_type", "limit")).lower())
    except ValueError as error:
        raise InvalidInputError(f"{where}: {error}") from None
    price = data.get("price")
    average = data.get("average_price")
    aliases = data.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise InvalidInputError(f"{where}: aliases must be an object")
    client = data.get("client_order_id")
    created = data.get("created_at")
    return VenueOrder(
        venue_order_id=parse_identifier(_require(data, "venue_order_id", where), f"{where}.venue_order_id"),
        client_order_id=None
        if client in (None, "")
        else parse_identifier(client, f"{where}.client_order_id"),
        instrument=parse_identifier(_require(data, "instrument", where), f"{where}.instrument"),
        side=side,
        order_type=order_type,
        quantity=parse_positive(_require(data, "quantity", where), f"{where}.quantity"),
        price=None if price in (None, "") else parse_positive(price, f"{where}.price"),
        filled_quantity=parse_decimal(data.get("filled_quantity", "0"), f"{where}.filled_quantity"),
        average_price=None if average in (None, "") else parse_positive(average, f"{where}.average_price"),
        status="filled" if status == "closed" else status,
        aliases={parse_identifier(k, "alias"): parse_identifier(str(v), "alias") for k, v in aliases.items()},
        created_at=None if created in (None, "") else parse_timestamp(created, f"{where}.created_at"),
    )


def _fill_row(data: Any, where: str) -> VenueFill:
    if not isinstance(data, dict):
        raise InvalidInputError(f"{where} must be an object")
    side = data.get("side")
    fee = data.get("fee")
    try:
        parsed_side = None if side is None else Side(str(side).lower())
    except ValueError as error:
        raise InvalidInputError(f"{where}: {error}") from None
    voi, coid = data.get("venue_order_id"), data.get("client_order_id")
    if not voi and not coid:
        raise InvalidInputError(f"{where}: a fill needs venue_order_id or client_order_id")
    return VenueFill(
        trade_id=parse_identifier(_require(data, "trade_id", where), f"{where}.trade_id"),
        venue_order_id=None if not voi else parse_identifier(voi, f"{where}.venue_order_id"),
        client_order_id=None if not coid else parse_identifier(coid, f"{where}.client_order_id"),
        instrument=data.get("instrument"),
        side=parsed_side,
        quantity=parse_positive(_require(data, "quantity", where), f"{where}.quantity"),
        price=parse_positive(_require(data, "price", where), f"{where}.price"),
        fee=None if fee in (None, "") else parse_decimal(fee, f"{where}.fee"),
        fee_currency=data.get("fee_currency"),
        ts=parse_timestamp(_require(data, "ts", where), f"{where}.ts"),
    )


def parse_snapshot(text: str | bytes) -> Snapshot:
    """Read a snapshot document; one-line errors that name the offending entry."""
    data = decode_json(text)
    if not isinstance(data, dict):
        raise InvalidInputError("a snapshot must be a JSON object")
    known = {"venue", "account", "as_of", "open_orders", "closed_orders", "fills", "positions"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInputError(f"snapshot: unknown field {unknown[0]!r}")
    lists = {}
    for name in ("open_orders", "closed_orders", "fills", "positions"):
        value = data.get(name) or []
        if not isinstance(value, list):
            raise InvalidInputError(f"snapshot: {name} must be a list")
        lists[name] = value
    positions: dict[str, Decimal] = {}
    for i, row in enumerate(lists["positions"]):
        where = f"positions[{i}]"
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where} must be an object")
        positions[parse_identifier(_require(row, "instrument", where), f"{where}.instrument")] = (
            parse_decimal(_require(row, "quantity", where), f"{where}.quantity")
        )
    as_of = parse_timestamp(_require(data, "as_of", "snapshot"), "as_of")
    rows = {
        name: [_order_row(r, f"{name}[{i}]", name == "closed_orders") for i, r in enumerate(lists[name])]
        for name in ("open_orders", "closed_orders")
    }
    for name, listed in rows.items():
        for i, row in enumerate(listed):
            if row.created_at is not None and row.created_at > as_of:
                raise InvalidInputError(
                    f"{name}[{i}].created_at {format_timestamp(row.created_at)} is after the "
                    f"snapshot's as_of {format_timestamp(as_of)}"
                )
    return Snapshot(
        venue=parse_identifier(_require(data, "venue", "snapshot"), "venue"),
        account=parse_identifier(_require(data, "account", "snapshot"), "account"),
        as_of=as_of,
        open_orders=rows["open_orders"],
        closed_orders=rows["closed_orders"],
        fills=[_fill_row(r, f"fills[{i}]") for i, r in enumerate(lists["fills"])],
        positions=positions,
    )


# ---------------------------------------------------------------------- the report


@dataclass
class Difference:
    """One way the venue and the ledger disagree, and the correction if there is one."""

    kind: str
    detail: str
    client_order_id: str | None = None
    venue_order_id: str | None = None
    corrections: list[dict[str, Any]] = field(default_factory=list)
    applied: str | None = None  # the outcome when applied

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "client_order_id": self.client_order_id,
            "venue_order_id": self.venue_order_id,
            "detail": self.detail,
            "corrections": self.corrections,
            "applied": self.applied,
        }


@dataclass(frozen=True)
class ReconcileReport:
    """A reconciliation: the venue and account compared, whether corrections were recorded, and
    every difference found (with what became of its corrections when applied)."""

    venue: str
    account: str
    applied: bool
    differences: tuple[Difference, ...]

    @property
    def unresolved(self) -> list[Difference]:
        """The differences still standing: every one in a dry run; once applied, those without
        a correction or whose correction was rejected."""
        return [
            d
            for d in self.differences
            if not self.applied or not d.corrections or (d.applied or "").startswith(Outcome.REJECTED)
        ]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what ``orderledger reconcile --json`` prints)."""
        return {
            "venue": self.venue,
            "account": self.account,
            "applied": self.applied,
            "differences": [d.as_dict() for d in self.differences],
        }


def reconcile(
    ledger: Any,
    snapshot: Snapshot | str | bytes,
    apply: bool,
    grace: timedelta,
    origin: str,
    known_at: int | None,
) -> ReconcileReport:
    """``OrderLedger.venues.reconcile``: the differences between a snapshot and the ledger, and with
    ``apply`` the corrections recorded."""
    parsed = snapshot if isinstance(snapshot, Snapshot) else parse_snapshot(snapshot)
    ledger.upkeep.catch_up()
    reconciler = Reconciler(ledger, parsed, grace=grace, known_at=known_at)
    found = reconciler.differences()
    if apply:
        reconciler.apply(found, origin=origin)
    return ReconcileReport(parsed.venue, parsed.account, apply, tuple(found))


class Reconciler:
    """Compares one snapshot with the ledger and proposes (or applies) corrections."""

    def __init__(
        self,
        ledger: Any,
        snapshot: Snapshot,
        *,
        grace: timedelta = timedelta(seconds=60),
        known_at: int | None = None,
    ) -> None:
        self.ledger = ledger
        self.snapshot = snapshot
        self.grace = grace
        self.known_at = known_at
        self.stamp = format_timestamp(snapshot.as_of)

    # ------------------------------------------------------------------ finding orders

    def _find(self, row: VenueOrder) -> Order | None:
        """The ledger's order for a venue row: by client order ID, venue order ID, then aliases."""
        processor = self.ledger.processor
        if row.client_order_id:
            order = processor.load_order(row.client_order_id, trust_absent=False)
            if order is not None:
                return order
        keys = [IdentityKey.venue_order(self.snapshot.venue, row.venue_order_id)]
        keys += [IdentityKey.alias(self.snapshot.venue, n, v) for n, v in row.aliases.items()]
        for key in keys:
            owner = processor.lookup_identity(key)
            if owner is not None:
                return processor.load_order(owner, trust_absent=False)
        return None

    def _message(self, kind: str, order_key: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = {"type": kind, **order_key, "ts": fields.pop("ts", self.stamp), "source": SOURCE}
        message.update({k: v for k, v in fields.items() if v is not None})
        return message

    # ------------------------------------------------------------------ comparing

    def differences(self) -> list[Difference]:
        """Everything that disagrees, with the corrective messages for each."""
        snap = self.snapshot
        found: list[Difference] = []
        rows = [*snap.open_orders, *snap.closed_orders]
        fills_by_order: dict[str, list[VenueFill]] = {}
        orphan_fills: list[VenueFill] = []
        row_by_voi = {r.venue_order_id: r for r in rows}
        row_by_coid = {r.client_order_id: r for r in rows if r.client_order_id}
        for fill in snap.fills:
            row = row_by_voi.get(fill.venue_order_id or "") or row_by_coid.get(fill.client_order_id or "")
            if row is None:
                orphan_fills.append(fill)
            else:
                fills_by_order.setdefault(row.venue_order_id, []).append(fill)
        seen_orders: set[str] = set()
        for row in rows:
            order = self._find(row)
            if order is not None:
                seen_orders.add(order.client_order_id)
            found += self._compare(row, order, fills_by_order.get(row.venue_order_id, []))
        booked: dict[str, Decimal] = {}
        for fill in orphan_fills:
            differences = self._orphan_fill(fill)
            for difference in differences:
                if difference.corrections and difference.client_order_id:
                    owner = difference.client_order_id
                    booked[owner] = booked.get(owner, ZERO) + fill.quantity
            found += differences
        found += self._absent(seen_orders, booked)
        found += self._positions()
        return found

    def _compare(self, row: VenueOrder, order: Order | None, fills: list[VenueFill]) -> list[Difference]:
        if order is None:
            client_id = row.client_order_id or external_client_order_id(
                self.snapshot.venue, row.venue_order_id
            )
            out = [self._external(row, client_id)]
            # Real executions waiting for this order are released by its request: booked.
            waiting = waiting_fills(self.ledger, self.snapshot.venue, row.venue_order_id)
            known_trades: set[str] = {m.trade_id for m in waiting}
            filled, notional = booked_of(waiting)
            status = "requested"
        else:
            client_id = order.client_order_id
            known_trades = {t for t, f in order.fills.items() if not f.busted}
            filled, notional = order.filled_quantity, order.notional
            out = self._acknowledgement(row, order)
            status = order.status.value
            if status == "requested" and any(d.kind == "acknowledged" for d in out):
                status = "accepted"  # the acknowledgement recorded above
        key = {"client_order_id": client_id}
        missing = [fill for fill in fills if fill.trade_id not in known_trades]
        for fill in missing:
            out.append(self._missing_fill(row, fill, key, client_id))
            filled += fill.quantity
            notional += fill.quantity * fill.price
        # A total below what the ledger had filled before the snapshot's time is a bust the
        # ledger lacks; below only with fills booked since, it is a snapshot read after later
        # ones, which re-splits the fills they inferred.
        as_of = self.snapshot.as_of
        booked = [] if order is None else [f for f in order.fills.values() if not f.busted]
        since = [f for f in booked if f.ts_event >= as_of]
        by_then = filled - sum((f.qty for f in since), ZERO)
        if row.filled_quantity < by_then:
            out.append(
                Difference(
                    "ledger_fills_exceed_venue",
                    f"the ledger has {format_decimal(by_then)} filled by {self.stamp}, the venue reports "
                    f"{format_decimal(row.filled_quantity)}; not changed (a bust may be missing)",
                    client_id,
                    row.venue_order_id,
                )
            )
        elif row.filled_quantity > filled or since:
            out += self._inferred(row, order, client_id, filled, notional, beyond_only=bool(missing))
        out += self._status(row, key, client_id, status)
        return out

    def _external(self, row: VenueOrder, client_id: str) -> Difference:
        """An order at the venue the ledger does not know: recorded as an external order."""
        snap = self.snapshot
        key = {"client_order_id": client_id}
        # Stamped when the venue created it, when the row says: a time no snapshot read first
        # changes (else the snapshot's own, the first time the ledger hears of the order).
        at = self.stamp if row.created_at is None else format_timestamp(row.created_at)
        created = Difference(
            "external_order",
            f"the venue has order {row.venue_order_id} ({row.side.value} {format_decimal(row.quantity)} "
            f"{row.instrument}) that the ledger does not know; recorded as external order {client_id!r}",
            client_id,
            row.venue_order_id,
        )
        created.corrections.append(
            self._message(
                "request",
                key,
                account=snap.account,
                venue=snap.venue,
                instrument=row.instrument,
                side=row.side.value,
                order_type=row.order_type.value,
                quantity=format_decimal(row.quantity),
                price=None if row.price is None else format_decimal(row.price),
                aliases=row.aliases or None,
                external=True,
                ts=at,
            )
        )
        created.corrections.append(self._message("accepted", key, venue_order_id=row.venue_order_id, ts=at))
        return created

    def _acknowledgement(self, row: VenueOrder, order: Order) -> list[Difference]:
        """The venue's order ID against the ledger's: an acknowledgement the ledger lacks is
        recorded; a different ID is reported, not changed."""
        client_id = order.client_order_id
        if row.venue_order_id in order.venue_order_ids or row.status == "rejected":
            # (a rejected order was never acknowledged: recording an ack would contradict it)
            return []
        if order.venue_order_ids:
            return [
                Difference(
                    "venue_order_id_mismatch",
                    f"the venue reports {row.venue_order_id} for an order the ledger knows as "
                    f"{order.venue_order_id}; not changed",
                    client_id,
                    row.venue_order_id,
                )
            ]
        ack = Difference(
            "acknowledged",
            f"the venue has the order as {row.venue_order_id}; the ledger had no acknowledgement",
            client_id,
            row.venue_order_id,
        )
        key = {"client_order_id": client_id}
        ack.corrections.append(self._message("accepted", key, venue_order_id=row.venue_order_id))
        return [ack]

    def _missing_fill(
        self, row: VenueOrder, fill: VenueFill, key: dict[str, Any], client_id: str
    ) -> Difference:
        """A trade at the venue the ledger does not have: recorded as a fill."""
        missing = Difference(
            "missing_fill",
            f"trade {fill.trade_id}: {format_decimal(fill.quantity)} at {format_decimal(fill.price)} "
            "is at the venue but not in the ledger",
            client_id,
            row.venue_order_id,
        )
        missing.corrections.append(
            self._message(
                "fill",
                key,
                trade_id=fill.trade_id,
                quantity=format_decimal(fill.quantity),
                price=format_decimal(fill.price),
                fee=None if fill.fee is None else format_decimal(fill.fee),
                fee_currency=fill.fee_currency,
                ts=format_timestamp(fill.ts),
            )
        )
        return missing

    def _inferred(
        self,
        row: VenueOrder,
        order: Order | None,
        client_id: str,
        filled: Decimal,
        notional: Decimal,
        *,
        beyond_only: bool,
    ) -> list[Difference]:
        """The fills the venue's total implies, one per total reported (``adapters.tradier.cumulative``):
        the fill of what it adds, and for a snapshot read after later ones the re-split of the
        fills those inferred. With fills just found missing (``beyond_only``), only what the total
        adds beyond ``filled`` at ``notional``."""
        report = Step(row.filled_quantity, row.average_price, self.stamp, row.price)
        venue, venue_order_id = self.snapshot.venue, row.venue_order_id
        if beyond_only:
            found = beyond(filled, notional, report, venue, venue_order_id)
        else:
            found = revised(order, report, venue, venue_order_id)
        total = format_decimal(row.filled_quantity)
        if found.busted or found.corrected:
            detail = (
                f"the venue reports {total} filled at {self.stamp}, earlier than fills inferred from its "
                "later reports: they are re-split to it"
            )
        elif row.filled_quantity <= filled:
            return []  # an earlier report of what the booked fills already say
        else:
            gap = format_decimal(row.filled_quantity - filled)
            detail = f"the venue reports {total} filled and no fill explains {gap} of it"
            if not found.added:
                detail += "; no average price to price it, so nothing is booked"
        difference = Difference("inferred_fill", detail, client_id, row.venue_order_id)
        why = f"re-split by the venue's total {format_decimal(row.filled_quantity)} at {self.stamp}"
        key = {"client_order_id": client_id, "source": SOURCE}
        sent = revision_messages(
            found, key=key, why=why, recorded=lambda: corrections_of(self.ledger, client_id)
        )
        difference.corrections += [json_ready(m) for m in sent]
        return [difference]

    def _status(self, row: VenueOrder, key: dict[str, Any], client_id: str, status: str) -> list[Difference]:
        terminal = CLOSED_STATUSES
        if row.status in ("filled",) or row.status not in terminal or status in terminal:
            if (
                row.status in terminal
                and status in terminal
                and row.status != status
                and row.status != "filled"
            ):
                return [
                    Difference(
                        "status_mismatch",
                        f"the venue says {row.status}, the ledger says {status}; not changed",
                        client_id,
                        row.venue_order_id,
                    )
                ]
            return []
        kind = row.status  # canceled, expired or rejected: the fact's message is named like the status
        difference = Difference(
            "closed_at_venue",
            f"the venue reports the order {row.status}; the ledger has it {status}",
            client_id,
            row.venue_order_id,
        )
        difference.corrections.append(
            self._message(kind, key, reason=f"{row.status} at the venue (reconciliation {self.stamp})")
        )
        return [difference]

    def _orphan_fill(self, fill: VenueFill) -> list[Difference]:
        processor = self.ledger.processor
        owner = None
        if fill.client_order_id and processor.load_order(fill.client_order_id, trust_absent=False):
            owner = fill.client_order_id
        elif fill.venue_order_id:
            owner = processor.lookup_identity(
                IdentityKey.venue_order(self.snapshot.venue, fill.venue_order_id)
            )
        if owner is None:
            return [
                Difference(
                    "unmatched_fill",
                    f"trade {fill.trade_id} belongs to no order in the snapshot or the ledger; not booked",
                    fill.client_order_id,
                    fill.venue_order_id,
                )
            ]
        order = processor.load_order(owner, trust_absent=False)
        if order is None or fill.trade_id in order.fills:
            return []
        missing = Difference(
            "missing_fill",
            f"trade {fill.trade_id}: {format_decimal(fill.quantity)} at {format_decimal(fill.price)} "
            "is at the venue but not in the ledger",
            owner,
            fill.venue_order_id,
        )
        missing.corrections.append(
            self._message(
                "fill",
                {"client_order_id": owner},
                trade_id=fill.trade_id,
                quantity=format_decimal(fill.quantity),
                price=format_decimal(fill.price),
                fee=None if fill.fee is None else format_decimal(fill.fee),
                fee_currency=fill.fee_currency,
                ts=format_timestamp(fill.ts),
            )
        )
        return [missing]

    def _absent(self, seen: set[str], booked: dict[str, Decimal]) -> list[Difference]:
        snap = self.snapshot
        out = []
        for row in list_orders(self.ledger.db, open_only=True, account=snap.account, venue=snap.venue):
            if row["client_order_id"] in seen:
                continue
            created = parse_timestamp(row["created_at"])
            client_id = row["client_order_id"]
            if self.known_at is not None and (first_position(self.ledger.db, client_id) or 0) > self.known_at:
                continue  # the ledger heard of it after the snapshot was read, which cannot show it
            if Decimal(row["filled_quantity"]) + booked.get(client_id, ZERO) >= Decimal(row["quantity"]):
                continue  # the venue's fills explain why it is gone: it filled
            if created > snap.as_of - self.grace:
                out.append(
                    Difference(
                        "absent_within_grace",
                        f"open in the ledger, absent at the venue, but requested at {row['created_at']}, "
                        f"within the {int(self.grace.total_seconds())} s grace window: left open",
                        client_id,
                        row["venue_order_ids"][-1] if row["venue_order_ids"] else None,
                    )
                )
                continue
            difference = Difference(
                "absent_at_venue",
                "open in the ledger but neither open nor closed at the venue: closed as canceled",
                client_id,
                row["venue_order_ids"][-1] if row["venue_order_ids"] else None,
            )
            difference.corrections.append(
                self._message(
                    "canceled",
                    {"client_order_id": client_id},
                    reason=f"absent from the venue's orders at {self.stamp} (reconciliation)",
                )
            )
            out.append(difference)
        return out

    def _positions(self) -> list[Difference]:
        snap = self.snapshot
        if not snap.positions:
            return []
        ours = {
            r["instrument"]: Decimal(r["quantity"])
            for r in list_positions(self.ledger.db)
            if r["account"] == snap.account and r["venue"] == snap.venue
        }
        out = []
        for instrument in sorted(set(snap.positions) | set(ours)):
            venue_qty = snap.positions.get(instrument)
            if venue_qty is None:
                continue  # the venue did not report this instrument
            ledger_qty = ours.get(instrument, ZERO)
            if venue_qty != ledger_qty:
                out.append(
                    Difference(
                        "position_mismatch",
                        f"{instrument}: the venue holds {format_decimal(venue_qty)}, "
                        f"the ledger {format_decimal(ledger_qty)} (before corrections)",
                    )
                )
        return out

    # ------------------------------------------------------------------ applying

    def apply(
        self,
        differences: list[Difference],
        origin: str,
        on_batch: Callable[[list[Result]], None] | None = None,
    ) -> None:
        """Record every correction through the normal ingest path (journaled, deduplicated).

        ``on_batch`` is called with each group commit's results once it is durable."""
        items = []
        owners = []
        for difference in differences:
            for message in difference.corrections:
                raw = json.dumps(message, separators=(",", ":")).encode()
                items.append(
                    Inbound(
                        raw=raw, origin=origin, line_no=None, format=SOURCE, messages=[parse_message(message)]
                    )
                )
                owners.append(difference)
        if not items:
            return
        outcomes: list[str] = []

        def committed(results: list[Result]) -> None:
            outcomes.extend(_describe(r) for r in results)
            if on_batch is not None:
                on_batch(results)

        self.ledger.ingest_inbound(items, on_batch=committed)
        for difference, outcome in zip(owners, outcomes, strict=True):
            if difference.applied is None or outcome.startswith(Outcome.REJECTED):
                difference.applied = outcome


def _describe(result: Result) -> str:
    return result.outcome if not result.reason else f"{result.outcome}: {result.reason}"
