"""None and bytes are bound by adapters that give them back unchanged, an outcome as its text.

sqlite3 (CPython 3.11) looks every parameter that is not an int, float, str or bytearray up in
its adapters, and for one it has no adapter for, raises and clears an AttributeError on the
way (``__adapt__`` on its protocol class). The SQLite store registers C functions that give
None and bytes back as they are, and an outcome as its text, when it opens a database: the same
values are bound, found at once.
"""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from orderledger.domain.outcomes import Outcome
from orderledger.infrastructure.storage.backends import open_database


@pytest.fixture(autouse=True)
def opened() -> None:
    """A SQLite database opened: the store registers its adapters then."""
    open_database("sqlite:///:memory:").close()


def test_none_and_bytes_have_adapters_that_give_them_back_unchanged() -> None:
    for value in (None, b"", b"\x00raw line\xff"):
        adapter = sqlite3.adapters[(type(value), sqlite3.PrepareProtocol)]
        assert adapter(value) is value


def test_an_outcome_is_bound_as_its_text() -> None:
    adapter = sqlite3.adapters[(Outcome, sqlite3.PrepareProtocol)]
    for outcome in Outcome:
        assert type(adapter(outcome)) is str and adapter(outcome) == outcome.value
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        assert conn.execute("SELECT ?, typeof(?)", (Outcome.PARKED, Outcome.PARKED)).fetchone() == (
            "parked",
            "text",
        )


def test_they_are_still_bound_as_null_and_as_a_blob() -> None:
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        row = conn.execute("SELECT ?, typeof(?), ?, typeof(?)", (None, None, b"\x00ab", b"\x00ab")).fetchone()
        conn.execute("CREATE TABLE t (a, b)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(None, b""), (b"x", None)])
        stored = conn.execute("SELECT a, typeof(a), b, typeof(b) FROM t ORDER BY rowid").fetchall()
    assert row == (None, "null", b"\x00ab", "blob")
    assert stored == [(None, "null", b"", "blob"), (b"x", "blob", None, "null")]
