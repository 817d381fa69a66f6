"""Anchors: the heads a passing ``verify`` stored, from which the next verify checks only what is new.

Each anchor records the log's and the journal's heads as verified, and when; the anchors are
themselves a hash chain (each hash covers the anchor and the one before it) in an append-only
table (``verified``). A full verify takes every anchor as a head recorded earlier: each must still
be in the chains. An incremental one starts :data:`OVERLAP` records before the last anchor and
must reach the anchored hashes again, so neither the anchor nor the last records it covers can be
changed unseen; what lies further back only a full verify checks again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from orderledger.infrastructure.storage.chain import GENESIS, journal_link
from orderledger.infrastructure.storage.db import Database, table_columns

OVERLAP = 1_000
"""Records of each chain before the anchor that an incremental verify walks again."""

_COLUMNS = "anchor, event_position, event_hash, journal_position, journal_hash, verified_at, hash"


@dataclass(frozen=True)
class Anchor:
    """A passing verify's heads: (position, hash hex) of the log and of the journal (None: that
    chain was empty), its number in the anchors' chain and when it was verified."""

    number: int
    events: tuple[int, str] | None
    journal: tuple[int, str] | None
    verified_at: str


@dataclass
class Anchors:
    """What the check of the anchors' chain found: how many, every anchored head (position →
    hash hex), the last anchor, and the first break."""

    count: int = 0
    events: dict[int, str] = field(default_factory=dict)
    journal: dict[int, str] = field(default_factory=dict)
    last: Anchor | None = None
    problems: list[str] = field(default_factory=list)


def _link(
    previous: bytes, number: int, events: tuple[int, bytes], journal: tuple[int, bytes], at: str
) -> bytes:
    fields = [number, events[0], events[1].hex(), journal[0], journal[1].hex(), at]
    return journal_link(previous, fields)


def _has_table(db: Database) -> bool:
    with db.read() as tx:
        return bool(table_columns(tx, "verified"))


def check_anchors(db: Database) -> Anchors:
    """Walk the anchors' chain: numbered from 1 without a gap, each hash over its anchor and the
    hash before it, each heads' position no earlier than the anchor's before."""
    found = Anchors()
    if not _has_table(db):
        return found  # a database of an earlier release, opened read-only: never anchored
    previous, reached = GENESIS, (0, 0)
    with db.read() as tx:
        rows = tx.all(f"SELECT {_COLUMNS} FROM verified ORDER BY anchor")
    for number, row in enumerate(rows, 1):
        events, journal = (int(row[1]), bytes(row[2])), (int(row[3]), bytes(row[4]))
        if int(row[0]) != number:
            found.problems.append(f"anchor {number} is missing (the anchors jump to {row[0]})")
            break
        if _link(previous, number, events, journal, str(row[5])) != bytes(row[6]):
            found.problems.append(f"anchor {number} does not match its hash: it was altered")
            break
        if events[0] < reached[0] or journal[0] < reached[1]:
            found.problems.append(f"anchor {number} anchors heads before those of the anchor before it")
            break
        previous, reached = bytes(row[6]), (events[0], journal[0])
        if events[0]:
            found.events[events[0]] = events[1].hex()
        if journal[0]:
            found.journal[journal[0]] = journal[1].hex()
        found.count = number
        found.last = Anchor(
            number,
            (events[0], events[1].hex()) if events[0] else None,
            (journal[0], journal[1].hex()) if journal[0] else None,
            str(row[5]),
        )
    return found


def record_anchor(
    db: Database, events: tuple[int, str] | None, journal: tuple[int, str] | None
) -> Anchor | None:
    """Append an anchor for the heads a verify found intact (None when both chains are empty, or
    when they are where the last anchor left them)."""
    if events is None and journal is None:
        return None
    heads = (events or (0, GENESIS.hex()), journal or (0, GENESIS.hex()))
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with db.write() as tx:
        row = tx.one(
            "SELECT anchor, event_position, journal_position, hash FROM verified ORDER BY anchor DESC LIMIT 1"
        )
        number, previous = (0, GENESIS) if row is None else (int(row[0]), bytes(row[3]))
        if row is not None and (int(row[1]), int(row[2])) == (heads[0][0], heads[1][0]):
            return None
        number += 1
        stored = tuple((p, bytes.fromhex(h)) for p, h in heads)
        digest = _link(previous, number, stored[0], stored[1], at)
        tx.execute(
            f"INSERT INTO verified ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (number, stored[0][0], stored[0][1], stored[1][0], stored[1][1], at, digest),
        )
    return Anchor(number, events, journal, at)


def stored_hash(db: Database, chain: str, position: int) -> bytes | None:
    """The hash stored at ``position`` of the log (``chain`` "events") or of the journal."""
    with db.read() as tx:
        if chain == "events":
            row = tx.one("SELECT hash FROM events WHERE notification_id = ?", (position,))
        else:
            row = tx.one(
                "SELECT hash FROM messages WHERE message_id = ?"
                " UNION ALL SELECT hash FROM settlements WHERE position = ?",
                (position, position),
            )
    return None if row is None or row[0] is None else bytes(row[0])


def incremental_starts(
    db: Database, anchor: Anchor, overlap: int, heads: dict[int, str], journal_heads: dict[int, str]
) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    """Where an incremental verify starts each chain: ``overlap`` records before the anchor,
    at the hash stored there, with the anchored hash a head the walk must reach (so a change to
    the anchored region's last records, or to the anchor, breaks it). Heads recorded before the
    start are compared with the hashes stored at their positions (``heads`` keeps the others)."""
    starts = []
    for chain, anchored, recorded in (
        ("events", anchor.events, heads),
        ("journal", anchor.journal, journal_heads),
    ):
        position = max(0, anchored[0] - overlap) if anchored else 0
        for at in sorted(p for p in recorded if p <= position):
            if stored_hash(db, chain, at) != bytes.fromhex(recorded[at]):
                position = at - 1  # the walk starts before it, and reports it
                break
        for at in [p for p in recorded if p <= position]:
            del recorded[at]
        if anchored:
            recorded.setdefault(anchored[0], anchored[1])
        digest = stored_hash(db, chain, position) if position else GENESIS
        starts.append((position, GENESIS if digest is None else digest))
    return starts[0], starts[1]
