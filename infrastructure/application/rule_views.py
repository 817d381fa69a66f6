"""Positions, lots and daily P&L under a cost-basis rule, read from the lots view.

The lots view (``projections.lot_views``) is lazy: ingest does not fold it. A read (``stored``)
finds it at the log's end, or brings it there first when little is left to fold: at most
``INLINE_PART`` of the log (folding the view costs about five times what folding the log at
read time costs per event), or one chunk. Further behind (after a rebuild, an upgrade, a large
ingest), the read is answered by folding the log at read time, as a read as of a past time is,
and a thread of this process (``catch_up``) brings the view up chunk by chunk, each chunk under
the ledger's write lock for a fraction of a second (``Views.bring_up``, ``LAZY_CHUNK``): no read
pays for the whole fold, and writers wait for a chunk at most. A process that may not write the
database (a read-only file, a role without the right) cannot store what it folds, and folds the
log instead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from orderledger.infrastructure.errors import DatabaseLockedError, DatabaseReadOnlyError, StoreError
from orderledger.infrastructure.results import LotRow
from orderledger.infrastructure.storage.db import Database, select_by_keys
from orderledger.infrastructure.storage.views import LAZY_CHUNK
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

INLINE_PART = 5
"""A read brings the view up itself when it is behind by at most 1/INLINE_PART of the log."""
_LOG = logging.getLogger(__name__)


def stored(ledger: LedgerParts) -> bool:
    """Whether the lots view answers this read: at the log's end, or brought there now (a little
    behind); False when it is far behind (then brought up in the background, ``catch_up``) or
    this process may not write it: the caller folds the log."""
    position, head = ledger.views.lazy_lag(LotsProjection.name)
    if position >= head:
        return True
    if head - position > max(LAZY_CHUNK, head // INLINE_PART):
        _upkeep(ledger).wanted = True  # started once the read has its answer (``later``)
        return False
    try:
        while position < head:  # up to the end this read found (not after writes since)
            position = _chunk(ledger)
    except DatabaseReadOnlyError:
        return False
    except StoreError as error:
        if "permission denied" not in str(error):
            raise
        return False
    return True


def _chunk(ledger: LedgerParts) -> int:
    """Fold one chunk into the lots view, under the writer's lock; returns the view's position."""
    with ledger._writing:  # the views' caches and positions are shared with writers
        ledger.views.bring_up([LotsProjection.name], most=1)
    return ledger.views.lazy_lag(LotsProjection.name)[0]


class _Upkeep:
    """The thread bringing one ledger's lots view up to the log's end, and what stops it."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.wanted = False  # a read found the view far behind: ``later`` starts the thread


def _upkeep(ledger: LedgerParts) -> _Upkeep:
    found: _Upkeep | None = vars(ledger).get("_lots_upkeep")
    if found is None:
        found = vars(ledger).setdefault("_lots_upkeep", _Upkeep())
    return found


def later(ledger: LedgerParts) -> None:
    """After a read that folded the log because the view is far behind (``stored``): bring the
    view up in the background (``catch_up``), not beside the read's own fold (``handlers.handle``
    calls this once each answer is made; a no-op unless such a read asked)."""
    upkeep: _Upkeep | None = vars(ledger).get("_lots_upkeep")
    if upkeep is not None and upkeep.wanted:
        upkeep.wanted = False
        catch_up(ledger)


def catch_up(ledger: LedgerParts) -> threading.Thread:
    """Bring the lots view up to the log's end in a thread of this process (started unless one
    runs), chunk by chunk, each under the writer's lock; ``stop`` ends it after its chunk."""
    upkeep = _upkeep(ledger)
    with upkeep.lock:
        if upkeep.thread is None or not upkeep.thread.is_alive():
            upkeep.stop.clear()
            upkeep.thread = threading.Thread(
                target=_bring_up, args=(ledger, upkeep.stop), name="orderledger-lots", daemon=True
            )
            upkeep.thread.start()
        return upkeep.thread


def _bring_up(ledger: LedgerParts, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            started = time.perf_counter()
            if _chunk(ledger) >= ledger.views.lazy_lag(LotsProjection.name)[1]:
                return
            # As long again without a chunk: this process's reads and writes keep most of its time.
            stop.wait(time.perf_counter() - started)
    except (DatabaseReadOnlyError, DatabaseLockedError):
        return  # another process writes, or none may: a later read starts again
    except StoreError as error:
        if "permission denied" not in str(error):
            _LOG.exception("bringing the lots view up failed")
    except Exception:  # a read folds the log meanwhile; the next one that finds it behind retries
        if not stop.is_set():
            _LOG.exception("bringing the lots view up failed")


def stop(ledger: LedgerParts) -> None:
    """End the thread of ``catch_up`` once its chunk is written (a closing ledger's)."""
    upkeep: _Upkeep | None = vars(ledger).get("_lots_upkeep")
    if upkeep is None:
        return
    upkeep.stop.set()
    thread = upkeep.thread
    if thread is not None and thread is not threading.current_thread():
        thread.join()


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
