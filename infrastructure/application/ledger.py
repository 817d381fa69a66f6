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
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from annotated_types import Ge, Gt

from orderledger.domain.events import MOVES_PNL, OrderEvent
from orderledger.domain.order import Order
from orderledger.domain.values import ClientOrderId
from orderledger.infrastructure.application import lazy_imports, opening
from orderledger.infrastructure.application import requests as asks
from orderledger.infrastructure.application.arguments import (
    Count,
    Counting,
    Slices,
    Version,
    checked_methods,
)
from orderledger.infrastructure.application.bootstrap import answer
from orderledger.infrastructure.application.controls import CollectorLeases, ExposureReads, RiskControls
from orderledger.infrastructure.application.deprecated import DeprecatedReads, renamed_keywords
from orderledger.infrastructure.application.filter_keywords import filtered
from orderledger.infrastructure.application.reads.follow import POLL_SECONDS, CommittedEvent, Wakeup, follow
from orderledger.infrastructure.application.requests import Request
from orderledger.infrastructure.listing import Page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.head import Head
from orderledger.infrastructure.results.log import EventRecord, HistoryEntry, InstrumentRow, MessageRecord
from orderledger.infrastructure.results.orders import OrderRow, ParentRow
from orderledger.infrastructure.results.pnl import DailyPnlRow, PnlPoint, PnlRow
from orderledger.infrastructure.results.positions import LotRow, PositionRow
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.results.views_lag import ViewsLag
from orderledger.infrastructure.storage.backends import open_database
from orderledger.infrastructure.storage.early_check import DEFAULT_URL, URL_VARIABLE
from orderledger.infrastructure.storage.store import LedgerRecorder
from orderledger.infrastructure.storage.views import CatchUpStats, Views

# The loss and drawdown limits' responses, loaded with the first commit (a reader never needs it).
_responses = lazy_imports.Module("orderledger.infrastructure.application.risk.loss_responses")

# The writes (ingest, its adapters and message models), reconciliation, verify, the lake and the
# analytics: imported when first called (``application.lazy_imports``), so a process that only reads never
# loads them.
if TYPE_CHECKING:
    from orderledger.infrastructure.application import placing as _placing
    from orderledger.infrastructure.application.analytics.execution import ExecutionRow
    from orderledger.infrastructure.application.analytics.lake import LakeReport
    from orderledger.infrastructure.application.placing import Placement
    from orderledger.infrastructure.application.upkeep.reconcile import ReconcileReport, Snapshot
    from orderledger.infrastructure.application.writes import recording
    from orderledger.infrastructure.application.writes.recording import IngestReport
    from orderledger.infrastructure.audit.verify import VerifyReport
    from orderledger.infrastructure.ingest.inbound import Inbound, Result
    from orderledger.infrastructure.ingest.processing import Processor
else:
    _placing = lazy_imports.Module("orderledger.infrastructure.application.placing")
    recording = lazy_imports.Module("orderledger.infrastructure.application.writes.recording")
    # the names of signatures, for the argument checks' hints
    __getattr__ = lazy_imports.names(
        __name__,
        {
            "orderledger.infrastructure.application.analytics.execution": ("ExecutionRow",),
            "orderledger.infrastructure.application.analytics.lake": ("LakeReport",),
            "orderledger.infrastructure.application.placing": ("Placement",),
            "orderledger.infrastructure.application.upkeep.reconcile": ("ReconcileReport", "Snapshot"),
            "orderledger.infrastructure.application.writes.recording": ("IngestReport",),
            "orderledger.infrastructure.audit.verify": ("VerifyReport",),
            "orderledger.infrastructure.ingest.inbound": ("Inbound", "Result"),
        },
    )

T = TypeVar("T")

DEFAULT_BATCH = 1_000


@checked_methods
class OrderLedger(DeprecatedReads, ExposureReads, CollectorLeases, RiskControls):
    """The ledger: record facts about orders, query their state, keep views current.

    Thread safety: one instance may be shared by any number of threads (for example an asyncio
    bot calling ``asyncio.to_thread(ledger.record, …)``). Writes (``record``, ``ingest_*``,
    ``catch_up``) are serialised inside the instance, one group commit at a time, so its caches
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

    def check_storage(self) -> None:
        """Raise the :class:`StoreError` that keeps this ledger from taking writes for good, if
        there is one: its SQLite file was deleted or replaced while the ledger had it open
        (``DatabaseReplacedError``; every write raises it too, before anything is acknowledged).
        ``orderledger serve``'s ``/health`` asks this."""
        failure = self.db.failure()
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Release the database connection(s); ``with OrderLedger(url) as ledger:`` calls this."""
        self.db.close()

    def __enter__(self) -> OrderLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

        ``format`` names an input format of the venue registry (``adapters.registry.formats``): ``ledger``
        (the JSON-lines message format), ``ccxt`` (a CCXT unified order, trade, or list of them
        per line), ``fix`` (FIX messages as an engine logs them, one or several per line, SOH- or
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

    def define_instrument(
        self,
        /,
        venue: str,
        instrument: str,
        *,
        ts: datetime | str | None = None,
        source: str = "api",
        **definition: Any,
    ) -> Result:
        """Record an instrument's definition (the fields of the ``instrument`` message:
        ``kind``, ``contract_size``, ``settlement``, ``settle_currency`` …; docs/messages.md).

        Unchanged: a duplicate; changed: the next version, used by fills booked after it.
        ``ts`` defaults to now.
        """
        return answer(self, asks.DefineInstrument(venue, instrument, tuple(definition.items()), ts, source))

    def load_ccxt_markets(
        self,
        markets: Any,
        *,
        venue: str,
        ts: datetime | None = None,
        origin: str = "ccxt-markets",
        instrument_of: Callable[[str], str] | None = None,
    ) -> IngestReport:
        """Record the definitions of a CCXT markets dump (``exchange.load_markets()``): each
        market is journaled as received (format ``ccxt-markets``) with the definition read from
        it; unchanged ones are duplicates, and a market that cannot be read is rejected alone."""
        return answer(self, asks.LoadCcxtMarkets(markets, venue, ts, origin, instrument_of))

    @renamed_keywords(every_version="all_versions")
    @filtered("instruments")
    def instruments(
        self, where: Filter, *, all_versions: bool = False, count: Counting = False
    ) -> Page[InstrumentRow]:
        """Instrument definitions in force (or every version), from the log, by venue and
        instrument unless ``sort`` says otherwise; a :class:`Page`, as :meth:`orders` answers."""
        return answer(self, asks.Instruments(where, all_versions=all_versions, count=count))

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

    def catch_up(self) -> CatchUpStats:
        """Bring every view up to the end of the log, and finish any book's re-fold an ingest
        left for its end (``views_lag().unsettled``)."""
        return answer(self, asks.CatchUp())

    def views_position(self) -> int:
        """The log position every view has reached (what a ``project --follow`` reports)."""
        return answer(self, asks.ViewsPosition())

    @property
    def view_names(self) -> list[str]:
        """The views ``rebuild`` knows: orders, trades, positions …"""
        return list(self.views.by_name)

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        jobs: Annotated[int, Ge(1)] = 1,
    ) -> tuple[int, float]:
        """Refold views (default: all) from the whole log into new tables, then swap them in
        atomically; ``progress`` hears of each chunk of events; ``jobs`` processes fold side by
        side (the rows are the same). Returns (events, seconds)."""
        return answer(self, asks.Rebuild(None if names is None else tuple(names), jobs, progress))

    def init_database(
        self, app_role: str | None = None, password: str | None = None, cost_basis: str | None = None
    ) -> list[str]:
        """Create the schema (tables, indexes, append-only triggers) and, on PostgreSQL, the
        application role with ``password``; ``cost_basis`` sets the rule of a new ledger's
        positions and P&L (``set_cost_basis`` changes an existing one's); returns what was done,
        a line each."""
        return answer(self, asks.InitDatabase(app_role, password, cost_basis))

    def cost_basis(self) -> str:
        """The rule this ledger's positions and P&L use when a query names none: average (the
        default, and what a ledger created without one reads as), fifo, lifo or hifo."""
        return answer(self, asks.CostBasis())

    def set_cost_basis(self, cost_basis: str) -> str:
        """Make ``cost_basis`` the rule of this ledger's positions and P&L; returns the rule it
        replaces. The log is untouched: every figure under the new rule is folded from it."""
        return answer(self, asks.SetCostBasis(cost_basis))

    def rotate_cursor_secret(self) -> None:
        """Replace the secret the ledger seals its list cursors with: every cursor issued before,
        by any process, is refused from now on (``storage/cursors.py``)."""
        answer(self, asks.RotateCursorSecret())

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

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        """Every event of one order, in version order."""
        return answer(self, asks.OrderEvents(client_order_id))

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

    def lots(
        self,
        *,
        cost_basis: str = "fifo",
        closed: bool = False,
        as_of: datetime | None = None,
        event_time: bool = False,
    ) -> list[LotRow]:
        """Open tax lots under ``cost_basis`` (fifo, lifo, hifo), each with its opening fill and
        cost; with ``closed``, the closed lots instead: one row per matched quantity, with its
        opening and closing fill, cost, proceeds, fees and P&L. Read from the lots kept between
        reads, brought up to the log's head; ``as_of`` a time, from those lots' marks (and the
        closed lots kept with them)."""
        return answer(self, asks.Lots(cost_basis, closed=closed, as_of=as_of, event_time=event_time))

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

    @renamed_keywords(fmt="format")
    def export(
        self,
        table: str,
        out: str | Path | io.BufferedIOBase | io.RawIOBase,
        *,
        format: str = "jsonl",
        force: bool = False,
        raw: bool = False,
        cost_basis: str = "fifo",
    ) -> int:
        """Write a whole table (``exports.TABLES``: trades, orders, events, lots, closed-lots under
        ``cost_basis``) to a file or a binary stream (``open(path, 'wb')``, ``io.BytesIO``) as
        csv, jsonl or parquet; returns the rows written. A file is replaced only with ``force``,
        never when it is the ledger's own; CSV cells a spreadsheet would run as formulas are
        neutralised unless ``raw``."""
        return answer(self, asks.Export(table, out, format, force, raw, cost_basis))

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

    def pnl_daily(self, *, by: str = "account", cost_basis: str | None = None) -> list[DailyPnlRow]:
        """P&L per UTC day by account, parent or ``tag:NAME``: realized, fees, cash flows and
        unrealized at the day's last recorded marks (see ``daily_pnl.daily_pnl_rows``); under the
        ledger's cost-basis rule, or ``cost_basis``; from the days kept with the heads of each
        book (by parent or tag, of each group's own books)."""
        return answer(self, asks.PnlDaily(by, cost_basis))

    def pnl_series(self, *, points: Slices | None = None) -> list[PnlPoint]:
        """Realized P&L entry by entry in log order, with running totals per quote currency;
        with ``points``, in venue time, each account's line per currency summed over that many
        equal slices of it (``pnl_series.realized_series``: a chart's worth, whatever the ledger's
        size)."""
        return answer(self, asks.PnlSeries(points))

    def iter_events(
        self, where: Filter, *, types: Sequence[str] = (), event_time: bool = False
    ) -> Iterator[EventRecord]:
        """Events of the global log matching ``where`` (``since``/``until``: recorded time, or
        venue time with ``event_time``), in log order, read in chunks."""
        return answer(self, asks.IterEvents(where, tuple(types), event_time))

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

    def events_after(self, position: Count, limit: Count) -> list[EventRecord]:
        """Up to ``limit`` committed events after log ``position``, in log order (what a live
        follower reads next), each as :meth:`events` gives it."""
        return answer(self, asks.EventsAfter(position, limit))

    def log_position(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return answer(self, asks.LogPosition())

    def views_lag(self) -> ViewsLag:
        """How far the views are behind the log (``behind`` 0: current). Answers from the views
        (orders and positions now, trades, P&L, exports of orders and trades) show the log up to
        the slowest view's position; they do not fold what is missing (a reader may have no write
        access, and a large lag would make one query pay for it): they say it."""
        return answer(self, asks.Lag())

    def iter_messages(
        self,
        where: Filter,
        *,
        outcome: str | None = None,
        parked: bool = False,
        older_than: timedelta | None = None,
    ) -> Iterator[MessageRecord]:
        """The message journal in arrival order (``where.newest``: reversed): every inbound
        message verbatim with its outcome (an ``Outcome``).
        ``parked``: the messages still parked; ``older_than``: only those received longer ago
        than that (parked too long: stuck)."""
        return answer(self, asks.IterMessages(where, outcome, parked, older_than))

    @filtered("messages")
    def messages(
        self,
        where: Filter,
        *,
        outcome: str | None = None,
        parked: bool = False,
        older_than: timedelta | None = None,
        count: Counting = False,
    ) -> Page[MessageRecord]:
        """The message journal, oldest first (``newest``: reversed; ``sort``: another order); see
        :meth:`iter_messages`. A :class:`Page`, as :meth:`orders` answers."""
        asked = asks.Messages(where, outcome, parked=parked, older_than=older_than, count=count)
        return answer(self, asked)

    def settle(
        self,
        message_id: int,
        *,
        reason: str,
        by: str,
        book: bool = False,
        account: str | None = None,
        origin: str = "api",
    ) -> int:
        """Settle a parked message by hand, recorded in a journal line of its own with who
        (``by``) and why (``reason``); returns that line's message ID.

        Without ``book`` the message is set aside: the parked line becomes ``ignored`` and no
        longer counts as parked. With ``book`` its input is read again as its format reads it
        (``account`` as ``ingest`` takes it) and recorded once more: where it carries an
        order's details the order is booked as an external one, and the parked line is then
        released as any parked line is when its order arrives. Refused, with nothing written,
        unless the message is parked (and, to book, carries the details); see docs/messages.md,
        "Settling a parked message"."""
        return answer(self, asks.Settle(message_id, reason, by, book, account, origin))

    def verify(
        self,
        *,
        expect_head: Head | tuple[int, str] | None = None,
        heads: Mapping[int, str] | None = None,
        journal_heads: Mapping[int, str] | None = None,
        deep: bool = False,
        incremental: bool = False,
        anchor: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> VerifyReport:
        """Check the storage, the hash chains, the views and the journal against the log; heads
        recorded earlier (``expect_head``: a :class:`Head` covers the journal too; ``heads``,
        ``journal_heads``: position → hash) must still be in the chains, and so must every anchor.

        ``incremental``: check only the records appended since the last anchor (docs/audit.md,
        "Incremental verify"); ``anchor``: when everything holds, store the heads found as the
        next anchor. ``progress`` is told, after each chunk of the log, the events checked and
        how many there are to check."""
        pinned, journal = tuple((heads or {}).items()), tuple((journal_heads or {}).items())
        asked = asks.Verify(
            expect_head, pinned, journal, deep=deep, incremental=incremental, anchor=anchor, progress=progress
        )
        return answer(self, asked)

    def head(self) -> Head | None:
        """The chains' heads, to record outside the database (None while both are empty)."""
        return answer(self, asks.ChainHead())

    def reconcile(
        self,
        snapshot: Snapshot | str | bytes,
        *,
        apply: bool = False,
        grace: timedelta = timedelta(seconds=60),
        origin: str = "reconcile",
        known_at: Count | None = None,
    ) -> ReconcileReport:
        """Compare a venue's snapshot (docs/reconciliation.md) with the ledger and report the
        differences; with ``apply``, record the corrections. Orders requested within ``grace``
        are left alone, and so, given ``known_at`` (the log position when the snapshot was
        read), are orders the ledger first heard of after it: the snapshot cannot show them."""
        return answer(self, asks.Reconcile(snapshot, apply, grace, origin, known_at))

    # ------------------------------------------------------------------ lists and pages

    @filtered("parents")
    def parents(self, where: Filter, *, count: Counting = False) -> Page[ParentRow]:
        """The parents the orders name (``parent_id``), each with its child orders' count, open
        count, accounts, instruments and times; of the orders of an account, venue or instrument;
        by parent ID unless ``sort`` says otherwise. A :class:`Page`, as :meth:`orders` answers."""
        return answer(self, asks.Parents(where, count=count))

    # ------------------------------------------------------------------ analytics (lake.py, execution.py)

    def export_lake(self, directory: str | Path) -> LakeReport:
        """Append to the Parquet lake at ``directory`` what the log holds past its manifest, and
        rewrite its snapshot tables (docs/analytics.md); safe to rerun or to kill at any point."""
        return answer(self, asks.ExportLake(directory))

    def execution_quality(
        self,
        *,
        by: str | list[str] | tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lake: str | Path | None = None,
    ) -> list[ExecutionRow]:
        """Execution quality (slippage, fees, fill ratio, times, rates) per group ``by`` over the
        orders requested in [since, until), from the store or from ``lake``, in DuckDB."""
        grouped = tuple(by) if isinstance(by, list) else by
        asked = asks.ExecutionQuality(grouped, since, until, None if lake is None else str(lake))
        return answer(self, asked)


def _committed_after(ledger: OrderLedger, position: int, limit: int) -> list[CommittedEvent]:
    """What ``OrderLedger.follow`` reads between its waits: a ``CommittedAfter`` request."""
    return answer(ledger, asks.CommittedAfter(position, limit))


__all__ = ["HistoryEntry", "IngestReport", "OrderLedger"]
