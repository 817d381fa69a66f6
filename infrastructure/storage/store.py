"""The ledger's tables and the recorder that writes a whole group commit in one transaction.

One transaction holds, for a batch of inbound messages: their journal rows, the events they
produced (hash-chained, with search columns), the secondary identities those events record,
and the parked-message bookkeeping. Either all of it is stored or none of it.
"""

from __future__ import annotations

import collections
import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)

from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.errors import (
    ConfigurationError,
    DatabaseReadOnlyError,
    StaleBatchError,
    StoreError,
)
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.storage.db import (
    Database,
    Tx,
    is_integrity_error,
    select_by_keys,
    table_columns,
)
from orderledger.infrastructure.storage.mapper import IndexedStoredEvent

SCHEMA_VERSION = "3"
"""1: the first release. 2: positions are positive (CHECK), SQLite refuses INSERT OR REPLACE of
events, the journal and the identities are append-only (a parked line's outcome is settled once).
3: the events' unique key leads with the client order ID (no index led by the random order UUID);
rows and hashes unchanged."""

# An order's events as loaded to decide on it, and what a batch checks of the orders it read.
_LOADED = ("client_order_id", "originator_id", "originator_version", "topic", "state")
_VERSIONED = ("client_order_id", "originator_version")
_CHAINED = "notification_id > 0"  # rows in the hash chain only


def schema(dialect: str) -> list[str]:
    """CREATE statements for the ledger's own tables (views create theirs)."""
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    # Every stored event is in the chain: its position is positive and present (a PRIMARY KEY that
    # is not SQLite's rowid may be NULL there), and on SQLite its payload is bytes, never text.
    state_check = "" if dialect == "postgresql" else " CHECK (typeof(state) = 'blob')"
    return [
        "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS events (
            notification_id BIGINT NOT NULL PRIMARY KEY
                CONSTRAINT events_chained CHECK (notification_id > 0),
            originator_id TEXT NOT NULL,
            originator_version BIGINT NOT NULL,
            topic TEXT NOT NULL,
            state {blob} NOT NULL{state_check},
            event_type TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            account TEXT NOT NULL,
            venue TEXT NOT NULL,
            instrument TEXT NOT NULL,
            ts_event TEXT NOT NULL,
            ts_recorded TEXT NOT NULL,
            source TEXT NOT NULL,
            message_id BIGINT,
            hash {blob} NOT NULL,
            UNIQUE (client_order_id, originator_id, originator_version))""",
        # An order's events are found by its client order ID first: a random UUID first would
        # put each new event on a random page of the index, so every batch would write pages
        # all over it and ingest would slow as the log grows. The same key refuses a second
        # writer's duplicate version (an aggregate's events all have one client order ID; an
        # instrument's have ""), and serves `orderledger events --order`.
        # Search indexes (docs/audit.md): each other filter of `orderledger events` walks one of
        # these in notification order, so results stream without sorting the log.
        "CREATE INDEX IF NOT EXISTS events_by_type ON events (event_type, notification_id)",
        "CREATE INDEX IF NOT EXISTS events_by_account ON events (account, notification_id)",
        "CREATE INDEX IF NOT EXISTS events_by_venue ON events (venue, notification_id)",
        "CREATE INDEX IF NOT EXISTS events_by_instrument ON events (instrument, notification_id)",
        "CREATE INDEX IF NOT EXISTS events_by_recorded ON events (ts_recorded)",
        "CREATE INDEX IF NOT EXISTS events_by_venue_time ON events (ts_event)",
        f"""CREATE TABLE IF NOT EXISTS messages (
            message_id BIGINT PRIMARY KEY,
            received_at TEXT NOT NULL,
            origin TEXT NOT NULL,
            line_no BIGINT,
            format TEXT NOT NULL,
            raw {blob} NOT NULL,
            outcome TEXT NOT NULL,
            reason TEXT,
            client_order_id TEXT,
            event_count INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS messages_outcome ON messages (outcome, message_id)",
        "CREATE INDEX IF NOT EXISTS messages_received ON messages (received_at)",
        """CREATE TABLE IF NOT EXISTS identities (
            venue TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            PRIMARY KEY (venue, kind, value))""",
        # A parked message waits on every identity it names (one row each): whichever of
        # them an order records first releases it. One input can hold several messages
        # (a list of trades, a FIX log line): `part` is the message's place in its input.
        f"""CREATE TABLE IF NOT EXISTS parked (
            message_id BIGINT NOT NULL,
            part INTEGER NOT NULL DEFAULT 0,
            venue TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            message {blob} NOT NULL,
            PRIMARY KEY (message_id, part, venue, kind, value))""",
        "CREATE INDEX IF NOT EXISTS parked_key ON parked (kind, value, venue)",
        "CREATE TABLE IF NOT EXISTS view_tracking (view TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    ]


def append_only(dialect: str) -> list[str]:
    """Triggers by which the database itself keeps the record append-only.

    ``events`` and ``identities``: no UPDATE, DELETE or TRUNCATE. The journal (``messages``): no
    DELETE or TRUNCATE, and an UPDATE only settles a parked line's outcome (its text, origin and
    times never change). On SQLite, where ``INSERT OR REPLACE`` deletes the row it replaces without
    firing a DELETE trigger, an insert whose key exists is refused before it can replace anything.
    """
    settled = " (only the outcome of a parked line is settled)"
    if dialect == "postgresql":
        return [
            """CREATE OR REPLACE FUNCTION orderledger_append_only() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN
                   RAISE EXCEPTION 'the % table is append-only: % refused', TG_TABLE_NAME, TG_OP
                       USING ERRCODE = 'insufficient_privilege';
               END $$""",
            f"""CREATE OR REPLACE FUNCTION orderledger_settle_only() RETURNS trigger
               LANGUAGE plpgsql AS $$
               BEGIN
                   IF OLD.outcome <> 'parked' OR NEW.message_id <> OLD.message_id
                      OR NEW.raw <> OLD.raw OR NEW.received_at <> OLD.received_at
                      OR NEW.origin <> OLD.origin OR NEW.format <> OLD.format
                      OR NEW.line_no IS DISTINCT FROM OLD.line_no THEN
                       RAISE EXCEPTION 'the messages table is append-only: UPDATE refused{settled}'
                           USING ERRCODE = 'insufficient_privilege';
                   END IF;
                   RETURN NEW;
               END $$""",
            *(
                statement
                for table in ("events", "identities")
                for statement in (
                    f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                    " FOR EACH ROW EXECUTE FUNCTION orderledger_append_only()",
                    f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION orderledger_append_only()",
                )
            ),
            "CREATE OR REPLACE TRIGGER messages_no_delete BEFORE DELETE ON messages"
            " FOR EACH ROW EXECUTE FUNCTION orderledger_append_only()",
            "CREATE OR REPLACE TRIGGER messages_no_truncate BEFORE TRUNCATE ON messages"
            " FOR EACH STATEMENT EXECUTE FUNCTION orderledger_append_only()",
            "CREATE OR REPLACE TRIGGER messages_settle_only BEFORE UPDATE ON messages"
            " FOR EACH ROW EXECUTE FUNCTION orderledger_settle_only()",
        ]

    def refuse(table: str, operation: str, why: str = "") -> str:
        return f"SELECT RAISE(ABORT, 'the {table} table is append-only: {operation} refused{why}')"

    statements = []
    for table in ("events", "identities"):
        statements += [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}"
            f" BEGIN {refuse(table, 'UPDATE')}; END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}"
            f" BEGIN {refuse(table, 'DELETE')}; END",
        ]
    return [
        *statements,
        # The CHECKs of the CREATE TABLE again, for databases created before them (SQLite cannot
        # add a CHECK to a table), and the refusal of REPLACE.
        "CREATE TRIGGER IF NOT EXISTS events_chained_only BEFORE INSERT ON events BEGIN"
        f" {refuse('events', 'INSERT', ' (an event needs a positive notification_id)')}"
        " WHERE NEW.notification_id IS NULL OR typeof(NEW.notification_id) <> 'integer'"
        " OR NEW.notification_id <= 0;"
        f" {refuse('events', 'INSERT', ' (the payload of an event is stored as bytes)')}"
        " WHERE typeof(NEW.state) <> 'blob';"
        f" {refuse('events', 'REPLACE', ' (that position or version is taken)')}"
        " WHERE EXISTS (SELECT 1 FROM events WHERE notification_id = NEW.notification_id)"
        " OR EXISTS (SELECT 1 FROM events WHERE client_order_id = NEW.client_order_id"
        " AND originator_id = NEW.originator_id AND originator_version = NEW.originator_version); END",
        "CREATE TRIGGER IF NOT EXISTS identities_no_replace BEFORE INSERT ON identities BEGIN"
        f" {refuse('identities', 'REPLACE')} WHERE EXISTS (SELECT 1 FROM identities"
        " WHERE venue = NEW.venue AND kind = NEW.kind AND value = NEW.value); END",
        "CREATE TRIGGER IF NOT EXISTS messages_no_replace BEFORE INSERT ON messages BEGIN"
        f" {refuse('messages', 'REPLACE')}"
        " WHERE EXISTS (SELECT 1 FROM messages WHERE message_id = NEW.message_id); END",
        "CREATE TRIGGER IF NOT EXISTS messages_no_delete BEFORE DELETE ON messages"
        f" BEGIN {refuse('messages', 'DELETE')}; END",
        "CREATE TRIGGER IF NOT EXISTS messages_settle_only BEFORE UPDATE ON messages"
        " WHEN OLD.outcome <> 'parked' OR NEW.message_id IS NOT OLD.message_id"
        " OR NEW.raw IS NOT OLD.raw OR NEW.received_at IS NOT OLD.received_at"
        " OR NEW.origin IS NOT OLD.origin OR NEW.format IS NOT OLD.format"
        " OR NEW.line_no IS NOT OLD.line_no"
        f" BEGIN {refuse('messages', 'UPDATE', settled)}; END",
    ]


def ledger_triggers(dialect: str) -> set[str]:
    """The names of the triggers ``append_only`` creates."""
    return {m for s in append_only(dialect) for m in re.findall(r"TRIGGER (?:IF NOT EXISTS )?(\w+)", s)}


def foreign_triggers(tx: Tx) -> list[tuple[str, str]]:
    """(table, trigger) of every trigger on the ledger's tables that the ledger did not create.

    A trigger runs with the rights of whoever fires it: one attached by someone else to any table
    the ledger writes would run as the next administrator who writes."""
    if tx.dialect == "postgresql":
        sql = (
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
        )
    else:
        sql = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
    ours = ledger_triggers(tx.dialect)
    return sorted((str(r[0]), str(r[1])) for r in tx.all(sql) if r[1] not in ours)


def upgrade(dialect: str, version: int) -> list[str]:
    """Statements that bring a database written at schema ``version`` to SCHEMA_VERSION."""
    statements: list[str] = []
    if version < 2:
        if dialect == "postgresql":
            # NOT VALID: rows already outside the chain stay (``verify`` counts and reports them),
            # and no new one can be added.
            statements.append(
                "ALTER TABLE events ADD CONSTRAINT events_chained CHECK (notification_id > 0) NOT VALID"
            )
        statements += append_only(dialect)
    return statements


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
    # Orders the batch's decisions read, at the version read: none may have moved meanwhile,
    # or a decision that appends nothing (a rejection) would rest on stale state.
    consulted: dict[str, int] = field(default_factory=dict)


class LedgerRecorder(ApplicationRecorder):
    """eventsourcing's ApplicationRecorder over the ledger's tables, plus the group commit."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ set-up

    def is_initialised(self) -> bool:
        """True once the ledger's tables exist in this database."""
        with self.db.read() as tx:
            if tx.dialect == "postgresql":
                row = tx.one("SELECT to_regclass('ledger_meta')")
                return row is not None and row[0] is not None
            return tx.one("SELECT 1 FROM sqlite_master WHERE name = 'ledger_meta'") is not None

    def create_tables(self) -> None:
        """Create the tables if they do not exist, or upgrade those an earlier release wrote
        (idempotent; DDL only on a new or an older database)."""
        if self.is_initialised():
            if self.schema_version() < int(SCHEMA_VERSION):
                self._upgrade()
            return
        with self.db.write() as tx:
            for statement in schema(self.db.dialect) + append_only(self.db.dialect):
                tx.execute(statement)
            row = tx.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
            if row is None:
                tx.execute(
                    "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )

    def schema_version(self) -> int:
        """The version of the schema this database was last written with (1: none recorded)."""
        with self.db.read() as tx:
            row = tx.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
        return int(row[0]) if row is not None and str(row[0]).isdigit() else 1

    def _upgrade(self) -> None:
        """Add what this release's schema has and an older database lacks; nothing is rewritten."""
        version = 1
        try:
            with self.db.write() as tx:
                self._lock(tx)  # one process upgrades; the others then find it done
                row = tx.one("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
                version = int(row[0]) if row is not None and str(row[0]).isdigit() else 1
                if version >= int(SCHEMA_VERSION):
                    return
                for statement in upgrade(self.db.dialect, version):
                    if "ADD CONSTRAINT events_chained" in statement and tx.one(
                        "SELECT 1 FROM pg_constraint WHERE conname = 'events_chained'"
                        " AND conrelid = to_regclass('events')"
                    ):
                        continue
                    tx.execute(statement)
                if "part" not in table_columns(tx, "parked"):
                    _add_parked_part(tx)
                if version < 3:
                    _rekey_events(tx)
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
        it to fold them without a second commit).
        """
        with self.db.write() as tx:
            self._lock(tx)
            self._check_parking(tx, batch)
            self._check_versions(tx, batch)
            next_message = (tx.one("SELECT MAX(message_id) FROM messages")[0] or 0) + 1
            for entry in batch.journal:
                entry.message_id = next_message
                next_message += 1
            tx.executemany(
                "INSERT INTO messages (message_id, received_at, origin, line_no, format, raw,"
                " outcome, reason, client_order_id, event_count) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        e.message_id,
                        e.received_at,
                        e.origin,
                        e.line_no,
                        e.format,
                        e.raw,
                        e.outcome,
                        e.reason,
                        e.client_order_id,
                        e.event_count,
                    )
                    for e in batch.journal
                ],
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
            if batch.resolved:
                # One entry, so one UPDATE, per parked line (the journal's trigger lets a line be
                # settled once): the processor merges the parts a batch settles of one line.
                settled = batch.resolved
                assert len({e.message_id for e in settled}) == len(settled), "a line settled twice"
                tx.executemany(
                    "DELETE FROM parked WHERE message_id = ? AND part = ?",
                    [(e.message_id, part) for e in settled for part in e.settles],
                )
                # An input with parts still waiting stays parked; its events add up.
                tx.executemany(
                    "UPDATE messages SET outcome = CASE WHEN EXISTS (SELECT 1 FROM parked p"
                    " WHERE p.message_id = messages.message_id) THEN 'parked' ELSE ? END,"
                    " reason = ?, client_order_id = ?, event_count = event_count + ? WHERE message_id = ?",
                    [(e.outcome, e.reason, e.client_order_id, e.event_count, e.message_id) for e in settled],
                )
            ids = self._insert(tx, batch.events, [e.message_id for e in batch.event_entries])
            tx.executemany(
                "INSERT INTO identities (venue, kind, value, client_order_id) VALUES (?,?,?,?)",
                batch.identities,
            )
            if after is not None and ids:
                after(tx, ids)
            return ids

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
        parking = [key for e in batch.journal for keys, _ in e.parked.values() for key in keys]
        for venue, kind, value in parking:
            if kind == "client_order_id":
                found = tx.one(
                    "SELECT 1 FROM events WHERE client_order_id = ? AND originator_id = ?"
                    " AND originator_version = 1",
                    (value, str(_order_uuid(value))),
                )
            else:
                found = tx.one(
                    "SELECT 1 FROM identities WHERE venue = ? AND kind = ? AND value = ?",
                    (venue, kind, value),
                )
            if found is not None:
                raise StaleBatchError(f"the order for parked {kind} {value!r} was just created elsewhere")
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

    def _insert(self, tx: Tx, events: Sequence[StoredEvent], message_ids: Sequence[int | None]) -> list[int]:
        if not events:
            return []
        last = tx.one("SELECT notification_id, hash FROM events ORDER BY notification_id DESC LIMIT 1")
        position, previous = (0, GENESIS) if last is None else (last[0], bytes(last[1]))
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

    def select_events_many(self, orders: Mapping[UUID, str]) -> dict[UUID, list[StoredEvent]]:
        """Several orders' events in one query (loading a batch's orders): ``orders`` maps each
        order's originator ID to its client order ID."""
        keys = list(dict.fromkeys(orders.values()))
        wanted = {str(i) for i in orders}
        result: dict[UUID, list[StoredEvent]] = {}
        with self.db.read() as tx:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                sql, params = select_by_keys(
                    "events", _LOADED, ("client_order_id",), [(k,) for k in chunk], tx.dialect, _CHAINED
                )
                for r in tx.all(sql + " ORDER BY client_order_id, originator_id, originator_version", params):
                    if r[1] not in wanted:
                        continue
                    oid = UUID(r[1])
                    result.setdefault(oid, []).append(StoredEvent(oid, r[2], r[3], payload(r[4])))
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


def _rekey_events(tx: Tx) -> None:
    """Schema 3: the events' unique key becomes (client_order_id, originator_id,
    originator_version), which also serves an order's search, so `events_by_order` goes. Only
    indexes change: every row keeps its bytes, so the hash chain is untouched.

    PostgreSQL alters the table in place (its grants stay). SQLite cannot drop a table's own
    UNIQUE, so the rows are copied, in log order, into a table made by today's schema. A database
    holding rows outside the chain (which ``verify`` reports) keeps its old key: today's table
    refuses such rows, and none may be lost."""
    if tx.dialect == "postgresql":
        for (name,) in tx.all(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('events') AND contype = 'u'"
        ):
            tx.execute(f'ALTER TABLE events DROP CONSTRAINT "{name}"')
        tx.execute("ALTER TABLE events ADD UNIQUE (client_order_id, originator_id, originator_version)")
        tx.execute("DROP INDEX IF EXISTS events_by_order")
        return
    outside = tx.one(
        "SELECT 1 FROM events WHERE notification_id IS NULL OR typeof(notification_id) <> 'integer'"
        " OR notification_id <= 0 OR typeof(state) <> 'blob' LIMIT 1"
    )
    if outside is not None:
        return
    create = "CREATE TABLE IF NOT EXISTS events ("
    table = next(s for s in schema(tx.dialect) if s.startswith(create))
    tx.execute(table.replace(create, "CREATE TABLE events_v3 (", 1))
    columns = ", ".join(table_columns(tx, "events_v3"))
    tx.execute(f"INSERT INTO events_v3 ({columns}) SELECT {columns} FROM events ORDER BY notification_id")
    tx.execute("DROP TABLE events")  # its indexes and triggers with it
    tx.execute("ALTER TABLE events_v3 RENAME TO events")
    for statement in schema(tx.dialect) + append_only(tx.dialect):
        if re.search(r"\bON events\b", statement):
            tx.execute(statement)


def _add_parked_part(tx: Tx) -> None:
    """Release 0.1 parked at most one message per input: give `parked` its `part` column, and a
    key with room for several messages of one input waiting on one order (rows kept, part 0)."""
    if tx.dialect == "postgresql":
        # Altered in place, so the application role's grants on the table stay as they are.
        tx.execute("ALTER TABLE parked ADD COLUMN part INTEGER NOT NULL DEFAULT 0")
        key = tx.one(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass('parked') AND contype = 'p'"
        )
        if key is not None:
            tx.execute(f'ALTER TABLE parked DROP CONSTRAINT "{key[0]}"')
        tx.execute("ALTER TABLE parked ADD PRIMARY KEY (message_id, part, venue, kind, value)")
        return
    tx.execute("ALTER TABLE parked RENAME TO parked_v1")
    tx.execute("DROP INDEX IF EXISTS parked_key")
    for statement in schema(tx.dialect):
        if "parked" in statement:
            tx.execute(statement)
    tx.execute(
        "INSERT INTO parked (message_id, part, venue, kind, value, message)"
        " SELECT message_id, 0, venue, kind, value, message FROM parked_v1"
    )
    tx.execute("DROP TABLE parked_v1")


def _order_uuid(client_order_id: str) -> UUID:
    from orderledger.domain.order import order_id_for

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
