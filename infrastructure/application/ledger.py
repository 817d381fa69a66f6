"""``OrderLedger``: the application, and the one entry point.

    ledger = OrderLedger("sqlite:///orderledger.db")   # or memory://, postgresql://…
    ledger.ingest_lines(open("session.jsonl"))           # JSON lines → events, views updated
    ledger.order("c-1").snapshot()                    # current state
    ledger.history("c-1")                                 # every event, with its message

Configuration is read here and nowhere else: the database URL (argument, else
``$ORDERLEDGER_DATABASE_URL``, else ``sqlite:///orderledger.db``), and the eventsourcing
environment keys (``CIPHER_KEY``, ``COMPRESSOR_TOPIC`` …) through the library's ``env``.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import orjson
from annotated_types import Ge, Gt
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError
from eventsourcing.popo import POPOFactory
from eventsourcing.utils import Environment

from orderledger.domain.errors import InvalidInputError, LedgerError, OrderNotFoundError
from orderledger.domain.events import FillBusted, FillCorrected, OrderEvent, OrderRequested
from orderledger.domain.identity import ALIAS, VENUE_ORDER_ID
from orderledger.domain.order import Order, order_id_for, replay
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp, parse_timestamp
from orderledger.infrastructure.application.arguments import Count, Version, checked_methods
from orderledger.infrastructure.application.exports import check_export, write_export
from orderledger.infrastructure.application.follow import POLL_SECONDS, CommittedEvent, Wakeup, follow
from orderledger.infrastructure.application.instruments import list_instruments
from orderledger.infrastructure.application.placing import Placement, placing
from orderledger.infrastructure.application.queries import (
    cash_flows_by,
    daily_pnl_rows,
    grouped_pnl,
    iter_orders,
    iter_trades,
    order_page,
    order_parents,
    pnl_rows,
    pnl_tag,
    position_rows,
    positions,
    realized_series,
    recorded_rates,
    trade_page,
)
from orderledger.infrastructure.application.reconcile import (
    Reconciler,
    ReconcileReport,
    Snapshot,
    parse_snapshot,
)
from orderledger.infrastructure.audit.search import (
    EventFilter,
    event_page,
    iter_messages,
    message_page,
    orders_as_of,
    positions_as_of,
    search_events,
)
from orderledger.infrastructure.audit.verify import (
    VerifyReport,
    merge_heads,
    stored_head,
    stored_journal_head,
    verify,
)
from orderledger.infrastructure.errors import ConfigurationError, MessageError
from orderledger.infrastructure.ingest.formats import ADAPTER_FORMATS, FORMATS, check_options
from orderledger.infrastructure.ingest.inbound import inbound
from orderledger.infrastructure.ingest.messages import (
    RequestMessage,
    decode_json,
    message_from_line,
    parse_message,
)
from orderledger.infrastructure.ingest.processing import Inbound, Processor, Result, fewer_collections
from orderledger.infrastructure.ingest.settlement import (
    context_lines,
    parked_line,
    set_aside,
    settlement_terms,
)
from orderledger.infrastructure.listing import Page, ordering, row_value, sorted_page
from orderledger.infrastructure.results import (
    DailyPnlRow,
    EventRecord,
    Filter,
    Head,
    HistoryEntry,
    InstrumentRow,
    LotRow,
    MessageRecord,
    OrderRow,
    PnlPoint,
    PnlRow,
    PositionRow,
    TradeRow,
    ViewsLag,
)
from orderledger.infrastructure.storage.admin import init_database
from orderledger.infrastructure.storage.backends import open_database
from orderledger.infrastructure.storage.db import DEFAULT_URL
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import LedgerRecorder, payload
from orderledger.infrastructure.storage.views import CatchUpStats, Views
from orderledger.projections.lots import COST_BASIS_SETTING, Book, Fill, fills_of, fold_books
from orderledger.projections.lots import cost_basis_named as _cost_basis

URL_VARIABLE = "ORDERLEDGER_DATABASE_URL"
DEFAULT_BATCH = 1_000


OUTCOMES = tuple(Outcome)


@dataclass
class IngestReport:
    """Counts per outcome, the rejected lines, and the time taken."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    rejected: list[Result] = field(default_factory=list)
    events: int = 0
    lines: int = 0
    seconds: float = 0.0
    stored: bool = True

    def add(self, result: Result) -> None:
        self.counts[result.outcome] = self.counts.get(result.outcome, 0) + 1
        self.lines += 1
        self.events += len(result.events)
        if result.outcome is Outcome.REJECTED:
            self.rejected.append(result)


def _environment(name: str, env: Mapping[str, str] | None) -> Environment:
    """The settings the ledger reads: os.environ, then ``env``; a CIPHER_KEY without a
    CIPHER_TOPIC means AES-GCM from the ``cryptography`` package (``orderledger[encryption]``)."""
    environment = Environment(name, {**os.environ, **(env or {})})
    if environment.get("CIPHER_KEY") and not environment.get("CIPHER_TOPIC"):
        environment["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
    return environment


def _mapper(env: Environment) -> LedgerMapper:
    """The ledger's mapper with the cipher and compressor ``env`` names, taken from
    eventsourcing's in-memory factory (the recorder is the ledger's own)."""
    factory = POPOFactory(env)
    try:
        cipher = factory.cipher()
    except ImportError:
        raise ConfigurationError(
            "CIPHER_KEY is set but the cipher is not installed: pip install 'orderledger[encryption]'"
        ) from None
    except ValueError as error:
        raise ConfigurationError(f"CIPHER_KEY is not a usable AES key: {error}") from None
    except OSError:  # eventsourcing's "'CIPHER_KEY' not in env"
        raise ConfigurationError(
            "CIPHER_TOPIC is set but CIPHER_KEY is not: set the key the ledger's events are"
            " encrypted with (or unset CIPHER_TOPIC)"
        ) from None
    return LedgerMapper(transcoder=JSONTranscoder(), cipher=cipher, compressor=factory.compressor())


@checked_methods
class OrderLedger:
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
            self.env = _environment(self.name, env)
            self.mapper = _mapper(self.env)
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
        self.processor = Processor(self.recorder, self.mapper, clock or partial(datetime.now, UTC))
        self.processor.inline = self._fold_inline
        # Guards the processor's and the views' in-memory state: one writer thread at a time.
        self._writing = threading.RLock()
        # Wakes this process's followers (``follow``) after each commit, without a poll's delay.
        self.committed = Wakeup()

    # ------------------------------------------------------------------ eventsourcing wiring

    def _check_cipher(self) -> None:
        """Refuse to mix: an encrypted log needs its key; a plaintext log takes no key.

        Judged on the first chained event (a row outside the chain, which ``verify`` reports,
        cannot stop the ledger from opening), by decoding it: an encrypted payload may begin with
        any byte, ``{`` included.
        """
        with self.db.read() as tx:
            row = tx.one(
                "SELECT originator_id, originator_version, topic, state FROM events"
                " WHERE notification_id > 0 ORDER BY notification_id LIMIT 1"
            )
        if row is None:
            return
        state = payload(row[3])
        try:
            self.mapper.decode(row[2], state, row[0], row[1])
            return
        except MapperDeserialisationError as error:
            failure = str(error)
        plain = _is_json(state)
        if self.mapper.cipher is not None and plain:
            raise ConfigurationError(
                "this ledger's events are stored unencrypted: unset CIPHER_KEY"
                " (mixing would leave no single key that reads the whole log)"
            )
        if self.mapper.cipher is None and not plain:
            raise ConfigurationError(
                "this ledger's events are encrypted: set CIPHER_KEY to the key they were written with"
            )
        if self.mapper.cipher is not None:
            raise ConfigurationError("CIPHER_KEY is not the key this ledger's events were written with")
        raise ConfigurationError(failure)

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

    def ingest_lines(
        self,
        lines: Iterable[str | bytes | None],
        *,
        origin: str = "-",
        strict: bool = False,
        on_batch: Callable[[list[Result]], None] | None = None,
        fmt: str = "ledger",
        venue: str | None = None,
        account: str | None = None,
        options: Mapping[str, Any] | None = None,
        spell: Mapping[str, str] | None = None,
    ) -> IngestReport:
        """Ingest lines; every line gets an outcome.

        ``fmt`` names an input format of ``infrastructure.ingest.formats.FORMATS``: ``ledger``
        (the JSON-lines message format), ``ccxt`` (a CCXT unified order, trade, or list of them
        per line), ``fix`` (FIX messages as an engine logs them, one or several per line, SOH- or
        ``|``-separated), or a venue's native feed; the registry says which need ``venue`` and
        ``account``. ``options`` are the format's adapter options (FIX's scales,
        ``formats.FIX_OPTIONS``); ``spell`` names settings in refusals as the caller's users write
        them (the CLI's ``--venue``). A ``None`` among the lines
        (``infrastructure.inputs.PAUSE``: a live input is waiting) commits what is held.
        """
        given = {k: v for k, v in (options or {}).items() if v is not None}
        check_options(fmt, venue, account, given, strict=strict, spell=spell)
        feed = _open_feed(self, fmt, venue, account)

        def read(line: str | bytes, number: int) -> Inbound:
            if fmt == "ledger":
                return _read_ledger_line(line, origin, number)
            return _read_adapter_line(line, origin, number, fmt, venue, account, feed, given)

        def items() -> Iterator[Inbound | None]:
            number = 0
            for line in lines:
                if line is None:
                    yield None
                else:
                    number += 1
                    yield read(line, number)
                    if feed is not None and feed.commit_each:
                        yield None  # the next line is translated against what this one recorded

        return self.ingest_inbound(items(), strict=strict, on_batch=on_batch)

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
        report = IngestReport()
        started = _now()
        if strict:
            batches: Iterator[list[Inbound]] = iter([[i for i in items if i is not None and i.raw.strip()]])
        else:
            # A blank input is skipped: raw.isspace() says so without stripping a copy of the line.
            batches = _batches(
                (i for i in items if i is None or (i.raw and not i.raw.isspace())), self.batch_size
            )
        with fewer_collections():
            for batch in batches:
                with self._writing:
                    results, committed = self.processor.process(batch, strict=strict)
                    if strict and any(r.outcome is Outcome.REJECTED for r in results):
                        report.stored = False
                    self._after_commit(committed)
                for result in results:
                    report.add(result)
                if on_batch is not None and report.stored:
                    on_batch(results)
        report.seconds = _now() - started
        return report

    def record(self, message: dict[str, Any], *, origin: str = "api", strict: bool = False) -> Result:
        """Record one fact given as a ledger-format message dict (the imperative API).

        The message is journaled whatever becomes of it. A refused message comes back as a
        ``rejected`` result whose ``error`` is the typed error (a :class:`MessageError` for a
        message that cannot be read, else the domain's, e.g. :class:`OverfillError`); with
        ``strict=True`` that error is raised instead.
        """
        try:
            raw = orjson.dumps(message, default=str)
        except TypeError as error:  # e.g. a lone surrogate in a string: not encodable as UTF-8
            raise MessageError(f"the message cannot be written as JSON: {error}") from None
        item = _read_ledger_line(raw, origin, None)
        with self._writing:
            results, committed = self.processor.process([item])
            self._after_commit(committed)
        result = results[0]
        if result.outcome is Outcome.REJECTED and result.error is None:
            result.error = _read_error(raw) or MessageError(result.reason or "the message was refused")
        if strict and result.error is not None:
            raise result.error
        return result

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
        moment = self.processor.clock() if ts is None else ts
        message = {
            "type": "instrument",
            "venue": venue,
            "instrument": instrument,
            "ts": format_timestamp(moment) if isinstance(moment, datetime) else moment,
            "source": source,
            **{k: str(v) if isinstance(v, Decimal) else v for k, v in definition.items() if v is not None},
        }
        return self.record(message)

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
        # Imported here, not at the top: start-up cost. The venue adapters load only for an ingest
        # of their format, not with every command.
        from orderledger.infrastructure.adapters.ccxt_markets import market_list, market_message

        moment = format_timestamp(self.processor.clock() if ts is None else ts)
        items: list[Inbound | None] = []
        for number, market in enumerate(market_list(markets), start=1):
            raw = orjson.dumps(market, default=str, option=orjson.OPT_SORT_KEYS)
            item = Inbound(raw=raw, origin=origin, line_no=number, format="ccxt-markets")
            try:
                item.messages = [
                    parse_message(market_message(market, venue=venue, ts=moment, instrument_of=instrument_of))
                ]
            except (MessageError, ValueError) as error:
                item.error = _reason(error)
            items.append(item)
        return self.ingest_inbound(items)

    def instruments(self, *, venue: str | None = None, every_version: bool = False) -> list[InstrumentRow]:
        """Instrument definitions in force (or every version), from the log."""
        return list_instruments(self.db, self.mapper, venue=venue, every_version=every_version)

    def _fold_inline(
        self, tx: Any, committed: list[tuple[int, OrderEvent]], decided: dict[str, Order]
    ) -> None:
        if self.project:
            self.views.fold_inline(tx, committed, decided)

    def _after_commit(self, committed: list[tuple[int, OrderEvent]]) -> None:
        """Read-your-writes: views include this commit (folded inline, or caught up now)."""
        if self.project and not (committed and self.views.inline_position == committed[-1][0]):
            self.views.catch_up(committed)
        if committed:
            self.committed.notify()

    def catch_up(self) -> CatchUpStats:
        """Bring every view up to the end of the log."""
        with self._writing:
            return self.views.catch_up()

    def views_position(self) -> int:
        """The log position every view has reached (what a ``project --follow`` reports)."""
        return max(self.views.positions().values())

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
        known = self.view_names
        chosen = known if names is None else list(names)
        unknown = [n for n in chosen if n not in known]
        if unknown:
            raise InvalidInputError(f"no view is named {unknown[0]!r}: the views are {', '.join(known)}")
        if not chosen:
            raise InvalidInputError(f"name at least one view: {', '.join(known)}")
        with self._writing:
            return self.views.rebuild(chosen, progress=progress, jobs=jobs)

    def init_database(
        self, app_role: str | None = None, password: str | None = None, cost_basis: str | None = None
    ) -> list[str]:
        """Create the schema (tables, indexes, append-only triggers) and, on PostgreSQL, the
        application role with ``password``; ``cost_basis`` sets the rule of a new ledger's
        positions and P&L (``set_cost_basis`` changes an existing one's); returns what was done,
        a line each."""
        rule = None if cost_basis is None else _cost_basis(cost_basis)
        if rule is not None and rule != self.cost_basis() and self.log_position():
            raise InvalidInputError(
                f"this ledger already has events under {self.cost_basis()}: change its rule with"
                f" `orderledger db cost-basis {rule} --yes`",
                field="cost_basis",
            )
        done = list(init_database(self.db, self.recorder, self.views, app_role, password))
        if rule is not None:
            self.recorder.set_setting(COST_BASIS_SETTING, rule)
            done.append(f"positions and P&L use cost basis {rule}")
        return done

    def cost_basis(self) -> str:
        """The rule this ledger's positions and P&L use when a query names none: average (the
        default, and what a ledger created without one reads as), fifo, lifo or hifo."""
        return self.recorder.setting(COST_BASIS_SETTING) or "average"

    def set_cost_basis(self, cost_basis: str) -> str:
        """Make ``cost_basis`` the rule of this ledger's positions and P&L; returns the rule it
        replaces. The log is untouched: every figure under the new rule is folded from it."""
        rule = _cost_basis(cost_basis)
        with self._writing:
            previous = self.cost_basis()
            if rule != previous:
                self.recorder.set_setting(COST_BASIS_SETTING, rule)
        return previous

    # ------------------------------------------------------------------ following, placing

    def follow(
        self,
        since: Count = 0,
        *,
        poll_seconds: Annotated[float, Gt(0)] = POLL_SECONDS,
        stop: threading.Event | None = None,
    ) -> Iterator[CommittedEvent]:
        """Every committed event after position ``since``, then each new one live, also those
        written by other processes (``infrastructure/application/follow.py``)."""
        return follow(self, since, poll_seconds=poll_seconds, stop=stop)

    def placing(
        self, spec: dict[str, Any], *, rejections: tuple[type[BaseException], ...] = ()
    ) -> contextlib.AbstractContextManager[Placement]:
        """Intent before send: record the request, yield the client order ID to send it with,
        record the venue's answer (``infrastructure/application/placing.py``)."""
        return placing(self, spec, rejections=rejections)

    # ------------------------------------------------------------------ querying orders

    def resolve(self, key: str, venue: str | None = None) -> str:
        """Find a client order ID from itself, or from a venue order ID or ``name=value`` alias."""
        with self._writing:  # the processor's order cache is shared with writers
            known = self.processor.load_order(key) is not None
        if known:
            return key
        with self.db.read() as tx:
            if "=" in key:
                name, value = key.split("=", 1)
                rows = tx.all(
                    "SELECT venue, client_order_id FROM identities WHERE kind = ? AND value = ?",
                    (ALIAS + name, value),
                )
            else:
                rows = tx.all(
                    "SELECT venue, client_order_id FROM identities WHERE kind = ? AND value = ?",
                    (VENUE_ORDER_ID, key),
                )
        rows = [r for r in rows if venue is None or r[0] == venue]
        if len(rows) == 1:
            return str(rows[0][1])
        if len(rows) > 1:
            raise OrderNotFoundError(f"{key!r} names orders at several venues; give `venue`")
        raise OrderNotFoundError(f"no order {key!r} (client order ID, venue order ID or alias)")

    def _order_now(self, client_order_id: str, *, version: Version | None = None) -> Order:
        """An order now, or at a given version."""
        stored = self.recorder.select_events(
            order_id_for(client_order_id), lte=version, client_order_id=client_order_id
        )
        order = replay(
            self.mapper.decode(s.topic, s.state, s.originator_id, s.originator_version) for s in stored
        )
        if order is None:
            raise OrderNotFoundError(f"no order {client_order_id!r}", client_order_id=client_order_id)
        if version is not None and order.version < version:
            raise InvalidInputError(
                f"order {client_order_id!r} has no version {version} (its last is {order.version})",
                field="version",
            )
        return order

    def _order_as_of(self, client_order_id: str, as_of: datetime, *, event_time: bool = False) -> Order:
        """An order as the ledger knew it at ``as_of`` (recorded time, or venue time)."""
        order: Order | None = None
        for event in self.order_events(client_order_id):
            if (event.ts_event if event_time else event.ts_recorded) > as_of:
                continue
            if order is None:
                if not isinstance(event, OrderRequested):
                    continue  # a venue clock ahead of ours: the order did not exist yet
                order = replay([event])
            elif isinstance(event, FillBusted | FillCorrected) and event.trade_id not in order.fills:
                continue  # by venue time the trade had not happened yet
            else:
                order.apply(event)
        if order is None:
            raise OrderNotFoundError(
                f"order {client_order_id!r} did not exist at {format_timestamp(as_of)}",
                client_order_id=client_order_id,
            )
        return order

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        """Every event of one order, in version order."""
        stored = self.recorder.select_events(order_id_for(client_order_id), client_order_id=client_order_id)
        return [self.mapper.decode(s.topic, s.state, s.originator_id, s.originator_version) for s in stored]

    def history(self, key: str) -> list[HistoryEntry]:
        """Every event of one order (client order ID, venue order ID or alias) beside the message
        that produced it."""
        client_order_id = self.resolve(key)
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state,"
                " m.message_id, m.raw, m.origin, m.line_no FROM events e"
                " LEFT JOIN messages m ON m.message_id = e.message_id"
                " WHERE e.client_order_id = ? AND e.originator_id = ? ORDER BY e.originator_version",
                (client_order_id, str(order_id_for(client_order_id))),
            )
        if not rows:
            raise OrderNotFoundError(f"no order {client_order_id!r}", client_order_id=client_order_id)
        decode = self.mapper.decode
        return [
            HistoryEntry(
                r[0],
                decode(r[3], bytes(r[4]), UUID(r[1]), r[2]),
                r[5],
                None if r[6] is None else bytes(r[6]),
                r[7],
                r[8],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ typed queries

    def order(
        self,
        key: str,
        *,
        version: Version | None = None,
        as_of: datetime | None = None,
        event_time: bool = False,
    ) -> Order:
        """One order (by client order ID, venue order ID or ``name=value`` alias): now, at an
        event ``version``, or as the ledger knew it ``as_of`` a time (venue time with
        ``event_time``)."""
        if version is not None and as_of is not None:
            raise InvalidInputError("give a version or an as-of time, not both")
        client_order_id = self.resolve(key)
        if as_of is not None:
            return self._order_as_of(client_order_id, parse_timestamp(as_of, "as_of"), event_time=event_time)
        return self._order_now(client_order_id, version=version)

    def iter_orders(
        self, where: Filter, *, open: bool = False, as_of: datetime | None = None, event_time: bool = False
    ) -> Iterator[OrderRow]:
        """Orders matching ``where``, by creation time, read a page at a time (from the orders
        view), or as the ledger knew them ``as_of`` a time (folded from the log)."""
        if as_of is None:
            yield from iter_orders(self.db, where, open_only=open)
            return
        yield from self._orders_as_of(where, open, as_of, event_time, count=False)

    def _orders_as_of(
        self, where: Filter, open: bool, as_of: datetime, event_time: bool, *, count: bool
    ) -> Page[OrderRow]:
        """The orders ``where`` selects as the ledger knew them ``as_of`` (folded from the log),
        sorted and paged as the orders view's are."""
        moment = parse_timestamp(as_of, "as_of")
        folded = orders_as_of(self.db, self.mapper, moment, event_time=event_time, open_only=open)
        order = ordering("orders", where, "python", open=open, as_of=moment, event_time=event_time)
        return sorted_page(
            [r for r in folded if _matches(r, where)], order, row_value, where.limit, count=count
        )

    def orders(
        self,
        *,
        open: bool = False,
        account: str | None = None,
        venue: str | None = None,
        instrument: str | None = None,
        parent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        as_of: datetime | None = None,
        event_time: bool = False,
        newest: bool = False,
        limit: Count | None = None,
        sort: str | None = None,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[OrderRow]:
        """Orders as they stand, oldest created first (``newest``: reversed; ``sort``: another
        order, ``listing.LISTINGS``): only ``open`` ones, of an account, venue, instrument or
        parent, created between ``since`` and ``until``; or as the ledger knew them ``as_of`` a
        time (venue time with ``event_time``). A :class:`Page`: its ``next_cursor`` continues
        after the ``limit`` rows given (``cursor=``); ``count``: ``total`` says how many match."""
        where = Filter(
            account=account,
            venue=venue,
            instrument=instrument,
            parent=parent,
            since=since,
            until=until,
            newest=newest,
            limit=limit,
            sort=sort,
            cursor=cursor,
        )
        if as_of is None:
            return order_page(self.db, where, open_only=open, count=count)
        return self._orders_as_of(where, open, as_of, event_time, count=count)

    def iter_trades(self, where: Filter) -> Iterator[TradeRow]:
        """Trades matching ``where`` by venue time, read a page at a time (``where.client_order_id``
        may be a venue order ID or an alias: it is resolved)."""
        if where.client_order_id is not None:
            where = replace(where, client_order_id=self.resolve(where.client_order_id))
        return iter_trades(self.db, where)

    def trades(
        self,
        *,
        account: str | None = None,
        venue: str | None = None,
        instrument: str | None = None,
        order: str | None = None,
        parent: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest: bool = False,
        limit: Count | None = None,
        sort: str | None = None,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[TradeRow]:
        """The trade blotter by venue time (``sort``: another order): one row per fill as it
        stands after busts and corrections; ``order``: one order's (client order ID, venue order
        ID or alias). A :class:`Page`, as :meth:`orders` answers."""
        where = Filter(
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=order,
            parent=parent,
            since=since,
            until=until,
            newest=newest,
            limit=limit,
            sort=sort,
            cursor=cursor,
        )
        if where.client_order_id is not None:
            where = replace(where, client_order_id=self.resolve(where.client_order_id))
        return trade_page(self.db, where, count=count)

    def _books(
        self, cost_basis: str, as_of: datetime | None, event_time: bool
    ) -> dict[tuple[str, str, str], Book]:
        """Every book under ``cost_basis``, folded from the log (up to ``as_of``)."""
        rule = _cost_basis(cost_basis)
        wanted = EventFilter(
            types=("OrderFilled", "FillBusted", "FillCorrected", "InstrumentDefined"),
            until=None if as_of is None else parse_timestamp(as_of, "as_of"),
            event_time=event_time,
        )
        found = ((p, e) for p, e, _ in search_events(self.db, self.mapper, wanted))
        return fold_books(fills_of(found), rule)

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
        opening and closing fill, cost, proceeds, fees and P&L. Folded from the log."""
        if cost_basis == "average":
            raise InvalidInputError(
                "lots need a lot rule: fifo, lifo or hifo, not average", field="cost_basis"
            )
        books = self._books(cost_basis, as_of, event_time)
        if closed:
            return [LotRow.of_closed(cost_basis, lot) for b in books.values() for lot in b.closed]
        return [LotRow.of_open(cost_basis, lot) for b in books.values() for lot in b.open]

    def positions(
        self,
        *,
        marks: Mapping[str, Decimal] | None = None,
        as_of: datetime | None = None,
        event_time: bool = False,
        cost_basis: str | None = None,
    ) -> list[PositionRow]:
        """Positions with realized P&L, and unrealized P&L for the instruments given a mark;
        now, or as they stood ``as_of`` a time (folded from the log). The live view keeps
        average cost; ``cost_basis`` (average, fifo, lifo, hifo) folds the log under that rule
        instead, leaving the view untouched. A mark for an instrument no position holds is
        refused (a typo would otherwise value nothing)."""
        marks = dict(marks or {})
        cost_basis = self._rule_of(cost_basis)
        if cost_basis is not None:
            when = None if as_of is None else parse_timestamp(as_of, "as_of")
            books = self._books(cost_basis, as_of, event_time)
            folded = [b.position for b in books.values()]
            fills = [(key, fill) for key, b in books.items() for fill in b.fills]
            rows = position_rows(self.db, folded, marks, as_of=when, event_time=event_time, paid=fills)
        elif as_of is None:
            rows = positions(self.db, marks)
        else:
            moment = parse_timestamp(as_of, "as_of")
            books_then, entries = positions_as_of(self.db, self.mapper, moment, event_time=event_time)
            booked = [((e.account, e.venue, e.instrument), e) for e in entries]
            rows = position_rows(self.db, books_then, marks, as_of=moment, event_time=event_time, paid=booked)
        unknown = sorted(set(marks) - {r.instrument for r in rows})
        if unknown:
            held = ", ".join(sorted({r.instrument for r in rows})) or "none"
            raise InvalidInputError(
                f"mark {unknown[0]}: no position in that instrument (held: {held})", field="mark"
            )
        return rows

    def export(
        self,
        table: str,
        out: str | Path | io.BufferedIOBase | io.RawIOBase,
        *,
        fmt: str = "jsonl",
        force: bool = False,
        raw: bool = False,
        cost_basis: str = "fifo",
    ) -> int:
        """Write a whole table (``exports.TABLES``: trades, orders, events, lots, closed-lots under
        ``cost_basis``) to a file or a binary stream (``open(path, 'wb')``, ``io.BytesIO``) as
        csv, jsonl or parquet; returns the rows written. A file is replaced only with ``force``,
        never when it is the ledger's own; CSV cells a spreadsheet would run as formulas are
        neutralised unless ``raw``."""
        check_export(table, fmt, raw)
        everything = Filter()
        found: Iterable[Any]
        if table == "trades":
            found = self.iter_trades(everything)
        elif table == "orders":
            found = self.iter_orders(everything)
        elif table in ("lots", "closed-lots"):
            found = self.lots(cost_basis=cost_basis, closed=table == "closed-lots")
        else:
            found = self.iter_events(everything)
        rows = (row.to_json() for row in found)
        return write_export(rows, out, fmt=fmt, raw=raw, force=force, ledger_url=self.url)

    def pnl(self, *, by: str = "day", cost_basis: str | None = None) -> list[PnlRow]:
        """Realized P&L and fees grouped by day, account, venue, instrument, parent or
        ``tag:NAME``, one row per group and P&L currency; from the live (average-cost) entries,
        or (``cost_basis``) under another rule folded from the log, each fill credited with what
        it realized when it closed."""
        cost_basis = self._rule_of(cost_basis)
        if cost_basis is None:
            return pnl_rows(self.db, by)
        tag = pnl_tag(by)
        fills = [f for b in self._books(cost_basis, None, False).values() for f in b.fills]
        parents = order_parents(self.db) if by == "parent" else {}

        def group(f: Fill) -> Any:
            if tag is not None:
                return f.tags.get(tag)
            if by == "parent":
                return parents.get(f.client_order_id)
            return f.ts_event.date().isoformat() if by == "day" else getattr(f, by)

        return grouped_pnl(
            by,
            ((group(f), f.realized, f.fee, f.fee_currency, f.pnl_currency, "fill", f) for f in fills),
            cash_flows_by(self.db, by),
            recorded_rates(self.db, fills),
        )

    def pnl_daily(self, *, by: str = "account", cost_basis: str | None = None) -> list[DailyPnlRow]:
        """P&L per UTC day by account, parent or ``tag:NAME``: realized, fees, cash flows and
        unrealized at the day's last recorded marks (see ``queries.daily_pnl_rows``); under the
        ledger's cost-basis rule, or ``cost_basis``."""
        return daily_pnl_rows(self.db, by, cost_basis or self.cost_basis())

    def _rule_of(self, cost_basis: str | None) -> str | None:
        """The rule a query folds the log under: the one it names, else the ledger's when that is
        not average; None: the live average-cost views answer."""
        if cost_basis is not None:
            return cost_basis
        rule = self.cost_basis()
        return None if rule == "average" else rule

    def pnl_series(self) -> list[PnlPoint]:
        """Realized P&L entry by entry in log order, with running totals per quote currency."""
        return realized_series(self.db)

    def iter_events(
        self, where: Filter, *, types: Sequence[str] = (), event_time: bool = False
    ) -> Iterator[EventRecord]:
        """Events of the global log matching ``where`` (``since``/``until``: recorded time, or
        venue time with ``event_time``), in log order, read in chunks."""
        wanted = self._event_filter(where, types, event_time)
        if where.sort is None and where.cursor is None:
            found = search_events(self.db, self.mapper, wanted, newest=where.newest)
        else:
            order = ordering("events", where, self.db.dialect, types=wanted.types, event_time=event_time)
            found = search_events(self.db, self.mapper, wanted, order=order)
        return islice((EventRecord.of(p, e, m) for p, e, m in found), where.limit)

    def _event_filter(self, where: Filter, types: Sequence[str], event_time: bool) -> EventFilter:
        return EventFilter(
            types=tuple(types),
            account=where.account,
            venue=where.venue,
            instrument=where.instrument,
            client_order_id=None if where.client_order_id is None else self.resolve(where.client_order_id),
            since=where.since,
            until=where.until,
            event_time=event_time,
        )

    def events(
        self,
        *,
        types: Sequence[str] = (),
        account: str | None = None,
        venue: str | None = None,
        instrument: str | None = None,
        order: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        event_time: bool = False,
        newest: bool = False,
        limit: Count | None = None,
        sort: str | None = None,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[EventRecord]:
        """Search the global log by event type (``OrderFilled`` …), account, venue, instrument,
        order and time; in log order (``newest``: reversed; ``sort``: another order). A
        :class:`Page`, as :meth:`orders` answers."""
        where = Filter(
            account=account,
            venue=venue,
            instrument=instrument,
            client_order_id=order,
            since=since,
            until=until,
            newest=newest,
            limit=limit,
            sort=sort,
            cursor=cursor,
        )
        return event_page(
            self.db, self.mapper, self._event_filter(where, types, event_time), where, count=count
        )

    def events_after(self, position: Count, limit: Count) -> list[EventRecord]:
        """Up to ``limit`` committed events after log ``position``, in log order (what a live
        follower reads next; ``message_id`` is not read here: ``history`` has it)."""
        notifications = self.recorder.select_notifications(position, limit, inclusive_of_start=False)
        decode = self.mapper.decode
        return [
            EventRecord.of(n.id, decode(n.topic, n.state, n.originator_id, n.originator_version), None)
            for n in notifications
        ]

    def log_position(self) -> int:
        """The position of the last committed event (0 for an empty log)."""
        return self.recorder.max_notification_id() or 0

    def views_lag(self) -> ViewsLag:
        """How far the views are behind the log (``behind`` 0: current). Answers from the views
        (orders and positions now, trades, P&L, exports of orders and trades) show the log up to
        the slowest view's position; they do not fold what is missing (a reader may have no write
        access, and a large lag would make one query pay for it): they say it."""
        with self.db.read() as tx:
            tracked = {str(r[0]): int(r[1]) for r in tx.all("SELECT view, position FROM view_tracking")}
            log_end = int(tx.one("SELECT MAX(notification_id) FROM events")[0] or 0)
        return ViewsLag(min(tracked.get(name, 0) for name in self.views.by_name), log_end)

    def iter_messages(
        self,
        where: Filter,
        *,
        outcome: str | None = None,
        parked: bool = False,
        older_than: timedelta | None = None,
    ) -> Iterator[MessageRecord]:
        selected, outcome = self._journal_filter(where, outcome, parked, older_than)
        return iter(()) if selected is None else iter_messages(self.db, selected, outcome=outcome)

    def _journal_filter(
        self, where: Filter, outcome: str | None, parked: bool, older_than: timedelta | None
    ) -> tuple[Filter | None, str | None]:
        """The message journal in arrival order (``where.newest``: reversed): every inbound
        message verbatim with its outcome (an ``Outcome``).
        ``parked``: the messages still parked; ``older_than``: only those received longer ago
        than that (parked too long: stuck)."""
        if parked and outcome not in (None, Outcome.PARKED):
            raise InvalidInputError(
                f"`parked` lists parked messages; it cannot be combined with `outcome` {outcome}"
            )
        if older_than is not None and not parked:
            raise InvalidInputError("`older_than` goes with `parked` (messages parked for too long)")
        if older_than is not None:
            cutoff = datetime.now(UTC) - older_than
            if where.since is not None and where.since > cutoff:
                return None, outcome  # received after the cutoff: none is parked too long
            where = replace(where, until=cutoff if where.until is None else min(where.until, cutoff))
        return where, Outcome.PARKED if parked else outcome

    def messages(
        self,
        *,
        outcome: str | None = None,
        parked: bool = False,
        older_than: timedelta | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        newest: bool = False,
        limit: Count | None = None,
        sort: str | None = None,
        cursor: str | None = None,
        count: bool = False,
    ) -> Page[MessageRecord]:
        """The message journal, oldest first (``newest``: reversed; ``sort``: another order); see
        :meth:`iter_messages`. A :class:`Page`, as :meth:`orders` answers."""
        where = Filter(since=since, until=until, newest=newest, limit=limit, sort=sort, cursor=cursor)
        selected, outcome = self._journal_filter(where, outcome, parked, older_than)
        if selected is None:
            return Page([], None, 0 if count else None)
        return message_page(self.db, selected, outcome=outcome, count=count)

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
        if not book:
            with self._writing:
                return set_aside(
                    self.recorder,
                    message_id,
                    reason=reason,
                    by=by,
                    now=self.processor.clock(),
                    origin=origin,
                )
        why, who = settlement_terms(reason, by)
        with self.db.read() as tx:
            line = parked_line(tx, message_id)
        if line.format not in ADAPTER_FORMATS:
            raise InvalidInputError(
                f"message {message_id} is a {line.format}-format message, which states no order's"
                " details: set it aside instead"
            )
        check_options(line.format, line.venue, account)
        feed = _open_feed(self, line.format, line.venue, account)
        if feed is not None and feed.context_note is not None:
            # What the feed learnt from earlier lines (a Lighter market map, Hyperliquid spot
            # names), it learns again from the journal's copies of them.
            with self.db.read() as tx:
                for context in context_lines(tx, line.format, message_id, feed.context_note):
                    with contextlib.suppress(LedgerError):
                        feed.messages(context, [])
        item = _read_adapter_line(line.raw, origin, 0, line.format, line.venue, account, feed)
        if item.error is not None:
            raise InvalidInputError(f"message {message_id} cannot be read again to book it: {item.error}")
        if not any(isinstance(m, RequestMessage) for m in item.messages):
            raise InvalidInputError(
                f"message {message_id} does not carry an order's details (account, instrument, side,"
                " quantity and venue order ID): set it aside instead"
            )
        item.line_no = None
        item.notes.append(f"books parked message {message_id} (by {who}: {why})")
        results: list[Result] = []
        self.ingest_inbound([item], on_batch=results.extend)
        settled = results[0]
        if settled.outcome is Outcome.REJECTED:
            raise InvalidInputError(f"message {message_id} could not be booked: {settled.reason}")
        assert settled.message_id is not None
        return settled.message_id

    def verify(
        self,
        *,
        expect_head: Head | tuple[int, str] | None = None,
        heads: Mapping[int, str] | None = None,
        journal_heads: Mapping[int, str] | None = None,
        deep: bool = False,
    ) -> VerifyReport:
        """Check the storage, the hash chains, the views and the journal against the log; heads
        recorded earlier (``expect_head``: a :class:`Head` covers the journal too; ``heads``,
        ``journal_heads``: position → hash) must still be in the chains."""
        expected = None if expect_head is None else _head_pair(expect_head)
        journal = dict(journal_heads or {})
        if isinstance(expect_head, Head) and expect_head.journal is not None:
            journal = merge_heads(journal, [expect_head.journal], "expect_head")
        report = verify(
            self.db,
            self.mapper,
            expect_head=expected,
            heads=heads,
            journal_heads=journal,
            deep=deep,
        )
        report.heads_checked = len(heads or {}) + len(journal) + (expected is not None)
        return report

    def head(self) -> Head | None:
        """The chains' heads, to record outside the database (None while both are empty)."""
        found, journal = stored_head(self.db), stored_journal_head(self.db)
        if found is None and journal is None:
            return None
        return Head(*(found or (0, "")), journal=journal)

    def reconcile(
        self,
        snapshot: Snapshot | str | bytes,
        *,
        apply: bool = False,
        grace: timedelta = timedelta(seconds=60),
        origin: str = "reconcile",
    ) -> ReconcileReport:
        """Compare a venue's snapshot (docs/reconciliation.md) with the ledger and report the
        differences; with ``apply``, record the corrections. Orders requested within ``grace``
        are left alone."""
        parsed = snapshot if isinstance(snapshot, Snapshot) else parse_snapshot(snapshot)
        self.catch_up()
        reconciler = Reconciler(self, parsed, grace=grace)
        found = reconciler.differences()
        if apply:
            reconciler.apply(found, origin=origin)
        return ReconcileReport(parsed.venue, parsed.account, apply, tuple(found))


def _matches(row: OrderRow, where: Filter) -> bool:
    """The orders view's filter, applied to an order folded from the log."""
    wanted = (
        (where.account, row.account),
        (where.venue, row.venue),
        (where.instrument, row.instrument),
        (where.client_order_id, row.client_order_id),
        (where.parent, row.parent_id),
    )
    return (
        all(value is None or value == actual for value, actual in wanted)
        and (where.since is None or row.created_at >= where.since)
        and (where.until is None or row.created_at <= where.until)
    )


def _read_error(raw: bytes) -> LedgerError | None:
    """The typed error reading a refused message raised (read again: only a refusal pays)."""
    try:
        message_from_line(raw)
    except LedgerError as error:
        return error
    except Exception:
        return None
    return None


def _head_pair(head: Head | tuple[int, str]) -> tuple[int, str] | None:
    if isinstance(head, Head):
        return (head.position, head.hash) if head.position else None
    return head


MAX_REASON = 300
"""Longest reason a rejected line gets: a 1 MB value is never echoed back whole."""
INTERNAL_ERROR = "internal error reading the line"
"""How the reason starts when a line reader failed unexpectedly (a bug, never the line's fault)."""


def _is_json(data: bytes) -> bool:
    """True for a payload stored as plain JSON (written without a cipher)."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def _reason(error: BaseException) -> str:
    """One line of at most MAX_REASON characters saying why."""
    message = str(getattr(error, "message", None) or str(error))
    first = next((part.strip() for part in message.splitlines() if part.strip()), type(error).__name__)
    return first if len(first) <= MAX_REASON else first[: MAX_REASON - 1] + "…"


def _raw_bytes(line: str | bytes) -> bytes:
    """The bytes of a line: a ``str`` read with surrogateescape gets its bytes back; other lone
    surrogates are kept (as CESU-8) so the line is journaled and refused, not lost."""
    if isinstance(line, bytes):
        return line
    try:
        return line.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return line.encode("utf-8", "surrogatepass")


def _internal(error: Exception) -> str:
    return _reason(ValueError(f"{INTERNAL_ERROR}: {type(error).__name__}: {_reason(error)}"))


def _read_ledger_line(line: str | bytes, origin: str, number: int | None) -> Inbound:
    raw = (line if type(line) is bytes else _raw_bytes(line)).rstrip(b"\r\n")
    if not raw or raw.isspace():
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger")
    try:
        messages = [message_from_line(raw)]
    except (MessageError, ValueError) as error:
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger", error=_reason(error))
    except Exception as error:  # a reader bug must cost one line, not the rest of the input
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger", error=_internal(error))
    return Inbound(raw, origin, number, "ledger", messages)  # raw, origin, line_no, format, messages


def _open_feed(ledger: OrderLedger, fmt: str, venue: str | None, account: str | None) -> Any:
    """The per-ingest state of a format that reads the ledger (application.feeds), else None."""
    # Start-up cost: the feeds and the venue adapters they drive load only for an ingest of a
    # format that reads the ledger.
    from orderledger.infrastructure.application.feeds import open_feed

    if not FORMATS[fmt].reads_ledger:
        return None
    return open_feed(ledger, fmt, venue or "", account or "")


def _read_adapter_line(
    line: str | bytes,
    origin: str,
    number: int,
    fmt: str,
    venue: str | None,
    account: str | None,
    feed: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Inbound:
    """One line of venue input, translated by its adapter (the raw line is what is journaled).

    The caller has checked the format and what it needs (``formats.check_options``)."""
    # Start-up cost: the venue adapters load only for an ingest of their format.
    from orderledger.infrastructure.adapters.ccxt import payload_messages
    from orderledger.infrastructure.adapters.fix import fix_messages

    raw = _raw_bytes(line).rstrip(b"\r\n")
    if not raw.strip():
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt)
    notes: list[str] = []
    try:
        if feed is not None:
            messages = feed.messages(raw, notes)
        elif fmt == "ccxt":
            messages = payload_messages(
                decode_json(raw), venue=venue or "", account=account or "", notes=notes
            )
        else:
            # The raw bytes: CheckSum (10) and BodyLength (9) count bytes, and a Latin-1 Text must survive.
            messages = fix_messages(raw, venue=venue or "", account=account, notes=notes, **(options or {}))
    except (MessageError, ValueError, TypeError, KeyError) as error:
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt, error=_reason(error))
    except Exception as error:  # an adapter bug must cost one line, not the rest of the input
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt, error=_internal(error))
    item = inbound(raw, messages, origin=origin, format=fmt, notes=notes)
    if item.error is not None:
        item.error = _reason(ValueError(item.error))
    item.line_no = number
    return item


MAX_BATCH_BYTES = 8_000_000
"""A batch also ends at this many bytes of input, so 1,000 lines of 1 MB are never held at once."""


def _batches(items: Iterable[Inbound | None], size: int) -> Iterator[list[Inbound]]:
    batch: list[Inbound] = []
    held = 0
    for item in items:
        if item is None:  # the input paused: commit what is held rather than wait for more
            if batch:
                yield batch
                batch, held = [], 0
            continue
        batch.append(item)
        held += len(item.raw)
        if len(batch) >= size or held >= MAX_BATCH_BYTES:
            yield batch
            batch = []
            held = 0
    if batch:
        yield batch


def _now() -> float:
    return time.perf_counter()


__all__ = ["HistoryEntry", "IngestReport", "OrderLedger"]
