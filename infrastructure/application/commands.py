"""The Python API's commands and whole-log reads as typed requests (re-exported by
``application.requests``, which says why ``placing`` and ``follow`` stay methods): recording,
one order's events and the iterators over every row, the views, the ledger's settings, exports
and the collectors' leases. Each is answered by ``OrderLedger.handle`` like every request, and
declares the role asking it needs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from annotated_types import Ge

from orderledger.domain.events import OrderEvent
from orderledger.domain.values import ClientOrderId
from orderledger.infrastructure.application import lazy
from orderledger.infrastructure.application.arguments import Count
from orderledger.infrastructure.application.asking import EVERYTHING, Request, request, stream
from orderledger.infrastructure.results import EventRecord, Filter, Head, MessageRecord, OrderRow, TradeRow

if TYPE_CHECKING:  # named in a string: the writes, the lake and the views are imported when first asked
    from orderledger.infrastructure.application.collectors import CollectorRow  # noqa: F401
    from orderledger.infrastructure.application.follow import CommittedEvent  # noqa: F401
    from orderledger.infrastructure.application.lake import LakeReport  # noqa: F401
    from orderledger.infrastructure.application.recording import IngestReport  # noqa: F401
    from orderledger.infrastructure.ingest.processing import Inbound, Result
    from orderledger.infrastructure.storage.views import CatchUpStats  # noqa: F401
else:  # a field's type the argument checks read (``arguments.type_hints``), imported when first asked
    __getattr__ = lazy.names(
        __name__, {"orderledger.infrastructure.ingest.processing": ("Inbound", "Result")}
    )

# ---------------------------------------------------------------------- recording (writes)


@stream
class IngestStream(Request["IngestReport"], role="write"):
    """Record the ``lines`` of an iterable read as it is answered (``OrderLedger.ingest_lines``):
    a file, a live input (``None``: it paused, commit what is held), a generator; ``on_batch`` is
    told each batch's results once durable. A one-shot command (:func:`stream`): the HTTP API's
    form, whose lines are a value, is :class:`Ingest`."""

    lines: Iterable[str | bytes | None]
    origin: str = "-"
    strict: bool = False
    on_batch: Callable[[list[Result]], None] | None = None
    format: str = "ledger"
    venue: str | None = None
    account: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


@stream
class IngestInbound(Request["IngestReport"], role="write"):
    """Record prepared inputs in group commits (``OrderLedger.ingest_inbound``); ``on_batch`` is
    told each batch's results once durable. A one-shot command (:func:`stream`)."""

    items: Iterable[Inbound | None]
    strict: bool = False
    on_batch: Callable[[list[Result]], None] | None = None


@request
class Record(Request["Result"], role="write"):
    """Record one ledger-format message (``OrderLedger.record``); ``strict``: a refusal raises.
    ``check``: the pre-trade check first, at ``now`` (None: the ledger's clock), a denied
    request journaled as ``denied`` (``OrderLedger.placing`` records its request so)."""

    message: dict[str, Any]
    origin: str = "api"
    strict: bool = False
    check: bool = False
    now: datetime | None = None


@request
class DefineInstrument(Request["Result"], role="write"):
    """Record an instrument's definition (``OrderLedger.define_instrument``): the ``instrument``
    message's fields (``definition``: name and value), from ``ts`` (None: now)."""

    venue: str
    instrument: str
    definition: tuple[tuple[str, Any], ...] = ()
    ts: datetime | str | None = None
    source: str = "api"


@request
class LoadCcxtMarkets(Request["IngestReport"], role="write"):
    """Record the definitions of a CCXT markets dump (``OrderLedger.load_ccxt_markets``)."""

    markets: Any
    venue: str
    ts: datetime | None = None
    origin: str = "ccxt-markets"
    instrument_of: Callable[[str], str] | None = None


@request
class SetLimit(Request["Result"], role="write"):
    """Record a ``limit_set`` (``OrderLedger.set_limit``): from ``ts`` (None: now) ``kind`` of
    ``scope`` ``target`` is at most ``value``."""

    scope: str
    target: str
    kind: str
    value: Decimal | str | int
    set_by: str
    interval: int | None = None
    reason: str | None = None
    ts: datetime | None = None


@request
class ClearLimit(Request["Result"], role="write"):
    """Record a ``limit_cleared`` (``OrderLedger.clear_limit``): from ``ts`` (None: now)."""

    scope: str
    target: str
    kind: str
    set_by: str
    reason: str | None = None
    ts: datetime | None = None


# ---------------------------------------------------------------------- one order, the log in full


@request
class Resolve(Request[ClientOrderId]):
    """The client order ID an order's key names: itself, a venue order ID (of ``venue``) or a
    ``name=value`` alias (``OrderLedger.resolve``)."""

    order: str
    venue: str | None = None


@request
class OrderEvents(Request[list[OrderEvent]]):
    """Every event of one order, in version order (``OrderLedger.order_events``)."""

    client_order_id: str


@request
class IterOrders(Request[Iterator[OrderRow]]):
    """Every order matching ``where`` (its ``limit`` aside), read a page at a time as the answer
    is iterated (``OrderLedger.iter_orders``)."""

    where: Filter = EVERYTHING
    open: bool = False
    as_of: datetime | None = None
    event_time: bool = False

    @property
    def whole_log(self) -> bool:
        return self.as_of is not None

    @property
    def from_views(self) -> bool:
        return self.as_of is None


@request
class IterTrades(Request[Iterator[TradeRow]], from_views=True):
    """Every trade matching ``where``, read a page at a time (``OrderLedger.iter_trades``)."""

    where: Filter = EVERYTHING


@request
class IterEvents(Request[Iterator[EventRecord]]):
    """Every event of the log matching ``where`` and ``types``, read in chunks
    (``OrderLedger.iter_events``)."""

    where: Filter = EVERYTHING
    types: tuple[str, ...] = ()
    event_time: bool = False


@request
class IterMessages(Request[Iterator[MessageRecord]]):
    """Every journal line matching, read in chunks (``OrderLedger.iter_messages``)."""

    where: Filter = EVERYTHING
    outcome: str | None = None
    parked: bool = False
    older_than: timedelta | None = None


@request
class CommittedAfter(Request["list[CommittedEvent]"]):
    """Up to ``limit`` committed events after log ``position`` as the domain's events (what
    ``OrderLedger.follow`` reads between its waits)."""

    position: Count
    limit: Count


@request
class ChainHead(Request[Head | None]):
    """The chains' heads, to record outside the database (``OrderLedger.head``; None while both
    are empty)."""


# ---------------------------------------------------------------------- the views


@request
class CatchUp(Request["CatchUpStats"], role="write"):
    """Bring every view up to the end of the log (``OrderLedger.catch_up``)."""


@request
class ViewsPosition(Request[int]):
    """The log position every view has reached (``OrderLedger.views_position``)."""


@request
class Rebuild(Request[tuple[int, float]], role="admin", whole_log=True):
    """Refold the views ``names`` (None: all) from the whole log and swap them in
    (``OrderLedger.rebuild``); ``progress`` hears of each chunk (not part of the value)."""

    names: tuple[str, ...] | None = None
    jobs: Annotated[int, Ge(1)] = 1
    progress: Callable[[int], None] | None = field(default=None, compare=False)


# ---------------------------------------------------------------------- the ledger's settings


@request
class CostBasis(Request[str]):
    """The rule positions and P&L use when a query names none (``OrderLedger.cost_basis``)."""


@request
class SetCostBasis(Request[str], role="admin"):
    """Make ``cost_basis`` the ledger's rule (``OrderLedger.set_cost_basis``): the answer is the
    rule it replaces."""

    cost_basis: str


@request
class RotateCursorSecret(Request[None], role="admin"):
    """Replace the secret list cursors are sealed with (``OrderLedger.rotate_cursor_secret``)."""


@request
class InitDatabase(Request[list[str]], role="admin"):
    """Create the schema and, on PostgreSQL, the application role (``OrderLedger.init_database``);
    the password is left out of the request's ``repr``."""

    app_role: str | None = None
    password: str | None = field(default=None, repr=False)
    cost_basis: str | None = None


# ---------------------------------------------------------------------- exports (files on the ledger's host)


@request
class Export(Request[int], role="admin", whole_log=True):
    """Write a whole table to a file or a binary stream (``OrderLedger.export``); the answer is
    the rows written. Needs ``admin``: it writes a file where the ledger runs."""

    table: str
    out: str | Path | io.BufferedIOBase | io.RawIOBase
    format: str = "jsonl"
    force: bool = False
    raw: bool = False
    cost_basis: str = "fifo"


@request
class ExportLake(Request["LakeReport"], role="admin", whole_log=True):
    """Append to the Parquet lake at ``directory`` what the log holds past its manifest
    (``OrderLedger.export_lake``). Needs ``admin``: it writes files where the ledger runs."""

    directory: str | Path


# ---------------------------------------------------------------------- collectors (``orderledger collect``)


@request
class CollectorLease(Request[None], role="write"):
    """Take the collector lease of ``venue``/``account`` (``OrderLedger.collector_lease``)."""

    venue: str
    account: str | None
    owner: str
    pid: int
    stale_after: timedelta | None = None


@request
class CollectorHeartbeat(Request[None], role="write"):
    """Publish a collector's status figures (``OrderLedger.collector_heartbeat``)."""

    venue: str
    account: str | None
    owner: str
    figures: dict[str, Any]


@request
class CollectorRelease(Request[None], role="write"):
    """Give a collector's lease up (``OrderLedger.collector_release``)."""

    venue: str
    account: str | None
    owner: str


@request
class Collectors(Request["list[CollectorRow]"]):
    """The collectors running on this ledger with their figures (``OrderLedger.collectors``)."""


@request
class LastVenueTime(Request[datetime | None]):
    """The latest venue time booked for ``venue``/``account`` (``OrderLedger.last_venue_time``)."""

    venue: str
    account: str | None


__all__ = [
    "CatchUp",
    "ChainHead",
    "ClearLimit",
    "CollectorHeartbeat",
    "CollectorLease",
    "CollectorRelease",
    "Collectors",
    "CommittedAfter",
    "CostBasis",
    "DefineInstrument",
    "Export",
    "ExportLake",
    "IngestInbound",
    "IngestStream",
    "InitDatabase",
    "IterEvents",
    "IterMessages",
    "IterOrders",
    "IterTrades",
    "LastVenueTime",
    "LoadCcxtMarkets",
    "OrderEvents",
    "Rebuild",
    "Record",
    "Resolve",
    "RotateCursorSecret",
    "SetCostBasis",
    "SetLimit",
    "ViewsPosition",
]
