"""Reading a large result a page at a time: keyset paging over any table, the cycle collector
paused while a page is read and built. The application's queries and the audit's search both page
through the log and the views this way."""

from __future__ import annotations

import functools
import gc
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from orderledger.infrastructure.storage.db import Database

PAGE = 1_000
"""Rows read per query when paging: a large result is never loaded whole."""
KEYS = 50 * PAGE
"""Sort keys read per query by :meth:`Keyset.pages_by_key` (a key is a few short values)."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A plain column name (a key among a keyset's columns is read once: ``Keyset.select``)."""

_pausing = 0  # blocks in collector_paused now running, in any thread
_paused = False  # whether they turned the collector off (it was on when the first began)
_pausing_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a block that allocates many objects and no cycles.

    The collector runs after every few hundred new container objects, and now and then walks
    every object the process holds; a page of typed rows is thousands of them, so pausing it
    while a page is read and built saves that work (one pass follows the block instead). The
    collector is process-wide: it is turned off only if it was on, and back on when the last
    block running in any thread ends; a process that turned it off keeps it off.
    """
    global _pausing, _paused
    with _pausing_lock:
        if _pausing == 0 and gc.isenabled():
            gc.disable()
            _paused = True
        _pausing += 1
    try:
        yield
    finally:
        with _pausing_lock:
            _pausing -= 1
            if _pausing == 0 and _paused:
                _paused = False
                gc.enable()


def pages(
    db: Database,
    select: str,
    where: tuple[str, list[Any]],
    keys: Sequence[str],
    *,
    newest: bool = False,
    page: int = PAGE,
    start: tuple[Any, ...] | None = None,
    convert: Callable[[list[Any]], list[Any]] | None = None,
    at: Sequence[int] | None = None,
) -> Iterator[list[Any]]:
    """Rows in ``keys`` order (descending with ``newest``), one list per page.

    ``select`` ends with the key columns, in order, or (``at``) holds them at those positions of
    its columns. Each page starts after the last key seen (keyset paging, never OFFSET), so a
    writer committing meanwhile shifts nothing. ``start``: the key the first page starts after.
    ``convert``: what a page's stored rows become (the page is read and converted with the cycle
    collector paused).
    """
    positions = range(-len(keys), 0) if at is None else at
    direction, after = ("DESC", "<") if newest else ("ASC", ">")
    order = ", ".join(f"{k} {direction}" for k in keys)
    last = start
    columns = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
    marks = "?" if len(keys) == 1 else f"({', '.join('?' * len(keys))})"
    while True:
        clauses, params = ([where[0]] if where[0] else []), list(where[1])
        if last is not None:
            clauses.append(f"{columns} {after} {marks}")
            params.extend(last)
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with collector_paused():
            with db.read() as tx:
                rows = tx.all(f"{select}{condition} ORDER BY {order} LIMIT ?", [*params, page])
            full = len(rows) == page
            if full:
                row = rows[-1]
                last = tuple(row[i] for i in positions)
            converted = rows if convert is None else convert(rows)
        yield converted
        if not full:
            return


@dataclass(frozen=True)
class Keyset:
    """A query read in key order: ``SELECT columns, keys FROM source WHERE condition``, ordered by
    ``keys`` (descending with ``newest``), starting after ``start``. The keys end with a unique
    column, so a page continues exactly where the one before stopped."""

    columns: str
    source: str
    where: tuple[str, list[Any]]
    keys: Sequence[str]
    newest: bool = False
    start: tuple[Any, ...] | None = None

    @property
    def select(self) -> str:
        return self._layout[0]

    @property
    def at(self) -> tuple[int, ...]:
        """Where each key is in a row :attr:`select` reads."""
        return self._layout[1]

    @functools.cached_property
    def _layout(self) -> tuple[str, tuple[int, ...]]:
        """The SELECT, and where each key is in its rows. When the columns are plain names, a
        key among them is read where it is (the row's own value), not a second time at the end:
        each column read costs SQLite's and the driver's work for every row."""
        named = [c.strip() for c in self.columns.split(",")]
        if not all(_NAME.fullmatch(c) for c in named):
            keys = ", ".join(self.keys)
            return f"SELECT {self.columns}, {keys} FROM {self.source}", tuple(range(-len(self.keys), 0))
        at: list[int] = []
        extra: list[str] = []
        for key in self.keys:
            if key in named:
                at.append(named.index(key))
            else:
                at.append(len(named) + len(extra))
                extra.append(key)
        columns = ", ".join([self.columns, *extra])
        return f"SELECT {columns} FROM {self.source}", tuple(at)

    def pages(
        self, db: Database, page: int = PAGE, convert: Callable[[list[Any]], list[Any]] | None = None
    ) -> Iterator[list[Any]]:
        """Every matching row, one list per page (see :func:`pages`)."""
        return pages(
            db,
            self.select,
            self.where,
            self.keys,
            newest=self.newest,
            page=page,
            start=self.start,
            convert=convert,
            at=self.at,
        )

    def pages_by_key(
        self, db: Database, page: int = PAGE, convert: Callable[[list[Any]], list[Any]] | None = None
    ) -> Iterator[list[Any]]:
        """Every matching row, one list per page, as :meth:`pages` reads them, for a sort that no
        index serves: each page of :meth:`pages` sorts every row left to read (a whole list of
        20,000 orders read 1,000 at a time cost three times one sorted read), so the sort keys
        alone are read first, ``KEYS`` rows' worth a query, and then each page's rows by the last
        key (the unique column the keys end with, which an index must find), in the keys'
        order. A row gone since its key was read is left out."""
        unique, place = self.keys[-1], self.at[-1]
        for found in replace(self, columns=unique).pages(db, KEYS):
            wanted = [r[0] for r in found]
            for at in range(0, len(wanted), page):
                part = wanted[at : at + page]
                query = f"{self.select} WHERE {unique} IN ({', '.join('?' * len(part))})"
                with collector_paused():
                    with db.read() as tx:
                        by_key = {r[place]: r for r in tx.all(query, part)}
                    rows = [by_key[key] for key in part if key in by_key]
                    converted = rows if convert is None else convert(rows)
                yield converted

    def page(
        self, db: Database, limit: int | None, convert: Callable[[list[Any]], list[Any]] | None = None
    ) -> tuple[list[Any], tuple[Any, ...] | None]:
        """The first ``limit`` rows, and the key of the last of them when more rows follow (None
        when they are the last): one query of ``limit + 1`` rows. No ``limit``: every row."""
        if limit is None:
            return [row for part in self.pages(db, PAGE, convert) for row in part], None
        rows = next(self.pages(db, limit + 1))
        kept = rows[:limit]
        after = tuple(kept[-1][i] for i in self.at) if len(rows) > limit else None
        with collector_paused():
            return (kept if convert is None else convert(kept)), after

    def count(self, db: Database, cap: int | None = None) -> int:
        """How many rows the condition selects (``start`` aside); with ``cap``, counted up to
        ``cap + 1`` only (a number above ``cap`` means "more than ``cap``"), so the count reads
        no more rows than a page of that size would."""
        condition = f" WHERE {self.where[0]}" if self.where[0] else ""
        params = list(self.where[1])
        query = f"SELECT COUNT(*) FROM {self.source}{condition}"
        if cap is not None:
            query = f"SELECT COUNT(*) FROM (SELECT 1 FROM {self.source}{condition} LIMIT ?) counted"
            params.append(cap + 1)
        with db.read() as tx:
            return int(tx.one(query, params)[0])


__all__ = ["PAGE", "Keyset", "collector_paused", "pages"]
