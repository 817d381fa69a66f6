"""Infrastructure branches of the error tree (the root is :class:`domain.errors.LedgerError`).

LedgerError
├── ConfigurationError          a database URL or option the ledger cannot use
├── StoreError                  the database is unreachable, locked, read-only, full or corrupt
│   ├── DatabaseLockedError     another process held the lock longer than the ledger may wait
│   ├── DatabaseReadOnlyError   the database refuses writes (mode=ro, read-only media or session)
│   ├── DatabaseFullError       the disk, or the database's size limit, is full
│   ├── DatabaseCorruptError    the file is not a database, or its pages are damaged
│   ├── DatabaseReplacedError   the SQLite file was deleted or replaced while a writer had it open
│   ├── StaleBatchError         a batch's decisions went stale under another writer: decide again
│   └── ConcurrencyError        optimistic-concurrency retries were exhausted
├── MessageError                an inbound message that cannot be read (bad JSON, unknown type, …)
└── RequestNotRecordedError     placing: the request was not recorded, so the order must not be sent
    └── OrderDeniedError        the pre-trade check denied it (journaled as denied, never sent)

Every StoreError's message is one line saying what is wrong; when a write fails with one, the
transaction it was in has been rolled back whole.
"""

from __future__ import annotations

from orderledger.domain.errors import LedgerError


class ConfigurationError(LedgerError):
    """A database URL or option the ledger cannot use."""


def missing_extra(error: ModuleNotFoundError) -> ConfigurationError | None:
    """The one line for an optional dependency that is not installed, naming the extra that adds
    it ("aiohttp is not installed: pip install 'orderledger[collect]'"), or None when the module
    is not one of the package's optional dependencies. The extras are read from the installed
    package's own metadata (pyproject.toml's ``optional-dependencies``), the one place they are
    declared; ``dev`` is named only when no other extra has the module."""
    # (start-up cost: read only when a command fails for want of a module)
    from importlib import metadata

    module = (error.name or "").split(".")[0]
    if not module:
        return None
    wanted = module.replace("_", "-").lower()
    try:
        requirements = metadata.requires("orderledger") or []
    except metadata.PackageNotFoundError:
        return None
    extras: list[str] = []
    for requirement in requirements:
        name = requirement.split(";")[0].split("[")[0]
        for mark in "<>=!~ ":
            name = name.split(mark)[0]
        if name.replace("_", "-").lower() == wanted and "extra ==" in requirement:
            extras.append(requirement.split("extra ==")[1].strip().strip("'\""))
    if not extras:
        return None
    extra = next((e for e in extras if e != "dev"), extras[0])
    return ConfigurationError(f"{module} is not installed: pip install 'orderledger[{extra}]'")


class StoreError(LedgerError):
    """The database is unreachable, locked, read-only, full or corrupt."""


class DatabaseLockedError(StoreError):
    """Another process held the database's write lock longer than the configured wait."""


class DatabaseReadOnlyError(StoreError):
    """The database refuses writes: opened read-only, on read-only media, or a read-only session."""


class DatabaseFullError(StoreError):
    """The disk, or the database's configured size limit (``max_pages``), is full."""


class DatabaseCorruptError(StoreError):
    """The file is not a database, is truncated, or has damaged pages."""


class DatabaseReplacedError(StoreError):
    """The SQLite file a writer has open is no longer the file at its path (deleted or replaced):
    what it would commit is lost when it stops, so it commits and acknowledges nothing more."""


class StaleBatchError(StoreError):
    """Another writer committed something this batch's decisions depended on: decide again."""


class ConcurrencyError(StoreError):
    """Another writer kept changing the same orders; the bounded retries ran out."""


WRITE_RACE = (
    "another process wrote the same rows at the same moment, so this write was not stored:"
    " try again (repeating it is safe: each fact is stored once)"
)
"""What a command or a request says of a unique-key conflict no retry inside the ledger absorbed
(``storage.db.is_write_race``): what happened and what to do, never the driver's text."""


class MessageError(LedgerError):
    """An inbound message the ledger cannot read: malformed JSON, unknown type or field."""


class RequestNotRecordedError(LedgerError):
    """``placing``: the ledger did not record the order's request, so it must not be sent."""

    def __init__(self, message: str, *, client_order_id: str, outcome: str, reason: str | None) -> None:
        super().__init__(message, client_order_id=client_order_id)
        self.outcome = outcome
        self.reason = reason


class OrderDeniedError(RequestNotRecordedError):
    """``placing``: the pre-trade check denied the order (a limit it would breach, a halted or
    reduce-only account); the request is journaled as ``denied`` with the reasons, never sent."""
