"""The ledger's tables and the recorder that writes a whole group commit in one transaction.

One transaction holds, for a batch of inbound messages: their journal rows, the events they
produced (hash-chained, with search columns), the secondary identities those events record,
and the parked-message bookkeeping. Either all of it is stored or none of it.
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

from orderledger.domain.order import order_id_for
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.errors import (
    ConfigurationError,
    DatabaseReadOnlyError,
    StaleBatchError,
    StoreError,
)
from orderledger.infrastructure.storage.chain import GENESIS, journal_link, link, parked_digest
from orderledger.infrastructure.storage.db import (
    Database,
    Tx,
    is_integrity_error,
    select_by_keys,
    table_columns,
)
from orderledger.infrastructure.storage.mapper import IndexedStoredEvent

SCHEMA_VERSION = "4"
"""1: the first release. 2: positions are positive (CHECK), SQLite refuses INSERT OR REPLACE of
events, the journal and the identities are append-only (a parked line's outcome is settled once).
3: the events' unique key leads with the client order ID (no index led by the random order UUID);
rows and hashes unchanged. 4: the journal is hash-chained (``messages.hash``), and each settlement
of a parked line is an appended, chained record (``settlements``); on PostgreSQL a parked line is
settled only through ``orderledger_settle``. The rows an older release wrote are chained as they
stand when the database is upgraded."""

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
            event_count INTEGER NOT NULL DEFAULT 0,
            hash {blob})""",
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
        # The settling of a parked line, appended (the line's row keeps only the outcome as it
        # stands): the parts it settles (each with its digest), the line's outcome, reason, order
        # and event count before and after. Its position is in the journal's numbering, its hash
        # in the journal's chain (``journal_fields``).
        f"""CREATE TABLE IF NOT EXISTS settlements (
            position BIGINT NOT NULL PRIMARY KEY,
            message_id BIGINT NOT NULL,
            parts TEXT NOT NULL,
            before_reason TEXT,
            before_client_order_id TEXT,
            before_event_count INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            reason TEXT,
            client_order_id TEXT,
            event_count INTEGER NOT NULL,
            hash {blob} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS settlements_message ON settlements (message_id, position)",
        "CREATE TABLE IF NOT EXISTS view_tracking (view TEXT PRIMARY KEY, position BIGINT NOT NULL)",
    ]


def append_only(dialect: str) -> list[str]:
    """Triggers by which the database itself keeps the record append-only.

    ``events``, ``identities`` and ``settlements``: no UPDATE, DELETE or TRUNCATE. The journal
    (``messages``): no DELETE or TRUNCATE, and an UPDATE only settles a parked line's outcome (its
    text, origin, times and hash never change). On SQLite, where ``INSERT OR REPLACE`` deletes the
    row it replaces without firing a DELETE trigger, an insert whose key exists is refused before
    it can replace anything. On PostgreSQL, ``orderledger_settle`` (:data:`SETTLE`) is the one way
    the application role settles a parked line.
    """
    settled = " (only the outcome of a parked line is settled)"
    sealed = ("events", "identities", "settlements")
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
                      OR NEW.line_no IS DISTINCT FROM OLD.line_no
                      OR NEW.hash IS DISTINCT FROM OLD.hash THEN
                       RAISE EXCEPTION 'the messages table is append-only: UPDATE refused{settled}'
                           USING ERRCODE = 'insufficient_privilege';
                   END IF;
                   RETURN NEW;
               END $$""",
            SETTLE,
            # Only the roles `db init --app-role` grants it to may call it.
            "REVOKE ALL ON FUNCTION orderledger_settle FROM PUBLIC",
            *(
                statement
                for table in sealed
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
    for table in sealed:
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
        "CREATE TRIGGER IF NOT EXISTS settlements_no_replace BEFORE INSERT ON settlements BEGIN"
        f" {refuse('settlements', 'REPLACE')}"
        " WHERE EXISTS (SELECT 1 FROM settlements WHERE position = NEW.position); END",
        "CREATE TRIGGER IF NOT EXISTS messages_no_replace BEFORE INSERT ON messages BEGIN"
        f" {refuse('messages', 'REPLACE')}"
        " WHERE EXISTS (SELECT 1 FROM messages WHERE message_id = NEW.message_id); END",
        "CREATE TRIGGER IF NOT EXISTS messages_no_delete BEFORE DELETE ON messages"
        f" BEGIN {refuse('messages', 'DELETE')}; END",
        "CREATE TRIGGER IF NOT EXISTS messages_settle_only BEFORE UPDATE ON messages"
        " WHEN OLD.outcome <> 'parked' OR NEW.message_id IS NOT OLD.message_id"
        " OR NEW.raw IS NOT OLD.raw OR NEW.received_at IS NOT OLD.received_at"
        " OR NEW.origin IS NOT OLD.origin OR NEW.format IS NOT OLD.format"
        " OR NEW.line_no IS NOT OLD.line_no OR NEW.hash IS NOT OLD.hash"
        f" BEGIN {refuse('messages', 'UPDATE', settled)}; END",
    ]


SETTLE = """CREATE OR REPLACE FUNCTION orderledger_settle(
        p_position BIGINT, p_message_id BIGINT, p_parts INTEGER[], p_parts_text TEXT,
        p_before_reason TEXT, p_before_client_order_id TEXT, p_before_event_count INTEGER,
        p_outcome TEXT, p_reason TEXT, p_client_order_id TEXT, p_event_count INTEGER,
        p_first_event BIGINT, p_hash BYTEA) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
        line messages%ROWTYPE;
    BEGIN
        SELECT * INTO line FROM messages WHERE message_id = p_message_id FOR UPDATE;
        IF NOT FOUND OR line.outcome <> 'parked' THEN
            RAISE EXCEPTION 'message % is not a parked line: nothing to settle', p_message_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF line.reason IS DISTINCT FROM p_before_reason
           OR line.client_order_id IS DISTINCT FROM p_before_client_order_id
           OR line.event_count <> p_before_event_count OR p_event_count < line.event_count
           OR cardinality(p_parts) = 0
           OR (SELECT COUNT(DISTINCT part) FROM parked WHERE message_id = p_message_id
               AND part = ANY(p_parts)) <> cardinality(p_parts)
           OR (p_outcome = 'parked') <> EXISTS (SELECT 1 FROM parked WHERE message_id = p_message_id
               AND NOT part = ANY(p_parts)) THEN
            RAISE EXCEPTION 'message %: the settlement does not follow from the line as stored', p_message_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        -- Released: an order or identity one of the settled parts waits on is in the log, or the
        -- events this transaction appended name the line for every event it now counts.
        IF NOT (EXISTS (SELECT 1 FROM parked p WHERE p.message_id = p_message_id AND p.part = ANY(p_parts)
                AND (EXISTS (SELECT 1 FROM identities i WHERE i.venue = p.venue AND i.kind = p.kind
                             AND i.value = p.value)
                     OR (p.kind = 'client_order_id' AND EXISTS (SELECT 1 FROM events e
                         WHERE e.client_order_id = p.value AND e.originator_version = 1
                         AND e.notification_id > 0))))
                OR (p_first_event IS NOT NULL AND p_event_count > line.event_count
                    AND (SELECT COUNT(*) FROM events WHERE notification_id >= p_first_event
                         AND message_id = p_message_id) >= p_event_count - line.event_count)
                -- Or set aside by a person: a settlement line of the journal, later than the parked
                -- line and chained like any other, names it; the line gains no events.
                OR (p_outcome = 'ignored' AND p_event_count = line.event_count
                    AND NOT EXISTS (SELECT 1 FROM parked WHERE message_id = p_message_id
                        AND NOT part = ANY(p_parts))
                    AND EXISTS (SELECT 1 FROM messages s WHERE s.format = 'settlement'
                        AND s.message_id > p_message_id
                        AND convert_from(s.raw, 'UTF8')::jsonb @> jsonb_build_object(
                            'type', 'settle', 'action', 'set_aside', 'message_id', p_message_id)))) THEN
            RAISE EXCEPTION 'message %: a parked line is settled once its order is known or events name it'
                ' (or a settlement line sets it aside)',
                p_message_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        INSERT INTO settlements (position, message_id, parts, before_reason, before_client_order_id,
            before_event_count, outcome, reason, client_order_id, event_count, hash)
        VALUES (p_position, p_message_id, p_parts_text, p_before_reason, p_before_client_order_id,
            p_before_event_count, p_outcome, p_reason, p_client_order_id, p_event_count, p_hash);
        DELETE FROM parked WHERE message_id = p_message_id AND part = ANY(p_parts);
        UPDATE messages SET outcome = p_outcome, reason = p_reason, client_order_id = p_client_order_id,
            event_count = p_event_count WHERE message_id = p_message_id;
    END $$"""
"""PostgreSQL: the one way the application role (which may neither UPDATE the journal nor DELETE
parked rows) settles a parked line. It runs as the tables' owner, and only when the settlement
follows from what is stored: the line is parked with those parts, the record's before-values are
the line's, the outcome stays ``parked`` exactly while other parts wait, and the line was released
(an order or identity a settled part waits on is in the log, or events appended from
``p_first_event`` on name the line for its new events). It appends the chained settlement record,
deletes the settled parts' rows and sets the line's outcome, in the caller's transaction."""


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


# What roles other than a table's owner must never hold on it (PostgreSQL): the append-only
# tables and the parked rows, which only ``orderledger_settle`` deletes.
_SEALED_PRIVILEGES = {
    "events": ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"),
    "identities": ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"),
    "settlements": ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER"),
    "messages": ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"),
    "parked": ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"),
}


def missing_protection(tx: Tx) -> list[str]:
    """What is missing of the database's own protection of the record: each append-only trigger
    present, enabled and as the ledger defines it (its function too, on PostgreSQL), and on
    PostgreSQL no role but the owner holding a privilege that could change the record."""
    ours = {
        name: statement
        for statement in append_only(tx.dialect)
        for name in re.findall(r"TRIGGER (?:IF NOT EXISTS )?(\w+)", statement)
    }
    problems = []
    if tx.dialect != "postgresql":
        present = {
            str(r[0]): str(r[1]) for r in tx.all("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        }
        for name, statement in sorted(ours.items()):
            if name not in present:
                problems.append(f"the append-only trigger {name} is missing")
            elif present[name] != statement.replace("IF NOT EXISTS ", "", 1):
                problems.append(f"the append-only trigger {name} is not the ledger's own")
        return problems
    enabled = {
        str(r[0]): (str(r[1]), str(r[2]))
        for r in tx.all(
            "SELECT t.tgname, t.tgenabled, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
        )
    }
    for name, statement in sorted(ours.items()):
        function = re.search(r"EXECUTE FUNCTION (\w+)", statement)
        if name not in enabled:
            problems.append(f"the append-only trigger {name} is missing")
        elif enabled[name][0] == "D":
            problems.append(f"the append-only trigger {name} is disabled")
        elif function is None or enabled[name][1] != function.group(1):
            problems.append(f"the append-only trigger {name} is not the ledger's own")
    bodies = {
        str(r[0]): str(r[1])
        for r in tx.all(
            "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
            " AND proname LIKE 'orderledger%'"
        )
    }
    for statement in append_only(tx.dialect):
        function = re.match(r"CREATE OR REPLACE FUNCTION (\w+)\(", statement)
        if function is None:
            continue
        body = statement.split("$$")[1]
        if bodies.get(function.group(1)) != body:
            problems.append(f"the function {function.group(1)} is missing or not the ledger's own")
    grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
    for table, role, privilege in tx.all(
        # On the table, or on any of its columns.
        f"SELECT DISTINCT c.relname, {grantee}, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a"
        " WHERE c.relnamespace = current_schema()::regnamespace AND a.grantee <> c.relowner"
        f" UNION SELECT c.relname, {grantee}, a.privilege_type FROM pg_class c"
        " JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a"
        " WHERE c.relnamespace = current_schema()::regnamespace AND a.grantee <> c.relowner"
        " ORDER BY 1, 2, 3"
    ):
        if privilege in _SEALED_PRIVILEGES.get(str(table), ()):
            problems.append(
                f"role {role} may {privilege} on {table}: only the ledger's own settlement may change"
                " the record (`orderledger db init --app-role ROLE` as the owner takes it back)"
            )
    return problems


def upgrade(dialect: str, version: int) -> list[str]:
    """Statements that bring a database written at schema ``version`` to SCHEMA_VERSION, up to
    the chaining of the journal (``LedgerRecorder._upgrade`` then chains the rows already written
    and puts today's triggers in place)."""
    statements: list[str] = []
    if version < 2 and dialect == "postgresql":
        # NOT VALID: rows already outside the chain stay (``verify`` counts and reports them),
        # and no new one can be added.
        statements.append(
            "ALTER TABLE events ADD CONSTRAINT events_chained CHECK (notification_id > 0) NOT VALID"
        )
    if version < 4:
        statements += [s for s in schema(dialect) if "settlements" in s]
        statements.append(
            f"ALTER TABLE messages ADD COLUMN hash {'BYTEA' if dialect == 'postgresql' else 'BLOB'}"
        )
        # The journal's rows get their hashes next, which today's trigger would refuse.
        # SQLite: every trigger again as today's ledger defines it (``verify`` compares them).
        if dialect == "postgresql":
            statements.append("DROP TRIGGER IF EXISTS messages_settle_only ON messages")
        else:
            statements += [f"DROP TRIGGER IF EXISTS {name}" for name in sorted(ledger_triggers(dialect))]
    return statements


def message_fields(row: Sequence[Any], parts: Sequence[Sequence[Any]]) -> list[Any]:
    """What a journal row's hash covers besides its raw bytes: ``row`` is (message_id,
    received_at, origin, line_no, format, raw, outcome, reason, client_order_id, event_count) as
    inserted, ``parts`` the [part, digest] of each message of it that was parked."""
    return ["message", *row[:5], *row[6:10], [list(p) for p in parts]]


def settlement_fields(record: Sequence[Any]) -> list[Any]:
    """What a settlement's hash covers: its row, hash excluded (position, message_id, parts,
    the line's reason, order and event count before, its outcome, reason, order and count after)."""
    return ["settlement", *record[:10]]


Waiting = dict[int, dict[int, tuple[list[tuple[str, str, str]], bytes]]]
"""Parked messages by line and part: the keys (venue, kind, value) each waits on, and its message."""
PARKED_ROWS = "SELECT message_id, part, venue, kind, value, message FROM parked"


def parked_parts(rows: Iterable[Sequence[Any]]) -> Waiting:
    """:data:`PARKED_ROWS` gathered by line and part."""
    waiting: Waiting = {}
    for r in rows:
        keys, _ = waiting.setdefault(r[0], {}).setdefault(r[1], ([], as_bytes(r[5])))
        keys.append((r[2], r[3], r[4]))
    return waiting


def as_bytes(value: Any) -> bytes:
    """A BLOB column's value as bytes (text put there around the ledger, as its UTF-8)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def journal_head(tx: Tx) -> tuple[int, bytes]:
    """The journal chain's last record: its position and hash ((0, GENESIS) when empty)."""
    found = [
        r
        for r in (
            tx.one("SELECT message_id, hash FROM messages ORDER BY message_id DESC LIMIT 1"),
            tx.one("SELECT position, hash FROM settlements ORDER BY position DESC LIMIT 1"),
        )
        if r is not None
    ]
    if not found:
        return 0, GENESIS
    position, digest = max(found, key=lambda r: int(r[0]))
    return int(position), GENESIS if digest is None else bytes(digest)


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


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
                self._lock(tx)  # one process upgrades; the others then find it done
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
                    _add_parked_part(tx)
                if version < 3:
                    _rekey_events(tx)
                if version < 4:
                    _chain_journal(tx)
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
        it to fold them without a second commit).
        """
        with self.db.write() as tx:
            self._lock(tx)
            self._check_parking(tx, batch)
            self._check_versions(tx, batch)
            position, previous = journal_head(tx)
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
            ids = self._insert(tx, batch.events, [e.message_id for e in batch.event_entries])
            tx.executemany(
                "INSERT INTO identities (venue, kind, value, client_order_id) VALUES (?,?,?,?)",
                batch.identities,
            )
            if batch.resolved:
                # After the events and identities that released them (PostgreSQL's
                # orderledger_settle checks that they are there).
                self._settle(tx, batch.resolved, position, previous, ids[0] if ids else None)
            if after is not None and ids:
                after(tx, ids)
            return ids

    def _settle(
        self, tx: Tx, settled: Sequence[JournalEntry], position: int, previous: bytes, first_event: int | None
    ) -> None:
        """Append a settlement record for each parked line a batch settles (one per line: the
        processor merges the parts a batch settles of one line), then delete the settled parts'
        rows and set the line's outcome. An input with parts still waiting stays parked; its
        events add up."""
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
                json.dumps(digests, separators=(",", ":")),
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
            return
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


def _chain_journal(tx: Tx) -> None:
    """Schema 4: chain the journal rows an older release wrote, as they stand now, in the order
    of their IDs (each with the digests of its parked rows). A line settled before the upgrade has
    no settlement record: its row is chained with its settled outcome, so the chain proves it
    unchanged since the upgrade, not what it said before it was settled."""
    if tx.one("SELECT 1 FROM messages WHERE hash IS NOT NULL LIMIT 1") is not None:
        return  # chained already (a schema version recorded lower than the tables are)
    waiting = parked_parts(tx.all(PARKED_ROWS))
    previous, last = GENESIS, None
    while True:
        rows = tx.all(
            "SELECT message_id, received_at, origin, line_no, format, raw, outcome, reason,"
            " client_order_id, event_count FROM messages"
            + ("" if last is None else " WHERE message_id > ?")
            + " ORDER BY message_id LIMIT 2000",
            () if last is None else (last,),
        )
        hashes = []
        for row in rows:
            parts = [[p, parked_digest(p, *w)] for p, w in sorted(waiting.get(row[0], {}).items())]
            previous = journal_link(previous, message_fields(row, parts), bytes(row[5]))
            hashes.append((previous, row[0]))
        tx.executemany("UPDATE messages SET hash = ? WHERE message_id = ?", hashes)
        if len(rows) < 2000:
            return
        last = rows[-1][0]


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
