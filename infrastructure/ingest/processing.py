"""Turning inbound messages into events: resolve the order, decide, journal, commit.

A batch of messages is decided in memory, in arrival order, against the orders' current
state, then written by one group commit (journal rows, events, identities, parked
bookkeeping). A rejected message only adds its journal row: it never rolls back or blocks
the messages around it. If another writer changed the same orders meanwhile, the commit
fails on a unique key, the batch's orders are reloaded and the batch is decided again.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from orderledger.domain.errors import IdentityConflictError, LedgerError
from orderledger.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderEvent,
    OrderFilled,
    OrderRequested,
    OrderSpec,
)
from orderledger.domain.identity import IdentityKey, identity_keys
from orderledger.domain.order import (
    FACTS,
    Decision,
    Order,
    Stamp,
    in_venue_time,
    order_id_for,
    replay,
    stated_facts,
    venue_rank,
)
from orderledger.domain.outcomes import SIGNIFICANCE, Outcome
from orderledger.domain.values import escape_unsafe, format_timestamp
from orderledger.infrastructure.errors import ConcurrencyError, StaleBatchError
from orderledger.infrastructure.ingest.definitions import book_instrument
from orderledger.infrastructure.ingest.order_facts import (
    FACT_EVENTS,
    NAMES_VENUE_ORDER,
    ORDER_FACTS,
    request_spec,
)
from orderledger.infrastructure.ingest.position_facts import book_cash_flow, book_mark
from orderledger.infrastructure.messages.models import (
    CashFlowMessage,
    FillBustedMessage,
    FillCorrectedMessage,
    FillMessage,
    InstrumentMessage,
    MarkMessage,
    Message,
    RequestMessage,
    message_from_line,
    message_to_json,
)
from orderledger.infrastructure.storage.db import is_integrity_error, select_by_keys
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import Commit, JournalEntry, LedgerRecorder

MAX_ATTEMPTS = 8
LOCKED_AFTER = 2
"""Stale attempts after which a batch is decided while holding the log lock."""
_IDENTITY_COLUMNS = ("venue", "kind", "value", "client_order_id")
CLIENT_ORDER_ID_ALIAS = "client_order_id"
"""The alias under which an external order keeps the client order ID of a request that named it."""
_NOTHING_STATED = (None,) * len(FACTS)
"""What a message that states none of an order's facts gives for them (``stated_facts``)."""
Handled = tuple[Outcome, str | None, list[OrderEvent]]
"""What applying one message gave: its outcome, the reason, the events it decided."""


@dataclass
class Inbound:
    """One raw input with the message(s) read from it, or why none could be read."""

    raw: bytes
    origin: str
    line_no: int | None
    format: str
    messages: list[Message] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # parts of the input its adapter did not book, and why


@dataclass
class Result:
    """What became of one inbound input."""

    line_no: int | None
    outcome: Outcome
    reason: str | None = None
    client_order_id: str | None = None
    events: list[OrderEvent] = field(default_factory=list)
    message_id: int | None = None
    error: LedgerError | None = field(default=None, compare=False, repr=False)  # why, when rejected


class OrderCache:
    """A bounded LRU of orders at their last committed version."""

    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._orders: OrderedDict[str, Order] = OrderedDict()

    def get(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is not None:
            self._orders.move_to_end(client_order_id)
        return order

    def put(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        self._orders.move_to_end(order.client_order_id)
        while len(self._orders) > self.maxsize:
            self._orders.popitem(last=False)

    def forget(self, client_order_ids: Iterable[str]) -> None:
        for key in client_order_ids:
            self._orders.pop(key, None)

    def clear(self) -> None:
        self._orders.clear()


class IdentityCache:
    """A bounded LRU of venue identities → client order ID (what the `identities` table holds)."""

    def __init__(self, maxsize: int = 200_000) -> None:
        self.maxsize = maxsize
        self._owners: OrderedDict[IdentityKey, str] = OrderedDict()

    def get(self, key: IdentityKey) -> str | None:
        owner = self._owners.get(key)
        if owner is not None:
            self._owners.move_to_end(key)
        return owner

    def __contains__(self, key: object) -> bool:
        return key in self._owners

    def __setitem__(self, key: IdentityKey, owner: str) -> None:
        self._owners[key] = owner
        self._owners.move_to_end(key)
        while len(self._owners) > self.maxsize:
            self._owners.popitem(last=False)

    def forget(self, keys: Iterable[IdentityKey]) -> None:
        for key in keys:
            self._owners.pop(key, None)


YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation collections while ingesting (Python's default: 700)."""
_collections_lock = threading.Lock()
_ingesting = 0
_saved_thresholds: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect the young generation less often while ingesting, then restore the thresholds.

    A batch allocates many short-lived objects (messages, events, rows) while the ledger's caches
    keep many long-lived ones, so the default threshold (700) has the collector walk survivors
    over and over: about 30 µs per message, measured. The threshold is process-wide, so it is
    raised only while some thread is ingesting, never lowered, and put back as it was.
    """
    global _ingesting, _saved_thresholds
    with _collections_lock:
        if _ingesting == 0:
            current = gc.get_threshold()
            if current[0] and current[0] < YOUNG_THRESHOLD:  # 0: the user disabled collection
                _saved_thresholds = current
                gc.set_threshold(YOUNG_THRESHOLD, *current[1:])
        _ingesting += 1
    try:
        yield
    finally:
        with _collections_lock:
            _ingesting -= 1
            if _ingesting == 0 and _saved_thresholds is not None:
                gc.set_threshold(*_saved_thresholds)
                _saved_thresholds = None


class Processor:
    """Decides and commits batches of inbound messages for one ledger."""

    def __init__(
        self,
        recorder: LedgerRecorder,
        mapper: LedgerMapper,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.clock = clock
        self.orders = OrderCache()
        self.identities = IdentityCache()
        # Identities known not to exist when the current batch was prefetched.
        self.no_identity: set[IdentityKey] = set()
        # Called inside each commit with the committed (notification ID, event) pairs and the
        # batch's orders as they stand after them (client order ID → order).
        self.inline: Callable[[Any, list[tuple[int, OrderEvent]], dict[str, Order]], None] | None = None
        # Orders known not to exist when the current batch was prefetched (cleared per batch).
        self.absent: set[str] = set()
        self._work: _Batch | None = None  # the current attempt's decisions
        self._parked_keys: set[IdentityKey] | None = None  # see parked_keys
        self.refused: dict[tuple[int, int], LedgerError] = {}

    # ------------------------------------------------------------------ public

    def process(
        self, items: Sequence[Inbound], *, strict: bool = False
    ) -> tuple[list[Result], list[tuple[int, OrderEvent]]]:
        """Decide and commit one batch; returns per-input results and the committed events.

        With ``strict``, nothing is committed if any input is rejected.
        """
        items = list(items)
        attempts = 0
        # Messages refused after they had begun to record (an implied acknowledgement, say, before
        # the fill that overfills): the batch is decided again with them refused from the start,
        # so a refused message leaves nothing behind. Keyed by (input, message) within the batch.
        self.refused = {}
        while attempts < MAX_ATTEMPTS:
            # Optimistic first: decide without the log lock, check at commit. A batch that keeps
            # losing to other writers (a large batch against small ones on the same orders) is
            # then decided while holding the lock, which cannot go stale: no starvation.
            locked = attempts >= LOCKED_AFTER
            guard = self.recorder.locked() if locked else contextlib.nullcontext()
            self._work = None
            try:
                with guard:
                    outcome = self._attempt(items, strict)
                    if not isinstance(outcome, tuple):
                        raise _Again(outcome)  # leaves the guard's transaction, if any, undone
            except _Again as again:
                attempts += again.why == "stale"
                continue
            except BaseException:
                if locked and self._work is not None:
                    # The outer commit failed after the attempt had cached its orders as stored.
                    self.orders.forget(self._work.touched | set(self._work.consulted))
                    self._forget_identities(self._work)
                raise
            return outcome
        raise ConcurrencyError(
            f"gave up after {MAX_ATTEMPTS} attempts: other writers kept changing the same orders"
        )

    def _attempt(
        self, items: list[Inbound], strict: bool
    ) -> tuple[list[Result], list[tuple[int, OrderEvent]]] | str:
        """Decide and commit once: the results, or "stale" (another writer moved an order the
        batch read: decide again)."""
        # One query loads every order the batch names; the rest are known not to exist yet.
        self.absent = self.prefetch(
            m.client_order_id for item in items for m in item.messages if m.client_order_id is not None
        )
        self.no_identity = self.prefetch_identities(items)
        work = self._work = _Batch(self)
        try:
            results = []
            for index, item in enumerate(items):
                work.item = index
                results.append(work.handle(item))
            self.absent = set()
            if strict and any(r.outcome is Outcome.REJECTED for r in results):
                self.orders.forget(work.touched)
                self._forget_identities(work)
                return results, []
            work.commit.consulted = dict(work.consulted)
            ids = self.recorder.commit(work.commit, self._inline_hook(work.events, work.orders))
        except Exception as error:
            self.absent = set()
            self.no_identity = set()
            self.orders.forget(work.touched)
            if isinstance(error, _Again):
                self._forget_identities(work)  # a message refused part-way: decide again
                raise
            if isinstance(error, StaleBatchError) or is_integrity_error(error):
                self._forget_identities(work)
                self._parked_keys = None  # another writer may have parked meanwhile: read again
                self.orders.forget(work.consulted)  # another writer moved them: reload
                return "stale"
            raise
        if self._parked_keys is not None:
            self._parked_keys.update(
                k for e in work.commit.journal for keys, _ in e.parked.values() for k in keys
            )
        for order in work.orders.values():
            order.collect_events()
            self._remember(order)
        for result, entry in zip(results, work.entries, strict=True):
            # A message parked and then resolved inside this batch reports its final outcome.
            result.message_id = entry.message_id
            result.outcome, result.reason = entry.outcome, entry.reason
        return results, list(zip(ids, work.events, strict=True))

    def load_order(self, client_order_id: str, *, trust_absent: bool = True) -> Order | None:
        """The current order from the cache or the log."""
        order = self.orders.get(client_order_id)
        if order is not None:
            return order
        if trust_absent and client_order_id in self.absent:
            return None
        stored = self.recorder.select_events(order_id_for(client_order_id), client_order_id=client_order_id)
        if not stored:
            return None
        order = replay(self.mapper.to_domain_event(s) for s in stored)
        if order is not None:
            self._remember(order)
        return order

    def _remember(self, order: Order) -> None:
        self.orders.put(order)
        for key in identity_keys(order):
            self.identities[key] = order.client_order_id

    def prefetch(self, client_order_ids: Iterable[str]) -> set[str]:
        """Load many orders in one query; returns the IDs that do not exist."""
        wanted = {c for c in client_order_ids if self.orders.get(c) is None}
        if not wanted:
            return set()
        by_id = {order_id_for(c): c for c in wanted}
        found = self.recorder.select_events_many(by_id)
        for stored in found.values():
            order = replay(self.mapper.to_domain_event(s) for s in stored)
            if order is not None:
                self._remember(order)
        missing = {c for oid, c in by_id.items() if oid not in found}
        return missing

    def _forget_identities(self, work: _Batch) -> None:
        """Identities a batch registered but did not store."""
        self.identities.forget(work.new_identities)

    def _inline_hook(
        self, events: list[OrderEvent], orders: dict[str, Order]
    ) -> Callable[[Any, list[int]], None] | None:
        inline = self.inline
        if inline is None:
            return None
        return lambda tx, ids: inline(tx, list(zip(ids, events, strict=True)), orders)

    def prefetch_identities(self, items: Sequence[Inbound]) -> set[IdentityKey]:
        """Load the venue identities a batch names in one query; returns those that do not exist."""
        wanted: set[IdentityKey] = set()
        # Orders requested in this very batch: their later messages often name no venue.
        requested = {
            m.client_order_id: m.venue
            for item in items
            for m in item.messages
            if type(m) is RequestMessage and m.client_order_id is not None
        }
        for item in items:
            for m in item.messages:
                venue = m.venue
                if venue is None and m.client_order_id is not None:
                    order = self.orders.get(m.client_order_id)
                    venue = requested.get(m.client_order_id) if order is None else order.venue
                if venue is None:
                    continue
                if m.venue_order_id:
                    wanted.add(IdentityKey.venue_order(venue, m.venue_order_id))
                if m.aliases:
                    wanted.update(IdentityKey.alias(venue, n, v) for n, v in m.aliases.items())
                cid = m.client_order_id
                if cid is not None and m.venue and cid in self.absent and cid not in requested:
                    # An order unknown by this ID may know it as an alias (_resolve).
                    wanted.add(IdentityKey.alias(venue, CLIENT_ORDER_ID_ALIAS, cid))
        # O(batch): only this batch's keys are looked at, never every identity seen so far.
        wanted = {key for key in wanted if key not in self.identities}
        if not wanted:
            return set()
        keys = sorted(wanted)
        with self.recorder.db.read() as tx:
            for start in range(0, len(keys), 300):
                chunk = keys[start : start + 300]
                for venue, kind, value, owner in tx.all(
                    *select_by_keys("identities", _IDENTITY_COLUMNS, _IDENTITY_COLUMNS[:3], chunk, tx.dialect)
                ):
                    self.identities[IdentityKey(venue, kind, value)] = owner
        return {key for key in wanted if key not in self.identities}

    def lookup_identity(self, key: IdentityKey) -> str | None:
        """The client order ID a venue identity points to, if recorded."""
        found = self.identities.get(key)
        if found is not None:
            return found
        if key in self.no_identity:
            return None
        with self.recorder.db.read() as tx:
            row = tx.one(
                "SELECT client_order_id FROM identities WHERE venue = ? AND kind = ? AND value = ?",
                key,
            )
        if row is None:
            return None
        self.identities[key] = row[0]
        return str(row[0])

    def parked_keys(self) -> set[IdentityKey]:
        """The keys stored parked messages wait on, as far as this processor knows: read once,
        then kept by its own commits. A key another writer parks on later is caught when this
        one commits what resolves it (the batch is then stale: this is read again)."""
        if self._parked_keys is None:
            with self.recorder.db.read() as tx:
                rows = tx.all("SELECT DISTINCT venue, kind, value FROM parked")
            self._parked_keys = {IdentityKey(*row) for row in rows}
        return self._parked_keys

    def parked_for(self, keys: Sequence[IdentityKey]) -> list[tuple[int, int, bytes, bytes, str]]:
        """Parked messages waiting for any of these identities, in arrival order:
        (message ID, part, raw input, message, format)."""
        known = self.parked_keys()
        keys = [key for key in keys if key in known]
        if not keys:
            return []
        clauses = " OR ".join("(p.venue = ? AND p.kind = ? AND p.value = ?)" for _ in keys)
        params = [part for key in keys for part in key]
        with self.recorder.db.read() as tx:
            rows = tx.all(
                "SELECT DISTINCT p.message_id, p.part, m.raw, p.message, m.format FROM parked p"
                f" JOIN messages m ON m.message_id = p.message_id WHERE {clauses}"
                " ORDER BY p.message_id, p.part",
                params,
            )
        if not rows:
            known.difference_update(keys)  # settled meanwhile (by a person, or another writer)
        return [(r[0], r[1], bytes(r[2]), bytes(r[3]), r[4]) for r in rows]


TRADE = "trade:"
"""The prefix of the kind of key a bust or correction waits on: ``trade:<kind of the order's key>``."""


def trade_key(key: IdentityKey, trade_id: str) -> IdentityKey:
    """What a bust or correction of ``trade_id`` waits on, for the order named by ``key``: the
    fill of that trade, booked on that order."""
    return IdentityKey(key.venue, TRADE + key.kind, f"{key.value}\x1f{trade_id}")


def _waiting_reason(keys: Sequence[IdentityKey]) -> str:
    said = []
    for _, kind, value in keys:
        if kind.startswith(TRADE):
            name, trade = value.split("\x1f", 1)
            said.append(f"trade {trade!r} of {kind.removeprefix(TRADE)} {name!r}")
        else:
            said.append(f"{kind} {value!r}")
    if keys and keys[0].kind.startswith(TRADE):
        return f"no fill known for {' or '.join(said)} yet"
    return f"no order known for {' or '.join(said)} yet"


@dataclass(frozen=True, eq=False)
class _Waiting:
    """A message this batch parked: its input's entry, its part there, the message, and the
    input's place in the batch."""

    entry: JournalEntry
    part: int
    message: Message
    item: int


def _trade_named(message: Message) -> str | None:
    """The trade a bust or correction names: these wait for its fill as other facts wait for
    the order (None for any other fact)."""
    if isinstance(message, FillBustedMessage | FillCorrectedMessage):
        return message.trade_id
    return None


_NAMING = frozenset({OrderAccepted, OrderAmended})
"""The events after the request that can give an order a new venue identity."""


class _Batch:
    """The in-memory state of one batch while it is being decided."""

    def __init__(self, processor: Processor) -> None:
        self.p = processor
        self.orders: dict[str, Order] = {}
        self.consulted: dict[str, int] = {}  # client order ID → version the decisions read
        self.touched: set[str] = set()
        self.commit = Commit()
        self.entries: list[JournalEntry] = []
        self.events: list[OrderEvent] = []
        self.new_identities: dict[IdentityKey, str] = {}
        # Messages parked by this batch, indexed by each key they wait for (a release is a
        # look-up, never a scan): (their input's entry, part, message, input's place in the batch).
        self.waiting: dict[IdentityKey, list[_Waiting]] = {}
        # The same, by what they wait for and their body: a re-sent line is parked once.
        self.parked_bodies: dict[tuple[frozenset[IdentityKey], bytes], list[_Waiting]] = {}
        # Per input (by its entry's id): each message's outcome, and its adapter's notes.
        self.parts: dict[int, tuple[dict[int, tuple[Outcome, str | None]], list[str]]] = {}
        # Lines parked by earlier batches that this one settles (some or all of their parts).
        self.resolving: dict[int, JournalEntry] = {}
        self.now = format_timestamp(processor.clock())
        self._encode = processor.mapper.to_stored_event

    # ------------------------------------------------------------------ per input

    def handle(self, item: Inbound) -> Result:
        # received_at, origin, line_no, format, raw, outcome (positional: made for every input)
        entry = JournalEntry(self.now, item.origin, item.line_no, item.format, item.raw, Outcome.IGNORED)
        self.entries.append(entry)
        self.commit.journal.append(entry)
        result = Result(item.line_no, Outcome.IGNORED)
        if item.error is not None:
            entry.outcome, entry.reason = Outcome.REJECTED, item.error
            result.outcome, result.reason = Outcome.REJECTED, item.error
            return result
        if not item.messages:
            entry.reason = result.reason = _notes_text(item.notes) or "the input holds no order fact"
            return result
        if len(item.messages) == 1 and not item.notes:
            # The everyday input, one message: what the loop and _settle below come to for it.
            # Its part is registered only if it parks (only _unpark and _settle read it then).
            self._refused = None
            outcome, reason, events = self.apply(item.messages[0], entry)
            if outcome is Outcome.REJECTED:
                result.error = self._refused
            result.events = events
            if entry.parked:
                self.parts[id(entry)] = ({0: (outcome, reason)}, item.notes)
                self._settle(entry)
            else:
                entry.outcome, entry.reason = outcome, reason
            entry.client_order_id = result.client_order_id = self._last_client_id
            result.outcome, result.reason = entry.outcome, entry.reason
            return result
        outcomes: dict[int, tuple[Outcome, str | None]] = {}
        self.parts[id(entry)] = (outcomes, item.notes)
        owner = None  # the order of the last message that recorded something
        for position, message in enumerate(item.messages):
            # Each message has its own fate: one refused leaves the others to be decided.
            self._refused = None
            outcome, reason, events = self.apply(message, entry, position)
            if outcome is Outcome.REJECTED and result.error is None:
                result.error = self._refused
            if events:
                owner = self._last_client_id
            # A message parked and then released by a later one of the same input is settled.
            outcomes.setdefault(position, (outcome, reason))
            result.events.extend(events)
        self._settle(entry)
        entry.client_order_id = result.client_order_id = owner or self._last_client_id
        result.outcome, result.reason = entry.outcome, entry.reason
        return result

    def _settle(self, entry: JournalEntry) -> None:
        """An input's outcome from its messages': parked while any of them still waits."""
        outcomes, notes = self.parts[id(entry)]
        if entry.parked:
            first = min(entry.parked)
            outcome, reason = Outcome.PARKED, outcomes[first][1]
            if len(entry.parked) > 1:
                reason = f"{reason} (and {len(entry.parked) - 1} more of this input's messages)"
        else:
            outcome, reason = _combine(list(outcomes.values()))
        if len({o for o, _ in outcomes.values()}) > 1:
            reason = _each_part(outcomes)  # parts that differ: each one's outcome is stated
        if notes:
            reason = "; ".join([*([reason] if reason else []), _notes_text(notes)])
        entry.outcome, entry.reason = outcome, reason

    _last_client_id: str | None = None
    item = 0  # the position in its batch of the input being decided

    def apply(self, message: Message, entry: JournalEntry, part: int = 0) -> Handled:
        """Apply one message (the ``part``-th of its input); returns (outcome, reason, events)."""
        self._last_client_id = message.client_order_id
        key = (self.item, part)
        refused = self.p.refused.get(key)
        if refused is not None:
            self._refused = refused
            return Outcome.REJECTED, refused.message, []
        recorded = len(self.events)
        try:
            return _HANDLERS.get(type(message), _Batch._order_fact)(self, message, entry, part)
        except StaleBatchError:
            raise  # not this message's fault: the whole batch is decided again
        except LedgerError as error:
            if len(self.events) > recorded:
                # Refused after it had recorded something: undone by deciding the batch again.
                self.p.refused[key] = error
                raise _Again("refused") from None
            self._refused = error
            return Outcome.REJECTED, error.message, []

    def _order_fact(self, message: Message, entry: JournalEntry, part: int) -> Handled:
        """A fact about an existing order: applied to it, or parked until it is known."""
        order, keys = self._resolve(message)
        if order is not None and (waits := self._trade_wait(order, message)):
            order, keys = None, waits
        elif order is None and (trade := _trade_named(message)) is not None:
            # Waiting for the trade is waiting for its order too: a fill is booked on an order.
            keys = [trade_key(key, trade) for key in keys]
        if order is None:
            already = self._park(message, entry, part, keys)
            if already is not None:
                return Outcome.DUPLICATE, already, []
            return Outcome.PARKED, _waiting_reason(keys), []
        self._last_client_id = order.client_order_id
        return self._fact(order, message, entry)

    def _instrument(self, message: InstrumentMessage, entry: JournalEntry, part: int) -> Handled:
        return book_instrument(self, message, entry)

    _refused: LedgerError | None = None

    # ------------------------------------------------------------------ requests

    def _request(self, message: RequestMessage, entry: JournalEntry, part: int = 0) -> Handled:
        spec = request_spec(message)
        existing = self._order(spec.client_order_id)
        if existing is None and (spec.aliases or spec.external):
            existing, spec = self._named_by_identity(spec)
        if existing is not None:
            self._last_client_id = existing.client_order_id
            result = self._outcome(existing, existing.request_again(spec, self._stamp(message)), entry)
            asked = message.client_order_id
            if message.external or asked is None or asked == existing.client_order_id:
                return result
            # Our request for an order the venue reported first: the order keeps the request's
            # client order ID as an alias, and what waits for that ID is released.
            alias = {CLIENT_ORDER_ID_ALIAS: asked}
            added = self._outcome(existing, existing.add_aliases(self._stamp(message), alias), entry)
            keys = self._register(existing, identity_keys(existing))
            own: list[IdentityKey] = [IdentityKey.client_order(asked)]
            self.commit.resolvable.extend([*own, *keys])
            events = result[2] + added[2] + self._unpark(existing, [*own, *keys])
            return (Outcome.APPLIED, None, events) if events else result
        new_keys = [IdentityKey.alias(spec.venue, n, v) for n, v in spec.aliases.items()]
        if spec.venue_order_id:
            new_keys.append(IdentityKey.venue_order(spec.venue, spec.venue_order_id))
        self._check_identities(spec.client_order_id, new_keys)
        order, outcome = Order.request(spec, self._stamp(message))
        self.orders[order.client_order_id] = order
        result = self._outcome(order, outcome, entry)
        new_keys = self._register(order, new_keys)
        own_key = IdentityKey.client_order(order.client_order_id)
        self.commit.resolvable.extend([own_key, *new_keys])
        unparked = self._unpark(order, [own_key, *new_keys])
        return result[0], result[1], result[2] + unparked

    def _named_by_identity(self, spec: OrderSpec) -> tuple[Order | None, OrderSpec]:
        """The order a request names by a venue identity instead of its client order ID, and the
        request restated for it; None and ``spec`` unchanged when there is none.

        A venue's report (``external``) of an order whose venue order ID or client index an
        order holds is that order again (ours, or one booked from an earlier report). Our own
        request whose client index the venue reported first, booked as an external order, is
        that external order: it takes the request's client order ID as an alias
        (``client_order_id``), never a second order. An index held by another of our orders
        is left to the identity check (a collision of two client order IDs on one index)."""
        keys = [IdentityKey.alias(spec.venue, n, v) for n, v in spec.aliases.items()]
        if spec.external and spec.venue_order_id:
            keys.insert(0, IdentityKey.venue_order(spec.venue, spec.venue_order_id))
        for key in keys:
            owner = self._owner(key)
            if owner is None:
                continue
            if not spec.external and not owner.external:
                return None, spec
            update = {"client_order_id": owner.client_order_id, "external": owner.external}
            return owner, spec.model_copy(update=update)
        return None, spec

    # ------------------------------------------------------------------ other facts

    def _fact(self, order: Order, message: Message, entry: JournalEntry) -> Handled:
        # A fill whose bust or correction waits for it is judged with them: its quantity is
        # checked once they are applied (a fill, then its bust, never overfills in venue time).
        amended = type(message) is FillMessage and self._awaited(order, message.trade_id)  # type: ignore[attr-defined]
        if message.ts < order.updated_at and not self._booked_trade(order, message):
            # Later facts of this order are known already: decided at its place in venue time.
            status, reason, events = self._decide_in_place(order, message, entry, amended)
        else:
            status, reason, events = self._decide(order, message, entry, amended)
        trades = [e.trade_id for e in events if type(e) is OrderFilled]
        if not _NAMING.isdisjoint(map(type, events)):
            # Only these add identities: any other fact leaves nothing new to register or release.
            keys = self._register(order, identity_keys(order))
            self.commit.resolvable.extend(keys)
            # What waits for a trade under a name the order has only now: its fills so far.
            keys += [trade_key(key, t) for key in keys for t in order.fills if t not in trades]
            events += self._unpark(order, keys)
        if trades:
            # A bust or correction waiting for a trade this fact booked, by any of the order's names.
            names = [IdentityKey.client_order(order.client_order_id), *identity_keys(order)]
            waits = [trade_key(key, t) for t in trades for key in names]
            self.commit.resolvable.extend(waits)
            events += self._unpark(order, waits)
        if amended:
            order.check_quantity(message.trade_id)  # type: ignore[attr-defined]
        if events and status is not Outcome.APPLIED:
            status, reason = Outcome.APPLIED, None
        return status, reason, events

    def _awaited(self, order: Order, trade_id: str) -> bool:
        """Whether a bust or correction waits for this trade of the order (by any of its names)."""
        names = [IdentityKey.client_order(order.client_order_id), *identity_keys(order)]
        keys = [trade_key(key, trade_id) for key in names]
        if any(key in self.waiting for key in keys):
            return True
        return bool(self.p.parked_for(keys))

    @staticmethod
    def _booked_trade(order: Order, message: Message) -> bool:
        """A fill of a trade the order has (a copy: its conflicts and fees are judged against
        the trade as booked), or a bust or correction of one booked later than it."""
        trade_id = getattr(message, "trade_id", None)
        return trade_id is not None and trade_id in order.fills and type(message) is FillMessage

    def _decide_in_place(self, order: Order, message: Message, entry: JournalEntry, amended: bool) -> Handled:
        """Decide a fact that arrived after later facts of its order: against the order as its
        facts up to this one's place in venue time leave it, recorded there, then the order
        restated where the venue-time fold of all its facts differs from the arrival order's."""
        pending = order.pending_events
        if pending and type(pending[0]) is OrderRequested:
            history = pending  # created in this batch: none of its events is stored yet
        else:
            stored = self.p.recorder.select_events(order.id, client_order_id=order.client_order_id)
            history = [*map(self.p.mapper.to_domain_event, stored), *pending]
        before = in_venue_time(history, until=(message.ts, venue_rank(FACT_EVENTS[type(message)])))
        before.version = order.version
        before.seen |= order.seen  # a copy of a fact recorded later is still a copy
        status, reason, events = self._decide(before, message, entry, amended)
        if not events:
            return status, reason, events
        for event in events:
            order.apply(event)
        order.adopt(events)
        trade = getattr(message, "trade_id", "")
        restated = order.restate([*history, *events], self._stamp(message), trade, overfill=amended)
        events = events + self._outcome(order, restated, entry)[2]
        return (
            Outcome.APPLIED,
            "arrived after later facts of its order: applied at its place in venue time",
            events,
        )

    def _decide(self, order: Order, message: Message, entry: JournalEntry, amended: bool = False) -> Handled:
        """What the fact decides on ``order`` (its events recorded in the batch)."""
        stated = stated_facts(message)
        if stated != _NOTHING_STATED:
            # A report of the order that states what it is: it must be this order as it is.
            order.check_stated(*stated)
        stamp = self._stamp(message)
        voi = message.venue_order_id
        events: list[OrderEvent] = []
        if voi is not None and voi not in order.venue_order_ids and type(message) not in NAMES_VENUE_ORDER:
            if order.venue_order_ids and not message.aliases:
                raise IdentityConflictError(
                    f"order {order.client_order_id!r} is venue order {order.venue_order_id!r}, not {voi!r}",
                    client_order_id=order.client_order_id,
                )
            self._check_identities(order.client_order_id, [IdentityKey.venue_order(order.venue, voi)])
            if order.venue_order_ids:
                # Found by its alias (a FIX ClOrdID) under a venue order ID it never had: the venue
                # renamed the order unasked; the new ID is recorded beside the old, with an anomaly.
                decided = order.reidentify(stamp, voi)
            else:
                # The venue told us its order ID on this message: an implied acknowledgement.
                decided = order.accept(stamp, voi)
            events += self._outcome(order, decided, entry)[2]
        more = {"overfill": True} if amended else {}
        outcome = ORDER_FACTS[type(message)](self._check_identities, order, message, stamp, **more)
        status, reason, new = self._outcome(order, outcome, entry)
        return status, reason, events + new

    # ------------------------------------------------------------------ helpers

    def _stamp(self, message: Message) -> Stamp:
        return Stamp(message.ts, self.p.clock(), message.source)  # ts_event, ts_recorded, source

    def _order(self, client_order_id: str, *, trust_absent: bool = True) -> Order | None:
        order = self.orders.get(client_order_id)
        if order is None:
            order = self.p.load_order(client_order_id, trust_absent=trust_absent)
            if order is not None:
                self.orders[client_order_id] = order
                # Decisions read this version; the commit checks nobody has appended since.
                self.consulted[client_order_id] = order.version
        return order

    def _outcome(self, order: Order, outcome: Decision, entry: JournalEntry) -> Handled:
        kind, decided, reason = outcome
        events = list(decided)
        if events:
            self.touched.add(order.client_order_id)
            entry.event_count += len(events)  # the events that will point at this message
            self.events += events
            commit = self.commit
            commit.events += map(self._encode, events)
            commit.event_entries += [entry] * len(events)
        return kind, reason or None, events

    def _resolve(self, message: Message) -> tuple[Order | None, list[IdentityKey]]:
        """The order a message names, or every identity it could be released by."""
        if message.client_order_id:
            order = self._order(message.client_order_id)
            if order is None and message.venue:
                # A request recorded after the venue had reported its order made the request's
                # client order ID an alias of that (external) order.
                order = self._owner(
                    IdentityKey.alias(message.venue, CLIENT_ORDER_ID_ALIAS, message.client_order_id)
                )
            return order, ([] if order else [IdentityKey.client_order(message.client_order_id)])
        venue = message.venue or ""
        keys: list[IdentityKey] = []
        if message.venue_order_id:
            keys.append(IdentityKey.venue_order(venue, message.venue_order_id))
        keys += [IdentityKey.alias(venue, n, v) for n, v in message.aliases.items()]
        for key in keys:
            order = self._owner(key)
            if order is not None:
                return order, []
        return None, keys

    def _owner(self, key: IdentityKey) -> Order | None:
        """The order a venue identity belongs to, if any."""
        owner = self.new_identities.get(key) or self.p.lookup_identity(key)
        if owner is None:
            return None
        # The identity may have been committed by another writer after this batch's prefetch
        # marked its order absent: look in the log again.
        order = self._order(owner, trust_absent=False)
        if order is None:
            raise StaleBatchError(f"order {owner!r} is named by {key[1]} but not yet readable")
        return order

    def _check_identities(self, client_order_id: str, keys: Sequence[IdentityKey]) -> None:
        for key in keys:
            owner = self.new_identities.get(key) or self.p.lookup_identity(key)
            if owner is not None and owner != client_order_id:
                raise IdentityConflictError(
                    f"{key[1]} {key[2]!r} at venue {key[0]!r} already belongs to order {owner!r}",
                    client_order_id=client_order_id,
                )

    def _register(self, order: Order, keys: Sequence[IdentityKey]) -> list[IdentityKey]:
        """Record identities not yet stored; returns the new ones."""
        new = []
        for key in keys:
            if key in self.new_identities or self.p.identities.get(key) == order.client_order_id:
                continue
            self.new_identities[key] = order.client_order_id
            self.p.identities[key] = order.client_order_id
            self.commit.identities.append((*key, order.client_order_id))
            new.append(key)
        return new

    def _park(self, message: Message, entry: JournalEntry, part: int, keys: list[IdentityKey]) -> str | None:
        """Keep a message until what it waits for is known; a message parked already is not kept
        twice (a venue re-sending the same line for an unknown order): returns why, then."""
        body = message_to_json(message)
        same = (frozenset(keys), body)
        for other in self.parked_bodies.get(same, ()):
            if other.part in other.entry.parked:
                return "the same message is already parked, earlier in this batch"
        venue, kind, value = keys[0]
        if keys[0] in self.p.parked_keys():
            with self.p.recorder.db.read() as tx:
                row = tx.one(
                    "SELECT message_id FROM parked WHERE venue = ? AND kind = ? AND value = ?"
                    " AND message = ? LIMIT 1",
                    (venue, kind, value, body),
                )
            if row is not None:
                return f"the same message is already parked as message {row[0]}"
        entry.parked[part] = (list(keys), body)
        waiting = _Waiting(entry, part, message, self.item)
        self.parked_bodies.setdefault(same, []).append(waiting)
        for key in keys:
            self.waiting.setdefault(key, []).append(waiting)
        return None

    def _unpark(self, order: Order, keys: Sequence[IdentityKey]) -> list[OrderEvent]:
        """Apply the messages that were waiting for these keys (this order, or one of its
        trades), in venue time, whichever batch parked them. Each released message has its own
        fate: its refusal never refuses, rolls back or blames the message that released it."""
        wanted = list(dict.fromkeys(keys))
        here: dict[int, _Waiting] = {}
        for key in wanted:
            for waiting in self.waiting.pop(key, ()):
                if waiting.part in waiting.entry.parked:
                    here.setdefault(id(waiting), waiting)
        released: list[tuple[datetime, int, int, int, _Waiting | tuple[int, int, bytes, str, Message]]] = [
            (w.message.ts, 1, w.item, w.part, w) for w in here.values()
        ]
        stored_lines = self.p.parked_for(wanted)
        settled = (
            {(e.message_id, p) for e in self.commit.resolved for p in e.settles} if stored_lines else set()
        )
        for message_id, part, raw, stored, fmt in stored_lines:
            if (message_id, part) in settled:
                continue
            try:
                message = message_from_line(stored)
            except LedgerError as error:  # a stored line this version reads no more
                self._settle_stored(order, message_id, part, raw, fmt, (Outcome.REJECTED, error.message))
                continue
            released.append((message.ts, 0, message_id, part, (message_id, part, raw, fmt, message)))
        if not released:
            return []
        # Venue time first; then what was parked earlier (stored lines before this batch's).
        released.sort(key=lambda r: r[:4])
        events: list[OrderEvent] = []
        for _, _, _, _, what in released:
            if isinstance(what, _Waiting):
                entry, part, message = what.entry, what.part, what.message
                if part not in entry.parked:
                    continue  # released already, by another of its keys
                del entry.parked[part]  # resolved inside this batch: never written to `parked`
                outcome, reason, new = self._released(order, message, entry, part, (what.item, part))
                self.parts[id(entry)][0][part] = (outcome, reason)
                self._settle(entry)
                entry.client_order_id = order.client_order_id
            else:
                message_id, part, raw, fmt, message = what
                found = self._stored_entry(order, message_id, raw, fmt)
                outcome, reason, new = self._released(order, message, found, None, (-message_id, part))
                self._settle_stored(order, message_id, part, raw, fmt, (outcome, reason))
            events += new
        return events

    def _released(
        self,
        order: Order,
        message: Message,
        entry: JournalEntry,
        part: int | None,
        key: tuple[int, int],
    ) -> Handled:
        """Apply one released message on its own (``part``: its place in an input of this
        batch, to park it again there; None for a line parked by an earlier batch). Refused
        after it had recorded something, the batch is decided again with it refused from the
        start (``key``: the message, for ``Processor.refused``)."""
        refused = self.p.refused.get(key)
        if refused is not None:
            return Outcome.REJECTED, refused.message, []
        waits = self._trade_wait(order, message)
        if waits and part is not None:
            already = self._park(message, entry, part, waits)
            if already is not None:
                return Outcome.DUPLICATE, already, []
            return Outcome.PARKED, _waiting_reason(waits), []
        recorded = len(self.events)
        try:
            return self._fact(order, message, entry)
        except StaleBatchError:
            raise
        except LedgerError as error:
            if len(self.events) > recorded:
                self.p.refused[key] = error
                raise _Again("refused") from None
            return Outcome.REJECTED, error.message, []

    def _stored_entry(self, order: Order, message_id: int, raw: bytes, fmt: str) -> JournalEntry:
        """The journal entry settling a line parked by an earlier batch: one per line, however
        many of its parts this batch settles."""
        found = self.resolving.get(message_id)
        if found is None:
            found = self.resolving[message_id] = JournalEntry(
                received_at=self.now,
                origin="",
                line_no=None,
                format=fmt,
                raw=raw,
                outcome=Outcome.APPLIED,
                message_id=message_id,
                client_order_id=order.client_order_id,
            )
            self.commit.resolved.append(found)
            self.parts[id(found)] = ({}, [])
        return found

    def _settle_stored(
        self,
        order: Order,
        message_id: int,
        part: int,
        raw: bytes,
        fmt: str,
        fate: tuple[Outcome, str | None],
    ) -> None:
        found = self._stored_entry(order, message_id, raw, fmt)
        if part not in found.settles:
            found.settles.append(part)
        self.parts[id(found)][0][part] = fate
        settled = list(self.parts[id(found)][0].values())
        found.outcome, why = _combine(settled)
        found.reason = f"was parked; {why}" if why else "was parked until its order was known"

    def _trade_wait(self, order: Order, message: Message) -> list[IdentityKey]:
        """The keys a bust or correction waits on when its order lacks the trade it names (the
        fill is still to come): none when the trade is there, or for any other fact."""
        trade = _trade_named(message)
        if trade is None or trade in order.fills:
            return []
        return [trade_key(IdentityKey.client_order(order.client_order_id), trade)]


_HANDLERS: dict[type[Message], Callable[[_Batch, Any, JournalEntry, int], Handled]] = {
    RequestMessage: _Batch._request,
    InstrumentMessage: _Batch._instrument,
    CashFlowMessage: lambda batch, message, entry, part: book_cash_flow(batch, message, entry),
    MarkMessage: lambda batch, message, entry, part: book_mark(batch, message, entry),
}
"""Messages that do not name an existing order; every other kind goes to ``_Batch._order_fact``."""


class _Again(Exception):
    """An attempt must be repeated: ``why`` is "stale" (another writer moved an order it read)
    or "refused" (a message was refused after it had recorded something)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


MAX_NOTES = 300
"""Longest an adapter's notes may make a journal reason: a venue's text is never echoed whole."""


def _notes_text(notes: Sequence[str]) -> str:
    """An adapter's notes as one line: control characters shown escaped, the length bounded."""
    text = escape_unsafe("; ".join(notes))
    return text if len(text) <= MAX_NOTES else text[: MAX_NOTES - 1] + "…"


def _each_part(outcomes: dict[int, tuple[Outcome, str | None]]) -> str:
    """Each message's outcome, for an input whose messages fared differently, those without a
    reason first (what was applied is never cut off), messages of one fate together:
    ``messages 1, 2 of 3 applied; message 3 of 3 rejected: <why>``."""
    total = len(outcomes)
    groups: dict[tuple[Outcome, str | None], list[str]] = {}
    for position, fate in sorted(outcomes.items()):
        groups.setdefault(fate, []).append(str(position + 1))
    said = [
        f"message{'s' if len(numbers) > 1 else ''} {', '.join(numbers)} of {total} {outcome}"
        + (f": {reason}" if reason else "")
        for (outcome, reason), numbers in sorted(
            groups.items(), key=lambda group: (group[0][1] is not None, SIGNIFICANCE.index(group[0][0]))
        )
    ]
    return _notes_text(said)


def _combine(outcomes: list[tuple[Outcome, str | None]]) -> tuple[Outcome, str | None]:
    """One outcome for an input that carried several messages: the most significant."""
    if len(outcomes) == 1:
        return outcomes[0]  # every outcome is in SIGNIFICANCE
    for wanted in SIGNIFICANCE:
        for outcome, reason in outcomes:
            if outcome is wanted:
                return outcome, reason
    return Outcome.IGNORED, None


__all__ = ["UUID", "Inbound", "OrderCache", "Processor", "Result", "fewer_collections"]
