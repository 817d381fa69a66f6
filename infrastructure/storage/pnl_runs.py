"""The ``pnl_runs`` tables: each P&L entry of the views with its line's and its currency's running
sums in venue time, kept between reads so that the realized P&L series in slices (the operator
page's P&L chart, ``application.reads.pnl_run_slices``) costs what it shows, not the log's length.

- ``pnl_runs``: one row per P&L entry (``pnl_entries_view``), keyed by its log position, with
  its line (``account``, and ``currency``: its quote currency, "" for none), its venue time as
  the view's text (``ts``), venue, instrument, quote currency and amount (``realized``) as the
  view has them, and, in the walk's order (venue time, then log position):

  - ``n``: its place among its line's entries, from 0;
  - ``line_sum``: its line's amounts added from 0 up to it, in the context ``WIDE``;
  - ``total``: its currency's amounts (every account's) added the same way;
  - ``fine``: for each exponent below 0 among its line's amounts up to it, the place ``n`` of
    the last amount with that exponent (``encode_fine``): a slice's sum is the difference of two
    line sums, and that difference keeps the finest exponent of every amount before the slice;
    the slice's own finest is the smallest whose last place falls within the slice
    (``finest_after``).

  Two indexes walk a line and a currency in venue time: a slice's end is one seek per line.
  (The position is an ``INTEGER PRIMARY KEY``, as the views' positions are: on SQLite the
  table's rowid, no index of its own.)
- ``pnl_runs_index``: one row, the positions view's tracking position up to which the rows hold
  the entries (``seen``), the count of settles of the views then (``settles``,
  ``storage.views.SETTLES``) and the version of this module's encoding (``VERSION``).

The view is the source of truth: the rows are derived from it by the application
(``application.reads.pnl_run_slices``), which reads only the entries changed since ``seen``. Stores are
compare-and-set on ``seen`` and ``settles``, so two processes that catch up at once write one
of their results; a rebuild of the views forgets the rows (``forget``), and the next read
writes them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from orderledger.infrastructure.storage.db import Tx, lock_schema, rows_by_keys, table_columns

TABLES = ("pnl_runs", "pnl_runs_index")
CREATE = (
    "CREATE TABLE IF NOT EXISTS pnl_runs (position INTEGER NOT NULL PRIMARY KEY, account TEXT NOT NULL,"
    " currency TEXT NOT NULL, ts TEXT NOT NULL, venue TEXT NOT NULL, instrument TEXT NOT NULL,"
    " quote TEXT, realized TEXT NOT NULL, n BIGINT NOT NULL, line_sum TEXT NOT NULL, total TEXT NOT NULL,"
    " fine TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS pnl_runs_by_line ON pnl_runs (account, currency, ts, position)",
    "CREATE INDEX IF NOT EXISTS pnl_runs_by_currency ON pnl_runs (currency, ts, position)",
    "CREATE TABLE IF NOT EXISTS pnl_runs_index (id INTEGER NOT NULL PRIMARY KEY, seen BIGINT NOT NULL,"
    " settles BIGINT NOT NULL, version INTEGER NOT NULL)",
)
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
"""What the application role may do to the tables (derived data, written again from the views)."""
VERSION = 1
"""The encoding's version: rows of another are not read, and are replaced."""
COLUMNS = (
    "position",
    "account",
    "currency",
    "ts",
    "venue",
    "instrument",
    "quote",
    "realized",
    "n",
    "line_sum",
    "total",
    "fine",
)
_INSERT = f"INSERT INTO pnl_runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


@dataclass(slots=True)
class Run:
    """A row of ``pnl_runs`` (the columns of ``COLUMNS``, in order)."""

    position: int
    account: str
    currency: str
    ts: str
    venue: str
    instrument: str
    quote: str | None
    realized: str
    n: int
    line_sum: str
    total: str
    fine: str

    def row(self) -> tuple[Any, ...]:
        return (
            self.position,
            self.account,
            self.currency,
            self.ts,
            self.venue,
            self.instrument,
            self.quote,
            self.realized,
            self.n,
            self.line_sum,
            self.total,
            self.fine,
        )


def run_of(row: Sequence[Any]) -> Run:
    """A row read with ``COLUMNS``."""
    position, account, currency, ts, venue, instrument, quote, realized, n, line_sum, total, fine = row
    return Run(
        int(position),
        account,
        currency,
        ts,
        venue,
        instrument,
        quote,
        realized,
        int(n),
        line_sum,
        total,
        fine,
    )


def encode_fine(fine: dict[int, int]) -> str:
    """``{exponent: place}`` as text, the finest exponent first: ``-8:1203 -2:15`` ("" for none)."""
    return " ".join(f"{exponent}:{fine[exponent]}" for exponent in sorted(fine))


def finest_after(text: str, since: int) -> int:
    """The finest exponent of ``encode_fine``'s text whose place is after ``since`` (0: none)."""
    for pair in text.split():
        exponent, place = pair.split(":")
        if int(place) > since:
            return int(exponent)
    return 0


def decode_fine(text: str) -> dict[int, int]:
    """The mapping ``encode_fine`` wrote."""
    return {int(e): int(n) for e, n in (pair.split(":") for pair in text.split())} if text else {}


def create(tx: Tx) -> None:
    """Create the tables if they are missing (``orderledger db init`` makes them for an
    application role that may create nothing)."""
    if table_columns(tx, TABLES[-1]):
        return
    lock_schema(tx)  # (two first reads at once: one creates them)
    for statement in CREATE:
        tx.execute(statement)


def state(tx: Tx) -> tuple[int, int] | None:
    """``seen`` and ``settles`` of the rows; None when there are none of this version."""
    if not table_columns(tx, TABLES[-1]):
        return None
    found = tx.one("SELECT seen, settles, version FROM pnl_runs_index WHERE id = 1")
    if found is None or found[2] != VERSION:
        return None
    return int(found[0]), int(found[1])


def lines(tx: Tx) -> list[tuple[str, str]]:
    """Every line (account, currency) with rows, by a seek or two each along the line index (the
    next currency of the account, else the next account's first)."""
    found: list[tuple[str, str]] = []
    row = tx.one("SELECT account, currency FROM pnl_runs ORDER BY account, currency LIMIT 1")
    while row is not None:
        found.append((str(row[0]), str(row[1])))
        row = tx.one(
            "SELECT account, currency FROM pnl_runs WHERE account = ? AND currency > ?"
            " ORDER BY account, currency LIMIT 1",
            (row[0], row[1]),
        ) or tx.one(
            "SELECT account, currency FROM pnl_runs WHERE account > ? ORDER BY account, currency LIMIT 1",
            (row[0],),
        )
    return found


def span(tx: Tx, line: tuple[str, str]) -> tuple[str, str, int]:
    """The first and last venue time of a line's rows, and how many there are."""
    where = "WHERE account = ? AND currency = ? ORDER BY ts"
    first = tx.one(f"SELECT ts FROM pnl_runs {where}, position LIMIT 1", line)[0]
    last, n = tx.one(f"SELECT ts, n FROM pnl_runs {where} DESC, position DESC LIMIT 1", line)
    return str(first), str(last), int(n) + 1


def slice_ends(tx: Tx, line: tuple[str, str], ends: Sequence[str]) -> list[Run | None]:
    """For each of ``ends`` (venue times as text), the line's last row before it (None: none)."""
    values = ", ".join(["(?, ?)"] * len(ends))
    rows = tx.all(
        f"WITH b(k, t) AS (VALUES {values})"
        f" SELECT b.k, {', '.join('r.' + c for c in COLUMNS)} FROM b JOIN pnl_runs r ON r.position = ("
        "SELECT position FROM pnl_runs WHERE account = ? AND currency = ? AND ts < b.t"
        " ORDER BY ts DESC, position DESC LIMIT 1)",
        [*(v for k, end in enumerate(ends) for v in (k, end)), *line],
    )
    found: list[Run | None] = [None] * len(ends)
    for row in rows:
        found[int(row[0])] = run_of(row[1:])
    return found


def every(tx: Tx) -> list[Run]:
    """Every row, in no set order."""
    return [run_of(row) for row in tx.all(f"SELECT {', '.join(COLUMNS)} FROM pnl_runs")]


def before(tx: Tx, where: str, params: Sequence[Any], ts: str) -> Run | None:
    """The last row before venue time ``ts`` among those ``where`` selects (a line's or a
    currency's: an index's leading columns)."""
    row = tx.one(
        f"SELECT {', '.join(COLUMNS)} FROM pnl_runs WHERE {where} AND ts < ?"
        " ORDER BY ts DESC, position DESC LIMIT 1",
        (*params, ts),
    )
    return None if row is None else run_of(row)


def since(tx: Tx, currency: str, ts: str) -> list[Run]:
    """A currency's rows from venue time ``ts`` on."""
    rows = tx.all(f"SELECT {', '.join(COLUMNS)} FROM pnl_runs WHERE currency = ? AND ts >= ?", (currency, ts))
    return [run_of(row) for row in rows]


def at(tx: Tx, positions: Iterable[int]) -> list[Run]:
    """The rows of some log positions (those there are)."""
    wanted = [(position,) for position in positions]
    return [run_of(row) for row in rows_by_keys(tx, "pnl_runs", COLUMNS, ("position",), wanted)]


def store(
    tx: Tx,
    was: tuple[int, int] | None,
    now: tuple[int, int],
    replaced: dict[str, str | None],
    rows: Sequence[Run],
) -> bool:
    """Replace each currency's rows of ``replaced`` from its venue time on (None: all of them)
    with ``rows``, and move the index from ``was`` (None: no rows of this version) to ``now``
    (``seen``, ``settles``); False, writing nothing, when the index is no longer at ``was``
    (another process stored first). On PostgreSQL the index's row is locked first, so two
    stores take turns."""
    create(tx)
    tx.execute(
        "INSERT INTO pnl_runs_index (id, seen, settles, version) VALUES (1, 0, 0, 0) ON CONFLICT DO NOTHING"
    )
    lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
    seen, settles, version = tx.one(f"SELECT seen, settles, version FROM pnl_runs_index WHERE id = 1{lock}")
    if was is None:
        tx.execute("DELETE FROM pnl_runs")
    elif (int(seen), int(settles), version) != (*was, VERSION):
        return False
    else:
        for currency, ts in replaced.items():
            if ts is None:
                tx.execute("DELETE FROM pnl_runs WHERE currency = ?", (currency,))
            else:
                tx.execute("DELETE FROM pnl_runs WHERE currency = ? AND ts >= ?", (currency, ts))
    tx.executemany(_INSERT, [run.row() for run in rows])
    tx.execute("UPDATE pnl_runs_index SET seen = ?, settles = ?, version = ? WHERE id = 1", (*now, VERSION))
    return True


def forget(tx: Tx) -> None:
    """Drop the rows (a rebuild of the views): the next read writes them again."""
    if table_columns(tx, TABLES[-1]):
        tx.execute("DELETE FROM pnl_runs")
        tx.execute("DELETE FROM pnl_runs_index")
