"""Reading a JSON line exactly: numbers become Decimal without passing through float, and
duplicate keys, NaN, lone surrogates, nesting beyond ``MAX_DEPTH`` and lines over
``MAX_LINE_BYTES`` are refused with a one-line reason (``decode_json``).

Speed: a line without escapes or numbers is read by orjson (``read_fast``); anything else
takes the exact decoder, so the result, or the reason for a refusal, is the same either way.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from orderledger.infrastructure.errors import MessageError

MAX_LINE_BYTES = 1_000_000
MAX_MAP_ENTRIES = 32
MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a line may have: far beyond any message or venue payload,
far below where a recursive reader (the JSON decoder, validation) would run out of stack."""
_NESTING: dict[type, re.Pattern[Any]] = {
    str: re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]'),
    bytes: re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]'),
}
_OPENERS: dict[type, tuple[Any, Any]] = {str: ("[", "{"), bytes: (b"[", b"{")}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constants(name: str) -> Any:
    raise MessageError(f"{name} is not a number the ledger accepts")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MessageError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _int_exact(text: str) -> Decimal:
    if len(text) > 60:
        raise MessageError("integer literal is too long")
    return Decimal(text)


def _float_exact(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what any Decimal holds (1e99999999999999999999)
        raise MessageError(f"number {text[:40]} is out of range") from None


def _holds_surrogate(value: Any) -> bool:
    """True when any string in a decoded JSON value (keys included) has an unpaired surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


_DECODER = json.JSONDecoder(
    parse_float=_float_exact,
    parse_int=_int_exact,
    parse_constant=_no_constants,
    object_pairs_hook=_unique_keys,
)
"""One decoder for every line (json.loads with options builds a new one per call)."""


def check_depth(line: str | bytes) -> None:
    """Refuse a line whose arrays and objects nest deeper than MAX_DEPTH (brackets inside strings
    do not count); a line with fewer brackets than that is passed at the cost of two counts."""
    kind = type(line)
    opener, brace = _OPENERS[kind]
    if line.count(opener) + line.count(brace) <= MAX_DEPTH:
        return
    depth = 0
    for token in _NESTING[kind].finditer(line):
        first = token.group()[:1]
        if first in (opener, brace):
            depth += 1
            if depth > MAX_DEPTH:
                raise MessageError(f"JSON is nested deeper than {MAX_DEPTH} levels")
        elif len(token.group()) == 1:
            depth -= 1


def decode_json(line: str | bytes) -> Any:
    """JSON with exact decimals; NaN/Infinity, duplicate keys, nesting deeper than MAX_DEPTH and
    text that is not Unicode refused."""
    if len(line) > MAX_LINE_BYTES:
        raise MessageError(f"line is longer than {MAX_LINE_BYTES} bytes")
    check_depth(line)
    if isinstance(line, bytes):
        # Strictly UTF-8 (json.loads would guess UTF-16/32 and let CESU-8 surrogates through);
        # a leading byte order mark, as some editors write, is not part of the line.
        try:
            text = line.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as error:
            raise MessageError(
                f"malformed JSON: not UTF-8 (byte {line[error.start]:#04x} at {error.start})"
            ) from None
    else:
        text = line
    try:
        if text.startswith("\ufeff"):  # what json.loads says of a text that starts with a BOM
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except MessageError:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise MessageError(f"malformed JSON: {str(error).splitlines()[0][:200]}") from None
    # A \\ud800 escape decodes to a lone surrogate: not a character, and no store can encode it.
    if (_SURROGATE.search(text) or _SURROGATE_ESCAPE.search(text)) and _holds_surrogate(value):
        raise MessageError("text holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode")
    return value


def _strings(value: dict[str, Any], depth: int = 1) -> int:
    """How many strings an object holds, keys included; -1 if it holds a number or a list, or
    objects nested deeper than MAX_DEPTH (``value`` is at ``depth``)."""
    count = 0
    for item in value.values():
        kind = type(item)
        if kind is str:
            count += 1
        elif kind is dict:
            inner = -1 if depth == MAX_DEPTH else _strings(item, depth + 1)
            if inner < 0:
                return -1
            count += inner
        elif kind is not bool and item is not None:
            return -1
    return count + len(value)


_ORJSON_BYTES = 1 << 16
"""The longest line given to orjson, which takes about 13 times a line's length while it reads."""


def read_fast(line: bytes) -> Any:
    """What ``decode_json`` makes of a line, by orjson; None when orjson cannot say the same.

    orjson refuses all that ``decode_json`` refuses but duplicate keys (it lets the last one
    win), and reads numbers as int or float, not as the exact Decimal. So it answers for an
    object of strings, true, false, null and such objects, in a line without escapes: there every
    ``"`` opens or closes a string, and a duplicate key shows as a string fewer than half the quotes.
    """
    # (find, not ``in``: bytes' ``in`` first tries its argument as an integer, raising and
    # clearing a TypeError for every line). The nesting is not counted first (``check_depth``):
    # orjson refuses a line nested deeper than it reads, and ``_strings`` answers -1 for one
    # deeper than MAX_DEPTH, which ``decode_json`` then refuses.
    if len(line) > _ORJSON_BYTES or line.find(b"\\") >= 0:
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(value) is dict and 2 * _strings(value) == line.count(b'"'):
        return value
    return None
