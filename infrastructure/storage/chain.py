"""The hash chain: each stored event's hash covers its whole row and the hash before it.

The row's text columns are joined with the unit separator (identifiers and names cannot contain
control characters, so the joining is unambiguous); the payload bytes come last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from hashlib import sha256
from typing import Any

import orjson

GENESIS = b"\x00" * 32
_NONE = "\x15"  # stands for NULL, distinct from an empty string


def link(previous: bytes, row: Sequence[Any]) -> bytes:
    """The hash of one event row (every column but the hash) chained to ``previous``.

    ``row`` is (notification_id, originator_id, originator_version, topic, state, event_type,
    client_order_id, account, venue, instrument, ts_event, ts_recorded, source, message_id).
    """
    if len(row) == 14 and None not in row:
        # Every row the ledger writes: the text in one f-string (format(value, "") is str(value)
        # for the ints and strings a row holds), hashed in one buffer (join takes the payload as
        # bytes, bytearray or memoryview alike): the same bytes as the general case below.
        nid, oid, version, topic, state, etype, coid, account, venue, instrument, tse, tsr, source, mid = row
        text = f"{nid}\x1f{oid}\x1f{version}\x1f{topic}\x1f{etype}\x1f{coid}\x1f{account}\x1f{venue}"
        text += f"\x1f{instrument}\x1f{tse}\x1f{tsr}\x1f{source}\x1f{mid}"
        return sha256(b"".join((previous, text.encode("utf-8"), b"\x1e", state))).digest()
    values = [*row[:4], *row[5:]]
    if None in values:
        values = [_NONE if v is None else v for v in values]
    state = row[4]
    digest = sha256(previous)
    digest.update("\x1f".join(map(str, values)).encode("utf-8"))
    digest.update(b"\x1e")
    digest.update(state if isinstance(state, bytes) else bytes(state))
    return digest.digest()


# ---------------------------------------------------------------------- the journal's chain
# The journal (``messages``) and the settlements of parked lines share one numbering (a journal
# record's position: a message's ID, a settlement's position) and one chain in that order. A
# reason or an origin may hold any text, so the fields are joined as JSON, which no text can
# make ambiguous; the raw bytes come last, as an event's payload does.


def journal_link(previous: bytes, fields: Sequence[Any], raw: bytes = b"") -> bytes:
    """The hash of one journal record (its ``fields`` and ``raw`` bytes) chained to ``previous``."""
    return sha256(b"".join((previous, _compact(fields), b"\x1e", raw))).digest()


def parked_digest(part: int, keys: Iterable[Sequence[str]], message: bytes) -> str:
    """What a parked message waits on and what it will apply, as one hex digest: a journal row's
    hash covers the digests of its parked parts, a settlement's those it settles."""
    text = _compact([part, sorted(list(k) for k in keys)])
    return sha256(b"".join((text, b"\x1e", message))).hexdigest()


def _compact(fields: Any) -> bytes:
    """Compact JSON as UTF-8: what ``json.dumps(fields, ensure_ascii=False, separators=(",",
    ":"))`` writes, by orjson (a tenth of the time per journal line); text orjson refuses (a lone
    surrogate) by the standard library."""
    try:
        return orjson.dumps(fields)
    except orjson.JSONEncodeError:
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
