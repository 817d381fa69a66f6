"""The identities an order is found by besides its client order ID.

An identity is ``(venue, kind, value)``, as the ``identities`` table stores it and as the
ledger keys its caches: a venue order ID, an alias the venue gives the order (``alias:<name>``),
or, for a message parked until its order exists, the client order ID itself (no venue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # for the annotation only: the order's module needs nothing from here
    from orderledger.domain.order import Order

VENUE_ORDER_ID = "venue_order_id"
CLIENT_ORDER_ID = "client_order_id"
ALIAS = "alias:"
"""The prefix of an alias's kind: ``alias:<name>``."""

_tuple = tuple.__new__  # the NamedTuple's own __new__ is a Python function: this is the C one


class IdentityKey(NamedTuple):
    """One identity of an order; equal to, and hashed as, the plain tuple it is stored as."""

    venue: str
    kind: str
    value: str

    @classmethod
    def venue_order(cls, venue: str, venue_order_id: str) -> IdentityKey:
        """The order the venue knows by ``venue_order_id``."""
        return _tuple(cls, (venue, VENUE_ORDER_ID, venue_order_id))

    @classmethod
    def alias(cls, venue: str, name: str, value: str) -> IdentityKey:
        """The order the venue knows by its alias ``name`` = ``value``."""
        return _tuple(cls, (venue, ALIAS + name, value))

    @classmethod
    def client_order(cls, client_order_id: str) -> IdentityKey:
        """The order with this client order ID (what a message parked before it waits on)."""
        return _tuple(cls, ("", CLIENT_ORDER_ID, client_order_id))


TRADE = "trade:"
"""The prefix of the kind of key a bust or correction waits on: ``trade:<kind of the order's key>``."""
TRADE_SEPARATOR = "\x1f"
"""Between the order's name and the trade ID in the value of a key a bust or correction waits on."""


def trade_key(key: IdentityKey, trade_id: str) -> IdentityKey:
    """What a bust or correction of ``trade_id`` waits on, for the order named by ``key``: the
    fill of that trade, booked on that order."""
    return _tuple(IdentityKey, (key[0], TRADE + key[1], f"{key[2]}{TRADE_SEPARATOR}{trade_id}"))


def waited_on(key: tuple[str, str, str]) -> tuple[IdentityKey, str | None]:
    """What a parked message's key names: the order's key, and the trade of that order it waits
    for (None: it waits for the order itself); :func:`trade_key` read back."""
    venue, kind, value = key
    if not kind.startswith(TRADE):
        return _tuple(IdentityKey, key), None
    name, trade = value.split(TRADE_SEPARATOR, 1)
    return _tuple(IdentityKey, (venue, kind.removeprefix(TRADE), name)), trade


def identity_keys(order: Order) -> list[IdentityKey]:
    """Every identity an order has recorded besides its client order ID: its venue order IDs,
    then its aliases."""
    keys = [IdentityKey.venue_order(order.venue, v) for v in order.venue_order_ids]
    keys += [IdentityKey.alias(order.venue, n, v) for n, v in order.aliases.items()]
    return keys
