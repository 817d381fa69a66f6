"""``AsyncOrderLedger``: the ledger for asyncio programs.

    async with AsyncOrderLedger("sqlite:///orderledger.db") as ledger:
        await ledger.record({"type": "fill", ...})
        order = await ledger.order("c-1")
        async for committed in ledger.follow(since=0):
            ...

Every method is the ``OrderLedger`` method of the same name, awaited. The work runs in worker
threads so the event loop never blocks on the database: writes in one writer thread, in the
order they were called (they are serialised anyway, one group commit at a time), queries in a
small pool of reader threads. Any number of tasks may share one instance. A task cancelled while
it awaits a write stops waiting, and the write is still carried out (committed or failed as a
whole): a write, once called, always happens.

Adding a method: one line in the class, ``name = _writes(OrderLedger.name)`` or
``name = _reads(OrderLedger.name)``; its signature and types are the synchronous method's, and
so is its argument check (``argument_checks.py``: a wrong-typed argument raises InvalidInputError from
the await, before any database work). A method written here gets ``@checked`` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Concatenate, ParamSpec, Protocol, TypeVar

from annotated_types import Gt
from typing_extensions import deprecated

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.order import Order
from orderledger.infrastructure.application import lazy_imports
from orderledger.infrastructure.application.argument_checks import Count, checked
from orderledger.infrastructure.application.deprecated import GET_ORDER, ORDER_AS_OF, moved
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.ledger_groups import (
    Analytics,
    Audit,
    RiskControls,
    Upkeep,
    Venues,
)
from orderledger.infrastructure.application.placing import (
    AsyncPlacement,
    PlacementState,
    checked_request,
    placing_message,
    record_request,
)
from orderledger.infrastructure.application.reads.follow import (
    CHUNK,
    POLL_SECONDS,
    CommittedEvent,
    follow_batches,
)
from orderledger.infrastructure.application.requests import CommittedAfter
from orderledger.infrastructure.collect.source import Source

if TYPE_CHECKING:
    from orderledger.infrastructure.application.risk.pretrade import DenialRow
    from orderledger.infrastructure.application.risk.standing import LimitStatus, StateChange
else:  # the names of risk_events' signature, for its argument check, imported when first read
    __getattr__ = lazy_imports.names(
        __name__,
        {
            "orderledger.infrastructure.application.risk.standing": ("LimitStatus", "StateChange"),
            "orderledger.infrastructure.application.risk.pretrade": ("DenialRow",),
        },
    )

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
Forwarded = Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]

READERS = 4
"""Reader threads per instance: queries run side by side (PostgreSQL) while a write is under way."""


def _forward(method: Callable[Concatenate[S, P], R], writes: bool, group: str | None) -> Forwarded[P, R]:
    async def forwarded(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        aio: AsyncOrderLedger = self if group is None else self._aio
        target: Any = getattr(aio.ledger, group) if group else aio.ledger
        call = functools.partial(method, target, *args, **kwargs)
        if not writes:
            return await aio._run(aio._readers, call)
        # Shielded: once called, a write is carried out even if the caller is cancelled meanwhile
        # (committed or failed as a whole), so a cancelled task never leaves it unknown whether a
        # write that had not started yet will still happen.
        return await asyncio.shield(aio._run(aio._writer, call))

    functools.update_wrapper(forwarded, method)
    return forwarded


def _writes(method: Callable[Concatenate[S, P], R], group: str | None = None) -> Forwarded[P, R]:
    """An ``OrderLedger`` method that writes (of its ``group``: ``audit`` …), as a coroutine run
    in the writer thread."""
    return _forward(method, True, group)


def _reads(method: Callable[Concatenate[S, P], R], group: str | None = None) -> Forwarded[P, R]:
    """An ``OrderLedger`` method that only reads (of its ``group``), as a coroutine run in a
    reader thread."""
    return _forward(method, False, group)


class _AsyncGroup:
    """A concern's calls of the ``AsyncOrderLedger`` it holds, each its group's method awaited."""

    __slots__ = ("_aio",)

    def __init__(self, aio: AsyncOrderLedger) -> None:
        self._aio = aio


class AsyncRiskControls(_AsyncGroup):
    """``OrderLedger.risk_controls``, awaited."""

    exposure = _reads(RiskControls.exposure, "risk_controls")
    limits = _reads(RiskControls.limits, "risk_controls")
    set_limit = _writes(RiskControls.set_limit, "risk_controls")
    clear_limit = _writes(RiskControls.clear_limit, "risk_controls")
    trading_states = _reads(RiskControls.trading_states, "risk_controls")
    set_trading_state = _writes(RiskControls.set_trading_state, "risk_controls")
    denials = _reads(RiskControls.denials, "risk_controls")
    respond = _writes(RiskControls.respond, "risk_controls")
    risk_replay = _reads(RiskControls.risk_replay, "risk_controls")


class AsyncAudit(_AsyncGroup):
    """``OrderLedger.audit``, awaited."""

    verify = _reads(Audit.verify, "audit")
    head = _reads(Audit.head, "audit")
    order_events = _reads(Audit.order_events, "audit")
    events_after = _reads(Audit.events_after, "audit")
    messages = _reads(Audit.messages, "audit")


class AsyncAnalytics(_AsyncGroup):
    """``OrderLedger.analytics``, awaited."""

    lots = _reads(Analytics.lots, "analytics")
    cost_basis = _reads(Analytics.cost_basis, "analytics")
    set_cost_basis = _writes(Analytics.set_cost_basis, "analytics")
    pnl_daily = _reads(Analytics.pnl_daily, "analytics")
    pnl_series = _reads(Analytics.pnl_series, "analytics")
    export = _reads(Analytics.export, "analytics")
    export_lake = _reads(Analytics.export_lake, "analytics")
    execution_quality = _reads(Analytics.execution_quality, "analytics")


class AsyncUpkeep(_AsyncGroup):
    """``OrderLedger.upkeep``, awaited."""

    init_database = _writes(Upkeep.init_database, "upkeep")
    check_storage = _reads(Upkeep.check_storage, "upkeep")
    catch_up = _writes(Upkeep.catch_up, "upkeep")
    views_position = _reads(Upkeep.views_position, "upkeep")
    views_lag = _reads(Upkeep.views_lag, "upkeep")
    rebuild = _writes(Upkeep.rebuild, "upkeep")
    rotate_cursor_secret = _writes(Upkeep.rotate_cursor_secret, "upkeep")
    # collect (live venue connections): infrastructure/application/upkeep/collector_leases.py
    collector_lease = _writes(Upkeep.collector_lease, "upkeep")
    collector_heartbeat = _writes(Upkeep.collector_heartbeat, "upkeep")
    collector_release = _writes(Upkeep.collector_release, "upkeep")
    collectors = _reads(Upkeep.collectors, "upkeep")


class AsyncVenues(_AsyncGroup):
    """``OrderLedger.venues``, awaited."""

    define_instrument = _writes(Venues.define_instrument, "venues")
    load_ccxt_markets = _writes(Venues.load_ccxt_markets, "venues")
    instruments = _reads(Venues.instruments, "venues")
    reconcile = _writes(Venues.reconcile, "venues")
    last_venue_time = _reads(Venues.last_venue_time, "venues")
    settle = _writes(Venues.settle, "venues")


class AsyncMovedCalls:
    """``AsyncOrderLedger``'s flat names of the grouped calls (``deprecated.moved``), kept until
    the release the warning names."""

    exposure = moved("risk_controls", AsyncRiskControls.exposure)
    limits = moved("risk_controls", AsyncRiskControls.limits)
    set_limit = moved("risk_controls", AsyncRiskControls.set_limit)
    clear_limit = moved("risk_controls", AsyncRiskControls.clear_limit)
    trading_states = moved("risk_controls", AsyncRiskControls.trading_states)
    set_trading_state = moved("risk_controls", AsyncRiskControls.set_trading_state)
    denials = moved("risk_controls", AsyncRiskControls.denials)
    respond = moved("risk_controls", AsyncRiskControls.respond)
    risk_replay = moved("risk_controls", AsyncRiskControls.risk_replay)
    verify = moved("audit", AsyncAudit.verify)
    head = moved("audit", AsyncAudit.head)
    order_events = moved("audit", AsyncAudit.order_events)
    events_after = moved("audit", AsyncAudit.events_after)
    messages = moved("audit", AsyncAudit.messages)
    lots = moved("analytics", AsyncAnalytics.lots)
    cost_basis = moved("analytics", AsyncAnalytics.cost_basis)
    set_cost_basis = moved("analytics", AsyncAnalytics.set_cost_basis)
    pnl_daily = moved("analytics", AsyncAnalytics.pnl_daily)
    pnl_series = moved("analytics", AsyncAnalytics.pnl_series)
    export = moved("analytics", AsyncAnalytics.export)
    export_lake = moved("analytics", AsyncAnalytics.export_lake)
    execution_quality = moved("analytics", AsyncAnalytics.execution_quality)
    init_database = moved("upkeep", AsyncUpkeep.init_database)
    check_storage = moved("upkeep", AsyncUpkeep.check_storage)
    catch_up = moved("upkeep", AsyncUpkeep.catch_up)
    views_position = moved("upkeep", AsyncUpkeep.views_position)
    views_lag = moved("upkeep", AsyncUpkeep.views_lag)
    rebuild = moved("upkeep", AsyncUpkeep.rebuild)
    rotate_cursor_secret = moved("upkeep", AsyncUpkeep.rotate_cursor_secret)
    collector_lease = moved("upkeep", AsyncUpkeep.collector_lease)
    collector_heartbeat = moved("upkeep", AsyncUpkeep.collector_heartbeat)
    collector_release = moved("upkeep", AsyncUpkeep.collector_release)
    collectors = moved("upkeep", AsyncUpkeep.collectors)
    define_instrument = moved("venues", AsyncVenues.define_instrument)
    load_ccxt_markets = moved("venues", AsyncVenues.load_ccxt_markets)
    instruments = moved("venues", AsyncVenues.instruments)
    reconcile = moved("venues", AsyncVenues.reconcile)
    last_venue_time = moved("venues", AsyncVenues.last_venue_time)
    settle = moved("venues", AsyncVenues.settle)


class _AsyncReads(Protocol):
    async def order(
        self,
        order: str,
        *,
        version: int | None = ...,
        as_of: datetime | None = ...,
        event_time: bool = ...,
    ) -> Order: ...


class AsyncDeprecatedReads:
    """``AsyncOrderLedger``'s replaced read methods (the warning is raised at the call, in the
    caller's task, not in the worker thread)."""

    @deprecated(GET_ORDER)
    async def get_order(self: _AsyncReads, client_order_id: str, *, version: int | None = None) -> Order:
        """Deprecated: ``await order(client_order_id, version=version)``."""
        return await self.order(client_order_id, version=version)

    @deprecated(ORDER_AS_OF)
    async def order_as_of(
        self: _AsyncReads, client_order_id: str, as_of: datetime, *, event_time: bool = False
    ) -> Order:
        """Deprecated: ``await order(client_order_id, as_of=as_of, event_time=event_time)``."""
        return await self.order(client_order_id, as_of=as_of, event_time=event_time)


class AsyncOrderLedger(AsyncDeprecatedReads, AsyncMovedCalls):
    """The ``OrderLedger`` API as coroutines; open with ``async with`` (or ``await open()``).

    ``url`` and ``options`` are ``OrderLedger``'s; ``ledger=`` wraps one already open instead
    (it is not closed on exit then: its owner closes it).
    """

    @functools.partial(checked, where="AsyncOrderLedger()")
    def __init__(
        self,
        url: str | None = None,
        *,
        ledger: OrderLedger | None = None,
        readers: int = READERS,
        **options: Any,
    ) -> None:
        self._url = url
        self._options = options
        self._ledger = ledger
        self._owned = ledger is None
        self._writer: Executor = ThreadPoolExecutor(1, thread_name_prefix="orderledger-write")
        self._readers: Executor = ThreadPoolExecutor(readers, thread_name_prefix="orderledger-read")

    @property
    def ledger(self) -> OrderLedger:
        """The synchronous ledger underneath (its methods block: call them from threads only)."""
        if self._ledger is None:
            raise RuntimeError(
                "the ledger is not open: use `async with AsyncOrderLedger(url)` or `await open()`"
            )
        return self._ledger

    async def open(self) -> AsyncOrderLedger:
        """Open the database (in the writer thread: creating tables may take a moment)."""
        if self._ledger is None:
            url, options = self._url, self._options
            try:
                ledger = self._ledger = await self._run(self._writer, lambda: OrderLedger(url, **options))
                # A bot writes its first fill soon after a restart: the file's check starts now
                # (opening its connection is database work: not on the event loop).
                await self._run(self._writer, ledger.check_ahead)
            except BaseException:
                await self.close()  # no worker thread outlives a failed open
                raise
        return self

    async def close(self) -> None:
        """Let the calls under way finish, then release the database (if this instance opened it)."""
        loop = asyncio.get_running_loop()
        for executor in (self._writer, self._readers):
            await loop.run_in_executor(None, functools.partial(executor.shutdown, wait=True))
        if self._ledger is not None and self._owned:
            await asyncio.to_thread(self._ledger.close)

    async def __aenter__(self) -> AsyncOrderLedger:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, executor: Executor, call: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(executor, call)

    # ------------------------------------------------------------------ the forwarded methods

    record = _writes(OrderLedger.record)
    ingest_lines = _writes(OrderLedger.ingest_lines)
    ingest_inbound = _writes(OrderLedger.ingest_inbound)
    check_ahead = _reads(OrderLedger.check_ahead)  # (``open`` already starts it)
    resolve = _reads(OrderLedger.resolve)
    handle = _reads(OrderLedger.handle)
    history = _reads(OrderLedger.history)
    order = _reads(OrderLedger.order)
    orders = _reads(OrderLedger.orders)
    trades = _reads(OrderLedger.trades)
    positions = _reads(OrderLedger.positions)
    pnl = _reads(OrderLedger.pnl)
    events = _reads(OrderLedger.events)
    log_position = _reads(OrderLedger.log_position)
    parents = _reads(OrderLedger.parents)
    risk = _reads(OrderLedger.risk)
    check = _writes(OrderLedger.check)  # the daily loss rule may record a halt
    place = _writes(OrderLedger.place)

    # ------------------------------------------------------------------ the calls grouped by concern

    @property
    def risk_controls(self) -> AsyncRiskControls:
        """``OrderLedger.risk_controls``, awaited."""
        return AsyncRiskControls(self)

    @property
    def audit(self) -> AsyncAudit:
        """``OrderLedger.audit``, awaited."""
        return AsyncAudit(self)

    @property
    def analytics(self) -> AsyncAnalytics:
        """``OrderLedger.analytics``, awaited."""
        return AsyncAnalytics(self)

    @property
    def upkeep(self) -> AsyncUpkeep:
        """``OrderLedger.upkeep``, awaited."""
        return AsyncUpkeep(self)

    @property
    def venues(self) -> AsyncVenues:
        """``OrderLedger.venues``, awaited."""
        return AsyncVenues(self)

    # ------------------------------------------------------------------ following, placing

    @checked
    async def follow(
        self, since: Count = 0, *, poll_seconds: Annotated[float, Gt(0)] = POLL_SECONDS
    ) -> AsyncIterator[CommittedEvent]:
        """Every committed event after position ``since``, then each new one as it is committed
        (by this process at once, by others at the next poll); see ``OrderLedger.follow``."""

        async def read(position: int, limit: int) -> list[CommittedEvent]:
            asked = CommittedAfter(position, limit)  # as OrderLedger.follow reads
            return await self._run(self._readers, functools.partial(self.ledger.handle, asked))

        batches = follow_batches(read, self.ledger.committed, since, poll_seconds=poll_seconds, chunk=CHUNK)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                for entry in batch:
                    yield entry

    @checked
    async def risk_events(
        self,
        *,
        threshold: Decimal | str | float = Decimal("0.8"),
        poll_seconds: Annotated[float, Gt(0)] = POLL_SECONDS,
    ) -> AsyncGenerator[LimitStatus | StateChange | DenialRow, None]:
        """Each limit whose status changes (a ``LimitStatus``, as ``orderledger risk --watch``
        says it, with the ledger's time of the look that found it: ``as_of``), each account whose
        trading state changes (a ``StateChange``: set, lifted by its ``until``, set by a limit's
        response, with ``changed_at``) and each breach the risk door records from then on (a
        ``DenialRow``: denied, overridden or flagged, with its time ``ts``), first every limit not
        ``ok`` and every account not active; looked at again after each commit of this process
        and every ``poll_seconds``. A bot cancels its open orders on a ``StateChange`` to
        ``halted``."""
        # Loaded when first asked, as the risk reads are (``application.ledger_groups``).
        from orderledger.infrastructure.application.risk.standing import risk_events

        look = functools.partial(self.risk, threshold=threshold)
        controls = self.risk_controls
        breaches = functools.partial(controls.denials, last=100)
        events = risk_events(look, controls.trading_states, self.ledger.committed, poll_seconds, breaches)
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def collect(self, source: Source, **options: Any) -> dict[str, Any]:
        """Keep this ledger current from a venue connection until cancelled (what arrived is
        committed first) or a permanent fault (raised): run it as a task,
        ``asyncio.create_task(ledger.collect(source))``. ``source`` is a
        ``infrastructure.collect.source.Source``; ``options`` are the ``Collector``'s
        (``reconcile_every``, ``status_every``, ``on_status``, ``timing``, …; docs/collect.md).
        Answers the final status figures."""
        # Loaded when a collector runs: a program that never collects does not load the runner.
        from orderledger.infrastructure.collect.runner import Collector

        if not isinstance(source, Source):  # a protocol with attributes: checked here, not by @checked
            raise InvalidInputError(
                f"collect(): source must be a Source, not {type(source).__name__}", field="source"
            )
        return await Collector(self, source, **options).run()

    @checked
    @contextlib.asynccontextmanager
    async def placing(
        self,
        spec: dict[str, Any],
        *,
        rejections: tuple[type[BaseException], ...] = (),
        check: bool = True,
        override: dict[str, str] | None = None,
    ) -> AsyncIterator[AsyncPlacement]:
        """Intent before send (``OrderLedger.placing``, infrastructure/application/placing.py):
        the request passes the risk door (``override``: who lets it through its breaches, and
        why) and is recorded before the body runs; the body sends the order with
        ``placement.client_order_id`` and awaits ``placement.accepted(…)`` or ``rejected(…)``;
        an exception of a type in ``rejections`` records ``rejected``, any other leaves it in
        flight."""
        clock = self.ledger.processor.clock
        message = placing_message(spec, clock(), check, override)
        call = functools.partial(record_request, self.ledger, message)
        request = checked_request(message, await asyncio.shield(self._run(self._writer, call)))
        placement = AsyncPlacement(
            PlacementState(str(message["client_order_id"]), request), self.record, clock
        )
        try:
            yield placement
        except BaseException as error:
            rejected = placement.on_error(error, rejections, clock())
            if rejected is not None:
                await placement._answer("rejected", rejected)
            raise


__all__ = ["AsyncOrderLedger"]
