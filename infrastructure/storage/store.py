"""The ledger's tables and the recorder that writes a whole group commit in one transaction.

One transaction holds, for a batch of inbound messages: their journal rows, the events they
produced (hash-chained, with search columns), the secondary identities those events record,
and the parked-message bookkeeping. Either all of it is stored or none of it.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)

from orderledger.domain.identity import CLIENT_ORDER_ID, waited_on
from orderledger.domain.order import order_id_for
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.errors import (
    ConfigurationError,
    DatabaseReadOnlyError,
    StaleBatchError,
    StoreError,
)
from orderledger.infrastructure.storage import cursors
from orderledger.infrastructure.storage.chain import GENESIS, journal_link, link, parked_digest
from orderledger.infrastructure.storage.db import (
    Database,
    Tx,
    is_integrity_error,
    lock_schema,
    select_by_keys,
    table_columns,
    table_exists,
)
from orderledger.infrastructure.storage.journal import (
    PARKED_ROWS,
    Waiting,
    journal_head,
    message_fields,
    parked_parts,
    settlement_fields,
)
from orderledger.infrastructure.storage.mapper import IndexedStoredEvent
from orderledger.infrastructure.storage.schema import (
    SCHEMA_VERSION,
    add_parked_part,
    append_only,
    chain_journal,
    rekey_events,
    schema,
    upgrade,
)

T = TypeVar("T")

# An order's events as loaded to decide on it, and what a batch checks of the orders it read.
_LOADED = ("client_order_id", "originator_id", "originator_version", "topic", "state")
_VERSIONED = ("client_order_id", "originator_version")
_CHAINED = "notification_id > 0"  # rows in the hash chain only


def _initialised(tx: Tx) -> bool:
    """True once the ledger's tables exist in the database ``tx`` reads."""
    return table_exists(tx, "ledger_meta")


_REQUEST_KEY = ("client_order_id", "originator_id", "originator_version")


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


FOLD_AFTER_COMMIT = 64
"""Events from which a batch's views are folded after its commit, in a transaction of their own,
when another writer has committed since this one's last commit: the log lock is then held for the
log and the journal only, and the other writers' inserts overlap the fold (``commit``'s
``after``). A smaller batch folds inside: its fold holds the lock briefly, and a second commit
would cost it more than the lock it frees. PostgreSQL only: SQLite's one write lock would serialise
the fold's own transaction as well, and it would only add a commit."""

Heads = tuple[int, int]
"""The journal's last position (messages and settlements) and the log's last notification ID:
every commit of any writer moves one of them (a commit always appends a journal record or an
event), so unchanged heads mean that nothing was committed in between."""


def read_heads(tx: Tx) -> Heads:
    """The journal's and the log's heads (``Heads``) as ``tx`` sees them."""
    return journal_head(tx)[0], _event_head(tx)[0]


def _event_head(tx: Tx) -> tuple[int, bytes]:
    """The log's last notification ID and hash ((0, GENESIS) when empty)."""
    last = tx.one("SELECT notification_id, hash FROM events ORDER BY notification_id DESC LIMIT 1")
    return (0, GENESIS) if last is None else (int(last[0]), bytes(last[1]))


@dataclass(slots=True)
class JournalEntry:
    """One inbound message and what became of it."""

    received_at: str
    origin: str
    line_no: int | None
    format: str
    raw: bytes
    outcome: Outcome
    reason: str | None = None
    client_order_id: str | None = None
    event_count: int = 0
    message_id: int | None = None  # assigned at commit, or known already for parked ones
    # The input's messages still waiting for their order: part → (keys awaited, the
    # ledger-format message to apply once one of the keys is known). Keys are (venue, kind, value).
    parked: dict[int, tuple[list[tuple[str, str, str]], bytes]] = field(default_factory=dict)
    # For an entry settling parts parked by an earlier batch: the parts it settles.
    settles: list[int] = field(default_factory=list)


@dataclass
class Commit:
    """Everything one group commit writes."""

    events: list[IndexedStoredEvent] = field(default_factory=list)
    event_entries: list[JournalEntry] = field(default_factory=list)  # the message of each event
    journal: list[JournalEntry] = field(default_factory=list)  # new messages
    resolved: list[JournalEntry] = field(default_factory=list)  # parked earlier, settled now
    identities: list[tuple[str, str, str, str]] = field(default_factory=list)
    # Keys this batch made resolvable (new orders, new identities): nobody may have parked on
    # them unseen. Checked under the log lock, with the parked entries' keys, at commit.
    resolvable: list[tuple[str, str, str]] = field(default_factory=list)
    # Some keys were not built (``Parking._quiet``: nothing waited and the writer was alone): a
    # commit that finds another writer's commit before it, and lines parked, is refused as stale.
    unkeyed: bool = False
    # Orders the batch's decisions read, at the version read: none may have moved meanwhile,
    # or a decision that appends nothing (a rejection) would rest on stale state.
    consulted: dict[str, int] = field(default_factory=dict)
    # The heads (``Heads``) its writer left with its own last commit, when nothing but its own
    # commits has been written since its caches were emptied (``Processor``): still the heads
    # under the log lock, no other writer has committed since anything the batch read, so the
    # checks against other writers (``consulted``, the parking checks) have nothing to find.
    alone_since: Heads | None = None
    # Set by ``LedgerRecorder.commit`` when ``alone_since`` held: the heads this commit left.
    heads: Heads | None = None


class LedgerRecorder(ApplicationRecorder):
    """eventsourcing's ApplicationRecorder over the ledger's tables, plus the group commit."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ set-up

    def is_initialised(self) -> bool:
        """True once the ledger's tables exist in this database."""
        with self.db.read() as tx:
            return _initialised(tx)

    def create_tables(self) -> None:
        """Create the tables if they do not exist, or upgrade those an earlier release wrote
        (idempotent; DDL only on a new or an older database). Processes starting together on a
        new database create them once: one creates, the others wait for it (``lock_schema``)."""
        if not self.is_initialised():
            with self.db.write() as tx:
                lock_schema(tx)
                if not _initialised(tx):  # (made meanwhile by the process this one waited for)
                    for statement in schema(self.db.dialect) + append_only(self.db.dialect):
                        tx.execute(statement)
                    tx.execute(
                        "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)",
                        (SCHEMA_VERSION,),
                    )
                    cursors.store_new(tx)
        if self.schema_version() < int(SCHEMA_VERSION):
            self._upgrade()
        cursors.ensure(self.db)  # a ledger made before it had a cursor secret

    def schema_version(self) -> int:
        """The version of the schema this database was last written with (1: none recorded)."""
        with self.db.read() as tx:
            row = tx.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
        return int(row[0]) if row is not None and str(row[0]).isdigit() else 1

    def setting(self, key: str) -> str | None:
        """A ledger setting stored in ``ledger_meta`` (None: never set)."""
        with self.db.read() as tx:
            row = tx.one("SELECT value FROM ledger_meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        """Store a ledger setting (the owner's right: the application role only reads them)."""
        with self.db.write() as tx:
            tx.execute("DELETE FROM ledger_meta WHERE key = ?", (key,))
            tx.execute("INSERT INTO ledger_meta (key, value) VALUES (?, ?)", (key, value))

    def _upgrade(self) -> None:
        """Add what this release's schema has and an older database lacks; nothing is rewritten."""
        version = 1
        try:
            with self.db.write() as tx:
                lock_schema(tx)  # one process upgrades; the others then find it done
                self._lock(tx)
                row = tx.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
                version = int(row[0]) if row is not None and str(row[0]).isdigit() else 1
                if version >= int(SCHEMA_VERSION):
                    return
                for statement in upgrade(self.db.dialect, version):
                    if "ADD COLUMN hash" in statement and "hash" in table_columns(tx, "messages"):
                        continue
                    if "ADD CONSTRAINT events_chained" in statement and tx.one(
                        "SELECT 1 FROM pg_constraint WHERE conname = 'events_chained'"
                        " AND conrelid = to_regclass('events')"
                    ):
                        continue
                    tx.execute(statement)
                if "part" not in table_columns(tx, "parked"):
                    add_parked_part(tx)
                if version < 3:
                    rekey_events(tx)
                if version < 4:
                    chain_journal(tx)
                for statement in append_only(self.db.dialect):
                    tx.execute(statement)
                tx.execute("DELETE FROM ledger_meta WHERE key = 'schema_version'")
                tx.execute(
                    "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
        except DatabaseReadOnlyError:
            return  # opened read-only: it is read as it is (only chained rows are loaded)
        except StoreError as error:
            if self.db.dialect != "postgresql" or "must be owner" not in str(error):
                raise
            raise ConfigurationError(
                f"this database was written by an earlier release (schema {version}): run"
                " `orderledger db init` once as the owner of its tables to upgrade it"
            ) from None

    # ------------------------------------------------------------------ writing

    def _lock(self, tx: Tx) -> None:
        # Insert order must equal commit order so that tailing readers never skip a row:
        # notification IDs are assigned under this lock, which is held until commit.
        self.db.lock_log(tx)

    @contextlib.contextmanager
    def locked(self) -> Iterator[Tx]:
        """A write transaction holding the log lock: reads and the commit made inside it join it,
        and no other writer can commit meanwhile, so decisions taken inside cannot go stale."""
        with self.db.write() as tx:
            self._lock(tx)
            yield tx

    def commit(self, batch: Commit, after: Callable[[Tx, list[int]], None] | None = None) -> list[int]:
        """Write a group commit atomically; returns the events' notification IDs.

        ``after`` runs inside the same transaction once the events are inserted (the views use
        it to fold them without a second commit), unless other writers are at work and the batch
        has ``FOLD_AFTER_COMMIT`` events or more: the caller then folds them after the commit.
        """
        with self.db.write() as tx:
            self._lock(tx)
            position, previous = journal_head(tx)
            event_head = _event_head(tx)
            alone = batch.alone_since is not None and batch.alone_since == (position, event_head[0])
            if not alone:
                # The keys left unbuilt serve only to find lines parked elsewhere that this batch
                # releases: with none parked anywhere, another writer's commit leaves it sound.
                if batch.unkeyed and tx.one("SELECT 1 FROM parked LIMIT 1") is not None:
                    raise StaleBatchError("another writer committed while this batch was decided alone")
                # Another writer may have committed since the batch's reads: check what it read.
                self._check_parking(tx, batch)
                self._check_versions(tx, batch)
            rows = []
            for entry in batch.journal:
                position += 1
                entry.message_id = position
                parts = [
                    [part, parked_digest(part, keys, message)]
                    for part, (keys, message) in sorted(entry.parked.items())
                ]
                row = (
                    position,
                    entry.received_at,
                    entry.origin,
                    entry.line_no,
                    entry.format,
                    entry.raw,
                    entry.outcome,
                    entry.reason,
                    entry.client_order_id,
                    entry.event_count,
                )
                previous = journal_link(previous, message_fields(row, parts), entry.raw)
                rows.append((*row, previous))
            tx.executemany(
                "INSERT INTO messages (message_id, received_at, origin, line_no, format, raw,"
                " outcome, reason, client_order_id, event_count, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            tx.executemany(
                "INSERT INTO parked (message_id, part, venue, kind, value, message) VALUES (?,?,?,?,?,?)",
                [
                    (e.message_id, part, *key, message)
                    for e in batch.journal
                    for part, (keys, message) in sorted(e.parked.items())
                    for key in keys
                ],
            )
            ids = self._insert(tx, batch.events, [e.message_id for e in batch.event_entries], event_head)
            tx.executemany(
                "INSERT INTO identities (venue, kind, value, client_order_id) VALUES (?,?,?,?)",
                batch.identities,
            )
            if batch.resolved:
                # After the events and identities that released them (PostgreSQL's
                # orderledger_settle checks that they are there).
                position = self._settle(tx, batch.resolved, position, previous, ids[0] if ids else None)
            if (
                after is not None
                and ids
                and (alone or len(ids) < FOLD_AFTER_COMMIT or tx.dialect == "sqlite")
            ):
                after(tx, ids)
            batch.heads = (position, ids[-1] if ids else event_head[0]) if alone else None
            return ids

    def _settle(
        self, tx: Tx, settled: Sequence[JournalEntry], position: int, previous: bytes, first_event: int | None
    ) -> int:
        """Append a settlement record for each parked line a batch settles (one per line: the
        processor merges the parts a batch settles of one line), then delete the settled parts'
        rows and set the line's outcome; returns the journal's last position. An input with parts
        still waiting stays parked; its events add up."""
        assert len({e.message_id for e in settled}) == len(settled), "a line settled twice"
        lines = {e.message_id for e in settled}
        before: dict[int, tuple[str | None, str | None, int]] = {}
        waiting: Waiting = {}
        for ids in _chunks(sorted(lines, key=int), 500):
            marks = ",".join("?" * len(ids))
            for r in tx.all(
                f"SELECT message_id, reason, client_order_id, event_count FROM messages"
                f" WHERE message_id IN ({marks})",
                ids,
            ):
                before[r[0]] = (r[1], r[2], int(r[3]))
            waiting.update(parked_parts(tx.all(f"{PARKED_ROWS} WHERE message_id IN ({marks})", ids)))
        records = []
        for entry in settled:
            assert entry.message_id is not None
            reason, client_order_id, count = before[entry.message_id]
            parts = waiting.get(entry.message_id, {})
            digests = [
                [part, parked_digest(part, *parts[part])] for part in sorted(entry.settles) if part in parts
            ]
            still = any(part not in entry.settles for part in parts)
            position += 1
            record = (
                position,
                entry.message_id,
                # What json.dumps(digests, separators=(",", ":")) writes for parts and hex digests.
                orjson.dumps(digests).decode(),
                reason,
                client_order_id,
                count,
                Outcome.PARKED if still else entry.outcome,
                entry.reason,
                entry.client_order_id,
                count + entry.event_count,
            )
            previous = journal_link(previous, settlement_fields(record))
            records.append((record, sorted(entry.settles), previous))
        if tx.dialect == "postgresql":
            for record, settles, digest in records:
                tx.execute(
                    "SELECT orderledger_settle(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*record[:2], settles, *record[2:], first_event, digest),
                )
            return position
        tx.executemany(
            "INSERT INTO settlements (position, message_id, parts, before_reason, before_client_order_id,"
            " before_event_count, outcome, reason, client_order_id, event_count, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(*record, digest) for record, _, digest in records],
        )
        tx.executemany(
            "DELETE FROM parked WHERE message_id = ? AND part = ?",
            [(record[1], part) for record, parts, _ in records for part in parts],
        )
        tx.executemany(
            "UPDATE messages SET outcome = ?, reason = ?, client_order_id = ?, event_count = ?"
            " WHERE message_id = ?",
            [(*record[6:], record[1]) for record, _, _ in records],
        )
        return position

    def _check_versions(self, tx: Tx, batch: Commit) -> None:
        """Refuse a batch decided on an order another writer has appended to since it was read."""
        if not batch.consulted:
            return
        consulted = batch.consulted
        keys = list(consulted)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            sql, params = select_by_keys(
                "events", _VERSIONED, ("client_order_id",), [(k,) for k in chunk], tx.dialect
            )
            rows = tx.all(
                f"SELECT client_order_id, MAX(originator_version) FROM ({sql}) AS consulted"
                " GROUP BY client_order_id",
                params,
            )
            for client_order_id, version in rows:
                if version != consulted[client_order_id]:
                    raise StaleBatchError("an order this batch read was changed by another writer")

    def _check_parking(self, tx: Tx, batch: Commit) -> None:
        """Refuse a batch whose parking decisions another writer has made stale meanwhile.

        Two writers can race: one parks a fact for an order the other is creating. Under the
        log lock exactly one commits first, and the second must see it: a parked message whose
        order now exists, or a new order for which a message was parked unseen, sends the batch
        back to be decided again.
        """
        settling = sorted({e.message_id for e in batch.resolved if e.message_id is not None})
        for start in range(0, len(settling), 500):
            # A parked line another writer settled meanwhile (its order arrived, or a person set
            # it aside): the batch is decided again, never settles it twice.
            lines = settling[start : start + 500]
            marks = ", ".join("?" for _ in lines)
            if tx.one(
                f"SELECT 1 FROM messages WHERE message_id IN ({marks})"
                f" AND outcome <> '{Outcome.PARKED}' LIMIT 1",
                lines,
            ):
                raise StaleBatchError("a parked line this batch settles was settled elsewhere")
        # What the batch parked on, and whether on the name itself (True) or only on a trade of
        # the order it names. A message parked on a name that exists now was decided on a stale
        # view (the order, or the name, committed elsewhere meanwhile), whatever the batch read.
        # A bust waiting for its trade may rightly name an existing order: one this batch read
        # is guarded by its version; one it did not read may hold the trade now.
        orders: dict[str, bool] = {}  # client order IDs
        identities: dict[tuple[str, str, str], bool] = {}
        for e in batch.journal:
            for keys, _ in e.parked.values():
                for key in keys:
                    (venue, kind, value), trade = waited_on(key)
                    if kind == CLIENT_ORDER_ID:
                        orders[value] = orders.get(value, False) or trade is None
                    else:
                        name = (venue, kind, value)
                        identities[name] = identities.get(name, False) or trade is None
        # One lookup per chunk of keys, not per key: a shuffled feed parks half its lines.
        found: list[tuple[str, str, bool]] = []
        requests = [(value, str(_order_uuid(value)), 1) for value in sorted(orders)]
        for chunk in _chunks(requests, 300):
            # The order's request, by the events' unique key (client order ID, aggregate, version).
            sql, params = select_by_keys("events", ("client_order_id",), _REQUEST_KEY, chunk, tx.dialect)
            found += [(f"client_order_id {r[0]!r}", r[0], orders[r[0]]) for r in tx.all(sql, params)]
        for chunk in _chunks(sorted(identities), 300):
            sql, params = select_by_keys(
                "identities",
                ("venue", "kind", "value", "client_order_id"),
                ("venue", "kind", "value"),
                chunk,
                tx.dialect,
            )
            found += [(f"{r[1]} {r[2]!r}", r[3], identities[r[0], r[1], r[2]]) for r in tx.all(sql, params)]
        for named, owner, directly in found:
            if directly or owner not in batch.consulted:
                raise StaleBatchError(f"the order for parked {named} was just created elsewhere")
        if not batch.resolvable or tx.one("SELECT 1 FROM parked LIMIT 1") is None:
            return
        resolved = {(e.message_id, part) for e in batch.resolved for part in e.settles}
        keys = list(dict.fromkeys(batch.resolvable))
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            clauses = " OR ".join("(venue = ? AND kind = ? AND value = ?)" for _ in chunk)
            rows = tx.all(
                f"SELECT message_id, part FROM parked WHERE {clauses}", [p for k in chunk for p in k]
            )
            if any((r[0], r[1]) not in resolved for r in rows):
                raise StaleBatchError("a message for one of this batch's orders was just parked elsewhere")

    def _insert(
        self,
        tx: Tx,
        events: Sequence[StoredEvent],
        message_ids: Sequence[int | None],
        head: tuple[int, bytes] | None = None,
    ) -> list[int]:
        """Append events after the log's ``head`` (read here when not given)."""
        if not events:
            return []
        position, previous = _event_head(tx) if head is None else head
        first = position + 1
        rows = []
        for stored, message_id in zip(events, message_ids, strict=True):
            position += 1
            row = (
                position,
                str(stored.originator_id),
                stored.originator_version,
                stored.topic,
                stored.state,
                *_index_columns(stored),
                message_id,
            )
            previous = link(previous, row)
            rows.append((*row, previous))
        tx.executemany(
            "INSERT INTO events (notification_id, originator_id, originator_version, topic,"
            " state, event_type, client_order_id, account, venue, instrument, ts_event,"
            " ts_recorded, source, message_id, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        return list(range(first, first + len(rows)))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """eventsourcing's entry point: store events (without a journal) in one transaction."""
        try:
            with self.db.write() as tx:
                self._lock(tx)
                return self._insert(tx, stored_events, [None] * len(stored_events))
        except Exception as error:
            if is_integrity_error(error):
                raise IntegrityError(error) from error
            raise

    # ------------------------------------------------------------------ reading

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
        client_order_id: str | None = None,
    ) -> Sequence[StoredEvent]:
        """One aggregate's events, by version.

        ``client_order_id``: the aggregate's (an instrument's is ""), which the ledger's own
        callers always give: its events are indexed by it first. Without it (eventsourcing's
        generic callers) the events are found by ``originator_id`` alone, which the log does not
        index."""
        # Only chained rows (positive positions): the CHECK refuses others, and a database written
        # before the CHECK existed may still hold some, which ``verify`` reports.
        sql = (
            "SELECT originator_version, topic, state FROM events"
            " WHERE originator_id = ? AND notification_id > 0"
        )
        params: list[Any] = [str(originator_id)]
        if client_order_id is not None:
            sql += " AND client_order_id = ?"
            params.append(client_order_id)
        if gt is not None:
            sql += " AND originator_version > ?"
            params.append(gt)
        if lte is not None:
            sql += " AND originator_version <= ?"
            params.append(lte)
        sql += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.db.read() as tx:
            rows = tx.all(sql, params)
        oid = UUID(str(originator_id))
        return [StoredEvent(oid, r[0], r[1], payload(r[2])) for r in rows]

    def select_events_many(
        self, client_order_ids: Collection[str], decode: Callable[[StoredEvent], T]
    ) -> dict[str, list[T]]:
        """Several orders' events in one query (loading a batch's orders), by client order ID, each
        decoded as it is read (``decode``: ``LedgerMapper.to_domain_event``)."""
        keys = list(client_order_ids)
        wanted = {str(order_id_for(c)) for c in keys}
        result: dict[str, list[T]] = {}
        with self.db.read() as tx:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                sql, params = select_by_keys(
                    "events", _LOADED, ("client_order_id",), [(k,) for k in chunk], tx.dialect, _CHAINED
                )
                for r in tx.all(sql + " ORDER BY client_order_id, originator_id, originator_version", params):
                    if r[1] not in wanted:
                        continue
                    result.setdefault(r[0], []).append(
                        decode(StoredEvent(UUID(r[1]), r[2], r[3], payload(r[4])))
                    )
        return result

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The global log from ``start``, in notification order."""
        sql = "SELECT notification_id, originator_id, originator_version, topic, state FROM events"
        clauses: list[str] = ["notification_id > 0"]  # chained rows only
        params: list[Any] = []
        if start is not None:
            clauses.append("notification_id >= ?" if inclusive_of_start else "notification_id > ?")
            params.append(start)
        if stop is not None:
            clauses.append("notification_id <= ?")
            params.append(stop)
        if topics:
            clauses.append(f"topic IN ({','.join('?' * len(topics))})")
            params.extend(topics)
        sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY notification_id LIMIT ?"
        params.append(limit)
        with self.db.read() as tx:
            rows = tx.all(sql, params)
        return [
            Notification(
                id=r[0],
                originator_id=UUID(r[1]),
                originator_version=r[2],
                topic=r[3],
                state=payload(r[4]),
            )
            for r in rows
        ]

    def max_notification_id(self) -> int | None:
        """The last notification ID, or None for an empty log."""
        with self.db.read() as tx:
            return tx.one("SELECT MAX(notification_id) FROM events")[0]

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[Any]:
        """eventsourcing's live subscription: notifications after ``gt``, then each one committed
        later, until ``stop()``. It polls the log (as ``OrderLedger.follow`` does): no NOTIFY to
        lose, and it works alike on both backends and across processes."""
        return PollingSubscription(self, gt, topics)


class PollingSubscription(Subscription[LedgerRecorder]):
    """Notifications in log order, read in pages; waits ``interval`` seconds between empty reads
    (``stop()``, from any thread, ends the iteration at once)."""

    PAGE = 500

    def __init__(
        self,
        recorder: LedgerRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        interval: float = 0.1,
    ) -> None:
        super().__init__(recorder, gt, topics)
        self.interval = interval
        self._stopped = threading.Event()
        self._page: collections.deque[Notification] = collections.deque()

    def stop(self) -> None:
        super().stop()
        self._stopped.set()

    def __next__(self) -> Notification:
        while not self._page:
            if self._stopped.is_set():
                raise StopIteration
            after = self._last_notification_id or 0
            found = self._recorder.select_notifications(
                after, self.PAGE, topics=self._topics, inclusive_of_start=False
            )
            if found:
                self._page.extend(found)
            else:
                self._stopped.wait(self.interval)
        if self._stopped.is_set():
            raise StopIteration
        notification = self._page.popleft()
        self._last_notification_id = notification.id
        return notification


def payload(value: Any) -> bytes:
    """A stored event's payload as bytes; one line when the row holds something else (text put in
    a SQLite BLOB column by a writer other than the ledger)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise StoreError(
        f"an event's payload is stored as {type(value).__name__}, not bytes: the events table was"
        " written outside the ledger (run `orderledger verify`)"
    )


def _order_uuid(client_order_id: str) -> UUID:
    return order_id_for(client_order_id)


def _index_columns(stored: StoredEvent) -> tuple[str, ...]:
    if isinstance(stored, IndexedStoredEvent):
        return (
            stored.event_type,
            stored.client_order_id,
            stored.account,
            stored.venue,
            stored.instrument,
            stored.ts_event,
            stored.ts_recorded,
            stored.source,
        )
    raise TypeError("the ledger stores only events mapped by LedgerMapper")
