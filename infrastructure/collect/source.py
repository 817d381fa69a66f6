"""What a collector reads from: a :class:`Source` (one venue connection), and the faults it
reports.

A source knows its venue's protocol and nothing of the ledger: it yields raw frames (bytes, as
received) in an input format of ``infrastructure/ingest/formats.py``, and the
:class:`~orderledger.infrastructure.collect.runner.Collector` journals and ingests them, reconnects,
backfills and reconciles. Faults are typed: :class:`ConnectionLost` is passing (the collector
reconnects, after ``retry_after`` seconds at least when the venue said so); the others are
permanent (the collector stops with their one-line reason and a non-zero exit).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from orderledger.domain.errors import LedgerError
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.ingest.inputs import Refused


class Reports:
    """What a source says beside its frames and faults: an anomaly it worked around (a rate-limit
    header capped). The collector running the source listens (``listener``); each line becomes
    its status's ``error``, so the status never says all is well while it is not."""

    def __init__(self) -> None:
        self.listener: Callable[[str], None] | None = None

    def say(self, line: str) -> None:
        if self.listener is not None:
            self.listener(line)


@dataclass(frozen=True)
class SourceConfig:
    """What a source factory is given: the venue name (as the ledger books it), the account, the
    endpoint URL (``endpoint`` resolved), the venue's ``options`` (name → value, checked against
    its spec in ``registry.COLLECTORS``), its credentials, and the timing (injected in tests)."""

    venue: str
    account: str | None
    endpoint: str
    options: Mapping[str, str]
    credentials: Credentials
    timing: Timing = field(default_factory=Timing)
    reports: Reports = field(default_factory=Reports)

    def number(self, name: str, default: float, *, zero: bool = False, unit: str = "") -> float:
        """The option ``name`` as a positive number (``zero``: a number from 0) of ``unit``;
        ``default`` when not given (or given empty). Anything else is refused in one line."""
        text = self.options.get(name)
        if text is None or text == "":
            return default
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (value >= 0 if zero else value > 0):  # NaN fails both
            of = f" of {unit}" if unit else ""
            bound = f"a number{of} from 0" if zero else f"a positive number{of}"
            raise ConfigurationError(f"`options` {name} must be {bound}, not {text[:40]!r}")
        return value

    def seconds(self, name: str, default: float, *, zero: bool = False) -> float:
        """The option ``name`` as a number of seconds (see :meth:`number`)."""
        return self.number(name, default, zero=zero, unit="seconds")


class CollectError(LedgerError):
    """A fault of a venue connection; the message is one line and never holds a credential."""


class ConnectionLost(CollectError):
    """The link dropped (closed, reset, timed out, throttled): reconnect and backfill.

    ``retry_after``: seconds the venue asked to wait (HTTP 429/503 ``Retry-After``), else None;
    ``refused``: what was refused and why (a frame or reply beyond the collector's bounds,
    ``bounds.refused``), journaled by the collector before it reconnects; ``ended``: the venue
    said the stream is over (an end-of-stream notice such as Binance's ``listenKeyExpired``,
    or the stream ending) rather than the link failing."""

    def __init__(self, message: str, *, retry_after: float | None = None, ended: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.refused: Refused | None = None
        self.ended = ended

    @property
    def reason(self) -> str:
        """Why the connection counts as lost, one of :data:`REASONS` (the status's
        ``reconnect_reasons`` and the metrics' ``reason`` label: a fixed few, never the message)."""
        if self.ended:
            return "ended"
        if self.refused is not None:
            return "refused"
        return "lost" if self.retry_after is None else "throttled"


REASONS = ("lost", "ended", "throttled", "refused")
"""Why a connection counts as lost: the link dropped or timed out; the venue ended the stream
(its end-of-stream notice); the venue asked for a wait (429, a rate-limit reply); a frame or
reply beyond the collector's bounds was refused."""


class CredentialsRejected(CollectError):
    """The venue refused the credentials (HTTP 401/403, an auth error frame): permanent."""


class UnknownSymbol(CollectError):
    """The venue does not know an instrument or account the collector was told to follow: permanent."""


class Unreachable(CollectError):
    """The endpoint cannot be used at all (bad URL, no such file, name not resolvable): permanent."""


PERMANENT: tuple[type[CollectError], ...] = (CredentialsRejected, UnknownSymbol, Unreachable)
"""The faults that stop a collector instead of a reconnect."""


@runtime_checkable
class Source(Protocol):
    """One venue connection, as a collector drives it.

    ``format`` names an input format of the venue registry (``adapters.venue_registry.formats()``:
    what the frames are ingested as) and ``options`` are that format's adapter options. Sources
    may also set ``reconciles = False`` when the venue offers no open-orders query (a FIX log):
    ``open_orders`` is then never called. The collector calls ``connect``, then ``backfill``,
    then ``frames``; after a ``ConnectionLost`` it calls ``close`` and starts over with
    ``connect``.
    """

    venue: str
    account: str | None
    format: str
    options: dict[str, Any]

    async def connect(self) -> None:
        """Open the connection (log in, subscribe); raise a fault of this module if it fails."""
        ...

    def frames(self) -> AsyncIterator[bytes]:
        """The live stream: each raw frame as received. Raises ``ConnectionLost`` when the link
        drops; ``CredentialsRejected``, ``UnknownSymbol`` or ``Unreachable`` for permanent faults."""
        ...

    def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        """REST payloads in the same format covering ``since`` (None: the venue's recent history)
        with overlap; duplicates are fine (ingest deduplicates by trade ID and event identity)."""
        ...

    async def open_orders(self) -> list[dict[str, Any]]:
        """The venue's open orders as reconciliation snapshot rows (docs/reconciliation.md)."""
        ...

    async def close(self) -> None:
        """Release the connection (called after a fault and at the end; must not raise)."""
        ...


__all__ = [
    "PERMANENT",
    "REASONS",
    "CollectError",
    "ConnectionLost",
    "CredentialsRejected",
    "Reports",
    "Source",
    "UnknownSymbol",
    "Unreachable",
]
