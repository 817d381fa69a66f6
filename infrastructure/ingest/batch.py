"""One batch's decisions: each inbound message of a batch decided in memory, in arrival order,
against its order's state (a fact earlier in venue time than the order's latest at its place in
venue time), parked when what it needs has not arrived, and joined to the batch's commit.

Which decision each kind of message takes is one literal table at the end (``DECISIONS``): a
request is decided by ``Batch.request`` (a new order, or the same order asked again); a fact about
an order (accepted, filled, canceled …) by ``Batch.order_fact``, which finds the order or parks the
fact until it is known, then applies the kind's rule (``order_facts.ORDER_FACTS``); a fact of its
own aggregate (an instrument's definition, a cash flow, a mark, a limit, a trading state) is
booked there, never parked.

``Batch`` is what the writer (``processing.Processor``) makes for each attempt at a batch. It
knows the writer only as ``Writer`` (the caches, the store and the clock it reads): the writer's
module imports this one, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from orderledger.domain.decisions import Decision, Stamp
from orderledger.domain.errors import IdentityConflictError, InvalidInputError, LedgerError
from orderledger.domain.events import (
    NAMING,
    BreachRecorded,
    FillBusted,
    OrderEvent,
    OrderFilled,
    OrderRequested,
    OrderSpec,
)
from orderledger.domain.folds import (
    fold_on,
    fold_until,
    in_venue_time,
    restatement,
    venue_place,
    venue_rank,
)
from orderledger.domain.identity import IdentityKey, identity_keys, trade_key
from orderledger.domain.order import FACTS, Order, stated_facts
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.errors import StaleBatchError
from orderledger.infrastructure.ingest.identities import CLIENT_ORDER_ID_ALIAS, Identities, IdentityLookup
from orderledger.infrastructure.ingest.inbound import Inbound, Result
from orderledger.infrastructure.ingest.input_outcomes import (
    Again,
    Decided,
    bounded,
    combine,
    each_part,
    notes_text,
)
from orderledger.infrastructure.ingest.instrument_facts import book_instrument
from orderledger.infrastructure.ingest.order_facts import (
    FACT_EVENTS,
    NAMES_VENUE_ORDER,
    ORDER_FACTS,
    request_spec,
)
from orderledger.infrastructure.ingest.parking import (
    ParkedLines,
    Parking,
    Waiting,
    trade_keys,
    trade_named,
    waiting_reason,
)
from orderledger.infrastructure.ingest.position_facts import book_cash_flow, book_mark
from orderledger.infrastructure.ingest.risk_facts import book_breach, book_flag, book_limit, book_state
from orderledger.infrastructure.ingest.settlement import (
    BY_LEDGER,
    aside,
    context_part,
    parked_line,
    read_again,
)
from orderledger.infrastructure.messages.models import (
    CashFlowMessage,
    FillMessage,
    InstrumentMessage,
    LimitClearedMessage,
    LimitSetMessage,
    MarkMessage,
    Message,
    ReinstatedMessage,
    RequestMessage,
    TradingStateMessage,
)
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import Commit, JournalEntry


class Writer(ParkedLines, IdentityLookup, Protocol):
    """What a batch reads of its writer (``processing.Processor``)."""

    mapper: LedgerMapper
    histories: dict[str, list[OrderEvent]]
    clock: Callable[[], datetime]
    absent: set[str]  # the orders the batch's prefetch found not to exist
    no_identity: set[IdentityKey]  # the names its prefetch found nobody to hold

    def load_order(self, client_order_id: str, *, trust_absent: bool = True) -> Order | None: ...


Decide = Callable[["Batch", Any, JournalEntry, int], Decided]
"""A message kind's decision: the batch, the message, its input's journal entry and its place
among the input's messages in; (outcome, reason, events) out."""

_NOTHING_STATED = (None,) * len(FACTS)


def _named(order: Order, keys: list[IdentityKey], booked_now: Sequence[str] = ()) -> list[IdentityKey]:
    """What waits for names the order has only now (``keys``): the order under those names, and
    the busts and corrections of its fills so far by them (a trade booked by this very fact is
    released by its own keys). All of them are made resolvable by the commit: a writer that
    parked on one meanwhile sends this batch back (``LedgerRecorder``'s parking check)."""
    return keys + [trade_key(key, t) for key in keys for t in order.fills if t not in booked_now]


class Batch(Parking, Identities):
    """The in-memory state of one batch while it is being decided."""

    p: Writer

    def __init__(self, processor: Writer) -> None:
        self.p = processor
        self.orders: dict[str, Order] = {}
        self.consulted: dict[str, int] = {}  # client order ID → version the decisions read
        self.touched: set[str] = set()
        self.commit = Commit()
        self.entries: list[JournalEntry] = []
        self.events: list[OrderEvent] = []
        self.new_identities: dict[IdentityKey, str] = {}
        self.decided: dict[UUID, OrderEvent] = {}  # facts of their own aggregate (``Booking``)
        # Messages parked by this batch, indexed by each key they wait for (a release is a
        # look-up, never a scan): (their input's entry, part, message, input's place in the batch).
        self.waiting: dict[IdentityKey, list[Waiting]] = {}
        # The same, by what they wait for and their body: a re-sent line is parked once.
        self.parked_bodies: dict[tuple[frozenset[IdentityKey], bytes], list[Waiting]] = {}
        # Per input (by its entry's id): each message's outcome, and its adapter's notes.
        self.parts: dict[int, tuple[dict[int, tuple[Outcome, str | None]], list[str]]] = {}
        # Lines parked by earlier batches that this one settles (some or all of their parts).
        self.resolving: dict[int, JournalEntry] = {}
        self.settled: set[tuple[int, int]] = set()
        self.quiet_table = processor.alone and not processor.parked.keys()
        self.now = format_timestamp(processor.clock())
        self._encode = processor.mapper.to_stored_event

    # ------------------------------------------------------------------ per input

    def decide(self, item: Inbound) -> Result:
        """Decide one input: each of its messages by the decision its kind takes, its journal
        entry and its result from their outcomes."""
        # received_at, origin, line_no, format, raw, outcome (positional: made for every input)
        entry = JournalEntry(self.now, item.origin, item.line_no, item.format, item.raw, Outcome.IGNORED)
        self.entries.append(entry)
        self.commit.journal.append(entry)
        result = Result(item.line_no, Outcome.IGNORED)
        if item.error is not None:
            entry.outcome, entry.reason = Outcome.REJECTED, item.error
            result.outcome, result.reason = Outcome.REJECTED, item.error
            return result
        if item.breaches:
            result.breaches = item.breaches
        self.flags = item.flags
        if (item.waits is not None or item.rereads is not None) and not self._context(item, entry):
            result.outcome, result.reason = entry.outcome, entry.reason
            return result
        if item.denied is not None:  # (a request of ours: it never waits for a feed's context)
            entry.outcome, entry.reason = Outcome.DENIED, bounded(item.denied)
            result.outcome, result.reason = entry.outcome, entry.reason
            entry.client_order_id = result.client_order_id = item.messages[0].client_order_id
            book_breach(self, item.breach, entry)  # the denial, a fact: never an order
            return result
        if len(item.messages) == 1 and not item.notes:
            # The everyday input, one message: what the loop and _settle below come to for it.
            # Its part is registered only if it parks (only _unpark and _settle read it then).
            self._refused = None
            outcome, reason, events = self.decide_message(item.messages[0], entry)
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
        if item.messages:  # several messages (an input holding none is said last)
            outcomes: dict[int, tuple[Outcome, str | None]] = {}
            self.parts[id(entry)] = (outcomes, item.notes)
            owner = None  # the order of the last message that recorded something
            for position, message in enumerate(item.messages):
                # Each message has its own fate: one refused leaves the others to be decided.
                self._refused = None
                outcome, reason, events = self.decide_message(message, entry, position)
                if outcome is Outcome.REJECTED and result.error is None:
                    result.error = self._refused
                if events:
                    owner = self._last_client_id
                # A message parked and then released by a later one of the same input is settled.
                outcomes.setdefault(position, (outcome, reason))
                result.events.extend(events)
            self._settle(entry)
            if item.breach is not None and entry.outcome is Outcome.APPLIED:
                # Let through by an override (a note: never the one-message path), the breach is a
                # fact all the same, once the request is recorded.
                book_breach(self, item.breach, entry)
            entry.client_order_id = result.client_order_id = owner or self._last_client_id
            result.outcome, result.reason = entry.outcome, entry.reason
            return result
        entry.reason = result.reason = notes_text(item.notes) or "the input holds no order fact"
        return result

    def _context(self, item: Inbound, entry: JournalEntry) -> bool:
        """An input that waits for its feed's context is parked under the context's key; one that
        reads a parked line again sets that line aside in this commit (``settlement``). False when
        the input is decided here: parked, or not read again because its line was settled
        meanwhile."""
        if item.rereads is not None:
            try:
                with self.p.recorder.db.read() as tx:
                    line = parked_line(tx, item.rereads)
            except InvalidInputError:  # settled meanwhile (read again by another ingest)
                entry.reason = f"parked message {item.rereads} was settled meanwhile: not read again"
                return False
            settlement, parked = aside(
                line, who=BY_LEDGER, why=read_again(line), stamp=self.now, origin=entry.origin
            )
            self.commit.journal.append(settlement)
            self.commit.resolved.append(parked)
        if item.waits is None:
            return True
        key, why = item.waits
        entry.parked[0] = ([key], context_part(key, why))
        entry.outcome, entry.reason = Outcome.PARKED, bounded("; ".join([why, *item.notes]))
        return False

    def _settle(self, entry: JournalEntry) -> None:
        """An input's outcome from its messages': parked while any of them still waits."""
        outcomes, notes = self.parts[id(entry)]
        if entry.parked:
            first = min(entry.parked)
            outcome, reason = Outcome.PARKED, outcomes[first][1]
            if len(entry.parked) > 1:
                reason = f"{reason} (and {len(entry.parked) - 1} more of this input's messages)"
        else:
            outcome, reason = combine(list(outcomes.values()))
        if len({o for o, _ in outcomes.values()}) > 1:
            reason = each_part(outcomes)  # parts that differ: each one's outcome is stated
        if notes:
            reason = "; ".join([*([reason] if reason else []), notes_text(notes)])
        entry.outcome, entry.reason = outcome, None if reason is None else bounded(reason)

    _last_client_id: str | None = None
    item = 0  # the position in its batch of the input being decided

    def decide_message(self, message: Message, entry: JournalEntry, part: int = 0) -> Decided:
        """Decide one message (the ``part``-th of its input) by the decision its kind takes
        (``DECISIONS``); returns (outcome, reason, events)."""
        self._last_client_id = message.client_order_id
        self._merging = {}
        key = (self.item, part)
        refused = self.p.refused.get(key)
        if refused is not None:
            self._refused = refused
            return Outcome.REJECTED, refused.message, []
        recorded = len(self.events)
        try:
            return DECISIONS[type(message)](self, message, entry, part)
        except StaleBatchError:
            raise  # not this message's fault: the whole batch is decided again
        except LedgerError as error:
            if len(self.events) > recorded:
                # Refused after it had recorded something: undone by deciding the batch again.
                self.p.refused[key] = error
                raise Again("refused") from None
            self._refused = error
            return Outcome.REJECTED, error.message, []

    def order_fact(self, message: Message, entry: JournalEntry, part: int) -> Decided:
        """A fact about an existing order: applied to it, or parked until it is known."""
        order, keys = self._resolve(message)
        trade = trade_named(message)
        if trade is not None:  # a bust or correction: it waits for its trade's fill
            if order is not None and (waits := self._trade_wait(order, message)):
                order, keys = None, waits
            elif order is None:
                # Waiting for the trade is waiting for its order too: a fill is booked on an order.
                keys = [trade_key(key, trade) for key in keys]
        if order is None:
            already = self._park(message, entry, part, keys)
            if already is not None:
                return Outcome.DUPLICATE, already, []
            return Outcome.PARKED, waiting_reason(keys), []
        self._last_client_id = order.client_order_id
        return self._fact(order, message, entry)

    _refused: LedgerError | None = None

    # ------------------------------------------------------------------ requests

    def request(self, message: RequestMessage, entry: JournalEntry, part: int = 0) -> Decided:
        spec = request_spec(message)
        existing = self._order(spec.client_order_id)
        numbered = free = None
        if existing is None and spec.venue_order_id and not spec.external:
            key = IdentityKey.venue_order(spec.venue, spec.venue_order_id)
            if self.new_identities.get(key) or self.p.lookup_identity(key):
                existing = numbered = self._numbered(spec, key)
            else:
                free = key  # no order holds it: a new order's, unchecked again
            if numbered is not None:
                keys = [IdentityKey.alias(spec.venue, n, v) for n, v in spec.aliases.items()]
                self._check_identities(numbered.client_order_id, keys)  # its names are no other's
                spec = spec.model_copy(update={"client_order_id": numbered.client_order_id})
        if existing is None and (spec.aliases or spec.external):
            existing, spec = self._named_by_identity(spec)
        if existing is not None:
            self._last_client_id = existing.client_order_id
            asked = message.client_order_id
            # Our order named by one of its own aliases (``_named_by_identity``) or by its venue
            # order ID (``_numbered``): the request is a report of that order under another of its
            # names.
            reported = not (message.external or existing.external) and asked not in (
                None,
                existing.client_order_id,
            )
            decided = existing.request_again(spec, self.stamp(message), reported=reported)
            result = self._outcome(existing, decided, entry)
            if numbered is not None and result[0] is not Outcome.REJECTED:
                return self._named_also(existing, message, spec.aliases, entry, result)
            if message.external or asked is None or reported or asked == existing.client_order_id:
                return result
            # Our request for an order the venue reported first: the order keeps the request's
            # client order ID as an alias, and what waits for that ID is released.
            return self._named_also(existing, message, {CLIENT_ORDER_ID_ALIAS: asked}, entry, result)
        new_keys = [IdentityKey.alias(spec.venue, n, v) for n, v in spec.aliases.items()]
        if spec.venue_order_id and free is None:
            new_keys.append(IdentityKey.venue_order(spec.venue, spec.venue_order_id))
        self._check_identities(spec.client_order_id, new_keys)
        if free is not None:
            new_keys.append(free)
        order, outcome = Order.request(spec, self.stamp(message))
        self.orders[order.client_order_id] = order
        result = self._outcome(order, outcome, entry)
        if self.flags is not None and id(message) in self.flags:
            result = self._flagged(order, message, entry, result)
        new_keys = self._register(order, new_keys)
        if self._quiet():
            return result
        own_key = IdentityKey.client_order(order.client_order_id)
        self.commit.resolvable.extend([own_key, *new_keys])
        unparked = self._unpark(order, [own_key, *new_keys])
        return result[0], result[1], result[2] + unparked

    flags: dict[int, BreachRecorded] | None = None
    """The orders of the input being decided that the risk door flagged (``Inbound.flags``)."""

    def _flagged(
        self, order: Order, message: RequestMessage, entry: JournalEntry, result: Decided
    ) -> Decided:
        """A new order of a venue's fact that the risk door flagged: recorded as it is, with its
        ``BreachRecorded`` and an anomaly (``limit_breach``) on the order."""
        assert self.flags is not None
        breach = self.flags[id(message)]
        events = book_flag(self, breach, order.client_order_id, entry)
        reasons = "; ".join(b["reason"] for b in breach.breaches)
        flagged = self._outcome(order, order.flag_breach(self.stamp(message), reasons), entry)
        return result[0], result[1], result[2] + events + flagged[2]

    def _numbered(self, spec: OrderSpec, key: IdentityKey) -> Order | None:
        """Our order holding the venue order ID a request names it by (a venue's report of the
        order under a client order ID it has not yet gone by: a FIX ClOrdID of its chain read
        before the report linking the two), when the request's client order ID is one of its
        aliases (a name the order can go by) and it states the same account, instrument and side;
        else None (the identity check decides)."""
        owner = self._owner(key)  # (``key``: the venue order ID's)
        if owner is None or owner.external or owner.merged_into is not None:
            return None
        if spec.client_order_id not in spec.aliases.values():
            return None  # not a name the order can go by: a second order for the ID is a conflict
        same = (owner.venue, owner.account, owner.instrument, owner.side)
        return owner if same == (spec.venue, spec.account, spec.instrument, spec.side) else None

    def _named_also(
        self,
        order: Order,
        message: RequestMessage,
        aliases: Mapping[str, str],
        entry: JournalEntry,
        result: Decided,
    ) -> Decided:
        """``result``, the order also going by ``aliases`` from now on (the request's client order
        ID under which a report or a request named it), what waits for them released."""
        added = self._outcome(order, order.add_aliases(self.stamp(message), aliases), entry)
        keys = self._register(order, identity_keys(order))
        asked = message.client_order_id
        named = _named(order, [IdentityKey.client_order(asked), *keys] if asked else keys)
        self.commit.resolvable.extend(named)
        events = result[2] + added[2] + self._unpark(order, named)
        return (Outcome.APPLIED, None, events) if events else result

    # ------------------------------------------------------------------ other facts

    def _fact(self, order: Order, message: Message, entry: JournalEntry) -> Decided:
        # A fill whose bust or correction waits for it is judged with them: its quantity is
        # checked once they are applied (a fill, then its bust, never overfills in venue time).
        fill = message.trade_id if isinstance(message, FillMessage) else None
        amended = fill is not None and self._awaited(order, fill)
        if (
            message.ts < order.updated_at and order.version > 1 and not self._booked_trade(order, message)
        ) or type(message) is ReinstatedMessage:
            # Later facts of this order are known already: decided at its place in venue time.
            # (A withdrawal always is: the order is then what its other facts make it.)
            status, reason, events = self._decide_in_place(order, message, entry, amended)
        else:
            status, reason, events = self._decide_fact(order, message, entry, amended)
            if _withdraws_latest(order, events):
                events = events + self._restated(order, in_venue_time(self._history(order)), entry, message)
        trades = [e.trade_id for e in events if type(e) is OrderFilled]
        naming = not NAMING.isdisjoint(map(type, events))
        quiet = (trades or naming) and self._quiet()
        if naming:
            # Only these add identities: any other fact leaves nothing new to register or release.
            keys = self._register(order, identity_keys(order))
            if not quiet:
                keys = _named(order, keys, trades)
                self.commit.resolvable.extend(keys)
                events += self._unpark(order, keys)
        if trades and not quiet:
            # A bust or correction waiting for a trade this fact booked, by any of the order's names.
            waits = trade_keys(order, trades)
            self.commit.resolvable.extend(waits)
            events += self._unpark(order, waits)
        if amended and fill is not None:
            order.check_quantity(fill)
        refused: list[str] = []
        if self._merging:
            merged, refused = self._merge(order, message, entry)
            events += merged
        if events and status is not Outcome.APPLIED:
            status, reason = Outcome.APPLIED, None
        if refused:  # said in the journal: nothing of the merged order is dropped unsaid
            reason = bounded("; ".join([*([reason] if reason else []), *refused]))
        return status, reason, events

    @staticmethod
    def _booked_trade(order: Order, message: Message) -> bool:
        """A fact about a trade judged against the order as it stands, whenever it happened: a
        copy, bust or correction of a trade the order has (judged against the trade as booked),
        or any real fill while the order holds inferred quantity (a real trade replaces inferred
        quantity, whatever the times of the two; an inferred one replaces nothing)."""
        trade = trade_named(message)
        if trade is not None:
            return trade in order.fills  # judged against the trade as booked
        if not isinstance(message, FillMessage):
            return False
        if message.trade_id in order.fills:
            return True
        return not message.inferred and any(f.inferred and not f.busted for f in order.fills.values())

    def _decide_in_place(self, order: Order, message: Message, entry: JournalEntry, amended: bool) -> Decided:
        """Decide a fact that arrived after later facts of its order: against the order as its
        facts up to this one's place in venue time leave it, recorded there, then the order
        restated where the venue-time fold of all its facts differs from the arrival order's."""
        history = self._history(order)
        # A fill is judged against the order as every trade of its time leaves it, corrected and
        # busted: room another trade of that time gives back counts as given back.
        fact = FillBusted if isinstance(message, FillMessage) else FACT_EVENTS[type(message)]
        place = (message.ts, venue_rank(fact))
        withdrawal = type(message) is ReinstatedMessage
        if not withdrawal and not any(
            venue_place(e) > place for e in history if type(e) is not OrderRequested
        ):
            # Only the request is later (its time is ours, the venue's clock may be behind it).
            return self._decide_fact(order, message, entry, amended)
        fold = fold_until(history, until=place)
        before = fold.order
        before.version = order.version
        before.seen |= order.seen  # a copy of a fact recorded later is still a copy
        status, reason, events = self._decide_fact(before, message, entry, amended)
        if not events:
            return status, reason, events
        for event in events:
            order.apply(event)
        order.adopt(events)
        # The facts after this one's place go on from the fold that decided it (one fold, not
        # two), unless what it decided stands elsewhere among them: then all are folded again.
        folded = fold_on(fold, events) or in_venue_time([*history, *events])
        if not amended:  # else a bust or correction of this fill is applied next: checked then
            order.check_quantity(getattr(message, "trade_id", ""), folded)
        events = events + self._restated(order, folded, entry, message)
        if withdrawal:
            return Outcome.APPLIED, None, events
        return (
            Outcome.APPLIED,
            "arrived after later facts of its order: applied at its place in venue time",
            events,
        )

    def _history(self, order: Order) -> list[OrderEvent]:
        """Every event of the order: stored, then decided in this batch."""
        pending = order.pending_events
        if pending and type(pending[0]) is OrderRequested:
            return pending  # created in this batch: none of its events is stored yet
        known = self.p.histories.get(order.client_order_id)
        if known is not None:  # read by the batch's prefetch
            return [*known, *pending]
        stored = self.p.recorder.select_events(order.id, client_order_id=order.client_order_id)
        return [*map(self.p.mapper.to_domain_event, stored), *pending]

    def _restated(
        self, order: Order, folded: Order, entry: JournalEntry, message: Message
    ) -> list[OrderEvent]:
        """The restatement that makes ``order`` the venue-time fold of its events (``folded``),
        if it differs."""
        restated = restatement(order, folded)
        if restated is None:
            return []
        return self._outcome(order, order.restate(*restated, self.stamp(message)), entry)[2]

    def _decide_fact(
        self, order: Order, message: Message, entry: JournalEntry, amended: bool = False
    ) -> Decided:
        """What the fact decides on ``order`` (its events recorded in the batch)."""
        stated = stated_facts(message)
        if stated != _NOTHING_STATED:
            # A report of the order that states what it is: it must be this order as it is.
            order.check_stated(*stated)
        stamp = self.stamp(message)
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

    def stamp(self, message: Message) -> Stamp:
        return Stamp(message.ts, self.p.clock(), message.source)  # ts_event, ts_recorded, source

    def latest(self, aggregate: UUID) -> OrderEvent | None:
        """(``Booking``) An aggregate's latest event, decided in this batch or in the log."""
        decided = self.decided.get(aggregate)
        if decided is not None:
            return decided
        stored = self.p.recorder.select_events(aggregate, desc=True, limit=1, client_order_id="")
        return self.p.mapper.to_domain_event(stored[0]) if stored else None

    def book(self, event: OrderEvent | None, entry: JournalEntry, duplicate: str) -> Decided:
        """(``Booking``) A fact of its own aggregate into the batch's commit, or a duplicate."""
        if event is None:
            return Outcome.DUPLICATE, duplicate, []
        # Later messages of this batch see it; a batch decided again is a new batch: afresh.
        self.decided[event.originator_id] = event
        self._join([event], entry)
        return Outcome.APPLIED, None, [event]

    def _order(self, client_order_id: str, *, trust_absent: bool = True) -> Order | None:
        order = self.orders.get(client_order_id)
        if order is None:
            order = self.p.load_order(client_order_id, trust_absent=trust_absent)
            if order is not None:
                self._check_prefetched(order)
                self.orders[client_order_id] = order
                # Decisions read this version; the commit checks nobody has appended since.
                self.consulted[client_order_id] = order.version
        return order

    def _check_prefetched(self, order: Order) -> None:
        """Refuse to go on with an order the batch's prefetch said did not exist, or that holds a
        name the prefetch said nobody held: another writer committed it since, and the messages
        this batch decided on the prefetch (parked as waiting for an unknown order) were wrong.
        The batch is decided again, with the prefetch read again."""
        p = self.p
        if p.absent and order.client_order_id in p.absent:
            raise StaleBatchError(f"order {order.client_order_id!r} was created by another writer meanwhile")
        if p.no_identity and not p.no_identity.isdisjoint(identity_keys(order)):
            raise StaleBatchError(f"order {order.client_order_id!r} was named by another writer meanwhile")

    def _outcome(self, order: Order, outcome: Decision, entry: JournalEntry) -> Decided:
        kind, decided, reason = outcome
        events = list(decided)
        if events:
            self.touched.add(order.client_order_id)
            self._join(events, entry)
        return kind, reason or None, events

    def _join(self, events: list[OrderEvent], entry: JournalEntry) -> None:
        """Add events caused by ``entry``'s message to the batch and to its commit."""
        entry.event_count += len(events)  # the events that will point at this message
        self.events += events
        commit = self.commit
        commit.events += map(self._encode, events)
        commit.event_entries += [entry] * len(events)


def _booked(book: Callable[[Batch, Any, JournalEntry], Decided]) -> Decide:
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
"""Each message kind and the decision it takes in a batch (``Batch.decide_message``): every kind
once (``tests/unit/test_messages.py`` holds it to that)."""


def _withdraws_latest(order: Order, events: list[OrderEvent]) -> bool:
    """True when ``events`` bust an inferred fill at the order's latest venue time: the time of
    a withdrawn guess no longer counts (``domain.folds.latest``), so the order's may be earlier."""
    for event in events:
        if type(event) is FillBusted:
            fill = order.fills.get(event.trade_id)
            if fill is not None and fill.inferred and fill.ts_event >= order.updated_at:
                return True
    return False


__all__ = ["DECISIONS", "Batch", "Decide", "Writer"]
