"""The ``snapshots`` format's feed: consecutive open-orders snapshots, each reconciled.

One document per line in the reconcile snapshot format (docs/reconciliation.md). Each is
reconciled against the ledger as the previous lines left it (``reconcile.Reconciler``: new
orders, acknowledgements, fills the venue reports, orders the venue closed, and inferred fills
one per total, as Tradier's, so snapshots read in any order give the same fills); closing by
absence is decided by the stream's snapshots as a set ordered by venue time (:class:`Listings`,
read from the journal at an ingest's first snapshot of the stream): an order is closed at the
second snapshot that lacks it after its last listing, so one gap in the stream (a snapshot
missed or cut short) never closes an order, and a snapshot read later that contradicts a
closure withdraws it (``reinstated``) and closes the order where the set says.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.identity import IdentityKey
from orderledger.domain.values import Status, format_timestamp, parse_timestamp
from orderledger.infrastructure.adapters.declared import NoOptions
from orderledger.infrastructure.application.queries import list_orders
from orderledger.infrastructure.application.reconcile import (
    SOURCE,
    Difference,
    Reconciler,
    Snapshot,
    parse_snapshot,
)
from orderledger.infrastructure.messages.models import Message, parse_message
from orderledger.infrastructure.storage.journal import lines_after

SNAPSHOT_GRACE = timedelta(seconds=60)


class SnapshotFeed:
    """Open-orders snapshots of a stream, each reconciled against the ledger; an order is closed
    by its absence from the stream's snapshots as a set, whatever order they are read in
    (:class:`Listings`)."""

    commit_each = True
    context_note: str | None = None

    def __init__(
        self,
        ledger: Any,
        venue: str = "",
        account: str = "",
        options: NoOptions | None = None,
        *,
        grace: timedelta = SNAPSHOT_GRACE,
    ) -> None:
        self.ledger = ledger
        self.grace = grace
        self._journal = _JOURNALED.setdefault(ledger, Journaled())
        self._caught_up = False

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        snapshot = parse_snapshot(raw)
        if not self._caught_up:  # this ingest's first snapshot: what others recorded since
            self._journal.catch_up(self.ledger)
            self._caught_up = True
        listings = self._journal.streams.setdefault((snapshot.venue, snapshot.account), Listings())
        listings.add(snapshot)
        found = Reconciler(self.ledger, snapshot, grace=self.grace).differences()
        withdrawals: list[dict[str, Any]] = []
        closings: list[dict[str, Any]] = []
        for order in self._judged(snapshot, listings, found):
            before, after = listings.judge(order, self.grace)
            withdrawals += before
            closings += after
        out = [parse_message(m) for m in withdrawals]
        closed = {m["client_order_id"] for m in closings}
        for difference in found:
            if difference.kind == "absent_at_venue":  # judged by the stream's snapshots instead
                if difference.client_order_id not in closed:
                    notes.append(
                        f"{difference.client_order_id}: absent from this snapshot; closed once two "
                        "consecutive snapshots of the stream lack it"
                    )
                continue
            if not difference.corrections:
                notes.append(f"{difference.kind}: {difference.detail}")
            out += [parse_message(correction) for correction in difference.corrections]
        out += [parse_message(m) for m in closings]
        if not found and not withdrawals and not closings:
            notes.append(f"snapshot at {snapshot.as_of.isoformat()}: the ledger agrees")
        return out

    def _judged(self, snapshot: Snapshot, listings: Listings, found: list[Difference]) -> list[Known]:
        """The orders whose closure by absence this snapshot may decide, move or withdraw: those
        open in the ledger, those it creates or lists, and those closed by absence after its
        time (a snapshot read after later ones)."""
        venue, account = snapshot.venue, snapshot.account
        judged: dict[str, Known] = {}
        for shown in list_orders(self.ledger.db, open_only=True, account=account, venue=venue):
            judged[shown["client_order_id"]] = Known(
                shown["client_order_id"],
                tuple(shown["venue_order_ids"]),
                parse_timestamp(shown["created_at"]),
                None,
            )
        rows = {r.venue_order_id: r for r in [*snapshot.open_orders, *snapshot.closed_orders]}
        for difference in found:  # orders this snapshot creates: not in the ledger yet
            row = rows.get(difference.venue_order_id or "")
            if difference.kind == "external_order" and difference.client_order_id and row is not None:
                created = snapshot.as_of if row.created_at is None else row.created_at
                judged[difference.client_order_id] = Known(
                    difference.client_order_id, (row.venue_order_id,), created, None
                )
        names = {name for known in judged.values() for name in known.names}
        processor = self.ledger.processor
        owners = [
            processor.lookup_identity(IdentityKey.venue_order(venue, n)) for n in rows if n not in names
        ]
        if snapshot.as_of < listings.times[-1]:  # read after later snapshots: closures after it may move
            owners += self._closed_after(snapshot)
        for owner in dict.fromkeys(owners):
            if owner is not None and owner not in judged:
                known = self._closed_by_absence(owner)
                if known is not None:
                    judged[owner] = known
        return list(judged.values())

    def _closed_after(self, snapshot: Snapshot) -> list[str]:
        """The orders of the snapshot's stream that reconciliation closed after its time."""
        with self.ledger.db.read() as tx:
            rows = tx.all(
                "SELECT DISTINCT client_order_id FROM events WHERE event_type = 'OrderCanceled'"
                " AND ts_event > ? AND source = ? AND venue = ? AND account = ?",
                (format_timestamp(snapshot.as_of), SOURCE, snapshot.venue, snapshot.account),
            )
        return [str(row[0]) for row in rows]

    def _closed_by_absence(self, client_order_id: str) -> Known | None:
        """The order if the stream closed it by absence."""
        order = self.ledger.processor.load_order(client_order_id, trust_absent=False)
        if order is None or order.status is not Status.CANCELED:
            return None
        at = absence_time(order.reason)
        if at is None:
            return None
        return Known(order.client_order_id, tuple(order.venue_order_ids), order.created_at, at)


@dataclass(frozen=True)
class Known:
    """An order whose closure by absence a snapshot judges: its client order ID, venue order
    IDs, creation time (venue time) and the time of the closure by absence it has, if any."""

    client_order_id: str
    names: tuple[str, ...]
    created_at: datetime
    closed_at: datetime | None


@dataclass
class Listings:
    """What a stream's snapshots say of its orders, as a set ordered by venue time (``as_of``):
    every snapshot's time, the latest time each venue order ID was listed open, and the earliest
    closed row of each. Read from the journal, so every ingest, process and restart sees the
    same set.

    The rule (:meth:`closure`): an order is closed by absence at the second of the snapshots
    after its last listing (or its creation) that lack it past the grace window, which are
    consecutive in venue time since every snapshot after the last listing lacks it. A set of
    snapshots gives one closure time whatever order they are read in: a snapshot read later
    that lists the order after it, or that falls between, moves or withdraws it
    (:meth:`judge`)."""

    times: list[datetime] = field(default_factory=list)
    listed: dict[str, datetime] = field(default_factory=dict)
    closed: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def add(self, snapshot: Snapshot) -> None:
        """Count a snapshot in."""
        at = snapshot.as_of
        place = bisect_left(self.times, at)
        if place == len(self.times) or self.times[place] != at:
            self.times.insert(place, at)
        for row in snapshot.open_orders:
            if self.listed.get(row.venue_order_id, at) <= at:
                self.listed[row.venue_order_id] = at
        for row in snapshot.closed_orders:
            seen = self.closed.get(row.venue_order_id)
            if seen is None or at < seen[0]:
                self.closed[row.venue_order_id] = (at, row.status)

    def closure(self, names: tuple[str, ...], created: datetime, grace: timedelta) -> datetime | None:
        """When the snapshots close the order by absence (None: they do not)."""
        if any(name in self.closed for name in names):
            return None  # the venue says how it ended
        start = bisect_left(self.times, created + grace)  # the first snapshot past the grace window
        last = max((self.listed[name] for name in names if name in self.listed), default=None)
        if last is not None:
            start = max(start, bisect_right(self.times, last))
        return self.times[start + 1] if start + 1 < len(self.times) else None

    def judge(self, order: Known, grace: timedelta) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """What the order's closure by absence becomes: the withdrawals to record before the
        snapshot's corrections, and the closures after them."""
        closure = self.closure(order.names, order.created_at, grace)
        if closure == order.closed_at:
            return [], []
        key = {"client_order_id": order.client_order_id, "source": SOURCE}
        withdrawals: list[dict[str, Any]] = []
        closings: list[dict[str, Any]] = []
        if order.closed_at is not None:
            stamp = format_timestamp(order.closed_at)
            withdrawals.append(
                {
                    "type": "reinstated",
                    **key,
                    "ts": stamp,
                    "canceled_at": stamp,
                    "reason": f"closure by absence at {stamp} withdrawn: {self._why(order, closure)}",
                }
            )
            ended = self._ended(order.names)
            if ended is not None and ended[1] != "filled":  # filled: the fills end it
                at, status = format_timestamp(ended[0]), ended[1]
                closings.append(
                    {
                        "type": status,
                        **key,
                        "ts": at,
                        "reason": f"{status} at the venue (reconciliation {at})",
                    }
                )
        if closure is not None:
            closings.append(
                {
                    "type": "canceled",
                    **key,
                    "ts": format_timestamp(closure),
                    "reason": absence_reason(closure),
                }
            )
        return withdrawals, closings

    def _ended(self, names: tuple[str, ...]) -> tuple[datetime, str] | None:
        """The earliest closed row of the order (its time and status), if a snapshot has one."""
        return min((self.closed[name] for name in names if name in self.closed), default=None)

    def _why(self, order: Known, closure: datetime | None) -> str:
        ended = self._ended(order.names)
        if ended is not None:
            return f"the venue reports it {ended[1]} at {format_timestamp(ended[0])} (reconciliation)"
        if closure is not None:
            return f"the stream's snapshots close it at {format_timestamp(closure)} (reconciliation)"
        last = max(self.listed[name] for name in order.names if name in self.listed)
        return f"the venue lists it open at {format_timestamp(last)} (reconciliation)"


@dataclass
class Journaled:
    """A ledger's snapshot streams as the journal holds them (every ingest's, every process's),
    read up to message ``seen``: kept for the ledger's life, so each ingest reads only the
    snapshot lines recorded since the last one looked."""

    seen: int = 0
    streams: dict[tuple[str, str], Listings] = field(default_factory=dict)

    def catch_up(self, ledger: Any) -> None:
        """Count in the snapshot lines recorded since the last look."""
        with ledger.db.read() as tx:
            for message_id, line in lines_after(tx, "snapshots", self.seen):
                self.seen = message_id
                try:
                    snapshot = parse_snapshot(line)
                except InvalidInputError:
                    continue
                self.streams.setdefault((snapshot.venue, snapshot.account), Listings()).add(snapshot)


_JOURNALED: weakref.WeakKeyDictionary[Any, Journaled] = weakref.WeakKeyDictionary()
"""Each open ledger's :class:`Journaled`."""


_ABSENCE = "absent from two consecutive snapshots of the venue's open orders, the second at "


def absence_reason(at: datetime) -> str:
    """The reason of a closure by absence from a stream of snapshots, at ``at``."""
    return f"{_ABSENCE}{format_timestamp(at)} (reconciliation)"


def absence_time(reason: str | None) -> datetime | None:
    """When a closure by absence from a stream of snapshots closed the order (None: its
    ``reason`` is not one)."""
    if reason is None or not reason.startswith(_ABSENCE):
        return None
    return parse_timestamp(reason[len(_ABSENCE) :].split(" ", 1)[0])


__all__ = ["SNAPSHOT_GRACE", "SnapshotFeed"]
