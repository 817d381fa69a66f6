"""The log's hash chain checked: ``verify_chain`` walks the events from the first (or from a
verified head), recomputing each row's hash from the one before it and, given the mapper, reading
each payload as if it came from outside and comparing the search columns copied from it; on a
long walk, the payloads of its later part in a second process, on another core.
"""

from __future__ import annotations

import functools
import operator
import pickle
import subprocess
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import MapperDeserialisationError

from orderledger.domain.aggregates import FACT_AGGREGATES, aggregate_id
from orderledger.domain.events import OrderEvent
from orderledger.domain.order import order_id_for
from orderledger.infrastructure.audit.heads import Heads, merge_heads
from orderledger.infrastructure.audit.payload_check import fast_event
from orderledger.infrastructure.audit.search import CHUNK, EVENT_COLUMNS
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.mapper import LedgerMapper

Progress = Callable[[int, int], None]
"""Told, after each chunk of the log, how many events have been checked of how many."""


@dataclass
class LogChain:
    """What the check of the log's chain found: the events chained, the head reached, and the
    first broken link (None: the chain holds)."""

    events: int = 0
    head: tuple[int, str] | None = None
    broken: str | None = None

    @property
    def ok(self) -> bool:
        """True when the chain holds."""
        return self.broken is None


def verify_chain(
    db: Database,
    *,
    after: tuple[int, bytes] = (0, GENESIS),
    expect_head: tuple[int, str] | None = None,
    heads: Heads | None = None,
    mapper: LedgerMapper | None = None,
    each: Callable[[int, OrderEvent], None] | None = None,
    progress: Progress | None = None,
    total: int = 0,
) -> LogChain:
    """Check the hash chain from the event after ``after`` (a position and its verified hash).

    From the start by default; given the head a previous check returned, only what was appended
    since is read (the link to that head proves the earlier part unchanged up to it). With the
    ``mapper``, each event's payload is read and validated as if it came from outside, and its
    search columns compared with it; ``each`` is then given every event, in log order. The
    table's row count must be the chain's length (a row outside the chain is found). The log is
    read a chunk at a time, ``progress`` told after each (``total``: the log's last position).

    Without ``each``, a walk of ``BESIDE_FROM`` events or more has the payloads of its later
    part (``SHARE``) checked in a second process while it hashes every row; the first finding of
    either, in log order, is the one reported, in the same words as a walk alone.
    """
    report = LogChain()
    expected = dict(heads or {})
    if expect_head is not None:
        expected = merge_heads(expected, [expect_head], "`expect_head`")
    last, previous = after
    expected_id = last + 1
    if last:
        with db.read() as tx:
            row = tx.one("SELECT hash FROM events WHERE notification_id = ?", (last,))
        if row is None or bytes(row[0]) != previous:
            report.broken = (
                f"event {last} is missing or no longer has the hash {previous.hex()} verified before"
            )
            return report
    beside = _Beside.start(db, mapper, last) if each is None else None
    broken_at, ahead = 0, False  # the row the walk broke at; whether its own check found it
    try:
        while report.broken is None:
            with db.read() as tx:
                rows = tx.all(_SELECT, (last, CHUNK))
            for row in rows:
                own = mapper if beside is None or not beside.after < row[0] <= beside.upto else None
                checked = _check_row(row, expected_id, previous, own)
                if isinstance(checked, str):
                    report.broken, broken_at, ahead = checked, row[0], True
                    break
                position, stored = row[0], bytes(row[-1])
                previous, expected_id, last = stored, position + 1, position
                report.events += 1
                if position in expected and stored.hex() != expected[position]:
                    head = expected[position]
                    report.broken = (
                        f"event {position} has hash {stored.hex()}, not the recorded head {head}:"
                        " the log was rewritten up to there"
                    )
                    broken_at = position
                    break
                if each is not None and checked is not None:
                    each(position, checked)
            if progress is not None:
                progress(report.events, max(total - after[0], report.events))
            if len(rows) < CHUNK:
                break
    except BaseException:
        if beside is not None:
            beside.finding(beside.after)  # the walk's own failure comes first: stopped
        raise
    if beside is not None:
        found = beside.finding(broken_at if report.broken is not None else None)
        # A payload is checked after its row's place and link, and before its head: as one walk does.
        if found is not None and (report.broken is None or (found[0], 1) < (broken_at, 0 if ahead else 2)):
            report.broken, report.events = found[1], found[0] - after[0] - 1
            return report
    if report.broken is None and last:
        report.head = (last, previous.hex())
    if report.broken is None and expected and last < max(expected):
        # A head recorded earlier must still be in the chain; later events may follow it.
        position = max(expected)
        report.broken = (
            f"the log ends at event {last}, before the recorded head {position}:{expected[position]}:"
            " events were deleted from the end"
        )
    if report.broken is None:
        with db.read() as tx:
            rows_stored = int(tx.one("SELECT COUNT(*) FROM events")[0])
        # The chain numbers its events from 1 without a gap, so it holds as many as its last.
        if rows_stored != last:
            outside = rows_stored - last
            report.broken = (
                f"the events table holds {rows_stored} rows but the chain {last}: {outside}"
                f" row{'s are' if outside > 1 else ' is'} outside the chain (position 0, negative or"
                " NULL), inserted around the ledger"
            )
    return report


_SELECT = (
    f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE notification_id > ?"
    " ORDER BY notification_id LIMIT ?"
)
BESIDE_FROM = 40_000
"""A walk with the mapper and without ``each`` of at least this many events has the payloads of
its later part checked in a second process, beside its hash walk; a shorter one checks every
payload itself (the process's start would cost more than it saves)."""
SHARE = 0.55
"""The part of such a walk whose payloads the second process checks: the walk itself hashes
every row, which costs about a third of a payload's check, and checks the rest."""


class _Beside:
    """The payloads of the events after ``after`` up to ``upto`` checked in a second process: a
    Python of its own (not a fork of a process that may run threads; not multiprocessing's spawn,
    which runs the caller's main module again), handed the database's URL and the cipher through
    a pipe (never its command line). It opens its own connection and reads only events the
    walk's snapshot holds, which the ledger never rewrites: a row tampered with meanwhile is
    found by the one reading or the other."""

    def __init__(self, db: Database, mapper: LedgerMapper, after: int, upto: int, process: Any) -> None:
        self.db, self.mapper, self.after, self.upto, self.process = db, mapper, after, upto, process

    @classmethod
    def start(cls, db: Database, mapper: LedgerMapper | None, last: int) -> _Beside | None:
        """The checks started beside a walk from ``last``, if it is long enough (else None)."""
        if mapper is None or db.url.is_memory:
            return None
        with db.read() as tx:
            upto = int(tx.one("SELECT COALESCE(MAX(notification_id), 0) FROM events")[0])
        if upto - last < BESIDE_FROM:
            return None
        after = upto - int((upto - last) * SHARE)
        try:
            handed = pickle.dumps(sys.path) + pickle.dumps(
                (db.url, mapper.cipher, mapper.compressor, after, upto)
            )
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # its failure is answered by checking here
            )
        except Exception:  # a cipher that cannot be handed over, no Python to start: checked here
            return None
        beside, pipe = cls(db, mapper, after, upto, process), typing.cast("typing.IO[bytes]", process.stdin)
        try:
            with pipe:
                pipe.write(handed)
        except OSError:  # it ended at once: checked here
            beside.finding(after)
            return None
        return beside

    def finding(self, broken_at: int | None) -> tuple[int, str] | None:
        """The first payload found wrong (its position and sentence), else None. Once the walk
        broke at ``broken_at``, at or before the first of these events, none of them comes
        first, and the process is stopped; should the process fail, the checks are made here."""
        process = self.process
        try:
            if broken_at is not None and broken_at <= self.after:
                return None
            answer = process.stdout.read()
            process.wait()
            try:
                kind, found = pickle.loads(answer)
            except Exception:
                kind, found = "failed", None
            if kind != "found":
                return _first_wrong_payload(self.db, self.mapper, self.after, self.upto)
            return typing.cast("tuple[int, str] | None", found)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()


_CHILD = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer);"
    " from orderledger.infrastructure.audit.chain_check import _check_beside;"
    " _check_beside(pickle.load(sys.stdin.buffer))"
)


def _check_beside(handed: tuple[Any, ...]) -> None:
    """The second process's part (``_Beside``): told what to check on its standard input, it
    writes ``("found", _first_wrong_payload(…))`` or ``("failed", why)`` to its output."""
    try:
        # The second process's own connection: the backends are imported only where one is opened
        from eventsourcing.persistence import JSONTranscoder

        from orderledger.infrastructure.storage.backends import open_parsed

        url, cipher, compressor, after, upto = handed
        mapper = LedgerMapper(transcoder=JSONTranscoder(), cipher=cipher, compressor=compressor)
        db = open_parsed(url, create=False)
        try:
            answer: tuple[str, Any] = ("found", _first_wrong_payload(db, mapper, after, upto))
        finally:
            db.close()
    except BaseException as error:  # the walk then checks these payloads itself
        answer = ("failed", f"{type(error).__name__}: {error}")
    sys.stdout.buffer.write(pickle.dumps(answer))
    sys.stdout.flush()


def _first_wrong_payload(db: Database, mapper: LedgerMapper, after: int, upto: int) -> tuple[int, str] | None:
    """The first event after ``after`` up to ``upto`` whose payload is wrong: its position and
    what ``_check_row`` says of it. Its place, its link and a payload stored as other than bytes
    are the walk's to find."""
    last = after
    while last < upto:
        with db.read() as tx:
            rows = tx.all(_SELECT, (last, CHUNK))
        for row in rows:
            if row[0] > upto:
                return None
            values = _values(row)
            if isinstance(values[4], bytes):
                checked = _check_payload(row, values, mapper)
                if isinstance(checked, str):
                    return row[0], checked
            last = row[0]
        if len(rows) < CHUNK:
            break
    return None


def _values(row: Sequence[Any]) -> list[Any]:
    """An event row's columns but its hash, the payload as bytes when it was read as a view."""
    values = list(row[:-1])
    if isinstance(values[4], memoryview):
        values[4] = bytes(values[4])
    return values


# The columns copied from an event's payload so that searches need not decode it.
_FIRST_SEARCHED = EVENT_COLUMNS.index("event_type")
_SEARCH_COLUMNS = EVENT_COLUMNS[_FIRST_SEARCHED : EVENT_COLUMNS.index("message_id")]
_searched = operator.itemgetter(*_SEARCH_COLUMNS)


def _aggregate_text(event: OrderEvent) -> str:
    """``aggregate_id`` as stored (text); an order's, which most events are, remembered for the
    orders met last (an order's events lie close together in the log)."""
    if type(event) in FACT_AGGREGATES:
        return str(aggregate_id(event))
    return _order_id_text(event.client_order_id)


@functools.lru_cache(maxsize=4096)
def _order_id_text(client_order_id: str) -> str:
    return str(order_id_for(client_order_id))


def _check_row(
    row: Sequence[Any], expected_id: int, previous: bytes, mapper: LedgerMapper | None, fast: bool = True
) -> str | OrderEvent | None:
    """What is wrong with one event row of the chain (a sentence), else its event as its payload
    says (None without a ``mapper``: the payload is not read).

    A payload ``fast_event`` proves sound is not validated again (``fast=False``: every payload
    is validated as input from outside); the findings are the same either way."""
    position = row[0]
    if position != expected_id:
        return f"event {expected_id} is missing (the log jumps from {expected_id - 1} to {position})"
    values = _values(row)
    if not isinstance(values[4], bytes):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) has its payload stored as"
            f" {type(values[4]).__name__}, not bytes: it was written around the ledger"
        )
    if link(previous, values) != bytes(row[-1]):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) does not match its hash:"
            " it was altered, or rows were reordered"
        )
    if mapper is None:
        return None
    return _check_payload(row, values, mapper, fast)


def _check_payload(
    row: Sequence[Any], values: list[Any], mapper: LedgerMapper, fast: bool = True
) -> str | OrderEvent:
    """What is wrong with an event row's payload (bytes, in ``values``, the row's columns but
    its hash): a sentence, else its event."""
    position = row[0]
    if fast:
        searched = tuple(values[_FIRST_SEARCHED : _FIRST_SEARCHED + len(_SEARCH_COLUMNS)])
        event = fast_event(mapper, row[3], values[4], row[1], row[2], searched)
        if event is not None and values[1] == _aggregate_text(event):
            return event
        # Not proven sound: the event validated as input from outside says what is wrong.
    try:
        event = mapper.decode(row[3], values[4], row[1], row[2], trusted=False)
    except MapperDeserialisationError as error:
        return f"event {position} ({row[5]} of {row[6]!r}) cannot be read: {error}"
    if values[1] != _aggregate_text(event):
        return (
            f"event {position} ({row[5]} of {row[6]!r}) is stored under another order's ID than its"
            f" payload's {event.client_order_id!r}"
        )
    indexed = _searched(mapper.to_stored_event(event).__dict__)
    if indexed != tuple(values[_FIRST_SEARCHED : _FIRST_SEARCHED + len(_SEARCH_COLUMNS)]):
        for column, stored, said in zip(_SEARCH_COLUMNS, values[_FIRST_SEARCHED:], indexed, strict=False):
            if stored != said:
                return (
                    f"event {position} ({row[5]} of {row[6]!r}): its {column} column says"
                    f" {stored!r} but its payload says {said!r}"
                )
    return event
