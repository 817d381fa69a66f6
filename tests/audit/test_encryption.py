"""Encryption at rest: with ``CIPHER_KEY`` set, each event's payload (the ``state`` column) is
encrypted with AES-GCM; queries and ``verify`` work with the key; without it, or with another key,
a command fails with one line naming ``CIPHER_KEY``.

What stays readable in the database is part of the contract too (docs/audit.md): the search
columns of ``events`` (type, order, account, venue, instrument, times), the journal's raw
messages and the views.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.cryptography import AESCipher

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.search import EventFilter, search_events
from orderledger.infrastructure.audit.verify import verify
from orderledger.infrastructure.errors import ConfigurationError
from tests.support.audit import KEY, fill, line, orderledger_process, query, request

OTHER_KEY = AESCipher.create_key(16)
SECRETS = [b"secret-1", b"BTC-USD", b"quantity", b"last_qty", b"t-77", b"3.25", b"64000.5", b"acc-zurich"]

SESSION = [
    line(request("secret-1", seconds=0, account="acc-zurich", quantity="5", price="64000.5")),
    line(fill("secret-1", "t-77", "3.25", "64000.5", seconds=1, venue_order_id="VO-9")),
]


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """Backends a second ledger can open (memory:// is a new, empty database each time)."""
    return str(request.param)


def _encrypted_ledger(make: Callable[..., OrderLedger]) -> OrderLedger:
    ledger = make(env={"CIPHER_KEY": KEY})
    report = ledger.ingest_lines(SESSION, origin="secret.jsonl")
    assert (report.counts["applied"], report.events) == (2, 3)  # request, implied ack, fill
    return ledger


def test_payloads_are_encrypted_and_the_search_columns_are_not(
    make_ledger: Callable[..., OrderLedger],
) -> None:
    ledger = _encrypted_ledger(make_ledger)
    states = [r[0] for r in query(ledger, "SELECT state FROM events ORDER BY notification_id")]
    assert len(states) == 3
    for state in states:
        with pytest.raises(orjson.JSONDecodeError):  # not plain JSON (it may begin with any byte)
            orjson.loads(state)
        for secret in SECRETS:
            assert secret not in state, f"{secret!r} is readable in an encrypted payload"
    # Not encrypted: the columns the search indexes need, the journal, the views.
    assert query(
        ledger,
        "SELECT event_type, client_order_id, account, venue, instrument FROM events ORDER BY notification_id",
    ) == [
        ("OrderRequested", "secret-1", "acc-zurich", "V1", "BTC-USD"),
        ("OrderAccepted", "secret-1", "acc-zurich", "V1", "BTC-USD"),
        ("OrderFilled", "secret-1", "acc-zurich", "V1", "BTC-USD"),
    ]
    assert [r[0] for r in query(ledger, "SELECT raw FROM messages ORDER BY message_id")] == [
        s.encode() for s in SESSION
    ]
    assert query(ledger, "SELECT trade_id, quantity, price FROM trades_view") == [("t-77", "3.25", "64000.5")]


def test_queries_and_verify_work_with_the_key(make_ledger: Callable[..., OrderLedger]) -> None:
    ledger = _encrypted_ledger(make_ledger)
    order = ledger.order("secret-1").snapshot()
    assert (order["status"], order["filled_quantity"], order["average_price"]) == (
        "partially_filled",
        "3.25",
        "64000.5",
    )
    assert [e.event.type_name() for e in ledger.history("secret-1")] == [
        "OrderRequested",
        "OrderAccepted",
        "OrderFilled",
    ]
    fills = list(search_events(ledger.db, ledger.mapper, EventFilter(types=["OrderFilled"])))
    assert [(p, getattr(e, "trade_id", None), str(getattr(e, "last_qty", ""))) for p, e, _ in fills] == [
        (3, "t-77", "3.25")
    ]
    report = verify(ledger.db, ledger.mapper)
    assert (report.ok, report.events) == (True, 3)


@pytest.mark.parametrize(
    ("env", "hint"),
    [
        ({}, "this ledger's events are encrypted: set CIPHER_KEY to the key they were written with"),
        ({"CIPHER_KEY": OTHER_KEY}, "CIPHER_KEY is not the key this ledger's events were written with"),
    ],
    ids=["no key", "another key"],
)
def test_opening_without_the_key_fails_with_a_message_naming_it(
    make_ledger: Callable[..., OrderLedger], env: dict[str, str], hint: str
) -> None:
    _encrypted_ledger(make_ledger)
    # Refused at open, before anything could be read or (worse) written unencrypted.
    with pytest.raises(ConfigurationError, match=hint):
        make_ledger(env=env)


# ---------------------------------------------------------------------- the command, for real


@pytest.fixture(scope="module")
def encrypted_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("encrypted") / "ledger.db"
    ledger = OrderLedger(f"sqlite:///{path}", env={"CIPHER_KEY": KEY})
    try:
        ledger.ingest_lines(SESSION, origin="secret.jsonl")
    finally:
        ledger.close()
    return path


@pytest.fixture
def encrypted(encrypted_file: Path, tmp_path: Path) -> str:
    shutil.copyfile(encrypted_file, tmp_path / "ledger.db")
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_the_command_reads_and_verifies_with_the_key(encrypted: str, tmp_path: Path) -> None:
    run = orderledger_process("verify", db=encrypted, cwd=tmp_path, env={"CIPHER_KEY": KEY})
    assert (run.code, run.stderr) == (0, ""), run.describe()
    assert run.stdout.startswith("ok: 3 events, hash chain intact, views equal the log; 2 journal records,")
    history = orderledger_process(
        "history", "VO-9", "--json", db=encrypted, cwd=tmp_path, env={"CIPHER_KEY": KEY}
    )
    assert [e["payload"].get("trade_id") for e in history.json()] == [None, None, "t-77"]


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (
            ("history", "secret-1"),
            {},
            "this ledger's events are encrypted: set CIPHER_KEY to the key they were written with",
        ),
        (
            ("verify",),
            {},
            "this ledger's events are encrypted: set CIPHER_KEY to the key they were written with",
        ),
        (
            ("events", "--json"),
            {"CIPHER_KEY": OTHER_KEY},
            "CIPHER_KEY is not the key this ledger's events were written with",
        ),
        (("orders",), {"CIPHER_KEY": "not-a-key"}, "CIPHER_KEY is not a usable AES key"),
    ],
    ids=["history without key", "verify without key", "events with another key", "a malformed key"],
)
def test_without_the_right_key_the_command_fails_with_one_line(
    encrypted: str, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], words: str
) -> None:
    run = orderledger_process(*args, db=encrypted, cwd=tmp_path, env=env)
    assert words in run.one_line_failure(2)


# ---------------------------------------------------------------------- writing with the wrong key


@pytest.mark.parametrize("env", [{}, {"CIPHER_KEY": OTHER_KEY}], ids=["no key", "another key"])
def test_writing_with_the_wrong_key_is_refused(
    make_ledger: Callable[..., OrderLedger], env: dict[str, Any]
) -> None:
    _encrypted_ledger(make_ledger)
    with pytest.raises(ConfigurationError, match="CIPHER_KEY"):  # refused when opened, before any write
        writer = make_ledger(env=env)
        writer.ingest_lines([line(request("plain-2", seconds=5))], origin="later.jsonl")
    keyed = make_ledger(env={"CIPHER_KEY": KEY})
    report = verify(keyed.db, keyed.mapper)
    assert report.ok, report
