"""The hash chain: each stored event's hash covers its whole row and the hash before it.

The row's text columns are joined with the unit separator (identifiers and names cannot contain
control characters, so the joining is unambiguous); the payload bytes come last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

GENESIS = b"\x00" * 32
_NONE = "\x15"  # stands for NULL, distinct from an empty string


def link(previous: bytes, row: Sequence[Any]) -> bytes:
    """The hash of one event row (every column but the hash) chained to ``previous``.

    ``row`` is (notification_id, originator_id, originator_version, topic, state, event_type,
    client_order_id, account, venue, instrument, ts_event, ts_recorded, source, message_id).
    """
    state = row[4]
    text = "\x1f".join([_NONE if v is None else str(v) for v in (*row[:4], *row[5:])])
    payload = bytes(state) if not isinstance(state, bytes) else state
    return hashlib.sha256(previous + text.encode("utf-8") + b"\x1e" + payload).digest()
