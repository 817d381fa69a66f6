"""Rebuilding views from the log: stream, fold into plain objects, bulk-write, swap once.

A rebuild refolds the whole log into fresh ``<table>__rebuild`` tables (no indexes but the
key while they fill), builds their indexes, then, holding the log's write lock, folds what
arrived meanwhile and swaps the tables in (``swap_in``: renamed over the old, or copied into
them when small), in one transaction: readers see the old views until
that commit, and a crash before it leaves the old views as they were.

The fold runs on :class:`BulkTable`: rows live in memory while they change and are written in
batches of thousands (``executemany``), oldest first, once the table holds more than its share;
so memory is bounded by the rows in play (open orders, positions), not by the log's length. Events
are read in position order and decoded without validation (the ledger wrote them).

With ``jobs`` > 1 the work is split across processes (``plan``): whole views first, each folded
by one process that also makes its tables and builds their indexes, dealt so that the processes
fold about as many events each; with more processes than views, a view is also split by its
``partition`` key (orders by client order ID, positions by account/venue/instrument). A process
folding a share of a view's keys routes each event by the columns stored beside it
(``ROUTING_COLUMNS``), parses and builds only the events of its share, and writes its rows into
tables the shares of that view have in common; shares never write the same row, except rows every
share writes alike (instrument definitions). A process that finds the write lock taken (SQLite)
folds on and writes at a later chunk instead of waiting with its core idle.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import os
import traceback
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any
from uuid import UUID

from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.errors import DatabaseLockedError, StoreError
from orderledger.infrastructure.storage.db import Database, Tx, upsert_sql
from orderledger.infrastructure.storage.mapper import CLASSES, LedgerMapper
from orderledger.infrastructure.storage.view_schema import create_table_sql
from orderledger.projections.base import EVERY, Projection, TableSpec

READ_CHUNK = 10_000
"""Events read per query while streaming the log."""
HELD_ROWS = 20_000
"""Rows a table holds in memory before its oldest are written (per table, per process)."""
KNOWN_ROWS = 2_000
"""Rows read back (or found absent) that a table remembers."""
KNOWN_IDS = 20_000
"""Order IDs a fold keeps parsed (it forgets them all when it holds this many)."""
SUFFIX = "__rebuild"
WAIT = 600.0
"""Seconds a rebuild process waits for the write lock (SQLite): the others hold it in turn."""

_ABSENT: Any = object()
_NOT_HELD: Any = object()  # what `held.get` answers for a key it does not hold


def rebuild_name(spec: TableSpec[Any, Any]) -> str:
    """The table a view's rows are refolded into before the swap."""
    return spec.name + SUFFIX


COPIED_BELOW = 256
"""A rebuilt SQLite table of fewer rows than this is copied into its view's table rather than
renamed over it. SQLite checks and rewrites every table and trigger of the schema on each
``ALTER TABLE ... RENAME`` (about as much work as copying 400 order rows), and a ledger's
smaller views (positions, marks, limits, instrument terms) hold a few rows each."""


def swap_in(tx: Tx, specs: Sequence[TableSpec[Any, Any]]) -> None:
    """Put the rebuilt tables of ``specs`` in place of their views' tables (in the transaction
    that commits the rebuild). A small one is copied when the view's table has the same columns
    and indexes; the others replace their view's tables by a rename, each keeping the roles'
    rights granted on the table it replaces (PostgreSQL). The replaced tables are all dropped
    before the first rename, which then checks fewer tables."""
    renamed = []
    for spec in specs:
        if tx.dialect == "sqlite" and _copyable(tx, spec):
            tx.execute(f"DELETE FROM {spec.name}")
            tx.execute(f"INSERT INTO {spec.name} SELECT * FROM {rebuild_name(spec)}")
            tx.execute(f"DROP TABLE {rebuild_name(spec)}")
        else:
            renamed.append((spec, _grants(tx, spec.name)))
    for spec, _ in renamed:
        tx.execute(f"DROP TABLE IF EXISTS {spec.name}")
    for spec, grants in renamed:
        tx.execute(f"ALTER TABLE {rebuild_name(spec)} RENAME TO {spec.name}")
        for grantee, privileges in grants:
            tx.execute(f"GRANT {privileges} ON {spec.name} TO {grantee}")


def _copyable(tx: Tx, spec: TableSpec[Any, Any]) -> bool:
    """Whether the rebuilt table is small and shaped as the view's table (SQLite): the same
    columns and key, the same indexes (compared without names: those a rename leaves keep the
    name they were built with)."""
    built = rebuild_name(spec)
    if tx.one(f"SELECT COUNT(*) FROM (SELECT 1 FROM {built} LIMIT {COPIED_BELOW})")[0] >= COPIED_BELOW:
        return False
    shapes: dict[str, list[str]] = {spec.name: [], built: []}
    for table, sql in tx.all(
        "SELECT tbl_name, sql FROM sqlite_schema WHERE tbl_name IN (?, ?)", (spec.name, built)
    ):
        # What follows the first parenthesis: the columns and key, or an index's columns and
        # condition; an index SQLite made for the key has no SQL.
        shapes[str(table)].append("" if sql is None else str(sql)[str(sql).index("(") :])
    return sorted(shapes[spec.name]) == sorted(shapes[built])


def _grants(tx: Tx, name: str) -> list[tuple[str, str]]:
    """(grantee, privileges) granted on a table to roles other than its owner (PostgreSQL), so that
    a rebuilt table keeps the application role's rights (``db init``) when its owner rebuilds it."""
    if tx.dialect != "postgresql":
        return []
    rows = tx.all(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,"
        " string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)"
        " FROM pg_class c, aclexplode(c.relacl) a"
        " WHERE c.oid = to_regclass(?) AND a.grantee <> c.relowner GROUP BY 1 ORDER BY 1",
        (name,),
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def make_tables(tx: Tx, specs: Sequence[TableSpec[Any, Any]]) -> None:
    """Make empty rebuild tables for these views' tables (any left by an earlier rebuild dropped),
    with no index but the key while they fill."""
    for spec in specs:
        tx.execute(f"DROP TABLE IF EXISTS {rebuild_name(spec)}")
        tx.execute(create_table_sql(spec, rebuild_name(spec), tx.dialect)[0])


def index_tables(tx: Tx, specs: Sequence[TableSpec[Any, Any]]) -> None:
    """Build the indexes of filled rebuild tables: one sort each, not a tree grown row by row."""
    for spec in specs:
        for statement in create_table_sql(spec, rebuild_name(spec), tx.dialect)[1:]:
            tx.execute(statement)


class BulkTable:
    """A view table being refolded: rows held in memory (write-back), written in bulk.

    ``get`` looks in the held rows, then in those it remembers, then (only once this process has
    written some of its rows, or when told the table may hold rows already) in SQL.
    """

    def __init__(self, db: Database, spec: TableSpec[Any, Any], *, stored: bool = False) -> None:
        self.db = db
        self.spec = spec
        self.name = rebuild_name(spec)
        self.held: OrderedDict[Any, Any] = OrderedDict()  # changed, not yet written; oldest first
        self.known: OrderedDict[Any, Any] = OrderedDict()  # as stored (or _ABSENT), unchanged
        self.stored = stored  # whether SQL may hold rows this fold will ask for
        self.written_above = -1  # the highest integer key written (for scans)
        self.misses = 0
        # Held rows by the values of the columns a scan asks for (built at the first such scan).
        self.groups: dict[tuple[str, ...], dict[tuple[Any, ...], list[Any]]] = {}
        columns = [c.name for c in spec.columns]
        keys = " AND ".join(f"{k} = ?" for k in spec.key)
        self._columns = ", ".join(columns)
        self._select = f"SELECT {self._columns} FROM {self.name} WHERE {keys}"
        self._upsert = upsert_sql(self.name, columns, spec.key, spec.fixed)
        self._delete = f"DELETE FROM {self.name} WHERE {keys}"

    # ------------------------------------------------------------------ the Table protocol

    def get(self, key: Any) -> Any:
        held = self.held
        if key in held:
            held.move_to_end(key)
            value = held[key]
            return None if value is _ABSENT else value
        known = self.known
        if key in known:
            value = known[key]
            return None if value is _ABSENT else value
        if not self.stored:
            return None
        self.misses += 1
        with self.db.read() as tx:
            row = tx.one(self._select, self.spec.key_values(key))
        value = _ABSENT if row is None else self.spec.from_row(tuple(row))
        self._remember(key, value)
        return None if value is _ABSENT else value

    def put(self, key: Any, value: Any) -> None:
        held = self.held
        before = held.get(key, _NOT_HELD)
        if before is value and not self.groups:
            return  # changed in place since ``get`` moved it last: held as it is
        held[key] = value
        if before is not _NOT_HELD:
            held.move_to_end(key)  # a new key is added last already
        elif self.known:
            self.known.pop(key, None)  # a held key is never among the known ones
        if self.groups and value is not _ABSENT:
            for columns, members in self.groups.items():
                _insert(members.setdefault(_values_of(value, columns), []), key)

    lend = put  # a rebuild decides nothing: nothing is lent to it

    def delete(self, key: Any) -> None:
        self.put(key, _ABSENT)

    def scan(self, where: Mapping[str, Any], after: int) -> list[Any]:
        assert len(self.spec.key) == 1
        found: dict[Any, Any] = {}
        if self.stored and after < self.written_above:
            clauses = " AND ".join([*(f"{c} = ?" for c in where), f"{self.spec.key[0]} > ?"])
            with self.db.read() as tx:
                rows = tx.all(
                    f"SELECT {self._columns} FROM {self.name} WHERE {clauses}", [*where.values(), after]
                )
            found = {self.spec.key_of_row(tuple(r)): self.spec.from_row(tuple(r)) for r in rows}
        columns = tuple(where)
        members = self.groups.get(columns)
        if members is None:  # first scan by these columns: group the held rows once
            members = self.groups[columns] = {}
            for key, value in self.held.items():
                if value is not _ABSENT:
                    _insert(members.setdefault(_values_of(value, columns), []), key)
        held = self.held
        keys = members.get(tuple(where.values()), [])
        for key in keys[bisect.bisect_right(keys, after) :]:
            value = held.get(key, _ABSENT)
            if value is _ABSENT:  # deleted, or written since (then SQL had it)
                if key in held:
                    found.pop(key, None)
            elif all(getattr(value, c) == v for c, v in where.items()):
                found[key] = value
        return [found[k] for k in sorted(found)]

    # ------------------------------------------------------------------ writing

    def over(self) -> bool:
        return len(self.held) > HELD_ROWS

    def full(self) -> bool:
        return len(self.held) > HELD_ROWS * 3 // 2

    def take(self, keep: int = 0) -> Callable[[Tx], None]:
        """Take the held rows but the ``keep`` newest out of memory, as rows ready to write;
        returns what writes them. The rows are made before the write transaction begins, so
        that it holds the database's write lock only for the SQL."""
        count = len(self.held) - keep
        if count <= 0:
            return lambda tx: None
        taken = [self.held.popitem(last=False) for _ in range(count)]
        taken.sort(key=lambda item: item[0])  # key order: B-trees fill fastest; one lock order
        upserts = [self.spec.to_row(v) for _, v in taken if v is not _ABSENT]
        deletes = [self.spec.key_values(k) for k, v in taken if v is _ABSENT] if self.stored else []

        def write(tx: Tx) -> None:
            if upserts:
                tx.executemany(self._upsert, upserts)
            if deletes:
                tx.executemany(self._delete, deletes)

        # A table remembers its last KNOWN_ROWS rows as stored: which of the taken ones does not
        # matter (any row not remembered is read back from SQL, where it is once written).
        for key, value in taken[-KNOWN_ROWS:]:
            self._remember(key, value)
        groups = self.groups
        for key, value in taken:
            if value is _ABSENT:
                continue
            for columns, members in groups.items():
                group = members.get(_values_of(value, columns))
                if group is not None:
                    at = bisect.bisect_left(group, key)
                    if at < len(group) and group[at] == key:
                        del group[at]
        for key, value in reversed(taken):  # in key order: the last row written has the highest
            if value is not _ABSENT:
                if isinstance(key, int):
                    self.written_above = max(self.written_above, key)
                break
        self.stored = True
        return write

    def _remember(self, key: Any, value: Any) -> None:
        known = self.known
        known[key] = value
        known.move_to_end(key)
        while len(known) > KNOWN_ROWS:
            known.popitem(last=False)


def _write_held(
    write_tx: Callable[..., contextlib.AbstractContextManager[Tx]], tables: Sequence[BulkTable], *, wait: bool
) -> None:
    """Write the oldest half of each table's held rows, if it holds more than its share.

    ``wait=False`` (a share of a partitioned fold): if another process holds the write lock, go
    on folding and try again after the next chunk, rather than sit idle until it is free; only a
    table holding half as many rows again as its share waits. The lock is then taken before the
    rows leave the held ones: rows taken out of memory but not written could not be read back.
    """
    for table in tables:
        if not table.over():
            continue
        if wait:
            write = table.take(keep=HELD_ROWS // 2)  # rows made before the lock: held for SQL only
            with write_tx() as tx:  # one short transaction per table: other writers wait less
                write(tx)
            continue
        taken = False
        try:
            with write_tx(wait=False) as tx:
                write = table.take(keep=HELD_ROWS // 2)
                taken = True
                write(tx)
        except DatabaseLockedError:
            if taken:  # not the lock being busy: these rows are gone from memory, so stop
                raise
            return


_GETTERS: dict[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] = {}


def _values_of(value: Any, columns: tuple[str, ...]) -> tuple[Any, ...]:
    """A row's values of ``columns`` (the key of the group it belongs to in a scan)."""
    getter = _GETTERS.get(columns)
    if getter is None:
        getter = _GETTERS[columns] = _getter(columns)
    return getter(value)


def _getter(columns: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(columns) > 1:
        return attrgetter(*columns)
    get = attrgetter(columns[0])
    return lambda row: (get(row),)


def _insert(keys: list[Any], key: Any) -> None:
    """Add ``key`` to a sorted list of keys, once."""
    at = bisect.bisect_left(keys, key)
    if at == len(keys) or keys[at] != key:
        keys.insert(at, key)


@dataclass(frozen=True)
class Share:
    """Which events a process folds: those of share ``index`` of ``count``, up to ``stop``."""

    index: int = 0
    count: int = 1
    after: int = 0
    stop: int | None = None

    def mine(self, key: str | None, dealt: dict[str, int] | None = None) -> bool:
        """Whether this share folds the events of ``key``: by a hash of the key, or, given
        ``dealt`` (a projection's ``few_partitions``), by dealing each new key to the next share
        in turn. Every process reads the same log in the same order, so each deals alike."""
        if key is None:
            return False
        if self.count == 1 or key == EVERY:
            return True
        if dealt is not None:
            turn = dealt.get(key)
            if turn is None:
                turn = dealt[key] = len(dealt) % self.count
            return turn == self.index
        return zlib.crc32(key.encode()) % self.count == self.index


LOG_COLUMNS = "notification_id, originator_id, originator_version, topic, state"
ROUTING_COLUMNS = ("client_order_id", "account", "venue", "instrument")
"""The search columns a partitioned fold routes by: the event's own values of those fields
(``LedgerMapper.to_stored_event`` writes them), so a share is chosen without parsing the payload."""


def read_log(db: Database, after: int, stop: int | None, *, routing: bool = False) -> Iterator[list[Any]]:
    """Rows (position, originator ID, version, topic, payload[, the ``ROUTING_COLUMNS``]) after
    ``after`` up to ``stop``, in position order, in chunks."""
    columns = LOG_COLUMNS + "".join(f", {c}" for c in ROUTING_COLUMNS) if routing else LOG_COLUMNS
    bound = "" if stop is None else " AND notification_id <= ?"
    while True:
        params: list[Any] = [after] if stop is None else [after, stop]
        with db.read() as tx:
            rows = tx.all(
                f"SELECT {columns} FROM events"
                f" WHERE notification_id > ?{bound} ORDER BY notification_id LIMIT {READ_CHUNK}",
                params,
            )
        if not rows:
            return
        yield rows
        after = rows[-1][0]


FOLD_CACHE_KIB = 32_000
"""The page cache a fold uses, whatever its connection's usual one: enough to keep the upper
pages of the view tables' b-trees, which each bulk write descends again (at 1.1M events, 33.9 s
against 34.6-37.2 s with SQLite's default of 2 MB; peak RSS 232 against 200 MB)."""

Work = Sequence[tuple[Projection, Share]]
"""What one fold does: each projection over a share of its keys (all of one range of the log)."""


def fold_share(
    db: Database,
    mapper: LedgerMapper,
    work: Work,
    *,
    stored: bool = False,
    progress: Callable[[int], None] | None = None,
    parent: int | None = None,
    prepare: Callable[[Tx], None] | None = None,
    go: Any = None,
) -> tuple[int, int]:
    """Fold one share of the log into the rebuild tables; returns (events read, last position).

    ``parent``: the process that started this one; if it is gone (killed), stop before writing
    more, so that no orphan writes into the tables of a later rebuild. ``prepare``: what the
    fold's first write transaction does before writing rows (e.g. create the tables), so that
    the fold reads until then without writing. ``go``: an event (``multiprocessing.Event``) the
    first write waits for: set by the process that started this one once the database passed
    its check; until then a write that need not wait is put off like one finding the lock taken.
    """
    collecting = gc.isenabled()
    gc.disable()  # the fold makes no cycles; a full collection walks every held row, again and again
    try:
        # The fold reads the log in order and writes its tables in bulk: a page cache larger than
        # the b-trees' upper pages buys it nothing and would only add to its peak memory.
        with db.page_cache(FOLD_CACHE_KIB):
            return _fold_share(
                db, mapper, work, stored=stored, progress=progress, parent=parent, prepare=prepare, go=go
            )
    finally:
        if collecting:
            gc.enable()


def _fold_share(
    db: Database,
    mapper: LedgerMapper,
    work: Work,
    *,
    stored: bool,
    progress: Callable[[int], None] | None,
    parent: int | None,
    prepare: Callable[[Tx], None] | None,
    go: Any,
) -> tuple[int, int]:
    ranges = {(share.after, share.stop) for _, share in work}
    if len(ranges) != 1:
        raise ValueError(f"one fold reads one range of the log, not {sorted(ranges, key=str)}")
    after, stop = ranges.pop()
    prepared = prepare is None

    def orphaned() -> bool:
        return parent is not None and os.getppid() != parent

    @contextlib.contextmanager
    def write_tx(*, wait: bool = True) -> Iterator[Tx]:
        nonlocal prepared, go
        if go is not None:
            while not go.wait(1.0 if wait else 0):
                if not wait:
                    raise DatabaseLockedError("the database's check has not passed yet")
                if orphaned():
                    raise StoreError("the process that started this rebuild is gone: stopping")
            go = None
        with db.write(wait=wait) as tx:
            if not prepared:
                assert prepare is not None
                prepare(tx)
            yield tx
        prepared = True

    tables = {p.name: {s.name: BulkTable(db, s, stored=stored) for s in p.tables} for p, _ in work}
    every = [t for named in tables.values() for t in named.values()]
    applies = [(p, p.apply, tables[p.name], share) for p, share in work]
    whole = all(share.count == 1 for _, share in work)
    load, build = mapper.load, mapper.build
    folds: dict[type[OrderEvent], list[Any]] = {}  # the views that fold each event type
    ids: dict[Any, UUID] = {}  # recent orders' IDs, parsed once each (an order's events are near)
    dealt: dict[str, dict[str, int]] = {p.name: {} for p, _ in work if p.few_partitions}
    read = 0
    last = after
    for chunk in read_log(db, after, stop, routing=not whole):
        for row in chunk:
            topic = row[3]
            kind = CLASSES.get(topic)
            if kind is None:
                load(topic, row[4], row[1], row[2])  # an unknown topic: refused in the mapper's words
                continue
            wanted = folds.get(kind)
            if wanted is None:
                wanted = folds[kind] = [a for a in applies if a[0].folds(kind)]
            if wanted and not whole:
                # A share of a view's keys routes each event by its columns: it parses only its own.
                columns = dict(zip(ROUTING_COLUMNS, row[5:9], strict=True))
                wanted = [
                    a
                    for a in wanted
                    if a[3].count == 1 or a[3].mine(a[0].partition(kind, columns), dealt.get(a[0].name))
                ]
            if not wanted:
                continue
            stored_id = row[1]
            originator_id = ids.get(stored_id)
            if originator_id is None:
                if len(ids) >= KNOWN_IDS:
                    ids.clear()
                originator_id = ids[stored_id] = (
                    stored_id if isinstance(stored_id, UUID) else UUID(str(stored_id))
                )
            version = row[2]
            cls, fields = load(topic, row[4], originator_id, version)  # bytes, or a view orjson reads
            event: OrderEvent = build(cls, fields, originator_id, version, trusted=True)
            for _, apply, named, _ in wanted:
                apply(row[0], event, named)
        for projection, _, named, _ in applies:  # before any held row is written
            projection.settle(named)
        read += len(chunk)
        last = chunk[-1][0]
        if orphaned():
            raise StoreError("the process that started this rebuild is gone: stopping")
        if any(t.over() for t in every):
            _write_held(write_tx, every, wait=whole or any(t.full() for t in every))
        if progress is not None:
            progress(len(chunk))
    if orphaned():
        raise StoreError("the process that started this rebuild is gone: stopping")
    for write in [t.take() for t in every]:
        with write_tx() as tx:
            write(tx)
    if not prepared:  # no table to write: still prepared, as the caller expects
        with write_tx():
            pass
    return read, last


# ---------------------------------------------------------------------- processes

MIX_SAMPLE = 10_000
"""The newest events whose types tell a partitioned rebuild how the log's events are mixed."""


def event_mix(db: Database, stop: int) -> dict[type[OrderEvent], int]:
    """How many of the newest ``MIX_SAMPLE`` events up to ``stop`` are of each known type: the
    weights ``plan`` deals by (a few pages read, however long the log)."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT topic FROM events WHERE notification_id <= ? ORDER BY notification_id DESC"
            f" LIMIT {MIX_SAMPLE}",
            [stop],
        )
    mix: dict[type[OrderEvent], int] = {}
    for (topic,) in rows:
        kind = CLASSES.get(topic)
        if kind is not None:
            mix[kind] = mix.get(kind, 0) + 1
    return mix


def plan(
    projections: Sequence[Projection], jobs: int, stop: int, mix: Mapping[type[OrderEvent], int]
) -> list[list[tuple[Projection, Share]]]:
    """Deal a rebuild's work to at most ``jobs`` processes: a view's weight is how many of the
    log's events it folds (``mix``). Whole views first; while there are more processes than
    pieces, the heaviest piece of a view that can be split (it has a ``partition`` key) is cut
    into one more share; then each piece goes, heaviest first, to the process with the least."""
    weights = {p.name: 1 + sum(n for kind, n in mix.items() if p.folds(kind)) for p in projections}
    cuts = {p.name: 1 for p in projections}
    splittable = [p for p in projections if type(p).partition is not Projection.partition]
    while sum(cuts.values()) < jobs and splittable:
        heaviest = max(splittable, key=lambda p: weights[p.name] / cuts[p.name])
        cuts[heaviest.name] += 1
    pieces = [
        (weights[p.name] / cuts[p.name], p, Share(i, cuts[p.name], 0, stop))
        for p in projections
        for i in range(cuts[p.name])
    ]
    pieces.sort(key=lambda piece: -piece[0])  # stable: views in the order given, then shares
    parts: list[list[tuple[Projection, Share]]] = [[] for _ in range(min(jobs, len(pieces)))]
    loads = [0.0] * len(parts)
    for weight, projection, share in pieces:
        least = loads.index(min(loads))
        parts[least].append((projection, share))
        loads[least] += weight
    return parts


def split_tables(parts: Sequence[Work]) -> list[TableSpec[Any, Any]]:
    """The tables of the views that ``parts`` split into shares (once each): common to the
    processes folding those shares, so made before them and indexed after them all."""
    return list(
        dict.fromkeys(spec for part in parts for p, share in part if share.count > 1 for spec in p.tables)
    )


def fold_in_processes(
    db: Database,
    mapper: LedgerMapper,
    parts: Sequence[Work],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fold the log in one process per part of ``plan`` (fork: each inherits the mapper, cipher
    included, and opens its own connection). A process folding a view whole makes its tables in
    its first write and builds their indexes once its fold is done; the tables of a view split
    into shares, common to them, are made here, and their indexes are left to the caller.

    The processes fold while this one makes, in its first write, the check of the database that
    precedes any write (and then the common tables); they write only once that has passed."""
    import multiprocessing  # (only a rebuild in processes uses it: not imported by every start)

    split = split_tables(parts)
    context = multiprocessing.get_context("fork")
    reports: Any = context.Queue()
    go = context.Event()
    workers = [
        context.Process(
            target=_worker,
            args=(db, mapper, part, reports, os.getpid(), go, i == 0),
            name=f"orderledger-rebuild-{i}",
            daemon=True,
        )
        for i, part in enumerate(parts)
    ]
    for worker in workers:
        worker.start()
    failures: list[str] = []
    finished = read = 0
    try:
        with db.write() as tx:  # the check first (raises damage: the processes are stopped below)
            make_tables(tx, split)
        go.set()
        while finished < len(workers):
            kind, value = reports.get()
            if kind == "progress":
                if progress is not None:
                    progress(value)
            else:
                finished += 1
                if kind == "failed":
                    failures.append(value)
                else:
                    read = value  # every process reads the whole log
    finally:
        for worker in workers:
            if not go.is_set():
                worker.kill()
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
                worker.join()
    if failures:
        raise StoreError(f"a rebuild process failed (the old views are untouched): {failures[0]}")
    lost = [w.name for w in workers if w.exitcode != 0]
    if lost:
        raise StoreError(f"rebuild process {lost[0]} died (the old views are untouched)")
    return read


def _worker(
    parent_db: Database,
    mapper: LedgerMapper,
    work: Work,
    reports: Any,
    parent: int,
    go: Any,
    reporting: bool,
) -> None:
    try:
        db = parent_db.reopen(wait=WAIT, checked=True)  # checked by the parent before ``go``
        whole = [spec for p, share in work if share.count == 1 for spec in p.tables]
        try:
            report = (lambda n: reports.put(("progress", n))) if reporting else None
            with db.unsynced():  # the parent's swap commit syncs these rows (``Views.rebuild``)
                read, _ = fold_share(
                    db,
                    mapper,
                    work,
                    progress=report,
                    parent=parent,
                    prepare=lambda tx: make_tables(tx, whole),
                    go=go,
                )
                if whole:
                    with db.write() as tx:
                        index_tables(tx, whole)
        finally:
            db.close()
        reports.put(("done", read))
    except BaseException as error:  # reported to the parent, which raises it in one line
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        reports.put(("failed", f"{detail} (process {os.getpid()})"))
