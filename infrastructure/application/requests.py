"""The ledger's reads and commands as typed requests: one frozen dataclass per question or
command, answered by ``OrderLedger.handle``, each declaring the role asking it needs (``role``).

    from orderledger import Filter, OrderLedger
    from orderledger.requests import Orders

    page = ledger.handle(Orders(Filter(account="alpha"), open=True))   # a Page[OrderRow]

A request is a value: made once, it can be kept, compared, hashed (the HTTP API keeps a P&L
fold's answer per request), sent to another process (the HTTP API's reader processes answer
them) and handed to ``handle`` by any shell. Each names the type of its answer
(``Request[Page[OrderRow]]``), so ``handle`` is typed end to end. The handler of each request
type is declared once (``application.handlers``); ``OrderLedger``'s read methods, the CLI and
the HTTP API are thin over that one dispatch. Every list request takes one :class:`Filter`
(``where``), which the CLI's options and the HTTP query parameters are parsed into, from the
one declaration of the filters (``listing.FILTERS``).

A request's fields are checked when ``handle`` is handed it, as the Python API's arguments are
(``arguments.py``): ``ledger.handle(Orders(where="alpha"))`` raises :class:`InvalidInputError`
naming ``Orders()`` and ``where``, before any database work.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast, dataclass_transform

from orderledger.domain.order import Order
from orderledger.infrastructure.application import lazy
from orderledger.infrastructure.application.arguments import Count, Counting, Slices, Version, checked
from orderledger.infrastructure.audit.verify import VerifyReport
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results import (
    DailyPnlRow,
    EventRecord,
    ExposureRow,
    Filter,
    Head,
    HistoryEntry,
    InstrumentRow,
    LotRow,
    MessageRecord,
    OrderRow,
    ParentRow,
    PnlPoint,
    PnlRow,
    PositionRow,
    TradeRow,
    ViewsLag,
)

if TYPE_CHECKING:  # named in a string: the analytics and the writes are imported when first asked
    from orderledger.infrastructure.application.execution import ExecutionRow  # noqa: F401
    from orderledger.infrastructure.application.reconcile import ReconcileReport, Snapshot  # noqa: F401
    from orderledger.infrastructure.application.recording import Ingested  # noqa: F401
    from orderledger.infrastructure.application.risk import CheckResult, LimitRow, TradingStateRow  # noqa: F401
    from orderledger.infrastructure.application.watch import LimitStatus  # noqa: F401
    from orderledger.infrastructure.ingest.processing import Result  # noqa: F401
else:  # a field's type the argument checks read (``arguments.type_hints``), imported when first asked
    __getattr__ = lazy.names(__name__, {"orderledger.infrastructure.application.reconcile": ("Snapshot",)})

T = TypeVar("T", covariant=True)

ROLES = ("read", "write", "admin")
"""The roles a request may need, each including the ones before (admin ⊇ write ⊇ read): the
HTTP API admits a token to a request when the token's role includes the request's ``role``."""
R = TypeVar("R", bound=type)

EVERYTHING = Filter()
"""The filter that selects every row (a list request's default ``where``)."""


class Request(Generic[T]):
    """A question put to the ledger, whose answer is a ``T`` (``OrderLedger.handle``).

    Besides its fields, a request says what answering it costs, for the shells that bound their
    reads (the HTTP API's limits): ``whole_log``, it reads or folds the whole log (seconds on a
    large ledger, where a view answers in milliseconds); ``from_views``, its answer comes from
    the views, which may lag the log (``ledger.views_lag()``). Positions and P&L fold the log
    under a lot rule, which may be the ledger's own: whether they do is the ledger's to say
    (``http.service.LedgerService.folds_log``)."""

    __slots__ = ()

    def checked(self) -> Self:
        """This request, its fields checked as the Python API's arguments are: a wrong-typed
        one raises :class:`InvalidInputError` naming the request and the field
        (``OrderLedger.handle`` checks what it is handed; the keyword methods check their own
        arguments before they build their request, so it is not checked twice)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        type(self)._check(object.__new__(type(self)), **values)  # type: ignore[attr-defined]
        return self

    @property
    def role(self) -> str:
        """The role asking it needs (``ROLES``): a read needs ``read``; a command declares its
        own. The HTTP API admits a token by it (``http.access.LedgerContext``), so a request's
        role is declared here and nowhere else."""
        return "read"

    @property
    def whole_log(self) -> bool:
        """Whether the answer reads or folds the whole log rather than a view or an index."""
        return False

    @property
    def from_views(self) -> bool:
        """Whether the answer is read from the views (it shows the log up to where they are)."""
        return False


@dataclass_transform(frozen_default=True)
def request(cls: R) -> R:
    """Declare a request: a frozen dataclass whose fields :meth:`Request.checked` checks
    against their type hints (``arguments.checked``)."""
    made: Any = dataclass(frozen=True)(cls)
    made._check = checked(made.__init__, f"{made.__name__}()")
    return cast(R, made)


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


# ---------------------------------------------------------------------- lists (one Filter each)


@request
class Orders(Request[Page[OrderRow]]):
    """Orders as they stand (the orders view), or ``as_of`` a time (folded from the log); only
    ``open`` ones with it. ``count``: the page's ``total`` says how many match."""

    where: Filter = EVERYTHING
    open: bool = False
    as_of: datetime | None = None
    event_time: bool = False
    count: Counting = False

    @property
    def whole_log(self) -> bool:
        return self.as_of is not None

    @property
    def from_views(self) -> bool:
        return self.as_of is None


@request
class Trades(Request[Page[TradeRow]]):
    """The trade blotter, one row per fill as it stands (``where.client_order_id`` may be a
    venue order ID or an alias)."""

    where: Filter = EVERYTHING
    count: Counting = False

    @property
    def from_views(self) -> bool:
        return True


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


@request
class Instruments(Request[Page[InstrumentRow]]):
    """Instrument definitions in force (``all_versions``: all of them)."""

    where: Filter = EVERYTHING
    all_versions: bool = False
    count: Counting = False


@request
class Parents(Request[Page[ParentRow]]):
    """The parents the orders name, each with its child orders' figures."""

    where: Filter = EVERYTHING
    count: Counting = False

    @property
    def from_views(self) -> bool:
        return True


# ---------------------------------------------------------------------- figures


@request
class Lots(Request[list[LotRow]]):
    """Open tax lots under a lot rule (``closed``: the closed ones), folded from the log."""

    cost_basis: str = "fifo"
    closed: bool = False
    as_of: datetime | None = None
    event_time: bool = False

    @property
    def whole_log(self) -> bool:
        return True


@request
class Pnl(Request[list[PnlRow]]):
    """Realized P&L and fees grouped ``by`` day, account, venue, instrument, parent or ``tag:NAME``."""

    by: str = "day"
    cost_basis: str | None = None


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
class ExecutionQuality(Request["list[ExecutionRow]"]):
    """Execution quality per group ``by`` over the orders requested in [since, until)."""

    by: str | tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    lake: str | None = None

    @property
    def whole_log(self) -> bool:
        return True


@request
class Exposure(Request[list[ExposureRow]]):
    """Exposure per underlying, grouped ``by`` account and venue as named (``underlying``
    always): positions in units of the underlying and valued at the latest marks (or the
    ``marks`` given, instrument → price), beside the open orders' worst case per side; now, or
    as they stood ``as_of`` a time (folded from the log; venue time with ``event_time``)."""

    by: tuple[str, ...] = ("account", "underlying")
    marks: tuple[tuple[str, Decimal], ...] = ()
    as_of: datetime | None = None
    event_time: bool = False

    @property
    def whole_log(self) -> bool:
        return self.as_of is not None

    @property
    def from_views(self) -> bool:
        return self.as_of is None


# ---------------------------------------------------------------------- the log and its checks


@request
class Verify(Request[VerifyReport]):
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

    @property
    def whole_log(self) -> bool:
        return True


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


# ---------------------------------------------------------------------- commands (writes)


@request
class Ingest(Request["Ingested"]):
    """Record ``lines`` read as ``format`` (``OrderLedger.ingest_lines``; ``options``: the
    format's adapter options, name and value), durably: the report and each line's result."""

    lines: tuple[bytes, ...]
    origin: str
    format: str = "ledger"
    venue: str | None = None
    account: str | None = None
    strict: bool = False
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def role(self) -> str:
        return "write"


@request
class Reconcile(Request["ReconcileReport"]):
    """Compare a venue snapshot with the ledger (``OrderLedger.reconcile``): its JSON text
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


@request
class Settle(Request[int]):
    """Settle parked message ``message_id`` by hand (``OrderLedger.settle``): set aside, or
    ``book`` it; the answer is the journal line that records who and why."""

    message_id: int
    reason: str
    by: str
    book: bool = False
    account: str | None = None
    origin: str = "api"

    @property
    def role(self) -> str:
        return "admin"


@request
class Limits(Request["list[LimitRow]"]):
    """The limits in force now, or as they stood at venue time ``as_of`` (docs/risk.md)."""

    as_of: datetime | None = None


@request
class TradingStates(Request["list[TradingStateRow]"]):
    """Each account's trading state as last set, or as it stood at venue time ``as_of``."""

    as_of: datetime | None = None


@request
class SetTradingState(Request["Result"]):
    """Record a ``trading_state`` (``halted``, ``reduce_only``, ``active``) for ``account``
    (None: every account), set by ``set_by`` for ``reason``, from ``ts`` (None: now)."""

    state: str
    set_by: str
    account: str | None = None
    reason: str | None = None
    ts: datetime | None = None

    @property
    def role(self) -> str:
        return "write"


@request
class Check(Request["CheckResult"]):
    """The pre-trade check of an order (a request's fields): allowed, or every breach. Needs
    ``write``: the daily loss rule may halt the account."""

    spec: dict[str, Any]

    @property
    def role(self) -> str:
        return "write"


@request
class Risk(Request["list[LimitStatus]"]):
    """How close each limit in force stands to its value now: ``ok``, ``near`` (at or past
    ``threshold`` × its value), ``breached``, ``unknown`` or ``per_order`` (docs/risk.md)."""

    threshold: Decimal = Decimal("0.8")


REQUESTS: tuple[type[Request[Any]], ...] = (
    OrderAt,
    History,
    Orders,
    Trades,
    Events,
    Messages,
    Positions,
    Instruments,
    Parents,
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
    Ingest,
    Reconcile,
    Settle,
    Limits,
    TradingStates,
    SetTradingState,
    Check,
    Risk,
)
"""Every request type ``OrderLedger.handle`` answers."""

__all__ = [
    "REQUESTS",
    "ROLES",
    "Check",
    "Events",
    "EventsAfter",
    "ExecutionQuality",
    "Exposure",
    "History",
    "Ingest",
    "Instruments",
    "Lag",
    "Limits",
    "LogPosition",
    "Lots",
    "Messages",
    "OrderAt",
    "Orders",
    "Parents",
    "Pnl",
    "PnlDaily",
    "PnlSeries",
    "Positions",
    "Reconcile",
    "Request",
    "Risk",
    "SetTradingState",
    "Settle",
    "Trades",
    "TradingStates",
    "Verify",
]
