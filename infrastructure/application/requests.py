"""The ledger's reads and commands as typed requests: one frozen dataclass per question or
command, answered by ``OrderLedger.handle``, each declaring the role asking it needs (``role``).

    from orderledger import Filter, OrderLedger
    from orderledger.requests import Orders

    page = ledger.handle(Orders(Filter(account="alpha"), open=True))   # a Page[OrderRow]

A request is a value: made once, it can be kept, compared, hashed (the HTTP API keeps a P&L
fold's answer per request), sent to another process (the HTTP API's reader processes answer
them) and handed to ``handle`` by any shell. Each names the type of its answer
(``Request[Page[OrderRow]]``), so ``handle`` is typed end to end. The handler of each request
type is named once (``application.bootstrap``); ``OrderLedger``'s read methods, the CLI and
the HTTP API are thin over that one dispatch. Every list request takes one :class:`Filter`
(``where``), which the CLI's options and the HTTP query parameters are parsed into, from the
one declaration of the filters (``listing.FILTERS``).

A request's fields are checked when ``handle`` is handed it, as the Python API's arguments are
(``argument_checks.py``): ``ledger.handle(Orders(where="alpha"))`` raises :class:`InvalidInputError`
naming ``Orders()`` and ``where``, before any database work.

Every command and query of the Python API is a request: the reads here (the questions, role
``read``), and the commands of ``application.command_requests`` (the writes, the upkeep and the
collectors' leases: ``IngestStream``, ``Record``, ``DefineInstrument``, ``Rebuild``,
``SetCostBasis``, ``Export`` …, each with its role), re-exported here but imported when one is
first asked for, as ``REQUESTS``, which names them all: a process that only reads never builds
their classes. ``OrderLedger``'s methods build their request and hand it to the one dispatch, and
so do the CLI and the HTTP API. A command that carries what is not a value (``IngestStream``:
an iterable read as it is answered and an ``on_batch`` callback) is declared with
``request_base.stream``: it equals and hashes as itself only, so it is never taken for another or
kept as a key; a callback that only reports progress (``Verify``'s and ``Rebuild``'s
``progress``) is left out of its request's value instead.

Three public methods are not one request, by design, and are built over requests for their
parts:

- ``placing`` is a context manager around the caller's own send to the venue: between the
  request it records before the body runs and the answer it records after, the caller's code
  runs, which no single request can hold. Both records are ``Record`` requests (the first with
  ``check``: the pre-trade check at the request's time), so each write goes through the dispatch.
- ``follow`` is a live iterator that waits on this process's commits (``Wakeup``) between reads
  and may never end; a request is answered once. Each read between its waits is a
  ``CommittedAfter`` request.
- ``close``, ``check_ahead`` and ``check_storage`` (and ``with``) are the ledger object's life,
  not questions put to the ledger; ``view_names`` names the views the ledger was built with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderledger.domain.events import OrderEvent
from orderledger.domain.order import Order
from orderledger.domain.values import ClientOrderId
from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application.argument_checks import Count, Counting, Slices, Version
from orderledger.infrastructure.application.typed_request import (
    EVERYTHING,
    INCLUDES,
    ROLES,
    Request,
    ViewsUnlessAsOf,
    request,
)
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.head import Head
from orderledger.infrastructure.results.log import EventRecord, HistoryEntry, InstrumentRow, MessageRecord
from orderledger.infrastructure.results.orders import OrderRow, ParentRow
from orderledger.infrastructure.results.pnl import DailyPnlRow, PnlPoint, PnlRow
from orderledger.infrastructure.results.positions import ExposureRow, LotRow, PositionRow
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.results.views_lag import ViewsLag

if TYPE_CHECKING:  # the commands, and the answers named in a string: imported when first asked for
    from orderledger.infrastructure.application.analytics.execution import ExecutionRow  # noqa: F401
    from orderledger.infrastructure.application.command_requests import (
        COMMANDS,
        CatchUp,
        Check,
        ClearLimit,
        CollectorHeartbeat,
        CollectorLease,
        CollectorRelease,
        DefineInstrument,
        Export,
        ExportLake,
        Ingest,
        IngestInbound,
        IngestStream,
        InitDatabase,
        LoadCcxtMarkets,
        PlaceOrder,
        Rebuild,
        Record,
        Respond,
        RotateCursorSecret,
        SetCostBasis,
        SetLimit,
        Settle,
        SetTradingState,
    )
    from orderledger.infrastructure.application.reads.follow import CommittedEvent  # noqa: F401
    from orderledger.infrastructure.application.risk.pretrade import DenialRow, LimitRow, TradingStateRow  # noqa: F401
    from orderledger.infrastructure.application.risk.standing import LimitStatus  # noqa: F401
    from orderledger.infrastructure.application.upkeep.collector_leases import CollectorRow  # noqa: F401
    from orderledger.infrastructure.application.upkeep.reconcile import ReconcileReport, Snapshot  # noqa: F401
    from orderledger.infrastructure.audit.verify import VerifyReport  # noqa: F401
    from orderledger.infrastructure.results.replay import RiskReplay  # noqa: F401


# ---------------------------------------------------------------------- one order


@request
class OrderAt(Request[Order]):
    """One order (client order ID, venue order ID or ``name=value`` alias): now, at an event
    ``version``, or as the ledger knew it ``as_of`` a time (venue time with ``event_time``)."""

    order: str
    version: Version | None = None
    as_of: datetime | None = None
    event_time: bool = False

    @property
    def whole_log(self) -> bool:
        return self.as_of is not None


@request
class History(Request[list[HistoryEntry]]):
    """Every event of one order beside the message that produced it."""

    order: str


@request
class Resolve(Request[ClientOrderId]):
    """The client order ID an order's key names: itself, a venue order ID (of ``venue``) or a
    ``name=value`` alias (``OrderLedger.resolve``)."""

    order: str
    venue: str | None = None


@request
class OrderEvents(Request[list[OrderEvent]]):
    """Every event of one order, in version order (``OrderLedger.audit.order_events``)."""

    client_order_id: str


# ---------------------------------------------------------------------- lists (one Filter each)


@request
class Orders(ViewsUnlessAsOf[Page[OrderRow]]):
    """Orders as they stand (the orders view), or ``as_of`` a time (folded from the log); only
    ``open`` ones with it. ``count``: the page's ``total`` says how many match."""

    where: Filter = EVERYTHING
    open: bool = False
    as_of: datetime | None = None
    event_time: bool = False
    count: Counting = False


@request
class Trades(Request[Page[TradeRow]], from_views=True):
    """The trade blotter, one row per fill as it stands (``where.client_order_id`` may be a
    venue order ID or an alias)."""

    where: Filter = EVERYTHING
    count: Counting = False


@request
class Events(Request[Page[EventRecord]]):
    """The global log's events of the ``types`` given (all: none given); ``event_time``: the
    filter's times are venue times."""

    where: Filter = EVERYTHING
    types: tuple[str, ...] = ()
    event_time: bool = False
    count: Counting = False


@request
class Messages(Request[Page[MessageRecord]]):
    """The message journal: of an ``outcome``, or the ``parked`` ones (``older_than``: parked
    for longer than that)."""

    where: Filter = EVERYTHING
    outcome: str | None = None
    parked: bool = False
    older_than: timedelta | None = None
    count: Counting = False


@request
class Positions(Request[Page[PositionRow]]):
    """Positions with realized P&L, unrealized at the ``marks`` given (instrument, price); now
    or ``as_of`` a time; under the ledger's rule or ``cost_basis``."""

    where: Filter = EVERYTHING
    marks: tuple[tuple[str, Decimal], ...] = ()
    as_of: datetime | None = None
    event_time: bool = False
    cost_basis: str | None = None
    count: Counting = False
    in_currency: str | None = None
    """The P&L figures in this one currency, at the rates recorded as marks (``desk_currency``)."""


@request
class Instruments(Request[Page[InstrumentRow]]):
    """Instrument definitions in force (``all_versions``: all of them)."""

    where: Filter = EVERYTHING
    all_versions: bool = False
    count: Counting = False


@request
class Parents(Request[Page[ParentRow]], from_views=True):
    """The parents the orders name, each with its child orders' figures."""

    where: Filter = EVERYTHING
    count: Counting = False


# ---------------------------------------------------------------------- every row, read as iterated


@request
class IterOrders(ViewsUnlessAsOf[Iterator[OrderRow]]):
    """Every order matching ``where`` (its ``limit`` aside), read a page at a time as the answer
    is iterated (``OrderLedger.iter_orders``)."""

    where: Filter = EVERYTHING
    open: bool = False
    as_of: datetime | None = None
    event_time: bool = False


@request
class IterTrades(Request[Iterator[TradeRow]], from_views=True):
    """Every trade matching ``where``, read a page at a time (``OrderLedger.iter_trades``)."""

    where: Filter = EVERYTHING


@request
class IterEvents(Request[Iterator[EventRecord]]):
    """Every event of the log matching ``where`` and ``types``, read in chunks
    (``OrderLedger.audit.iter_events``)."""

    where: Filter = EVERYTHING
    types: tuple[str, ...] = ()
    event_time: bool = False


@request
class IterMessages(Request[Iterator[MessageRecord]]):
    """Every journal line matching, read in chunks (``OrderLedger.audit.iter_messages``)."""

    where: Filter = EVERYTHING
    outcome: str | None = None
    parked: bool = False
    older_than: timedelta | None = None


# ---------------------------------------------------------------------- figures


@request
class Lots(Request[list[LotRow]], whole_log=True):
    """Open tax lots under a lot rule (``closed``: the closed ones): kept between reads and
    brought up to the log's head (``application.reads.lots_at_head``); ``as_of`` a time, the open lots from
    their marks and the closed ones folded from the log."""

    cost_basis: str = "fifo"
    closed: bool = False
    as_of: datetime | None = None
    event_time: bool = False


@request
class Pnl(Request[list[PnlRow]]):
    """Realized P&L and fees grouped ``by`` day, account, venue, instrument, parent or ``tag:NAME``."""

    by: str = "day"
    cost_basis: str | None = None
    in_currency: str | None = None
    """One row per group in this one currency, at the rates recorded as marks (``desk_currency``)."""


@request
class PnlDaily(Request[list[DailyPnlRow]]):
    """P&L per UTC day by account, parent or ``tag:NAME``."""

    by: str = "account"
    cost_basis: str | None = None


@request
class PnlSeries(Request[list[PnlPoint]]):
    """Realized P&L entry by entry in log order (``points``: summed over that many slices)."""

    points: Slices | None = None


@request
class ExecutionQuality(Request["list[ExecutionRow]"], whole_log=True):
    """Execution quality per group ``by`` over the orders requested in [since, until)."""

    by: str | tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    lake: str | None = None


@request
class Exposure(ViewsUnlessAsOf[list[ExposureRow]]):
    """Exposure per underlying, grouped ``by`` account and venue as named (``underlying``
    always): positions in units of the underlying and valued at the latest marks (or the
    ``marks`` given, instrument → price), beside the open orders' worst case per side; now, or
    as they stood ``as_of`` a time (folded from the log; venue time with ``event_time``)."""

    by: tuple[str, ...] = ("account", "underlying")
    marks: tuple[tuple[str, Decimal], ...] = ()
    as_of: datetime | None = None
    event_time: bool = False
    in_currency: str | None = None
    """Also each row's net and gross value in this one currency, at the rates recorded."""


# ---------------------------------------------------------------------- the log and its checks


@request
class Verify(Request["VerifyReport"], whole_log=True):
    """The storage, the chains, the views and the journal checked against the log (``deep``:
    every event decoded); ``heads``, ``journal_heads``: position → hash recorded earlier;
    ``incremental``: only what is new since the last anchor; ``anchor``: store the heads found
    when everything holds; ``progress_file``: a file rewritten after each chunk of the log with
    the events checked and how many there are (``audit.verify.write_progress``)."""

    expect_head: Head | tuple[int, str] | None = None
    heads: tuple[tuple[int, str], ...] = ()
    journal_heads: tuple[tuple[int, str], ...] = ()
    deep: bool = False
    incremental: bool = False
    anchor: bool = False
    progress_file: str | None = None
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)
    """Told, after each chunk, the events checked and how many there are (``OrderLedger.audit.verify``'s
    ``progress``): not part of the request's value (not compared, not hashed; the HTTP API never
    sets it, so what it sends to a reader process stays a value)."""


@request
class LogPosition(Request[int]):
    """The position of the last committed event (0 for an empty log)."""


@request
class Lag(Request[ViewsLag]):
    """How far the views are behind the log."""


@request
class EventsAfter(Request[list[EventRecord]]):
    """Up to ``limit`` committed events after log ``position``, in log order."""

    position: Count
    limit: Count


@request
class CommittedAfter(Request["list[CommittedEvent]"]):
    """Up to ``limit`` committed events after log ``position`` as the domain's events (what
    ``OrderLedger.follow`` reads between its waits)."""

    position: Count
    limit: Count


@request
class ChainHead(Request[Head | None]):
    """The chains' heads, to record outside the database (``OrderLedger.audit.head``; None while both
    are empty)."""


@request
class Reconcile(Request["ReconcileReport"]):
    """Compare a venue snapshot with the ledger (``OrderLedger.venues.reconcile``): its JSON text
    (docs/reconciliation.md), or a :class:`Snapshot` made in Python; ``apply``: record the
    corrections, which needs ``admin`` (a dry run only reads)."""

    snapshot: bytes | str | Snapshot
    apply: bool = False
    grace: timedelta = timedelta(seconds=60)
    origin: str = "reconcile"
    known_at: Count | None = None

    @property
    def role(self) -> str:
        return "admin" if self.apply else "read"


# ---------------------------------------------------------------------- the views and the ledger's settings


@request
class ViewsPosition(Request[int]):
    """The log position every view has reached (``OrderLedger.upkeep.views_position``)."""


@request
class CostBasis(Request[str]):
    """The rule positions and P&L use when a query names none (``OrderLedger.analytics.cost_basis``)."""


# ---------------------------------------------------------------------- limits and trading states


@request
class Limits(Request["list[LimitRow]"]):
    """The limits in force now, or as they stood at venue time ``as_of`` (docs/risk.md)."""

    as_of: datetime | None = None


@request
class TradingStates(Request["list[TradingStateRow]"]):
    """Each account's trading state as last set, or as it stood at venue time ``as_of``, with
    the state in force on it (the stricter of its own and every account's)."""

    as_of: datetime | None = None


@request
class Denials(Request["list[DenialRow]"]):
    """The breach facts the risk door recorded (denied, overridden, flagged), the latest ``last``
    in log order, of an account, citing a limit of one kind, from a time of the ledger's clock."""

    account: str | None = None
    limit: str | None = None
    since: datetime | None = None
    last: int = 500


@request
class Risk(Request["list[LimitStatus]"]):
    """How close each limit in force stands to its value now: ``ok``, ``near`` (at or past
    ``threshold`` × its value), ``breached``, ``unknown`` or ``per_order`` (docs/risk.md)."""

    threshold: Decimal = Decimal("0.8")


@request
class ReplayLimits(Request["RiskReplay"], whole_log=True):
    """Which recorded orders ``limits`` (JSON lines or a JSON array of ``limit_set`` objects)
    would have denied or flagged, and the P&L and exposure path without the denied ones,
    folded from the log from ``since`` (recorded time; docs/risk.md). Writes nothing."""

    limits: str
    since: datetime | None = None


# ---------------------------------------------------------------------- collectors (``orderledger collect``)


@request
class Collectors(Request["list[CollectorRow]"]):
    """The collectors running on this ledger with their figures (``OrderLedger.upkeep.collectors``)."""


@request
class LastVenueTime(Request[datetime | None]):
    """The latest venue time booked for ``venue``/``account`` (``OrderLedger.venues.last_venue_time``)."""

    venue: str
    account: str | None


READS: tuple[type[Request[Any]], ...] = (
    OrderAt,
    History,
    Resolve,
    OrderEvents,
    Orders,
    Trades,
    Events,
    Messages,
    Positions,
    Instruments,
    Parents,
    IterOrders,
    IterTrades,
    IterEvents,
    IterMessages,
    Lots,
    Pnl,
    PnlDaily,
    PnlSeries,
    ExecutionQuality,
    Exposure,
    Verify,
    LogPosition,
    Lag,
    EventsAfter,
    CommittedAfter,
    ChainHead,
    Reconcile,
    ViewsPosition,
    CostBasis,
    Limits,
    TradingStates,
    Denials,
    Risk,
    ReplayLimits,
    Collectors,
    LastVenueTime,
)
"""The request types declared here: the questions put to the ledger."""

__all__ = [
    "INCLUDES",
    "READS",
    "REQUESTS",
    "ROLES",
    "CatchUp",
    "ChainHead",
    "Check",
    "ClearLimit",
    "CollectorHeartbeat",
    "CollectorLease",
    "CollectorRelease",
    "Collectors",
    "CommittedAfter",
    "CostBasis",
    "DefineInstrument",
    "Denials",
    "Events",
    "EventsAfter",
    "ExecutionQuality",
    "Export",
    "ExportLake",
    "Exposure",
    "History",
    "Ingest",
    "IngestInbound",
    "IngestStream",
    "InitDatabase",
    "Instruments",
    "IterEvents",
    "IterMessages",
    "IterOrders",
    "IterTrades",
    "Lag",
    "LastVenueTime",
    "Limits",
    "LoadCcxtMarkets",
    "LogPosition",
    "Lots",
    "Messages",
    "OrderAt",
    "OrderEvents",
    "Orders",
    "Parents",
    "PlaceOrder",
    "Pnl",
    "PnlDaily",
    "PnlSeries",
    "Positions",
    "Rebuild",
    "Reconcile",
    "Record",
    "ReplayLimits",
    "Request",
    "Resolve",
    "Respond",
    "Risk",
    "RotateCursorSecret",
    "SetCostBasis",
    "SetLimit",
    "SetTradingState",
    "Settle",
    "Trades",
    "TradingStates",
    "Verify",
    "ViewsPosition",
]

if TYPE_CHECKING:
    REQUESTS: tuple[type[Request[Any]], ...] = (*READS, *COMMANDS)
    """Every request type ``OrderLedger.handle`` answers: the reads, then the commands."""
else:
    # The names of ``__all__`` not declared here are the commands, re-exported from their module
    # when first asked for (a process that only reads never imports it); ``Snapshot`` is a
    # field's type the argument checks read (``argument_checks.type_hints``).
    _later = lazy_imports.names(
        __name__,
        {
            "orderledger.infrastructure.application.command_requests": (
                *(name for name in __all__ if name not in globals() and name != "REQUESTS"),
                "COMMANDS",
            ),
            "orderledger.infrastructure.application.upkeep.reconcile": ("Snapshot",),
        },
    )

    def __getattr__(name: str) -> Any:
        """A command or ``Snapshot``, imported when first asked for; and ``REQUESTS``: every
        request type ``OrderLedger.handle`` answers, the reads, then the commands."""
        if name != "REQUESTS":
            return _later(name)
        every = globals()["REQUESTS"] = (*READS, *_later("COMMANDS"))
        return every
