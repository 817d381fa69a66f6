"""Fuzzing the ingest path.

What is fed to ``OrderLedger.ingest_lines`` (ledger format unless said otherwise):

* **wrong types for every field** of every message type: numbers as strings, lists, objects,
  booleans and null, strings as numbers, a matrix of values that are wrong for every field;
* **extreme numbers**: ``1e308``, ``1e-400``, ``10**400`` as an integer literal, ``"1E+999999"``,
  ``1E+999999999999999999`` (a bare JSON number whose exponent no Decimal context holds), ``-0``,
  ``NaN``/``Infinity`` spelt as JSON constants and as strings, exponents of every size;
* **text**: 1 MB strings (as an ID, as an unknown field, as the whole line), control characters
  (NUL in an ID and in ``ts``), lone surrogates escaped as ``\\ud800`` and encoded as CESU bytes,
  Python ``str`` lines holding lone surrogates, RTL marks, emoji, invalid UTF-8 bytes;
* **structure**: 100,000 nested arrays (as the line and as a field value), missing and extra
  fields, duplicate keys, truncated lines, blank and whitespace-only lines, non-object JSON;
* **mutations** of valid lines from ``infrastructure.simulator.simulate``: field values replaced,
  swapped, deleted, duplicated or renamed, then bytes deleted, inserted, replaced or cut off;
* the same, lighter, for ``format="ccxt"`` (CCXT orders and trades) and ``format="fix"`` (FIX
  execution reports and cancel rejects), and a few fuzzed files through the real
  ``orderledger ingest`` command.

Invariants checked on every batch:

1. every non-blank line gets exactly one outcome: ``report.lines`` is the number of non-blank
   lines, the counts add up to it, and each result carries the line number it came from;
2. no exception escapes ``ingest_lines``; every reason is one line without ``Traceback``, at most
   300 characters (a 1 MB value is never echoed back whole), and never the line readers'
   "internal error" fallback (which would mean an unexpected exception was caught);
3. a batch in which every line is rejected, none with a message applied, changes nothing but the
   journal (one ``rejected`` row per line): events, identities, parked messages, every view
   table and ``view_tracking`` are identical before and after, and the hash chain still
   verifies (``audit.verify``); a rejected line keeps events only of the messages its reason
   lists as applied (each message of a line has its own fate);
4. valid lines interleaved with garbage produce exactly the outcomes, events, orders and view
   rows they produce when ingested alone;
5. memory is bounded by the batch, not the file: 80 lines of about 1 MB through a file-backed
   SQLite ledger stay under a 40 MB tracemalloc peak (24 MB measured; see
   ``test_memory_is_bounded_by_the_batch``);
6. fuzzed files through ``orderledger ingest FILE`` exit 1 when a line is rejected (0 when
   none is), print no traceback, one stderr line per rejected line and a parseable summary.

Mostly on ``memory://``; the memory test and the CLI runs use a SQLite file, and one case runs
on PostgreSQL when the server is available. ``ORDERLEDGER_FUZZ_EXAMPLES=N`` multiplies the
hypothesis examples (default budget: well under 90 s on two cores). The last test prints a
one-line tally of everything fed.
"""

from __future__ import annotations

import json
import os
import random
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.ingest.inbound import Result
from orderledger.infrastructure.messages.models import FIELDS, message_from_line
from tests.support.cli import parse_ingest, run_cli
from tests.support.fuzz_ingest import (
    FILL,
    MAX_REASON,
    MB,
    SESSION,
    TALLY,
    assert_chain_ok,
    assert_rejected_changes_nothing,
    blank_lines,
    byte_mutations,
    fragments,
    garbage_lines,
    ingest,
    maybe_unchanged,
    mutated_lines,
    non_blank,
    pairs_of,
    render,
    seeded_ledger,
    store_dump,
)
from tests.support.integration import Clock, event_signatures, view_rows


def examples(default: int) -> int:
    """The hypothesis budget of one test: its default, or ORDERLEDGER_FUZZ_EXAMPLES when set."""
    wanted = os.environ.get("ORDERLEDGER_FUZZ_EXAMPLES")
    return int(wanted) if wanted else default


pytestmark = pytest.mark.filterwarnings(
    # A failing example holding a 1 MB line: let hypothesis print it rather than hide the failure.
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


# ============================================================================= ledger format


@pytest.mark.parametrize(
    "message", SESSION[:1] + [m for m in SESSION if m["type"] != "request"][:1], ids=["request", "fact"]
)
def test_wrong_value_for_every_field_is_rejected_and_changes_nothing(message: dict[str, Any]) -> None:
    """Every field of every type, given a value no field accepts: rejected, store untouched."""
    ledger = seeded_ledger()
    wrong = [
        "[]", '["1"]', '{"x":[]}', "NaN", "-Infinity", "1e-400", "1" + "0" * 400,
        '"\\ud800"', '"' + "x" * 2000 + '"', "1E+999999999999999999", "[" * 100_000 + "]" * 100_000,
    ]  # fmt: skip
    lines: list[str] = []
    for kind, names in FIELDS.items():
        base = dict(SESSION[0] if kind == "request" else message, type=kind)
        for name in sorted(names):
            for value in wrong:
                pairs = [(k, v) for k, v in pairs_of(base) if k != json.dumps(name)]
                lines.append(render([*pairs, (json.dumps(name), value)]))
    assert_rejected_changes_nothing(ledger, lines)
    assert_chain_ok(ledger)


def test_hand_picked_garbage_is_rejected_one_line_each() -> None:
    """The classic bad lines, each rejected with a short one-line reason."""
    ledger = seeded_ledger()
    line = render(pairs_of(FILL))
    lines: list[str | bytes] = [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        "[" * 100_000,
        '"' + "x" * 2 * MB + '"',
        "1E+999999999999999999",
        "-1e-99999999999999999999",
        "1" + "0" * 400,
        "NaN",
        '"\\ud800"',
        "[]",
        "null",
        "\x00",
        "{",
        "}",
        line[:-1],
        line.replace('"ts":', '"ts":"x","ts":'),
        b"\xef\xbb\xbf\xef\xbb\xbf" + line.encode(),  # one byte order mark is skipped, not two
        line.encode().replace(b"fill", b"f\xffll"),
        line.replace('"fill"', '"fill\u202e"'),
        line.replace("2026-", "\u0662\u0660\u0662\u0666-"),
    ]
    assert_rejected_changes_nothing(ledger, lines)  # type: ignore[arg-type]
    assert_chain_ok(ledger)


def _with(message: dict[str, Any], **raw: str) -> str:
    """A message line with some values given as raw JSON text."""
    return render(
        [
            *((k, v) for k, v in pairs_of(message) if json.loads(k) not in raw),
            *((json.dumps(k), v) for k, v in raw.items()),
        ]
    )


CANCELED = {"type": "canceled", "client_order_id": "b-000001", "ts": "2026-11-20T10:00:00Z"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # Each of these escaped ingest_lines with a traceback, or was accepted, before the fix.
        (_with(FILL, ts='"0001-01-01T00:00:00+01:00"'), "ts is out of range"),  # OverflowError
        (_with(FILL, ts='"9999-12-31T23:59:59-00:01"'), "ts is out of range"),
        (_with(FILL, quantity="1e99999999999999999999"), "is out of range"),  # decimal.InvalidOperation
        ("-1e-99999999999999999999", "is out of range"),
        (_with(CANCELED, reason='"\\ud800"'), "unpaired UTF-16 surrogate"),  # UnicodeEncodeError at commit
        (_with(CANCELED, reason='"ok"', zz='"\\udfff"'), "unpaired UTF-16 surrogate"),
        (_with(CANCELED, reason='"a"').encode().replace(b'"a"', b'"\xed\xa0\x80"'), "not UTF-8"),  # CESU-8
        (_with(CANCELED, reason='"\ud800"'), "not UTF-8"),  # a str line holding a lone surrogate
        (_with(FILL, ts='"2026-11-20T10:00:00Z\\u0000junk"'), "ts contains a control"),  # was applied
        (_with(FILL, ts='"2026-11-20T10:00:00\\u0000Z"'), "ts contains a control"),
        # "internal error ... RecursionError": objects nested 1,000 deep in a field, and as the line
        (_with(FILL, tags='{"a":' * 1000 + "1" + "}" * 1000), "JSON is nested deeper than 64 levels"),
        ('{"a":' * 1000 + "1" + "}" * 1000, "JSON is nested deeper than 64 levels"),
        ((_with(FILL, tags="[" * 1000 + "]" * 1000)).encode(), "JSON is nested deeper than 64 levels"),
        # 65 levels, one past the limit; brackets inside a string do not count
        (_with(FILL, tags='{"a":' * 64 + '"[[[[{{{{"' + "}" * 64), "JSON is nested deeper than 64 levels"),
        # 65 levels of objects holding only strings, as bytes: what orjson reads first, then refused
        (_with(CANCELED, zz='{"a":' * 64 + '"b"' + "}" * 64).encode(), "JSON is nested deeper than 64"),
    ],
    ids=[
        "ts-before-year-1", "ts-after-year-9999", "exponent-beyond-decimal", "bare-exponent",
        "surrogate-escape", "surrogate-key", "cesu8-bytes", "surrogate-in-str", "nul-after-ts", "nul-in-ts",
        "objects-1000-deep-in-a-field", "objects-1000-deep-line", "arrays-1000-deep-bytes", "65-levels",
        "65-levels-of-strings-bytes",
    ],
)  # fmt: skip
def test_regression_ledger_lines(line: str | bytes, reason: str) -> None:
    """Bugs the fuzzing found in the ledger format: each line is now rejected with a one-line reason."""
    ledger = seeded_ledger()
    try:
        one: list[str] | list[bytes]
        if isinstance(line, str):
            one = [line]
        else:
            one = [line]
        assert_rejected_changes_nothing(ledger, one)
        _, results = ingest(ledger, one)
        assert reason in (results[0].reason or ""), results[0].reason
    finally:
        ledger.close()


def test_a_reader_bug_costs_one_line_not_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line readers' last resort: an unexpected exception rejects its line with a one-line reason."""
    import orderledger.infrastructure.ingest.inbound as inbound_module

    def broken(raw: bytes) -> Any:
        if b"boom" in raw:
            raise RuntimeError("boom\nTraceback (most recent call last): …")
        return real(raw)

    real = message_from_line
    monkeypatch.setattr(inbound_module, "message_from_line", broken)
    ledger = OrderLedger("memory://")
    try:
        results: list[Result] = []
        lines = [render(pairs_of(SESSION[0])), '{"boom":1}', render(pairs_of(SESSION[1]))]
        report = ledger.ingest_lines(lines, on_batch=results.extend)
        assert [r.outcome for r in results] == ["applied", "rejected", "applied"]
        assert report.rejected[0].reason == "internal error reading the line: RuntimeError: boom"
    finally:
        ledger.close()


def test_a_byte_order_mark_before_the_first_line_is_skipped() -> None:
    """Decoding is strictly UTF-8 now; a BOM (as Windows editors write) still does not spoil line 1."""
    ledger = OrderLedger("memory://")
    try:
        report, _ = ingest(ledger, [b"\xef\xbb\xbf" + render(pairs_of(SESSION[0])).encode()])
        assert report.counts["applied"] == 1
    finally:
        ledger.close()


@settings(FUZZ, max_examples=examples(400))
@given(st.lists(st.one_of(garbage_lines(), blank_lines), min_size=1, max_size=6))
def test_garbage_lines_are_rejected_and_change_nothing(lines: list[str | bytes]) -> None:
    """Invariants 1-3 on lines invalid by construction, with blank lines among them."""
    assert_rejected_changes_nothing(LEDGERS.get("garbage"), lines)  # type: ignore[arg-type]


@settings(FUZZ, max_examples=examples(1000))
@given(st.lists(st.one_of(mutated_lines(), garbage_lines(), blank_lines), min_size=1, max_size=8))
def test_mutated_lines_never_escape_and_rejections_change_nothing(lines: list[str | bytes]) -> None:
    """Invariants 1-2 for arbitrary mutations of valid lines; 3 whenever all of a batch is rejected."""
    maybe_unchanged(LEDGERS.get("mutated"), lines)  # type: ignore[arg-type]


class _Ledgers:
    """One seeded ledger per hypothesis test, shared by its examples and checked at the end."""

    def __init__(self) -> None:
        self.open: dict[str, OrderLedger] = {}

    def get(self, name: str, factory: Callable[[], OrderLedger] = seeded_ledger) -> OrderLedger:
        if name not in self.open:
            self.open[name] = factory()
        return self.open[name]

    def close(self) -> None:
        for ledger in self.open.values():
            assert_chain_ok(ledger)
            ledger.close()
        self.open.clear()


LEDGERS = _Ledgers()


@pytest.fixture(autouse=True)
def _close_shared_ledgers() -> Iterator[None]:
    """Verify the hash chain and views of the ledgers a test fuzzed, then close them."""
    yield
    LEDGERS.close()


@settings(FUZZ, max_examples=examples(60))
@given(
    st.lists(st.one_of(garbage_lines(), blank_lines), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_valid_lines_among_garbage_apply_as_when_alone(
    garbage: list[str | bytes], rng: random.Random
) -> None:
    """Invariant 4: interleaved garbage does not change what the valid lines do."""
    valid = [render(pairs_of(m)) for m in SESSION]
    mixed: list[str | bytes] = list(valid)
    for line in garbage:
        mixed.insert(rng.randint(0, len(mixed)), line)
    alone_ledger = OrderLedger("memory://", clock=Clock(), batch_size=16)
    mixed_ledger = OrderLedger("memory://", clock=Clock(), batch_size=16)
    try:
        _, alone = ingest(alone_ledger, valid)
        _, results = ingest(mixed_ledger, mixed)  # type: ignore[arg-type]
        assert all(r.outcome != "rejected" for r in alone)
        positions = non_blank(mixed)
        valid_at: set[int] = set()
        cursor = 0
        for index, line in enumerate(mixed, start=1):
            if cursor < len(valid) and line is valid[cursor]:
                valid_at.add(index)
                cursor += 1
        assert cursor == len(valid)
        by_line = dict(zip(positions, results, strict=True))
        got = [(by_line[i].outcome, by_line[i].reason, len(by_line[i].events)) for i in sorted(valid_at)]
        assert got == [(r.outcome, r.reason, len(r.events)) for r in alone]
        assert all(by_line[i].outcome == "rejected" for i in positions if i not in valid_at)
        assert event_signatures(mixed_ledger) == event_signatures(alone_ledger)
        assert view_rows(mixed_ledger) == view_rows(alone_ledger)
        ids = sorted({m["client_order_id"] for m in SESSION if "client_order_id" in m})
        assert [mixed_ledger.order(c).snapshot() for c in ids] == [
            alone_ledger.order(c).snapshot() for c in ids
        ]
    finally:
        alone_ledger.close()
        mixed_ledger.close()


# ============================================================================= adapters

CCXT_ORDER: dict[str, Any] = {
    "id": "4293153",
    "clientOrderId": "x-1",
    "timestamp": 1795168801000,
    "datetime": "2026-11-20T10:00:01.000Z",
    "lastTradeTimestamp": 1795168860000,
    "status": "open",
    "symbol": "BTC/USDT",
    "type": "limit",
    "timeInForce": "GTC",
    "side": "buy",
    "price": 64000.0,
    "amount": 1.0,
    "filled": 0.4,
    "remaining": 0.6,
    "trades": [
        {
            "id": "9001",
            "order": "4293153",
            "timestamp": 1795168860000,
            "amount": 0.4,
            "price": 64000.0,
            "takerOrMaker": "maker",
            "fee": {"cost": 0.0256, "currency": "USDT"},
        }
    ],
    "info": {"origClientOrderId": "x-1"},
}
CCXT_TRADE: dict[str, Any] = {
    "id": "9002",
    "order": "4293153",
    "timestamp": 1795168870000,
    "symbol": "BTC/USDT",
    "side": "buy",
    "amount": "0.1",
    "price": "64001",
    "takerOrMaker": "taker",
    "fees": [{"cost": "0.01", "currency": "USDT"}, {"cost": "0.02", "currency": "USDT"}],
}


def ccxt_ledger() -> OrderLedger:
    """A ledger that has ingested the CCXT order and trade (so the fuzz has state to disturb)."""
    ledger = OrderLedger("memory://")
    report = ledger.ingest_lines(
        [json.dumps(CCXT_ORDER), json.dumps(CCXT_TRADE)], format="ccxt", venue="bin", account="a"
    )
    assert report.counts["rejected"] == 0, [r.reason for r in report.rejected]
    assert report.counts["applied"] == 2
    return ledger


def test_ccxt_numeric_json_timestamps_are_read() -> None:
    """Regression: CCXT lines carry JSON integer millisecond times; they were refused as Decimal."""
    ledger = ccxt_ledger()
    try:
        order = ledger.order("x-1").snapshot()
        assert order["filled_quantity"] == "0.5"
        assert order["created_at"] == "2026-11-20T10:00:01.000000Z"
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (dict(CCXT_ORDER, id="V-9", clientOrderId="c-9", timestamp=None, datetime="0001-01-01T00:00+01:00"),
         "datetime is out of range"),  # OverflowError
        (dict(CCXT_TRADE, id="T-9", amount="1E+999999999999999999"), "amount is out of range"),  # MemoryError
        (dict(CCXT_TRADE, id="T-9", amount="1E+99999999"), "amount is out of range"),  # a 100 MB string
        (dict(CCXT_TRADE, id="T-9", timestamp="9" * 5000), "milliseconds since the epoch"),
        (dict(CCXT_TRADE, id={"a": 1}), "not a JSON object"),  # was the ID "{'a': …}"
        (dict(CCXT_TRADE, id="T-9", order=["4293153"]), "not a JSON array"),
        (dict(CCXT_ORDER, trades=5), "trades must be a list"),  # 'decimal.Decimal' object is not iterable
        (None, "a CCXT payload is an order or trade structure"),  # 'NoneType' object is not iterable
        (7, "a CCXT payload is an order or trade structure"),
    ],
    ids=["datetime-before-year-1", "exponent-18-digits", "exponent-8-digits", "timestamp-5000-digits",
         "object-as-id", "array-as-id", "trades-a-number", "null-payload", "number-payload"],
)  # fmt: skip
def test_regression_ccxt_payloads(payload: Any, reason: str) -> None:
    """Bugs the fuzzing found in the CCXT path: each payload is now rejected with a one-line reason."""
    ledger = ccxt_ledger()
    try:
        line = json.dumps(payload)
        assert_rejected_changes_nothing(ledger, [line], format="ccxt", venue="bin", account="a")
        _, results = ingest(ledger, [line], format="ccxt", venue="bin", account="a")
        assert reason in (results[0].reason or ""), results[0].reason
    finally:
        ledger.close()


@st.composite
def ccxt_lines(draw: st.DrawFn) -> str | bytes:
    """A CCXT order, trade or list of both, with values replaced by fragments, or bytes mutated."""
    payload: Any = json.loads(json.dumps(draw(st.sampled_from([CCXT_ORDER, CCXT_TRADE]))))
    targets = [payload]
    if "trades" in payload:
        targets += payload["trades"] + [payload["trades"][0]["fee"], payload["info"]]
    replaced: dict[str, str] = {}
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(targets))
        key = draw(st.sampled_from(sorted(target) + ["extra"]))
        marker = f"@@{len(replaced)}@@"
        target[key] = marker
        replaced[json.dumps(marker)] = draw(fragments)
    if draw(st.booleans()):
        payload = [payload, json.loads(json.dumps(CCXT_TRADE))]
    line = json.dumps(payload, ensure_ascii=False)
    for marker, text in replaced.items():
        line = line.replace(marker, text)
    if draw(st.integers(0, 3)) == 0:
        return draw(byte_mutations(line.encode("utf-8", "surrogatepass")))
    return line


@settings(FUZZ, max_examples=examples(400))
@given(st.lists(st.one_of(ccxt_lines(), garbage_lines(), blank_lines), min_size=1, max_size=5))
def test_ccxt_fuzz(lines: list[str | bytes]) -> None:
    """Invariants 1-3 for ``format="ccxt"``: mutated CCXT payloads and garbage."""
    ledger = LEDGERS.get("ccxt", ccxt_ledger)
    maybe_unchanged(ledger, lines, format="ccxt", venue="bin", account="a")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["ccxt", "fix"])
def test_a_payload_whose_ack_names_another_orders_id_books_its_request_alone(fmt: str) -> None:
    """A venue payload whose ack names another order's venue ID: the ack alone is refused (each
    message of a line has its own fate), the request before it is booked, and the other order
    and its venue identity are untouched. (FIX: the same OrderID with the order's terms is the
    same order, below.)"""
    ledger = ccxt_ledger() if fmt == "ccxt" else fix_ledger()
    new_id = "y-1" if fmt == "ccxt" else "f-9"
    try:
        if fmt == "ccxt":
            line = json.dumps(dict(CCXT_ORDER, clientOrderId="y-1", info={}, trades=[]))
            kwargs = {"format": "ccxt", "venue": "bin", "account": "a"}
        else:  # a New for f-9 carrying f-1's OrderID, with a request first (account given)
            line = FIX_REPORTS[0].replace("11=f-1", "11=f-9")
            kwargs = {"format": "fix", "venue": "fx", "account": "a"}
        before = store_dump(ledger)
        report, results = ingest(ledger, [line], **kwargs)
        if fmt == "fix":
            # A FIX OrderID names one order: a New under a ClOrdID not yet linked that carries it,
            # with the order's account, instrument and side, is that order going by another
            # ClOrdID (a cancel/replace chain whose Replaced was lost); it joins it as an alias,
            # and no other order and no other venue order ID is made.
            assert results[0].outcome == "applied", results[0]
            assert [type(e).__name__ for e in results[0].events] == ["OrderDetailsAdded"]
            [order] = ledger.orders()
            assert order.client_order_id == "f-1" and order.aliases["fix_clordid:f-9"] == "f-9"
            after = store_dump(ledger)
            ids = [[r for r in d["identities"] if r[1] == "venue_order_id"] for d in (before, after)]
            assert ids[0] == ids[1] and ids[0]
            return
        assert results[0].outcome == "rejected", results[0]
        reason = results[0].reason or ""
        assert reason.startswith("message 1 of 2 applied; message 2 of 2 rejected: ")
        assert "already belongs to order" in reason
        assert report.events == 1 and [type(e).__name__ for e in results[0].events] == ["OrderRequested"]
        assert ledger.order(new_id).status.value == "requested"
        after = store_dump(ledger)
        # The venue order ID still names its order, and no other venue order ID was recorded.
        venue_ids = [
            [row for row in dump["identities"] if row[1] == "venue_order_id"] for dump in (before, after)
        ]
        assert venue_ids[0] == venue_ids[1] and venue_ids[0]
    finally:
        ledger.close()


FIX_REPORTS = [
    "8=FIX.4.4|35=8|150=0|11=f-1|37=F1|55=BTC-USD|54=1|38=2|44=100|40=2|59=1|60=20261120-10:00:00",
    "8=FIX.4.4|35=8|150=F|11=f-1|37=F1|17=E1|32=1|31=100|12=0.1|13=3|15=USD|851=2|60=20261120-10:00:01.123456789",
    "8=FIX.4.4|35=8|150=5|11=f-2|41=f-1|37=F1|38=3|44=101|60=20261120-10:00:02",
    "8=FIX.4.4|35=8|150=G|37=F1|19=E1|32=1|31=99|60=20261120-10:00:03",
    "8=FIX.4.4|35=9|434=1|11=f-3|41=f-2|37=F1|102=0|60=20261120-10:00:04",
    "8=FIX.4.4|35=8|150=4|11=f-3|41=f-2|37=F1|58=user|60=20261120-10:00:05",
]
FIX_VALUES = [
    "", "NONE", "1E+999999999999999999", "1E+99999999", "-1", "0", "NaN", "9" * 5000, "\x00", "\u202e😀",
    "20261120-24:00:00", "99991231-23:59:59", "00000101-00:00:00", "x" * 70_000, "1" * 61, "1e-400", "=",
]  # fmt: skip


@st.composite
def fix_lines(draw: st.DrawFn) -> str | bytes:
    """A FIX report with tag values replaced, tags removed or added, separators mixed, bytes mutated."""
    fields = draw(st.sampled_from(FIX_REPORTS)).split("|")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(fields) - 1))
        op = draw(st.sampled_from(["value", "value", "delete", "add", "tag"]))
        tag = fields[i].split("=", 1)[0]
        value = draw(
            st.one_of(st.sampled_from(FIX_VALUES), st.text(max_size=10).map(lambda s: s.replace("|", "")))
        )
        if op == "value":
            fields[i] = f"{tag}={value}"
        elif op == "delete":
            del fields[i]
        elif op == "add":
            fields.insert(i, f"{draw(st.sampled_from(['150', '35', '37', '32', '9' * 5000, '']))}={value}")
        else:
            fields[i] = f"{draw(st.sampled_from(['x', '-1', '1.5', '٣٥', '']))}={value}"
    separator = draw(st.sampled_from(["|", "\x01"]))
    line = separator.join(fields)
    if draw(st.integers(0, 3)) == 0:
        return draw(byte_mutations(line.encode("utf-8", "surrogatepass")))
    return line


def fix_ledger() -> OrderLedger:
    """A ledger that has ingested the FIX reports (a New with its request, a fill, a replace …)."""
    ledger = OrderLedger("memory://")
    report = ledger.ingest_lines(FIX_REPORTS, format="fix", venue="fx", account="a")
    assert report.counts["rejected"] == 0, [r.reason for r in report.rejected]
    return ledger


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (FIX_REPORTS[1].replace("32=1", "32=1E+999999999999999999"), "LastQty(32) is out"),  # MemoryError
        (FIX_REPORTS[1].replace("12=0.1", "12=1E+99999999"), "Commission(12) is out of range"),
        (FIX_REPORTS[1] + "|" + "9" * 5000 + "=1", "not a FIX field"),  # int() of 5,000 digits
        (FIX_REPORTS[1].replace("35=8", "\u0663\u0665=8"), "not a FIX field"),  # read as 35=8
        (FIX_REPORTS[1].replace("60=20261120", "60=\u0662\u0660\u0662\u0666" + "1120"), "TransactTime(60)"),
    ],
    ids=["exponent-18-digits", "exponent-8-digits", "tag-5000-digits", "arabic-digit-tag", "arabic-time"],
)  # fmt: skip
def test_regression_fix_reports(line: str, reason: str) -> None:
    """Bugs the fuzzing found in the FIX path: each report is now rejected with a one-line reason."""
    ledger = fix_ledger()
    try:
        assert_rejected_changes_nothing(ledger, [line], format="fix", venue="fx")
        _, results = ingest(ledger, [line], format="fix", venue="fx")
        assert reason in (results[0].reason or ""), results[0].reason
    finally:
        ledger.close()


@settings(FUZZ, max_examples=examples(400))
@given(st.lists(st.one_of(fix_lines(), blank_lines), min_size=1, max_size=5))
def test_fix_fuzz(lines: list[str | bytes]) -> None:
    """Invariants 1-3 for ``format="fix"``: mutated execution reports and cancel rejects."""
    maybe_unchanged(LEDGERS.get("fix", fix_ledger), lines, format="fix", venue="fx")  # type: ignore[arg-type]


# ============================================================================= other backends, memory


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_garbage_on_stored_backends(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Invariant 3 on a SQLite file and on PostgreSQL (NUL, surrogates and 1 MB values reach the driver)."""
    url = (
        f"sqlite:///{tmp_path / 'fuzz.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    ledger = seeded_ledger(url)
    try:
        gen = random.Random(8)
        base = render(pairs_of(FILL))
        lines = [
            base.replace('"fill"', '"fill\\u0000"'),
            base.encode().replace(b'"fill"', b'"f\x00ll"'),
            base.replace('"ts":', '"reason":"\\ud800","ts":'),
            base.encode().replace(b'"fill"', b'"fill\xed\xa0\x80"'),
            base[: gen.randint(1, len(base) - 1)],
            render([*pairs_of(FILL), ('"pad"', '"' + "x" * MB + '"')]),
            "[" * 100_000 + "]" * 100_000,
        ]
        assert_rejected_changes_nothing(ledger, lines)  # type: ignore[arg-type]
        with ledger.db.read() as tx:
            raws = [bytes(r[0]) for r in tx.all("SELECT raw FROM messages ORDER BY message_id DESC LIMIT 7")]
        assert raws[::-1][1] == lines[1], "the journal keeps the raw line verbatim"
        assert_chain_ok(ledger)
    finally:
        ledger.close()


def _big_lines(count: int) -> Iterator[bytes]:
    """Lines of about 1 MB each, produced one at a time (the test must not hold them all)."""
    base = pairs_of(FILL)
    for i in range(count):
        pad = ("x", "é", "\U0001f600")[i % 3] * (MB // (1, 2, 4)[i % 3] - 400)
        shape = i % 4
        if shape == 0:
            yield render([*base, ('"note"', json.dumps(pad, ensure_ascii=False))]).encode()
        elif shape == 1:
            yield render(
                [(k, v if k != '"trade_id"' else json.dumps(pad, ensure_ascii=False)) for k, v in base]
            ).encode()
        elif shape == 2:
            yield json.dumps(pad, ensure_ascii=False).encode()
        else:
            yield ("[" * (MB // 2 - 10) + "]" * (MB // 2 - 10)).encode()


def _peak(url: str, count: int, batch_size: int) -> tuple[int, Any]:
    ledger = OrderLedger(url, batch_size=batch_size)
    try:
        tracemalloc.start()
        try:
            report = ledger.ingest_lines(_big_lines(count))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert report.lines == count and report.counts["rejected"] == count
        assert all(
            len(r.reason or "") <= MAX_REASON and "\n" not in (r.reason or "") for r in report.rejected
        )
        TALLY["lines"] += report.lines
        TALLY.update(report.counts)
        return peak, report
    finally:
        ledger.close()


def test_memory_is_bounded_by_the_batch(tmp_path: Path) -> None:
    """Invariant 5: 80 lines of ~1 MB through a SQLite file; the peak follows the batch, not the file.

    Measured (Python 3.11, tracemalloc peak): 13 MB with batches of 4 lines, for 40 lines as for
    80; 24 MB with the default batch, which ends at 8 MB of input (``MAX_BATCH_BYTES``). Without
    that byte cap a batch of up to 1,000 lines would hold every raw line for its journal row:
    45 MB for 40 lines, 84 MB for 80, and so on up to a gigabyte.
    """
    small, _ = _peak(f"sqlite:///{tmp_path / 'small.db'}", 40, batch_size=4)
    assert small < 20 * MB, f"tracemalloc peak {small / MB:.1f} MB with batches of 4 lines of 1 MB"
    default, _ = _peak(f"sqlite:///{tmp_path / 'default.db'}", 80, batch_size=1_000)
    assert default < 40 * MB, f"tracemalloc peak {default / MB:.1f} MB for 80 lines of 1 MB"


# ============================================================================= the real command


def _fuzzed_file(path: Path, seed: int, lines: int, valid_share: float) -> tuple[Path, int]:
    """A file of session lines, mutated lines and garbage; returns it and its non-blank lines."""
    rng = random.Random(seed)
    valid = [render(pairs_of(m)) for m in simulate(seed, 8)]
    chunks: list[bytes] = []
    for i in range(lines):
        roll = rng.random()
        if roll < valid_share and valid:
            text = valid.pop(0)
            chunks.append(text.encode())
        elif roll < valid_share + 0.1:
            chunks.append(rng.choice([b"", b"   ", b"\t", b"\r"]))
        else:
            base = bytearray(render(pairs_of(rng.choice(SESSION))).encode())
            for _ in range(rng.randint(1, 4)):
                if not base:
                    break
                at = rng.randrange(len(base))
                choice = rng.random()
                if choice < 0.3:
                    del base[at : at + rng.randint(1, 6)]
                elif choice < 0.6:
                    base[at:at] = rng.choice(
                        [b"\x00", b"\xff", b"\xed\xa0\x80", b"\\ud800", b"1e999", b"[[[[", b"\x1b[31m"]
                    )
                elif choice < 0.8:
                    base[at] = rng.randrange(256) or 1
                else:
                    del base[at:]
            chunks.append(bytes(base).replace(b"\n", b" ").replace(b"\r", b" ") or b"{")
        if i % 25 == 7:
            chunks[-1] = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(b"\n".join(chunks) + b"\r\n")
    return path, len(non_blank(chunks))


@pytest.mark.parametrize(("seed", "valid_share"), [(11, 0.0), (12, 0.5)], ids=["garbage", "mixed"])
def test_fuzzed_files_through_the_command(tmp_path: Path, seed: int, valid_share: float) -> None:
    """Invariant 6: exit 1 with rejections, one stderr line per rejected line, a parseable summary."""
    path, expected = _fuzzed_file(tmp_path / "fuzz.jsonl", seed, 120, valid_share)
    run = run_cli("ingest", str(path), db=f"sqlite:///{tmp_path / 'cli.db'}", cwd=tmp_path)
    assert "Traceback" not in run.stderr + run.stdout, run.describe()
    summary = parse_ingest(run.stdout)
    assert summary.lines == expected
    assert sum(summary.counts.values()) == summary.lines
    rejected = summary.counts["rejected"]
    assert rejected > 0 and run.returncode == 1, run.describe()
    assert len(run.stderr_lines) == rejected, run.describe()
    assert all(line.startswith("line ") and ": rejected: " in line for line in run.stderr_lines)
    if valid_share:
        assert summary.counts["applied"] > 0
    TALLY["lines"] += summary.lines
    TALLY.update(summary.counts)


def test_adapter_files_and_blank_file_through_the_command(tmp_path: Path) -> None:
    """``--format ccxt`` / ``--format fix`` fuzzed files exit 1; an all-blank file exits 0 with 0 lines."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    ccxt = tmp_path / "ccxt.jsonl"
    ccxt.write_bytes(
        b"\n".join(
            [
                json.dumps(CCXT_ORDER).encode(),
                b"null",
                b"5",
                b'{"id":1}',
                b"[" * 100_000,
                json.dumps(CCXT_TRADE).encode(),
            ]
        )
    )
    fix = tmp_path / "fix.log"
    fix.write_bytes(
        "\n".join([*FIX_REPORTS[:2], "35=8|150=F|32=1E+999999999999999999", "garbage", "\x01"]).encode()
    )
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n \n\t\n\r\n")
    for path, args, want in (
        (ccxt, ("--format", "ccxt", "--venue", "bin", "--account", "a"), {"applied": 2, "rejected": 4}),
        (fix, ("--format", "fix", "--venue", "fx", "--account", "a"), {"applied": 2, "rejected": 3}),
        (blank, (), {"applied": 0, "rejected": 0}),
    ):
        run = run_cli("ingest", str(path), *args, db=db, cwd=tmp_path)
        assert "Traceback" not in run.stderr + run.stdout, run.describe()
        summary = parse_ingest(run.stdout)
        assert {k: summary.counts[k] for k in want} == want, run.describe()
        assert run.returncode == (1 if want["rejected"] else 0), run.describe()
        assert len(run.stderr_lines) == want["rejected"], run.describe()
        TALLY["lines"] += summary.lines
        TALLY.update(summary.counts)


# ============================================================================= the tally (keep last)


def test_zz_tally(capsys: pytest.CaptureFixture[str]) -> None:
    """Print what this module fed to the ingest path, for docs/reliability.md."""
    assert TALLY["lines"] > 0
    with capsys.disabled():
        print(
            f"\nfuzzed {TALLY['lines']:,} lines ({TALLY['bytes'] / MB:,.1f} MB through ingest_lines, plus the"
            f" memory and command runs): {TALLY['applied']:,} applied, {TALLY['duplicate']:,} duplicate,"
            f" {TALLY['parked']:,} parked, {TALLY['ignored']:,} ignored, {TALLY['rejected']:,} rejected;"
            " (the tests above fail on any traceback, multi-line reason or rejected input that kept an event)"
        )
