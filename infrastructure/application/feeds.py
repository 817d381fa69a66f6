"""Stateful venue feeds: inputs whose translation depends on what came before.

``OrderLedger.ingest_lines(..., fmt=...)`` opens one feed per call (:func:`open_feed`) for the
formats that read the ledger (``reads_ledger`` in ``infrastructure.ingest.formats``), so state
lives exactly as long as one ingest. They read the ledger (the orders it holds, a reconciliation
against it), so they belong to the application layer, above ingest:

* ``hyperliquid`` — :class:`~infrastructure.adapters.hyperliquid.HyperliquidAdapter` remembers
  the spot meta and each user's last ``webData2`` open orders.
* ``lighter`` — :class:`~infrastructure.adapters.lighter.LighterAdapter` remembers the market
  map (``order_books``); otherwise translation through the CCXT Lighter rules.
* For both, the spot names and the market map are context (:class:`FeedContext`): learnt from
  the lines read and, when a line needs what the feed lacks, from the journal; a line still
  lacking it is parked until a line bringing it is recorded, then read again
  (``ingest.settlement``).
* Both size a venue-initiated (liquidation, ADL) order by its fills, as the venue states no
  size for it: when a later line brings more fills of an order the ledger holds, an
  ``amended`` raising it to what has then filled precedes them
  (``adapters.common.grow_forced_orders``), so fills of one liquidation on separate lines
  all book.
* ``tradier`` — Tradier reports fills only as cumulative ``exec_quantity``/``avg_fill_price``.
  Each poll's orders become their request/ack/ending messages plus what the poll's totals
  change in the order's *inferred* fills, one per total (``application.cumulative``): the
  fill of a new total, and for a poll read after later ones the corrections that re-split
  the fills those booked. A poll that reports nothing new adds nothing, and a real execution
  recorded later replaces the inferred quantity.
* ``snapshots`` — consecutive open-orders snapshots in the reconcile snapshot format (one
  document per line; docs/reconciliation.md). Each is reconciled against the ledger as the
  previous lines left it (``reconcile.Reconciler``: new orders, acknowledgements, fills the
  venue reports, orders the venue closed, and inferred fills one per total, as Tradier's, so
  snapshots read in any order give the same fills). Closing by absence is decided by the
  stream's snapshots as a set ordered by venue time (:class:`Listings`, read from the journal
  at an ingest's first snapshot of the stream): an order is closed at the second snapshot that
  lacks it after its last listing, so one gap in the stream (a snapshot missed or cut short)
  never closes an order, and a snapshot read later that contradicts a closure withdraws it
  (``reinstated``) and closes the order where the set says.

All four read the ledger, so each of their lines is committed before the next is read
(:attr:`Feed.commit_each`); they cannot be used with ``strict``. A second ingest of the same
input finds everything booked and records nothing new.
"""

from __future__ import annotations

import contextlib
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.identity import IdentityKey
from orderledger.domain.instrument import instrument_id_for
from orderledger.domain.order import external_client_order_id
from orderledger.domain.values import Status, format_decimal, format_timestamp, parse_timestamp
from orderledger.infrastructure.adapters.ccxt import VENUE_RULES, rules_for
from orderledger.infrastructure.adapters.common import (
    CONTEXT,
    FACT_ORDER,
    AdapterError,
    BookedOrder,
    MissingContext,
    grow_forced_orders,
    in_applying_order,
)
from orderledger.infrastructure.adapters.hyperliquid import SPOT_META_NOTE, HyperliquidAdapter
from orderledger.infrastructure.adapters.lighter import MARKETS_NOTE, LighterAdapter
from orderledger.infrastructure.adapters.tradier import (
    Cumulative,
    cumulative_fills,
    instrument_messages,
    order_messages,
    orders_of,
)
from orderledger.infrastructure.application.cumulative import (
    Step,
    corrections_of,
    revised,
    revision_messages,
)
from orderledger.infrastructure.application.queries import list_orders
from orderledger.infrastructure.application.reconcile import (
    SOURCE,
    Difference,
    Reconciler,
    Snapshot,
    parse_snapshot,
)
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.ingest.settlement import context_lines, journal_end
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import (
    InstrumentMessage,
    Message,
    parse_message,
)
from orderledger.infrastructure.storage.journal import lines_after

SNAPSHOT_GRACE = timedelta(seconds=60)


class Feed(Protocol):
    """Translates one input line to ledger messages, with state kept across lines."""

    commit_each: bool
    """True when a line's translation reads the ledger: each line is committed before the next."""

    context_note: str | None
    """How the journal reason of a line that only teaches the feed names (a market map, spot
    names) ends; a parked line read again to book it (``OrderLedger.settle``) is read after
    the journal's lines of that kind, as the ingest that parked it had read them."""

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        """The messages of one line; ``notes`` gets a line per part deliberately not booked."""
        ...


def open_feed(
    ledger: Any, fmt: str, venue: str, account: str, options: Mapping[str, Any] | None = None
) -> Feed:
    """The feed for one ingest of format ``fmt`` with its adapter ``options`` (what it needs,
    and the options it takes, were checked against the format registry,
    ``formats.check_options``)."""
    opened = FEEDS.get(fmt)
    if opened is None:
        raise ConfigurationError(f"unknown feed format {fmt!r}")
    return opened(ledger, venue, account, **(options or {}))


class FeedContext:
    """What a feed learns from its context lines (Lighter's market map, Hyperliquid's spot
    names): from the lines it reads, and from the journal's, which an earlier ingest or another
    process recorded. The journal is read only when a line needs what the feed does not know,
    and then only its lines recorded since the last look (``settlement.context_lines``), so an
    ingest whose lines all name what it knows never reads it.

    ``learned`` holds the context keys (venue, ``context:<kind>``, value) the feed learnt since
    the ingest last took them (``take``): after the line that taught them is committed, the
    lines parked waiting under them are read again (``recording``)."""

    def __init__(
        self,
        ledger: Any,
        fmt: str,
        venue: str,
        note: str,
        adapter: Callable[[Any], object],
        learned: list[tuple[str, str]],
    ) -> None:
        self.ledger = ledger
        self.fmt = fmt
        self.venue = venue
        self.note = note
        self._read = adapter  # reads one context line into the adapter
        self._learned = learned  # the adapter's (kind, value) list it appends to
        self.seen = 0  # the journal read up to this message ID

    def messages(self, translate: Callable[[], list[Message]], notes: list[str]) -> list[Message]:
        """``translate()``'s messages; a line that needs context the feed lacks is tried again
        once the journal's newer context lines are read (still lacking: ``MissingContext``)."""
        kept = len(notes)
        try:
            return translate()
        except MissingContext:
            if not self.catch_up():
                raise
        del notes[kept:]
        return translate()

    def catch_up(self) -> bool:
        """Read the journal's context lines recorded since the last look; whether there were any."""
        with self.ledger.db.read() as tx:
            end = journal_end(tx)
            lines = context_lines(tx, self.fmt, end + 1, self.note, after=self.seen)
        self.seen = end
        for line in lines:
            with contextlib.suppress(LedgerError, ValueError):
                self._read(decode_json(line))
        return bool(lines)

    def take(self) -> list[IdentityKey]:
        """The context keys learnt since last asked."""
        found = [IdentityKey(self.venue, CONTEXT + kind, value) for kind, value in self._learned]
        self._learned.clear()
        return found


class HyperliquidFeed:
    """Hyperliquid payloads, one per line; a liquidation order grows with its later fills."""

    commit_each = True
    context_note: str | None = SPOT_META_NOTE

    def __init__(self, ledger: Any, venue: str, account: str, address: str | None = None) -> None:
        self.ledger = ledger
        try:
            self.adapter = HyperliquidAdapter(venue=venue, account=account, address=address)
        except AdapterError as error:
            raise ConfigurationError(f"format hyperliquid: {error}") from None
        spot = self.adapter.spot
        self.context = FeedContext(ledger, "hyperliquid", venue, SPOT_META_NOTE, spot.load, spot.learned)
        self._known: set[tuple[str, str]] = set()  # instruments the ledger defines (never undefined)

    def _defined(self, venue: str, instrument: str) -> bool:
        if (venue, instrument) not in self._known:
            recorder = self.ledger.processor.recorder
            aggregate = instrument_id_for(venue, instrument)
            if not recorder.select_events(aggregate, desc=True, limit=1, client_order_id=""):
                return False
            self._known.add((venue, instrument))
        return True

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        payload = decode_json(raw)
        found = self.context.messages(lambda: self.adapter.messages(payload, notes), notes)
        found = undefined_only(found, self._defined)
        return grow_forced_orders(found, lambda venue, oid: booked_order(self.ledger, venue, oid))


class LighterFeed:
    """Lighter payloads, one per line (remembers the market map); a liquidation or deleverage
    order grows with its later fills."""

    commit_each = True
    context_note: str | None = MARKETS_NOTE

    def __init__(self, ledger: Any, venue: str, account: str) -> None:
        self.ledger = ledger
        self.adapter = LighterAdapter(venue=venue, account=account)
        self.context = FeedContext(
            ledger,
            "lighter",
            venue,
            MARKETS_NOTE,
            lambda line: self.adapter.messages(line, []),
            self.adapter.learned,
        )

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        payload = decode_json(raw)
        found = self.context.messages(lambda: self.adapter.messages(payload, notes), notes)
        return grow_forced_orders(found, lambda venue, oid: booked_order(self.ledger, venue, oid))


def undefined_only(messages: list[Message], defined: Callable[[str, str], bool]) -> list[Message]:
    """The messages without the definitions of instruments the ledger defines already
    (``defined(venue, instrument)``): an adapter's definition (a perpetual's settle currency)
    states what the venue's payloads imply, and never replaces one a user recorded
    (``instruments load``), which may say more."""
    return [m for m in messages if type(m) is not InstrumentMessage or not defined(m.venue, m.instrument)]


def booked_order(ledger: Any, venue: str, venue_order_id: str) -> BookedOrder | None:
    """What the ledger holds of the external order ``ext-<venue>-<venue order ID>``."""
    order = ledger.processor.load_order(external_client_order_id(venue, venue_order_id), trust_absent=False)
    if order is None:
        return None
    trades = frozenset(f.trade_id for f in order.fills.values() if not f.busted)
    return BookedOrder(order.quantity, order.filled_quantity, trades)


class TradierFeed:
    """Tradier orders replies, one per line, with fills inferred from cumulative quantities."""

    commit_each = True
    context_note: str | None = None

    def __init__(self, ledger: Any, venue: str, account: str) -> None:
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
        (``application.cumulative``)."""
        processor = self.ledger.processor
        owner = processor.lookup_identity(IdentityKey.venue_order(self.venue, total.venue_order_id))
        order = None if owner is None else processor.load_order(owner, trust_absent=False)
        report = Step(total.exec_quantity, total.avg_fill_price, total.ts, total.price)
        found = revised(order, report, self.venue, total.venue_order_id)
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


class SnapshotFeed:
    """Open-orders snapshots of a stream, each reconciled against the ledger; an order is closed
    by its absence from the stream's snapshots as a set, whatever order they are read in
    (:class:`Listings`)."""

    commit_each = True
    context_note: str | None = None

    def __init__(self, ledger: Any, grace: timedelta = SNAPSHOT_GRACE) -> None:
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


def _lighter_feed(ledger: Any, venue: str, account: str) -> Feed:
    if rules_for(venue) is not VENUE_RULES["lighter"]:
        raise ConfigurationError("format lighter needs `venue` lighter (or lighter-<name>)")
    return LighterFeed(ledger, venue, account)


FEEDS: dict[str, Callable[..., Feed]] = {
    "hyperliquid": HyperliquidFeed,
    "lighter": _lighter_feed,
    "tradier": TradierFeed,
    "snapshots": lambda ledger, venue, account: SnapshotFeed(ledger),
}
"""Each format that reads the ledger (``reads_ledger`` in ``formats.FORMATS``) and how one
ingest opens its feed (ledger, venue, account, then the format's options by name)."""


__all__ = [
    "FEEDS",
    "Feed",
    "FeedContext",
    "HyperliquidFeed",
    "LighterFeed",
    "SnapshotFeed",
    "TradierFeed",
    "open_feed",
]
