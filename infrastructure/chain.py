"""The hash chain: each stored event's hash covers its whole row and the hash before it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

GENESIS = b"\x00" * 32


def _encode(value: Any) -> bytes:
    if value is None:
        return b"\xff"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    else:
        data = str(value).encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def link(previous: bytes, row: Sequence[Any]) -> bytes:
    """The hash of one event row (every column but the hash) chained to ``previous``."""
    digest = hashlib.sha256(previous)
    for value in row:
        digest.update(_encode(value))
    return digest.digest()
