"""The realized P&L series as its contract states it, walked entry by entry: every P&L entry
of the views read and its time parsed, sorted, and added one by one (the reference that the
tests and the benchmark compare ``application.series.realized_series`` with)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.values import WIDE
from orderledger.infrastructure.results.pnl import PnlPoint
from orderledger.infrastructure.storage.db import Database
from orderledger.projections.book import ZERO


def walked_series(db: Database, points: int | None = None) -> list[PnlPoint]:
    """Every P&L entry of the views read and its time parsed, sorted in venue time (then log
    position) when sliced, each amount added to its row's sum and its currency's running total
    one at a time."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT position, ts_event, account, venue, instrument, quote_currency, realized"
            " FROM pnl_entries_view ORDER BY position"
        )
    stamps = [datetime.fromisoformat(row[1]) for row in rows]
    order, slice_of = time_slices(stamps, points)
    totals: dict[str, Decimal] = {}
    kept: dict[tuple[str, str, int], tuple[int, Any, Decimal]] = {}  # (account, quote, slice) →
    for step, index in enumerate(order):
        _, _, account, _, _, quote, realized = rows[index]
        key = quote or ""
        amount = Decimal(realized)
        totals[key] = WIDE.add(totals.get(key, ZERO), amount)
        line = (account, key, slice_of(step))
        summed = kept[line][2] if line in kept else ZERO
        kept[line] = (step, totals[key], WIDE.add(summed, amount))
    result: list[PnlPoint] = []
    for step, cumulative, realized in sorted(kept.values(), key=lambda k: k[0]):
        position, _, account, venue, instrument, quote, _ = rows[order[step]]
        result.append(
            PnlPoint(
                position=position,
                ts_event=stamps[order[step]],
                account=account,
                venue=venue,
                instrument=instrument,
                quote_currency=quote,
                realized_pnl=realized,
                cumulative_realized_pnl=cumulative,
            )
        )
    return result


def time_slices(stamps: list[datetime], points: int | None) -> tuple[list[int], Callable[[int], int]]:
    """The order to go through ``stamps`` (in log order) and the slice each step of it falls in.
    Without ``points``: log order, each entry its own slice. With it: venue time, then log order,
    in ``points`` equal slices from the earliest time to the latest (each entry its own slice when
    there are no more entries than ``points``)."""
    if points is None:
        return list(range(len(stamps))), lambda step: step
    order = sorted(range(len(stamps)), key=lambda index: (stamps[index], index))
    moments = [stamp.timestamp() for stamp in stamps]
    if len(stamps) <= points:
        return order, lambda step: step
    first, last = moments[order[0]], moments[order[-1]]
    width = (last - first) / points or 1.0
    return order, lambda step: min(points - 1, int((moments[order[step]] - first) / width))
