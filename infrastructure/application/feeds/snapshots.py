"""The ``snapshots`` format's feed: consecutive open-orders snapshots, each reconciled.

One document per line in the reconcile snapshot format (docs/reconciliation.md). Each is
reconciled against the ledger as the previous lines left it (``reconcile.Reconciler``: new
orders, acknowledgements, fills the venue reports, orders the venue closed, and inferred fills
one per total, as Tradier's, so snapshots read in any order give the same fills); closing by
absence is decided by the stream's snapshots as a set ordered by venue time (:class:`Listings`:
the journal's snapshot lines as ``storage.snapshot_index`` indexes them, caught up before each
snapshot is judged, and the one being read): an order is closed at the
second snapshot that lacks it after its last listing, so one gap in the stream (a snapshot
missed or cut short) never closes an order, and a snapshot read later that contradicts a
closure withdraws it (``reinstated``) and closes the order where the set says.

The set is the same whatever else arrives when: an order the ledger learns of from another
input (a request, an acknowledgement naming its venue order ID) after the snapshots that lack
or list it is judged by them after the commit that names it (:func:`judge_named`, the format's
``judges``); and a snapshot whose judgement another writer's commit overtook (an order recorded
between this line's judgement and its commit) has its stream judged again once committed
(:meth:`SnapshotFeed.after_commit`).
"""

from __future__ import annotations

import functools
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import NAMING, OrderEvent, OrderRequested
from orderledger.domain.identity import IdentityKey
from orderledger.domain.values import Status, format_timestamp, parse_timestamp
from orderledger.infrastructure.adapters.declared import NoOptions
from orderledger.infrastructure.application.reads.view_queries import list_orders
from orderledger.infrastructure.application.upkeep.reconcile import (
    SOURCE,
    Difference,
    Reconciler,
    Snapshot,
    parse_snapshot,
)
from orderledger.infrastructure.messages.models import Message, parse_message
from orderledger.infrastructure.storage import snapshot_index
from orderledger.infrastructure.storage.journal import journal_end, lines_after

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
        self._judged: tuple[Snapshot, int] | None = None

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        snapshot = parse_snapshot(raw)
        # Every snapshot committed so far, by any process, counts: indexed first.
        head = self._journal.catch_up(self.ledger)
        self._judged = (snapshot, head)
        recent = self._journal.add(snapshot)
        found = Reconciler(self.ledger, snapshot, grace=self.grace).differences()
        with self.ledger.db.read() as tx:
            listings = Listings(tx, snapshot.venue, snapshot.account, recent)
            judged = self._judged_orders(snapshot, listings, found)
            withdrawals, closings = _verdicts(listings, judged, self.grace)
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

    def after_commit(self) -> list[dict[str, Any]]:
        """What the stream's snapshots decide once the line just read is committed: nothing when
        no other writer committed between its judgement and its commit; else the stream's orders
        judged again with that line counted (another writer's order, recorded meanwhile, was
        judged without it)."""
        judged, self._judged = self._judged, None
        if judged is None:
            return []
        snapshot, head = judged
        if self._journal.catch_up(self.ledger) <= head + 1:  # the line itself, nothing else
            return []
        with self.ledger.db.read() as tx:
            listings = Listings(tx, snapshot.venue, snapshot.account, Recent())
            withdrawals, closings = _verdicts(
                listings, self._judged_orders(snapshot, listings, []), self.grace
            )
            return withdrawals + closings

    def _judged_orders(self, snapshot: Snapshot, listings: Listings, found: list[Difference]) -> list[Known]:
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
        latest = listings.latest()
        if latest is not None and snapshot.as_of < latest:  # read after later snapshots: closures may move
            owners += self._closed_after(snapshot)
        for owner in dict.fromkeys(owners):
            if owner is not None and owner not in judged:
                closed = closed_by_absence(self.ledger, owner)
                if closed is not None:
                    judged[owner] = closed
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


def known(ledger: Any, client_order_id: str) -> Known | None:
    """The order as closing by absence judges it: open, or closed by a stream's absence (with
    when); None for an order ended otherwise, or unknown."""
    order = ledger.processor.load_order(client_order_id, trust_absent=False)
    if order is None:
        return None
    names = tuple(order.venue_order_ids)
    if order.status.is_open:
        return Known(order.client_order_id, names, order.created_at, None)
    at = absence_time(order.reason) if order.status is Status.CANCELED else None
    return None if at is None else Known(order.client_order_id, names, order.created_at, at)


def closed_by_absence(ledger: Any, client_order_id: str) -> Known | None:
    """The order if a stream closed it by absence."""
    found = known(ledger, client_order_id)
    return None if found is None or found.closed_at is None else found


def _verdicts(
    listings: Listings, orders: list[Known], grace: timedelta
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The withdrawals and the closures that the stream's snapshots decide of ``orders`` (the
    withdrawals are recorded first)."""
    withdrawals: list[dict[str, Any]] = []
    closings: list[dict[str, Any]] = []
    for order in orders:
        before, after = listings.judge(order, grace)
        withdrawals += before
        closings += after
    return withdrawals, closings


def judge_named(ledger: Any, committed: Sequence[tuple[int, OrderEvent]]) -> list[dict[str, Any]]:
    """(``InputFormat.judges``) What the snapshot streams decide of the orders a commit named
    (new orders, new venue order IDs), whatever input named them: an order learnt after the
    snapshots that lack it is closed by them as if it had been known when they were read, and
    one whose venue order ID they list is reopened. Orders named by reconciliation are judged
    by the snapshot that names them."""
    if not committed:
        return []
    journal = _JOURNALED.setdefault(ledger, Journaled())
    # (Asked only of a ledger that has read a snapshot stream: ``InputFormat.judged_table``.)
    named: dict[tuple[str, str], dict[str, None]] = {}
    for _, event in committed:
        kind = type(event)
        if (kind is OrderRequested or kind in NAMING) and event.source != SOURCE:
            named.setdefault((event.venue, event.account), {})[event.client_order_id] = None
    if not named:
        return []
    journal.catch_up(ledger)
    verdicts: list[dict[str, Any]] = []
    with ledger.db.read() as tx:
        for (venue, account), orders in named.items():
            listings = Listings(tx, venue, account, Recent())
            if listings.latest() is None:
                continue  # no stream of this venue and account
            judged = [k for k in map(functools.partial(known, ledger), orders) if k is not None]
            withdrawals, closings = _verdicts(listings, judged, SNAPSHOT_GRACE)
            verdicts += withdrawals + closings
    return verdicts


@dataclass(frozen=True)
class Known:
    """An order whose closure by absence a snapshot judges: its client order ID, venue order
    IDs, creation time (venue time) and the time of the closure by absence it has, if any."""

    client_order_id: str
    names: tuple[str, ...]
    created_at: datetime
    closed_at: datetime | None


@dataclass
class Recent:
    """The snapshots of one stream this process read since the journal was last indexed
    (``storage.snapshot_index``): their times, the latest time each venue order ID was listed
    open, and the earliest closed row of each. Emptied at each catch-up, which comes before
    each snapshot is judged (the ones before are in the journal by then, every line being
    committed before the next is read), so it holds the snapshot being read."""

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


@dataclass
class Listings:
    """What a stream's snapshots say of its orders, as a set ordered by venue time (``as_of``):
    the journal's, indexed (``storage.snapshot_index``), and those read since (:class:`Recent`),
    so every ingest, process and restart sees the same set, and none holds it in memory.

    The rule (:meth:`closure`): an order is closed by absence at the second of the snapshots
    after its last listing (or its creation) that lack it past the grace window, which are
    consecutive in venue time since every snapshot after the last listing lacks it. So only the
    first two snapshot times after that point count, and a set of snapshots gives one closure
    time whatever order they are read in: a snapshot read later that lists the order after it,
    or that falls between, moves or withdraws it (:meth:`judge`)."""

    tx: Any
    venue: str
    account: str
    recent: Recent

    def latest(self) -> datetime | None:
        """The time of the stream's latest snapshot."""
        indexed = snapshot_index.latest(self.tx, self.venue, self.account)
        return max((t for t in (indexed, *self.recent.times[-1:]) if t is not None), default=None)

    def rows(self, names: tuple[str, ...]) -> tuple[dict[str, datetime], dict[str, tuple[datetime, str]]]:
        """When each of ``names`` was last listed open, and its earliest closed row."""
        listed, closed = snapshot_index.rows_of(self.tx, self.venue, self.account, names)
        for name in names:
            if name in self.recent.listed:
                listed[name] = max(listed.get(name, self.recent.listed[name]), self.recent.listed[name])
            if name in self.recent.closed:
                closed[name] = min(closed.get(name, self.recent.closed[name]), self.recent.closed[name])
        return listed, closed

    def closure(
        self,
        listed: dict[str, datetime],
        closed: dict[str, tuple[datetime, str]],
        created: datetime,
        grace: timedelta,
    ) -> datetime | None:
        """When the snapshots close the order whose venue order IDs' listings and closed rows
        are ``listed`` and ``closed`` by absence (None: they do not)."""
        if closed:
            return None  # the venue says how it ended
        since = created + grace  # the first snapshot past the grace window, after the last listing
        last = max(listed.values(), default=None)
        recent = self.recent.times[bisect_left(self.recent.times, since) :]
        if last is not None:
            recent = recent[bisect_right(recent, last) :]
        indexed = snapshot_index.first_two(self.tx, self.venue, self.account, since, last)
        after = sorted({*indexed, *recent[:2]})
        return after[1] if len(after) > 1 else None

    def judge(self, order: Known, grace: timedelta) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """What the order's closure by absence becomes: the withdrawals to record before the
        snapshot's corrections, and the closures after them."""
        listed, closed = self.rows(order.names)
        closure = self.closure(listed, closed, order.created_at, grace)
        if closure == order.closed_at:
            return [], []
        key = {"client_order_id": order.client_order_id, "source": SOURCE}
        withdrawals: list[dict[str, Any]] = []
        closings: list[dict[str, Any]] = []
        ended = min(closed.values(), default=None)  # the earliest closed row: its time and status
        if order.closed_at is not None:
            stamp = format_timestamp(order.closed_at)
            withdrawals.append(
                {
                    "type": "reinstated",
                    **key,
                    "ts": stamp,
                    "canceled_at": stamp,
                    "reason": f"closure by absence at {stamp} withdrawn: {_why(listed, ended, closure)}",
                }
            )
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


def _why(listed: dict[str, datetime], ended: tuple[datetime, str] | None, closure: datetime | None) -> str:
    if ended is not None:
        return f"the venue reports it {ended[1]} at {format_timestamp(ended[0])} (reconciliation)"
    if closure is not None:
        return f"the stream's snapshots close it at {format_timestamp(closure)} (reconciliation)"
    return f"the venue lists it open at {format_timestamp(max(listed.values()))} (reconciliation)"


INDEX_BATCH = 5000
"""How many journal lines one transaction of a catch-up indexes."""


@dataclass
class Journaled:
    """A ledger's snapshot streams: the journal's snapshot lines indexed up to the latest
    (``storage.snapshot_index``: each line parsed once, by whichever process indexes it first),
    and those this process read since (``recent``, by stream)."""

    recent: dict[tuple[str, str], Recent] = field(default_factory=dict)
    indexed: bool = False
    """Whether this process has caught the index up once (its tables exist since)."""

    def catch_up(self, ledger: Any) -> int:
        """Index the snapshot lines recorded since the index was last brought up to date (by
        any process), this process's among them, which it then no longer keeps; returns the
        journal's last message ID at the time."""
        more = True
        while more:  # a transaction per so many lines: an index built from a long journal
            with ledger.db.write() as tx:  # holds no more of it at once
                snapshot_index.create(tx)
                head = journal_end(tx)
                lines = list(islice(lines_after(tx, "snapshots", snapshot_index.seen(tx)), INDEX_BATCH))
                more = len(lines) == INDEX_BATCH
                listings = [(message_id, _listing(line)) for message_id, line in lines]
                # Every line up to the head is then indexed: the next catch-up starts past it.
                snapshot_index.catch_up(tx, listings, None if more else head)
        self.recent.clear()
        self.indexed = True
        return head

    def add(self, snapshot: Snapshot) -> Recent:
        """Count in a snapshot this process reads; its stream's recent snapshots."""
        recent = self.recent.setdefault((snapshot.venue, snapshot.account), Recent())
        recent.add(snapshot)
        return recent


def _listing(line: bytes) -> snapshot_index.Listing | None:
    """What a journal line says for the index (None: not a snapshot the feed read)."""
    try:
        snapshot = parse_snapshot(line)
    except InvalidInputError:
        return None
    return snapshot_index.Listing(
        snapshot.venue,
        snapshot.account,
        snapshot.as_of,
        tuple(row.venue_order_id for row in snapshot.open_orders),
        tuple((row.venue_order_id, row.status) for row in snapshot.closed_orders),
    )


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


__all__ = ["SNAPSHOT_GRACE", "SnapshotFeed", "judge_named"]
