"""The translate stage of the write path (``application.bootstrap`` lists them all): each line of
an ingest read by the ledger's own format (``messages.models``) or translated by its venue's
adapter (a translation that reads each line alone, or a feed that reads the ledger:
``application.feeds``) into an ``Inbound``: its messages, or why it is refused or waits for
context. A line that cannot be read costs that line, never the rest of the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import LedgerError
from orderledger.domain.identity import IdentityKey
from orderledger.infrastructure.errors import MessageError
from orderledger.infrastructure.ingest.formats import check_options, translation_for
from orderledger.infrastructure.ingest.inbound import Inbound, inbound
from orderledger.infrastructure.ingest.inputs import Refused
from orderledger.infrastructure.ingest.settlement import context_waiting
from orderledger.infrastructure.messages.models import message_from_line

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts


class LineReader:
    """How one ingest reads each of its lines: by the ledger's format (``reader`` None), or by its
    format's feed (``feed``, which reads the ledger) or translation (``reader``)."""

    def __init__(self, origin: str, fmt: str, venue: str | None, feed: Any, reader: Any) -> None:
        self.origin, self.fmt, self.venue, self.feed, self.reader = origin, fmt, venue, feed, reader

    def read(self, line: str | bytes, number: int) -> Inbound:
        """One line, translated."""
        if self.reader is None:  # the ledger's own format
            return read_ledger_line(line, self.origin, number)
        return read_adapter_line(line, self.origin, number, self.fmt, self.venue, self.reader)


def line_reader(
    ledger: LedgerParts,
    fmt: str,
    venue: str | None,
    account: str | None,
    options: Mapping[str, Any] | None,
    *,
    origin: str,
    strict: bool,
) -> LineReader:
    """How an ingest of ``fmt`` reads its lines, its options checked (a wrong one refused before
    any line is read): a format that reads the ledger opens its feed (``application.feeds``), one
    that reads each line alone its translation (``formats.translation_for``)."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    declared = check_options(fmt, venue, account, given, strict=strict)
    translation = translation_for(declared, venue, account, given)
    feed = None
    if declared.reads_ledger:
        # Start-up cost: the feeds and the venue adapters they drive load only for an ingest of
        # a format that reads the ledger.
        from orderledger.infrastructure.application.feeds import open_feed

        feed = open_feed(ledger, declared.name, venue or "", account or "", given)
    return LineReader(origin, fmt, venue, feed, feed or translation)


def translated(
    ledger: LedgerParts,
    lines: Iterable[str | bytes | None],
    reader: LineReader,
    *,
    after_commit: Callable[[LedgerParts, list[dict[str, Any]], str], None],
) -> Iterator[Inbound | None]:
    """Each line translated, numbered from 1 (``None``: the input paused). A feed that commits
    each line (``commit_each``) pauses after it, has what the committed line decides recorded
    (``after_commit``), and reads again the parked lines it brought the context of."""
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
                if after is not None:  # what the committed line decides once committed
                    after_commit(ledger, after(), fmt)
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


def read_error(raw: bytes) -> LedgerError | None:
    """The typed error reading a refused message raised (read again: only a refusal pays)."""
    try:
        message_from_line(raw)
    except LedgerError as error:
        return error
    except Exception:
        return None
    return None


MAX_REASON = 300
"""Longest reason a rejected line gets: a 1 MB value is never echoed back whole."""
INTERNAL_ERROR = "internal error reading the line"
"""How the reason starts when a line reader failed unexpectedly (a bug, never the line's fault)."""


def reason(error: BaseException) -> str:
    """One line of at most MAX_REASON characters saying why."""
    message = str(getattr(error, "message", None) or str(error))
    first = next((part.strip() for part in message.splitlines() if part.strip()), type(error).__name__)
    return first if len(first) <= MAX_REASON else first[: MAX_REASON - 1] + "…"


def raw_bytes(line: str | bytes) -> bytes:
    """The bytes of a line: a ``str`` read with surrogateescape gets its bytes back; other lone
    surrogates are kept (as CESU-8) so the line is journaled and refused, not lost."""
    if isinstance(line, bytes):
        return line
    try:
        return line.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return line.encode("utf-8", "surrogatepass")


def _internal(error: Exception) -> str:
    return reason(ValueError(f"{INTERNAL_ERROR}: {type(error).__name__}: {reason(error)}"))


def read_ledger_line(line: str | bytes, origin: str, number: int | None) -> Inbound:
    raw = (line if type(line) is bytes else raw_bytes(line)).rstrip(b"\r\n")
    if not raw or raw.isspace():
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger")
    try:
        messages = [message_from_line(raw)]
    except (MessageError, ValueError) as error:
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger", error=reason(error))
    except Exception as error:  # a reader bug must cost one line, not the rest of the input
        return Inbound(raw=raw, origin=origin, line_no=number, format="ledger", error=_internal(error))
    return Inbound(raw, origin, number, "ledger", messages)  # raw, origin, line_no, format, messages


def read_adapter_line(
    line: str | bytes, origin: str, number: int, fmt: str, venue: str | None, reader: Any
) -> Inbound:
    """One line of venue input, translated by its format's feed or translation (``reader``);
    the raw line is what is journaled.

    The caller has checked the format and what it needs (``formats.check_options``)."""
    # Start-up cost: the adapters' shared module loads only for an ingest of a venue format.
    from orderledger.infrastructure.adapters.common import CONTEXT, MissingContext

    raw = raw_bytes(line).rstrip(b"\r\n")
    if not raw.strip():
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt)
    notes: list[str] = []
    try:
        messages = reader.messages(raw, notes)
    except MissingContext as missing:  # parked until a line bringing the context is recorded
        waiting = Inbound(raw=raw, origin=origin, line_no=number, format=fmt, notes=notes)
        waiting.waits = (IdentityKey(venue or "", CONTEXT + missing.kind, missing.value), reason(missing))
        return waiting
    except (MessageError, ValueError, TypeError, KeyError) as error:
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt, error=reason(error))
    except Exception as error:  # an adapter bug must cost one line, not the rest of the input
        return Inbound(raw=raw, origin=origin, line_no=number, format=fmt, error=_internal(error))
    item = inbound(raw, messages, origin=origin, format=fmt, notes=notes)
    item.line_no = number
    return item


__all__ = [
    "INTERNAL_ERROR",
    "MAX_REASON",
    "LineReader",
    "line_reader",
    "raw_bytes",
    "read_adapter_line",
    "read_error",
    "read_ledger_line",
    "reason",
    "translated",
]
