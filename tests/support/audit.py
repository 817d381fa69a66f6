"""Helpers for the audit tests: hand-written messages, a controlled clock, the real command, raw SQL.

The audit questions are asked the way an auditor asks them: through ``orderledger`` (in this
process through the console entry point ``infrastructure.cli.main``, or in a subprocess where the
environment or the exit status of a real process matters), and by reading or tampering with the
tables directly, the way someone with access to the database could.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

from eventsourcing.cryptography import AESCipher

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.storage.db import parse_url
from tests.support.integration import T0, at, line, ts
from tests.support.integration import fact as fact  # re-exported for the audit tests
from tests.support.integration import fill as fill

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0

# ---------------------------------------------------------------------- messages
# ``T0``, ``at``, ``ts``, ``fact``, ``fill`` and ``line`` are the integration builders; requests
# here have the audit scenarios' own defaults and field order (the journal tests compare raw text).


def request(
    client_order_id: str,
    *,
    seconds: float,
    account: str = "acc1",
    venue: str = "V1",
    instrument: str = "BTC-USD",
    side: str = "buy",
    quantity: str = "10",
    price: str = "100",
    **extra: Any,
) -> dict[str, Any]:
    """A limit request (buy 10 BTC-USD at 100 on V1 for acc1 unless told otherwise)."""
    return {
        "type": "request",
        "client_order_id": client_order_id,
        "account": account,
        "venue": venue,
        "instrument": instrument,
        "side": side,
        "order_type": "limit",
        "quantity": quantity,
        "price": price,
        **extra,
        "ts": ts(seconds),
    }


# ---------------------------------------------------------------------- the ledger's clock


@dataclass
class Clock:
    """The ledger's clock (``OrderLedger(clock=...)``): it reads ``now`` until told otherwise.

    The ledger asks its clock several times per batch (once for the journal's received time, once
    per fact for ``ts_recorded``), so the tests set the time before each batch instead of handing
    out one time per call: every event and journal row of that batch carries the time set.
    """

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Recorder:
    """Feeds a ledger one batch at a time, each at a chosen recorded time."""

    ledger: OrderLedger
    clock: Clock
    origin: str = "desk.jsonl"
    reports: list[Any] = field(default_factory=list)

    def at(self, seconds: float, *messages: dict[str, Any] | str | bytes, origin: str | None = None) -> Any:
        """Ingest ``messages`` as one input with the ledger's clock at ``T0 + seconds``."""
        self.clock.now = at(seconds)
        data = [line(m) if isinstance(m, dict) else m for m in messages]
        report = self.ledger.ingest_lines(data, origin=origin or self.origin)
        self.reports.append(report)
        return report


# ---------------------------------------------------------------------- the command


@dataclass(frozen=True)
class Run:
    """One finished ``orderledger`` command."""

    args: Sequence[str]
    code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """What ran and what it said, for assertion messages."""
        return (
            f"$ orderledger {' '.join(self.args)}\nexit {self.code}\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )

    def json(self) -> Any:
        """stdout as one JSON document (the command must have succeeded quietly)."""
        assert self.code == 0 and self.stderr == "", self.describe()
        return json.loads(self.stdout)

    def json_lines(self) -> list[Any]:
        """stdout as JSON lines (the command must have succeeded quietly)."""
        assert self.code == 0 and self.stderr == "", self.describe()
        return [json.loads(text) for text in self.stdout.splitlines()]

    def one_line_failure(self, code: int | None = None) -> str:
        """The failure contract: non-zero exit, nothing on stdout, one line on stderr, no traceback."""
        assert self.code != 0, self.describe()
        if code is not None:
            assert self.code == code, self.describe()
        assert "Traceback" not in self.stdout + self.stderr, self.describe()
        assert self.stdout == "", self.describe()
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.describe()
        assert lines[0].startswith("orderledger: "), self.describe()
        return lines[0]


@functools.cache
def click_command() -> Any:
    """The click command typer builds from ``infrastructure.cli.app`` (built once: it takes ~70 ms)."""
    import importlib

    import typer.main

    from orderledger.infrastructure.cli.app import app

    importlib.import_module("orderledger.infrastructure.cli.command")  # registers the commands on ``app``
    return typer.main.get_command(app)


def orderledger(*args: str, db: str) -> Run:
    """Run ``orderledger --db DB ARGS…`` in this process, through the console entry point.

    ``infrastructure.cli.main`` runs as it does for a user (its one-line errors and exit codes);
    only the typer application ``cli.command`` calls is replaced by the click command typer
    builds from it.
    """
    from orderledger.infrastructure.cli import command as shell
    from orderledger.infrastructure.cli import main as cli

    argv = ["orderledger", "--db", db, *args]
    command = click_command()

    def app(**kwargs: Any) -> Any:
        return command.main(args=argv[1:], prog_name="orderledger", **kwargs)

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.object(shell, "app", app),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            cli.main()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return Run(argv[1:], code, out.getvalue(), err.getvalue())


def orderledger_process(*args: str, db: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run the real command in a subprocess (this checkout first on PYTHONPATH, no ORDERLEDGER_*)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLEDGER_")}
    environment.pop("CIPHER_KEY", None)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "orderledger", "--db", db, *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    return Run(["--db", db, *args], done.returncode, done.stdout.decode(), done.stderr.decode())


# ---------------------------------------------------------------------- the database, directly


@contextlib.contextmanager
def raw_sql(url: str) -> Iterator[Any]:
    """A plain DB-API connection to the ledger's database, outside the ledger (autocommit).

    For SQLite, ``sqlite3``; for PostgreSQL, ``psycopg`` with the search path set to the ledger's
    schema. SQL is written with ``?`` placeholders; ``execute`` converts them for PostgreSQL.
    """
    parsed = parse_url(url)
    if parsed.dialect == "postgresql":
        import psycopg

        with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{parsed.schema}"')
            yield _Raw(conn, "postgresql")
    else:
        lite = sqlite3.connect(parsed.path, isolation_level=None)
        try:
            yield _Raw(lite, "sqlite")
        finally:
            lite.close()


@dataclass
class _Raw:
    conn: Any
    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.dialect == "postgresql":
            return self.conn.execute(sql.replace("?", "%s"), params or None)
        return self.conn.execute(sql, params)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in self.execute(sql, params)
        ]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        rows = self.all(sql, params)
        assert len(rows) == 1, rows
        return rows[0]


def query(ledger: OrderLedger, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a plain SELECT through the ledger's own connection (works for memory:// too)."""
    with ledger.db.read() as tx:
        rows = tx.all(sql, params)
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


def reprotect(db: Any) -> None:
    """What an attacker who switched the append-only triggers off does last, to cover the tracks:
    switch them back on exactly as the ledger made them (``verify`` then finds nothing missing)."""
    from orderledger.infrastructure.storage.schema import append_only

    if db.dialect == "postgresql":
        for table in ("events", "messages", "identities", "settlements", "verified"):
            db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    for statement in append_only(db.dialect):
        db.execute(statement)


def journal_by_hand(url: str) -> list[tuple[int, str]]:
    """Every (position, hash) of the journal's chain recomputed from the rows, as docs/audit.md
    states it. Journal rows (position = message ID) and settlements (their position) in position
    order; each hash is sha256(previous + compact JSON of the record's fields + U+001E + raw):

    - a journal row: ["message", id, received_at, origin, line_no, format, outcome, reason,
      client_order_id, event_count, parts], a settled line with the outcome ("parked"), reason,
      order and count its first settlement says it had before; ``parts`` the [part, digest] of
      each of its messages that was parked (still waiting, or settled), a digest being
      sha256(JSON [part, sorted [venue, kind, value] keys] + U+001E + the parked message), hex;
    - a settlement: ["settlement", position, message_id, parts, before_reason,
      before_client_order_id, before_event_count, outcome, reason, client_order_id, event_count]
      and no raw bytes."""

    def compact(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    with raw_sql(url) as db:
        lines = db.all(
            "SELECT message_id, received_at, origin, line_no, format, outcome, reason, client_order_id,"
            " event_count, raw FROM messages ORDER BY message_id"
        )
        settlements = db.all(
            "SELECT position, message_id, parts, before_reason, before_client_order_id,"
            " before_event_count, outcome, reason, client_order_id, event_count FROM settlements"
            " ORDER BY position"
        )
        parked = db.all("SELECT message_id, part, venue, kind, value, message FROM parked")
    waiting: dict[int, dict[int, Any]] = {}
    for message_id, part, venue, kind, value, message in parked:
        keys, _ = waiting.setdefault(message_id, {}).setdefault(part, ([], bytes(message)))
        keys.append([venue, kind, value])
    records: list[tuple[int, list[Any], bytes]] = []
    for row in lines:
        parts = {
            part: hashlib.sha256(compact([part, sorted(keys)]) + b"\x1e" + message).hexdigest()
            for part, (keys, message) in waiting.get(row[0], {}).items()
        }
        own = [s for s in settlements if s[1] == row[0]]
        for settlement in own:
            parts.update(dict(json.loads(settlement[2])))
        fields = list(row[:9])
        if own:
            fields[5:9] = ["parked", own[0][3], own[0][4], own[0][5]]
        records.append((row[0], ["message", *fields, [[p, parts[p]] for p in sorted(parts)]], bytes(row[9])))
    records += [(s[0], ["settlement", *s], b"") for s in settlements]
    previous, result = b"\x00" * 32, []
    for position, fields, raw in sorted(records, key=lambda r: r[0]):
        previous = hashlib.sha256(previous + compact(fields) + b"\x1e" + raw).digest()
        result.append((int(position), previous.hex()))
    return result


# ---------------------------------------------------------------------- tampering and encryption

# The cipher key of the encrypted ledgers (a new one each run).
KEY = AESCipher.create_key(16)

# The events table's columns a tampering test reads a row by (test_verify hashes them by hand).
COLUMNS = (
    "notification_id, originator_id, originator_version, topic, state, event_type, client_order_id,"
    " account, venue, instrument, ts_event, ts_recorded, source, message_id"
)


def stored_head(url: str) -> tuple[int, str]:
    """The last event's position and hash, read apart from the ledger."""
    with raw_sql(url) as db:
        position, digest = db.one(
            "SELECT notification_id, hash FROM events ORDER BY notification_id DESC LIMIT 1"
        )
    return int(position), bytes(digest).hex()


def unprotect(db: Any) -> None:
    """What an attacker with DDL rights does first: switch the append-only triggers off."""
    if db.dialect == "postgresql":
        db.execute("ALTER TABLE events DISABLE TRIGGER USER")
    else:
        db.execute("DROP TRIGGER events_no_update")
        db.execute("DROP TRIGGER events_no_delete")


def damage_an_old_page(path: Path) -> None:
    """Overwrite half of the journal's first leaf page: old lines no append touches again."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (page,) = db.execute(
            "SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1"
        ).fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    with path.open("r+b") as handle:
        handle.seek((page - 1) * size + size // 4)
        handle.write(b"\xff" * (size // 2))
