"""The venues, one line each: the ``venue`` module of every venue package.

Everything that names a venue or a format reads it from here: ``ingest --format`` and its
options, ``POST /messages``'s, ``OrderLedger.ingest_lines``, the feeds, ``orderledger collect``
and the tables of docs/venues.md and docs/collect.md. Adding a venue is a package
``adapters/<venue>/`` with its ``venue`` module (``declared.Venue``) and one line in
:data:`VENUES` (docs/venues.md, "Adding a venue").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module

from orderledger.infrastructure.adapters.declared import Collector, InputFormat, Venue

VENUES: list[str] = [
    "orderledger.infrastructure.adapters.ccxt.venue",
    "orderledger.infrastructure.adapters.fix.venue",
    "orderledger.infrastructure.adapters.hyperliquid.venue",
    "orderledger.infrastructure.adapters.lighter.venue",
    "orderledger.infrastructure.adapters.tradier.venue",
    "orderledger.infrastructure.adapters.snapshots.venue",
]
"""Each venue's declaration module (its ``VENUE``), in the order help texts list them."""

LEDGER = InputFormat("ledger", "the ledger's JSON-lines messages (docs/messages.md)")
"""The ledger's own format, read without an adapter: the first of every list of formats."""

_read: dict[tuple[str, ...], tuple[dict[str, InputFormat], dict[str, Collector]]] = {}


def _declared() -> tuple[dict[str, InputFormat], dict[str, Collector]]:
    key = tuple(VENUES)
    found = _read.get(key)
    if found is None:
        venues: list[Venue] = [import_module(module).VENUE for module in key]
        formats = {LEDGER.name: LEDGER}
        collectors: dict[str, Collector] = {}
        for venue in venues:
            for fmt in venue.formats:
                if fmt.name in formats:
                    raise ValueError(f"two venues declare the format {fmt.name!r}")
                formats[fmt.name] = fmt
            for collector in venue.collectors:
                if collector.name in collectors:
                    raise ValueError(f"two venues declare the collector {collector.name!r}")
                collectors[collector.name] = collector
        found = _read[key] = (formats, collectors)
    return found


def formats() -> dict[str, InputFormat]:
    """Every input format by name: the ledger's, then each venue's."""
    return _declared()[0]


def collectors() -> dict[str, Collector]:
    """Every collector by the name ``orderledger collect`` takes."""
    return _declared()[1]


@contextmanager
def registered(module: str) -> Iterator[None]:
    """The venue whose declaration is ``module`` registered while the block runs (its line in
    :data:`VENUES`, for an embedder's own venue or a test's)."""
    VENUES.append(module)
    try:
        yield
    finally:
        VENUES.remove(module)


__all__ = ["LEDGER", "VENUES", "collectors", "formats", "registered"]
