"""What a writer keeps in memory between batches: the orders and venue identities it has read, each
in a bounded LRU."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from orderledger.domain.identity import IdentityKey
from orderledger.domain.order import Order

__all__ = ["IdentityCache", "OrderCache"]


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
