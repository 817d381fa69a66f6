"""The ``lot_heads`` tables: each book's position and open lots under each lot rule, and its days
(under average too), kept between reads so that ``lots``, ``positions --cost-basis`` and the
daily P&L cost what they show, not the log's length.

- ``lot_heads``: one row per rule, grouping and book: in ``head``, the book's position, its open
  lots (each with the fill that opened it), its latest fill in venue time, its fills whose fee is
  in another currency than their P&L and its days (``projections.lots.Day``: each day's realized
  P&L, fees and fills, and the position at its end), as one JSON text (``encode``). A book is
  (group, account, venue,
  instrument): under the grouping ``account`` (``ACCOUNT``) the positions' own books, whose group
  is empty; under ``parent`` or ``tag:NAME`` one group's fills as a book of their own (what the
  daily P&L by parent or tag folds); under ``in:parent`` or ``in:tag:NAME`` the positions' own
  books again, each day with its sums per group as well (``Day.groups``, and each fill its
  group: what ``pnl`` by parent or tag reads);
- ``lot_marks``: one row per rule, grouping, book and mark (``projections.lots.Mark``: the book
  right after one of its fills, where a fold may start over), numbered ``n`` from 0 in venue
  order, with the mark's venue time (``at``) to find the latest mark before a time by the
  table's index, and the latest log position of the fills up to it (``through``: a read as of a
  recorded time takes a mark none of whose fills was recorded after it). Every mark is kept: a
  fill earlier than its book's latest, a bust or a correction folds the book again from the
  latest mark before its place, and a read as of a time from the latest mark that nothing
  outside it changes. A head extended adds the marks its new fills made; a book folded again
  from a mark replaces its rows after that mark (one DELETE of ``n >= ?``), as ``closed_lots``
  are replaced;
- ``closed_lots``: one row per rule, account book (account, venue, instrument) and closed lot
  (``projections.lots.ClosedLot``: the fills that opened and closed it, as they stand, and what
  it realized), numbered ``n`` from 0 in venue order of the closing fills (then in match order):
  ``lots --closed`` reads these instead of folding the log. A head that was extended adds the
  closed lots its new fills made; a book folded again from a mark replaces its rows from the
  number the mark holds (``Mark.closed``: how many closed lots the book had made by then) on,
  which is one DELETE of ``n >= ?``; a book folded from its first fill replaces them all. They
  are apart from the head's JSON, and kept only with the heads of the grouping ``closed`` (the
  account books again, made by the first ``lots --closed`` under a rule): the heads that open
  lots, positions and the P&L read make none, and a ledger never asked for them stores none;
- ``lot_heads_index``: per rule and grouping, the log position up to which the rows hold the
  log's fills (``seen``), and the version of this module's encoding and fold (``VERSION``).

The log is the source of truth: the rows are derived from it by the application
(``application.reads.lots_at_head``), which reads only the fill events after ``seen``. A row written by
another version, a ``seen`` beyond the log's head (a store restored from an older copy), a
dropped or emptied table: each is folded again from the log at the next read; tables without
the grouping's columns are replaced when the heads are next stored (or by ``orderledger db
init``). Stores are compare-and-set on ``seen``, so two processes that catch up at once write one
of their results.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from orderledger.domain.instrument import Terms
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.storage.db import Tx, lock_schema, table_columns
from orderledger.infrastructure.storage.paging import collector_paused
from orderledger.projections.book import Position, PositionKey, VenueKey
from orderledger.projections.lots import (
    ACCOUNT,
    CLOSED,
    BookKey,
    ClosedLot,
    CostBasis,
    Day,
    Fill,
    LotHead,
    Mark,
    OpenLot,
    Sums,
    cost_basis_named,
)

TABLES = ("lot_heads", "closed_lots", "lot_marks", "lot_heads_index")
CREATE = (
    "CREATE TABLE IF NOT EXISTS lot_heads (rule TEXT NOT NULL, grouping TEXT NOT NULL, grp TEXT NOT NULL,"
    " account TEXT NOT NULL, venue TEXT NOT NULL, instrument TEXT NOT NULL, head TEXT NOT NULL,"
    " PRIMARY KEY (rule, grouping, grp, account, venue, instrument))",
    "CREATE TABLE IF NOT EXISTS closed_lots (rule TEXT NOT NULL, account TEXT NOT NULL, venue TEXT NOT NULL,"
    " instrument TEXT NOT NULL, n INTEGER NOT NULL, lot TEXT NOT NULL,"
    " PRIMARY KEY (rule, account, venue, instrument, n))",
    "CREATE TABLE IF NOT EXISTS lot_marks (rule TEXT NOT NULL, grouping TEXT NOT NULL, grp TEXT NOT NULL,"
    " account TEXT NOT NULL, venue TEXT NOT NULL, instrument TEXT NOT NULL, n INTEGER NOT NULL,"
    " at TEXT NOT NULL, through BIGINT NOT NULL, mark TEXT NOT NULL,"
    " PRIMARY KEY (rule, grouping, grp, account, venue, instrument, n))",
    "CREATE INDEX IF NOT EXISTS lot_marks_by_time ON lot_marks (rule, grouping, grp, account, venue,"
    " instrument, at, n)",
    "CREATE TABLE IF NOT EXISTS lot_heads_index (rule TEXT NOT NULL, grouping TEXT NOT NULL,"
    " seen BIGINT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (rule, grouping))",
)
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
"""What the application role may do to the tables (derived data, folded again from the log)."""
VERSION = 5
"""The encoding's and the fold's version: rows of another are not read, and are replaced."""
_BOOK = "rule = ? AND grouping = ? AND grp = ? AND account = ? AND venue = ? AND instrument = ?"
_LOTS = "rule = ? AND account = ? AND venue = ? AND instrument = ?"


def create(tx: Tx) -> None:
    """Create the tables if they are missing (``orderledger db init`` makes them for an
    application role that may create nothing)."""
    if _made(tx):
        return
    lock_schema(tx)  # (two first reads at once: one creates them)
    if _made(tx):
        return
    if table_columns(tx, TABLES[-1]):
        for table in TABLES:  # an earlier release's, without grouping, closed lots or every mark (derived)
            tx.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in CREATE:
        tx.execute(statement)


def _made(tx: Tx) -> bool:
    """Whether this release's tables are there (an earlier one's lack the grouping, the closed
    lots, or the table of every mark)."""
    return (
        "grouping" in table_columns(tx, TABLES[-1])
        and bool(table_columns(tx, "closed_lots"))
        and bool(table_columns(tx, "lot_marks"))
    )


def seen(tx: Tx, rule: CostBasis, grouping: str = ACCOUNT) -> int:
    """The log position up to which the rows of ``rule`` and ``grouping`` hold the log's fills
    (0: none, or rows of another version, or no tables)."""
    if not _made(tx):
        return 0
    found = tx.one(
        "SELECT seen, version FROM lot_heads_index WHERE rule = ? AND grouping = ?", (rule, grouping)
    )
    return 0 if found is None or found[1] != VERSION else int(found[0])


def kept(tx: Tx) -> list[tuple[CostBasis, str, int]]:
    """Every (rule, grouping) whose heads are stored, with the position they stand at."""
    if not _made(tx):
        return []
    rows = tx.all("SELECT rule, grouping, seen, version FROM lot_heads_index ORDER BY rule, grouping")
    return [(cost_basis_named(str(r[0])), str(r[1]), int(r[2])) for r in rows if r[3] == VERSION and r[2]]


def load(tx: Tx, rule: CostBasis, grouping: str = ACCOUNT) -> dict[BookKey, LotHead]:
    """The heads of ``rule`` and ``grouping``, without their marks (``marked`` False: see
    ``marks``)."""
    rows = tx.all(
        "SELECT grp, account, venue, instrument, head FROM lot_heads WHERE rule = ? AND grouping = ?",
        (rule, grouping),
    )
    found: dict[BookKey, LotHead] = {}
    for group, account, venue, instrument, text in rows:
        key = (str(group), str(account), str(venue), str(instrument))
        found[key] = decode(key[1:], text, grouping)
    return found


def closed(
    tx: Tx, rule: CostBasis, book: PositionKey | None = None, *, below: int | None = None
) -> dict[PositionKey, list[ClosedLot]]:
    """The closed lots stored under ``rule`` (of one ``book``, or of all; those numbered below
    ``below`` when given), each book's in order (its lots numbered 0, 1, …)."""
    which = "rule = ?" if book is None else _LOTS
    params: list[Any] = [rule, *(book or ())]
    if below is not None:
        which += " AND n < ?"
        params.append(below)
    rows = tx.all(
        f"SELECT account, venue, instrument, lot FROM closed_lots WHERE {which}"
        " ORDER BY account, venue, instrument, n",
        params,
    )
    found: dict[PositionKey, list[ClosedLot]] = {}
    with collector_paused():  # (thousands of lots, each a few objects, and no cycle among them)
        for account, venue, instrument, text in rows:
            key = (str(account), str(venue), str(instrument))
            found.setdefault(key, []).append(decode_closed(key, text))
    return found


def closed_books(tx: Tx, rule: CostBasis) -> set[PositionKey]:
    """The books with closed lots stored under ``rule``."""
    rows = tx.all("SELECT DISTINCT account, venue, instrument FROM closed_lots WHERE rule = ?", (rule,))
    return {(str(account), str(venue), str(instrument)) for account, venue, instrument in rows}


def marks(tx: Tx, rule: CostBasis, key: BookKey, grouping: str = ACCOUNT) -> list[Mark]:
    """Every mark stored for one book under ``rule`` and ``grouping``, in venue order."""
    rows = tx.all(f"SELECT mark FROM lot_marks WHERE {_BOOK} ORDER BY n", (rule, grouping, *key))
    return [decode_mark(key[1:], row[0]) for row in rows]


def marks_near(tx: Tx, rule: CostBasis, key: BookKey, grouping: str, at: datetime, below: int) -> list[Mark]:
    """The stored marks of one book numbered below ``below`` that a fold from a place of venue
    time ``at`` may start from: the latest one earlier than ``at`` and every one at ``at``
    itself (whose order against the place is the fills', not the times'), in venue order. Found
    by the index of the marks' times, whatever the book's length."""
    found = latest_mark(tx, rule, key, grouping, below, before=at)
    rows = tx.all(
        f"SELECT mark FROM lot_marks WHERE {_BOOK} AND n < ? AND at = ? ORDER BY n",
        (rule, grouping, *key, below, format_timestamp(at)),
    )
    return [*([] if found is None else [found]), *(decode_mark(key[1:], row[0]) for row in rows)]


def latest_mark(
    tx: Tx,
    rule: CostBasis,
    key: BookKey,
    grouping: str,
    below: int,
    *,
    before: datetime | None = None,
    through_below: int | None = None,
) -> Mark | None:
    """The latest stored mark of one book numbered below ``below``, earlier in venue time than
    ``before`` and of fills all at log positions below ``through_below`` (each when given)."""
    clauses, params = [f"{_BOOK} AND n < ?"], [rule, grouping, *key, below]
    if before is not None:
        clauses.append("at < ?")
        params.append(format_timestamp(before))
    if through_below is not None:
        clauses.append("through < ?")
        params.append(through_below)
    found = tx.one(
        f"SELECT mark FROM lot_marks WHERE {' AND '.join(clauses)} ORDER BY at DESC, n DESC LIMIT 1", params
    )
    return None if found is None else decode_mark(key[1:], found[0])


def store(
    tx: Tx,
    rule: CostBasis,
    since: int,
    through: int,
    heads: Mapping[BookKey, LotHead | None],
    grouping: str = ACCOUNT,
) -> bool:
    """Write ``heads`` (None: the book has no fill left) and move ``seen`` of ``rule`` and
    ``grouping`` from ``since`` to ``through``; False, writing nothing, when ``seen`` is no
    longer ``since`` or the rows are of another version (another process stored first). A head
    adds the marks it made in place of those stored from the first of them on (``marks_from``),
    as it does its closed lots. On PostgreSQL the index's
    row is locked first, so two stores take turns."""
    create(tx)
    tx.execute(
        "INSERT INTO lot_heads_index (rule, grouping, seen, version) VALUES (?, ?, 0, ?)"
        " ON CONFLICT DO NOTHING",
        (rule, grouping, VERSION),
    )
    lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
    current, version = tx.one(
        f"SELECT seen, version FROM lot_heads_index WHERE rule = ? AND grouping = ?{lock}", (rule, grouping)
    )
    lots = grouping == CLOSED  # (the one grouping whose books keep their closed lots)
    if since == 0:
        # A fold from the start: the rows are replaced (whatever version wrote them).
        tx.execute("DELETE FROM lot_heads WHERE rule = ? AND grouping = ?", (rule, grouping))
        tx.execute("DELETE FROM lot_marks WHERE rule = ? AND grouping = ?", (rule, grouping))
        if lots:
            tx.execute("DELETE FROM closed_lots WHERE rule = ?", (rule,))
    elif int(current) != since or version != VERSION:
        return False  # (another version's rows since this read: only the changed books are here)
    gone = [key for key, head in heads.items() if head is None]
    if gone:
        tx.executemany(f"DELETE FROM lot_heads WHERE {_BOOK}", [(rule, grouping, *key) for key in gone])
        tx.executemany(f"DELETE FROM lot_marks WHERE {_BOOK}", [(rule, grouping, *key) for key in gone])
        if lots:
            tx.executemany(f"DELETE FROM closed_lots WHERE {_LOTS}", [(rule, *key[1:]) for key in gone])
    if lots:
        _store_closed(tx, rule, since, heads)
    _store_marks(tx, rule, grouping, since, heads)
    whole = [(rule, grouping, *key, encode(head)) for key, head in heads.items() if head is not None]
    if whole:
        tx.executemany(
            "INSERT INTO lot_heads (rule, grouping, grp, account, venue, instrument, head)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, grouping, grp, account, venue, instrument)"
            " DO UPDATE SET head = excluded.head",
            whole,
        )
    tx.execute(
        "UPDATE lot_heads_index SET seen = ?, version = ? WHERE rule = ? AND grouping = ?",
        (through, VERSION, rule, grouping),
    )
    return True


def _store_marks(
    tx: Tx, rule: CostBasis, grouping: str, since: int, heads: Mapping[BookKey, LotHead | None]
) -> None:
    """Each book's marks from the first its head made or kept (``LotHead.marks_from``) on, in
    place of those stored from that number on (a book folded again from a mark may have fewer
    after it than before)."""
    replaced = [(rule, grouping, *key, head.marks_from) for key, head in heads.items() if head is not None]
    if replaced and since:  # (from the start, every row of the rule and grouping is gone already)
        tx.executemany(f"DELETE FROM lot_marks WHERE {_BOOK} AND n >= ?", replaced)
    added = [
        (rule, grouping, *key, m.n, format_timestamp(m.key[0]), m.through, encode_mark(m))
        for key, head in heads.items()
        if head is not None
        for m in head.marks
    ]
    if added:
        tx.executemany(
            "INSERT INTO lot_marks (rule, grouping, grp, account, venue, instrument, n, at, through, mark)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            added,
        )


def _store_closed(tx: Tx, rule: CostBasis, since: int, heads: Mapping[BookKey, LotHead | None]) -> None:
    """Each account book's closed lots from the first its head made or kept
    (``LotHead.closed_from``) on, in place of those stored from that number on."""
    replaced = [(rule, *key[1:], head.closed_from) for key, head in heads.items() if head is not None]
    if replaced and since:  # (from the start, every row of the rule is gone already)
        tx.executemany(f"DELETE FROM closed_lots WHERE {_LOTS} AND n >= ?", replaced)
    added = [
        (rule, *key[1:], head.closed_from + i, encode_closed(lot))
        for key, head in heads.items()
        if head is not None
        for i, lot in enumerate(head.closed)
    ]
    if added:
        tx.executemany(
            "INSERT INTO closed_lots (rule, account, venue, instrument, n, lot) VALUES (?, ?, ?, ?, ?, ?)",
            added,
        )


def forget(tx: Tx) -> None:
    """Drop every rule's heads (a rebuild of every view): the next read folds the log again."""
    if _made(tx):
        tx.execute("DELETE FROM lot_heads")
        tx.execute("DELETE FROM closed_lots")
        tx.execute("DELETE FROM lot_marks")
        tx.execute("DELETE FROM lot_heads_index")


# ---------------------------------------------------------------------- the encoding
# Decimals as their exact text, times as ISO text, terms once per head: a head read back folds
# on to the same digits as the one written.


def _terms(t: Terms) -> list[Any]:
    return [str(t.contract_size), t.settlement, t.pnl_currency, t.version]


def _terms_of(v: list[Any]) -> Terms:
    return _terms_named(*v)


@functools.lru_cache(maxsize=256)
def _terms_named(size: str, settlement: str, pnl_currency: str | None, version: int) -> Terms:
    """One ``Terms`` per encoding (they are frozen): rows repeat a few terms thousands of times."""
    return Terms(Decimal(size), settlement, pnl_currency, version)


def _key(k: VenueKey) -> list[Any]:
    return [k[0].isoformat(), k[1], k[2], k[3]]


def _key_of(v: list[Any]) -> VenueKey:
    return (datetime.fromisoformat(v[0]), v[1], v[2], v[3])


def _decimal(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _fill(f: Fill) -> list[Any]:
    return [
        f.client_order_id, f.trade_id, f.ts_event.isoformat(), f.position, str(f.signed_qty),
        str(f.price), _decimal(f.fee), f.fee_currency, f.quote_currency, _terms(f.terms), f.tags,
        str(f.realized), f.group,
    ]  # fmt: skip


def _fill_of(key: PositionKey, v: list[Any]) -> Fill:
    return Fill(
        *key, v[0], v[1], datetime.fromisoformat(v[2]), v[3], Decimal(v[4]), Decimal(v[5]),
        None if v[6] is None else Decimal(v[6]), v[7], v[8], _terms_of(v[9]), v[10], Decimal(v[11]), v[12],
    )  # fmt: skip


def _amounts(v: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: str(a) for k, a in v.items()}


def _amounts_of(v: dict[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(a) for k, a in v.items()}


def _sums(s: Sums) -> list[Any]:
    return [_amounts(s.realized), {k: _amounts(v) for k, v in s.fees.items()}, s.fills]


def _sums_of(v: list[Any]) -> Sums:
    return Sums(_amounts_of(v[0]), {k: _amounts_of(f) for k, f in v[1].items()}, v[2])


def _day(d: Day) -> list[Any]:
    groups = {k: _sums(v) for k, v in d.groups.items()}
    return [d.day, *_sums(d), str(d.quantity), str(d.cost), _terms(d.terms), groups]


def _day_of(v: list[Any]) -> Day:
    sums = _sums_of(v[1:4])
    groups = {k: _sums_of(g) for k, g in v[7].items()}
    return Day(
        sums.realized, sums.fees, sums.fills, v[0], Decimal(v[4]), Decimal(v[5]), _terms_of(v[6]), groups
    )


def encode(head: LotHead) -> str:
    """One head (without its marks) as the JSON text of its row's ``head``."""
    p = head.position
    state = {
        "position": [
            str(p.quantity), str(p.cost), str(p.realized_pnl), {k: str(v) for k, v in p.fees.items()},
            p.quote_currency, _terms(p.terms),
        ],
        "open": [[_fill(lot.opened), str(lot.quantity), str(lot.cost), str(lot.price)] for lot in head.open],
        "last": _key(head.last),
        "paid": [_fill(f) for f in head.paid],
        "since": head.since,
        "days": [_day(d) for d in head.days],
        "made": head.made,
        "marked": head.marked,
        "through": head.through,
    }  # fmt: skip
    return orjson.dumps(state).decode()


def decode(key: PositionKey, text: str | bytes, grouping: str = ACCOUNT) -> LotHead:
    """A row's head of ``grouping``, without its marks (kept in ``lot_marks``); it makes closed lots
    as it folds on only under ``CLOSED``."""
    state = orjson.loads(text)
    quantity, cost, realized, fees, quote_currency, terms = state["position"]
    position = Position(
        *key,
        quantity=Decimal(quantity),
        cost=Decimal(cost),
        realized_pnl=Decimal(realized),
        fees={k: Decimal(v) for k, v in fees.items()},
        quote_currency=quote_currency,
        terms=_terms_of(terms),
    )
    lots = [OpenLot(_fill_of(key, f), Decimal(q), Decimal(c), Decimal(px)) for f, q, c, px in state["open"]]
    paid = [_fill_of(key, f) for f in state["paid"]]
    days = [_day_of(d) for d in state["days"]]
    return LotHead(
        position, lots, _key_of(state["last"]), paid, [], state["since"], state["marked"], days,
        state["made"], keeps_closed=grouping == CLOSED, through=state["through"],
    )  # fmt: skip


def encode_mark(m: Mark) -> str:
    """One mark as the JSON text of its ``lot_marks`` row (its number and time are columns)."""
    return orjson.dumps(
        [_key(m.key), str(m.quantity), str(m.cost), str(m.realized), [[k, str(v)] for k, v in m.fees],
         _terms(m.terms), [[_fill(f), str(q), str(c), str(px)] for f, q, c, px in m.open],
         _day(m.today), m.closed, m.n, m.through]
    ).decode()  # fmt: skip


def decode_mark(key: PositionKey, text: str | bytes) -> Mark:
    """A ``lot_marks`` row's mark."""
    k, q, c, r, fees, t, lots, today, made, n, through = orjson.loads(text)
    held = tuple((_fill_of(key, f), Decimal(lq), Decimal(lc), Decimal(px)) for f, lq, lc, px in lots)
    fees_paid = tuple((name, Decimal(v)) for name, v in fees)
    day = _day_of(today)
    return Mark(
        n, _key_of(k), Decimal(q), Decimal(c), Decimal(r), fees_paid, _terms_of(t), held, day, made, through
    )


def encode_closed(lot: ClosedLot) -> str:
    """One closed lot as the JSON text of its row's ``lot``."""
    return orjson.dumps(
        [
            _fill(lot.opened), _fill(lot.closed), str(lot.quantity), str(lot.cost), str(lot.proceeds),
            str(lot.realized), _amounts(lot.fees), lot.pnl_currency,
        ]
    ).decode()  # fmt: skip


def decode_closed(key: PositionKey, text: str | bytes) -> ClosedLot:
    """A row's closed lot."""
    opened, closed, quantity, cost, proceeds, realized, fees, pnl_currency = orjson.loads(text)
    return ClosedLot(
        _fill_of(key, opened), _fill_of(key, closed), Decimal(quantity), Decimal(cost), Decimal(proceeds),
        Decimal(realized), _amounts_of(fees), pnl_currency,
    )  # fmt: skip


__all__ = [
    "PRIVILEGES",
    "TABLES",
    "VERSION",
    "closed",
    "closed_books",
    "create",
    "decode",
    "decode_closed",
    "decode_mark",
    "encode",
    "encode_closed",
    "encode_mark",
    "forget",
    "kept",
    "latest_mark",
    "load",
    "marks",
    "marks_near",
    "seen",
    "store",
]
