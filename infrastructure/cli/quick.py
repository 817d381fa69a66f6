"""The read commands answered before the command line is imported: ``orderledger orders --json``
and ``orders --open --json`` on a SQLite ledger whose views are current.

Importing the command line (typer, pydantic, the domain, the ledger and eventsourcing) takes
several times what such a list costs to read and write. The list is the orders view's rows as
they are stored, in its default sort, each written as its JSON form; that needs SQLite, orjson
and what ``quick_table`` (written by ``scripts/quick_table.py`` from the typer definitions, the
orders' declaration and the projections) says of the options, the view and its columns.

An answer is given here only when it is the one the command line would give: the arguments are
exactly the command and flags named there; the URL names an existing SQLite file and no option;
no cipher or compressor is configured and the log's first event is plain JSON; the schema and
every view are this version's (opening the ledger would change nothing) and the views are
current (no warning to print). Anything else, and any error, is left to the command line
(``None``), which gives its own answer, messages and exit codes.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from orderledger.infrastructure.cli import quick_table as known
from orderledger.infrastructure.cli.json_out import json_array
from orderledger.infrastructure.storage.early_check import (
    DEFAULT_URL,
    URL_VARIABLE,
    split_url,
    sqlite_target,
    unwritable,
)

_FORMS: dict[str | None, Callable[[Any], Any] | None] = {None: None, "bool": bool, "json": orjson.loads}
"""What turns a stored value into its JSON form, by the name ``quick_table`` gives it."""
_SETTINGS = ("CIPHER", "COMPRESSOR")
"""Words in the names of the settings that change how the log is stored (eventsourcing's)."""


def answer(args: Sequence[str]) -> int | None:
    """The exit code of the command ``args`` (``--db URL`` first, if given) once answered here,
    or None: a command the command line answers."""
    url, given = split_url(args)
    open_only = _orders_request(given)
    if open_only is None or any(word in name for name in os.environ for word in _SETTINGS):
        return None
    target = sqlite_target(url or os.environ.get(URL_VARIABLE) or DEFAULT_URL)
    if target is None or target[1] or not target[0] or not os.path.isfile(target[0]):
        return None
    if unwritable(target[0]):
        # SQLite would create the -wal and -shm files this user may not leave: the command line
        # reads such a ledger without writing beside it.
        return None
    try:
        rows = _orders(target[0], open_only)
    except (sqlite3.Error, ValueError):  # (a stored value that is not what the view writes)
        return None
    if rows is None:
        return None
    try:
        json_array(rows)
    except BrokenPipeError:
        # The reader went away (``| head``): exit 1 quietly, as click does, with nothing left to
        # flush into the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _orders_request(given: Sequence[str]) -> bool | None:
    """For ``orders`` with ``--json`` and no option but ``--open``: whether ``--open`` is given."""
    roles = [known.ORDERS_FLAGS.get(arg) for arg in given[1:]]
    if given[:1] != ["orders"] or None in roles or len(set(roles)) != len(roles) or "json" not in roles:
        return None
    return "open" in roles


def _orders(path: str, open_only: bool) -> list[dict[str, Any]] | None:
    """The orders view's rows (``open_only``: the open orders') as JSON, or None when the ledger
    at ``path`` is not one answered here."""
    conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one moment of the ledger for the checks and the rows
        if not _as_opened(conn) or not _current(conn):
            return None
        sort = ", ".join(known.ORDERS_SORT)
        if open_only:
            query = (
                f"SELECT {known.OPEN_SHOWN} FROM {known.ORDERS_TABLE} WHERE {known.OPEN_ONLY} ORDER BY {sort}"
            )
            stored: list[Any] = [orjson.loads(row[0]) for row in conn.execute(query)]
        else:
            columns = ", ".join(name for name, _ in known.ORDER_FIELDS)
            stored = conn.execute(f"SELECT {columns} FROM {known.ORDERS_TABLE} ORDER BY {sort}").fetchall()
    finally:
        conn.close()
    return list(map(_shown, stored))


def _compiled_shown() -> Callable[[Sequence[Any]], dict[str, Any]]:
    """What makes one order's JSON form from its stored snapshot values (a NULL stays null): one
    dict display compiled from ``quick_table.ORDER_FIELDS``: no loop over the fields for each
    order of a listing."""
    scope: dict[str, Any] = {}
    items = []
    for i, (name, form) in enumerate(known.ORDER_FIELDS):
        convert = _FORMS[form]
        if convert is None:
            items.append(f"{name!r}: v[{i}]")
        else:
            scope[f"c{i}"] = convert
            items.append(f"{name!r}: None if v[{i}] is None else c{i}(v[{i}])")
    exec(compile(f"def shown(v):\n    return {{{', '.join(items)}}}\n", "<quick.shown>", "exec"), scope)
    shown: Callable[[Sequence[Any]], dict[str, Any]] = scope["shown"]
    return shown


_shown = _compiled_shown()


def _as_opened(conn: sqlite3.Connection) -> bool:
    """Whether opening the ledger would leave it as it is and refuse nothing: this version's
    schema and views, and a log written without a cipher."""
    version = conn.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()
    if version is None or str(version[0]) != str(known.SCHEMA_VERSION):
        return False
    versions = dict(conn.execute("SELECT view, version FROM view_versions").fetchall())
    if versions != known.VIEW_VERSIONS:
        return False
    for table, columns in known.VIEW_COLUMNS.items():
        if tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})")) != columns:
            return False
    first = conn.execute(
        "SELECT state FROM events WHERE notification_id > 0 ORDER BY notification_id LIMIT 1"
    )
    row = first.fetchone()
    if row is None:
        return True
    try:
        return isinstance(row[0], bytes) and isinstance(orjson.loads(row[0]), dict)
    except orjson.JSONDecodeError:
        return False


def _current(conn: sqlite3.Connection) -> bool:
    """Whether the views show the whole log, every book settled (``results.views_lag``): the
    command line prints no warning."""
    tracked = dict(conn.execute("SELECT view, position FROM view_tracking").fetchall())
    if not set(known.VIEW_VERSIONS) <= set(tracked):
        return False
    log_end = conn.execute("SELECT MAX(notification_id) FROM events").fetchone()[0] or 0
    if min(int(tracked[name]) for name in known.VIEW_VERSIONS) < int(log_end):
        return False
    return all(
        conn.execute(f"SELECT 1 FROM {table} WHERE {column} IS NOT NULL LIMIT 1").fetchone() is None
        for table, column in known.UNFINISHED
    )
