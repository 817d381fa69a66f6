"""What the ccxt route reads alike for every exchange (statuses, ``info``), and the shape of an
exchange's own readings, :class:`VenueRules`: each exchange's are in its module of
``adapters.ccxt.exchanges``, chosen by ``exchanges.rules_for``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orderledger.domain.values import ENDED, Status
from orderledger.infrastructure.adapters.common import ENDINGS

SOURCE = "ccxt"
SNAPSHOT_STATUS = {
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}
"""CCXT status → the status of a closed-order row in a reconciliation snapshot."""
TERMINAL = {
    venue: ENDINGS[Status(status)] for venue, status in SNAPSHOT_STATUS.items() if Status(status) in ENDED
}
"""CCXT statuses that end an order by a fact of its own, and the ledger message each becomes
(the one of the status it leads to; ``closed`` ends an order by its fills)."""
INFO_ORIGINAL_CLIENT_ID_KEYS = ("origClientOrderId",)
"""Keys under which a venue's cancel response (``info``) names the order's own client order ID
while ``clientOrderId`` holds the cancel request's (Binance's DELETE /api/v3/order does this)."""

InstrumentOf = Callable[[str], str]
"""Maps a CCXT symbol (``BTC/USDT``, ``BTC/USDT:USDT``) to the ledger's instrument name."""
FeeReader = Callable[[Mapping[str, Any]], "tuple[str, str | None] | None"]
"""Reads one trade's fee from its ``info`` in the ledger's sign (positive = cost), or None."""
ForcedReader = Callable[[Mapping[str, Any], Mapping[str, Any], "str | None"], "str | None"]
"""(structure, info, account) → ``"liquidation"``, ``"adl"`` or None: was this order/trade the
venue's, placed on ``account``'s position?"""


def info_of(structure: Mapping[str, Any]) -> Mapping[str, Any]:
    info = structure.get("info")
    return info if isinstance(info, Mapping) else {}


@dataclass(frozen=True)
class VenueRules:
    """How one venue's ccxt structures are read where the unified fields are not enough."""

    client_id_keys: tuple[str, ...] = ("clientOrderId", "clientOid", "clOrdId", "client_oid")
    """Fields of ``info`` (dotted for nested) holding the client order ID when the unified
    ``clientOrderId`` is missing."""
    no_client_id: frozenset[str] = frozenset()
    """Values the venue uses for "no client order ID" (besides null and empty text)."""
    client_index: bool = False
    """The client order ID is a numeric index the connector chose: emitted as an alias."""
    trade_client_index: Callable[[Mapping[str, Any], Mapping[str, Any]], str | None] | None = None
    """(trade, info) → the client index of a trade, for index venues whose trades carry one."""
    realized_pnl_keys: tuple[str, ...] = ()
    """Fields of a trade's ``info`` holding the venue's realized P&L for that fill."""
    fee: FeeReader | None = None
    """Reads the fee from ``info`` instead of the unified ``fee`` (see the module docstring)."""
    forced: ForcedReader | None = None
    """Marks liquidation / ADL orders and trades."""
    order_quantity_keys: tuple[str, ...] = ()
    """Fields of a trade's ``info`` stating its whole order's quantity (the same on every fill of
    the order), used as the quantity of a liquidation/ADL trade's external request."""
    funding_received_positive: bool | None = None
    """Whether a funding history structure's ``amount`` is positive for a payment received
    (ccxt passes each venue's own sign through); None: not established for the venue, and its
    funding history is refused rather than booked with a sign that may be wrong."""
    funding_id: Callable[[Mapping[str, Any]], str | None] | None = None
    """(structure) → the payment's ID where the unified ``id`` is not one."""
    funding_kind: tuple[str, frozenset[str]] | None = None
    """(field of ``info``, dotted for nested; its values for a funding payment): the history
    ccxt reads holds other kinds too (income, bills, executions), signed otherwise, so an entry
    of another kind, or of none, is refused."""
    order_terms: Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]] | None = None
    """(order, info) → the request fields only ``info`` states (``trigger_reference``,
    ``trailing_offset``, ``expire_at``: see ``orders.order_terms``), and ``family``
    (``trailing_stop``, ``stop``, ``take_profit``) where the venue's own type names one that
    ccxt's unified ``type`` folded away."""
    funding_currency: Callable[[Mapping[str, Any]], str] | None = None
    """(structure) → the payment's currency where ccxt's ``code`` is not it."""
