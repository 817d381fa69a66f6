"""Public names kept for a deprecation period after they were replaced.

A bot that embeds the ledger must survive an upgrade: a replaced public name keeps working for
at least one minor release, warns with a ``DeprecationWarning`` that names its replacement and
the release that removes it, and is listed under "Deprecated" in CHANGELOG.md. Each name here is
a thin call of its replacement, so its behaviour cannot drift from it.

The warnings come from ``typing_extensions.deprecated`` (PEP 702): type checkers flag the names
as well, at the caller's line. ``AsyncOrderLedger``'s replaced methods sit beside it in
``application.aio``: on Python 3.11 deprecating a coroutine function imports asyncio, which the
synchronous ledger does not otherwise load.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from typing_extensions import deprecated

from orderledger.domain.order import Order

REMOVED_IN = "1.0.0"
"""The release that removes the names deprecated in the 0.x series."""


class _Reads(Protocol):
    def order(
        self,
        key: str,
        *,
        version: int | None = ...,
        as_of: datetime | None = ...,
        event_time: bool = ...,
    ) -> Order: ...


GET_ORDER = f"get_order() is deprecated since 0.2.0 and removed in {REMOVED_IN}: use order(key, version=...)"
ORDER_AS_OF = (
    f"order_as_of() is deprecated since 0.2.0 and removed in {REMOVED_IN}: "
    "use order(key, as_of=..., event_time=...)"
)


class DeprecatedReads:
    """``OrderLedger``'s replaced read methods."""

    @deprecated(GET_ORDER)
    def get_order(self: _Reads, client_order_id: str, *, version: int | None = None) -> Order:
        """Deprecated: ``order(client_order_id, version=version)``."""
        return self.order(client_order_id, version=version)

    @deprecated(ORDER_AS_OF)
    def order_as_of(
        self: _Reads, client_order_id: str, as_of: datetime, *, event_time: bool = False
    ) -> Order:
        """Deprecated: ``order(client_order_id, as_of=as_of, event_time=event_time)``."""
        return self.order(client_order_id, as_of=as_of, event_time=event_time)
