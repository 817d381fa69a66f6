"""Stateful venue feeds: inputs whose translation depends on what came before.

``OrderLedger.ingest_lines(..., fmt=...)`` opens one feed per call (``ingest.formats.translator``;
:func:`open_feed` opens one by its format's name) for the formats that read the ledger (a format
whose declaration names a ``feed``, ``adapters.declared.InputFormat``), so state lives exactly as
long as one ingest. Each venue's feed is a module here named for it (``hyperliquid``, ``lighter``,
``tradier``, ``snapshots``), declared by its venue package (``adapters/<venue>/venue.py``); they
read the ledger (the orders it holds, a reconciliation against it), so they are of the
application's layer, and this module holds what they share:

* :class:`FeedContext` — the context a feed learns (Lighter's market map, Hyperliquid's spot
  names): from the lines read and, when a line needs what the feed lacks, from the journal; a
  line still lacking it is parked until a line bringing it is recorded, then read again
  (``ingest.settlement``).
* :func:`booked_order` — what the ledger holds of a venue's order: a venue-initiated
  (liquidation, ADL) order is sized by its fills, as the venue states no size for it, so when a
  later line brings more fills of an order the ledger holds, an ``amended`` raising it to what
  has then filled precedes them (``adapters.common.grow_forced_orders``).
* :func:`undefined_only` — an adapter's instrument definitions never replace a user's.

Every feed reads the ledger, so each of its lines is committed before the next is read
(:attr:`Feed.commit_each`); such formats cannot be used with ``strict``. A second ingest of the
same input finds everything booked and records nothing new.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from orderledger.domain.errors import LedgerError
from orderledger.domain.identity import IdentityKey
from orderledger.domain.order import external_client_order_id
from orderledger.infrastructure.adapters.common import CONTEXT, BookedOrder, MissingContext
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.ingest.formats import translator
from orderledger.infrastructure.ingest.settlement import context_lines
from orderledger.infrastructure.messages.exact_json import decode_json
from orderledger.infrastructure.messages.models import InstrumentMessage, Message
from orderledger.infrastructure.storage.journal import journal_end


class Feed(Protocol):
    """Translates one input line to ledger messages, with state kept across lines."""

    commit_each: bool
    """True when a line's translation reads the ledger: each line is committed before the next."""

    context_note: str | None
    """How the journal reason of a line that only teaches the feed names (a market map, spot
    names) ends; a parked line read again to book it (``OrderLedger.venues.settle``) is read after
    the journal's lines of that kind, as the ingest that parked it had read them."""

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        """The messages of one line; ``notes`` gets a line per part deliberately not booked."""
        ...


def open_feed(
    ledger: Any, fmt: str, venue: str, account: str, options: Mapping[str, Any] | None = None
) -> Feed:
    """The feed for one ingest of format ``fmt`` with its adapter ``options`` (what it needs,
    and the options it takes, were checked against the format's declaration,
    ``formats.check_options``), its declared feed class opened with its options object."""
    declared = formats().get(fmt)
    if declared is None or declared.feed is None:
        raise ConfigurationError(f"unknown feed format {fmt!r}")
    opened: Feed = translator(ledger, declared, venue, account, options)
    return opened


class FeedContext:
    """What a feed learns from its context lines (Lighter's market map, Hyperliquid's spot
    names): from the lines it reads, and from the journal's, which an earlier ingest or another
    process recorded. The journal is read only when a line needs what the feed does not know,
    and then only its lines recorded since the last look (``settlement.context_lines``), so an
    ingest whose lines all name what it knows never reads it.

    ``learned`` holds the context keys (venue, ``context:<kind>``, value) the feed learnt since
    the ingest last took them (``take``): after the line that taught them is committed, the
    lines parked waiting under them are read again (``recording``)."""

    def __init__(
        self,
        ledger: Any,
        fmt: str,
        venue: str,
        note: str,
        adapter: Callable[[Any], object],
        learned: list[tuple[str, str]],
    ) -> None:
        self.ledger = ledger
        self.fmt = fmt
        self.venue = venue
        self.note = note
        self._read = adapter  # reads one context line into the adapter
        self._learned = learned  # the adapter's (kind, value) list it appends to
        self.seen = 0  # the journal read up to this message ID

    def messages(self, translate: Callable[[], list[Message]], notes: list[str]) -> list[Message]:
        """``translate()``'s messages; a line that needs context the feed lacks is tried again
        once the journal's newer context lines are read (still lacking: ``MissingContext``)."""
        kept = len(notes)
        try:
            return translate()
        except MissingContext:
            if not self.catch_up():
                raise
        del notes[kept:]
        return translate()

    def catch_up(self) -> bool:
        """Read the journal's context lines recorded since the last look; whether there were any."""
        with self.ledger.db.read() as tx:
            end = journal_end(tx)
            lines = context_lines(tx, self.fmt, end + 1, self.note, after=self.seen)
        self.seen = end
        for line in lines:
            with contextlib.suppress(LedgerError, ValueError):
                self._read(decode_json(line))
        return bool(lines)

    def take(self) -> list[IdentityKey]:
        """The context keys learnt since last asked."""
        found = [IdentityKey(self.venue, CONTEXT + kind, value) for kind, value in self._learned]
        self._learned.clear()
        return found


def undefined_only(messages: list[Message], defined: Callable[[str, str], bool]) -> list[Message]:
    """The messages without the definitions of instruments the ledger defines already
    (``defined(venue, instrument)``): an adapter's definition (a perpetual's settle currency)
    states what the venue's payloads imply, and never replaces one a user recorded
    (``instruments load``), which may say more."""
    return [m for m in messages if type(m) is not InstrumentMessage or not defined(m.venue, m.instrument)]


def booked_order(ledger: Any, venue: str, venue_order_id: str) -> BookedOrder | None:
    """What the ledger holds of the external order ``ext-<venue>-<venue order ID>``."""
    order = ledger.processor.load_order(external_client_order_id(venue, venue_order_id), trust_absent=False)
    if order is None:
        return None
    trades = frozenset(f.trade_id for f in order.fills.values() if not f.busted)
    return BookedOrder(order.quantity, order.filled_quantity, trades)


__all__ = [
    "Feed",
    "FeedContext",
    "booked_order",
    "open_feed",
    "undefined_only",
]
