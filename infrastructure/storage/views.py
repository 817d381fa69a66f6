"""Persistent views: the projections' folds, stored in SQL next to the events.

Each view writes its rows and its tracking position in one transaction, so each event
counts exactly once. Catching up reads only events after the tracking position, so recovery
after a crash costs what the views missed, not the size of the log. A rebuild folds the whole
log into new tables and swaps them in at once, in one transaction (``storage.rebuild``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.storage.db import (
    Database,
    Tx,
    lock_schema,
    select_by_keys,
    table_columns,
    table_exists,
    upsert_sql,
)
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.rebuild import (
    FOLD_CACHE_KIB,
    Share,
    event_mix,
    fold_in_processes,
    fold_share,
    index_tables,
    make_tables,
    plan,
    split_tables,
    swap_in,
)
from orderledger.infrastructure.storage.view_schema import create_table_sql
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import Projection, TableSpec

CHUNK = 5_000
ABSENT = object()
"""A held or cached row known not to exist (deleted in this batch, or not stored)."""
_UNSEEN = object()
"""Neither held nor cached: the row must be read."""


class SqlTable:
    """A view table seen through a bounded cache; writes are held until ``flush``."""

    def __init__(self, spec: TableSpec[Any, Any], name: str, cache_size: int = 20_000) -> None:
        self.spec = spec
        self.name = name
        self.cache_size = cache_size
        self.cache: OrderedDict[Any, Any] = OrderedDict()
        self.dirty: dict[Any, Any] = {}
        self.lent: set[Any] = set()  # keys whose held value is lent (``lend``): not cached
        self.tx: Tx | None = None
        columns = [c.name for c in spec.columns]
        keys = " AND ".join(f"{k} = ?" for k in spec.key)
        self._select = f"SELECT {', '.join(columns)} FROM {name} WHERE {keys}"
        self._upsert = upsert_sql(name, columns, spec.key, spec.fixed)
        self._delete = f"DELETE FROM {name} WHERE {keys}"

    def get(self, key: Any) -> Any:
        value = self.dirty.get(key, _UNSEEN)
        if value is _UNSEEN:
            value = self.cache.get(key, _UNSEEN)
            if value is _UNSEEN:
                assert self.tx is not None, "a view table is read only inside its runner's transaction"
                row = self.tx.one(self._select, self.spec.key_values(key))
                value = ABSENT if row is None else self.spec.from_row(tuple(row))
                self._remember(((key, value),))
            else:
                self.cache.move_to_end(key)
        return None if value is ABSENT else value

    def prefetch(self, keys: Iterable[Any]) -> None:
        """Load many rows in one query (those not already cached or held)."""
        if not self.cache_size:
            return
        assert self.tx is not None
        wanted = list(dict.fromkeys(k for k in keys if k not in self.dirty and k not in self.cache))
        columns = [c.name for c in self.spec.columns]
        for start in range(0, len(wanted), 300):
            chunk = wanted[start : start + 300]
            rows = self.tx.all(
                *select_by_keys(
                    self.name,
                    columns,
                    self.spec.key,
                    [self.spec.key_values(k) for k in chunk],
                    self.tx.dialect,
                )
            )
            found = {}
            for row in rows:
                found[self.spec.key_of_row(tuple(row))] = self.spec.from_row(tuple(row))
            self._remember((key, found.get(key, ABSENT)) for key in chunk)

    def scan(self, where: Mapping[str, Any], after: int) -> list[Any]:
        """Rows matching ``where`` with an integer key above ``after``, in key order (stored
        rows merged with the ones held in this batch)."""
        assert self.tx is not None and len(self.spec.key) == 1
        columns = ", ".join(c.name for c in self.spec.columns)
        clauses = " AND ".join([*(f"{c} = ?" for c in where), f"{self.spec.key[0]} > ?"])
        rows = self.tx.all(
            f"SELECT {columns} FROM {self.name} WHERE {clauses} ORDER BY {self.spec.key[0]}",
            [*where.values(), after],
        )
        found = {self.spec.key_of_row(tuple(r)): self.spec.from_row(tuple(r)) for r in rows}
        for key, value in self.dirty.items():
            if not isinstance(key, int) or key <= after:
                continue
            if value is ABSENT:
                found.pop(key, None)
            elif all(getattr(value, c) == v for c, v in where.items()):
                found[key] = value
        return [found[k] for k in sorted(found)]

    def put(self, key: Any, value: Any) -> None:
        self.dirty[key] = value

    def lend(self, key: Any, value: Any) -> None:
        self.dirty[key] = value
        self.lent.add(key)

    def delete(self, key: Any) -> None:
        self.dirty[key] = ABSENT

    def flush(self, tx: Tx) -> int:
        """Write the held rows; returns how many rows changed."""
        if not self.dirty:
            return 0
        dirty = self.dirty
        to_row = self.spec.to_row
        upserts = [to_row(v) for v in dirty.values() if v is not ABSENT]
        if upserts:
            tx.executemany(self._upsert, upserts)
        if len(upserts) < len(dirty):
            deletes = [self.spec.key_values(k) for k, v in dirty.items() if v is ABSENT]
            tx.executemany(self._delete, deletes)
        count = len(dirty)
        self._remember(dirty.items())
        dirty.clear()
        if self.lent:  # their owner changes them from now on: a later fold reads the rows
            cache = self.cache
            for key in self.lent:
                cache.pop(key, None)
            self.lent.clear()
        return count

    def discard(self) -> None:
        """Forget held writes and the cache (after a rollback, or another writer's change)."""
        self.dirty.clear()
        self.lent.clear()
        self.cache.clear()

    def _remember(self, rows: Iterable[tuple[Any, Any]]) -> None:
        """Cache (key, value) rows: each becomes the most recent, then the least recent go (the
        same rows stay as when trimming after each one)."""
        if not self.cache_size:
            return
        cache = self.cache
        move_to_end = cache.move_to_end
        for key, value in rows:
            cache[key] = value
            move_to_end(key)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)


@dataclass
class CatchUpStats:
    """How much a catch-up did, and how: events read back from the log vs handed over."""

    applied: int = 0
    read_from_log: int = 0
    handed_over: int = 0


class Views:
    """All persistent views of one ledger database."""

    def __init__(
        self,
        db: Database,
        mapper: LedgerMapper,
        projections: Sequence[type[Projection]] = PROJECTIONS,
    ) -> None:
        self.db = db
        self.mapper = mapper
        self.projections = [cls() for cls in projections]
        self.by_name = {p.name: p for p in self.projections}
        self.tables = {
            p.name: {spec.name: SqlTable(spec, spec.name, _cache_size(spec)) for spec in p.tables}
            for p in self.projections
        }
        self._expected: dict[str, int] | None = None
        self._settles = 0  # the ``SETTLES`` count the caches were read at (see ``finish``)
        self._seen_settles = 0  # the count in the last tracking rows read
        self.inline_position = 0
        self.stats = CatchUpStats()
        self.defer = False
        """Whether folds may leave work for later (``Projection.settle``): set by ``deferring``."""
        self._left = False  # whether a fold of this process left work that ``finish`` has not done
        self._runs = 0  # ``deferring`` runs under way: the outermost one finishes

    # ------------------------------------------------------------------ set-up

    def create_tables(self) -> list[str]:
        """Create every view table and its tracking row (idempotent; writes only if missing).

        Returns the views built by another version of their fold (``Projection.version``), or
        whose tables have other columns than this version defines (a database written by an
        older version), and views this version adds to a ledger whose log already holds events:
        the caller rebuilds them (``rebuild``).
        """
        with self.db.read() as tx:
            existing = {
                spec.name: table_columns(tx, spec.name) for p in self.projections for spec in p.tables
            }
            tracked = {str(r[0]) for r in tx.all("SELECT view FROM view_tracking")}
            has_versions = _table_exists(tx, "view_versions")  # absent before versions were kept
            rows = tx.all("SELECT view, version FROM view_versions") if has_versions else []
            versions = {str(r[0]): int(r[1]) for r in rows}
        outdated = [
            p.name
            for p in self.projections
            if any(existing[s.name] for s in p.tables)
            and (
                versions.get(p.name, 1) < p.version  # a newer version's views are left alone
                or any(existing[s.name] and existing[s.name] != [c.name for c in s.columns] for s in p.tables)
            )
        ]
        if all(existing.values()) and tracked >= set(self.by_name) and has_versions:
            return outdated
        with self.db.write() as tx:
            lock_schema(tx)  # one process creates them; the others wait, then find them made
            tx.execute(VERSIONS_TABLE)
            for p in self.projections:
                created = False
                for spec in p.tables:
                    exists = _table_exists(tx, spec.name)
                    if not exists:
                        created = True
                        for statement in create_table_sql(spec, spec.name, self.db.dialect):
                            tx.execute(statement)
                if created and p.name not in outdated:
                    _record_version(tx, p)
                    if any(existing.values()) and tx.one("SELECT 1 FROM events LIMIT 1") is not None:
                        outdated.append(p.name)  # a view new to a ledger with a log: fold it whole
                if tx.one("SELECT position FROM view_tracking WHERE view = ?", (p.name,)) is None:
                    tx.execute("INSERT INTO view_tracking (view, position) VALUES (?, 0)", (p.name,))
        return outdated

    # ------------------------------------------------------------------ tracking

    def positions(self) -> dict[str, int]:
        """Each view's tracking position (the last notification ID it has folded)."""
        with self.db.read() as tx:
            return self._read_positions(tx)

    def _locked_positions(self, tx: Tx) -> dict[str, int]:
        return self._read_positions(tx, lock=tx.dialect == "postgresql")

    def _read_positions(self, tx: Tx, *, lock: bool = False) -> dict[str, int]:
        # Locked in one order (the view's name) by every transaction: two scans that met the rows
        # in different orders (an update moves a row on PostgreSQL) would each hold a row the
        # other waits for, and the server would abort one as a deadlock.
        lock_clause = " ORDER BY view FOR UPDATE" if lock else ""
        rows = tx.all("SELECT view, position FROM view_tracking" + lock_clause)
        found = {str(r[0]): int(r[1]) for r in rows}
        self._seen_settles = found.get(SETTLES, 0)
        return {p.name: found.get(p.name, 0) for p in self.projections}

    def _current(self, positions: dict[str, int]) -> bool:
        """Whether the cached rows are those of the tracking rows just read: no other writer has
        folded events or finished left work since."""
        return positions == self._expected and self._seen_settles == self._settles

    # ------------------------------------------------------------------ work left for later

    @contextmanager
    def deferring(self, lock: AbstractContextManager[Any] | None = None) -> Iterator[None]:
        """A run of folds (the commits of one ingest) that may leave work for its end, where
        ``finish`` does it; a run that fails leaves it marked, for the next one. Within it,
        ``defer`` says which folds may leave work. ``lock``: the writer's own, which its folds
        hold: runs of several threads of one ledger overlap, and the last to end finishes."""
        guard: AbstractContextManager[Any] = nullcontext() if lock is None else lock
        with guard:
            self._runs += 1
        ended = False
        try:
            yield
            ended = True
        finally:
            with guard:
                self._runs -= 1
                if not self._runs:
                    self.defer = False
                    if ended:
                        self.finish()

    def lag(self) -> tuple[int, int, int, int]:
        """The slowest view's position, the log's last, how many rows hold work a fold left for
        later (``Projection.unfinished``), and the count of ``finish`` calls that did some
        (``results.views_lag.ViewsLag``), read at one moment."""
        with self.db.read() as tx:
            tracked = {str(r[0]): int(r[1]) for r in tx.all("SELECT view, position FROM view_tracking")}
            log_end = int(tx.one("SELECT MAX(notification_id) FROM events")[0] or 0)
            unfinished = sum(unfinished_rows(tx, p) for p in self.projections)
        position = min(tracked.get(name, 0) for name in self.by_name)
        return position, log_end, unfinished, tracked.get(SETTLES, 0)

    def finish(self, *, stored: bool = False) -> int:
        """Do the work the folds of this process left for later (``stored``: and any other
        process's, such as one that stopped mid-run); returns the rows finished."""
        if not (self._left or stored) or self._runs:
            return 0
        finished = 0
        with self.db.write() as tx:
            positions = self._locked_positions(tx)
            if not self._current(positions):
                self._discard_all()
            for projection in self.projections:
                if projection.unfinished is None:
                    continue
                table_name, column = projection.unfinished
                tables = self.tables[projection.name]
                spec = tables[table_name].spec
                rows = tx.all(f"SELECT {', '.join(spec.key)} FROM {table_name} WHERE {column} IS NOT NULL")
                if not rows:
                    continue
                for table in tables.values():
                    table.tx = tx
                try:
                    for row in rows:
                        projection.resume(tables, tuple(row) if len(spec.key) > 1 else row[0])
                    projection.settle(tables, write=_writer(tables, tx))
                    for table in tables.values():
                        table.flush(tx)
                except BaseException:
                    projection.forget(tables)
                    self._discard_all()
                    self._expected = None
                    raise
                finally:
                    for table in tables.values():
                        table.tx = None
                finished += len(rows)
            if finished:
                # Other processes' caches hold the rows as they were: the count tells them.
                self._settles = self._seen_settles + 1
                if tx.one("SELECT 1 FROM view_tracking WHERE view = ?", (SETTLES,)) is None:
                    tx.execute(
                        "INSERT INTO view_tracking (view, position) VALUES (?, ?)", (SETTLES, self._settles)
                    )
                else:
                    tx.execute(
                        "UPDATE view_tracking SET position = ? WHERE view = ?", (self._settles, SETTLES)
                    )
            else:
                self._settles = self._seen_settles
            self._expected = positions
        self._left = False
        return finished

    # ------------------------------------------------------------------ catching up

    def catch_up(
        self,
        handed_over: Sequence[tuple[int, OrderEvent]] = (),
        *,
        progress: Callable[[int], None] | None = None,
        decided: Mapping[str, Any] | None = None,
    ) -> CatchUpStats:
        """Fold every event the views have not seen; ``handed_over`` saves reading them back.

        With ``handed_over`` (a writer's batch, just committed), the views are brought to its end:
        the events before it that no view has folded (another writer's) are read from the log and
        folded with it, in one transaction, and the events committed after it are left to their
        writers' own catch-up (or a follower's). ``decided``: that writer's orders as they stand
        after the batch (``fold_inline``)."""
        stats = CatchUpStats()
        hint = list(handed_over)
        if not hint and self._caught_up():
            return stats
        waited = False
        while True:
            with self.db.write() as tx:
                positions = self._locked_positions(tx)
                if not self._current(positions):
                    for tables in self.tables.values():
                        for table in tables.values():
                            table.discard()
                start = min(positions.values())
                adopted, handed = None, False
                if hint and hint[0][0] <= start:
                    hint = []  # folded meanwhile by another process, in part or whole
                if hint and hint[0][0] > start + 1 and not waited:
                    # Another writer's batch before this one is not folded yet: let it go first if
                    # it waits for the tracking rows (their lock is granted in turn), so that it
                    # folds its own events, handed over, rather than this one reading them back.
                    waited = True
                    continue
                before = CHUNK if not hint else min(CHUNK, hint[0][0] - start - 1)
                batch = self._read(start, before) if before else []
                stats.read_from_log += len(batch)
                if hint and (batch[-1][0] if batch else start) == hint[0][0] - 1:
                    batch, adopted, handed = batch + hint, decided, True
                    stats.handed_over += len(hint)
                    hint = []
                if not batch:
                    self._expected = positions
                    break
                try:
                    # The chunks of a catch-up are a run: what they leave, its end finishes.
                    self._fold(tx, batch, positions, adopted, defer=True)
                except BaseException:
                    self._expected = None
                    raise
                last = batch[-1][0]
                for name in positions:
                    positions[name] = max(positions[name], last)
                    tx.execute(
                        "UPDATE view_tracking SET position = ? WHERE view = ?",
                        (positions[name], name),
                    )
                self._expected = dict(positions)
                self._settles = self._seen_settles
            stats.applied += len(batch)
            if progress is not None:
                progress(len(batch))
            if handed:
                break  # the handed-over batch is folded: what came after is its writers' to fold
        self.finish()
        self.stats.applied += stats.applied
        self.stats.read_from_log += stats.read_from_log
        self.stats.handed_over += stats.handed_over
        return stats

    def _caught_up(self) -> bool:
        """Whether every view has folded the whole log, seen in one read (a restart that finds
        nothing to do takes no write lock)."""
        with self.db.read() as tx:
            positions = self._read_positions(tx)
            head = int(tx.one("SELECT COALESCE(MAX(notification_id), 0) FROM events")[0])
        if any(position != head for position in positions.values()):
            return False
        if not self._current(positions):  # caches from other positions: forget them
            self._discard_all()
            self._expected = positions
            self._settles = self._seen_settles
        return True

    def fold_inline(
        self,
        tx: Tx,
        batch: Sequence[tuple[int, OrderEvent]],
        decided: Mapping[str, Any] | None = None,
    ) -> bool:
        """Fold just-inserted events inside the writer's own transaction, if the views are
        exactly caught up to them; returns whether it did. A failure here is contained by a
        savepoint: the events still commit, and the views catch up afterwards.

        ``decided``: the writer's orders as they stand after these events (client order ID →
        ``Order``), which a view whose rows are that state takes as they are
        (``Projection.adopt``) instead of folding the events again."""
        positions = self._locked_positions(tx)
        if not self._current(positions):
            self._discard_all()
        if not batch or any(p != batch[0][0] - 1 for p in positions.values()):
            self._expected = None
            return False
        tx.execute("SAVEPOINT fold_views")
        try:
            self._fold(tx, batch, positions, decided, defer=self.defer)
            last = batch[-1][0]
            tx.executemany(
                "UPDATE view_tracking SET position = ? WHERE view = ?", [(last, n) for n in positions]
            )
        except Exception:
            tx.execute("ROLLBACK TO SAVEPOINT fold_views")
            tx.execute("RELEASE SAVEPOINT fold_views")
            self._discard_all()
            self._expected = None
            return False
        tx.execute("RELEASE SAVEPOINT fold_views")
        # Valid once the writer's transaction commits; if it does not, the positions read
        # next time differ from these and the caches are dropped.
        self._expected = dict.fromkeys(positions, batch[-1][0])
        self._settles = self._seen_settles
        self.inline_position = batch[-1][0]
        self.stats.applied += len(batch)
        self.stats.handed_over += len(batch)
        return True

    def _discard_all(self) -> None:
        for tables in self.tables.values():
            for table in tables.values():
                table.discard()

    def _read(self, after: int, limit: int) -> list[tuple[int, OrderEvent]]:
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM events"
                " WHERE notification_id > ? ORDER BY notification_id LIMIT ?",
                (after, limit),
            )
        decode = self.mapper.decode
        return [(r[0], decode(r[3], bytes(r[4]), r[1], r[2], trusted=True)) for r in rows]

    def _fold(
        self,
        tx: Tx,
        batch: Sequence[tuple[int, OrderEvent]],
        positions: dict[str, int],
        decided: Mapping[str, Any] | None = None,
        *,
        defer: bool = False,
    ) -> None:
        active = [(p, self.tables[p.name], positions[p.name]) for p in self.projections]
        for _, tables, _ in active:
            for table in tables.values():
                table.tx = tx
        try:
            # Which views fold each event type present, and the rows they will read (loaded for
            # the whole batch at once).
            folds: dict[type[OrderEvent], list[tuple[Projection, dict[str, SqlTable], int]]] = {}
            wanted: dict[tuple[str, str], list[Any]] = {}
            for position, event in batch:
                kind = type(event)
                plan = folds.get(kind)
                if plan is None:
                    plan = folds[kind] = [a for a in active if a[0].folds(kind)]
                for projection, _, seen in plan:
                    if position > seen and not (decided is not None and projection.adopts):
                        for table_name, key in projection.reads(event):
                            keys = wanted.get((projection.name, table_name))
                            if keys is None:
                                wanted[projection.name, table_name] = [key]
                            else:
                                keys.append(key)
            for (name, table_name), keys in wanted.items():
                self.tables[name][table_name].prefetch(keys)
            for position, event in batch:
                for projection, tables, seen in folds[type(event)]:
                    if position > seen and not (
                        decided is not None and projection.adopts and projection.adopt(event, tables, decided)
                    ):
                        projection.apply(position, event, tables)
            for projection, tables, _ in active:
                if projection.settle(tables, defer=defer, write=_writer(tables, tx)):
                    self._left = True
            for _, tables, _ in active:
                for table in tables.values():
                    table.flush(tx)
        except BaseException:
            for projection, tables, _ in active:
                projection.forget(tables)
                for table in tables.values():
                    table.discard()
            raise
        finally:
            for _, tables, _ in active:
                for table in tables.values():
                    table.tx = None

    # ------------------------------------------------------------------ rebuilding

    def rebuild(
        self, names: Iterable[str], *, progress: Callable[[int], None] | None = None, jobs: int = 1
    ) -> tuple[int, float]:
        """Refold the named views from the start into new tables, then swap them in atomically.

        ``jobs`` > 1 splits the fold across that many processes (see ``storage.rebuild``); the
        rows are the same. Returns (events folded, seconds).
        """
        chosen = [self.by_name[n] for n in names]
        started = time.perf_counter()
        if jobs < 1:
            raise InvalidInputError(f"jobs must be at least 1, not {jobs}")
        if self.db.url.is_memory:
            jobs = 1  # other processes cannot see an in-memory database
        with self.db.page_cache(FOLD_CACHE_KIB):
            return self._rebuild(chosen, started, jobs, progress)

    def _rebuild(
        self, chosen: list[Projection], started: float, jobs: int, progress: Callable[[int], None] | None
    ) -> tuple[int, float]:
        specs = [spec for p in chosen for spec in p.tables]
        # The new tables are of no use until the swap, whose commit is synced (and with it
        # everything written before it): their own commits need not wait for the disk.
        with self.db.unsynced():
            with self.db.read() as tx:
                stop = int(tx.one("SELECT COALESCE(MAX(notification_id), 0) FROM events")[0])
            if jobs > 1:
                parts = plan(chosen, jobs, stop, event_mix(self.db, stop))
                folded = fold_in_processes(self.db, self.mapper, parts, progress)
                # A view folded whole by one process got its indexes there; a view split into
                # shares gets them here, once every share is in.
                unindexed = split_tables(parts)
            else:
                # The check this process makes before its first write runs beside the fold,
                # which reads thousands of events before it first writes (the tables then).
                self.db.check_ahead()
                folded, _ = fold_share(
                    self.db,
                    self.mapper,
                    [(p, Share(stop=stop)) for p in chosen],
                    progress=progress,
                    prepare=lambda tx: make_tables(tx, specs),
                )
                unindexed = specs
            if unindexed:
                with self.db.write() as tx:
                    index_tables(tx, unindexed)
        with self.db.write() as tx:
            self.db.lock_log(tx)  # no new events while the last ones are folded and tables swap
            more, position = fold_share(
                self.db,
                self.mapper,
                [(p, Share(after=stop)) for p in chosen],
                stored=True,
                progress=progress,
            )
            folded += more
            position = max(position, stop)
            swap_in(tx, [spec for p in chosen for spec in p.tables])
            for p in chosen:
                tx.execute("UPDATE view_tracking SET position = ? WHERE view = ?", (position, p.name))
                _record_version(tx, p)
                for table in self.tables[p.name].values():
                    table.discard()
        self._expected = None
        return folded, time.perf_counter() - started


def unfinished_rows(tx: Tx, projection: type[Projection] | Projection) -> int:
    """How many of the view's rows hold work a fold left for later (``Projection.unfinished``)."""
    if projection.unfinished is None:
        return 0
    table, column = projection.unfinished
    return int(tx.one(f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL")[0])


SETTLES = "(settles)"
"""The ``view_tracking`` row counting ``Views.finish`` calls that changed rows: no view has this
name, and a writer whose caches were read at another count reads the rows again."""


def _cache_size(spec: TableSpec[Any, Any]) -> int:
    # A fill booked before a book's latest walks its P&L entries back from the latest, one by
    # one: the recent ones are those walked, and holding a few thousand spares a query each
    # (a shuffled session reads back about two per fill). Entries are many and rarely read
    # otherwise, so fewer are held than of the other views' rows.
    return 5_000 if spec.name == "pnl_entries_view" else 20_000


VERSIONS_TABLE = "CREATE TABLE IF NOT EXISTS view_versions (view TEXT PRIMARY KEY, version INTEGER NOT NULL)"
"""Which version of each fold built its view (no row: version 1); see ``Projection.version``."""


def _record_version(tx: Tx, projection: Projection) -> None:
    """Note which version of the fold built this view's tables."""
    tx.execute("DELETE FROM view_versions WHERE view = ?", (projection.name,))
    tx.execute(
        "INSERT INTO view_versions (view, version) VALUES (?, ?)", (projection.name, projection.version)
    )


def _table_exists(tx: Tx, name: str) -> bool:
    return table_exists(tx, name)


def _writer(tables: Mapping[str, SqlTable], tx: Tx) -> Callable[[], None]:
    """``Projection.settle``'s ``write``: the tables' held rows written in the fold's transaction
    (rolled back with it, as every row the fold writes)."""

    def write() -> None:
        for table in tables.values():
            table.flush(tx)

    return write
