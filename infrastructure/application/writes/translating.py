"""The read and translate stages of the write path (``application.bootstrap`` lists them all):
each line of an ingest read (``ingest_lines``), then read by the ledger's own format or translated
by its venue's adapter (a translation that reads each line alone, or a feed that reads the ledger:
``application.feeds``) into an ``Inbound`` (``ingest.inbound``: its messages, or why it is refused
or waits for context), and handed on to the next stage, ``recording.ingest_inbound``, which groups
them into batches and commits them. A line that cannot be read costs that line, never the rest of
the input.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError, LedgerError
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.adapters.venue_registry import formats
from orderledger.infrastructure.application.writes import recording
from orderledger.infrastructure.application.writes.committing import committed, verdict
from orderledger.infrastructure.ingest.formats import check_options, translator
from orderledger.infrastructure.ingest.inbound import Inbound, Result, read_adapter_line, read_ledger_line
from orderledger.infrastructure.ingest.inputs import Refused
from orderledger.infrastructure.ingest.settlement import (
    context_lines,
    context_waiting,
    parked_line,
    set_aside,
    settlement_terms,
)
from orderledger.infrastructure.messages.models import RequestMessage

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts
    from orderledger.infrastructure.application.writes.recording import IngestReport


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
    (:class:`LineReader`, its options checked before any line is read), then handed on to be
    grouped into batches, decided, committed and projected (``recording.ingest_inbound``)."""
    reader = LineReader(ledger, fmt, venue, account, options, origin=origin, strict=strict)
    return recording.ingest_inbound(
        ledger, translated(ledger, lines, reader), strict=strict, on_batch=on_batch
    )


class LineReader:
    """How one ingest reads each of its lines, its format's options checked (a wrong one refused
    before any line is read): by the ledger's format (``reader`` None), or by its format's feed
    (``feed``, which reads the ledger, opened on it) or translation (``reader``,
    ``formats.translator``)."""

    def __init__(
        self,
        ledger: LedgerParts,
        fmt: str,
        venue: str | None,
        account: str | None,
        options: Mapping[str, Any] | None,
        *,
        origin: str,
        strict: bool,
    ) -> None:
        given = {k: v for k, v in (options or {}).items() if v is not None}
        declared = check_options(fmt, venue, account, given, strict=strict)
        self.origin, self.fmt, self.venue = origin, fmt, venue
        self.reader = translator(ledger, declared, venue, account, given)
        self.feed = self.reader if declared.reads_ledger else None

    def read(self, line: str | bytes, number: int) -> Inbound:
        """One line, translated."""
        if self.reader is not None:  # a venue's format
            return read_adapter_line(line, self.origin, number, self.fmt, self.venue, self.reader)
        return read_ledger_line(line, self.origin, number)


def translated(
    ledger: LedgerParts, lines: Iterable[str | bytes | None], reader: LineReader
) -> Iterator[Inbound | None]:
    """Each line translated, numbered from 1 (``None``: the input paused). A feed that commits
    each line (``commit_each``) pauses after it, has what the committed line decides recorded
    (the feed's ``after_commit``, as its format's verdicts), and reads again the parked lines it
    brought the context of."""
    origin, fmt, feed, read = reader.origin, reader.fmt, reader.feed, reader.read
    number = 0
    for line in lines:
        if line is None:
            yield None
        elif isinstance(line, Refused):  # a collector's frame beyond its bounds: never read
            number += 1
            yield Inbound(raw=bytes(line), origin=origin, line_no=number, format=fmt, error=line.reason)
        else:
            number += 1
            item = read(line, number)
            yield item
            if feed is not None and feed.commit_each:
                yield None  # the next line is translated against what this one recorded
                after = getattr(feed, "after_commit", None)
                decided = after() if after is not None else None
                if decided:  # what the committed line decides once committed (never a request:
                    # as the verdicts ``committed`` records after a commit, it has no risk door)
                    with ledger._writing:
                        committed(ledger, [verdict(fmt, m) for m in decided])
                context = getattr(feed, "context", None)
                if context is not None:
                    yield from _read_again(ledger, context, item, lambda raw: read(raw, 0))


def _read_again(
    ledger: LedgerParts, context: Any, item: Inbound, read: Callable[[bytes], Inbound]
) -> Iterator[Inbound | None]:
    """The lines parked waiting for context that the line just committed (``item``) brought, each
    read again (``read``) as a new line that names it, in venue time, each committed before the
    next (``settlement``: one mechanism with settling by hand). A line that itself waits for
    context looks at the journal once more first: another process may have recorded it meanwhile
    (it then read the parked lines before this one was committed)."""
    if item.waits is not None:
        context.catch_up()
    keys = context.take()
    if not keys:
        return
    with ledger.db.read() as tx:
        waiting = context_waiting(tx, keys)
    again = []
    for message_id, raw in waiting:
        line = read(raw)
        line.line_no, line.rereads = None, message_id
        line.notes.insert(0, f"reads parked message {message_id} again")
        first = min((m.ts for m in line.messages), default=None)
        again.append((first is not None, first, message_id, line))
    again.sort(key=lambda found: found[:3])  # venue time (lines without a message first)
    for *_, line in again:
        yield line
        yield None


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
    """``OrderLedger.settle``: the parked message set aside, or (``book``) read again as its
    format reads it and booked (:func:`book_parked`)."""
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
    reading = LineReader(ledger, line.format, line.venue, account, None, origin=origin, strict=False)
    feed = reading.feed
    if feed is not None and feed.context_note is not None:
        # What the feed learnt from earlier lines (a Lighter market map, Hyperliquid spot
        # names), it learns again from the journal's copies of them.
        with ledger.db.read() as tx:
            for context in context_lines(tx, line.format, message_id, feed.context_note):
                with contextlib.suppress(LedgerError):
                    feed.messages(context, [])
    item = read_adapter_line(line.raw, origin, 0, line.format, line.venue, reading.reader)
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
    recording.ingest_inbound(ledger, [item], strict=False, on_batch=results.extend)
    settled = results[0]
    if settled.outcome is Outcome.REJECTED:
        raise InvalidInputError(f"message {message_id} could not be booked: {settled.reason}")
    assert settled.message_id is not None
    return settled.message_id


__all__ = ["LineReader", "book_parked", "ingest_lines", "settle", "translated"]
