"""Database administration: ``orderledger db init`` and the application role.

The role the ledger's processes connect as may read and append events, but holds no UPDATE,
DELETE or TRUNCATE right on them; the triggers refuse those even to the owner.
"""

from __future__ import annotations

import re

from infrastructure.db import Database
from infrastructure.errors import ConfigurationError
from infrastructure.store import LedgerRecorder
from infrastructure.views import Views

APPEND_ONLY_TABLES = ("events",)
READ_ONLY_TABLES = ("ledger_meta",)
WORKING_TABLES = ("messages", "identities", "parked", "view_tracking", "view_versions")


def init_database(
    db: Database, recorder: LedgerRecorder, views: Views, app_role: str | None, password: str | None
) -> list[str]:
    """Create the schema (and on PostgreSQL the application role); returns what was done."""
    recorder.create_tables()
    done = ["tables, indexes and append-only triggers are in place"]
    outdated = views.create_tables()
    if outdated:
        views.rebuild(outdated)
        done.append(f"views written by an older version were rebuilt: {', '.join(outdated)}")
    if db.dialect != "postgresql":
        if app_role:
            raise ConfigurationError("--app-role needs PostgreSQL: SQLite has no roles")
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
        tx.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{app_role}"')
        for table in APPEND_ONLY_TABLES:
            tx.execute(f'GRANT SELECT, INSERT ON {table} TO "{app_role}"')
            tx.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM "{app_role}"')
        for table in READ_ONLY_TABLES:
            tx.execute(f'GRANT SELECT ON {table} TO "{app_role}"')
        for table in WORKING_TABLES:
            tx.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{app_role}"')
        for table in view_tables:
            # Rebuilds create, drop and rename view tables, which only their owner may do.
            tx.execute(f'ALTER TABLE {table} OWNER TO "{app_role}"')
    done.append(
        f"role {app_role}: SELECT, INSERT on events (no UPDATE, DELETE, TRUNCATE); "
        f"read/write on {', '.join(WORKING_TABLES)}; owns the view tables"
    )
    return done
