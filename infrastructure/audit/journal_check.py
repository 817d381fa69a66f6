"""The journal checked against itself and against the log: ``verify_journal`` recomputes its
hash chain (journal rows and settlements, with the parked parts each line's hash covers) and each
settled line against its settlements; ``journal_differences`` checks the journal, the parked rows
and the identities, which are not chained, against the events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderledger.domain.identity import IdentityKey, identity_keys
from orderledger.domain.order import Order
from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.audit.heads import Heads
from orderledger.infrastructure.audit.search import CHUNK
from orderledger.infrastructure.storage.chain import GENESIS, journal_link, parked_digest
from orderledger.infrastructure.storage.db import Database, table_columns
from orderledger.infrastructure.storage.journal import (
    PARKED_ROWS,
    as_bytes,
    message_fields,
    parked_parts,
    settlement_fields,
)


@dataclass
class JournalChain:
    """What the check of the journal's chain found."""

    records: int = 0  # journal rows and settlements chained
    head: tuple[int, str] | None = None
    problems: list[str] = field(default_factory=list)


_SETTLEMENT_COLUMNS = (
    "position, message_id, parts, before_reason, before_client_order_id, before_event_count,"
    " outcome, reason, client_order_id, event_count, hash"
)


def verify_journal(
    db: Database, heads: Heads | None = None, limit: int = 20, *, after: tuple[int, bytes] = (0, GENESIS)
) -> JournalChain:
    """Recompute the journal's chain: every journal row and settlement record in position order,
    without a gap, each hash over the record as written (a settled line as it was before its
    first settlement, with the digests of all its parked parts), each settled line's row equal to
    its last settlement, and each journal head recorded earlier still in the chain.

    From the first record by default; given ``after`` (a position and its verified hash), the
    records after it, and the lines they settle."""
    found = JournalChain()
    start = after[0]
    with db.read() as tx:
        if "hash" not in table_columns(tx, "messages"):
            found.problems.append(
                "the journal is not chained: this database was written by an earlier release; open"
                " it once with write access (PostgreSQL: `orderledger db init` as the owner) to upgrade it"
            )
            return found
        # The settlements after the start, and every settlement of the lines they settle.
        settlements = [
            tuple(r)
            for r in tx.all(
                f"SELECT {_SETTLEMENT_COLUMNS} FROM settlements"
                + (
                    " WHERE message_id IN (SELECT message_id FROM settlements WHERE position > ?)"
                    if start
                    else ""
                )
                + " ORDER BY position",
                (start,) if start else (),
            )
        ]
        waiting = parked_parts(tx.all(PARKED_ROWS))
        stored = int(tx.one("SELECT COUNT(*) FROM messages")[0]) + int(
            tx.one("SELECT COUNT(*) FROM settlements")[0]
        )
    by_line: dict[int, list[tuple[Any, ...]]] = {}
    for record in settlements:
        by_line.setdefault(record[1], []).append(record)
    walk = _JournalWalk(found, dict(heads or {}), [r for r in settlements if r[0] > start], after)
    for row in _journal_rows(db, start or None):
        if row[0] is None:
            continue  # outside the numbering: counted below
        if not walk.settle_before(row[0]):
            break
        computed = journal_link(
            walk.previous,
            message_fields(_as_written(row, by_line, waiting), _parts(row[0], by_line, waiting)),
            as_bytes(row[5]),
        )
        if not walk.step(
            int(row[0]), bytes(row[10] or b""), computed, f"message {row[0]} (line {row[3]} of {row[2]!r})"
        ):
            break
        found.problems += _settled_line(row, by_line.get(row[0], []), waiting.get(row[0], {}))
    else:
        if walk.settle_before(None):
            walk.finish(stored)
    for row in _journal_rows(db, None, [line for line in sorted(by_line) if line <= start]):
        # Lines before the start that a settlement after it settled.
        found.problems += _settled_line(row, by_line[row[0]], waiting.get(row[0], {}))
    for message_id in sorted(set(by_line) - _lines_present(db, by_line)):
        found.problems.append(
            f"settlement {by_line[message_id][0][0]} settles message {message_id},"
            " which the journal does not hold"
        )
    del found.problems[limit:]
    return found


_JOURNAL_COLUMNS = (
    "message_id, received_at, origin, line_no, format, raw, outcome, reason, client_order_id,"
    " event_count, hash"
)


def _journal_rows(db: Database, after: int | None, only: Sequence[int] | None = None) -> Iterator[Any]:
    """The journal's rows after ``after`` (None: all, also those outside the numbering) in
    message order, a chunk per read transaction; ``only``: just the rows of those message IDs."""
    if only is not None:
        with db.read() as tx:
            for start in range(0, len(only), 500):
                chunk = only[start : start + 500]
                marks = ",".join("?" * len(chunk))
                yield from tx.all(
                    f"SELECT {_JOURNAL_COLUMNS} FROM messages WHERE message_id IN ({marks})"
                    " ORDER BY message_id",
                    chunk,
                )
        return
    last = after
    while True:
        with db.read() as tx:
            rows = tx.all(
                f"SELECT {_JOURNAL_COLUMNS} FROM messages"
                + ("" if last is None else " WHERE message_id > ?")
                + " ORDER BY message_id LIMIT ?",
                ((last,) if last is not None else ()) + (CHUNK,),
            )
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


class _JournalWalk:
    """The journal's chain walked record by record: journal rows and settlements interleaved by
    position, each hash checked against the one before it and against recorded heads."""

    def __init__(
        self,
        found: JournalChain,
        expected: dict[int, str],
        settlements: list[tuple[Any, ...]],
        after: tuple[int, bytes],
    ):
        self.found = found
        self.expected = expected
        self.position, self.previous = after
        self._pending = iter(settlements)
        self._settlement = next(self._pending, None)

    def settle_before(self, message_id: int | None) -> bool:
        """Walk the settlements placed before journal row ``message_id`` (``None``: all that are
        left); False once the chain is broken."""
        while self._settlement is not None and (message_id is None or self._settlement[0] < message_id):
            record = self._settlement
            self._settlement = next(self._pending, None)
            computed = journal_link(self.previous, settlement_fields(record))
            if not self.step(
                int(record[0]),
                bytes(record[10] or b""),
                computed,
                f"settlement {record[0]} of message {record[1]}",
            ):
                return False
        return True

    def step(self, at: int, digest: bytes, computed: bytes, what: str) -> bool:
        """One record at position ``at``; False (with the problem recorded) when the chain breaks."""
        problems = self.found.problems
        if at <= self.position:
            problems.append(
                f"journal record {at} is out of place (the next is {self.position + 1}): it was inserted"
                " around the ledger"
            )
            return False
        if at != self.position + 1:
            problems.append(
                f"journal record {self.position + 1} is missing"
                f" (the journal jumps from {self.position} to {at})"
            )
            return False
        if digest != computed:
            problems.append(
                f"{what} does not match its hash: its text, origin, line, time, outcome, reason or"
                " parked messages were changed, or records were reordered"
            )
            return False
        if at in self.expected and digest.hex() != self.expected[at]:
            problems.append(
                f"journal record {at} has hash {digest.hex()}, not the recorded head {self.expected[at]}:"
                " the journal was rewritten up to there"
            )
            return False
        self.previous, self.position = digest, at
        self.found.records += 1
        return True

    def finish(self, stored: int) -> None:
        """The whole chain walked intact: its head, and what lies beyond or outside it."""
        found, position, expected = self.found, self.position, self.expected
        found.head = (position, self.previous.hex()) if position else None
        if expected and position < max(expected):
            at = max(expected)
            found.problems.append(
                f"the journal ends at record {position}, before the recorded head {at}:{expected[at]}:"
                " records were deleted from the end"
            )
        elif stored != position:
            found.problems.append(
                f"the journal holds {stored} records but its chain {position}: rows outside the"
                " chain were inserted around the ledger"
            )


def _as_written(
    row: Sequence[Any], by_line: Mapping[int, list[tuple[Any, ...]]], waiting: Any
) -> tuple[Any, ...]:
    """A journal row as it was inserted: a settled line as before its first settlement."""
    settled = by_line.get(row[0])
    if not settled:
        return tuple(row[:10])
    first = settled[0]
    return (*row[:6], Outcome.PARKED, first[3], first[4], first[5])


def _parts(message_id: int, by_line: Mapping[int, list[tuple[Any, ...]]], waiting: Any) -> list[list[Any]]:
    """The [part, digest] of every message of a line that was parked: those still waiting and
    those its settlements settled."""
    parts = {part: parked_digest(part, *w) for part, w in waiting.get(message_id, {}).items()}
    for record in by_line.get(message_id, []):
        try:
            settled = json.loads(record[2])
        except ValueError:
            settled = []
        for part, digest in settled:
            parts.setdefault(part, digest)
    return [[part, parts[part]] for part in sorted(parts)]


def _settled_line(
    row: Sequence[Any], settled: list[tuple[Any, ...]], waiting: Mapping[int, Any]
) -> list[str]:
    """How a line's row disagrees with its settlements (each starting where the one before ended,
    the row as the last left it, no settled part still parked)."""
    if not settled:
        return []
    problems = []
    state = (settled[0][3], settled[0][4], settled[0][5])
    for record in settled:
        if (record[3], record[4], record[5]) != state or record[0] < row[0]:
            problems.append(
                f"settlement {record[0]} of message {row[0]} does not follow from the line before it"
            )
        state = (record[7], record[8], record[9])
        try:
            parts = [p for p, _ in json.loads(record[2])]
        except ValueError:
            parts = []
        if any(p in waiting for p in parts):
            problems.append(f"message {row[0]}: a part settled by settlement {record[0]} is parked again")
    last = settled[-1]
    if (row[6], row[7], row[8], row[9]) != (last[6], last[7], last[8], last[9]):
        problems.append(
            f"message {row[0]} is marked {row[6]} ({row[7]!r}) but its last settlement {last[0]} says"
            f" {last[6]} ({last[7]!r}): the line was relabelled outside the ledger"
        )
    return problems


def _lines_present(db: Database, by_line: Mapping[int, Any]) -> set[int]:
    present: set[int] = set()
    ids = sorted(by_line)
    with db.read() as tx:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            present |= {
                int(r[0])
                for r in tx.all(f"SELECT message_id FROM messages WHERE message_id IN ({marks})", chunk)
            }
    return present


def journal_differences(db: Database, orders: Mapping[str, Order], limit: int = 20) -> list[str]:
    """Journal, identity and parked rows the log does not explain (empty when all agree).

    These tables are not chained; instead each is checked against the events: every event's
    message is in the journal, marked applied, for the same order, and counts the events that name
    it; each parked line has its parked rows and each parked row its line; the identities are
    exactly the venue order IDs and aliases the orders' events record.
    """
    checks = [
        (
            "SELECT e.notification_id, e.message_id FROM events e LEFT JOIN messages m"
            " ON m.message_id = e.message_id WHERE e.message_id IS NOT NULL AND m.message_id IS NULL"
            " ORDER BY e.notification_id",
            "event {0} names message {1}, which the journal does not hold",
        ),
        (
            "SELECT m.message_id, m.event_count, COUNT(e.notification_id) FROM messages m"
            " LEFT JOIN events e ON e.message_id = m.message_id AND e.notification_id > 0"
            " GROUP BY m.message_id, m.event_count HAVING m.event_count <> COUNT(e.notification_id)"
            " ORDER BY m.message_id",
            "message {0} says it produced {1} events but {2} events in the log name it",
        ),
        (
            # A line some of whose messages still wait stays parked with the events of the rest;
            # a line with a message refused is rejected with the events of those applied, which
            # its reason lists ("messages 1, 2 of 3 applied", input_outcomes.each_part).
            "SELECT DISTINCT m.message_id, m.outcome FROM messages m"
            " JOIN events e ON e.message_id = m.message_id"
            # A denied request's only event is its breach fact (``BreachRecorded``).
            f" WHERE m.outcome NOT IN ('{Outcome.APPLIED}', '{Outcome.PARKED}', '{Outcome.DENIED}')"
            f" AND NOT (m.outcome = '{Outcome.REJECTED}'"
            f" AND COALESCE(m.reason, '') LIKE '%of % {Outcome.APPLIED}%')"
            " ORDER BY m.message_id",
            "message {0} is marked {1} but events in the log name it",
        ),
        (
            # One input may hold facts of several orders (a list of trades): the order it is
            # recorded for must be one of them.
            "SELECT m.message_id, m.client_order_id, MIN(e.client_order_id) FROM messages m JOIN events e"
            " ON e.message_id = m.message_id GROUP BY m.message_id, m.client_order_id"
            # An instrument definition is no order's: its line names none, its event ''.
            " HAVING SUM(CASE WHEN e.client_order_id = COALESCE(m.client_order_id, '') THEN 1 ELSE 0 END) = 0"
            " ORDER BY m.message_id",
            "message {0} is recorded for order {1!r} but produced events of order {2!r}",
        ),
        (
            "SELECT DISTINCT p.message_id, m.outcome FROM parked p LEFT JOIN messages m"
            f" ON m.message_id = p.message_id WHERE m.outcome IS NULL OR m.outcome <> '{Outcome.PARKED}'"
            " ORDER BY p.message_id",
            "parked row of message {0} belongs to no parked line (outcome {1})",
        ),
        (
            f"SELECT m.message_id FROM messages m WHERE m.outcome = '{Outcome.PARKED}'"
            " AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.message_id = m.message_id)"
            " ORDER BY m.message_id",
            "message {0} is marked parked but nothing waits for its order (no parked row)",
        ),
    ]
    problems: list[str] = []
    with db.read() as tx:
        for sql, text in checks:
            for row in tx.all(f"{sql} LIMIT ?", (limit,)):
                problems.append(text.format(*row))
        stored = {
            IdentityKey(str(r[0]), str(r[1]), str(r[2])): str(r[3])
            for r in tx.all("SELECT venue, kind, value, client_order_id FROM identities")
        }
    recorded = {key: order.client_order_id for order in orders.values() for key in identity_keys(order)}
    for key in sorted(set(stored) | set(recorded)):
        venue, kind, value = key
        if key not in stored:
            problems.append(
                f"identity {kind} {value!r} at venue {venue!r} of order {recorded[key]!r} is missing"
            )
        elif key not in recorded or recorded[key] != stored[key]:
            problems.append(
                f"identity {kind} {value!r} at venue {venue!r} names order {stored[key]!r},"
                " which the log does not explain"
            )
    return problems[:limit]
