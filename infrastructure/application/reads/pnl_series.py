"""The realized P&L series (``pnl_series``, ``GET /pnl/series``): the P&L entries of the views in
log order, or summed over equal slices of venue time (the operator page's P&L chart).

In slices of many entries each (the page's 500 points on a ledger of more than 16,000 entries),
the rows come from the running sums kept with each entry (``pnl_run_slices``), at the cost of the rows
shown. Where those cannot be kept (a read-only ledger, another writer holding the lock, views
with work left for later), it reads of each entry the five fields that a slice needs (log
position, venue time, account, quote currency, amount), each column of the view aggregated into
one text, and nothing more: venue times stay the view's text, compared as text, amounts of "0"
(the fills that open or add to a position, half of all) are never decoded, and only the rows
shown have their venue and instrument read and their time parsed (``_in_slices``). In slices
of a few entries, and without slices, most entries are shown: it walks them one by one
(``_walk``), as the contract states it.

Venue time as text: the view writes ``isoformat()`` of a UTC time, ``YYYY-MM-DDTHH:MM:SS`` then
``+00:00`` or ``.ffffff+00:00``. Up to the seconds the text is of fixed width, and at equal
seconds "+" sorts before "." as no fraction comes before any (two texts of one time are the same
text), so the texts' order is the times' order. A slice's first entry is found by bisecting the
ordered texts with the text of the slice's first microsecond (``_slice_starts``).

The amounts are added in the order and with the context (``WIDE``) of the contract's walk, so
every sum is the walk's to the last digit and exponent: each row's sum over its entries in
venue-then-log order, each running total over its currency's entries in that order, in C
(``sum``, ``accumulate``) rather than one Python step at a time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, localcontext
from itertools import accumulate, chain, compress, count, repeat
from operator import add, itemgetter, mul, ne

from orderledger.domain.values import WIDE
from orderledger.infrastructure.application.reads.pnl_run_slices import kept_series
from orderledger.infrastructure.application.reads.time_slices import slice_start_texts, slicer
from orderledger.infrastructure.results.pnl import PnlPoint
from orderledger.infrastructure.storage.db import Database, Tx, rows_by_keys
from orderledger.projections.book import ZERO

DENSE = 32
"""Slices of fewer entries than this on average are summed entry by entry (``_walk``): most
entries are shown."""
SPAN = 1 << 20
"""Log positions whose entries one statement reads (``_columns``): a text per column of at most
that many values."""

Kept = tuple[int, Decimal, Decimal]
"""A row shown: the step (its place in the walk's order), the sum of its entries, the running
total of its currency at it."""


def realized_series(db: Database, points: int | None = None, *, keep: bool = True) -> list[PnlPoint]:
    """Realized P&L entry by entry in log order, each with its event's venue time and the running
    total per quote currency (amounts in different currencies are never added together).

    With ``points``, the entries go in venue time (then log position), and each account's entries
    per quote currency are summed over ``points`` equal slices of venue time (the series' first to
    last entry): one row per slice, the slice's last entry with ``realized_pnl`` the sum of the
    slice's entries and the running total per currency in that same order. A running sum of the
    rows per account and currency is then exact at the end of every slice, and the answer's size
    is bounded by accounts × currencies × ``points`` whatever the ledger's size.

    In slices of many entries each, the rows come from the running sums kept with each entry
    (``pnl_run_slices.kept_series``: ``points`` seeks per line, whatever the history), brought up to
    the views first; where they cannot be (``keep`` False, a read-only ledger, a writer holding
    the lock, views with work left for later), from the view's entries."""
    if points is not None and keep:
        found = kept_series(db, points, points * DENSE)
        if found is not None:
            return found
    with db.read() as tx:
        if points is None or tx.one("SELECT count(*) FROM pnl_entries_view")[0] <= points * DENSE:
            return _walk(tx, points)
        positions, stamps, accounts, currencies, texts = _columns(tx)
        # Venue time, then log position: a stable sort of the log's order (in which the entries
        # mostly come already: then its sort is one pass)
        order = sorted(sorted(range(len(stamps)), key=positions.__getitem__), key=stamps.__getitem__)
        stamps = list(map(stamps.__getitem__, order))
        codes, of_line = _lines(accounts, currencies)
        with localcontext(WIDE):
            kept = _in_slices(
                list(map(codes.__getitem__, order)),
                of_line,
                list(map(texts.__getitem__, order)),
                _slice_starts(stamps, points),
            )
        shown = [positions[order[step]] for step, _, _ in kept]
        places = _places(tx, shown, len(stamps))
    return [
        PnlPoint(
            position=position,
            ts_event=datetime.fromisoformat(stamps[step]),
            account=accounts[order[step]],
            venue=places[position][0],
            instrument=places[position][1],
            quote_currency=places[position][2],
            realized_pnl=realized,
            cumulative_realized_pnl=cumulative,
        )
        for position, (step, realized, cumulative) in zip(shown, kept, strict=True)
    ]


def _walk(tx: Tx, points: int | None) -> list[PnlPoint]:
    """The series entry by entry (the contract's own walk): without ``points`` in log order, each
    entry its own row; with them in venue time, then log order, in their slices (each entry its
    own when there are no more entries than ``points``). For slices of a few entries each, where
    most entries are shown."""
    rows = tx.all(
        "SELECT position, ts_event, account, venue, instrument, quote_currency, realized"
        " FROM pnl_entries_view ORDER BY position"
    )
    if points is not None:
        rows.sort(key=itemgetter(1))  # stable: then log position
    times = [datetime.fromisoformat(row[1]) for row in rows]
    slices: Iterable[int] = range(len(rows))
    if points is not None and len(rows) > points:
        slice_at = slicer(times[0].timestamp(), times[-1].timestamp(), points)
        slices = [slice_at(time.timestamp()) for time in times]
    totals: dict[str, Decimal] = {}
    kept: dict[tuple[str, str, int], tuple[int, Decimal, Decimal]] = {}  # (account, currency, slice) →
    with localcontext(WIDE):
        for step, (_, _, account, _, _, quote, text), at in zip(count(), rows, slices):
            amount = Decimal(text)
            totals[quote or ""] = total = totals.get(quote or "", ZERO) + amount
            held = kept.get((account, quote or "", at))
            kept[account, quote or "", at] = (step, (ZERO if held is None else held[1]) + amount, total)
    result: list[PnlPoint] = []
    for step, realized, cumulative in sorted(kept.values()) if points is not None else kept.values():
        position, _, account, venue, instrument, quote, _ = rows[step]
        result.append(
            PnlPoint(
                position=position,
                ts_event=times[step],
                account=account,
                venue=venue,
                instrument=instrument,
                quote_currency=quote,
                realized_pnl=realized,
                cumulative_realized_pnl=cumulative,
            )
        )
    return result


def _lines(accounts: list[str], currencies: list[str]) -> tuple[list[int], list[str]]:
    """Each entry's line (its account and currency) as a number, and each line's currency: made
    of ints alone, as a tuple per entry would cost more than all the rest (and wake the garbage
    collector)."""
    names, units = (list(dict.fromkeys(column)) for column in (accounts, currencies))
    account_of = map({name: n for n, name in enumerate(names)}.__getitem__, accounts)
    currency_of = map({unit: n for n, unit in enumerate(units)}.__getitem__, currencies)
    return list(map(add, map(mul, account_of, repeat(len(units))), currency_of)), units * len(names)


def _in_slices(codes: list[int], currencies: list[str], texts: list[str], starts: list[int]) -> list[Kept]:
    """One row per account, currency and slice, at the slice's last entry of that account and
    currency, in the walk's order. ``codes`` and ``texts`` (the amounts) are the entries' in the
    walk's order, each code the entry's line (account and currency), ``currencies`` each line's
    currency; ``starts`` is each slice's first step, then the number of steps.

    In the context ``WIDE``, each sum adds its entries one by one in the walk's order from
    ``ZERO``, less the entries of "0", which change nothing: a sum from ``ZERO`` is never -0, and
    its exponent is 0 or less (0 lowers it no further), or above 0 after a rounding past the
    context's digits, which rounding the sum plus 0 gives back."""
    steps = range(len(codes))
    by_line = sorted(steps, key=codes.__getitem__)  # each line's steps in order, line after line
    live = list(compress(steps, map(ne, texts, repeat("0"))))
    amount = dict(zip(live, map(Decimal, map(texts.__getitem__, live)), strict=True))
    live_by_line = sorted(live, key=codes.__getitem__)
    runs = [_runs(ordered, codes, len(currencies)) for ordered in (by_line, live_by_line)]
    kept: list[Kept] = []
    for currency in set(currencies):
        numbers = [number for number, of in enumerate(currencies) if of == currency]
        walked = sorted(chain.from_iterable(live_by_line[runs[1][n] : runs[1][n + 1]] for n in numbers))
        totals = list(accumulate(map(amount.__getitem__, walked), initial=ZERO))
        for number in numbers:
            line = by_line[runs[0][number] : runs[0][number + 1]]
            adding = live_by_line[runs[1][number] : runs[1][number + 1]]
            at = added = 0
            while at < len(line):  # the slice of ``line[at]``, and where the line leaves it
                end = starts[bisect_right(starts, line[at])]
                at, last = bisect_left(line, end, at), bisect_left(adding, end, added)
                summed = sum(map(amount.__getitem__, adding[added:last]), ZERO)
                kept.append((line[at - 1], summed, totals[bisect_right(walked, line[at - 1])]))
                added = last
    kept.sort(key=itemgetter(0))
    return kept


def _runs(ordered: list[int], codes: list[int], lines: int) -> list[int]:
    """Where each line's steps start in ``ordered`` (steps sorted by their line), then its length."""
    return [bisect_left(ordered, number, key=codes.__getitem__) for number in range(lines)] + [len(ordered)]


def _slice_starts(stamps: list[str], points: int) -> list[int]:
    """The first step of each of ``points`` equal slices of venue time from the first of
    ``stamps`` (the view's texts, in order) to the last, then ``len(stamps)``: the first text not
    before the slice's first microsecond (``slice_start_texts``)."""
    starts = [0]
    for text in slice_start_texts(stamps[0], stamps[-1], points):
        starts.append(len(stamps) if text is None else bisect_left(stamps, text, starts[-1]))
    starts.append(len(stamps))
    return starts


def _columns(tx: Tx) -> tuple[list[int], list[str], list[str], list[str], list[str]]:
    """Every entry's log position, venue time, account, quote currency ("" for none) and amount
    (texts but the position), in no set order: each column of a span of the log aggregated into
    one text (an object per column, not per entry and column), which every aggregate of a row
    builds from the same rows in the same order. (An order asked of each aggregate costs
    PostgreSQL a sort of its own.)"""
    found: tuple[list[int], list[str], list[str], list[str], list[str]] = ([], [], [], [], [])
    # (two statements: SQLite reads one of ``min`` or ``max`` from the key, both together by a scan)
    low, high = (tx.one(f"SELECT {end}(position) FROM pnl_entries_view")[0] for end in ("min", "max"))
    if low is None:
        return found
    joined = [_joined(tx.dialect, c, s) for c, s in zip(_COLUMNS, _SEPARATORS, strict=True)]
    sql = f"SELECT count(*), {', '.join(joined)} FROM pnl_entries_view WHERE position >= ? AND position < ?"
    for start in range(low, high + 1, SPAN):
        count, *texts = tx.one(sql, (start, start + SPAN))
        if not count:
            continue
        split = [text.split(separator) for text, separator in zip(texts, _SEPARATORS, strict=True)]
        if any(len(values) != count for values in split):  # a separator within a name: read plainly
            rows = tx.all(
                f"SELECT {', '.join(_COLUMNS)} FROM pnl_entries_view WHERE position >= ? AND position < ?",
                (start, start + SPAN),
            )
            split = [list(map(str, values)) for values in zip(*rows, strict=True)]
        found[0].extend(map(int, split[0]))
        for column, values in zip(found[1:], split[1:], strict=True):
            column += values
    return found


_COLUMNS = ("position", "ts_event", "account", "coalesce(quote_currency, '')", "realized")
_SEPARATORS = (",", ",", "\x1f", "\x1f", ",")
"""Between the values of each column: a comma where the values are numbers and times, the unit
separator between names (which hold no control character)."""


def _joined(dialect: str, column: str, separator: str) -> str:
    """A column's values as one text, ``separator`` between them."""
    mark = "','" if separator == "," else f"{'chr' if dialect == 'postgresql' else 'char'}({ord(separator)})"
    if dialect == "postgresql":
        return f"string_agg(CAST({column} AS TEXT), {mark})"
    return f"group_concat({column}, {mark})"


def _places(tx: Tx, positions: list[int], entries: int) -> dict[int, tuple[str, str, str | None]]:
    """The venue, instrument and quote currency of the entries at ``positions``: by the view's
    key, or in one read of every entry when they are more than half its ``entries``."""
    columns = ("position", "venue", "instrument", "quote_currency")
    if len(positions) * 2 > entries:
        return {row[0]: row[1:] for row in tx.all(f"SELECT {', '.join(columns)} FROM pnl_entries_view")}
    keys = [(p,) for p in positions]
    return {row[0]: row[1:] for row in rows_by_keys(tx, "pnl_entries_view", columns, ("position",), keys)}
