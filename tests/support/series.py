"""The realized P&L series as its contract states it, walked entry by entry: every P&L entry
of the views read and its time parsed, sorted, and added one by one (the reference that the
tests and the benchmark compare ``application.reads.pnl_series.realized_series`` with)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from unittest import mock

from orderledger.domain.values import WIDE
from orderledger.infrastructure.application.reads import pnl_series
from orderledger.infrastructure.results.pnl import PnlPoint
from orderledger.infrastructure.storage.db import Database
from orderledger.projections.book import ZERO
from tests.support.integration import fact, fill, request


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


# ---------------------------------------------------------------------- sessions to read it from

BOOKS = (("a", "ETH-USDT"), ("a", "BTC-USD"), ("b", "ETH-USDT"), ("c", "SOL-EUR"), ("b", "BTC-USD"))
FRACTIONS = (0.0, 0.0, 0.25, 0.000001, 0.5)
"""Of a second after a fill's whole second: none (the view's text has no microseconds) or some."""

PRICES = ("95", "99.5", "100", "100", "100.25", "101.50", "105")
"""Whole and not (an entry of 0.00 or of 1.50 is not one of 0 or of 1.5: its digits count)."""

Drawn = tuple[int, str, int, str, int, float]
"""An order: its book (an index into ``BOOKS``), side, quantity, price, whole second, fraction."""


def session(orders: list[Drawn], changes: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Each order's request and fill (at its second and fraction); the busts and corrections of
    ``changes`` (the order's index, "bust" or "correct")."""
    messages: list[dict[str, Any]] = []
    for n, (book, side, quantity, price, second, fraction) in enumerate(orders):
        account, instrument = BOOKS[book]
        messages.append(
            request(
                f"o{n}", account=account, instrument=instrument, side=side, quantity=str(quantity), seconds=0
            )
        )
        messages.append(fill(f"o{n}", f"t{n}", str(quantity), price, seconds=second + fraction))
    for n, kind in changes:
        if n < len(orders):
            _, _, quantity, price, second, fraction = orders[n]
            if kind == "bust":
                messages.append(fact("fill_busted", f"o{n}", seconds=second + 30, trade_id=f"t{n}"))
            else:
                messages.append(
                    fact(
                        "fill_corrected",
                        f"o{n}",
                        seconds=second + fraction + 30,
                        trade_id=f"t{n}",
                        quantity="1",
                        price=str(Decimal(price) + 1),
                    )
                )
    return messages


def many_books(seed: int, fills: int) -> list[dict[str, Any]]:
    """A longer session (every book, times with and without microseconds, a few at one time)."""
    rng = random.Random(seed)
    orders: list[Drawn] = [
        (
            rng.randrange(len(BOOKS)),
            rng.choice(["buy", "sell"]),
            rng.randint(1, 3),
            rng.choice(PRICES),
            rng.randrange(600),
            rng.choice(FRACTIONS),
        )
        for _ in range(fills)
    ]
    return session(orders, [(5, "bust"), (9, "correct")])


@contextmanager
def paths(dense: int, span: int) -> Iterator[None]:
    """The series summed entry by entry only for slices of fewer than ``dense`` entries each (1:
    whenever there are more entries than slices), the entries read ``span`` log positions at a
    time."""
    with mock.patch.object(pnl_series, "DENSE", dense), mock.patch.object(pnl_series, "SPAN", span):
        yield
