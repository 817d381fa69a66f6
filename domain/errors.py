"""Typed errors raised by the ledger; each carries the IDs involved.

The tree::

    LedgerError
    ├── InvalidInputError          a value the ledger refuses (NaN, negative quantity, naive time, …)
    ├── OrderNotFoundError         no order has this client order ID or venue identity
    ├── ClientOrderIdReuseError    the ID is taken by an order with different content
    ├── IdentityConflictError      a venue order ID or alias that already points elsewhere
    ├── ContradictionError         a venue report states another account, instrument or side
    ├── InvalidTransitionError     the fact is not allowed in the order's status
    ├── FillConflictError          a known trade ID arrives with another quantity or price
    ├── FactConflictError          a known cash flow ID or mark arrives with other values
    ├── OverfillError              the fills would exceed the order quantity
    ├── UnknownTradeError          a bust or correction names a trade the order does not have
    └── AmendBelowFilledError      an amendment would set the quantity below what is filled

Infrastructure adds its own branches (store unavailable, concurrency) under the same root.

A message names an argument of the caller's in backticks (`` `mark` ``), never as one front end
spells it: the command line shows it as its option (``--mark``), the HTTP API as its parameter
(``mark``), Python as written (:func:`argument_names`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

ARGUMENT = re.compile(r"`([a-z][a-z0-9_]*)`")
"""An argument named in a message: its Python name in backticks."""


def argument_names(message: str, spell: Callable[[str], str]) -> str:
    """``message`` with each argument it names spelled by ``spell`` (from its Python name)."""
    return ARGUMENT.sub(lambda match: spell(match.group(1)), message)


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose; its message is one line."""

    def __init__(self, message: str, *, client_order_id: str | None = None) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id

    @property
    def message(self) -> str:
        """The one-line message shown to users."""
        return str(self.args[0])


class InvalidInputError(LedgerError, ValueError):
    """A value the ledger refuses: NaN, infinity, a non-positive quantity, a naive time, …"""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class OrderNotFoundError(LedgerError, LookupError):
    """No order is known under this client order ID or venue identity."""


class ClientOrderIdReuseError(LedgerError):
    """A request reuses a client order ID that belongs to an order with other content."""

    def __init__(
        self, client_order_id: str, differences: list[str], values: dict[str, tuple[str, str]] | None = None
    ) -> None:
        """``values``: (the order's, the request's) of the differences that show them."""
        shown = [
            f"{name} ({values[name][0]!r}, not {values[name][1]!r})" if values and name in values else name
            for name in differences
        ]
        super().__init__(
            f"client order ID {client_order_id!r} is already used by an order with different "
            + ", ".join(shown),
            client_order_id=client_order_id,
        )
        self.differences = differences


class IdentityConflictError(LedgerError):
    """A venue order ID or alias is already recorded with another value or order."""


class ContradictionError(LedgerError):
    """A venue's report of an order states another account, instrument or side than the order
    has: it names the order, but not as the order is."""

    def __init__(self, client_order_id: str, field: str, recorded: str, reported: str) -> None:
        super().__init__(
            f"order {client_order_id!r} has {field} {recorded!r}, but the report states {field} {reported!r}",
            client_order_id=client_order_id,
        )
        self.field = field
        self.recorded = recorded
        self.reported = reported


class InvalidTransitionError(LedgerError):
    """The fact is not allowed in the order's current status."""

    def __init__(self, client_order_id: str, fact: str, status: str, why: str) -> None:
        super().__init__(
            f"order {client_order_id!r}: {fact} refused in status {status}: {why}",
            client_order_id=client_order_id,
        )
        self.fact = fact
        self.status = status


class FillConflictError(LedgerError):
    """A trade ID already booked on the order arrives with another quantity or price."""

    def __init__(self, client_order_id: str, trade_id: str, detail: str) -> None:
        super().__init__(
            f"order {client_order_id!r}: trade {trade_id!r} already booked with {detail}",
            client_order_id=client_order_id,
        )
        self.trade_id = trade_id


class FactConflictError(LedgerError):
    """A cash flow (by its venue ID) or a mark (by instrument, time and source) already recorded
    arrives with other values."""


class OverfillError(LedgerError):
    """The fills would add up to more than the order quantity."""

    def __init__(self, client_order_id: str, trade_id: str, filled: str, quantity: str) -> None:
        super().__init__(
            f"order {client_order_id!r}: trade {trade_id!r} would fill {filled} "
            f"of quantity {quantity} (overfill)",
            client_order_id=client_order_id,
        )
        self.trade_id = trade_id


class UnknownTradeError(LedgerError):
    """A bust or correction names a trade the order does not have."""

    def __init__(self, client_order_id: str, trade_id: str, why: str = "has no trade") -> None:
        super().__init__(f"order {client_order_id!r} {why} {trade_id!r}", client_order_id=client_order_id)
        self.trade_id = trade_id


class AmendBelowFilledError(LedgerError):
    """An amendment would set the quantity below what is already filled."""

    def __init__(self, client_order_id: str, quantity: str, filled: str) -> None:
        super().__init__(
            f"order {client_order_id!r}: amended quantity {quantity} is below the filled quantity {filled}",
            client_order_id=client_order_id,
        )
