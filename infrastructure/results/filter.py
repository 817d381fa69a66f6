"""The one filter of the ledger's lists: :class:`Filter`, which rows a query selects, each
selecting field declared with what it selects and the lists that take it (:func:`criterion`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from annotated_types import Ge

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import format_timestamp, parse_timestamp


def criterion(meaning: str, *lists: str, param: str | None = None) -> dict[str, Any]:
    """The metadata of a field of :class:`Filter` that selects rows: what it selects
    (``meaning``), the lists that take it, and its keyword, option and query parameter
    (``param``; default: its name)."""
    return {"meaning": meaning, "lists": frozenset(lists), "param": param}


@dataclass(frozen=True)
class Filter:
    """Which rows a query selects; every field is optional.

    ``since``/``until`` are inclusive (creation time for orders, venue time for trades, recorded
    or venue time for events, arrival time for messages); ``newest`` reverses the order; ``limit``
    keeps the first so many. An empty range is refused, so a typo never looks like "no rows".
    ``sort``: ``oldest``, ``newest``, a column or ``-column`` (``listing.LISTINGS`` says which
    each list offers); ``cursor``: continue after the page that issued it.

    This is the one declaration of the filters: each selecting field says what it selects and
    which lists take it (:func:`criterion`); the others page and order the rows of every list.
    ``listing.FILTERS``, the list methods' keywords (``application.filter_keywords``), the CLI's
    options and the HTTP query parameters are derived from it, so a filter added here is taken
    by each shell at once.
    """

    account: str | None = field(
        default=None,
        metadata=criterion("only this account", "orders", "trades", "events", "positions", "parents"),
    )
    venue: str | None = field(
        default=None,
        metadata=criterion(
            "only this venue", "orders", "trades", "events", "positions", "instruments", "parents"
        ),
    )
    instrument: str | None = field(
        default=None,
        metadata=criterion(
            "only this instrument", "orders", "trades", "events", "positions", "instruments", "parents"
        ),
    )
    client_order_id: str | None = field(
        default=None,
        metadata=criterion(
            "only those of this order (client order ID, venue order ID or NAME=VALUE alias)",
            "trades",
            "events",
            param="order",
        ),
    )
    parent: str | None = field(
        default=None,
        metadata=criterion(
            "only the children of this parent (their parent_id), or their trades", "orders", "trades"
        ),
    )
    group: str | None = field(
        default=None,
        metadata=criterion(
            "only the orders of this order list (OCO, OTO, bracket: their group_id)", "orders"
        ),
    )
    since: datetime | None = field(
        default=None,
        metadata=criterion("at or after this time", "orders", "trades", "events", "messages", "parked"),
    )
    until: datetime | None = field(
        default=None,
        metadata=criterion("at or before this time", "orders", "trades", "events", "messages", "parked"),
    )
    newest: bool = False
    limit: Annotated[int, Ge(1)] | None = None
    sort: str | None = None
    cursor: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:  # timezone-aware, in UTC (a naive time is refused)
                object.__setattr__(self, name, parse_timestamp(value, name))
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidInputError(
                f"since {format_timestamp(self.since)} is after until {format_timestamp(self.until)}:"
                " nothing could match"
            )
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError(f"limit must be at least 1, not {self.limit}", field="limit")

    @property
    def since_text(self) -> str | None:
        """``since`` as stored text (UTC, fixed width: text order is time order)."""
        return None if self.since is None else format_timestamp(self.since)

    @property
    def until_text(self) -> str | None:
        """``until`` as stored text."""
        return None if self.until is None else format_timestamp(self.until)
