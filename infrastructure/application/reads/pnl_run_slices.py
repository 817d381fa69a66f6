"""The realized P&L series in slices from the running sums kept with each P&L entry
(``storage.pnl_runs``), brought up to the views when read: what the operator page's P&L chart
asks, at a cost of the rows it shows.

A slice's row for a line (account and quote currency) is the line's last entry in the slice: its
amount is the line's running sum there less the line's running sum at the end of the slice
before, taken to the finest exponent among the slice's own amounts (the walk of the contract adds
them from 0, and a sum keeps its amounts' finest exponent), and its running total is the one
kept with the entry. Each slice's end is one seek along the line's index, all of a line's in one
statement: ``points`` seeks per line, whatever the history's length.

A read brings the rows up to the positions view (``_caught_up``), reading only what changed
since the rows' ``seen``: the entries after it, and of each book that one of them (or a bust or
correction after it) re-folded, its entries from the place of the change on (a book's re-fold
rewrites its entries from that venue time on, and an entry's time and line never change). Each
line is summed again from the earliest such time of its books, and each currency's running
totals from the earliest of its lines: rows before that are kept as they are. An entry earlier
than every kept one sums its whole currency again; a feed in venue order sums only its own.

The rows are stored only in a state of the views with no work left for later (a book whose
re-fold the views deferred has entries not yet linked: ``Views.finish`` re-folds it at the end of
the run, and the next read catches up from there); then, and when the ledger is read-only for
this connection, another writer holds the write lock, another process stored first, or a sum
would round at the context's 100 digits, there is no answer here, and the series is read from
the view (``pnl_series.realized_series``). A store refused for another reason (a full disk, an
application role not granted the tables) makes this process read the view from then on, rather
than sum every entry for nothing at each read.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any
from weakref import WeakSet

from orderledger.domain.values import WIDE
from orderledger.infrastructure.application.reads.time_slices import slice_start_texts
from orderledger.infrastructure.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseReplacedError,
    StoreError,
)
from orderledger.infrastructure.results.pnl import PnlPoint
from orderledger.infrastructure.storage import pnl_runs as stored
from orderledger.infrastructure.storage.db import Database, Tx, rows_by_keys
from orderledger.infrastructure.storage.pnl_runs import Run
from orderledger.infrastructure.storage.views import SETTLES, unfinished_rows
from orderledger.projections.positions import PositionsProjection

Entry = tuple[int, str, str, str, str, str, "str | None", str]
"""A P&L entry as the rows need it: log position, account, currency ("" for none), venue time
(the view's text), venue, instrument, quote currency, amount (text): a ``Run``'s first fields."""

_ENTRY_COLUMNS = ("position", "ts_event", "account", "venue", "instrument", "quote_currency", "realized")
_REFUSED: WeakSet[Database] = WeakSet()
"""Databases whose store of the sums failed for good in this process (not for a lock)."""
AFTER_ALL = "~"
"""A text after every venue time's (each starts with a digit): the end of the last slice."""
EXACT_WIDE = WIDE.copy()
EXACT_WIDE.traps[decimal.Inexact] = EXACT_WIDE.traps[decimal.Rounded] = True
"""``WIDE`` that raises rather than rounds a sum: a difference of rounded sums is not the walk's."""
TO_EXPONENT = WIDE.copy()
TO_EXPONENT.traps[decimal.Inexact] = True
"""``WIDE`` for taking an exact difference to a coarser exponent (zeros dropped, never a digit)."""


def kept_series(db: Database, points: int, least: int) -> list[PnlPoint] | None:
    """The series in ``points`` slices (``pnl_series.realized_series``) from the kept rows, brought up
    to the views first; None when they cannot be (see the module), or when none are kept and the
    view holds no more than ``least`` entries (a series the view's own walk answers at once)."""
    with db.snapshot() as tx:  # (the views' state and their entries, as one)
        now = _views_state(tx)
        if now is None:
            return None
        was = stored.state(tx)
        if was == now:
            return _answer(tx, points, least)
        if was is None and int(tx.one("SELECT count(*) FROM pnl_entries_view")[0]) <= least:
            return None
        if not db.writable() or db in _REFUSED:
            return None
        db.check_ahead()  # (the check before this process's first write, beside the work below)
        if was is not None and (was[0] > now[0] or was[1] > now[1]):
            was = None  # rows of a later state than the views' (a store restored from a copy)
        try:
            replaced, rows = _caught_up(tx, was, now)
        except decimal.DecimalException:
            return None  # a sum past the context's digits
    try:
        with db.write(wait=False) as tx:
            if not stored.store(tx, was, now, replaced, rows):
                return None
            return _answer(tx, points, least)
    except (DatabaseCorruptError, DatabaseReplacedError):
        raise  # damage found before the write: told, as any command that meets it tells it
    except DatabaseLockedError:
        return None  # another writer holds the lock: the view's own walk answers, a later read stores
    except StoreError:
        # Read-only, full or not granted (an application role before ``db init`` made the
        # tables): summing every entry for nothing at each read would double its cost, so this
        # process reads the view from now on.
        _REFUSED.add(db)
        return None


def _views_state(tx: Tx) -> tuple[int, int] | None:
    """The positions view's tracking position and the views' count of settles; None while the
    view holds work left for later."""
    if unfinished_rows(tx, PositionsProjection):
        return None
    tracked = dict(
        tx.all(
            "SELECT view, position FROM view_tracking WHERE view IN (?, ?)",
            (PositionsProjection.name, SETTLES),
        )
    )
    return int(tracked.get(PositionsProjection.name, 0)), int(tracked.get(SETTLES, 0))


# ---------------------------------------------------------------------- the answer


def _answer(tx: Tx, points: int, least: int) -> list[PnlPoint] | None:
    """Each line's rows at its slices' ends, in the walk's order (venue time, then log position);
    None for a view of no more than ``least`` entries (which the view's own walk answers, each
    entry its own slice when they are no more than ``points``), or a sum past the context's
    digits."""
    lines = stored.lines(tx)
    spans = [stored.span(tx, line) for line in lines]
    if sum(s[2] for s in spans) <= least:
        return None
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    ends = [AFTER_ALL if t is None else t for t in slice_start_texts(first, last, points)] + [AFTER_ALL]
    shown: list[tuple[str, int, PnlPoint]] = []
    try:
        with localcontext(EXACT_WIDE):
            for line in lines:
                before: Run | None = None
                for run in stored.slice_ends(tx, line, ends):
                    if run is None or (before is not None and run.n == before.n):
                        continue  # no entry of the line in the slice
                    point = PnlPoint(
                        position=run.position,
                        ts_event=datetime.fromisoformat(run.ts),
                        account=run.account,
                        venue=run.venue,
                        instrument=run.instrument,
                        quote_currency=run.quote,
                        realized_pnl=_slice_sum(run, before),
                        cumulative_realized_pnl=Decimal(run.total),
                    )
                    shown.append((run.ts, run.position, point))
                    before = run
    except decimal.DecimalException:
        return None
    shown.sort(key=lambda s: (s[0], s[1]))
    return [point for _, _, point in shown]


def _slice_sum(run: Run, before: Run | None) -> Decimal:
    """The line's amounts after ``before`` up to ``run``, as adding them from 0 gives them: the
    difference of the two running sums, at the finest exponent among those amounts (0 at most)."""
    exponent = stored.finest_after(run.fine, -1 if before is None else before.n)
    summed = Decimal(run.line_sum) - (Decimal(0) if before is None else Decimal(before.line_sum))
    return (
        summed
        if summed.as_tuple().exponent == exponent
        else summed.quantize(Decimal(1).scaleb(exponent), context=TO_EXPONENT)
    )


# ---------------------------------------------------------------------- catching up


def _caught_up(
    tx: Tx, was: tuple[int, int] | None, now: tuple[int, int]
) -> tuple[dict[str, str | None], list[Run]]:
    """The rows that change between ``was`` (None: none kept) and the views at ``now``: each
    currency's from a venue time on (None: all of them), and those rows."""
    if was is None:
        entries = _entries(tx, "SELECT {} FROM pnl_entries_view", ())
        by_currency: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_currency[entry[2]].append(entry)
        return dict.fromkeys(by_currency), [
            run for group in by_currency.values() for run in _summed(group, {}, None, None)
        ]
    new = _entries(tx, "SELECT {} FROM pnl_entries_view WHERE position > ?", (was[0],))
    books: dict[tuple[str, str, str], str] = {}  # (account, venue, instrument) → from when it changed
    lines: dict[tuple[str, str], str] = {}  # (account, currency) → from when
    for entry in new:
        _changed(books, lines, (entry[1], entry[4], entry[5]), (entry[1], entry[2]), entry[3])
    for run in _restated(tx, was[0], now[0]):
        _changed(books, lines, (run.account, run.venue, run.instrument), (run.account, run.currency), run.ts)
    currencies: dict[str, str] = {}
    for (_, currency), ts in lines.items():
        currencies[currency] = min(ts, currencies.get(currency, ts))
    replaced: dict[str, str | None] = {}
    rows: list[Run] = []
    for currency, ts in currencies.items():
        kept = stored.since(tx, currency, ts)
        moved = {r.position for r in kept if r.ts >= books.get((r.account, r.venue, r.instrument), AFTER_ALL)}
        again = {e[0]: e for e in _entries_at(tx, sorted(moved))}
        entries = [
            again.get(r.position, _entry_of(r))
            for r in kept
            if r.position in again or r.position not in moved
        ]
        entries += [e for e in new if e[2] == currency]
        starts = {line: start for line, start in lines.items() if line[1] == currency}
        rows += _summed(entries, starts, {r.position: r for r in kept}, (tx, ts))
        replaced[currency] = ts
    return replaced, rows


def _changed(
    books: dict[tuple[str, str, str], str],
    lines: dict[tuple[str, str], str],
    book: tuple[str, str, str],
    line: tuple[str, str],
    ts: str,
) -> None:
    books[book] = min(ts, books.get(book, ts))
    lines[line] = min(ts, lines.get(line, ts))


def _restated(tx: Tx, after: int, through: int) -> list[Run]:
    """The kept rows of the orders whose fills were busted or corrected after log position
    ``after`` (each such change re-folds its book from the fill's place)."""
    orders = [
        (str(row[0]),)
        for row in tx.all(
            "SELECT DISTINCT client_order_id FROM events WHERE event_type IN ('FillBusted', 'FillCorrected')"
            " AND notification_id > ? AND notification_id <= ?",
            (after, through),
        )
    ]
    found = rows_by_keys(tx, "pnl_fill_index_view", ("position",), ("client_order_id",), orders)
    return stored.at(tx, [int(row[0]) for row in found])


def _entries(tx: Tx, sql: str, params: Sequence[object]) -> list[Entry]:
    return [_entry(row) for row in tx.all(sql.format(", ".join(_ENTRY_COLUMNS)), params)]


def _entries_at(tx: Tx, positions: Sequence[int]) -> list[Entry]:
    """The view's entries at some log positions."""
    keys = [(p,) for p in positions]
    return [_entry(row) for row in rows_by_keys(tx, "pnl_entries_view", _ENTRY_COLUMNS, ("position",), keys)]


def _entry(row: Sequence[Any]) -> Entry:
    """An entry from a row of ``_ENTRY_COLUMNS``."""
    position, ts, account, venue, instrument, quote, realized = row
    return (int(position), account, quote or "", ts, venue, instrument, quote, realized)


def _entry_of(run: Run) -> Entry:
    return run.position, run.account, run.currency, run.ts, run.venue, run.instrument, run.quote, run.realized


def _summed(
    entries: Iterable[Entry],
    starts: dict[tuple[str, str], str],
    kept: dict[int, Run] | None,
    before: tuple[Tx, str] | None,
) -> list[Run]:
    """One currency's rows from ``entries`` in the walk's order: every line summed from the
    start of ``entries`` (``kept`` None), or each line of ``starts`` from its time there on and
    the rest as ``kept`` has them, the currency's running total from the row before the time of
    ``before`` (with the transaction to read it)."""
    ordered = sorted(entries, key=lambda e: (e[3], e[0]))
    total = Decimal(0)
    if before is not None:
        tx, ts = before
        prior = stored.before(tx, "currency = ?", (ordered[0][2],), ts) if ordered else None
        total = Decimal(0) if prior is None else Decimal(prior.total)
    sums: dict[tuple[str, str], tuple[int, Decimal, dict[int, int]]] = {}
    runs: list[Run] = []
    with localcontext(EXACT_WIDE):
        for entry in ordered:
            position, account, currency, ts, _, _, _, realized = entry
            amount = Decimal(realized)
            total += amount
            line = (account, currency)
            start = starts.get(line)
            if kept is not None and (start is None or ts < start):
                run = kept[position]
                run.total = str(total)
                runs.append(run)
                continue
            if line not in sums:
                sums[line] = _line_start(before, line, start)
            n, line_sum, fine = sums[line]
            n, line_sum = n + 1, line_sum + amount
            exponent = amount.as_tuple().exponent
            if isinstance(exponent, int) and exponent < 0:
                fine[exponent] = n
            sums[line] = (n, line_sum, fine)
            runs.append(Run(*entry, n, str(line_sum), str(total), stored.encode_fine(fine)))
    return runs


def _line_start(
    before: tuple[Tx, str] | None, line: tuple[str, str], start: str | None
) -> tuple[int, Decimal, dict[int, int]]:
    """A line's place, running sum and exponents' places before its time ``start``."""
    if before is None or start is None:
        return -1, Decimal(0), {}
    prior = stored.before(before[0], "account = ? AND currency = ?", line, start)
    if prior is None:
        return -1, Decimal(0), {}
    return prior.n, Decimal(prior.line_sum), stored.decode_fine(prior.fine)


def differences(db: Database, limit: int = 20) -> list[str]:
    """``verify``'s check of the kept sums, when they stand where the views do: each row against
    the sums of the view's entries (which the check of the views compares with a fold of the log).
    Rows that stand elsewhere are brought up to the views by the next read, which keeps the rows
    before each change as they are: the verify after it compares them."""
    with db.snapshot() as tx:  # (the views' state and their entries, as one)
        now = _views_state(tx)
        if now is None or stored.state(tx) != now:
            return []
        try:
            _, rows = _caught_up(tx, None, now)
        except decimal.DecimalException:
            return []
        expected = {run.position: run.row() for run in rows}
        found: list[str] = []
        for run in stored.every(tx):
            want = expected.pop(run.position, None)
            if want is None:
                found.append(f"pnl_runs: the row at log position {run.position} is no P&L entry's")
            elif want != run.row():
                found.append(
                    f"pnl_runs: the row at log position {run.position} differs from the running sums"
                    " of the P&L entries"
                )
        found += [f"pnl_runs: the P&L entry at log position {p} has no row" for p in sorted(expected)]
    return found[:limit]


__all__ = ["differences", "kept_series"]
