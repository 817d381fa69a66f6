"""The journal's records as their hashes cover them, and the parked messages they wait on.

A journal row's hash covers its fields (:func:`message_fields`) and its raw bytes; a
settlement's covers :func:`settlement_fields`. Writing (store.py), upgrading (schema.py) and
verifying (audit/journal_check.py) all read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from orderledger.infrastructure.storage.chain import GENESIS
from orderledger.infrastructure.storage.db import Tx


def message_fields(row: Sequence[Any], parts: Sequence[Sequence[Any]]) -> list[Any]:
    """What a journal row's hash covers besides its raw bytes: ``row`` is (message_id,
    received_at, origin, line_no, format, raw, outcome, reason, client_order_id, event_count) as
    inserted, ``parts`` the [part, digest] of each message of it that was parked."""
    return ["message", *row[:5], *row[6:10], [list(p) for p in parts]]


def settlement_fields(record: Sequence[Any]) -> list[Any]:
    """What a settlement's hash covers: its row, hash excluded (position, message_id, parts,
    the line's reason, order and event count before, its outcome, reason, order and count after)."""
    return ["settlement", *record[:10]]


Waiting = dict[int, dict[int, tuple[list[tuple[str, str, str]], bytes]]]
"""Parked messages by line and part: the keys (venue, kind, value) each waits on, and its message."""


PARKED_ROWS = "SELECT message_id, part, venue, kind, value, message FROM parked"


def parked_parts(rows: Iterable[Sequence[Any]]) -> Waiting:
    """:data:`PARKED_ROWS` gathered by line and part."""
    waiting: Waiting = {}
    for r in rows:
        keys, _ = waiting.setdefault(r[0], {}).setdefault(r[1], ([], as_bytes(r[5])))
        keys.append((r[2], r[3], r[4]))
    return waiting


def as_bytes(value: Any) -> bytes:
    """A BLOB column's value as bytes (text put there around the ledger, as its UTF-8)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def journal_head(tx: Tx) -> tuple[int, bytes]:
    """The journal chain's last record: its position and hash ((0, GENESIS) when empty)."""
    found = [
        r
        for r in (
            tx.one("SELECT message_id, hash FROM messages ORDER BY message_id DESC LIMIT 1"),
            tx.one("SELECT position, hash FROM settlements ORDER BY position DESC LIMIT 1"),
        )
        if r is not None
    ]
    if not found:
        return 0, GENESIS
    position, digest = max(found, key=lambda r: int(r[0]))
    return int(position), GENESIS if digest is None else bytes(digest)


def journal_end(tx: Tx) -> int:
    """The last message ID the journal holds (0 when empty)."""
    return int(tx.one("SELECT COALESCE(MAX(message_id), 0) FROM messages")[0])


def lines_after(tx: Tx, fmt: str, after: int, page: int = 500) -> Iterator[tuple[int, bytes]]:
    """The journal's lines of format ``fmt`` recorded after message ``after`` that were not
    rejected, oldest first, each with its message ID (read a page at a time)."""
    while True:
        rows = tx.all(
            "SELECT message_id, raw FROM messages WHERE message_id > ? AND format = ?"
            " AND outcome <> 'rejected' ORDER BY message_id LIMIT ?",
            (after, fmt, page),
        )
        for row in rows:
            yield int(row[0]), as_bytes(row[1])
        if len(rows) < page:
            return
        after = int(rows[-1][0])
