"""Recording facts: the stage of the write path (``application.bootstrap`` lists them all) that
takes the translated inputs (``translating`` hands them on) and groups them into batches
(``OrderLedger.ingest_inbound``), each batch through the risk door (``door``), then decided,
committed and projected (``committing``); and the writes that make their inputs themselves
(``record``, ``load_ccxt_markets``, ``define_instrument``).

``OrderLedger`` keeps the public methods (their signatures and the argument checks); each
delegates here with itself as ``ledger``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.application.writes.committing import committed
from orderledger.infrastructure.application.writes.door import OneByOne, door_for
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.ingest.gc_threshold import fewer_collections
from orderledger.infrastructure.ingest.inbound import Inbound, Result, read_error, read_ledger_line, reason
from orderledger.infrastructure.ingest.processing import Processor

if TYPE_CHECKING:
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
                results = commit(ledger, batch, strict=strict)
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


def commit(ledger: LedgerParts, batch: list[Inbound], *, strict: bool = False) -> list[Result]:
    """One batch through the risk door (``door``, docs/risk.md, "One door"), then committed and
    projected (``committing``). A batch holding no request (of ours, or a venue's report of an
    order) has no door. Otherwise the door looks, inside the write transaction, for any limit or
    trading state ever recorded: with none, the batch is committed whole; with some, each such
    input is judged at the ledger's time in the transaction that records it, after everything
    before it is committed, so a check sees every order any writer recorded first: a request of
    ours may be denied, a venue's order is flagged. A batch the door sends back (``OneByOne``)
    comes back as runs, each ending at an input it judges, each committed in turn in the same way."""
    results: list[Result] = []
    runs = [batch]
    for run in runs:  # (a run sent back is the last of them: its own runs follow it, in order)
        door = door_for(ledger, run, strict=strict)
        try:
            done = committed(ledger, run, strict=strict, first=door)
        except OneByOne as sent_back:
            runs += sent_back.runs
            continue
        results += done if door is None else door.counted(done)
    return results


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
    of ours goes through the risk door (:func:`commit`): denied, it is journaled ``denied``."""
    try:
        raw = orjson.dumps(message, default=_decimal_text)
    except TypeError as error:  # a value JSON cannot hold, or a lone surrogate (not UTF-8)
        where = _not_json(message, "")
        raise MessageError(f"the message cannot be written as JSON: {where or error}") from None
    item = read_ledger_line(raw, origin, None)
    with ledger._writing:
        results = commit(ledger, [item])
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
