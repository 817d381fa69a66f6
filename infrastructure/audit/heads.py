"""Heads: a chain's last position and hash, as ``orderledger head`` prints them (``ID:HASH
journal ID:HASH``), as a person records them elsewhere (``--expect-head``, a heads file) and as
the database stores them. ``verify`` checks that every head recorded earlier is still in the
chains."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.storage.db import Database, table_columns
from orderledger.infrastructure.storage.journal import journal_head

Heads = Mapping[int, str]
"""Heads recorded earlier: position → hash (hex). Each must still be in the chain."""


def merge_heads(heads: Heads, more: Iterable[tuple[int, str]], source: str) -> dict[int, str]:
    """``heads`` with ``more`` added; two different hashes for one position are refused."""
    merged = dict(heads)
    for position, digest in more:
        if merged.setdefault(position, digest) != digest:
            raise InvalidInputError(
                f"{source}: two different hashes recorded for event {position}"
                f" ({merged[position]} and {digest}): the record of heads itself was altered",
                field="heads",
            )
    return merged


def parse_head(text: str, source: str) -> tuple[int, str]:
    """``ID:HASH`` as ``orderledger head`` prints it."""
    position, sep, digest = text.strip().partition(":")
    if not sep or not position.isdigit() or int(position) < 1 or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise InvalidInputError(
            f"{source} takes ID:HASH as printed by `orderledger head`, not {text.strip()[:80]!r}",
            field="heads",
        )
    return int(position), digest.lower()


@dataclass
class RecordedHeads:
    """Heads recorded earlier, each position → hash (hex): the log's and the journal's."""

    events: dict[int, str] = field(default_factory=dict)
    journal: dict[int, str] = field(default_factory=dict)

    def add(self, text: str, source: str) -> None:
        """Add a line as ``orderledger head`` prints it: ``ID:HASH``, ``ID:HASH journal ID:HASH``
        or ``journal ID:HASH`` (a head recorded before the journal was chained has no journal part)."""
        log, sep, journal = text.strip().partition("journal")
        if log.strip():
            self.events = merge_heads(self.events, [parse_head(log, source)], source)
        if sep:
            self.journal = merge_heads(self.journal, [parse_head(journal, source)], f"{source} (journal)")
        if not log.strip() and not sep:
            parse_head(text, source)  # raises: nothing recognisable


def parse_heads(text: str, source: str) -> RecordedHeads:
    """One recorded head line (``--expect-head``)."""
    recorded = RecordedHeads()
    recorded.add(text, source)
    return recorded


def head_text(events: tuple[int, str] | None, journal: tuple[int, str] | None) -> str | None:
    """``ID:HASH journal ID:HASH`` as ``orderledger head`` prints it (None when both are empty)."""
    parts = [] if events is None else [f"{events[0]}:{events[1]}"]
    if journal is not None:
        parts.append(f"journal {journal[0]}:{journal[1]}")
    return " ".join(parts) or None


def read_heads(path: Path) -> RecordedHeads:
    """The heads recorded in a file, one a line (blank lines and ``#`` comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read the heads file {str(path)!r}: {error}", field="heads") from None
    heads = RecordedHeads()
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            heads.add(line, f"heads file {str(path)!r} line {number}")
    return heads


def stored_head(db: Database) -> tuple[int, str] | None:
    """The last chained event's position and hash as stored (``orderledger head``)."""
    with db.read() as tx:
        row = tx.one(
            "SELECT notification_id, hash FROM events WHERE notification_id > 0"
            " ORDER BY notification_id DESC LIMIT 1"
        )
    return None if row is None else (int(row[0]), bytes(row[1]).hex())


def stored_journal_head(db: Database) -> tuple[int, str] | None:
    """The journal chain's last record's position and hash as stored (None when empty or not
    yet chained)."""
    with db.read() as tx:
        if "hash" not in table_columns(tx, "messages"):
            return None
        position, digest = journal_head(tx)
    return None if not position else (position, digest.hex())


__all__ = [
    "Heads",
    "RecordedHeads",
    "head_text",
    "merge_heads",
    "parse_head",
    "parse_heads",
    "read_heads",
    "stored_head",
    "stored_journal_head",
]
