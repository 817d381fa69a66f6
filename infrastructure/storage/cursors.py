"""The ledger's cursor secret: the key that seals the cursors of its list pages.

Stored in ``ledger_meta`` (``cursor_secret``, 32 random bytes as hex), made with the schema and,
for a ledger created before it had one, by the first process that may write there. A cursor is
bound to the ledger that issued it: without the secret nobody can make one the ledger takes, and
rotating it (``orderledger db rotate-cursor-secret``) voids every cursor issued before.

A process that finds no secret and may not store one (a read-only open of such a ledger, or the
application role, which only reads ``ledger_meta``, before ``orderledger db init`` has run once
as the owner) seals with a key of its own, made at random when it starts: its cursors then hold
only for that process.
"""

from __future__ import annotations

import secrets

from orderledger.infrastructure.errors import DatabaseReadOnlyError, StoreError
from orderledger.infrastructure.storage.db import Database, Tx

KEY = "cursor_secret"
"""The ``ledger_meta`` key that holds the secret."""
_PROCESS_SEAL = secrets.token_bytes(32)
"""This process's own key, for a ledger without a secret it may not store one in."""


def _new() -> str:
    return secrets.token_hex(32)


def store_new(tx: Tx) -> None:
    """Give the ledger a secret in ``tx`` unless it has one (a concurrent store of another
    process is no conflict: the first one stays)."""
    tx.execute(
        "INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (KEY, _new())
    )


def ensure(db: Database) -> None:
    """Store a secret in a ledger that has none, if this process may write there."""
    with db.read() as tx:
        if tx.one("SELECT 1 FROM ledger_meta WHERE key = ?", (KEY,)) is not None:
            return
    try:
        with db.write() as tx:
            store_new(tx)
    except DatabaseReadOnlyError:
        return  # read-only: this process seals with its own key
    except StoreError as error:
        if "permission denied" not in str(error):
            raise  # (the application role may not write ledger_meta: its own key likewise)


def rotate(db: Database) -> None:
    """Replace the secret: every cursor issued before is refused from now on."""
    with db.write() as tx:
        tx.execute("DELETE FROM ledger_meta WHERE key = ?", (KEY,))
        tx.execute("INSERT INTO ledger_meta (key, value) VALUES (?, ?)", (KEY, _new()))


def seal(db: Database) -> bytes:
    """The key this ledger's cursors are sealed with (read at each use, so a rotation by another
    process holds at once)."""
    with db.read() as tx:
        row = tx.one("SELECT value FROM ledger_meta WHERE key = ?", (KEY,))
    if row is None:
        return _PROCESS_SEAL
    try:
        return bytes.fromhex(str(row[0]))
    except ValueError:
        return _PROCESS_SEAL  # not one this ledger stored: no cursor made with it is taken
