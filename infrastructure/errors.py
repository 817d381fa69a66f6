"""Infrastructure branches of the error tree (the root is :class:`domain.errors.LedgerError`).

LedgerError
├── ConfigurationError      a database URL or option the ledger cannot use
├── StoreError              the database is unreachable, locked, read-only, full or corrupt
│   └── ConcurrencyError    optimistic-concurrency retries were exhausted
└── MessageError            an inbound message that cannot be read (bad JSON, unknown type, …)
"""

from __future__ import annotations

from domain.errors import LedgerError


class ConfigurationError(LedgerError):
    """A database URL or option the ledger cannot use."""


class StoreError(LedgerError):
    """The database is unreachable, locked, read-only, full or corrupt."""


class StaleBatchError(StoreError):
    """Another writer committed something this batch's decisions depended on: decide again."""


class ConcurrencyError(StoreError):
    """Another writer kept changing the same orders; the bounded retries ran out."""


class MessageError(LedgerError):
    """An inbound message the ledger cannot read: malformed JSON, unknown type or field."""
