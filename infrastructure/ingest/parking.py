"""Messages that wait: parked until their order (or, for a bust or correction, its trade) is
known, indexed by what they wait for, and released in venue time when it arrives.

``Parking`` holds the batch's side of it (``batch.Batch`` is one): a message parks under
the keys it waits on; when a fact records one of those keys, exactly the messages waiting under
it are released (this batch's from the index, earlier batches' from the ``parked`` table, whose
keys the processor knows in memory), each applied on its own: a released message's refusal never
refuses the message that released it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from orderledger.domain.errors import LedgerError
from orderledger.domain.events import OrderEvent
from orderledger.domain.identity import IdentityKey, identity_keys, trade_key, waited_on
from orderledger.domain.order import Order
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.errors import StaleBatchError
from orderledger.infrastructure.ingest.input_outcomes import Again, Decided, combine
from orderledger.infrastructure.messages.models import (
    FillBustedMessage,
    FillCorrectedMessage,
    Message,
    message_from_line,
    message_to_json,
)
from orderledger.infrastructure.storage.store import Commit, JournalEntry, LedgerRecorder

if TYPE_CHECKING:
    from collections.abc import Container, Iterable, Sequence

    from orderledger.infrastructure.storage.db import Database

__all__ = [
    "ParkedIndex",
    "ParkedLine",
    "ParkedLines",
    "Parking",
    "Waiting",
    "trade_keys",
    "trade_named",
    "waiting_reason",
]


def trade_keys(order: Order, trade_ids: Iterable[str]) -> list[IdentityKey]:
    """What busts or corrections of these trades of ``order`` may wait on: one key per trade and
    per name of the order (its client order ID, venue order IDs and aliases)."""
    names = [IdentityKey.client_order(order.client_order_id), *identity_keys(order)]
    return [trade_key(name, trade_id) for trade_id in trade_ids for name in names]


def waiting_reason(keys: Sequence[IdentityKey]) -> str:
    said = []
    for key in keys:
        (_, kind, value), trade = waited_on(key)
        said.append(f"{kind} {value!r}" if trade is None else f"trade {trade!r} of {kind} {value!r}")
    if keys and waited_on(keys[0])[1] is not None:
        return f"no fill known for {' or '.join(said)} yet"
    return f"no order known for {' or '.join(said)} yet"


@dataclass(frozen=True, eq=False)
class Waiting:
    """A message this batch parked: its input's entry, its part there, the message, and the
    input's place in the batch."""

    entry: JournalEntry
    part: int
    message: Message
    item: int


def trade_named(message: Message) -> str | None:
    """The trade a bust or correction names: these wait for its fill as other facts wait for
    the order (None for any other fact)."""
    if type(message) in _TRADE_FACTS:
        return message.trade_id  # type: ignore[union-attr]
    return None


_TRADE_FACTS = frozenset({FillBustedMessage, FillCorrectedMessage})


ParkedLine = tuple[int, int, bytes, bytes, str]
"""A stored parked line: (message ID, part, raw input, message, format). The raw input is empty
for a line the writer parked itself: settling a line never writes its input again."""


Key = tuple[str, str, str]
"""What a parked line waits on: (venue, kind, value), an ``IdentityKey`` or a ``trade_key``."""


class ParkedIndex:
    """What a writer knows of the ``parked`` table: the keys its lines wait on (read once, then
    kept by the writer's own commits), and the lines the writer parked itself, so that releasing
    them is a look-up in memory, not a query (a whole session fed in random order parks nearly
    half its lines, and each is released by a later commit). A key with lines the writer did not
    park (before the index was read, or by another writer) is answered by the table.

    A held line keeps the message it stored (its ledger-format JSON), not the message as read:
    a parsed message takes about seven times the memory of its JSON, and a whole session in random
    order holds tens of thousands of them at once. A released line is read again from it, as a
    line another writer parked is read from the table (``message``).

    Another writer's commit can make this stale (it settles or parks lines under a key this one
    knows): the commit that would act on it is then refused as stale (``Commit``'s checks), and
    the index is read again (``forget``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys: set[Key] | None = None
        self._lines: dict[Key, list[tuple[int, int]]] = {}  # key -> its lines held
        # Each held line: its message as stored, its format, its keys, and whether the part is a
        # message of its own (a line waiting for its feed's context has none: ``settlement``).
        self._held: dict[tuple[int, int], tuple[bytes, str, list[Key], bool]] = {}
        # The held lines' messages read again while the current batch is decided (``held``), so
        # that the batch's prefetch and its release read each once.
        self._read: dict[tuple[int, int], Message] = {}

    def __len__(self) -> int:
        """How many parked lines the writer holds in memory (those it parked under a key whose
        lines it knows)."""
        return len(self._held)

    def keys(self) -> set[Key]:
        """The keys stored parked lines wait on, as far as this writer knows."""
        if self._keys is None:
            with self.db.read() as tx:
                rows = tx.all("SELECT DISTINCT venue, kind, value FROM parked")
            self._keys = {(row[0], row[1], row[2]) for row in rows}
        return self._keys

    def forget(self) -> None:
        """Read the table again when next asked (another writer, or a person, changed it)."""
        self._keys = None
        self._lines.clear()
        self._held.clear()
        self._read.clear()

    def lines_for(self, keys: Sequence[Key]) -> list[ParkedLine]:
        """The stored lines waiting for any of these keys, in arrival order."""
        known = self.keys()
        found: dict[tuple[int, int], ParkedLine] = {}
        asked = []
        for key in keys:
            if key not in known:
                continue
            lines = self._lines.get(key)
            if lines is None:
                asked.append(key)
                continue
            for line in lines:
                body, fmt, _, _ = self._held[line]
                found[line] = (line[0], line[1], b"", body, fmt)
        if asked:
            clauses = " OR ".join("(p.venue = ? AND p.kind = ? AND p.value = ?)" for _ in asked)
            with self.db.read() as tx:
                rows = tx.all(
                    "SELECT DISTINCT p.message_id, p.part, m.raw, p.message, m.format FROM parked p"
                    f" JOIN messages m ON m.message_id = p.message_id WHERE {clauses}",
                    [value for key in asked for value in key],
                )
            if not rows:
                known.difference_update(asked)  # settled meanwhile (by a person, or another writer)
            for r in rows:
                found[r[0], r[1]] = (r[0], r[1], bytes(r[2]), bytes(r[3]), r[4])
        return [found[line] for line in sorted(found)]

    def held(self, key: Key) -> list[tuple[tuple[int, int], Message]]:
        """The lines this writer parked under ``key`` and holds: ((message ID, part), message),
        each message read again from what it stored, and kept until the batch's commit."""
        found = []
        for line in self._lines.get(key, ()):
            message = self.message(line)
            if message is None:
                body, _, _, own = self._held[line]
                if not own:
                    continue
                message = self._read[line] = message_from_line(body)
            found.append((line, message))
        return found

    def message(self, line: tuple[int, int]) -> Message | None:
        """The message of a held line as ``held`` read it for the current batch, if it did."""
        return self._read.get(line)

    def parked_as(self, key: Key, body: bytes) -> int | None:
        """The message ID of a stored line parked under ``key`` with this very message, if any."""
        if key not in self.keys():
            return None
        lines = self._lines.get(key)
        if lines is not None:
            return next((line[0] for line in lines if self._held[line][0] == body), None)
        with self.db.read() as tx:
            row = tx.one(
                "SELECT message_id FROM parked WHERE venue = ? AND kind = ? AND value = ?"
                " AND message = ? LIMIT 1",
                (*key, body),
            )
        return None if row is None else int(row[0])

    def committed(
        self,
        journal: Sequence[JournalEntry],
        settled: Iterable[tuple[int, int]],
        resolved: Iterable[Key],
        messages: Container[tuple[int, int]],
    ) -> None:
        """Keep the index true after a commit of this writer: the lines it settled are gone, the
        keys it resolved wait no more (the commit checked that nothing else waits on them), and
        the lines it parked are held, each with the message it stored (``messages``: the parts
        that are messages of their own, by the id of their input's entry and their part)."""
        self._read.clear()
        if self._keys is None:
            return
        for line in settled:
            self._drop(line)
        known, held = self._keys, self._lines
        for key in resolved:
            # Most keys a commit resolves (every new order's, every booked trade's) had nothing
            # waiting: a key the index holds lines under is always among its keys.
            if key not in known:
                continue
            lines = held.pop(key, None)
            if lines is not None:
                for line in lines[:]:
                    self._drop(line)
            known.discard(key)
        for entry in journal:
            if not entry.parked:
                continue
            assert entry.message_id is not None
            for part, (keys, body) in entry.parked.items():
                line = (entry.message_id, part)
                kept = False
                for key in keys:
                    lines = self._lines.get(key)
                    if lines is None:
                        if key in self._keys:
                            continue  # lines parked before the index was read: asked of the table
                        lines = self._lines[key] = []
                    lines.append(line)
                    self._keys.add(key)
                    kept = True
                if kept:  # else every key of it is answered by the table: nothing to hold
                    # A copy of its own size: orjson's output keeps about 4 KB whatever its length.
                    own = (id(entry), part) in messages
                    self._held[line] = (memoryview(body).tobytes(), entry.format, keys, own)

    def _drop(self, line: tuple[int, int]) -> None:
        assert self._keys is not None
        held = self._held.pop(line, None)
        if held is None:
            return
        for key in held[2]:
            lines = self._lines.get(key)
            if lines is not None and line in lines:
                lines.remove(line)
                if not lines:
                    del self._lines[key]
                    self._keys.discard(key)


class ParkedLines(Protocol):
    """What parking needs of the writer: the stored parked lines and the messages it refused."""

    recorder: LedgerRecorder
    refused: dict[tuple[int, int], LedgerError]

    parked: ParkedIndex

    @property
    def alone(self) -> bool:
        """Whether the writer's commits are checked alone (``Commit.alone_since``)."""


class Parking:
    """A batch's parked messages: what it parks, and what it releases."""

    p: ParkedLines
    commit: Commit
    events: list[OrderEvent]
    item: int
    now: str
    waiting: dict[IdentityKey, list[Waiting]]
    parked_bodies: dict[tuple[frozenset[IdentityKey], bytes], list[Waiting]]
    parts: dict[int, tuple[dict[int, tuple[Outcome, str | None]], list[str]]]
    resolving: dict[int, JournalEntry]
    settled: set[tuple[int, int]]  # (message ID, part) of the stored parked lines this batch settles
    quiet_table: bool  # nothing waits in the table and the writer is alone (both hold for a batch)

    if TYPE_CHECKING:

        def _fact(self, order: Order, message: Message, entry: JournalEntry) -> Decided: ...

        def _settle(self, entry: JournalEntry) -> None: ...

    def _quiet(self) -> bool:
        """Nothing waits, in this batch or in the table, and the writer is alone: what a fact
        resolves releases nothing, and the commit makes no check against other writers with the
        keys. None are built; the commit is marked so (``Commit.unkeyed``), and refused as stale
        if it finds another writer's commit before it and lines parked in the table (then decided
        again, with keys): with none parked, the keys would have found nothing."""
        if self.waiting or not self.quiet_table:
            return False
        self.commit.unkeyed = True
        return True

    def _awaited(self, order: Order, trade_id: str) -> bool:
        """Whether a bust or correction waits for this trade of the order (by any of its names)."""
        if not self.waiting and not self.p.parked.keys():
            return False  # nothing waits at all: the everyday case, decided without building keys
        keys = trade_keys(order, [trade_id])
        if any(key in self.waiting for key in keys):
            return True
        return bool(self.p.parked.lines_for(keys))

    def _park(self, message: Message, entry: JournalEntry, part: int, keys: list[IdentityKey]) -> str | None:
        """Keep a message until what it waits for is known; a message parked already is not kept
        twice (a venue re-sending the same line for an unknown order): returns why, then."""
        body = message_to_json(message)
        same = (frozenset(keys), body)
        for other in self.parked_bodies.get(same, ()):
            if other.part in other.entry.parked:
                return "the same message is already parked, earlier in this batch"
        stored = self.p.parked.parked_as(keys[0], body)
        if stored is not None:
            return f"the same message is already parked as message {stored}"
        entry.parked[part] = (list(keys), body)
        waiting = Waiting(entry, part, message, self.item)
        self.parked_bodies.setdefault(same, []).append(waiting)
        for key in keys:
            self.waiting.setdefault(key, []).append(waiting)
        return None

    def parked_messages(self) -> set[tuple[int, int]]:
        """The messages this batch parked, by the id of their input's entry and their part."""
        return {(id(waiting.entry), waiting.part) for same in self.parked_bodies.values() for waiting in same}

    def _unpark(self, order: Order, keys: Sequence[IdentityKey]) -> list[OrderEvent]:
        if not self.waiting and not self.p.parked.keys():
            return []  # nothing waits at all: the everyday case
        return self._release(order, keys)

    def _release(self, order: Order, keys: Sequence[IdentityKey]) -> list[OrderEvent]:
        """Apply the messages that were waiting for these keys (this order, or one of its
        trades), in venue time, whichever batch parked them. Each released message has its own
        fate: its refusal never refuses, rolls back or blames the message that released it."""
        here_now, table_keys = self.waiting, self.p.parked.keys()
        if not any(key in here_now or key in table_keys for key in keys):
            return []  # most new names have nothing waiting for them
        wanted = list(dict.fromkeys(keys))
        here: dict[int, Waiting] = {}
        for key in wanted:
            for waiting in self.waiting.pop(key, ()):
                if waiting.part in waiting.entry.parked:
                    here.setdefault(id(waiting), waiting)
        released: list[tuple[datetime, int, int, int, Waiting | tuple[int, int, bytes, str, Message]]] = [
            (w.message.ts, 1, w.item, w.part, w) for w in here.values()
        ]
        stored_lines = self.p.parked.lines_for(wanted)
        for message_id, part, raw, stored, fmt in stored_lines:
            if (message_id, part) in self.settled:
                continue
            read = self.p.parked.message((message_id, part))  # by the batch's prefetch
            try:
                message = message_from_line(stored) if read is None else read
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
            if isinstance(what, Waiting):
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
    ) -> Decided:
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
            return Outcome.PARKED, waiting_reason(waits), []
        recorded = len(self.events)
        try:
            return self._fact(order, message, entry)
        except StaleBatchError:
            raise
        except LedgerError as error:
            if len(self.events) > recorded:
                self.p.refused[key] = error
                raise Again("refused") from None
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
            self.settled.add((message_id, part))
        self.parts[id(found)][0][part] = fate
        settled = list(self.parts[id(found)][0].values())
        found.outcome, why = combine(settled)
        found.reason = f"was parked; {why}" if why else "was parked until its order was known"

    def _trade_wait(self, order: Order, message: Message) -> list[IdentityKey]:
        """The keys a bust or correction waits on when its order lacks the trade it names (the
        fill is still to come): none when the trade is there, or for any other fact."""
        trade = trade_named(message)
        if trade is None or trade in order.fills:
            return []
        return [trade_key(IdentityKey.client_order(order.client_order_id), trade)]
