"""Least privilege on PostgreSQL: what the application role can and cannot do, tried as that role.

``orderledger db init --app-role ROLE`` (run as the administrator who owns the tables) gives the
role the table privileges the ledger's commands use and nothing else: it owns no table, may create
nothing in the ledger's schema, and may not attach code (a trigger runs as whoever fires it, so a
trigger the role could attach to a view table would run as the next administrator who ingests).

Each test logs in AS the role (a real role with LOGIN; the test server trusts 127.0.0.1) and tries
what an attacker holding its credentials would try.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from orderledger.infrastructure.storage.db import parse_url
from tests.support.audit import fact, fill, line, orderledger, raw_sql, request

pytestmark = pytest.mark.postgres

SESSION = [
    line(request("c-1", seconds=0, venue_order_id="V-1")),
    line(fill("c-1", "t-1", "4", "100", seconds=1)),
    line(fill("c-2", "t-2", "1", "101", seconds=2)),  # parked: c-2 is not known yet
]
LATER = [line(request("c-2", seconds=3)), line(request("c-3", seconds=4))]  # releases t-2
REFUSED = "42501"  # insufficient_privilege


@dataclass(frozen=True)
class Deployment:
    """A ledger set up by its administrator, and the application role's own login to it."""

    admin: str  # URL as the administrator (the server's superuser here)
    app: str  # URL as the application role
    role: str
    schema: str


def _as(url: str, role: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Any) -> Iterator[Deployment]:
    role = f"ol_app_{uuid.uuid4().hex[:10]}"
    init = orderledger("db", "init", "--app-role", role, "--password", "unused-with-trust", db=postgres_url)
    assert init.code == 0, init.describe()
    try:
        yield Deployment(postgres_url, _as(postgres_url, role), role, parse_url(postgres_url).schema)
    finally:
        with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def ingest(url: str, lines: list[str], tmp_path: Any) -> Any:
    path = tmp_path / f"in-{uuid.uuid4().hex[:6]}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return orderledger("ingest", str(path), db=url)


@pytest.fixture
def as_app(deployment: Deployment) -> Iterator[Any]:
    """A plain connection logged in as the application role (autocommit: each statement alone)."""
    with raw_sql(deployment.app) as db:
        assert db.one("SELECT current_user") == (deployment.role,)
        yield db


def refusal(db: Any, statement: str) -> str | None:
    """The SQLSTATE with which the database refused ``statement``; None when it was carried out."""
    try:
        db.execute(statement)
    except psycopg.Error as error:
        return str(error.sqlstate)
    return None


def test_the_app_role_runs_the_ledger(deployment: Deployment, tmp_path: Any) -> None:
    """Everything the services do day to day works as the role: ingest (park, then release),
    queries, the journal, head and verify."""
    first = ingest(deployment.app, SESSION, tmp_path)
    assert first.code == 0, first.describe()
    assert first.stdout.startswith("3 lines: 2 applied, 0 duplicate, 1 parked"), first.describe()
    later = ingest(deployment.app, LATER, tmp_path)
    assert later.code == 0, later.describe()
    orders = {o["client_order_id"]: o for o in orderledger("orders", "--json", db=deployment.app).json()}
    assert (orders["c-1"]["filled_quantity"], orders["c-2"]["filled_quantity"]) == ("4", "1")
    # A sale of 2 closes 2 of c-1's 4 (FIFO): the closed lot is kept with the heads, as the role.
    sold = [
        line(request("c-5", seconds=5, side="sell", quantity="2")),
        line(fill("c-5", "t-5", "2", "110", seconds=6)),
    ]
    assert ingest(deployment.app, sold, tmp_path).code == 0
    closed = orderledger("lots", "--closed", "--cost-basis", "fifo", "--json", db=deployment.app)
    assert closed.code == 0, closed.describe()
    assert [(lot["open_trade_id"], lot["close_trade_id"]) for lot in closed.json()] == [("t-1", "t-5")]
    with raw_sql(deployment.admin) as admin:
        assert admin.one("SELECT COUNT(*) FROM closed_lots WHERE rule = 'fifo'") == (1,)
        assert admin.one("SELECT seen > 0 FROM lot_heads_index WHERE rule = 'fifo'") == (True,)
    assert orderledger("head", db=deployment.app).code == 0
    verified = orderledger("verify", db=deployment.app)
    assert verified.code == 0, verified.describe()


def test_the_app_role_owns_nothing_and_every_ddl_and_forbidden_dml_is_refused(
    deployment: Deployment, as_app: Any, tmp_path: Any
) -> None:
    assert ingest(deployment.admin, SESSION, tmp_path).code == 0
    with raw_sql(deployment.admin) as admin:
        tables = [
            r[0] for r in admin.all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        owned = admin.all(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
            " AND pg_get_userbyid(relowner) = ?",
            (deployment.role,),
        )
    assert owned == []
    assert {"events", "messages", "identities", "parked", "ledger_meta", "view_tracking"} <= set(tables)
    assert "orders_view" in tables and len(tables) >= 10
    # A function of its own in its session's temporary schema, so that attaching it is what is tried.
    as_app.execute(
        "CREATE FUNCTION pg_temp.evil() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    )
    statements = [
        "CREATE TABLE evil (x int)",
        "CREATE VIEW evil AS SELECT 1",
        "CREATE SEQUENCE evil",
        "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE OR REPLACE FUNCTION orderledger_append_only() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NEW; END $$",
        "DROP FUNCTION orderledger_append_only() CASCADE",
    ]
    for table in tables:
        statements += [
            f"ALTER TABLE {table} ADD COLUMN evil int",
            f"ALTER TABLE {table} RENAME TO evil",
            f"ALTER TABLE {table} DISABLE TRIGGER ALL",
            f"ALTER TABLE {table} OWNER TO {deployment.role}",
            f"CREATE TRIGGER evil BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION pg_temp.evil()",
            f"CREATE RULE evil AS ON INSERT TO {table} DO INSTEAD NOTHING",
            f"CREATE INDEX evil ON {table} ((1))",
            f"COMMENT ON TABLE {table} IS 'evil'",
            f"TRUNCATE {table}",
            f"DROP TABLE {table}",
        ]
    statements += [
        "UPDATE events SET account = 'mallory'",
        "DELETE FROM events",
        "UPDATE messages SET raw = 'x'::bytea",
        "UPDATE messages SET origin = 'elsewhere'",
        "UPDATE messages SET outcome = 'rejected' WHERE outcome = 'applied'",  # the trigger refuses
        "DELETE FROM messages",
        "UPDATE identities SET client_order_id = 'c-9'",
        "DELETE FROM identities",
        "UPDATE parked SET value = 'x'",
        "INSERT INTO ledger_meta (key, value) VALUES ('evil', '1')",
        "UPDATE ledger_meta SET value = '1'",
        "DELETE FROM ledger_meta",
        "INSERT INTO view_versions (view, version) VALUES ('evil', 1)",
        "UPDATE view_versions SET version = 1",
        "DELETE FROM view_versions",
        "DELETE FROM view_tracking",
    ]
    carried_out = {s: code for s in statements if (code := refusal(as_app, s)) != REFUSED}
    assert carried_out == {}, f"{len(carried_out)} of {len(statements)} statements were not refused"


def test_events_outside_the_chain_are_refused_to_the_app_role(
    deployment: Deployment, as_app: Any, tmp_path: Any
) -> None:
    """The attack of issue 18: a copy of a fill inserted at position -1 (or 0, or NULL)."""
    assert ingest(deployment.admin, SESSION, tmp_path).code == 0
    columns = (
        "originator_id, originator_version, topic, state, event_type, client_order_id, account,"
        " venue, instrument, ts_event, ts_recorded, source, message_id, hash"
    )
    results = {
        position: refusal(
            as_app,
            f"INSERT INTO events (notification_id, {columns}) SELECT {position}, originator_id,"
            " originator_version + 100, topic, state, event_type, client_order_id, account, venue,"
            " instrument, ts_event, ts_recorded, source, message_id, hash FROM events"
            " WHERE event_type = 'OrderFilled' LIMIT 1",
        )
        for position in ("0", "-1", "NULL")
    }
    assert results == {"0": "23514", "-1": "23514", "NULL": "23502"}  # CHECK, NOT NULL
    order = orderledger("order", "c-1", "--json", db=deployment.app).json()
    assert order["filled_quantity"] == "4"


def test_a_trigger_attached_for_the_administrator_never_gets_to_run(
    deployment: Deployment, as_app: Any, tmp_path: Any
) -> None:
    """The role tries to make the administrator's next ingest switch the log's protection off."""
    body = (
        "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " EXECUTE 'ALTER TABLE events DISABLE TRIGGER USER';"
        f" EXECUTE 'GRANT UPDATE, DELETE, TRUNCATE ON events TO {deployment.role}';"
        " RETURN NEW; END $$"
    )
    attempts = [
        f"CREATE FUNCTION evil() {body}",  # in the ledger's schema: the role may create nothing there
        f"CREATE FUNCTION pg_temp.evil() {body}",  # its own temporary schema: allowed, but …
        "CREATE TRIGGER evil BEFORE INSERT OR UPDATE ON orders_view FOR EACH ROW"
        " EXECUTE FUNCTION pg_temp.evil()",
        "CREATE TRIGGER evil BEFORE UPDATE ON view_tracking FOR EACH ROW EXECUTE FUNCTION pg_temp.evil()",
    ]
    outcomes = [refusal(as_app, statement) for statement in attempts]
    assert outcomes == [REFUSED, None, REFUSED, REFUSED]

    assert ingest(deployment.admin, SESSION, tmp_path).code == 0  # the administrator ingests
    with raw_sql(deployment.admin) as admin:
        assert admin.all(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'events'::regclass ORDER BY tgname"
        ) == [("events_append_only", "O"), ("events_no_truncate", "O")]
        rights = admin.one(
            "SELECT has_table_privilege(?, 'events', 'UPDATE'), has_table_privilege(?, 'events', 'DELETE'),"
            " has_table_privilege(?, 'events', 'TRUNCATE')",
            (deployment.role,) * 3,
        )
    assert rights == (False, False, False)
    assert refusal(as_app, "UPDATE events SET account = 'mallory'") == REFUSED


def _settle_parked_line(as_app: Any, position: int, outcome: str, reason: str) -> None:
    """Call ``orderledger_settle`` as the role with a settlement of the one parked line that
    follows from the line as stored (its parts, its before-values), adding no event."""
    line_id, before, client_order_id, count = as_app.one(
        "SELECT message_id, reason, client_order_id, event_count FROM messages WHERE outcome = 'parked'"
    )
    as_app.execute(
        "SELECT orderledger_settle(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (position, line_id, [0], "[]", before, client_order_id, count, outcome, reason, client_order_id)
        + (count, None, b"\x00" * 32),
    )


def test_an_administrators_rebuild_keeps_the_app_roles_grants(deployment: Deployment, tmp_path: Any) -> None:
    assert ingest(deployment.app, SESSION, tmp_path).code == 0
    rebuilt = orderledger("rebuild", "--all", db=deployment.admin)
    assert rebuilt.code == 0, rebuilt.describe()
    orders = orderledger("orders", "--json", db=deployment.app)
    assert [o["client_order_id"] for o in orders.json()] == ["c-1"]
    later = ingest(deployment.app, LATER, tmp_path)  # folds into the rebuilt view tables
    assert later.code == 0, later.describe()
    assert orderledger("verify", db=deployment.app).code == 0
    with raw_sql(deployment.admin) as admin:
        owners = admin.all(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"
        )
    assert owners == [("postgres",)]  # the administrator still owns every table


def test_the_app_role_can_neither_relabel_a_parked_line_nor_delete_its_parked_rows(
    deployment: Deployment, as_app: Any, tmp_path: Any
) -> None:
    """The attack of issue 32: the role turned a parked venue fill into "rejected" and deleted its
    parked row, and verify said ok: the fill was lost for good. Only the ledger's settlement, once
    the fill's order is in the log, may settle it (through orderledger_settle)."""
    assert ingest(deployment.app, SESSION, tmp_path).code == 0
    (line_id,) = as_app.one("SELECT message_id FROM messages WHERE outcome = 'parked'")
    (position,) = as_app.one("SELECT MAX(message_id) + 1 FROM messages")
    attempts = {
        "relabel": "UPDATE messages SET outcome = 'rejected', reason = 'no such order'"
        " WHERE outcome = 'parked'",
        "unpark": "DELETE FROM parked",
        "re-aim": "UPDATE parked SET value = 'c-1'",
        "record a settlement": "INSERT INTO settlements (position, message_id, parts, before_event_count,"
        f" outcome, event_count, hash) VALUES ({position}, {line_id}, '[]', 0, 'rejected', 0,"
        " '\\x00'::bytea)",
    }
    results = {name: refusal(as_app, statement) for name, statement in attempts.items()}
    assert results == dict.fromkeys(attempts, REFUSED)
    # The settling function itself, called with a settlement that follows from the stored line in
    # every way but one: c-2, which the fill waits for, is not in the log.
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="settled once what it waits for is in the log"
    ):
        _settle_parked_line(as_app, position, "rejected", "no such order")
    parked = orderledger("messages", "--outcome", "parked", "--json", db=deployment.app).stdout.splitlines()
    assert [json.loads(m)["message_id"] for m in parked] == [line_id]
    assert orderledger("verify", db=deployment.app).code == 0

    # The ledger's own settlement, when c-2 arrives, goes through: the fill applies.
    assert ingest(deployment.app, LATER, tmp_path).code == 0
    assert orderledger("order", "c-2", "--json", db=deployment.app).json()["filled_quantity"] == "1"
    assert as_app.one("SELECT message_id, outcome FROM settlements") == (line_id, "applied")
    verified = orderledger("verify", db=deployment.app)
    assert verified.code == 0, verified.describe()


def test_the_app_role_settles_a_correction_waiting_for_its_trade_only_once_a_fill_is_booked(
    deployment: Deployment, as_app: Any, tmp_path: Any
) -> None:
    """A correction of a trade not booked yet waits for the fill, not for its order: the order
    being known does not justify settling it; the fill's arrival does, even when the correction
    then changes nothing (a duplicate: no event names the line)."""
    correction = fact("fill_corrected", "c-9", seconds=2, trade_id="t-9", quantity="4", price="100")
    assert ingest(deployment.app, [line(request("c-9", seconds=0)), line(correction)], tmp_path).code == 0
    line_id, reason = as_app.one("SELECT message_id, reason FROM messages WHERE outcome = 'parked'")
    assert reason == "no fill known for trade 't-9' of client_order_id 'c-9' yet"
    (position,) = as_app.one("SELECT MAX(message_id) + 1 FROM messages")
    # The settlement the ledger makes when the fill comes, called while c-9 has no fill at all.
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="settled once what it waits for is in the log"
    ):
        _settle_parked_line(as_app, position, "duplicate", "was parked; trade 't-9' already has these values")
    assert as_app.one("SELECT outcome FROM messages WHERE message_id = ?", (line_id,)) == ("parked",)

    # The fill t-9 with the correction's own values releases it: a duplicate, settled by the ledger.
    booked = ingest(deployment.app, [line(fill("c-9", "t-9", "4", "100", seconds=1))], tmp_path)
    assert booked.code == 0, booked.describe()
    assert as_app.one("SELECT message_id, outcome, event_count FROM settlements") == (line_id, "duplicate", 0)
    assert orderledger("order", "c-9", "--json", db=deployment.app).json()["filled_quantity"] == "4"
    verified = orderledger("verify", db=deployment.app)
    assert verified.code == 0, verified.describe()


def test_verify_reports_a_privilege_that_could_change_the_record(
    deployment: Deployment, tmp_path: Any
) -> None:
    assert ingest(deployment.app, SESSION, tmp_path).code == 0
    with raw_sql(deployment.admin) as admin:
        admin.execute(f'GRANT UPDATE (outcome, reason) ON messages TO "{deployment.role}"')
        admin.execute(f'GRANT DELETE ON parked TO "{deployment.role}"')
    run = orderledger("verify", db=deployment.app)
    assert (run.code, run.stdout) == (1, ""), run.describe()
    fix = (
        "only the ledger's own settlement may change the record"
        " (`orderledger db init --app-role ROLE` as the owner takes it back)"
    )
    assert run.stderr.splitlines() == [
        f"SCHEMA: role {deployment.role} may UPDATE on messages: {fix}",
        f"SCHEMA: role {deployment.role} may DELETE on parked: {fix}",
    ]
    init = orderledger("db", "init", "--app-role", deployment.role, db=deployment.admin)
    assert init.code == 0, init.describe()
    assert orderledger("verify", db=deployment.app).code == 0


def test_the_app_role_anchors_its_verify_and_without_the_grant_verifies_in_full(
    deployment: Deployment, tmp_path: Any
) -> None:
    assert ingest(deployment.app, SESSION, tmp_path).code == 0
    # Given: `db init --app-role` granted the role SELECT and INSERT on the anchors
    anchored = orderledger("verify", "--json", db=deployment.app).json()
    assert (anchored["ok"], anchored["full"], anchored["anchored"]) == (True, True, 1)
    again = orderledger("verify", "--json", db=deployment.app).json()
    assert (again["ok"], again["full"]) == (True, False)  # from the anchor
    # When the grant is taken back (a database upgraded by its owner before `db init` ran again)
    with raw_sql(deployment.admin) as db:
        db.execute(f'REVOKE ALL ON verified FROM "{deployment.role}"')
    # Then the role's verify still passes, each time a full one, and stores no anchor
    for _ in range(2):
        run = orderledger("verify", "--json", db=deployment.app).json()
        assert (run["ok"], run["full"], run["anchored"]) == (True, True, 0), run
    with raw_sql(deployment.admin) as db:
        assert db.one("SELECT COUNT(*) FROM verified") == (1,)
