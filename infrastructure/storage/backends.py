"""Opening the database a URL names: the one place that knows the backends.

Apart from ``db``, which both backends build on (``Database``, ``parse_url``): a backend imports
``db``, and this module imports the backends.
"""

from __future__ import annotations

from orderledger.infrastructure.storage.db import Database, DatabaseUrl, parse_url
from orderledger.infrastructure.storage.sqlite import SqliteDatabase


def open_database(url: str, *, create: bool = True) -> Database:
    """Open the database a URL names (the one place that knows the backends).

    ``create=False`` (read-only commands) never creates a file, a schema or tables: a missing
    database, or one without the ledger's tables, is an error instead.
    """
    return open_parsed(parse_url(url), create=create)


def open_parsed(parsed: DatabaseUrl, *, create: bool = True) -> Database:
    """Open the database of a parsed URL (a worker process is handed ``Database.url``)."""
    if parsed.dialect == "postgresql":
        # Start-up cost: the PostgreSQL backend, and psycopg with it, load only when a URL names it.
        from orderledger.infrastructure.storage.postgres import PostgresDatabase

        return PostgresDatabase(parsed, create=create)
    return SqliteDatabase(parsed, create=create)


__all__ = ["open_database", "open_parsed"]
