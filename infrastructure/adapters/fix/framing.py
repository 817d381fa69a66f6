"""Reading FIX text: framing by BodyLength, the CheckSum, fields and times (see the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.adapters.common import text_or_none
from orderledger.infrastructure.adapters.fix.codes import (
    BEGIN,
    FIELD,
    SOH,
    TIME_FORM,
    WHOLE,
    FixError,
    Report,
)


class FixFields(dict[int, str]):
    """One FIX message: tag → first value, and every field in order in :attr:`pairs`."""

    def __init__(self, pairs: Iterable[tuple[int, str]]) -> None:
        super().__init__()
        self.pairs: list[tuple[int, str]] = list(pairs)
        for tag, value in self.pairs:
            self.setdefault(tag, value)


def read_fix(text: str | bytes) -> list[FixFields]:
    """Every FIX message in one captured line, each checked (BodyLength 9, CheckSum 10).

    ``str`` text is read as its UTF-8 bytes, which is what a checksum was computed on.
    """
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    raw = raw.strip(b"\r\n")
    separator = SOH.encode() if SOH.encode() in raw else b"|"
    return [_read_one(chunk, separator) for chunk in _frames(raw, separator)]


def parse_fix(text: str | bytes) -> FixFields:
    """Read exactly one FIX message (see :func:`read_fix`) into tag → value."""
    messages = read_fix(text)
    if len(messages) != 1:
        raise FixError(f"{len(messages)} FIX messages in the text, not one: read them with read_fix")
    return messages[0]


def _frames(raw: bytes, separator: bytes) -> list[bytes]:
    """The byte span of each message: BodyLength frames it, else the next ``<sep>8=FIX`` does."""
    start = _first_begin(raw)
    if start is None:
        return [raw]  # a bare tag=value message (no BeginString), as tests and tools write them
    if separator in raw[:start]:  # a prefix holds no fields (log4j-style "session=…" text is fine)
        raise FixError(f"text before BeginString (8) is not a log prefix: {_shown(raw[:start])}")
    frames: list[bytes] = []
    position = start
    while True:
        end = _frame_end(raw, position, separator)
        frames.append(raw[position:end])
        rest = raw[end:].lstrip(b" \t" + separator)
        if not rest:
            return frames
        if not rest.startswith(BEGIN):
            raise FixError(f"text after CheckSum (10) is not a FIX message: {_shown(rest)}")
        position = len(raw) - len(rest)


def _first_begin(raw: bytes) -> int | None:
    position = raw.find(BEGIN)
    while position > 0 and raw[position - 1 : position].isalnum():  # 58=FIX… is not a BeginString
        position = raw.find(BEGIN, position + 1)
    return None if position < 0 else position


def _frame_end(raw: bytes, start: int, separator: bytes) -> int:
    first = raw.find(separator, start)
    if first >= 0 and raw.startswith(b"9=", first + 1):
        second = raw.find(separator, first + 1)
        length = raw[first + 3 : second] if second > 0 else b""
        if length.isdigit() and len(length) <= 9:
            trailer = re.compile(rb"10=[0-9]{3}(?:" + re.escape(separator) + rb"|$)")
            found = trailer.match(raw, second + 1 + int(length))
            if found is not None:
                return found.end()
    # No usable BodyLength (or a wrong one, reported by _read_one): the next BeginString ends it.
    following = raw.find(separator + BEGIN, start)
    return len(raw) if following < 0 else following + len(separator)


def _read_one(chunk: bytes, separator: bytes) -> FixFields:
    pairs: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []  # (start of the field, end including its separator)
    position = 0
    encoding = _encoding(chunk)
    while position < len(chunk):
        end = chunk.find(separator, position)
        end = len(chunk) if end < 0 else end
        part = chunk[position:end]
        if part:
            match = FIELD.match(part)
            if match is None:
                raise FixError(f"not a FIX field (tag=value): {_shown(part)}")
            pairs.append((int(match.group(1)), match.group(2).decode(encoding)))
            spans.append((position, min(end + len(separator), len(chunk))))
        position = end + len(separator)
    if not pairs:
        raise FixError("empty FIX message")
    _check_frame(chunk, separator, pairs, spans)
    return FixFields(pairs)


def _encoding(chunk: bytes) -> str:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _check_frame(
    chunk: bytes, separator: bytes, pairs: list[tuple[int, str]], spans: list[tuple[int, int]]
) -> None:
    """BodyLength (9) and CheckSum (10), when present, exactly as the FIX spec defines them."""
    tags = [tag for tag, _ in pairs]
    trailer = len(chunk)
    if 10 in tags:
        at = tags.index(10)
        if at != len(tags) - 1:
            raise FixError("CheckSum (10) must be the last field")
        trailer = spans[at][0]
    seq = dict(pairs).get(34)
    where = f" (MsgSeqNum {seq})" if seq else ""
    if 9 in tags:
        at = tags.index(9)
        if at != 1 or tags[0] != 8:
            raise FixError("BodyLength (9) must follow BeginString (8)")
        stated = pairs[at][1]
        if not WHOLE.match(stated):
            raise FixError(f"BodyLength (9) is not a whole number: {stated[:20]!r}")
        actual = trailer - spans[at][1]
        if int(stated) != actual:
            raise FixError(f"BodyLength (9) is {int(stated)} but the body holds {actual} bytes{where}")
    if 10 in tags:
        stated = pairs[-1][1]
        if not re.fullmatch(r"[0-9]{3}", stated):
            raise FixError(f"CheckSum (10) must be three digits, not {stated[:20]!r}")
        # The engine summed the bytes on the wire, where every separator is SOH (0x01).
        counted = chunk[:trailer]
        total = (sum(counted) - counted.count(separator) * (separator[0] - 1)) % 256
        if int(stated) != total:
            raise FixError(f"CheckSum (10) is {stated} but the message's bytes sum to {total:03d}{where}")


def _shown(part: bytes) -> str:
    return repr(part[:40].decode("utf-8", "replace"))


def value_of(report: Report, tag: int) -> str | None:
    value = report.get(tag)
    if value is None:
        value = report.get(str(tag))
    return text_or_none(value)


def transact_time(value: str, field: str = "TransactTime(60)") -> str:
    """``YYYYMMDD-HH:MM:SS[.sss…]`` (UTC) as ISO 8601 with microseconds and ``Z``."""
    match = TIME_FORM.match(value.strip())
    if match is None:
        raise FixError(f"{field} is not YYYYMMDD-HH:MM:SS[.sss]: {value[:40]!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    micros = int((fraction or "").ljust(6, "0")[:6])
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC
        )
    except ValueError:
        raise FixError(f"{field} is not a valid time: {value[:40]!r}") from None
    return format_timestamp(moment)


def report_time(report: Report) -> str:
    for tag, name in ((60, "TransactTime(60)"), (52, "SendingTime(52)")):
        value = value_of(report, tag)
        if value is not None:
            return transact_time(value, name)
    raise FixError("the report has neither TransactTime (60) nor SendingTime (52)")
