"""The ``lot_heads`` tables: each book's position and open lots under each lot rule, and its days
(under average too), kept between reads so that ``lots``, ``positions --cost-basis`` and the
daily P&L cost what they show, not the log's length.

- ``lot_heads``: one row per rule, grouping and book: in ``head``, the book's position, its open
  lots (each with the fill that opened it), its latest fill in venue time, its fills whose fee is
  in another currency than their P&L and its days (``projections.lots.Day``: each day's realized
  P&L, fees and fills, and the position at its end), as one JSON text (``encode``); in ``marks``,
  its latest marks (``projections.lots.Mark``: where a fold may start over), read only when a
  book is folded again and written only when a mark was added. A book is (group, account, venue,
  instrument): under the grouping ``account`` (``ACCOUNT``) the positions' own books, whose group
  is empty; under ``parent`` or ``tag:NAME`` one group's fills as a book of their own (what the
  daily P&L by parent or tag folds);
- ``lot_heads_index``: per rule and grouping, the log position up to which the rows hold the
  log's fills (``seen``), and the version of this module's encoding and fold (``VERSION``).

The log is the source of truth: the rows are derived from it by the application
(``application.lot_heads``), which reads only the fill events after ``seen``. A row written by
another version, a ``seen`` beyond the log's head (a store restored from an older copy), a
dropped or emptied table: each is folded again from the log at the next read; tables without
the grouping's columns are replaced when the heads are next stored (or by ``orderledger db
init``). Stores are compare-and-set on ``seen``, so two processes that catch up at once write one
of their results.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from orderledger.domain.instrument import Terms
from orderledger.infrastructure.storage.db import Tx, lock_schema, table_columns
from orderledger.projections.book import Position, PositionKey, VenueKey
from orderledger.projections.lots import (
    ACCOUNT,
    MARKS_KEPT,
    BookKey,
    CostBasis,
    Day,
    Fill,
    LotHead,
    Mark,
    OpenLot,
    cost_basis_named,
)

TABLES = ("lot_heads", "lot_heads_index")
CREATE = (
    "CREATE TABLE IF NOT EXISTS lot_heads (rule TEXT NOT NULL, grouping TEXT NOT NULL, grp TEXT NOT NULL,"
    " account TEXT NOT NULL, venue TEXT NOT NULL, instrument TEXT NOT NULL, head TEXT NOT NULL,"
    " marks TEXT NOT NULL, PRIMARY KEY (rule, grouping, grp, account, venue, instrument))",
    "CREATE TABLE IF NOT EXISTS lot_heads_index (rule TEXT NOT NULL, grouping TEXT NOT NULL,"
    " seen BIGINT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (rule, grouping))",
)
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
"""What the application role may do to the tables (derived data, folded again from the log)."""
VERSION = 3
"""The encoding's and the fold's version: rows of another are not read, and are replaced."""
_BOOK = "rule = ? AND grouping = ? AND grp = ? AND account = ? AND venue = ? AND instrument = ?"


def create(tx: Tx) -> None:
    """Create the tables if they are missing (``orderledger db init`` makes them for an
    application role that may create nothing)."""
    if "grouping" in table_columns(tx, TABLES[-1]):
        return
    lock_schema(tx)  # (two first reads at once: one creates them)
    if table_columns(tx, TABLES[-1]) and "grouping" not in table_columns(tx, TABLES[-1]):
        for table in TABLES:  # an earlier release's, without the grouping (derived rows: dropped)
            tx.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in CREATE:
        tx.execute(statement)


def seen(tx: Tx, rule: CostBasis, grouping: str = ACCOUNT) -> int:
    """The log position up to which the rows of ``rule`` and ``grouping`` hold the log's fills
    (0: none, or rows of another version, or no tables)."""
    if "grouping" not in table_columns(tx, TABLES[-1]):
        return 0
    found = tx.one(
        "SELECT seen, version FROM lot_heads_index WHERE rule = ? AND grouping = ?", (rule, grouping)
    )
    return 0 if found is None or found[1] != VERSION else int(found[0])


def kept(tx: Tx) -> list[tuple[CostBasis, str, int]]:
    """Every (rule, grouping) whose heads are stored, with the position they stand at."""
    if "grouping" not in table_columns(tx, TABLES[-1]):
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
        found[key] = decode(key[1:], text)
    return found


def marks(tx: Tx, rule: CostBasis, key: BookKey, grouping: str = ACCOUNT) -> list[Mark]:
    """The marks stored for one book under ``rule`` and ``grouping``, in venue order."""
    found = tx.one(f"SELECT marks FROM lot_heads WHERE {_BOOK}", (rule, grouping, *key))
    return [] if found is None else decode_marks(key[1:], found[0])


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
    longer ``since`` (another process stored first). A head read back without its marks adds the
    ones it made to those stored. On PostgreSQL the index's row is locked first, so two stores
    take turns."""
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
    if version != VERSION or since == 0:
        # Rows of another version, or a fold from the start: the rule's rows are replaced.
        tx.execute("DELETE FROM lot_heads WHERE rule = ? AND grouping = ?", (rule, grouping))
    elif int(current) != since:
        return False
    gone = [(rule, grouping, *key) for key, head in heads.items() if head is None]
    if gone:
        tx.executemany(f"DELETE FROM lot_heads WHERE {_BOOK}", gone)
    whole, moved = [], []
    for key, head in heads.items():
        if head is None:
            continue
        if head.marked or head.marks:
            every = head.marks if head.marked else [*marks(tx, rule, key, grouping), *head.marks]
            whole.append((rule, grouping, *key, encode(head), encode_marks(every[-MARKS_KEPT:])))
        else:
            moved.append((encode(head), rule, grouping, *key))
    if whole:
        tx.executemany(
            "INSERT INTO lot_heads (rule, grouping, grp, account, venue, instrument, head, marks)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, grouping, grp, account, venue, instrument)"
            " DO UPDATE SET head = excluded.head, marks = excluded.marks",
            whole,
        )
    if moved:
        tx.executemany(f"UPDATE lot_heads SET head = ? WHERE {_BOOK}", moved)
    tx.execute(
        "UPDATE lot_heads_index SET seen = ?, version = ? WHERE rule = ? AND grouping = ?",
        (through, VERSION, rule, grouping),
    )
    return True


def forget(tx: Tx) -> None:
    """Drop every rule's heads (a rebuild of every view): the next read folds the log again."""
    if "grouping" in table_columns(tx, TABLES[-1]):
        tx.execute("DELETE FROM lot_heads")
        tx.execute("DELETE FROM lot_heads_index")


# ---------------------------------------------------------------------- the encoding
# Decimals as their exact text, times as ISO text, terms once per head: a head read back folds
# on to the same digits as the one written.


def _terms(t: Terms) -> list[Any]:
    return [str(t.contract_size), t.settlement, t.pnl_currency, t.version]


def _terms_of(v: list[Any]) -> Terms:
    return Terms(Decimal(v[0]), v[1], v[2], v[3])


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
        str(f.realized),
    ]  # fmt: skip


def _fill_of(key: PositionKey, v: list[Any]) -> Fill:
    return Fill(
        *key, v[0], v[1], datetime.fromisoformat(v[2]), v[3], Decimal(v[4]), Decimal(v[5]),
        None if v[6] is None else Decimal(v[6]), v[7], v[8], _terms_of(v[9]), v[10], Decimal(v[11]),
    )  # fmt: skip


def _amounts(v: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: str(a) for k, a in v.items()}


def _amounts_of(v: dict[str, str]) -> dict[str, Decimal]:
    return {k: Decimal(a) for k, a in v.items()}


def _day(d: Day) -> list[Any]:
    fees = {k: _amounts(v) for k, v in d.fees.items()}
    return [d.day, _amounts(d.realized), fees, d.fills, str(d.quantity), str(d.cost), _terms(d.terms)]


def _day_of(v: list[Any]) -> Day:
    fees = {k: _amounts_of(f) for k, f in v[2].items()}
    return Day(v[0], _amounts_of(v[1]), fees, v[3], Decimal(v[4]), Decimal(v[5]), _terms_of(v[6]))


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
    }  # fmt: skip
    return orjson.dumps(state).decode()


def decode(key: PositionKey, text: str | bytes) -> LotHead:
    """A row's head, without its marks (``marked`` False)."""
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
    return LotHead(position, lots, _key_of(state["last"]), paid, [], state["since"], marked=False, days=days)


def encode_marks(marks: list[Mark]) -> str:
    """A book's marks as the JSON text of its row's ``marks``."""
    return orjson.dumps(
        [
            [_key(m.key), str(m.quantity), str(m.cost), str(m.realized), [[k, str(v)] for k, v in m.fees],
             _terms(m.terms), [[_fill(f), str(q), str(c), str(px)] for f, q, c, px in m.open],
             _day(m.today)]
            for m in marks
        ]
    ).decode()  # fmt: skip


def decode_marks(key: PositionKey, text: str | bytes) -> list[Mark]:
    """A row's marks."""
    found = []
    for k, q, c, r, fees, t, lots, today in orjson.loads(text):
        held = tuple((_fill_of(key, f), Decimal(lq), Decimal(lc), Decimal(px)) for f, lq, lc, px in lots)
        fees_paid = tuple((n, Decimal(v)) for n, v in fees)
        day = _day_of(today)
        found.append(Mark(_key_of(k), Decimal(q), Decimal(c), Decimal(r), fees_paid, _terms_of(t), held, day))
    return found


__all__ = [
    "PRIVILEGES",
    "TABLES",
    "VERSION",
    "create",
    "decode",
    "decode_marks",
    "encode",
    "encode_marks",
    "forget",
    "kept",
    "load",
    "marks",
    "seen",
    "store",
]
