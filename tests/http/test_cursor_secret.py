"""A cursor is sealed with the ledger's own secret (docs/http.md, "Lists and pages"): one forged
with any other key, one issued before the secret was rotated, one from another ledger, is a 400
naming ``cursor`` on every list endpoint; a sealed cursor whose key has the wrong shape is too,
never a 500 or a storage error's text."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.storage import cursors
from tests.support.cli import run_cli
from tests.support.http_api import LOOPBACK, assert_problem, fill
from tests.support.listing import PATHS, seed

OLD_CONSTANT_KEY = b"orderledger cursor v1"
"""The key every ledger sealed its cursors with when it was written in the source."""
STORAGE_WORDS = ("bindings", "sqlite", "psycopg", "syntax", "TypeError", "operator", "internal error")


def _client(ledger: OrderLedger) -> TestClient:
    return TestClient(create_app(LedgerService(ledger)), base_url=LOOPBACK, raise_server_exceptions=False)


def seed_pages(ledger: OrderLedger) -> None:
    """The paging tests' rows, and a second parked line: every list has two pages of one row."""
    seed(ledger)
    ledger.record(fill("alpha-nobody-2", "t-p2", "1", "1"))


@pytest.fixture
def seeded(make_ledger: Callable[..., OrderLedger]) -> Iterator[tuple[OrderLedger, TestClient]]:
    ledger = make_ledger()
    seed_pages(ledger)
    with _client(ledger) as client:
        yield ledger, client


def first_cursor(client: TestClient, listing: str) -> str:
    path, query = PATHS[listing]
    response = client.get(path, params={**query, "limit": 1})
    assert response.status_code == 200, response.text
    return str(response.headers["Next-Cursor"])


def payload_of(cursor: str) -> tuple[str, list[Any]]:
    """What a cursor carries (its selection's fingerprint and its key): readable by its holder,
    the JSON before its check (of 16 bytes, or of 8 as cursors had when sealed with a constant)."""
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for check in (16, 8):
        try:
            bound, key = json.loads(raw[:-check])
        except ValueError:
            continue
        return bound, key
    raise AssertionError(f"not a cursor: {cursor}")


def sealed(bound: str, key: list[Any], seal: bytes, check: int) -> str:
    payload = json.dumps([bound, key], separators=(",", ":")).encode()
    digest = hashlib.blake2b(payload, key=seal, digest_size=check).digest()
    return base64.urlsafe_b64encode(payload + digest).decode().rstrip("=")


def assert_refused(client: TestClient, listing: str, cursor: str) -> None:
    path, query = PATHS[listing]
    body = assert_problem(client.get(path, params={**query, "cursor": cursor}), 400, "cursor")
    assert not any(word.lower() in body["detail"].lower() for word in STORAGE_WORDS), body["detail"]


@pytest.mark.parametrize("listing", list(PATHS))
def test_a_cursor_forged_with_the_key_in_the_source_is_refused(seeded: Any, listing: str) -> None:
    _, client = seeded
    issued = first_cursor(client, listing)
    bound, key = payload_of(issued)
    # Its holder reads what it carries and seals a cursor of its own with the old constant key
    # (an 8-byte check as it had then, and the new 16-byte one): neither is taken
    for check in (8, 16):
        assert_refused(client, listing, sealed(bound, key, OLD_CONSTANT_KEY, check))


HOSTILE_KEYS: list[list[Any]] = [
    [],
    [1],
    ["a", "b", "c"],
    [{"a": 1}, "x"],
    [[1], "x"],
    [True, "x"],
    [None, None],
    [1.5, {"b": 2}],
    ["x", "y", 3, 4],
]


@pytest.mark.parametrize("listing", list(PATHS))
@pytest.mark.parametrize("sort", ["oldest", "-quantity"])
def test_a_sealed_cursor_with_a_key_of_the_wrong_shape_is_refused(
    seeded: Any, listing: str, sort: str
) -> None:
    # An insider holding the secret (it is stored with the ledger) still cannot reach a storage
    # error or a 500 through a cursor: its key is checked before any query reads it
    ledger, client = seeded
    path, query = PATHS[listing]
    query = {**query, "sort": sort}
    response = client.get(path, params={**query, "limit": 1})
    if response.status_code == 400:
        return  # (a list without a quantity sort)
    bound, key = payload_of(response.headers["Next-Cursor"])
    seal = cursors.seal(ledger.db)
    # Each value of the issued key swapped for one of another type: refused
    swapped = [
        [*key[:i], other, *key[i + 1 :]]
        for i in range(len(key))
        for other in (7, "7", [7])
        if type(other) is not type(key[i])
    ]
    shape = [type(v) for v in key]
    for hostile in [k for k in [*HOSTILE_KEYS, *swapped] if [type(v) for v in k] != shape]:
        response = client.get(path, params={**query, "cursor": sealed(bound, hostile, seal, 16)})
        body = assert_problem(response, 400, "cursor")
        assert not any(word.lower() in body["detail"].lower() for word in STORAGE_WORDS), body["detail"]


def test_a_rotated_secret_voids_every_cursor_issued_before(
    seeded: Any, file_ledger_url: str, tmp_path: Path
) -> None:
    ledger, client = seeded
    if ledger.db.url.is_memory:
        pytest.skip("the command runs in another process: it needs a shared database")
    issued = {listing: first_cursor(client, listing) for listing in PATHS}
    # Cursors continue in another process (the secret is the ledger's, not the process's)
    with OrderLedger(ledger.url) as other, _client(other) as other_client:
        for listing, cursor in issued.items():
            path, query = PATHS[listing]
            assert other_client.get(path, params={**query, "cursor": cursor}).status_code == 200
    run = run_cli("db", "rotate-cursor-secret", db=ledger.url, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.stdout.strip() == "cursor secret replaced: every cursor issued before is refused from now on"
    # The running server refuses them at once; its new cursors continue
    for listing, cursor in issued.items():
        assert_refused(client, listing, cursor)
        path, query = PATHS[listing]
        fresh = first_cursor(client, listing)
        assert client.get(path, params={**query, "cursor": fresh}).status_code == 200


def test_a_cursor_of_another_ledger_is_refused(
    seeded: Any, make_ledger: Callable[..., OrderLedger], tmp_path: Path
) -> None:
    _, client = seeded
    with OrderLedger(f"sqlite:///{tmp_path / 'other.db'}") as other, _client(other) as other_client:
        seed_pages(other)  # the same rows: only the secret differs
        for listing in PATHS:
            assert_refused(client, listing, first_cursor(other_client, listing))


def test_a_ledger_made_before_it_had_a_secret_is_given_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with OrderLedger(url) as ledger:
        seed_pages(ledger)
        with ledger.db.write() as tx:
            tx.execute("DELETE FROM ledger_meta WHERE key = ?", (cursors.KEY,))
    with OrderLedger(url) as ledger:
        with ledger.db.read() as tx:
            stored = tx.one("SELECT value FROM ledger_meta WHERE key = ?", (cursors.KEY,))
        assert stored is not None and len(bytes.fromhex(stored[0])) == 32
        page = ledger.trades(limit=2)
        assert page.next_cursor is not None
    with OrderLedger(url) as ledger:  # the same secret after a restart
        assert len(ledger.trades(limit=2, cursor=page.next_cursor)) == 2
