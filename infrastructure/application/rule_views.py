"""Positions, lots and daily P&L under a cost-basis rule, read from the lots view.

The lots view (``projections.lot_views``) is lazy: each read here first brings it up to date
with the fills recorded since it was last read (``Views.bring_up``), then reads its rows. A
process that may not write the database (a read-only file, a role without the right) cannot
store what it folds: ``up_to_date`` says so, and the caller folds the log instead, as a read
as of a past time does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orderledger.infrastructure.errors import DatabaseReadOnlyError, StoreError
from orderledger.infrastructure.results import LotRow
from orderledger.infrastructure.storage.db import Database, select_by_keys
from orderledger.projections.lot_views import (
    LOT_BOOKS_TABLE,
    LOT_DAYS_TABLE,
    LOT_ENTRIES_TABLE,
    LotBook,
    LotDay,
    LotEntry,
    LotsProjection,
)
from orderledger.projections.lots import ClosedLot, OpenLot
from orderledger.projections.positions import Position, venue_order_key

if TYPE_CHECKING:
    from orderledger.infrastructure.application.parts import LedgerParts


def up_to_date(ledger: LedgerParts) -> bool:
    """Bring the lots view up to the log's end; False when this process may not write it."""
    try:
        with ledger._writing:  # the views' caches and positions are shared with writers
            ledger.views.bring_up([LotsProjection.name])
    except DatabaseReadOnlyError:
        return False
    except StoreError as error:
        if "permission denied" not in str(error):
            raise
        return False
    return True


def _rows(db: Database, spec: Any, where: str, params: tuple[Any, ...], order: str) -> list[Any]:
    columns = ", ".join(c.name for c in spec.columns)
    with db.read() as tx:
        found = tx.all(f"SELECT {columns} FROM {spec.name} WHERE {where} ORDER BY {order}", params)
    return [spec.from_row(tuple(r)) for r in found]


def books(db: Database, rule: str) -> list[Position]:
    """Every book under ``rule`` that holds a fill, by account, venue and instrument."""
    found: list[LotBook] = _rows(db, LOT_BOOKS_TABLE, "rule = ?", (rule,), "account, venue, instrument")
    return [b.position for b in found if b.fills]


def days(db: Database, rule: str) -> list[LotDay]:
    """Every book's days under ``rule``, by book, then day."""
    return _rows(db, LOT_DAYS_TABLE, "rule = ?", (rule,), "account, venue, instrument, day")


def open_lots(db: Database, rule: str) -> list[LotRow]:
    """The open lots under ``rule``: by book, each book's in venue time."""
    held: list[LotBook] = _rows(
        db, LOT_BOOKS_TABLE, "rule = ? AND open_lots <> '[]'", (rule,), "account, venue, instrument"
    )
    opening = _entries(db, rule, [at for b in held for at, _, _ in b.open])
    return [
        LotRow.of_open(rule, OpenLot(opening[at].fill, quantity, cost, opening[at].fill.price))
        for b in held
        for at, quantity, cost in b.open
    ]


def closed_lots(db: Database, rule: str) -> list[LotRow]:
    """The closed lots under ``rule``: by book, in the closing fills' venue time, each fill's in
    the order it matched them."""
    # Every fill under the rule, in one read: the closing ones and the lots' opening ones.
    entries: list[LotEntry] = _rows(db, LOT_ENTRIES_TABLE, "rule = ?", (rule,), "position")
    opening = {e.fill.position: e for e in entries}
    closing = [e for e in entries if e.matches]
    closing.sort(key=lambda e: (e.fill.account, e.fill.venue, e.fill.instrument, venue_order_key(e.key)))
    rows = []
    for entry in closing:
        closed = entry.fill
        for m in entry.matches:
            lot = ClosedLot(
                opening[m.opened].fill,
                closed,
                m.quantity,
                m.cost,
                m.proceeds,
                m.realized,
                m.fees,
                closed.pnl_currency,
            )
            rows.append(LotRow.of_closed(rule, lot))
    return rows


def _entries(db: Database, rule: str, positions: list[int]) -> dict[int, LotEntry]:
    """The entries of these fills under ``rule``, by log position."""
    spec = LOT_ENTRIES_TABLE
    columns = [c.name for c in spec.columns]
    wanted = sorted(set(positions))
    found: dict[int, LotEntry] = {}
    with db.read() as tx:
        for start in range(0, len(wanted), 300):
            keys = [(rule, at) for at in wanted[start : start + 300]]
            for row in tx.all(*select_by_keys(spec.name, columns, spec.key, keys, tx.dialect)):
                entry = spec.from_row(tuple(row))
                found[entry.fill.position] = entry
    return found
