"""Reading a ``POST /messages`` body into the inputs it holds, each as the bytes that were sent.

A JSON array is split into its items without decoding them: each item's text, exactly as sent,
goes to ingest as one line would, so the ledger's own reader (exact decimals, duplicate keys
refused, depth bounded) decides every item, and the journal keeps the bytes received. Reading
the array through a JSON library first would turn every number into a binary float and keep
only the last of duplicate keys, and the journal would hold the library's re-encoding.
"""

from __future__ import annotations

import re

import orjson

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)
"""A string (skipped whole, so no bracket or comma inside it counts) or a structural byte."""
_JSON_SPACE = b" \t\r\n"


class NotJson(ValueError):
    """The body is not one JSON document."""


def json_items(body: bytes) -> list[bytes] | None:
    """The items of a JSON array body, each as sent (surrounding whitespace aside); None when
    the body is one JSON document that is not an array. Raises ``NotJson`` for anything else.

    orjson checks the syntax (and bounds the depth, at 1,024); its values are not used.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise NotJson(str(error)) from None
    if not isinstance(document, list):
        return None
    if not document:
        return []
    start = body.index(b"[") + 1
    items: list[bytes] = []
    depth = 0
    for token in _TOKENS.finditer(body, start):
        mark = token.group()
        if mark[0] == ord('"'):
            continue
        if mark in (b"[", b"{"):
            depth += 1
        elif depth:
            depth -= int(mark != b",")
        else:  # a comma or the closing bracket of the array itself
            items.append(body[start : token.start()].strip(_JSON_SPACE))
            start = token.end()
            if mark == b"]":
                break
    return items
