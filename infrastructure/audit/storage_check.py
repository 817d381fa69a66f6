"""The storage and the schema checked before the chains: the database file's own check
(SQLite) or its checksums setting (PostgreSQL), and the protections and triggers of the schema.
"""

from __future__ import annotations

from orderledger.infrastructure.storage.db import Database, Tx
from orderledger.infrastructure.storage.schema import foreign_triggers, missing_protection
from orderledger.infrastructure.storage.sqlite import check_sqlite_file


def check_storage(db: Database, *, deep: bool = False) -> dict[str, str]:
    """SQLite: ``PRAGMA quick_check`` (``integrity_check`` when deep), raising a one-line
    :class:`DatabaseCorruptError` when the file is damaged. PostgreSQL: its ``data_checksums``
    setting (with checksums off, a damaged page is read without complaint)."""
    with db.read() as tx:
        if tx.dialect == "postgresql":
            return {"data_checksums": str(tx.one("SHOW data_checksums")[0])}
        return {check_sqlite_file(tx, db.url.path, deep=deep): "ok"}


def schema_problems(tx: Tx) -> list[str]:
    """Protections the ledger's schema lacks, and triggers the ledger did not create."""
    return missing_protection(tx) + [
        f"trigger {trigger} on table {table} was not created by the ledger: it runs with the"
        " rights of whoever writes next (`orderledger db init` as the owner removes it)"
        for table, trigger in foreign_triggers(tx)
    ]
