"""The fuzz tests' inputs and the invariants every batch they feed is checked against
(``tests/reliability/test_fuzz_ingest.py`` describes both)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.audit.verify import verify
from orderledger.infrastructure.ingest.inbound import Result
from orderledger.infrastructure.messages.models import FIELDS
from tests.support.integration import VIEW_SPECS

MAX_REASON = 300
INTERNAL = "internal error"
"""How the line readers' last-resort handler starts its reason; a fuzz input must never reach it."""
MB = 1_000_000
TALLY: Counter[str] = Counter()
"""Every line the fuzz tests feed, by outcome (their last test prints it)."""

# ============================================================================= checking a batch


def non_blank(lines: Iterable[str | bytes]) -> list[int]:
    """The physical line numbers (from 1) that are not blank (ASCII whitespace only)."""
    found = []
    for number, line in enumerate(lines, start=1):
        raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
        if raw.strip():
            found.append(number)
    return found


def ingest(ledger: OrderLedger, lines: list[str] | list[bytes], **kwargs: Any) -> tuple[Any, list[Result]]:
    """Ingest and check invariants 1 and 2; returns the report and every line's result."""
    results: list[Result] = []
    report = ledger.ingest_lines(lines, on_batch=results.extend, **kwargs)
    expected = non_blank(lines)
    assert report.lines == len(expected) == len(results), (report.lines, len(expected), len(results))
    assert sum(report.counts.values()) == report.lines, report.counts
    assert [r.line_no for r in results] == expected
    for result in results:
        reason = result.reason or ""
        assert "\n" not in reason and "\r" not in reason, f"multi-line reason: {reason[:500]!r}"
        # A reason may quote a field name the line itself carries (Hypothesis draws names from the
        # test's own constants, "Traceback" among them); a traceback's header never fits in one.
        assert "Traceback (most recent call last)" not in reason, reason[:500]
        assert len(reason) <= MAX_REASON, f"reason of {len(reason)} characters: {reason[:200]!r}…"
        assert INTERNAL not in reason, reason
        if result.outcome == "rejected":
            assert reason, f"line {result.line_no} rejected without a reason"
    TALLY["lines"] += report.lines
    TALLY["bytes"] += sum(len(x) for x in lines)
    TALLY.update(report.counts)
    return report, results


def store_dump(ledger: OrderLedger) -> dict[str, Any]:
    """Everything a rejected line must not change: events, identities, parked, views, tracking."""

    def plain(row: Iterable[Any]) -> tuple[Any, ...]:
        return tuple(bytes(v) if isinstance(v, memoryview | bytearray) else v for v in row)

    dump: dict[str, Any] = {}
    with ledger.db.read() as tx:
        dump["events"] = [plain(r) for r in tx.all("SELECT * FROM events ORDER BY notification_id")]
        dump["identities"] = sorted(plain(r) for r in tx.all("SELECT * FROM identities"))
        dump["parked"] = sorted(plain(r) for r in tx.all("SELECT * FROM parked"))
        dump["view_tracking"] = sorted(plain(r) for r in tx.all("SELECT * FROM view_tracking"))
        for spec in VIEW_SPECS:
            dump[spec.name] = sorted((plain(r) for r in tx.all(f"SELECT * FROM {spec.name}")), key=repr)
        dump["journal"] = tx.one("SELECT COUNT(*) FROM messages")[0]
    return dump


def journal_tail(ledger: OrderLedger, count: int) -> list[tuple[str, str | None, int]]:
    """(outcome, reason, event count) of the last ``count`` journal rows."""
    with ledger.db.read() as tx:
        rows = tx.all(
            "SELECT outcome, reason, event_count FROM messages ORDER BY message_id DESC LIMIT ?", [count]
        )
    return [(r[0], r[1], int(r[2])) for r in reversed(rows)]


def assert_rejected_changes_nothing(
    ledger: OrderLedger, lines: list[str] | list[bytes], **kwargs: Any
) -> None:
    """Invariant 3: ingest lines that must all be rejected; only journal rows may appear."""
    before = store_dump(ledger)
    report, results = ingest(ledger, lines, **kwargs)
    accepted = [(r.line_no, r.outcome, r.reason) for r in results if r.outcome != "rejected"]
    assert not accepted, (
        f"garbage not rejected: {accepted[:3]} (line: {lines[(accepted[0][0] or 0) - 1]!r:.300})"
    )
    after = store_dump(ledger)
    assert after["journal"] == before["journal"] + report.lines
    journaled = journal_tail(ledger, report.lines)
    assert all(outcome == "rejected" and events == 0 for outcome, _, events in journaled), journaled[:3]
    before.pop("journal"), after.pop("journal")
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"a rejected batch changed {changed}"


def maybe_unchanged(ledger: OrderLedger, lines: list[str] | list[bytes], **kwargs: Any) -> None:
    """Invariants 1-2 for any batch, and 3 when it happens to be rejected whole."""
    before = store_dump(ledger)
    report, results = ingest(ledger, lines, **kwargs)
    # Each message of an input has its own fate: a rejected input keeps only the events of the
    # messages its reason lists as applied.
    kept = [r for r in results if r.outcome == "rejected" and r.events]
    assert all(re.search(r" of \d+ applied", r.reason or "") for r in kept), "a rejected input kept events"
    if report.lines and report.counts["rejected"] == report.lines and not kept:
        after = store_dump(ledger)
        assert after["journal"] == before["journal"] + report.lines
        before.pop("journal"), after.pop("journal")
        assert before == after, "a wholly rejected batch changed the store"


def assert_chain_ok(ledger: OrderLedger) -> None:
    """The hash chain verifies and every view equals a fresh fold of the log."""
    found = verify(ledger.db, ledger.mapper)
    assert found.ok, (found.broken, found.view_problems[:3])


# ============================================================================= inputs

SESSION = simulate(3, 12)
"""A small simulated session (requests, acks, fills, cancels, amends, a bust …) to mutate."""
FILL = next(m for m in SESSION if m["type"] == "fill")


def pairs_of(message: dict[str, Any]) -> list[tuple[str, str]]:
    """A message as (key JSON, value JSON) pairs, so values can be replaced by raw JSON text."""
    return [(json.dumps(k), json.dumps(v, separators=(",", ":"))) for k, v in message.items()]


def render(pairs: Iterable[tuple[str, str]]) -> str:
    """An object line from raw (key, value) JSON texts (duplicates and bad values kept as given)."""
    return "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"


def seeded_ledger(url: str = "memory://", **kwargs: Any) -> OrderLedger:
    """A ledger holding the session (orders, identities, views) and one parked fill."""
    ledger = OrderLedger(url, **kwargs)
    lines = [render(pairs_of(m)) for m in SESSION]
    lines.append(
        render(
            pairs_of(
                {"type": "fill", "client_order_id": "ghost", "trade_id": "g-1", "quantity": "1", "price": "2"}
                | {"ts": "2026-11-20T10:00:00Z"}
            )
        )
    )
    report = ledger.ingest_lines(lines)
    assert report.counts["rejected"] == 0, [r.reason for r in report.rejected]
    with ledger.db.read() as tx:
        assert tx.one("SELECT COUNT(*) FROM parked")[0] > 0
        assert tx.one("SELECT COUNT(*) FROM identities")[0] > 0
    return ledger


NUMBERS = [
    "1e308", "-1e308", "1e-400", "1" + "0" * 400, "-" + "9" * 61, "-0", "-0.0", "0e0", "0", "1E+999999",
    "1e99999999999999999999", "1E+999999999999999999", "-1e-99999999999999999999", "1e-20", "1e20", "1e21",
    "1e-21", "0.1", "5E-2", "123456789012345678901234567890", "1234567890123456789012345678901",
    "0." + "1" * 5000, "1" * 60, "1" * 61, "2.5e+3", "1E400",
]  # fmt: skip
"""JSON number texts, valid and not, that stress exact decimal parsing."""
BAD_LITERALS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "+1", "01", ".5", "1.", "0x10", "1_000", "--1"]
"""Texts that are not JSON numbers (some encoders write them anyway)."""
STRINGS = [
    '"NaN"', '"nan"', '"Infinity"', '"-Infinity"', '"inf"', '"1E+999999"', '"1e-400"', '"-0"', '" 1 "', '""',
    '" "', '"1' + "0" * 200 + '"', '"1E+999999999999999999"', '"\\u0000"', '"a\\u0000b"', '"a\\nb"',
    '"\\ud800"', '"x\\udfff"', '"\\udc80"', '"\\ud83d\\ude00"', '"\u202ebuy"', '"\u200f"', '"😀"',
    '"\\u202e"', '"\u0661\u0662"', '"true"', '"null"', '"BUY"', '"Limit"', '"2026-11-20T10:00:00"',
    '"2026-11-20"',
    '"0001-01-01T00:00:00+01:00"', '"9999-12-31T23:59:59-01:00"', '"2026-11-20T10:00:00\\u0000Z"',
    '"2026-11-20T10:00:00Z\\u0000"', '"20261120T100005Z"', '"2026-W47-5T10:00:00Z"', '"\u00a0x"', '"x\\t"',
]  # fmt: skip
"""JSON string texts: numbers as strings, control characters, surrogates, RTL, emoji, odd times."""
STRUCTURES = [
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '[1,"a"]',
    '{"a":1}',
    '{"a":{"b":[]}}',
    "[[[[]]]]",
    '{"":""}',
]
"""Wrong JSON types for scalar fields."""

fragments: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(NUMBERS + BAD_LITERALS + STRINGS + STRUCTURES),
    st.integers(-(10**40), 10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: json.dumps(str(d))),
    st.tuples(st.text(max_size=30), st.booleans()).map(lambda t: json.dumps(t[0], ensure_ascii=t[1])),
    st.sampled_from([129, 1025, 70_000, 999_000]).map(lambda n: '"' + "é" * (n // 2) + '"'),
    st.sampled_from([40, 2_000, 100_000]).map(lambda n: "[" * n + "]" * n),
)
"""One JSON value's text (sometimes not valid JSON): the material of field mutations."""

FIELD_NAMES = sorted(set().union(*FIELDS.values()))


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes | str:
    """A session line with its fields mutated, then (sometimes) its bytes."""
    message = draw(st.sampled_from(SESSION))
    pairs = pairs_of(message)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "duplicate", "swap", "rename"]))
        i = draw(st.integers(0, len(pairs) - 1)) if pairs else 0
        if op == "replace" and pairs:
            pairs[i] = (pairs[i][0], draw(fragments))
        elif op == "delete" and pairs:
            del pairs[i]
        elif op == "add":
            name = draw(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12)))
            pairs.insert(i, (json.dumps(name), draw(fragments)))
        elif op == "duplicate" and pairs:
            pairs.append((pairs[i][0], draw(st.one_of(st.just(pairs[i][1]), fragments))))
        elif op == "swap" and len(pairs) > 1:
            j = draw(st.integers(0, len(pairs) - 1))
            pairs[i], pairs[j] = (pairs[i][0], pairs[j][1]), (pairs[j][0], pairs[i][1])
        elif op == "rename" and pairs:
            pairs[i] = (json.dumps(draw(st.text(max_size=12))), pairs[i][1])
    line = render(pairs)
    if draw(st.booleans()):
        return line
    return draw(byte_mutations(line.encode("utf-8", "surrogatepass")))


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """Delete, insert, replace or cut bytes of a line."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        at = draw(st.integers(0, len(buf)))
        if op == "delete":
            del buf[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            extra = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=6),
                    st.sampled_from(
                        [b"\x00", b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b'"', b"\\", b"{", b"\n"]
                    ),
                )
            )
            buf[at:at] = extra
        elif op == "replace" and at < len(buf):
            buf[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del buf[at:]
    return bytes(buf).replace(b"\n", b" ")  # a newline would make it two lines


@st.composite
def garbage_lines(draw: st.DrawFn) -> bytes | str:
    """A line that every correct ledger rejects, built so by construction."""
    message = draw(st.sampled_from(SESSION))
    pairs = pairs_of(message)
    line = render(pairs)
    kind = draw(
        st.sampled_from(
            [
                "fragment", "truncated", "unknown_field", "duplicate_key", "too_long", "invalid_utf8",
                "surrogate_escape", "surrogate_bytes", "surrogate_str", "nul_in_ts", "no_type", "bad_type",
                "nested_value", "huge_id", "huge_exponent", "old_ts",
            ]
        )
    )  # fmt: skip
    if kind == "fragment":  # non-object JSON, or an object without a type
        return draw(fragments)
    if kind == "truncated":  # every proper prefix of an object is incomplete JSON
        cut = draw(st.integers(1, len(line) - 1))
        return line[:cut] if line[:cut].strip() else "{"
    if kind == "unknown_field":
        name = draw(st.sampled_from(["qty", "Quantity", "zz", "", "\u202etype", "type "]))
        pairs.insert(draw(st.integers(0, len(pairs))), (json.dumps(name), draw(fragments)))
        return render(pairs)
    if kind == "duplicate_key":
        i = draw(st.integers(0, len(pairs) - 1))
        pairs.insert(
            draw(st.integers(0, len(pairs))), (pairs[i][0], draw(st.one_of(st.just(pairs[i][1]), fragments)))
        )
        return render(pairs)
    if kind == "too_long":
        filler = draw(st.sampled_from(["x", " ", "é"]))
        return render([*pairs, ('"pad"', '"' + filler * MB + '"')]) if filler != " " else line + " " * MB
    if kind == "invalid_utf8":
        bad = draw(
            st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\x80", b"\xf5\x80\x80\x80", b"\xe2\x82"])
        )
        return line.encode().replace(b'"ts"', b'"t' + bad + b's"', 1)
    if kind in ("surrogate_escape", "surrogate_bytes", "surrogate_str"):
        i = draw(st.integers(0, len(pairs) - 1))
        value = {
            "surrogate_escape": '"\\ud800x"',
            "surrogate_bytes": '"\udcedx"',
            "surrogate_str": '"\ud800"',
        }[kind]
        pairs[i] = (pairs[i][0], value) if draw(st.booleans()) else ('"zz\\udfff"', value)
        text = render(pairs)
        if kind == "surrogate_bytes":  # CESU-8 bytes of U+D800, which no UTF-8 decoder accepts
            return text.encode("utf-8", "surrogateescape").replace(b"\xed", b"\xed\xa0\x80")
        return text
    if kind == "nul_in_ts":
        return render([(k, v if k != '"ts"' else v[:-2] + '\\u0000Z"') for k, v in pairs])
    if kind == "no_type":
        return render([(k, v) for k, v in pairs if k != '"type"'])
    if kind == "bad_type":
        wrong = draw(
            st.sampled_from(
                ['"FILL"', '"fill "', '"fill\\u0000"', "1", '["fill"]', '{"fill":1}', "null", '""']
            )
        )
        return render([(k, v if k != '"type"' else wrong) for k, v in pairs])
    if kind == "nested_value":
        i = draw(st.integers(0, len(pairs) - 1))
        pairs[i] = (pairs[i][0], "[" * 100_000 + "]" * 100_000)
        return render(pairs)
    if kind == "huge_id":
        name = draw(
            st.sampled_from([k for k, _ in pairs if k in ('"client_order_id"', '"venue"', '"ts"', '"type"')])
        )
        return render([(k, v if k != name else '"' + "\U0001f600" * (MB // 5) + '"') for k, v in pairs])
    if kind == "huge_exponent":
        number = draw(
            st.sampled_from(["1E+999999999999999999", "1e99999999999999999999", "-1e-99999999999999999999"])
        )
        return render([*pairs, ('"quantity"', number)])  # also a duplicate or unknown key
    # old_ts: a time whose conversion to UTC leaves the calendar
    old = draw(st.sampled_from(['"0001-01-01T00:00:00+01:00"', '"9999-12-31T23:59:59-00:01"']))
    return render([(k, v if k != '"ts"' else old) for k, v in pairs])


blank_lines = st.sampled_from(["", " ", "\t", "\r", "   \t ", b"", b"\r\n", b" \x0b\x0c"])
