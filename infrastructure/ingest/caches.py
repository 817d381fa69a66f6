"""What a writer keeps in memory between batches: orders and venue identities it has read (bounded
LRUs), and the collector's threshold while it ingests."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from orderledger.domain.identity import IdentityKey
from orderledger.domain.order import Order

__all__ = ["YOUNG_THRESHOLD", "IdentityCache", "OrderCache", "fewer_collections"]


class OrderCache:
    """A bounded LRU of orders at their last committed version."""

    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._orders: OrderedDict[str, Order] = OrderedDict()

    def get(self, client_order_id: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is not None:
            self._orders.move_to_end(client_order_id)
        return order

    def peek(self, client_order_id: str) -> Order | None:
        """The cached order, if any, without making it the most recent (a look that uses nothing)."""
        return self._orders.get(client_order_id)

    def put(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        self._orders.move_to_end(order.client_order_id)
        while len(self._orders) > self.maxsize:
            self._orders.popitem(last=False)

    def forget(self, client_order_ids: Iterable[str]) -> None:
        for key in client_order_ids:
            self._orders.pop(key, None)

    def clear(self) -> None:
        self._orders.clear()


class IdentityCache:
    """A bounded LRU of venue identities → client order ID (what the `identities` table holds)."""

    def __init__(self, maxsize: int = 200_000) -> None:
        self.maxsize = maxsize
        self._owners: OrderedDict[IdentityKey, str] = OrderedDict()

    def get(self, key: IdentityKey) -> str | None:
        owner = self._owners.get(key)
        if owner is not None:
            self._owners.move_to_end(key)
        return owner

    def __contains__(self, key: object) -> bool:
        return key in self._owners

    def __setitem__(self, key: IdentityKey, owner: str) -> None:
        self._owners[key] = owner
        self._owners.move_to_end(key)
        while len(self._owners) > self.maxsize:
            self._owners.popitem(last=False)

    def forget(self, keys: Iterable[IdentityKey]) -> None:
        for key in keys:
            self._owners.pop(key, None)

    def clear(self) -> None:
        self._owners.clear()


YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation collections while ingesting (Python's default: 700)."""
_collections_lock = threading.Lock()
_ingesting = 0
_saved_thresholds: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect the young generation less often while ingesting, then restore the thresholds.

    A batch allocates many short-lived objects (messages, events, rows) while the ledger's caches
    keep many long-lived ones, so the default threshold (700) has the collector walk survivors
    over and over: about 30 µs per message, measured. The threshold is process-wide, so it is
    raised only while some thread is ingesting, never lowered, and put back as it was.
    """
    global _ingesting, _saved_thresholds
    with _collections_lock:
        if _ingesting == 0:
            current = gc.get_threshold()
            if current[0] and current[0] < YOUNG_THRESHOLD:  # 0: the user disabled collection
                _saved_thresholds = current
                gc.set_threshold(YOUNG_THRESHOLD, *current[1:])
        _ingesting += 1
    try:
        yield
    finally:
        with _collections_lock:
            _ingesting -= 1
            if _ingesting == 0 and _saved_thresholds is not None:
                gc.set_threshold(*_saved_thresholds)
                _saved_thresholds = None
