"""The ``snapshots`` format's feed: consecutive open-orders snapshots, each reconciled.

One document per line in the reconcile snapshot format (docs/reconciliation.md). Each is
reconciled against the ledger as the previous lines left it (``reconcile.Reconciler``: new
orders, acknowledgements, fills the venue reports, orders the venue closed, and inferred fills
one per total, as Tradier's, so snapshots read in any order give the same fills); an order open
in the ledger but missing from one snapshot is closed only when the next snapshot lacks it too,
so one gap in the stream (a snapshot missed or cut short) never closes an order; an ingest's
first snapshot of a stream follows the stream's last one in the journal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.adapters.declared import NoOptions
from orderledger.infrastructure.application.reconcile import Reconciler, parse_snapshot
from orderledger.infrastructure.messages.models import Message, parse_message
from orderledger.infrastructure.storage.journal import recent_lines

SNAPSHOT_GRACE = timedelta(seconds=60)


class SnapshotFeed:
    """Consecutive open-orders snapshots, each reconciled against the ledger."""

    commit_each = True
    context_note: str | None = None

    def __init__(
        self,
        ledger: Any,
        venue: str = "",
        account: str = "",
        options: NoOptions | None = None,
        *,
        grace: timedelta = SNAPSHOT_GRACE,
    ) -> None:
        self.ledger = ledger
        self.grace = grace
        self._missing: dict[tuple[str, str], set[str]] = {}  # (venue, account) → absent last time

    def messages(self, raw: bytes, notes: list[str]) -> list[Message]:
        snapshot = parse_snapshot(raw)
        stream = (snapshot.venue, snapshot.account)
        absent_before = self._missing.get(stream)
        if absent_before is None:  # the stream's first snapshot in this ingest
            absent_before = self._absent_from_last(stream)
        found = Reconciler(self.ledger, snapshot, grace=self.grace).differences()
        absent_now: set[str] = set()
        out: list[Message] = []
        for difference in found:
            if difference.kind == "absent_at_venue" and difference.client_order_id:
                absent_now.add(difference.client_order_id)
                if difference.client_order_id not in absent_before:
                    notes.append(
                        f"{difference.client_order_id}: absent from this snapshot only; "
                        "closed if the next one lacks it too"
                    )
                    continue
            if not difference.corrections:
                notes.append(f"{difference.kind}: {difference.detail}")
            out += [parse_message(correction) for correction in difference.corrections]
        self._missing[stream] = absent_now
        if not found:
            notes.append(f"snapshot at {snapshot.as_of.isoformat()}: the ledger agrees")
        return out

    def _absent_from_last(self, stream: tuple[str, str]) -> set[str]:
        """The orders the stream's last journaled snapshot (an earlier ingest's) lacks, as the
        ledger stands: so a stream fed one snapshot per ingest closes an order missing from two
        consecutive snapshots, as one ingest of them all does."""
        with self.ledger.db.read() as tx:
            for line in recent_lines(tx, "snapshots"):
                try:
                    last = parse_snapshot(line)
                except InvalidInputError:
                    continue  # a line the journal kept as rejected
                if (last.venue, last.account) == stream:
                    break
            else:
                return set()
        found = Reconciler(self.ledger, last, grace=self.grace).differences()
        return {d.client_order_id for d in found if d.kind == "absent_at_venue" and d.client_order_id}


__all__ = ["SNAPSHOT_GRACE", "SnapshotFeed"]
