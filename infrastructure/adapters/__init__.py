"""Venue adapters: translate venue shapes into ledger messages (the core never names a venue).

A venue is one package here (docs/venues.md, "Adding a venue"): ``ccxt``, ``fix``,
``hyperliquid``, ``lighter``, ``tradier`` and ``snapshots`` (open-orders snapshots of any
venue). Each holds the modules that read its payloads and return the ledger's message models,
each validated once (``infrastructure.messages.models``), pure translation with no I/O; its
``venue`` module's declaration (``declared.Venue``: its formats, their options, its collectors).
A venue's feed (a format that reads the ledger, ``application.feeds.<venue>``) and its collector
(a live connection, ``collect.venues.<venue>``) are of the layers above, named by the declaration
and loaded by name. ``registry`` lists the packages, one line a venue. Shared by all: ``common``
(the message helpers) and ``aliases`` (venue aliases: numeric client index, FIX ClOrdIDs); the
ccxt route's per-exchange readings are ``ccxt.exchanges``.

Feed each message as its own JSON line (``message_to_json``, ``OrderLedger.ingest_lines``), or
wrap one raw payload and its messages with :func:`~infrastructure.ingest.inbound.inbound` for
``OrderLedger.ingest_inbound``. Adapters import nothing from ingest: ingest builds on them.
"""

from __future__ import annotations

from orderledger.infrastructure.adapters.common import AdapterError

__all__ = ["AdapterError"]
