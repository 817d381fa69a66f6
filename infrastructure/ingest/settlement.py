"""Settling a parked line: by hand (``messages settle``), or by the ledger when the context its
feed lacked is recorded. One mechanism: the line is set aside, with who and why, and its input,
when it is to be booked, is read again and recorded once more.

A parked message waits for an order that may never come (a venue's stray report, a test order
on another account), and ``messages --parked --older-than`` keeps alarming about it. Settling it
appends a journal line of format ``settlement`` that states which message, who settled it, why,
and every parked part as it waited (the ledger-format message); in the same commit the parked
line is marked ``ignored`` with who and why, and its parked rows go, exactly as when its order
arrives (the ledger's one way to settle a parked line: ``LedgerRecorder.commit``'s ``resolved``).
Nothing is deleted that the journal does not keep: the parked line's raw input stays as
received, and the waiting messages are in the settlement line.

A line of a venue feed that names what only another line defines (a Lighter market by number,
a Hyperliquid spot pair by index: ``adapters.common.MissingContext``) is parked under the key
``(venue, context:<kind>, value)``; its parked part states what it waits for. When a line
bringing that context is recorded, the lines waiting under it are found by that key
(:func:`context_waiting`, the ``parked`` table's index) and each is read again as a new journal
line that names it ("reads parked message N again"), with its settlement, set aside by
``orderledger``, in the same commit (``processing``: ``Inbound.rereads``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.storage.db import Tx
from orderledger.infrastructure.storage.store import Commit, JournalEntry, LedgerRecorder

FORMAT = "settlement"
"""The journal format of a settlement line."""
MAX_TEXT = 500
"""Longest reason or name a settlement records."""


def _one_line(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"a settlement needs {what}", field=what.split()[-1])
    text = value.strip()
    if len(text) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInputError(
            f"{what} must be one line of at most {MAX_TEXT} characters", field=what.split()[-1]
        )
    return text


@dataclass(frozen=True)
class ParkedLine:
    """A parked journal line as a settlement reads it."""

    message_id: int
    format: str
    raw: bytes
    client_order_id: str | None
    venue: str | None  # the venue its waiting messages name
    parts: list[tuple[int, bytes]]  # (part, the ledger-format message waiting)


def parked_line(tx: Tx, message_id: object) -> ParkedLine:
    """The parked line ``message_id``; refused unless it exists and is parked."""
    if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id <= 0:
        raise InvalidInputError(
            f"a message ID is a positive whole number, not {str(message_id)[:40]!r}", field="message_id"
        )
    row = tx.one(
        "SELECT outcome, raw, format, client_order_id FROM messages WHERE message_id = ?", (message_id,)
    )
    if row is None:
        raise InvalidInputError(f"no message {message_id} in the journal", field="message_id")
    if row[0] != Outcome.PARKED:
        raise InvalidInputError(
            f"message {message_id} is {row[0]}, not parked: only a parked message can be settled",
            field="message_id",
        )
    parts = [
        (int(r[0]), bytes(r[1]))
        for r in tx.all(
            "SELECT DISTINCT part, message FROM parked WHERE message_id = ? ORDER BY part", (message_id,)
        )
    ]
    venues = [json.loads(m).get("venue") for _, m in parts]
    venue = next((v for v in venues if isinstance(v, str) and v), None)
    return ParkedLine(message_id, str(row[2]), bytes(row[1]), row[3], venue, parts)


BY_LEDGER = "orderledger"
"""Who sets a line aside when the ledger reads its input again (its context recorded)."""


def context_lines(tx: Tx, fmt: str, before: int, note: str, after: int = 0) -> list[bytes]:
    """The journal's lines of format ``fmt`` received after message ``after`` and before message
    ``before`` whose reason holds ``note`` (a feed's context: a market map, spot names), each text
    once, oldest first. Such a line books nothing (``ignored``): the outcome index finds them."""
    rows = tx.all(
        "SELECT raw, MAX(message_id) AS last FROM messages WHERE outcome = ? AND message_id > ?"
        " AND message_id < ? AND format = ? AND reason LIKE ? GROUP BY raw ORDER BY last",
        (Outcome.IGNORED, after, before, fmt, f"%{note}%"),
    )
    return [bytes(row[0]) for row in rows]


def context_waiting(tx: Tx, keys: Sequence[tuple[str, str, str]]) -> list[tuple[int, bytes]]:
    """(message ID, raw input) of each line parked under any of these context keys (venue, kind,
    value), oldest first: a look-up in the ``parked`` table's index, never a scan."""
    found: dict[int, bytes] = {}
    keys = list(dict.fromkeys(keys))
    for start in range(0, len(keys), 300):
        chunk = keys[start : start + 300]
        clauses = " OR ".join("(p.kind = ? AND p.value = ? AND p.venue = ?)" for _ in chunk)
        for row in tx.all(
            "SELECT DISTINCT p.message_id, m.raw FROM parked p JOIN messages m ON m.message_id = p.message_id"
            f" WHERE {clauses}",
            [v for venue, kind, value in chunk for v in (kind, value, venue)],
        ):
            found[int(row[0])] = bytes(row[1])
    return sorted(found.items())


def context_part(key: tuple[str, str, str], why: str) -> bytes:
    """The parked part of a line waiting for its feed's context: what it waits for (its input,
    read again, gives its messages; the journal keeps that)."""
    venue, kind, value = key
    record = {"type": "context", "venue": venue, "kind": kind, "value": value, "waits": why}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_again(line: ParkedLine) -> str:
    """Why a line parked for its context is set aside: the context is recorded, and its input is
    read again (the journal line just before the settlement line)."""
    waits = [json.loads(body).get("waits") for _, body in line.parts]
    what = next((w.removeprefix("waits for ") for w in waits if isinstance(w, str)), "its context")
    return f"{what} is recorded; its input is read again, as the message before this settlement"


def aside(
    line: ParkedLine, *, who: str, why: str, stamp: str, origin: str
) -> tuple[JournalEntry, JournalEntry]:
    """The settlement line setting parked ``line`` aside and the line's settled entry, for one
    commit (``Commit(journal=[settlement], resolved=[line])``)."""
    record = {
        "type": "settle",
        "message_id": line.message_id,
        "action": "set_aside",
        "by": who,
        "reason": why,
        "parked": [{"part": part, "message": json.loads(body)} for part, body in line.parts],
    }
    raw = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    entry = JournalEntry(stamp, origin, None, FORMAT, raw, Outcome.APPLIED)
    entry.reason = f"set aside parked message {line.message_id} (by {who}: {why})"
    parked = JournalEntry(
        stamp,
        "",
        None,
        line.format,
        line.raw,
        Outcome.IGNORED,
        line.client_order_id,
        message_id=line.message_id,
    )
    parked.reason = f"set aside by {who}: {why}"
    parked.settles = [part for part, _ in line.parts]
    return entry, parked


def settlement_terms(reason: object, by: object) -> tuple[str, str]:
    """Why and who, each checked to be one line of text."""
    return _one_line(reason, "a reason"), _one_line(by, "who settles it (by)")


def set_aside(
    recorder: LedgerRecorder, message_id: int, *, reason: str, by: str, now: datetime, origin: str
) -> int:
    """Settle parked message ``message_id`` as set aside by ``by`` for ``reason``; returns the
    settlement line's message ID. Refused (nothing written) unless the message is parked."""
    why, who = settlement_terms(reason, by)
    with recorder.locked() as tx:  # nobody can resolve or settle the line meanwhile
        line = parked_line(tx, message_id)
        entry, parked = aside(line, who=who, why=why, stamp=format_timestamp(now), origin=origin)
        recorder.commit(Commit(journal=[entry], resolved=[parked]))
    assert entry.message_id is not None
    return entry.message_id


__all__ = [
    "BY_LEDGER",
    "FORMAT",
    "ParkedLine",
    "aside",
    "context_lines",
    "context_part",
    "context_waiting",
    "parked_line",
    "read_again",
    "set_aside",
    "settlement_terms",
]
