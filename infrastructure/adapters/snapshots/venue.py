"""Open-orders snapshots: a format of any venue, reconciled one after another."""

from __future__ import annotations

from orderledger.infrastructure.adapters.declared import InputFormat, Venue

VENUE = Venue(
    formats=(
        InputFormat(
            "snapshots",
            "open-orders snapshots, reconciled one after another",
            feed="orderledger.infrastructure.application.feeds.snapshots:SnapshotFeed",
            judges="orderledger.infrastructure.application.feeds.snapshots:judge_named",
            judged_table="snapshot_times",  # (``storage.snapshot_index``: made with the first snapshot)
        ),
    ),
)

__all__ = ["VENUE"]
