"""Recording facts: the ledger's write path (``OrderLedger.ingest_lines``, ``ingest_inbound``,
``record``, ``load_ccxt_markets``, booking a parked message). Its lines are translated by
``translating``; here each batch goes through the risk door, is decided and committed by the
writer (``ingest.processing``, each message as ``ingest.batch.DECISIONS`` says), and the views
are brought to it (``application.bootstrap`` lists the stages in order).

``OrderLedger`` keeps the public methods (their signatures and the argument checks); each
delegates here with itself as ``ledger``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.events import BreachRecorded
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.adapters.declared import load
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.application.writes.translating import (
    feed_for,
    line_reader,
    read_adapter_line,
    read_error,
    read_ledger_line,
    reason,
    translated,
    translation_for,
)
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.ingest.caches import fewer_collections
from orderledger.infrastructure.ingest.formats import check_options
from orderledger.infrastructure.ingest.inbound import Inbound, Result
from orderledger.infrastructure.ingest.processing import Processor
from orderledger.infrastructure.ingest.settlement import (
    context_lines,
    parked_line,
    set_aside,
    settlement_terms,
)
from orderledger.infrastructure.messages.models import RequestMessage
from orderledger.infrastructure.storage.db import table_columns

if TYPE_CHECKING:
    from orderledger.domain.events import OrderEvent
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts


OUTCOMES = tuple(o for o in Outcome if o is not Outcome.DENIED)
"""What an ingest counts always; ``denied`` (a request of ours the risk door refused) is counted
once a line is denied."""


@dataclass
class IngestReport:
    """Counts per outcome, the rejected lines, and the time taken."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    rejected: list[Result] = field(default_factory=list)
    denied: list[Result] = field(default_factory=list)
    events: int = 0
    lines: int = 0
    seconds: float = 0.0
    stored: bool = True
    flagged: int = 0
    """The orders recorded from a venue's facts that breach a limit or state in force (never
    refused: each recorded with its breach fact and an anomaly)."""

    def add(self, result: Result) -> None:
        outcome = result.outcome
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.lines += 1
        self.events += len(result.events)
        if outcome is Outcome.REJECTED:
            self.rejected.append(result)
        elif outcome is Outcome.DENIED:
            self.denied.append(result)
        elif result.flagged:
            self.flagged += result.flagged

    def refused(self) -> None:
        """A strict ingest that stored nothing: the counts say what the ledger holds from it
        (the rejected lines as ``rejected``, every other as ``not stored``, no events), not what
        the batch that went with them had decided."""
        self.stored = False
        self.counts = dict.fromkeys(self.counts, 0)
        self.counts[Outcome.REJECTED] = len(self.rejected)
        self.counts["not stored"] = self.lines - len(self.rejected)
        self.events = self.flagged = 0


def result_record(result: Result) -> dict[str, Any]:
    """What became of one input, as JSON: the CLI's ``ingest --acks`` line and an entry of
    ``POST /messages``'s ``results``."""
    return {
        "line": result.line_no,
        "outcome": result.outcome,
        "message_id": result.message_id,
        "client_order_id": result.client_order_id,
        "events": len(result.events),
        "reason": result.reason,
        **({"breaches": result.breaches} if result.breaches else {}),
        **({"flagged": result.flagged} if result.flagged else {}),
    }


@dataclass(frozen=True)
class Ingested:
    """What an ``Ingest`` request answers: the report, and every line's result in order (the
    rejected ones of a refused strict batch only, as nothing else was stored)."""

    report: IngestReport
    results: list[Result]


def ingest_lines(
    ledger: LedgerParts,
    lines: Iterable[str | bytes | None],
    *,
    origin: str,
    strict: bool,
    on_batch: Callable[[list[Result]], None] | None,
    fmt: str,
    venue: str | None,
    account: str | None,
    options: Mapping[str, Any] | None,
) -> IngestReport:
    """``OrderLedger.ingest_lines``: the lines read (``lines``), each translated by its format
    (``translating``), then decided, committed and projected in group commits
    (:func:`ingest_inbound`)."""
    reader = line_reader(ledger, fmt, venue, account, options, origin=origin, strict=strict)
    items = translated(ledger, lines, reader, after_commit=_record_verdicts)
    return ingest_inbound(ledger, items, strict=strict, on_batch=on_batch)


def ingest_inbound(
    ledger: LedgerParts,
    items: Iterable[Inbound | None],
    *,
    strict: bool,
    on_batch: Callable[[list[Result]], None] | None,
) -> IngestReport:
    """``OrderLedger.ingest_inbound``: batches committed one at a time under the ledger's write lock."""
    report = IngestReport()
    started = _now()
    if strict:
        batches: Iterator[list[Inbound]] = iter([[i for i in items if i is not None and i.raw.strip()]])
    else:
        # A blank input is skipped: raw.isspace() says so without stripping a copy of the line.
        batches = _batches(
            (i for i in items if i is None or (i.raw and not i.raw.isspace())), ledger.batch_size
        )
    views = ledger.views
    with fewer_collections(), views.deferring(ledger._writing):
        for batch in batches:
            with ledger._writing:
                # A full batch may have more behind it: its folds may leave a long re-fold for
                # the run's end (``Views.deferring``), so a disordered session re-folds a book
                # once, not once per commit.
                views.defer = len(batch) >= ledger.batch_size
                results = _commit(ledger, batch, strict=strict)
                if strict and any(r.outcome is Outcome.REJECTED for r in results):
                    report.stored = False
            for result in results:
                report.add(result)
            if on_batch is not None and report.stored:
                on_batch(results)
    if not report.stored:
        report.refused()
    report.seconds = _now() - started
    return report


def requests_of_ours(batch: Sequence[Inbound]) -> list[Inbound]:
    """The inputs of ``batch`` that are requests of ours, which the risk door judges: lines of the
    ledger's own format (``record``, ``placing``, ``ingest``, ``POST /messages``, ``POST /orders``)
    each holding a ``request`` not marked ``external``. What the ledger learns from a venue (a
    venue's report in its format, however it arrives, a collector's, reconciliation's
    corrections, an external order) is a fact, never refused."""
    return [
        item
        for item in batch
        if len(item.messages) == 1
        and type(item.messages[0]) is RequestMessage
        and item.error is None
        and item.format == "ledger"
        and not item.messages[0].external
    ]


_MESSAGES = attrgetter("messages")
_REQUESTS = frozenset({RequestMessage})


def _holds_a_request(batch: Sequence[Inbound]) -> bool:
    """Whether any input of ``batch`` holds a ``request`` (of ours or not), looked for without a
    Python step per input: every batch is looked through, and most hold none of ours."""
    return not _REQUESTS.isdisjoint(map(type, chain.from_iterable(map(_MESSAGES, batch))))


class _OneByOne(Exception):
    """The door found risk facts recorded and a batch holding a request of ours that is not its
    last input alone: each such request is judged in a commit of its own."""


def requesting(item: Inbound) -> bool:
    """Whether an input holds a request: one of ours (``ours``), or one that may report an order
    the ledger does not hold yet (a venue's, an external one), which the door judges without
    ever refusing it (``pretrade.flag_at_the_door``)."""
    return item.error is None and RequestMessage in map(type, item.messages)


def _venue_facts_judged(ledger: LedgerParts) -> bool:
    """Whether the door judges a batch whose requests are all a venue's (never refused, only
    flagged): when a limit or state is recorded, looked up before the batch's write transaction.
    Such a batch is then decided holding the log lock like one of ours; without risk facts it
    keeps the optimistic commit that lets writers decide batches side by side."""
    # Imported here: the checks load only for a ledger that holds limits or states.
    from orderledger.infrastructure.application.risk import pretrade

    return pretrade.armed(ledger)


def _commit(ledger: LedgerParts, batch: list[Inbound], *, strict: bool = False) -> list[Result]:
    """One batch through the risk door (docs/risk.md, "One door"): a batch holding no request (of
    ours, or a venue's report of an order) is committed as it is. Otherwise the door looks, inside
    the write transaction, for any limit or trading state ever recorded: with none, the batch is
    committed whole (its requests are not even sought); with some, each such input is judged at
    the ledger's time in the transaction that records it, after everything before it is
    committed, so a check sees every order any writer recorded first: a request of ours may be
    denied, a venue's order is flagged."""
    if not _holds_a_request(batch):
        return _committed(ledger, batch, strict=strict)
    ours = requests_of_ours(batch)  # the door's own judgements: the rest of the batch is a venue's
    if not ours and not _venue_facts_judged(ledger):
        return _committed(ledger, batch, strict=strict)
    mine: list[Inbound] = []
    flagging: list[bool] = []  # whether venue facts were judged (their results count the flags)

    def judge() -> None:
        # Imported here: the checks load only for a ledger that holds limits or states.
        from orderledger.infrastructure.application.risk import pretrade

        if not pretrade.armed(ledger):
            return
        mine[:] = [item for item in batch if requesting(item)]
        if not mine:
            return
        alone = len(mine) == 1 and batch[-1] is mine[0]
        now = ledger.processor.clock()
        if alone and ours:
            pretrade.at_the_door(ledger, mine[0], now)
        elif alone or (strict and not ours):  # a venue's facts: judged, never refused
            flagging.append(True)
            for item in mine:
                pretrade.flag_at_the_door(ledger, item, now)
        else:
            raise _OneByOne

    try:
        decided = _committed(ledger, batch, strict=strict, first=judge)
        return _flagged(batch, decided) if flagging else decided
    except _OneByOne:
        pass
    if strict:
        raise InvalidInputError(
            f"a strict batch holds {len(ours)} requests of ours while limits or"
            " trading states are recorded: each is judged in a commit of its own, so the batch"
            " cannot be all or nothing; send them one at a time, or without --strict"
        )
    results: list[Result] = []
    run: list[Inbound] = []
    judged = {id(item) for item in mine}
    for item in batch:
        run.append(item)
        if id(item) in judged:
            results += _commit(ledger, run)
            run = []
    if run:
        results += _commit(ledger, run)
    return results


def _flagged(batch: list[Inbound], results: list[Result]) -> list[Result]:
    """``results`` (one per input of ``batch``), each counting the orders the door flagged in its
    input and the batch recorded (``Result.flagged``: their breach facts)."""
    for item, result in zip(batch, results, strict=False):
        if item.flags:
            result.flagged = sum(1 for event in result.events if type(event) is BreachRecorded)
    return results


def _committed(
    ledger: LedgerParts,
    batch: list[Inbound],
    *,
    strict: bool = False,
    first: Callable[[], None] | None = None,
) -> list[Result]:
    """One batch decided and committed (under the ledger's write lock; ``first`` run under the log
    lock before it is decided, as ``Processor.process`` says), the views brought to it, then what
    the formats' earlier lines decide of the orders it named, recorded after it."""
    results, committed = _decide(ledger, batch, strict=strict, first=first)
    for _ in range(MAX_JUDGED):
        verdicts = _judged(ledger, committed) if committed else []
        if not verdicts:
            break
        _, committed = _decide(ledger, verdicts)
    return results


def _judged(ledger: LedgerParts, committed: list[tuple[int, OrderEvent]]) -> list[Inbound]:
    """What each format that judges (``InputFormat.judges``) decides of the committed events: only
    a format whose lines this ledger holds (``InputFormat.judged_table``) has anything to judge."""
    judging = {d.name: d.judges for d in formats().values() if d.judges is not None}
    tables = {d.name: d.judged_table for d in formats().values() if d.name in judging and d.judged_table}
    if tables:
        with ledger.db.read() as tx:
            for name, table in tables.items():
                if not table_columns(tx, table):
                    del judging[name]
    return [
        _verdict(name, message)
        for name, judge in judging.items()
        for message in load(judge)(ledger, committed)
    ]


def _decide(
    ledger: LedgerParts,
    batch: list[Inbound],
    *,
    strict: bool = False,
    first: Callable[[], None] | None = None,
) -> tuple[list[Result], list[tuple[int, OrderEvent]]]:
    """One batch decided and committed, and the views brought to it (read-your-writes)."""
    processor = ledger.processor
    results, committed = processor.process(batch, strict=strict, first=first)
    ledger._after_commit(committed, processor.decided)
    return results, committed


MAX_JUDGED = 3
"""Rounds of verdicts after a commit (a verdict closes or reopens an order and names none, so the
second round finds nothing)."""


def _record_verdicts(ledger: LedgerParts, messages: list[dict[str, Any]], fmt: str) -> None:
    """Record what a format's committed line decides once committed (``after_commit``)."""
    if messages:
        with ledger._writing:
            _commit(ledger, [_verdict(fmt, m) for m in messages])


def _verdict(fmt: str, message: dict[str, Any]) -> Inbound:
    """A message a format's recorded lines decide, journaled as a ledger line of its own."""
    item = read_ledger_line(orjson.dumps(message), f"{fmt}:verdict", None)
    item.notes.append(f"decided by the {fmt} lines already recorded, of an order named since")
    return item


_JSON_SCALARS = (str, int, float, bool, Decimal, type(None), date, UUID, Enum)
"""What a message may hold besides lists and objects: JSON's own values, and those orjson writes as
text (times, UUIDs, enumerations) or ``_decimal_text`` does (a Decimal, exactly)."""


def _decimal_text(value: Any) -> str:
    """orjson's ``default``: a Decimal as its exact text; any other value it cannot write is refused
    (never written as its ``str``, which would store ``<object object at 0x…>``)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _not_json(value: Any, path: str) -> str | None:
    """Where in ``value`` the first value JSON cannot hold is, and what it is; None if nowhere."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path or 'the message'} has a key of type {type(key).__name__}"
            found = _not_json(item, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        return next((f for i, v in enumerate(value) if (f := _not_json(v, f"{path}[{i}]"))), None)
    if isinstance(value, _JSON_SCALARS):
        return None
    kind = type(value).__name__
    return f"{path} is of type {kind}: JSON holds strings, numbers, true/false, null, lists and objects"


def record(ledger: LedgerParts, message: dict[str, Any], *, origin: str, strict: bool) -> Result:
    """``OrderLedger.record``: one ledger-format message dict, journaled whatever becomes of it;
    a value JSON cannot hold, at any depth, is refused in one line naming where it is. A request
    of ours goes through the risk door (``_commit``): denied, it is journaled ``denied``."""
    try:
        raw = orjson.dumps(message, default=_decimal_text)
    except TypeError as error:  # a value JSON cannot hold, or a lone surrogate (not UTF-8)
        where = _not_json(message, "")
        raise MessageError(f"the message cannot be written as JSON: {where or error}") from None
    item = read_ledger_line(raw, origin, None)
    with ledger._writing:
        results = _commit(ledger, [item])
    result = results[0]
    if result.outcome is Outcome.REJECTED and result.error is None:
        result.error = read_error(raw) or MessageError(result.reason or "the message was refused")
    if strict and result.error is not None:
        raise result.error
    return result


def load_ccxt_markets(
    ledger: LedgerParts,
    markets: Any,
    *,
    venue: str,
    ts: datetime | None,
    origin: str,
    instrument_of: Callable[[str], str] | None,
) -> IngestReport:
    """``OrderLedger.load_ccxt_markets``: each market journaled as received, with its definition."""
    # Imported here, not at the top: start-up cost. The venue adapters load only for an ingest
    # of their format, not with every command.
    from orderledger.infrastructure.adapters.ccxt.markets import market_list, market_message

    moment = format_timestamp(ledger.processor.clock() if ts is None else ts)
    items: list[Inbound | None] = []
    for number, market in enumerate(market_list(markets), start=1):
        raw = orjson.dumps(market, default=str, option=orjson.OPT_SORT_KEYS)
        item = Inbound(raw=raw, origin=origin, line_no=number, format="ccxt-markets")
        try:
            item.messages = [market_message(market, venue=venue, ts=moment, instrument_of=instrument_of)]
        except (MessageError, ValueError) as error:
            item.error = reason(error)
        items.append(item)
    return ingest_inbound(ledger, items, strict=False, on_batch=None)


def define_instrument(
    ledger: LedgerParts,
    venue: str,
    instrument: str,
    *,
    ts: datetime | str | None,
    source: str,
    definition: Mapping[str, Any],
) -> Result:
    """``OrderLedger.define_instrument``: the ``instrument`` message of a definition, recorded."""
    moment = ledger._clock() if ts is None else ts
    message = {
        "type": "instrument",
        "venue": venue,
        "instrument": instrument,
        "ts": format_timestamp(moment) if isinstance(moment, datetime) else moment,
        "source": source,
        **{k: str(v) if isinstance(v, Decimal) else v for k, v in definition.items() if v is not None},
    }
    return ledger.record(message)


def processor_of(ledger: LedgerParts) -> Processor:
    """``OrderLedger.processor``, made on its first use and kept on the ledger."""
    with ledger._writing:
        if "processor" not in vars(ledger):
            made = Processor(ledger.recorder, ledger.mapper, ledger._clock)
            made.inline = ledger._fold_inline
            ledger.processor = made
        return ledger.processor


def settle(
    ledger: LedgerParts,
    message_id: int,
    *,
    reason: str,
    by: str,
    book: bool,
    account: str | None,
    origin: str,
) -> int:
    """``OrderLedger.settle``: the parked message set aside, or (``book``) booked."""
    if not book:
        with ledger._writing:
            settled = set_aside(
                ledger.recorder, message_id, reason=reason, by=by, now=ledger._clock(), origin=origin
            )
            ledger.processor.parked.forget()  # the line waits no more: its keys are read again
            return settled
    return book_parked(ledger, message_id, reason=reason, by=by, account=account, origin=origin)


def book_parked(
    ledger: LedgerParts, message_id: int, *, reason: str, by: str, account: str | None, origin: str
) -> int:
    """``OrderLedger.settle`` with ``book``: the parked message's input read again as its format
    reads it and recorded once more; returns the settling line's message ID."""
    why, who = settlement_terms(reason, by)
    with ledger.db.read() as tx:
        line = parked_line(tx, message_id)
    declared = formats().get(line.format)
    if declared is None or not declared.adapter:
        raise InvalidInputError(
            f"message {message_id} is a {line.format}-format message, which states no order's"
            " details: set it aside instead"
        )
    check_options(line.format, line.venue, account)
    feed = feed_for(ledger, declared, line.venue, account)
    if feed is not None and feed.context_note is not None:
        # What the feed learnt from earlier lines (a Lighter market map, Hyperliquid spot
        # names), it learns again from the journal's copies of them.
        with ledger.db.read() as tx:
            for context in context_lines(tx, line.format, message_id, feed.context_note):
                with contextlib.suppress(LedgerError):
                    feed.messages(context, [])
    reader = feed or translation_for(declared, line.venue, account, None)
    item = read_adapter_line(line.raw, origin, 0, line.format, line.venue, reader)
    why_not = item.error if item.waits is None else item.waits[1]  # (still waits for its context)
    if why_not is not None:
        raise InvalidInputError(f"message {message_id} cannot be read again to book it: {why_not}")
    if not any(isinstance(m, RequestMessage) for m in item.messages):
        raise InvalidInputError(
            f"message {message_id} does not carry an order's details (account, instrument, side,"
            " quantity and venue order ID): set it aside instead"
        )
    item.line_no = None
    item.notes.append(f"books parked message {message_id} (by {who}: {why})")
    results: list[Result] = []
    ingest_inbound(ledger, [item], strict=False, on_batch=results.extend)
    settled = results[0]
    if settled.outcome is Outcome.REJECTED:
        raise InvalidInputError(f"message {message_id} could not be booked: {settled.reason}")
    assert settled.message_id is not None
    return settled.message_id


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
