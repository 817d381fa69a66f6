"""A long walk of the log's chain checks the payloads of its later part in a second process,
beside its hash walk (``chain_check._Beside``): its findings must be the ones a single walk
makes, with the same words, counts and order, for every kind of payload the check finds wrong,
on either side of the split and against the walk's own findings at, before and after it.

Each tamper rewrites a row's payload or a search column and recomputes the hashes from there
(as someone with DDL rights and the formula could), so that only the payload check finds it.
The demo session's walk is made long enough by lowering ``BESIDE_FROM``; the second process
checks its last ``SHARE`` of events.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.audit import chain_check
from orderledger.infrastructure.audit.chain_check import LogChain, verify_chain
from orderledger.infrastructure.storage.chain import GENESIS, link
from tests.support.audit import COLUMNS, KEY, raw_sql, reprotect, unprotect


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The second process opens its own connection: a SQLite file, or PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    _ingest(f"sqlite:///{path}")
    return path


def _ingest(url: str) -> None:
    with OrderLedger(url) as ledger:
        assert ledger.ingest_lines(simulate_lines(7, 40)).events > 100


@pytest.fixture
def demo(backend: str, file_ledger_url: str, sqlite_demo: Path) -> str:
    if backend == "sqlite":
        shutil.copyfile(sqlite_demo, file_ledger_url.removeprefix("sqlite:///"))
    else:
        _ingest(file_ledger_url)
    return file_ledger_url


def walk(url: str, beside: bool, env: dict[str, str] | None = None, **options: Any) -> LogChain:
    """The chain checked with the mapper, the payloads of its later part in a second process
    (``beside``: one is started) or not."""
    saved = chain_check.BESIDE_FROM
    chain_check.BESIDE_FROM = 1 if beside else 10**12
    try:
        with (
            mock.patch("subprocess.Popen", wraps=subprocess.Popen) as started,
            OrderLedger(url, create=False, env=env) as ledger,
        ):
            report = verify_chain(ledger.db, mapper=ledger.mapper, **options)
    finally:
        chain_check.BESIDE_FROM = saved
    assert started.call_count == (1 if beside else 0)
    return report


def split(url: str) -> tuple[int, int]:
    """The last event and the last whose payload the walk checks itself (past it: beside)."""
    with raw_sql(url) as db:
        (last,) = db.one("SELECT MAX(notification_id) FROM events")
    return last, last - int(last * chain_check.SHARE)


def rewrite(url: str, position: int, **columns: Any) -> tuple[Any, ...]:
    """Set ``columns`` of event ``position`` and recompute every hash from it on; the row as it
    was before."""
    with raw_sql(url) as db:
        unprotect(db)
        before: tuple[Any, ...] = db.one(
            f"SELECT {COLUMNS} FROM events WHERE notification_id = ?", (position,)
        )
        for column, value in columns.items():
            db.execute(f"UPDATE events SET {column} = ? WHERE notification_id = ?", (value, position))
        rechain(db, position)
        reprotect(db)
    return before


def rechain(db: Any, position: int) -> None:
    """Every hash from event ``position`` on recomputed, as the ledger computes it."""
    before = db.all("SELECT hash FROM events WHERE notification_id = ?", (position - 1,))
    previous = bytes(before[0][0]) if before else GENESIS
    rows = db.all(
        f"SELECT {COLUMNS} FROM events WHERE notification_id >= ? ORDER BY notification_id", (position,)
    )
    for row in rows:
        previous = link(previous, row)
        db.execute("UPDATE events SET hash = ? WHERE notification_id = ?", (previous, row[0]))


def unreadable(url: str, position: int) -> str:
    row = rewrite(url, position, state=b"{not json")
    return f"event {position} ({row[5]} of {row[6]!r}) cannot be read: "


def other_order(url: str, position: int) -> str:
    row = rewrite(url, position, originator_id=str(uuid.uuid4()))
    return (
        f"event {position} ({row[5]} of {row[6]!r}) is stored under another order's ID than its"
        f" payload's {row[6]!r}"
    )


def search_column(url: str, position: int) -> str:
    row = rewrite(url, position, account="mallory")
    return (
        f"event {position} ({row[5]} of {row[6]!r}): its account column says 'mallory' but its"
        f" payload says {row[7]!r}"
    )


def bad_field(url: str, position: int) -> str:
    row = rewrite(
        url, position, state=bytes(row_state(url, position)).replace(b'"ts_event":"', b'"ts_event":"x', 1)
    )
    return f"event {position} ({row[5]} of {row[6]!r}) cannot be read: "


def row_state(url: str, position: int) -> bytes:
    with raw_sql(url) as db:
        (state,) = db.one("SELECT state FROM events WHERE notification_id = ?", (position,))
    return bytes(state)


# Each kind of payload the check finds wrong: the start of what it says.
PAYLOADS: dict[str, Callable[[str, int], str]] = {
    "a payload that is not JSON": unreadable,
    "a payload whose field fails validation": bad_field,
    "a row under another order's ID than its payload's": other_order,
    "a search column that disagrees with its payload": search_column,
}


@pytest.mark.parametrize("kind", list(PAYLOADS))
@pytest.mark.parametrize("side", ("walk", "beside"))
def test_a_wrong_payload_is_found_on_either_side_in_the_same_words(demo: str, kind: str, side: str) -> None:
    last, own = split(demo)
    position = 5 if side == "walk" else last - 3
    assert (position <= own) == (side == "walk")
    said = PAYLOADS[kind](demo, position)
    alone, beside = walk(demo, beside=False), walk(demo, beside=True)
    assert beside == alone
    assert alone.broken is not None and alone.broken.startswith(said), alone.broken
    # The events before it were checked (positions 1 to position - 1), no head reached.
    assert (alone.events, alone.head) == (position - 1, None)


def test_an_untouched_log_walks_the_same_beside(demo: str) -> None:
    alone, beside = walk(demo, beside=False), walk(demo, beside=True)
    last, _ = split(demo)
    assert beside == alone and alone.ok and alone.events == last


def alter_account(url: str, position: int) -> None:
    """A row changed without recomputing its hash: the walk's own finding."""
    with raw_sql(url) as db:
        unprotect(db)
        db.execute("UPDATE events SET account = 'eve' WHERE notification_id = ?", (position,))
        reprotect(db)


def test_the_first_finding_wins_whichever_process_makes_it(demo: str) -> None:
    last, own = split(demo)
    assert 3 <= own < last - 6
    payload = last - 6  # beside
    said = search_column(demo, payload)
    alter_account(demo, last - 2)  # a broken link after it: the payload comes first
    found = walk(demo, beside=True)
    assert found == walk(demo, beside=False)
    assert found.broken is not None and found.broken.startswith(said) and found.events == payload - 1
    alter_account(demo, 3)  # a broken link before it, in the walk's part: the link comes first
    found = walk(demo, beside=True)
    assert found == walk(demo, beside=False)
    assert found.broken is not None and found.broken.startswith("event 3 (") and found.events == 2


def test_a_payload_comes_before_its_own_rows_recorded_head(demo: str) -> None:
    last, own = split(demo)
    assert own < last - 4
    payload = last - 4
    said = unreadable(demo, payload)
    wrong = {payload: "00" * 32}  # a head recorded at the same event: its payload is checked first
    found = walk(demo, beside=True, heads=wrong)
    assert found == walk(demo, beside=False, heads=wrong)
    assert found.broken is not None and found.broken.startswith(said)
    earlier = {payload - 1: "00" * 32}  # a head recorded before it comes first
    found = walk(demo, beside=True, heads=earlier)
    assert found == walk(demo, beside=False, heads=earlier)
    assert found.broken is not None and found.broken.startswith(f"event {payload - 1} has hash ")


def test_a_failed_second_process_leaves_its_checks_to_the_walk(
    demo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    last, _ = split(demo)
    said = other_order(demo, last - 1)
    monkeypatch.setattr(chain_check, "_CHILD", "raise SystemExit(3)")
    found = walk(demo, beside=True)
    assert found == walk(demo, beside=False)
    assert found.broken is not None and found.broken.startswith(said)


def test_an_encrypted_log_is_checked_beside_with_its_key(tmp_path: Path) -> None:
    url, key = f"sqlite:///{tmp_path / 'encrypted.db'}", {"CIPHER_KEY": KEY}
    with OrderLedger(url, env=key) as ledger:
        assert ledger.ingest_lines(simulate_lines(7, 40)).events > 100
    alone = walk(url, beside=False, env=key)
    assert walk(url, beside=True, env=key) == alone and alone.ok
    last, _ = split(url)
    said = unreadable(url, last - 2)  # bytes the key does not decrypt
    alone = walk(url, beside=False, env=key)
    assert walk(url, beside=True, env=key) == alone
    assert alone.broken is not None and alone.broken.startswith(said)
