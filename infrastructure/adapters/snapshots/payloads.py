"""Successive open-orders snapshots → what changed: new, updated and closed orders.

A websocket collector often sees the venue's open orders as a whole list, pushed again on
every change (or polled). :class:`OpenOrdersDiffer` keeps the previous list and reports, for
each new one:

* **new** — a venue order ID not in the previous snapshot;
* **updated** — present in both, with a different filled quantity (up, or down after a bust),
  quantity, price, status or client order ID; :attr:`OrderUpdate.changed` names the fields;
* **closed** — in the previous snapshot, absent from this one. *Why* it left (filled,
  canceled, expired) is not in an open-orders list, so the differ does not guess.

It produces no ledger messages: a filled-quantity increase has no trade ID, and a vanished
order has no known outcome. It reports changes for reconciliation, which books fills the
venue reports, infers the rest with deterministic IDs, and closes absent orders only after a
grace window (docs/reconciliation.md). :func:`snapshot_document` turns the
current list into the reconciliation snapshot document for that.

Rows are dicts with ``venue_order_id``, ``instrument``, ``side``, ``quantity`` (required),
``client_order_id``, ``price``, ``filled_quantity`` (default 0), ``status`` (default
``open``), and optionally ``order_type``, ``average_price`` and ``created_at`` (when the venue
created the order) — the reconciliation row shape,
which :func:`infrastructure.adapters.ccxt.payloads.order_row` also produces. A row whose status is
terminal (``filled``, ``closed``, ``canceled``, ``expired``, ``rejected``) is not open: a
collector may list an order once more as it ends, so such a row counts as absent. The differ
assumes each snapshot is the venue's complete open-orders list (not a delta) and keys orders
by venue order ID: a venue that re-IDs an amended order shows a close and a new.

Pure: no I/O, no clock; the only state is the previous snapshot, replaced only when a
snapshot has been read without error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import (
    TERMINAL,
    Status,
    format_decimal,
    parse_decimal,
    parse_identifier,
    parse_positive,
)
from orderledger.infrastructure.adapters.common import SIDES, AdapterError, time_from_iso

SPELLINGS = {"closed": Status.FILLED, "cancelled": Status.CANCELED}
"""Venue spellings of a status that differ from the ledger's own."""
TERMINAL_STATUSES = frozenset(s.value for s in TERMINAL) | {v for v, s in SPELLINGS.items() if s in TERMINAL}
RECONCILE_OPEN_STATUSES = ("open", "new", "partially_filled", "accepted")
COMPARED = ("filled_quantity", "quantity", "price", "status", "client_order_id")


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """One row of an open-orders snapshot, with exact numbers."""

    venue_order_id: str
    instrument: str
    side: str
    quantity: Decimal
    client_order_id: str | None = None
    price: Decimal | None = None
    filled_quantity: Decimal = Decimal(0)
    status: str = "open"
    order_type: str | None = None
    average_price: Decimal | None = None
    created_at: str | None = None
    """When the venue created the order (canonical ISO text), if the row says."""

    def as_row(self) -> dict[str, Any]:
        """The reconciliation-snapshot row of this order (numbers as strings)."""
        status = self.status if self.status in RECONCILE_OPEN_STATUSES else "open"
        row: dict[str, Any] = {
            "venue_order_id": self.venue_order_id,
            "client_order_id": self.client_order_id,
            "instrument": self.instrument,
            "side": self.side,
            "order_type": self.order_type or ("limit" if self.price is not None else "market"),
            "quantity": format_decimal(self.quantity),
            "price": None if self.price is None else format_decimal(self.price),
            "filled_quantity": format_decimal(self.filled_quantity),
            "average_price": None if self.average_price is None else format_decimal(self.average_price),
            "status": status,
            "created_at": self.created_at,
        }
        return {k: v for k, v in row.items() if v is not None}


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order present in both snapshots whose reported state changed."""

    previous: OpenOrder
    current: OpenOrder
    changed: tuple[str, ...]
    """The fields that differ, among filled_quantity, quantity, price, status, client_order_id."""

    @property
    def filled_delta(self) -> Decimal:
        """How much more the venue reports filled (negative after a bust or correction)."""
        return self.current.filled_quantity - self.previous.filled_quantity


@dataclass(frozen=True, slots=True)
class Changes:
    """What one snapshot changed relative to the previous one."""

    new: tuple[OpenOrder, ...] = ()
    updated: tuple[OrderUpdate, ...] = ()
    closed: tuple[OpenOrder, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.new or self.updated or self.closed)


def parse_open_orders(rows: Iterable[Mapping[str, Any]]) -> tuple[OpenOrder, ...]:
    """Read snapshot rows; terminal rows are left out, a repeated venue order ID is refused."""
    out: list[OpenOrder] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        where = f"snapshot[{index}]"
        if not isinstance(row, Mapping):
            raise AdapterError(f"{where} must be an object")
        try:
            order = _row(row, where)
        except InvalidInputError as error:
            raise AdapterError(error.message) from None
        if order.venue_order_id in seen:
            raise AdapterError(f"{where}: venue order {order.venue_order_id!r} is listed twice")
        seen.add(order.venue_order_id)
        if order.status not in TERMINAL_STATUSES:
            out.append(order)
    return tuple(out)


def _row(row: Mapping[str, Any], where: str) -> OpenOrder:
    def required(name: str) -> Any:
        value = row.get(name)
        if value is None or value == "":
            raise AdapterError(f"{where}: {name} is required")
        return value

    side = str(required("side")).lower()
    if side not in SIDES:
        raise AdapterError(f"{where}: side must be buy or sell, not {side[:20]!r}")
    client = row.get("client_order_id")
    price = row.get("price")
    average = row.get("average_price")
    filled = row.get("filled_quantity")
    order_type = row.get("order_type")
    return OpenOrder(
        venue_order_id=parse_identifier(required("venue_order_id"), f"{where}.venue_order_id"),
        instrument=parse_identifier(required("instrument"), f"{where}.instrument"),
        side=side,
        quantity=parse_positive(_exact(required("quantity")), f"{where}.quantity"),
        client_order_id=None
        if client in (None, "")
        else parse_identifier(client, f"{where}.client_order_id"),
        price=None if price in (None, "") else parse_positive(_exact(price), f"{where}.price"),
        filled_quantity=Decimal(0)
        if filled in (None, "")
        else parse_decimal(_exact(filled), f"{where}.filled_quantity"),
        status=str(row.get("status") or "open").lower(),
        order_type=None if order_type in (None, "") else str(order_type).lower(),
        average_price=None
        if average in (None, "")
        else parse_positive(_exact(average), f"{where}.average_price"),
        created_at=time_from_iso(row.get("created_at"), f"{where}.created_at"),
    )


def _exact(value: Any) -> Any:
    # A float from a collector is read through repr (its shortest exact text), not refused.
    return repr(value) if isinstance(value, float) else value


def diff_open_orders(previous: Sequence[OpenOrder], current: Sequence[OpenOrder]) -> Changes:
    """New, updated and closed orders between two parsed snapshots (orders as listed)."""
    before = {o.venue_order_id: o for o in previous}
    now = {o.venue_order_id: o for o in current}
    new: list[OpenOrder] = []
    updated: list[OrderUpdate] = []
    for order in current:
        old = before.get(order.venue_order_id)
        if old is None:
            new.append(order)
            continue
        changed = tuple(name for name in COMPARED if getattr(old, name) != getattr(order, name))
        if changed:
            updated.append(OrderUpdate(old, order, changed))
    closed = [o for o in previous if o.venue_order_id not in now]
    return Changes(tuple(new), tuple(updated), tuple(closed))


class OpenOrdersDiffer:
    """Remembers the last open-orders snapshot and reports what each new one changed."""

    def __init__(self, initial: Iterable[Mapping[str, Any]] = ()) -> None:
        self._current: tuple[OpenOrder, ...] = parse_open_orders(initial)

    @property
    def current(self) -> tuple[OpenOrder, ...]:
        """The open orders as of the last snapshot."""
        return self._current

    def diff(self, snapshot: Iterable[Mapping[str, Any]]) -> Changes:
        """Compare a complete open-orders snapshot with the previous one, then keep it."""
        orders = parse_open_orders(snapshot)
        changes = diff_open_orders(self._current, orders)
        self._current = orders
        return changes

    def snapshot_document(self, *, venue: str, account: str, as_of: datetime | str) -> dict[str, Any]:
        """The current open orders as a reconciliation snapshot document."""
        return snapshot_document(self._current, venue=venue, account=account, as_of=as_of)


def snapshot_document(
    orders: Iterable[OpenOrder], *, venue: str, account: str, as_of: datetime | str
) -> dict[str, Any]:
    """A document for ``orderledger reconcile`` whose open orders are ``orders``.

    Orders the ledger has open but the document lacks are what reconciliation treats as
    absent at the venue (closed after the grace window, unless fills explain them).
    """
    stamp = time_from_iso(as_of, "as_of")
    if stamp is None:
        raise AdapterError("as_of is required")
    return {
        "venue": venue,
        "account": account,
        "as_of": stamp,
        "open_orders": [o.as_row() for o in orders],
    }


__all__ = [
    "Changes",
    "OpenOrder",
    "OpenOrdersDiffer",
    "OrderUpdate",
    "diff_open_orders",
    "parse_open_orders",
    "snapshot_document",
]
