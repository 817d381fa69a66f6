"""The ledger's tables on each backend: their DDL, the append-only triggers and privileges that
seal them, and the upgrades from every earlier schema version.

``verify`` compares a database's triggers and privileges with what is declared here.
"""

from __future__ import annotations

import re

from orderledger.domain.events import OrderFilled
from orderledger.domain.identity import CLIENT_ORDER_ID, TRADE, TRADE_SEPARATOR
from orderledger.infrastructure.storage.chain import GENESIS, journal_link, parked_digest
from orderledger.infrastructure.storage.db import Tx, table_columns
from orderledger.infrastructure.storage.journal import PARKED_ROWS, message_fields, parked_parts

SCHEMA_VERSION = "6"
"""The version of the ledger's own tables. At this version positions are positive (CHECK);
SQLite refuses INSERT OR REPLACE of events; the journal, the identities and the anchors are
append-only; the events' unique key leads with the client order ID; the journal is hash-chained
(``messages.hash``) and each settlement of a parked line is an appended, chained record
(``settlements``; on PostgreSQL only through ``orderledger_settle``, which settles a line once
what it waits for is in the log: its order, or for a bust or correction a fill of that order);
the heads a passing ``verify`` found are anchored (``verified``), so the next verify checks what
is new since. A database of an older version is upgraded when opened with write access, and the
rows it holds are chained as they stand (docs/storage.md)."""


def schema(dialect: str) -> list[str]:
    """CREATE statements for the ledger's own tables (views create theirs)."""
    blob = "BYTEA" if dialect == "postgresql" else "BLOB"
    # A position (an event's, a journal record's, an anchor's) is the row's key. On SQLite the key
    # is the table's rowid (``INTEGER PRIMARY KEY``; any other type is a column beside a hidden
    # rowid, with an index of its own): stored once, and a read by position is one search of the
    # table. A file created before keeps its tables as they are: the same columns and queries.
    key = "BIGINT" if dialect == "postgresql" else "INTEGER"
    without_rowid = "" if dialect == "postgresql" else " WITHOUT ROWID"
    # Every stored event is in the chain: its position is positive and present, and on SQLite its
    # payload is bytes, never text.
    state_check = "" if dialect == "postgresql" else " CHECK (typeof(state) = 'blob')"
    return [
        "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS events (
            notification_id {key} NOT NULL PRIMARY KEY
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
            message_id {key} PRIMARY KEY,
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
        # Short rows found by their key: on SQLite the key is the table (``WITHOUT ROWID``), not
        # a table beside an index that holds each key again.
        f"""CREATE TABLE IF NOT EXISTS identities (
            venue TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            client_order_id TEXT NOT NULL,
            PRIMARY KEY (venue, kind, value)){without_rowid}""",
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
        *_settlements_and_anchors(key, blob),
    ]


def _settlements_and_anchors(key: str, blob: str) -> list[str]:
    """The journal's settlements, the views' tracking rows and verify's anchors (``schema``)."""
    return [
        # The settling of a parked line, appended (the line's row keeps only the outcome as it
        # stands): the parts it settles (each with its digest), the line's outcome, reason, order
        # and event count before and after. Its position is in the journal's numbering, its hash
        # in the journal's chain (``journal_fields``).
        f"""CREATE TABLE IF NOT EXISTS settlements (
            position {key} NOT NULL PRIMARY KEY,
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
        # The heads each passing verify found (audit/anchors.py), chained as the journal is.
        f"""CREATE TABLE IF NOT EXISTS verified (
            anchor {key} NOT NULL PRIMARY KEY,
            event_position BIGINT NOT NULL,
            event_hash {blob} NOT NULL,
            journal_position BIGINT NOT NULL,
            journal_hash {blob} NOT NULL,
            verified_at TEXT NOT NULL,
            hash {blob} NOT NULL)""",
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
    sealed = ("events", "identities", "settlements", "verified")
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
        "CREATE TRIGGER IF NOT EXISTS verified_no_replace BEFORE INSERT ON verified BEGIN"
        f" {refuse('verified', 'REPLACE')}"
        " WHERE EXISTS (SELECT 1 FROM verified WHERE anchor = NEW.anchor); END",
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


SETTLE = f"""CREATE OR REPLACE FUNCTION orderledger_settle(
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
        -- Released: what one of the settled parts waits on is in the log (an order: its identity
        -- or its first event; a bust's or correction's trade: a fill of the order its key names,
        -- the key being the order's kind and name with the trade ID, as domain.identity.trade_key
        -- writes it; the trade ID inside a payload, which may be enciphered, is not read here), or
        -- the events this transaction appended name the line for every event it now counts.
        IF NOT (EXISTS (SELECT 1 FROM parked p WHERE p.message_id = p_message_id AND p.part = ANY(p_parts)
                AND (EXISTS (SELECT 1 FROM identities i WHERE i.venue = p.venue AND i.kind = p.kind
                             AND i.value = p.value)
                     OR (p.kind = 'client_order_id' AND EXISTS (SELECT 1 FROM events e
                         WHERE e.client_order_id = p.value AND e.originator_version = 1
                         AND e.notification_id > 0))
                     OR (p.kind LIKE '{TRADE}%' AND EXISTS (SELECT 1 FROM events e
                         WHERE e.event_type = '{OrderFilled.__name__}' AND e.notification_id > 0
                         AND e.client_order_id = CASE WHEN p.kind = '{TRADE}{CLIENT_ORDER_ID}'
                             THEN split_part(p.value, chr({ord(TRADE_SEPARATOR)}), 1)
                             ELSE (SELECT i.client_order_id FROM identities i WHERE i.venue = p.venue
                                   AND i.kind = substr(p.kind, {len(TRADE) + 1})
                                   AND i.value = split_part(p.value, chr({ord(TRADE_SEPARATOR)}), 1)) END))))
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
            RAISE EXCEPTION 'message %: a parked line is settled once what it waits for is in the log'
                ' (its order; for a bust or correction, a fill of that order) or events name it'
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
(what a settled part waits on is in the log: an order by its identity or first event, a trade
by a fill of its order; or events appended from ``p_first_event`` on name the line for its new
events). It appends the chained settlement record,
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
    "verified": ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"),
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
    if version < 5:
        statements += [s for s in schema(dialect) if "verified" in s]
    return statements


def rekey_events(tx: Tx) -> None:
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


def chain_journal(tx: Tx) -> None:
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


def add_parked_part(tx: Tx) -> None:
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
