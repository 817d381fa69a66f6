"""What every read model is made of: tables of rows, and a pure fold over events.

A projection's ``apply`` reads and writes rows through :class:`Table`. In unit tests the
tables are plain dictionaries (:class:`MemoryTable`); infrastructure supplies tables backed
by SQL that write their rows and the view's tracking position in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from orderledger.domain.events import OrderEvent

K = TypeVar("K")
V = TypeVar("V")
KeyT = TypeVar("KeyT", contravariant=True)


class Table(Protocol[KeyT, V]):
    """The row store a fold sees: get, put and delete by key."""

    def get(self, key: KeyT) -> V | None: ...
    def put(self, key: KeyT, value: V) -> None: ...
    def lend(self, key: KeyT, value: V) -> None:
        """``put`` a value that belongs to someone else (the writer's own aggregate): the table
        writes its row but keeps no reference to it once the batch is written."""
        ...

    def delete(self, key: KeyT) -> None: ...
    def scan(self, where: Mapping[str, Any], after: int) -> list[V]:
        """Rows whose columns equal ``where`` and whose integer key is above ``after``, in key order."""
        ...


class MemoryTable(Generic[K, V]):
    """A table held in a dict: the pure fold's storage, and the reference in tests."""

    def __init__(self) -> None:
        self.rows: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self.rows.get(key)

    def put(self, key: K, value: V) -> None:
        self.rows[key] = value

    lend = put

    def delete(self, key: K) -> None:
        self.rows.pop(key, None)

    def scan(self, where: Mapping[str, Any], after: int) -> list[V]:
        found = [
            (key, value)
            for key, value in self.rows.items()
            if isinstance(key, int) and key > after and all(getattr(value, c) == v for c, v in where.items())
        ]
        return [value for _, value in sorted(found, key=lambda item: item[0])]


@dataclass(frozen=True)
class Column:
    """One SQL column of a view table: name and portable type (TEXT, INTEGER, BOOLEAN)."""

    name: str
    type: str = "TEXT"


@dataclass(frozen=True)
class Index:
    """An index on some columns; ``where``: only of the rows meeting it (a partial index).

    ``include``: more columns kept in the index's entries (on SQLite, after its own columns),
    so that a query reading only these columns is answered from the index, its entries read in
    order, without a lookup of each row in the table. PostgreSQL's index leaves them out: it
    refuses an entry larger than about a third of a page, which a long value could make.
    """

    columns: tuple[str, ...]
    where: str | None = None
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec(Generic[K, V]):
    """How a view table's rows are stored: columns, key, and the row ↔ value conversions."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    to_row: Callable[[V], tuple[Any, ...]]
    from_row: Callable[[tuple[Any, ...]], V]
    key_of_row: Callable[[tuple[Any, ...]], K]
    key_values: Callable[[K], tuple[Any, ...]]
    indexes: tuple[tuple[str, ...] | Index, ...] = ()
    fixed: tuple[str, ...] = ()
    """Columns a row keeps from the moment it is first written (an order's account, venue …):
    rewriting the row leaves them, and the indexes on them alone, untouched."""


class Projection(ABC):
    """A read model: its tables and a deterministic fold over the event log."""

    name: ClassVar[str]
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]]
    version: ClassVar[int] = 1
    """Raised whenever the fold writes other rows for the same events: a database whose view was
    built by another version is rebuilt from the log when the ledger opens."""

    events: ClassVar[tuple[type[OrderEvent], ...] | None] = None
    """The event types ``apply`` folds (None: every type); storage skips the others."""

    @classmethod
    def folds(cls, kind: type[OrderEvent]) -> bool:
        """Whether ``apply`` folds events of this type."""
        return cls.events is None or kind in cls.events

    @abstractmethod
    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        """Fold one event (at its notification ``position``) into the tables."""

    def settle(
        self,
        tables: Mapping[str, Table[Any, Any]],
        *,
        defer: bool = False,
        write: Callable[[], None] | None = None,
    ) -> bool:
        """Finish what ``apply`` deferred during a pass over a run of events: every fold calls
        it after the pass's last ``apply`` and before the rows are read or written. A view
        that defers nothing (the default) has nothing to do.

        ``defer``: the pass is one of a run (a long ingest, a catch-up in chunks) whose end
        finishes what is left (``resume``, then ``settle``): the view may leave work that would
        cost far more than the pass itself, provided it marks the rows concerned in its
        ``unfinished`` column, so that any later pass, process or reader knows of it. Returns
        whether it left any.

        ``write``: writes the rows put so far, inside the fold's transaction (a fold whose tables
        hold their writes until the end gives it): a settle that rewrites many rows calls it
        between its parts, so that they are not all held in memory at once."""
        return False

    unfinished: ClassVar[tuple[str, str] | None] = None
    """(table, column) whose non-NULL values mark rows with work ``settle`` left for later."""

    def resume(self, tables: Mapping[str, Table[Any, Any]], key: Any) -> None:
        """Take up the work left on the row ``key`` of the ``unfinished`` table, so that the next
        ``settle`` without ``defer`` finishes it."""
        return None

    def forget(self, tables: Mapping[str, Table[Any, Any]]) -> None:
        """Drop what ``apply`` deferred during a pass that failed (its rows are discarded too)."""
        return None

    adopts: ClassVar[bool] = False
    """Whether ``adopt`` can take rows from the state the writer decided (see there)."""

    def adopt(
        self, event: OrderEvent, tables: Mapping[str, Table[Any, Any]], decided: Mapping[str, Any]
    ) -> bool:
        """Fold ``event`` by taking its row from ``decided`` rather than by ``apply``: the writer
        that has just decided the event hands over each order of its batch (client order ID →
        ``Order``) as it stands after the batch. Only a view whose row is that very state can
        (the orders view); returns False to have the event folded by ``apply`` instead."""
        return False

    def reads(self, event: OrderEvent) -> Iterable[tuple[str, Any]]:
        """The (table, key) rows ``apply`` will read for this event, so storage can load them
        for a whole batch at once. Optional: a row not announced is read when needed."""
        return ()

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        """Which share of the rows an event touches, for a rebuild split across processes.

        Given the event's class and its ``client_order_id``, ``account``, ``venue`` and
        ``instrument`` (as stored beside the event, so that an event of another share is routed
        without parsing it; a key may depend on nothing else), returns a key: events with the same
        key must be folded by the same process, in log order, and the rows of events with
        different keys never meet. ``EVERY`` is for facts every share needs (each process folds
        them: the rows they write must come out alike); ``None`` for events ``apply`` ignores.
        The default keeps everything in one share: always right, never parallel.
        """
        return ""

    few_partitions: ClassVar[bool] = False
    """Whether ``partition`` gives few keys with many events each (one per book, not one per
    order): a partitioned rebuild then deals them out to its processes in turn, in the order
    they first appear in the log, since a hash of a handful of keys shares them unevenly."""


EVERY = "\x00every"
"""``Projection.partition``'s key for an event every share of a partitioned fold needs."""


def fold(
    projection: Projection, events: Iterable[tuple[int, OrderEvent]]
) -> dict[str, MemoryTable[Any, Any]]:
    """Fold events into fresh in-memory tables: the pure reference for any view."""
    tables: dict[str, MemoryTable[Any, Any]] = {spec.name: MemoryTable() for spec in projection.tables}
    for position, event in events:
        projection.apply(position, event, tables)
    projection.settle(tables)
    return tables
