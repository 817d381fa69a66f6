"""``OrderLedger``: the application, and the one entry point.

    ledger = OrderLedger("sqlite:///orderledger.db")   # or memory://, postgresql://…
    ledger.ingest_lines(open("session.jsonl"))           # JSON lines → events, views updated
    ledger.order("c-1").snapshot()                    # current state
    ledger.history("c-1")                                 # every event, with its message

Configuration is read here: the database URL (argument, else ``$ORDERLEDGER_DATABASE_URL``,
else ``sqlite:///orderledger.db``), and the eventsourcing environment keys (``CIPHER_KEY``,
``COMPRESSOR_TOPIC`` …) through the library's ``env``. The one other reader of the URL is
``storage.early_check``, which starts the check of the same file at a command's launch and
takes the same variable and default from there; its guess only ever starts a check that this
ledger takes when it opens that very file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from annotated_types import Gt

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import MOVES_PNL, OrderEvent
from orderledger.domain.order import Order
from orderledger.domain.values import ClientOrderId
from orderledger.infrastructure.application import lazy_imports, opening
from orderledger.infrastructure.application import requests as asks
from orderledger.infrastructure.application.argument_checks import (
    Count,
    Counting,
    Version,
    checked_methods,
)
from orderledger.infrastructure.application.bootstrap import answer
from orderledger.infrastructure.application.deprecated import DeprecatedReads, renamed_keywords
from orderledger.infrastructure.application.filter_keywords import filtered
from orderledger.infrastructure.application.ledger_groups import (
    Analytics,
    Audit,
    MovedCalls,
    RiskControls,
    Upkeep,
    Venues,
)
from orderledger.infrastructure.application.reads.follow import POLL_SECONDS, CommittedEvent, Wakeup, follow
from orderledger.infrastructure.application.requests import Request
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.log import EventRecord, HistoryEntry
from orderledger.infrastructure.results.orders import OrderRow, ParentRow
from orderledger.infrastructure.results.pnl import PnlRow
from orderledger.infrastructure.results.positions import PositionRow
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.storage.backends import open_database
from orderledger.infrastructure.storage.early_check import DEFAULT_URL, URL_VARIABLE
from orderledger.infrastructure.storage.store import LedgerRecorder
from orderledger.infrastructure.storage.views import Views

# The loss and drawdown limits' responses, loaded with the first commit (a reader never needs it).
_responses = lazy_imports.Module("orderledger.infrastructure.application.risk.loss_responses")

# The writes (ingest, its adapters and message models), placing and the commands: imported when
# first called (``application.lazy_imports``), so a process that only reads never loads them.
if TYPE_CHECKING:
    from orderledger.infrastructure.application import command_requests
    from orderledger.infrastructure.application import placing as _placing
    from orderledger.infrastructure.application.placing import Placement
    from orderledger.infrastructure.application.risk.pretrade import CheckResult
    from orderledger.infrastructure.application.risk.standing import LimitStatus
    from orderledger.infrastructure.application.writes import recording
    from orderledger.infrastructure.application.writes.place_answer import Placed
    from orderledger.infrastructure.application.writes.recording import IngestReport
    from orderledger.infrastructure.ingest.inbound import Inbound, Result
    from orderledger.infrastructure.ingest.processing import Processor
else:
    command_requests = lazy_imports.Module("orderledger.infrastructure.application.command_requests")
    _placing = lazy_imports.Module("orderledger.infrastructure.application.placing")
    recording = lazy_imports.Module("orderledger.infrastructure.application.writes.recording")
    # the names of signatures, for the argument checks' hints
    __getattr__ = lazy_imports.names(
        __name__,
        {
            "orderledger.infrastructure.application.placing": ("Placement",),
            "orderledger.infrastructure.application.risk.pretrade": ("CheckResult",),
            "orderledger.infrastructure.application.risk.standing": ("LimitStatus",),
            "orderledger.infrastructure.application.writes.place_answer": ("Placed",),
            "orderledger.infrastructure.application.writes.recording": ("IngestReport",),
            "orderledger.infrastructure.ingest.inbound": ("Inbound", "Result"),
        },
    )

T = TypeVar("T")

DEFAULT_BATCH = 1_000


@checked_methods
class OrderLedger(DeprecatedReads, MovedCalls):
    """The ledger: record facts about orders, query their state, keep views current.

    A bot's everyday calls are its own methods; the rest are grouped by concern, one attribute
    each (``application.ledger_groups``): ``risk_controls``, ``audit``, ``analytics``, ``upkeep``
    and ``venues``.

    Thread safety: one instance may be shared by any number of threads (for example an asyncio
    bot calling ``asyncio.to_thread(ledger.record, …)``). Writes (``record``, ``ingest_*``,
    ``upkeep.catch_up``) are serialised inside the instance, one group commit at a time, so its caches
    of orders and venue identities are never read half-updated; a long ``ingest_lines`` lets
    other threads in between its batches. Queries may run at any time. Several processes may
    also write to one database: they are serialised by the database's lock.
    """

    name = "OrderLedger"
    """Prefixes the environment's settings it reads (``ORDERLEDGER_CIPHER_KEY`` before ``CIPHER_KEY``)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        batch_size: int = DEFAULT_BATCH,
        project: bool = True,
        create: bool = True,
    ) -> None:
        self.url = url or os.environ.get(URL_VARIABLE) or DEFAULT_URL
        # create=False: only an existing ledger is opened (read-only commands create nothing).
        self.db = open_database(self.url, create=create)
        self.batch_size = batch_size
        # False: leave the views to a separate `project --follow` worker (no read-your-writes).
        self.project = project
        try:
            # The pieces of eventsourcing the ledger uses, composed: its environment (settings
            # from os.environ and ``env``), its factory for the cipher and compressor the
            # environment names, and a mapper and recorder of the ledger's own.
            self.env = opening.ledger_environment(self.name, env)
            self.mapper = opening.ledger_mapper(self.env)
            self.recorder = LedgerRecorder(self.db)
            self.recorder.create_tables()
            self._check_cipher()
            self.views = Views(self.db, self.mapper)
            outdated = self.views.create_tables()
            if outdated:
                # Tables written by an older version: views are derived data, so refold them
                # from the log (once; the rebuilt tables carry this version's columns).
                self.views.rebuild(outdated)
        except BaseException:
            self.db.close()
            raise
        # partial, not a lambda: the clock is read for every message, without a Python frame.
        self._clock: Callable[[], datetime] = clock or partial(datetime.now, UTC)
        # Guards the processor's and the views' in-memory state: one writer thread at a time.
        self._writing = threading.RLock()
        # Wakes this process's followers (``follow``) after each commit, without a poll's delay.
        self.committed = Wakeup()

    # ------------------------------------------------------------------ eventsourcing wiring

    if TYPE_CHECKING:
        processor: Processor

    def __getattr__(self, name: str) -> Any:
        """``processor`` (``ingest.processing``: messages to events, with its caches of orders and
        identities), made on first use: a process that only reads the views never loads ingest."""
        if name != "processor":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return recording.processor_of(self)

    def _check_cipher(self) -> None:
        """Refuse to mix: an encrypted log needs its key; a plaintext log takes no key.

        Judged on the first chained event (a row outside the chain, which ``verify`` reports,
        cannot stop the ledger from opening), by decoding it: an encrypted payload may begin with
        any byte, ``{`` included.
        """
        opening.check_cipher(self)

    def check_ahead(self) -> None:
        """Start now, in the background, the check this process makes of the database before its
        first write (SQLite: ``PRAGMA quick_check`` of the whole file, ~1.4 s for a 1.1M-event
        file), so that the first ``record`` after a restart does not wait for all of it. That
        write still waits for the verdict, and raises it if the file is damaged: nothing is
        written before a passing check. ``AsyncOrderLedger`` and ``orderledger serve`` start it
        when they open. PostgreSQL: nothing to check."""
        self.db.check_ahead()

    def close(self) -> None:
        """Release the database connection(s); ``with OrderLedger(url) as ledger:`` calls this."""
        self.db.close()

    def __enter__(self) -> OrderLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the calls grouped by concern

    @property
    def risk_controls(self) -> RiskControls:
        """Exposure, limits, trading states, denials, limits replayed (docs/risk.md)."""
        return RiskControls(self)

    @property
    def audit(self) -> Audit:
        """Verify, the chains' head, an order's events, the log and the message journal."""
        return Audit(self)

    @property
    def analytics(self) -> Analytics:
        """Lots, the cost-basis rule, daily and running P&L, exports, the lake, execution quality."""
        return Analytics(self)

    @property
    def upkeep(self) -> Upkeep:
        """The schema, the storage check, the views (catch up, lag, rebuild), collectors' leases."""
        return Upkeep(self)

    @property
    def venues(self) -> Venues:
        """Instruments, CCXT markets, reconciliation, the last venue time, settling a message."""
        return Venues(self)

    # ------------------------------------------------------------------ recording facts

    @renamed_keywords(fmt="format")
    def ingest_lines(
        self,
        lines: Iterable[str | bytes | None],
        *,
        origin: str = "-",
        strict: bool = False,
        on_batch: Callable[[list[Result]], None] | None = None,
        format: str = "ledger",
        venue: str | None = None,
        account: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> IngestReport:
        """Ingest lines; every line gets an outcome.

        ``format`` names an input format of the venue registry (``adapters.venue_registry.formats``):
        ``ledger`` (the JSON-lines message format), ``ccxt`` (a CCXT unified order, trade, or list
        of them per line), ``fix`` (FIX messages as an engine logs them, one or several per line, SOH- or
        ``|``-separated), or a venue's native feed; the registry says which need ``venue`` and
        ``account``. ``options`` are the format's adapter options by name (FIX's scales,
        ``adapters.fix.venue.FixOptions``). A ``None`` among the lines
        (``infrastructure.inputs.PAUSE``: a live input is waiting) commits what is held.
        With ``strict`` the lines are one batch, stored only if none is rejected; when one is,
        the report's ``stored`` is False and its counts say what was kept: the rejected lines as
        ``rejected``, every other as ``not stored``, and no events.
        """
        given = tuple((options or {}).items())
        asked = asks.IngestStream(lines, origin, strict, on_batch, format, venue, account, given)
        return answer(self, asked)

    def ingest_inbound(
        self,
        items: Iterable[Inbound | None],
        *,
        strict: bool = False,
        on_batch: Callable[[list[Result]], None] | None = None,
    ) -> IngestReport:
        """Ingest prepared inputs in group commits; views are current when this returns.

        A batch is committed at ``batch_size`` inputs, at ``MAX_BATCH_BYTES``, at a ``None``
        (the input paused) and at the end; ``on_batch`` hears of each once it is durable.
        """
        return answer(self, asks.IngestInbound(items, strict, on_batch))

    def record(self, message: dict[str, Any], *, origin: str = "api", strict: bool = False) -> Result:
        """Record one fact given as a ledger-format message dict (the imperative API).

        The message is journaled whatever becomes of it. A refused message comes back as a
        ``rejected`` result whose ``error`` is the typed error (a :class:`MessageError` for a
        message that cannot be read, else the domain's, e.g. :class:`OverfillError`); with
        ``strict=True`` that error is raised instead.
        """
        return answer(self, asks.Record(message, origin, strict))

    # ------------------------------------------------------------------ instruments

    def _fold_inline(
        self, tx: Any, committed: list[tuple[int, OrderEvent]], decided: dict[str, Order]
    ) -> None:
        if self.project:
            self.views.fold_inline(tx, committed, decided)

    def _after_commit(
        self, committed: list[tuple[int, OrderEvent]], decided: dict[str, Order] | None = None
    ) -> None:
        """Read-your-writes: views include this commit (folded inline, or caught up now; ``decided``:
        the writer's orders as they stand after it, as ``_fold_inline`` takes them)."""
        if self.project and not (committed and self.views.inline_position == committed[-1][0]):
            self.views.catch_up(committed, decided=decided)
        if committed:
            self.committed.notify()
            # The figures are read from the views, which this writer keeps current.
            if self.project and not MOVES_PNL.isdisjoint(map(type, map(itemgetter(1), committed))):
                _responses.after_commit(self, committed)

    # ------------------------------------------------------------------ following, placing

    def follow(
        self,
        since: Count = 0,
        *,
        poll_seconds: Annotated[float, Gt(0)] = POLL_SECONDS,
        stop: threading.Event | None = None,
    ) -> Iterator[CommittedEvent]:
        """Every committed event after position ``since``, then each new one live, also those
        written by other processes (``infrastructure/application/reads/follow.py``)."""
        read = partial(_committed_after, self)  # each read between the waits is a request
        return follow(self, since, poll_seconds=poll_seconds, stop=stop, read=read)

    def placing(
        self,
        spec: dict[str, Any],
        *,
        rejections: tuple[type[BaseException], ...] = (),
        check: bool = True,
        override: dict[str, str] | None = None,
    ) -> contextlib.AbstractContextManager[Placement]:
        """Intent before send: the request through the risk door (``override``: who lets this one
        order through its breaches, and why) and recorded, the client order ID yielded to send it
        with, the venue's answer recorded (``application/placing.py``)."""
        return _placing.placing(self, spec, rejections=rejections, check=check, override=override)

    def check(self, spec: dict[str, Any]) -> CheckResult:
        """Whether an order (the fields of a request) may be sent now: allowed, or denied with
        every limit its worst case would breach and what its account's trading state forbids.
        Records nothing, except the halt the daily loss rule sets when that limit is passed."""
        return answer(self, command_requests.Check(spec))

    def place(self, spec: dict[str, Any]) -> Placed:
        """Place an order of ours through the risk door (the fields of a request; its client
        order ID and time made when absent, ``override`` to let it through its breaches): judged
        and recorded in one transaction, the order as recorded or the denial with its breaches
        (``POST /orders``). ``placing`` is this with the venue's answer recorded after it."""
        return answer(self, command_requests.PlaceOrder(spec))

    def risk(self, *, threshold: Decimal | str | float = Decimal("0.8")) -> list[LimitStatus]:
        """Each limit in force now and how close its figure stands to it (``application.risk.standing``):
        ``ok``, ``near`` (at or past ``threshold`` × its value), ``breached``, ``unknown`` (with
        why) or ``per_order`` (``max_order_notional``: no standing figure)."""
        try:
            share = Decimal(str(threshold))
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            raise InvalidInputError(f"threshold {threshold!r} is not a number", field="threshold") from None
        return answer(self, asks.Risk(share))

    # ------------------------------------------------------------------ the one dispatch

    def handle(self, request: Request[T]) -> T:
        """The answer to a typed request (``orderledger.requests``: ``Orders``, ``Trades``,
        ``Positions``, ``Pnl`` …), each list's taking one :class:`Filter`. Every method of the
        ledger that reads or commands is this, with its request built from its keywords
        (``placing`` and ``follow`` are built over requests: ``application.requests`` says why);
        the CLI and the HTTP API ask the same way (``application.bootstrap`` names each
        request's handler once)."""
        return answer(self, request.checked())

    # ------------------------------------------------------------------ querying orders

    @renamed_keywords(key="order")
    def resolve(self, order: str, venue: str | None = None) -> ClientOrderId:
        """Find a client order ID from itself, or from a venue order ID or ``name=value`` alias."""
        return answer(self, asks.Resolve(order, venue))

    @renamed_keywords(key="order")
    def history(self, order: str) -> list[HistoryEntry]:
        """Every event of one order (client order ID, venue order ID or alias) beside the message
        that produced it."""
        return answer(self, asks.History(order))

    # ------------------------------------------------------------------ typed queries

    @renamed_keywords(key="order")
    def order(
        self,
        order: str,
        *,
        version: Version | None = None,
        as_of: datetime | None = None,
        event_time: bool = False,
    ) -> Order:
        """One order (by client order ID, venue order ID or ``name=value`` alias): now, at an
        event ``version``, or as the ledger knew it ``as_of`` a time (venue time with
        ``event_time``)."""
        return answer(self, asks.OrderAt(order, version=version, as_of=as_of, event_time=event_time))

    def iter_orders(
        self, where: Filter, *, open: bool = False, as_of: datetime | None = None, event_time: bool = False
    ) -> Iterator[OrderRow]:
        """Orders matching ``where``, by creation time, read a page at a time (from the orders
        view), or as the ledger knew them ``as_of`` a time (folded from the log)."""
        return answer(self, asks.IterOrders(where, open, as_of, event_time))

    @filtered("orders")
    def orders(
        self,
        where: Filter,
        *,
        open: bool = False,
        as_of: datetime | None = None,
        event_time: bool = False,
        count: Counting = False,
    ) -> Page[OrderRow]:
        """Orders as they stand, oldest created first (``newest``: reversed; ``sort``: another
        order, ``listing.LISTINGS``): only ``open`` ones, of an account, venue, instrument or
        parent, created between ``since`` and ``until``; or as the ledger knew them ``as_of`` a
        time (venue time with ``event_time``). A :class:`Page`: its ``next_cursor`` continues
        after the ``limit`` rows given (``cursor=``); ``count``: ``total`` says how many match.
        The filters are a :class:`Filter`'s, given whole (``where``) or as keywords."""
        return answer(self, asks.Orders(where, open=open, as_of=as_of, event_time=event_time, count=count))

    def iter_trades(self, where: Filter) -> Iterator[TradeRow]:
        """Trades matching ``where`` by venue time, read a page at a time (``where.client_order_id``
        may be a venue order ID or an alias: it is resolved)."""
        return answer(self, asks.IterTrades(where))

    @filtered("trades")
    def trades(self, where: Filter, *, count: Counting = False) -> Page[TradeRow]:
        """The trade blotter by venue time (``sort``: another order): one row per fill as it
        stands after busts and corrections; ``order``: one order's (client order ID, venue order
        ID or alias). A :class:`Page`, as :meth:`orders` answers."""
        return answer(self, asks.Trades(where, count=count))

    @filtered("positions")
    def positions(
        self,
        where: Filter,
        *,
        marks: Mapping[str, Decimal] | None = None,
        as_of: datetime | None = None,
        event_time: bool = False,
        cost_basis: str | None = None,
        count: Counting = False,
        in_currency: str | None = None,
    ) -> Page[PositionRow]:
        """Positions with realized P&L, and unrealized P&L for the instruments given a mark;
        now, or as they stood ``as_of`` a time (folded from the log). The live view keeps
        average cost; ``cost_basis`` (average, fifo, lifo, hifo) reads the books kept between
        reads under that rule instead (as of a time, from their marks), leaving the view
        untouched. A mark for an instrument no position holds is refused (a typo would otherwise
        value nothing). By account, venue and instrument unless ``sort`` says otherwise; a
        :class:`Page`, as :meth:`orders` answers. With ``in_currency``, each row's P&L in that
        one currency, at the rates recorded as marks (``desk_currency``)."""
        held = tuple((marks or {}).items())
        asked = asks.Positions(
            where,
            held,
            as_of=as_of,
            event_time=event_time,
            cost_basis=cost_basis,
            count=count,
            in_currency=in_currency,
        )
        return answer(self, asked)

    def pnl(
        self, *, by: str = "day", cost_basis: str | None = None, in_currency: str | None = None
    ) -> list[PnlRow]:
        """Realized P&L and fees grouped by day, account, venue, instrument, parent or
        ``tag:NAME``, one row per group and P&L currency, under the ledger's rule or
        ``cost_basis``, each fill credited with what it realized in its account's book when it
        closed: from the days kept with each book's head (current with the log; by parent or
        tag each day's sums per group, by parent as far as the orders view). With
        ``in_currency``, one row per group in that one currency, each P&L currency converted at
        the latest rate recorded as a mark (``desk_currency``)."""
        return answer(self, asks.Pnl(by, cost_basis, in_currency))

    @filtered("events")
    def events(
        self,
        where: Filter,
        *,
        types: Sequence[str] = (),
        event_time: bool = False,
        count: Counting = False,
    ) -> Page[EventRecord]:
        """Search the global log by event type (``OrderFilled`` …), account, venue, instrument,
        order and time; in log order (``newest``: reversed; ``sort``: another order). A
        :class:`Page`, as :meth:`orders` answers."""
        return answer(self, asks.Events(where, tuple(types), event_time=event_time, count=count))

    def log_position(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return answer(self, asks.LogPosition())

    # ------------------------------------------------------------------ lists and pages

    @filtered("parents")
    def parents(self, where: Filter, *, count: Counting = False) -> Page[ParentRow]:
        """The parents the orders name (``parent_id``), each with its child orders' count, open
        count, accounts, instruments and times; of the orders of an account, venue or instrument;
        by parent ID unless ``sort`` says otherwise. A :class:`Page`, as :meth:`orders` answers."""
        return answer(self, asks.Parents(where, count=count))

    # ------------------------------------------------------------------ analytics (lake.py, execution.py)


def _committed_after(ledger: OrderLedger, position: int, limit: int) -> list[CommittedEvent]:
    """What ``OrderLedger.follow`` reads between its waits: a ``CommittedAfter`` request."""
    return answer(ledger, asks.CommittedAfter(position, limit))


__all__ = ["HistoryEntry", "IngestReport", "OrderLedger"]
