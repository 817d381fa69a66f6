"""Read model: every order's current state, open ones flagged (``orderledger orders``).

The fold reuses the aggregate's own ``apply``, so the view can never disagree with the
aggregate's rules.

A row is columns: first what ``Order.snapshot()`` shows, in its order and as its texts (a query
answers from them without building the order), then what restoring the order to fold more of
its events needs (``Order.from_state``): the order's declaration (``order_state.SHOWN`` and
``KEPT``) names the columns and says how each value is stored. Nothing is stored as one blob
rewritten on each change.

An open order's row also holds its snapshot's columns packed as one JSON array
(``open_shown``; NULL once the order is closed), and open orders are in a partial index
(``is_open = 1``) that includes it: listing the open orders after a restart reads one short
index and one value per order (on SQLite; PostgreSQL's index finds their rows). Python takes
~2 µs to make the 24 objects of a row's columns, so reading them column by column cost a
restart's listing more than the whole listing may take.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, ClassVar

import orjson

from orderledger.domain.compiled import converter
from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderMerged, OrderRequested
from orderledger.domain.fills import Fill
from orderledger.domain.order import Order
from orderledger.domain.order_state import (
    AMEND_TARGET,
    FILLS,
    FLAG,
    INTEGER,
    KEPT,
    NAMED,
    OPTIONAL_FLAG,
    PLAIN,
    SHOWN,
    TERMS_KIND,
    TEXTS,
    Kind,
)
from orderledger.domain.values import TEXT, Status
from orderledger.projections.base import Column, Index, Projection, Table, TableSpec

INTEGER_KINDS = frozenset({INTEGER, FLAG, OPTIONAL_FLAG})
"""The kinds of value the view stores as integers (the rest as text)."""
_SHOWN = tuple(Column(name, "INTEGER" if kind in INTEGER_KINDS else "TEXT") for name, kind in SHOWN.items())
"""The snapshot's fields, in its order (lists and mappings as JSON text): ``order_state.SHOWN``."""
SHOWN_COLUMNS = tuple(c.name for c in _SHOWN)
_DUMPS = orjson.dumps
_EMPTY_LIST = "[]"
_EMPTY_MAP = "{}"


def _loads(text: str) -> Any:
    if text == _EMPTY_LIST:
        return []
    if text == _EMPTY_MAP:
        return {}
    return orjson.loads(text)


def _loads_or_none(text: str | None) -> Any:
    """A mapping from its JSON text; NULL (none stated) as None."""
    return None if text is None else _loads(text)


OPEN_SHOWN = "open_shown"
"""The column holding an open order's snapshot columns as one JSON array (NULL once closed)."""

_DECODERS: dict[Kind, Any] = {
    TEXTS: _loads,
    NAMED: _loads,
    TERMS_KIND: _loads_or_none,
    FLAG: bool,
    OPTIONAL_FLAG: OPTIONAL_FLAG.read,
    AMEND_TARGET: lambda text: None if text is None else orjson.loads(text),
    FILLS: orjson.loads,
}
"""Per kind of value, what reads its stored form (JSON text, 0/1) back (absent: nothing)."""
SHOWN_DECODERS = tuple(_DECODERS.get(kind) for kind in SHOWN.values())
"""Per snapshot column, what reads its stored form back (None: nothing)."""
_KEPT_DECODERS = tuple((name, _DECODERS.get(kind)) for name, kind in KEPT.items())


def shown_values(row: Sequence[Any]) -> list[Any]:
    """The values of ``Order.snapshot()``, in its order, from a stored row (its first
    ``len(SHOWN_COLUMNS)`` columns): lists and mappings decoded, ``external`` a bool."""
    return [v if decode is None else decode(v) for decode, v in zip(SHOWN_DECODERS, row, strict=False)]


def shown(row: Sequence[Any]) -> dict[str, Any]:
    """``Order.snapshot()`` of a stored row (its first ``len(SHOWN_COLUMNS)`` columns)."""
    return dict(zip(SHOWN_COLUMNS, shown_values(row), strict=True))


def _json_list(values: list[Any]) -> str:
    return _DUMPS(values).decode() if values else _EMPTY_LIST


def _json_map(values: dict[str, Any]) -> str:
    return _DUMPS(values).decode() if values else _EMPTY_MAP


def _fills_text(fills: dict[str, Fill]) -> str:
    # As ``Order.to_state`` stores them (``Fill.stored``).
    if not fills:
        return _EMPTY_LIST
    return _DUMPS([fill.stored() for fill in fills.values()]).decode()


def _target_text(target: tuple[Any, Any] | None) -> str | None:
    return None if target is None else _DUMPS(AMEND_TARGET.show(target)).decode()


_COLUMN_FORMS: dict[Kind, Any] = {
    PLAIN: None,
    INTEGER: None,
    FLAG: int,  # True and False as 1 and 0
    OPTIONAL_FLAG: lambda flag: None if flag is None else int(flag),
    TEXTS: _json_list,
    NAMED: _json_map,
    TERMS_KIND: lambda terms: None if terms is None else _DUMPS(terms).decode(),
    AMEND_TARGET: _target_text,
    FILLS: _fills_text,
}
"""Per kind of value, how the view stores it when not as the snapshot shows it (None: as it is)."""


def _forms(kinds: Iterable[Kind]) -> tuple[Any, ...]:
    return tuple(_COLUMN_FORMS.get(kind, kind.show) for kind in kinds)


_SHOWN_VALUES = attrgetter(*SHOWN)
_KEPT_VALUES = attrgetter(*KEPT)
_SHOWN_FORMED = converter("shown_row", _forms(SHOWN.values()))
_KEPT_FORMED = converter("kept_row", _forms(KEPT.values()))
"""Each value in the form its column stores when not as the order holds it."""
_STATUS_AT = list(SHOWN).index("status")
_OPEN_TEXTS = frozenset(TEXT[status] for status in Status if status.is_open)


def _to_row(order: Order) -> tuple[Any, ...]:
    # What ``Order.snapshot()`` shows, in its order and as its texts, read from the order directly
    # (no dict, no copies of its lists), then what restoring it needs (``KEPT``), in the forms
    # the columns store. A rebuild makes one of these per order: the values are read in one call
    # each and converted by a function compiled from the declaration (``domain.compiled``).
    shown = _SHOWN_FORMED(_SHOWN_VALUES(order))
    if shown[_STATUS_AT] in _OPEN_TEXTS:
        return (*shown, 1, *_KEPT_FORMED(_KEPT_VALUES(order)), _DUMPS(shown).decode())
    return (*shown, 0, *_KEPT_FORMED(_KEPT_VALUES(order)), None)


def _from_row(row: Sequence[Any]) -> Order:
    data = shown(row)
    start = len(SHOWN_COLUMNS) + 1  # after ``is_open``
    for (name, decode), value in zip(_KEPT_DECODERS, row[start : start + len(KEPT)], strict=True):
        data[name] = value if decode is None else decode(value)
    # What only commands read (fingerprints, who made the request) is not kept: the view folds.
    return Order.from_state(data)


ORDERS_TABLE: TableSpec[str, Order] = TableSpec(
    name="orders_view",
    columns=(
        *_SHOWN,
        Column("is_open", "INTEGER"),
        *(Column(name, "INTEGER" if kind in INTEGER_KINDS else "TEXT") for name, kind in KEPT.items()),
        Column(OPEN_SHOWN),
    ),
    key=("client_order_id",),
    # What an order is given by its request and never changes (``Order.__init__`` sets them
    # once; amendments and a repeated request's details change the others, and a request of ours
    # that arrives after the venue's report of the order its creation time and ``external``).
    fixed=(
        "account",
        "venue",
        "instrument",
        "side",
        "order_type",
        "quote_currency",
        "id",
    ),
    to_row=_to_row,
    from_row=_from_row,
    key_of_row=lambda row: str(row[0]),
    key_values=lambda key: (key,),
    indexes=(
        # Open orders, oldest first, with their packed snapshots and the columns a listing may
        # filter on: listing them reads this index alone (on SQLite), not each open order's row
        # among all the orders'.
        Index(
            ("created_at", "client_order_id"),
            where="is_open = 1",
            include=(OPEN_SHOWN, "account", "venue", "instrument", "parent_id"),
        ),
        ("account", "venue", "instrument"),
        ("parent_id",),  # orders, trades and P&L by parent
    ),
)
OPEN_ONLY = "is_open = 1"
_BUSTS = frozenset({FillBusted, FillCorrected})
"""The condition of the open orders' partial index: a query that states it reads only them."""


class OrdersProjection(Projection):
    """Each order as it stands; ``is_open`` marks the open ones."""

    name: ClassVar[str] = "orders"
    tables: ClassVar[tuple[TableSpec[Any, Any], ...]] = (ORDERS_TABLE,)
    # The view's version: a stored view of another version is rebuilt from the log when a ledger
    # opens. At this one an order is columns, average prices to 34 digits, indexed by parent_id,
    # and an open order's snapshot is one packed column held by the open orders' partial index.
    version: ClassVar[int] = 6

    adopts: ClassVar[bool] = True

    def adopt(
        self, event: OrderEvent, tables: Mapping[str, Table[Any, Any]], decided: Mapping[str, Any]
    ) -> bool:
        # The row is the order as its aggregate stands: the one the writer has just decided is
        # it (``apply`` would build the same order again from the same events).
        order: Order | None = decided.get(event.client_order_id)
        if order is None or order.version < event.originator_version or type(event) is OrderMerged:
            return False
        tables[ORDERS_TABLE.name].lend(order.client_order_id, order)
        return True

    def reads(self, event: OrderEvent) -> Iterable[tuple[str, Any]]:
        if isinstance(event, OrderRequested):
            return ()
        return ((ORDERS_TABLE.name, event.client_order_id),)

    def partition(self, event_type: type[OrderEvent], fields: Mapping[str, Any]) -> str | None:
        return (
            str(fields["client_order_id"]) if fields.get("client_order_id") else None
        )  # an order's rows are its own

    def apply(self, position: int, event: OrderEvent, tables: Mapping[str, Table[Any, Any]]) -> None:
        table: Table[str, Order] = tables[ORDERS_TABLE.name]
        kind = type(event)
        if kind is OrderMerged:  # one of ours: it leaves the books (``ingest.merging``)
            table.delete(event.client_order_id)
            return
        if kind is OrderRequested:
            order = Order(event)  # type: ignore[arg-type]
            order.version = event.originator_version
        else:
            found = table.get(event.client_order_id)
            if found is None or found.version >= event.originator_version:
                return  # already folded (or its request is not in this log): nothing to do
            if kind in _BUSTS and event.trade_id not in found.fills:  # type: ignore[attr-defined]
                return  # a fold cut by venue time can hold a bust whose trade comes later
            order = found
            order.apply(event, deciding=False)  # a view decides nothing: no fingerprints
        table.put(order.client_order_id, order)
