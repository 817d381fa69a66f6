"""Database administration: ``orderledger db init`` and the application role.

Least privilege on PostgreSQL: the role the ledger's processes connect as owns nothing and can
create nothing in the ledger's schema. An owner may attach triggers to its tables, and a trigger
runs with the rights of whoever fires it, so an application role that owned a view table could get
code run by the next administrator who ingests. It is given table privileges only (never TRIGGER,
REFERENCES or TRUNCATE), exactly those the ingest, query, ``project`` and ``verify`` commands use:

- ``events``: SELECT, INSERT (the triggers refuse UPDATE, DELETE and TRUNCATE even to the owner);
- ``messages`` (the journal): SELECT, INSERT; ``parked``: SELECT, INSERT; ``settlements``: SELECT.
  A parked line is settled only through ``orderledger_settle`` (EXECUTE granted), which runs as
  the owner and only when the line's order is in the log (``store.SETTLE``): the role can neither
  relabel a parked line nor delete its parked rows;
- ``identities``: SELECT, INSERT;
- the view tables: SELECT, INSERT, UPDATE, DELETE (their rows are derived data: ``verify`` refolds
  them); ``view_tracking``: SELECT, INSERT, UPDATE;
- ``ledger_meta``, ``view_versions``: SELECT;
- ``collectors`` (leases), the ``snapshot_*`` tables (an index of the journal's snapshot
  lines, ``storage.snapshot_index``), the ``lot_heads`` tables (the lot rules' books kept
  between reads, ``storage.lot_heads``) and the ``pnl_runs`` tables (the P&L entries' running
  sums, ``storage.pnl_runs``): SELECT, INSERT, UPDATE, DELETE.

``db init``, ``rebuild`` and upgrades are run as the owner (the administrator); a rebuild gives the
new view tables the grants the old ones had (``Views.rebuild``).
"""

from __future__ import annotations

import re

from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.storage import collectors, lot_heads, pnl_runs, snapshot_index
from orderledger.infrastructure.storage.db import Database, Tx
from orderledger.infrastructure.storage.schema import foreign_triggers
from orderledger.infrastructure.storage.store import LedgerRecorder
from orderledger.infrastructure.storage.views import Views

PRIVILEGES = {
    "events": "SELECT, INSERT",
    "messages": "SELECT, INSERT",
    "identities": "SELECT, INSERT",
    "parked": "SELECT, INSERT",
    "settlements": "SELECT",
    "view_tracking": "SELECT, INSERT, UPDATE",
    "view_versions": "SELECT",
    "ledger_meta": "SELECT",
    "verified": "SELECT, INSERT",
}
VIEW_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def init_database(
    db: Database, recorder: LedgerRecorder, views: Views, app_role: str | None, password: str | None
) -> list[str]:
    """Create the schema (and on PostgreSQL the application role); returns what was done."""
    recorder.create_tables()
    with db.write() as tx:
        collectors.create(tx)  # orderledger collect's leases (storage/collectors.py)
        snapshot_index.create(tx)  # the snapshot streams' index of the journal
        lot_heads.create(tx)  # the lot rules' books, kept between reads
        pnl_runs.create(tx)  # the P&L entries' running sums, kept between reads
    done = ["tables, indexes and append-only triggers are in place"]
    outdated = views.create_tables()
    if outdated:
        views.rebuild(outdated)
        done.append(f"views written by an older version were rebuilt: {', '.join(outdated)}")
    if db.dialect != "postgresql":
        if app_role:
            raise ConfigurationError("`app_role` needs PostgreSQL: SQLite has no roles")
        return done
    if not app_role:
        return done
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", app_role):
        raise ConfigurationError(f"role name {app_role!r} must be a lower-case SQL identifier")
    view_tables = [spec.name for p in views.projections for spec in p.tables]
    with db.write() as tx:
        exists = tx.one("SELECT 1 FROM pg_roles WHERE rolname = ?", (app_role,))
        if exists is None:
            login = "LOGIN" if password else "NOLOGIN"
            tx.execute(f'CREATE ROLE "{app_role}" {login}')
            done.append(f"created role {app_role} ({login})")
        if password:
            tx.execute(f"ALTER ROLE \"{app_role}\" LOGIN PASSWORD '{password.replace(chr(39), chr(39) * 2)}'")
        schema = tx.one("SELECT current_schema()")[0]
        done += _reclaim(tx, app_role, schema)
        tx.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM "{app_role}"')
        tx.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{app_role}"')
        tables = {
            **PRIVILEGES,
            **dict.fromkeys(view_tables, VIEW_PRIVILEGES),
            collectors.TABLE: collectors.PRIVILEGES,
            **dict.fromkeys(snapshot_index.TABLES, snapshot_index.PRIVILEGES),
            **dict.fromkeys(lot_heads.TABLES, lot_heads.PRIVILEGES),
            **dict.fromkeys(pnl_runs.TABLES, pnl_runs.PRIVILEGES),
        }
        for table, privileges in tables.items():
            tx.execute(f'REVOKE ALL ON {table} FROM "{app_role}"')
            tx.execute(f'GRANT {privileges} ON {table} TO "{app_role}"')
        tx.execute("REVOKE ALL ON FUNCTION orderledger_settle FROM PUBLIC")
        tx.execute(f'GRANT EXECUTE ON FUNCTION orderledger_settle TO "{app_role}"')
    done.append(
        f"role {app_role} owns nothing and may create nothing in schema {schema}; it may"
        f" SELECT, INSERT on events, identities, messages, parked, verified; SELECT on settlements; it"
        " settles a parked line only through orderledger_settle; SELECT, INSERT, UPDATE, DELETE on the"
        " view tables"
    )
    return done


def _reclaim(tx: Tx, app_role: str, schema: str) -> list[str]:
    """Undo what an earlier release allowed: the application role owning view tables (and what it
    may have attached to them). Returns what was done."""
    done = []
    owned = tx.all(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ? AND c.relkind IN ('r', 'p') AND pg_get_userbyid(c.relowner) = ?"
        " ORDER BY c.relname",
        (schema, app_role),
    )
    for (table,) in owned:
        tx.execute(f'ALTER TABLE "{table}" OWNER TO CURRENT_USER')
    if owned:
        done.append(f"took back from {app_role} the tables it owned: {', '.join(r[0] for r in owned)}")
    for table, trigger in foreign_triggers(tx):
        tx.execute(f'DROP TRIGGER "{trigger}" ON "{table}"')
        done.append(f"removed trigger {trigger} on {table}: the ledger did not create it")
    return done
