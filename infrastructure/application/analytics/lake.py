"""The Parquet lake: the log and the analytic tables, exported incrementally (docs/analytics.md).

Layout of a lake directory::

    _manifest.json                               the committed high-water mark (log position)
    events/day=YYYY-MM-DD/venue=V/events-FROM-TO-I.parquet     appended: files per run and partition
    fills/day=…/venue=…/fills-FROM-TO-I.parquet                appended: fills, busts, corrections
    funding/day=…/venue=…/funding-FROM-TO-I.parquet            appended: cash flows (funding, interest, …)
    snapshot-TO/orders/day=…/venue=…/*.parquet                 written each run: one row per order
    snapshot-TO/positions/*.parquet                            written each run: net quantity, cash per book
    snapshot-TO/pnl/day=…/venue=…/*.parquet                    written each run: a row per fill (lake_pnl.py)

FROM and TO are the first and last log positions the run read. A run reads the log after the
manifest's position, writes its files, and only then replaces the manifest (written beside it,
flushed, renamed over it). A run that dies before the rename leaves files whose FROM is past the
manifest's position: the next run deletes them first and writes the same positions again, so a
row is never in the lake twice and never missing. Readers take the files up to the manifest's
position (:func:`lake_tables`, :func:`lake_orders`), and only from a lake of this version's
:data:`FORMAT`.

A run with nothing new in the log still writes a new snapshot when the committed one is out of
date: its rows of an older format, or its P&L rows of a cost-basis rule other than the ledger's
(``db cost-basis`` changed it since). The appended tables and the position stay as they are; the
snapshot goes to a folder of its own (``snapshot-TO-ID``) and is committed, as any run's, by the
manifest's rename.

The log is read in chunks (``columnar.load_events``), with both cores busy: while the driver reads
chunk n+1 and DuckDB parses the payloads of chunk n the tables read, a second DuckDB connection
writes chunk n-1's events out as they are (:class:`_Writer`); it then writes the fills while the
first computes the orders. A new snapshot
costs what the run changed, not the history: an order's row depends on its own events only, so
the orders the run touched are recomputed (their state read from the orders view, their history
from their events, the earlier ones read back from the lake), every other row is carried from the
last snapshot, and the positions are the last ones plus the run's fills.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.analytics import columnar, lake_pnl
from orderledger.infrastructure.audit.columns import COLUMN_TYPES, MONEY

if TYPE_CHECKING:  # pragma: no cover - types only
    import duckdb
    import pyarrow as pa

    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

MANIFEST = "_manifest.json"
FORMAT = 6
"""The shape of the rows the manifest vouches for: the orders carry their seconds and slippage
parts, every term the order's declaration takes from its request, and the orders view's state
(every value the order's declaration shows, ``columnar.state_columns``, with when it ended); a
fill carries every term its order's declaration takes from the request (``columnar.fill_terms``);
money keeps ``columns.MONEY_PLACES`` places; the manifest records the declared columns
(:data:`DECLARED`). A run over a lake of another format, or of another declaration
(:func:`_reshaped`), recomputes every order's row and adds to its fills the terms they lack
(``_add_terms``), and over one of a format before :data:`MONEY_FORMAT` first widens the money
columns of its appended files (``_widen_money``)."""
MONEY_FORMAT = 3
"""The first format whose money columns keep ``columns.MONEY_PLACES`` places."""
DECLARED = "declared"
"""The manifest's record of the columns the order's declaration gave the lake's tables
(:func:`declared`): a value added to the declaration reaches a lake written before it with no
change to :data:`FORMAT`."""
APPENDED = ("events", "fills", "funding")
"""The tables each run appends to (their rows never change once written)."""
SNAPSHOTS = ("orders", "positions", lake_pnl.TABLE)
"""The tables each run rewrites whole (an order's row changes as its events arrive)."""
_FILE = re.compile(r"^[a-z]+-(\d+)-(\d+)-[0-9a-f-]+\.parquet$")
_AMOUNTS = columnar.amounts()
"""The recorded amounts of the events' payloads, with the places the lake keeps of each: every
field the payload event classes declare as a decimal (``columnar.amounts``), so a new one is
checked here without an edit."""


def declared() -> dict[str, list[str]]:
    """The columns the order's declaration gives the lake's tables: the fills' terms of their
    orders' requests (``columnar.fill_terms``) and the orders' state (``columnar.state_columns``)."""
    return {"fills": list(columnar.fill_terms()), "orders": list(columnar.state_columns())}


def _reshaped(manifest: dict[str, Any]) -> bool:
    """Whether a lake's committed rows are of a shape other than this version writes: of another
    format, or written under another declaration of the order (:data:`DECLARED`)."""
    return manifest.get("format") != FORMAT or manifest.get(DECLARED) != declared()


@dataclass(frozen=True)
class LakeReport:
    """What one export run did: the positions it read and the rows it wrote per table."""

    directory: str
    after: int
    position: int
    rows: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values."""
        return {
            "directory": self.directory,
            "after": self.after,
            "position": self.position,
            "rows": self.rows,
        }


def read_manifest(directory: Path) -> dict[str, Any]:
    """The committed state of a lake (position 0 and no snapshot when nothing was exported)."""
    path = directory / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "position": 0, "snapshot": None}
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"{path} is not a lake manifest: {error}", field="directory") from None
    if not isinstance(manifest, dict) or "position" not in manifest:
        raise InvalidInputError(f"{path} is not a lake manifest: no position", field="directory")
    position = manifest["position"]
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise InvalidInputError(
            f"{path} is not a lake manifest: its position {str(position)[:40]!r} is not a log position",
            field="directory",
        )
    return manifest


def readable_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a lake to read, or a one-line error: no manifest, or one of a format other
    than :data:`FORMAT` (its tables' columns are not the ones readers expect; the next export
    brings a lake of an older format up to date)."""
    if not (directory / MANIFEST).is_file():
        raise InvalidInputError(
            f"{directory} is not an exported lake (no {MANIFEST}): run export lake first", field="lake"
        )
    manifest = read_manifest(directory)
    found = manifest.get("format")
    if isinstance(found, int) and not isinstance(found, bool) and found < FORMAT:
        raise InvalidInputError(
            f"{directory} is a lake of format {found}, this version reads format {FORMAT}:"
            f" run export lake {directory} to update it",
            field="lake",
        )
    if found != FORMAT:
        raise InvalidInputError(
            f"{directory} is a lake of format {found!r}, which this version (format {FORMAT}) does not read",
            field="lake",
        )
    return manifest


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically: written beside it, flushed to disk, renamed over it."""
    partial = directory / f".{MANIFEST}.{os.getpid()}.partial"
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, directory / MANIFEST)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _quoted(path: Path) -> str:
    """A path as a string in SQL's quotes (a quote doubled)."""
    return str(path).replace("'", "''")


def _glob(directory: Path, table: str) -> str:
    return _quoted(directory / table / "**" / "*.parquet")


def _has_files(directory: Path, table: str) -> bool:
    return any((directory / table).rglob("*.parquet"))


def lake_orders(directory: Path) -> str:
    """SQL of the lake's orders snapshot (one row per order, ``columnar.ORDERS_SQL``'s columns)."""
    tables = lake_tables(directory)
    if "orders" not in tables:
        raise InvalidInputError(f"{directory} holds no exported orders (run export lake first)", field="lake")
    return f"SELECT * FROM read_parquet('{tables['orders']}', hive_partitioning = true)"


def lake_tables(directory: str | Path) -> dict[str, str]:
    """Each table of the lake that holds rows → the Parquet glob to read it from (a lake without
    a manifest, or of another format, is refused: :func:`readable_manifest`; the appended
    tables' files past the manifest's position, left by a run still under way or killed, are
    for the reader to leave out: ``WHERE position <= manifest position``)."""
    root = Path(directory)
    manifest = readable_manifest(root)
    tables = {table: _glob(root, table) for table in APPENDED if _has_files(root, table)}
    if manifest.get("snapshot"):
        snapshot = root / manifest["snapshot"]
        tables.update({table: _glob(snapshot, table) for table in SNAPSHOTS if _has_files(snapshot, table)})
    return tables


def _discard_uncommitted(directory: Path, manifest: dict[str, Any]) -> None:
    """Delete what a run that died before its manifest left: appended files past the committed
    position, and snapshots other than the committed one."""
    position = int(manifest["position"])
    for table in APPENDED:
        for path in (directory / table).rglob("*.parquet"):
            match = _FILE.match(path.name)
            if match and int(match.group(1)) > position:
                path.unlink()
    for path in directory.glob("snapshot-*"):
        if path.name != manifest.get("snapshot"):
            shutil.rmtree(path)
    for path in directory.glob(f".{MANIFEST}.*.partial"):
        path.unlink()


def _check_manifest(root: Path, position: int, upto: int) -> None:
    """Refuse, before anything in the directory is touched, a manifest whose position is past the
    log's end or is not where the lake's event files end (each run's files are named after the
    last position it read): an altered manifest, or another ledger's lake, would otherwise make
    every later run "up to date" or leave a gap in the lake."""
    reached = max(
        (int(m.group(2)) for p in (root / "events").rglob("*.parquet") if (m := _FILE.match(p.name))),
        default=0,
    )
    if position <= upto and (position == 0 or reached >= position):
        return
    held = f"this ledger's log ends at {upto}" if position > upto else f"its event files end at {reached}"
    raise InvalidInputError(
        f"{root}'s manifest says the lake holds the log up to position {position}, but {held}: it is"
        " another ledger's lake, or its manifest was altered; export to a new directory (nothing"
        " was written)",
        field="directory",
    )


def _check_places(con: duckdb.DuckDBPyConnection, start: int) -> None:
    """Refuse a recorded amount (of the events past ``start``) with more places than the lake's
    decimal columns keep: the door refuses them (``domain.values.MAX_PLACES``), so only a log
    written before it did can hold one. The digits after the point are counted first (cheap, and
    almost always within bounds); only when some exceed the columns' places are trailing zeros
    left out."""
    rows = f"FROM run_events WHERE position > {int(start)}"
    digits = "max(length({0}) - strpos({0}, '.')) FILTER (WHERE strpos({0}, '.') > 0)"
    found = columnar.run(con, f"SELECT {', '.join(digits.format(name) for name in _AMOUNTS)} {rows}")[0]
    if all(places is None or places <= most for places, most in zip(found, _AMOUNTS.values(), strict=True)):
        return
    exact = "max(length(rtrim(split_part({0}, '.', 2), '0')))"
    found = columnar.run(con, f"SELECT {', '.join(exact.format(name) for name in _AMOUNTS)} {rows}")[0]
    for (name, most), places in zip(_AMOUNTS.items(), found, strict=True):
        if places is not None and places > most:
            raise InvalidInputError(
                f"an event's {name} has {places} decimal places; the lake keeps {most}: not exported"
                " (the log was written before the ledger refused such figures at the door)",
                field="directory",
            )


def _committed(root: Path, tables: Iterable[str], position: int) -> Iterator[Path]:
    """The files of the appended ``tables`` that the runs up to ``position`` wrote, each read as
    it is (a file of a run past it, killed before its manifest, is left out)."""
    for table in tables:
        for path in sorted((root / table).rglob("*.parquet")):
            match = _FILE.match(path.name)
            if match is not None and int(match.group(1)) <= position:
                yield path


def _parquet(path: Path) -> str:
    """SQL reading the one file at ``path`` as written (its folders' names are not columns)."""
    return f"read_parquet('{_quoted(path)}', hive_partitioning = false)"


def _rewrite(con: duckdb.DuckDBPyConnection, path: Path, rows: str) -> None:
    """Replace the file at ``path`` with the rows of the SQL ``rows``: written beside it, then
    renamed over it (a run killed half-way leaves the file as it was)."""
    partial = path.with_name(f".{path.name}.partial")
    columnar.run(con, f"COPY ({rows}) TO '{_quoted(partial)}' ({_PARQUET})")
    os.replace(partial, path)


def _widen_money(root: Path, position: int) -> None:
    """Rewrite the committed files of the appended tables of a lake written before
    :data:`MONEY_FORMAT` with their money columns in this version's type (``columns.MONEY``), one
    file at a time (:func:`_rewrite`): a lake's files of one table must share their types, or
    DuckDB reads them all in the first one's. Idempotent: a run killed half-way leaves the
    manifest as it was, and the next run widens what is left."""
    con = columnar.connect()
    try:
        for path in _committed(root, APPENDED, position):
            types = columnar.run(con, f"DESCRIBE SELECT * FROM {_parquet(path)}")
            narrow = [
                str(name)
                for name, kind, *_ in types
                if COLUMN_TYPES.get(str(name)) == MONEY and str(kind) != MONEY
            ]
            if narrow:
                widened = ", ".join(f"CAST({name} AS {MONEY}) AS {name}" for name in narrow)
                _rewrite(con, path, f"SELECT * REPLACE ({widened}) FROM {_parquet(path)}")
    finally:
        con.close()


def _add_terms(root: Path, position: int) -> None:
    """Rewrite the committed files of the fills of a lake of another shape (:func:`_reshaped`)
    with the terms of their orders' requests they lack (``columnar.fill_terms``), read from the
    requests among the lake's own events, one file at a time (:func:`_rewrite`), its columns in
    the order a new file has them: a lake's files of one table must share their columns, or
    DuckDB refuses to read them together. Idempotent, as :func:`_widen_money` is."""
    con = columnar.connect()
    terms = [*columnar.fill_terms(), "requested_at"]
    requests = ""  # the lake's requests' terms, read once the first file lacks one
    try:
        for path in _committed(root, ("fills",), position):
            held = [str(row[0]) for row in columnar.run(con, f"DESCRIBE SELECT * FROM {_parquet(path)}")]
            if set(terms) <= set(held):
                continue
            if not requests:
                asked = columnar.of_types(f"({lake_events_upto(root, position)})", ("OrderRequested",))
                parsed = f"({columnar.PER_EVENT_SQL.format(events=asked)})"
                columnar.run(con, f"CREATE TEMP TABLE lake_terms AS {columnar.terms_sql(parsed)}")
                requests = "lake_terms"
            listed = [f"f.{name}" for name in held if name not in terms]
            listed += [f"{'f' if name in held else 't'}.{name}" for name in terms]
            joined = f"{_parquet(path)} f LEFT JOIN {requests} t USING (client_order_id)"
            _rewrite(con, path, f"SELECT {', '.join(listed)} FROM {joined}")
    finally:
        con.close()


_PARQUET = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"
"""zstd at its fastest level: smaller files than snappy's for little more time (every reader the
docs name reads zstd)."""
_EVENTS_PARQUET = f"{_PARQUET}, DICTIONARY_SIZE_LIMIT 1000"
"""The events' files: their widest columns (payloads, order IDs) hold a distinct value on nearly
every row, so they are written plain rather than first tried in a dictionary (about 15 % less
CPU for the same size)."""


def _folder(target: Path, keys: Iterable[tuple[str, Any]]) -> Path:
    """The Hive folder of a partition (``target/day=D/venue=V``), created: values escaped as
    Hive's and DuckDB's are (percent-encoded, NULL as ``NULL``), and read back decoded."""
    folder = target
    for column, value in keys:
        folder /= f"{column}={quote('NULL' if value is None else str(value), safe='')}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(folder: Path, stem: str) -> str:
    return str(folder / f"{stem}-{uuid.uuid4()}.parquet").replace("'", "''")


def _copy(
    con: duckdb.DuckDBPyConnection, sql: str, target: Path, stem: str, partition: tuple[str, ...]
) -> int:
    """Write ``sql``'s rows under ``target`` (:func:`_write_table`), kept in a table first."""
    table = f"lake_rows_{uuid.uuid4().hex}"
    columnar.run(con, f"CREATE TEMP TABLE {table} AS {sql}")
    try:
        return _write_table(con, table, target, stem, partition)
    finally:
        columnar.run(con, f"DROP TABLE {table}")


def _write_table(
    con: duckdb.DuckDBPyConnection, table: str, target: Path, stem: str, partition: tuple[str, ...]
) -> int:
    """Write ``table``'s rows under ``target``, one file per value of the ``partition`` columns
    (left out of the files: they are the folders' names); returns the count. Each partition is
    written by a COPY of its own: DuckDB's partitioned writer buffers every row per partition
    before it writes, which costs more than the writing (a fifth more CPU for the fills, two
    fifths more for the orders)."""
    target.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(partition)
    written = 0
    for values in columnar.run(con, f"SELECT DISTINCT {listed} FROM {table}"):
        path = _path(_folder(target, zip(partition, values, strict=True)), stem)
        where = " AND ".join(f"{column} IS NOT DISTINCT FROM ?" for column in partition)
        rows = f"SELECT * EXCLUDE ({listed}) FROM {table} WHERE {where}"
        written += int(columnar.run(con, f"COPY ({rows}) TO '{path}' ({_PARQUET})", list(values))[0][0])
    return written


class _Writer:
    """Files written on a second connection to the run's database, in a thread (DuckDB releases
    the GIL), while the run's own connection works on the next thing: the two cores busy. One
    write is under way at a time, so a chunk waits for the one before it (at most three chunks
    in memory: being read, parsed and written)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con.cursor()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="lake-write")
        self.pending: list[tuple[str, Future[int]]] = []
        self.counts: dict[str, int] = {}

    def submit(self, table: str, call: Callable[..., int], *args: Any) -> None:
        """Run ``call(connection, *args)`` (it returns the rows it wrote of ``table``) once the
        write under way is done."""
        self.wait()
        self.pending.append((table, self.pool.submit(call, self.con, *args)))

    def wait(self) -> dict[str, int]:
        """The rows written per table once every write submitted is done (a failed one raises)."""
        for table, done in self.pending:
            self.counts[table] = self.counts.get(table, 0) + done.result()
        self.pending.clear()
        return self.counts

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.con.close()


def export_lake(ledger: LedgerParts, directory: str | Path, chunk: int = columnar.CHUNK) -> LakeReport:
    """Append to the lake at ``directory`` what the log holds past its manifest, read ``chunk``
    positions at a time; write the new snapshots from the last ones and what changed; then commit
    the new position. Safe to rerun and to kill at any point; a run that fails leaves no file."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InvalidInputError(f"`directory` {str(root)!r} is not a directory", field="directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInputError(f"cannot create {str(root)!r}: {error.strerror}", field="directory") from None
    manifest = read_manifest(root)
    after = int(manifest["position"])
    upto = columnar.high_water(ledger)
    _check_manifest(root, after, upto)
    _discard_uncommitted(root, manifest)
    written = manifest.get("format", FORMAT)
    if after and isinstance(written, int) and written < MONEY_FORMAT:
        _widen_money(root, after)
    if after and _reshaped(manifest):
        _add_terms(root, after)
    rows = {table: 0 for table in (*APPENDED, *SNAPSHOTS)}
    if upto <= after and not _stale(ledger, manifest):
        return LakeReport(str(root), after, after, rows)
    # A run with nothing new rewrites the snapshot in a folder of its own (the committed one
    # keeps its name until the manifest names the new one).
    snapshot = f"snapshot-{upto:012d}" + ("" if upto > after else f"-{uuid.uuid4().hex[:12]}")
    con = columnar.connect()
    # Rows within a file carry their position: DuckDB may write them in any order (faster).
    columnar.run(con, "SET preserve_insertion_order = false")
    writer = _Writer(con)
    try:
        rows.update(_append(con, writer, ledger, root, (after, upto), chunk))
        if after:  # the snapshot reads the lake's files: none may be half written
            writer.wait()
        rows.update(_snapshots(con, ledger, root, manifest, (root / snapshot, upto)))
        last = root / manifest["snapshot"] if manifest.get("snapshot") else None
        rows[lake_pnl.TABLE], kept = lake_pnl.write_pnl(
            con, ledger, manifest, (last, root / snapshot), upto, _copy
        )
        rows.update(writer.wait())
    except BaseException:
        writer.close()
        con.close()
        _discard_uncommitted(root, manifest)
        raise
    writer.close()
    con.close()
    committed = {"format": FORMAT, "position": upto, "snapshot": snapshot, DECLARED: declared(), **kept}
    _write_manifest(root, committed)
    for path in root.glob("snapshot-*"):
        if path.name != snapshot:
            shutil.rmtree(path)
    return LakeReport(str(root), after, upto, rows)


def _stale(ledger: LedgerParts, manifest: dict[str, Any]) -> bool:
    """Whether the committed snapshot is out of date with nothing new in the log: its rows are
    of another shape (:func:`_reshaped`), or its P&L rows of a cost-basis rule other than the
    ledger's."""
    if not manifest.get("snapshot"):
        return False
    return _reshaped(manifest) or manifest.get(lake_pnl.RULE_KEY) != ledger.analytics.cost_basis()


_DAY = "strftime(ts_event, '%Y-%m-%d') AS day"


def _append(
    con: duckdb.DuckDBPyConnection,
    writer: _Writer,
    ledger: LedgerParts,
    root: Path,
    span: tuple[int, int],
    chunk: int,
) -> dict[str, int]:
    """Write the events of the run chunk by chunk (each written by ``writer`` while the next is
    parsed, and read while the one before is parsed), keeping the parsed fields of the kinds the
    analytic tables read in ``run_events``; then the fills (``run_fills``, written by ``writer``
    while the snapshot is computed) and the cash flows. Returns the counts written here."""
    after, upto = span
    stem = f"{after + 1:012d}-{upto:012d}"

    def write(start: int, events: pa.Table) -> None:
        _check_places(con, start)
        writer.submit("events", _write_events, events, root / "events", f"events-{stem}")

    columnar.load_events(con, ledger, span, "run_events", write, chunk)
    filled = columnar.of_types("run_events", columnar.FILL_TYPES)
    requests = "(SELECT * FROM run_events WHERE type = 'OrderRequested')"
    if after:  # the requests of the orders this run fills that earlier runs exported
        writer.wait()  # (read from the lake's files: none may be half written)
        earlier = columnar.PER_EVENT_SQL.format(
            events=columnar.of_types(
                f"({lake_events_upto(root, after)})",
                ("OrderRequested",),
                f"client_order_id IN (SELECT client_order_id FROM ({filled}))",
            )
        )
        requests = f"({requests} UNION ALL {earlier})"
    # (not TEMP: the writer's connection reads it too; with its partition's day, so it is
    # written as it is)
    fills = columnar.fills_sql(filled, requests)
    columnar.run(con, f"CREATE TABLE run_fills AS SELECT *, {_DAY} FROM ({fills})")
    writer.submit("fills", _write_table, "run_fills", root / "fills", f"fills-{stem}", ("day", "venue"))
    funding = f"""
        SELECT position, client_order_id AS book, account, venue, instrument, ts_event, kind, flow_id,
               CAST(amount AS {MONEY}) AS amount, currency, tags, {_DAY}
        FROM run_events WHERE type = 'CashFlowRecorded'
    """
    return {"funding": _copy(con, funding, root / "funding", f"funding-{stem}", ("day", "venue"))}


def _write_events(con: duckdb.DuckDBPyConnection, events: pa.Table, target: Path, stem: str) -> int:
    """Write a chunk's events as one file per day and venue (``target/day=D/venue=V/``), each an
    Arrow slice of the chunk that DuckDB types and writes unpartitioned; returns the count.

    The split is done in Arrow because DuckDB's partitioned writer copies every row (payload
    text and all) into per-partition buffers before writing, which costs more than the writing
    itself. The day is the first ten characters of ``ts_event``: the store keeps it as fixed-width
    UTC text (``domain.values.format_timestamp``), so they are the UTC date."""
    # pyarrow is an optional dependency (the analytics extra), as in the rest of the engine
    import pyarrow.compute as pc

    day = pc.utf8_slice_codeunits(events.column("ts_event"), 0, 10)
    keys = pc.dictionary_encode(
        pc.binary_join_element_wise(day, events.column("venue"), "\x00")
    ).combine_chunks()
    written = 0
    for index, key in enumerate(keys.dictionary.to_pylist()):
        path = _path(_folder(target, zip(("day", "venue"), key.split("\x00"), strict=True)), stem)
        with columnar.registered(con, "part", events.filter(pc.equal(keys.indices, index))):
            sql = f"SELECT * EXCLUDE (venue) FROM ({columnar.EVENTS_SQL.format(source='part')})"
            written += int(columnar.run(con, f"COPY ({sql}) TO '{path}' ({_EVENTS_PARQUET})")[0][0])
    return written


def lake_events_upto(root: Path, upto: int) -> str:
    """SQL of the lake's events up to ``upto`` (the files of a run not yet committed included)."""
    return (
        f"SELECT * FROM read_parquet('{_glob(root, 'events')}', hive_partitioning = true)"
        f" WHERE position <= {int(upto)}"
    )


# Net quantity, bought, sold and cash per book from a relation of fills, or from such sums
# (``{fills}`` then names its partial sums: the last snapshot's rows and the run's).
_POSITIONS = """
    SELECT account, venue, instrument,
           sum(quantity * CASE WHEN side = 'sell' THEN -1 ELSE 1 END) AS quantity,
           sum(quantity) FILTER (WHERE side = 'buy') AS bought,
           sum(quantity) FILTER (WHERE side = 'sell') AS sold,
           sum(-notional * CASE WHEN side = 'sell' THEN -1 ELSE 1 END) AS cash,
           count(*) AS legs, max(ts_event) AS last_fill_at
    FROM run_fills GROUP BY account, venue, instrument
"""
_SUMMED = """
    SELECT account, venue, instrument, sum(quantity) AS quantity, sum(bought) AS bought,
           sum(sold) AS sold, sum(cash) AS cash, CAST(sum(legs) AS BIGINT) AS legs,
           max(last_fill_at) AS last_fill_at
    FROM ({parts}) GROUP BY account, venue, instrument
"""


def _read(directory: Path, table: str) -> str:
    return f"SELECT * FROM read_parquet('{_glob(directory, table)}', hive_partitioning = true)"


def _snapshots(
    con: duckdb.DuckDBPyConnection,
    ledger: LedgerParts,
    root: Path,
    manifest: dict[str, Any],
    span: tuple[Path, int],
) -> dict[str, int]:
    """The new snapshot (``span``: its folder and the run's last position): the orders this run
    touched recomputed (their state as the orders view holds it, their history from all their
    events), every other order's row as the last snapshot has it; positions as the last ones
    plus this run's fills. The first run computes them from its own rows alone."""
    target, upto = span
    last = root / manifest["snapshot"] if manifest.get("snapshot") else None
    after = int(manifest["position"])
    lifecycle = columnar.of_types("run_events", columnar.LIFECYCLE)
    fills = "SELECT * EXCLUDE (day) FROM run_fills"
    wanted: list[str] | None = None  # the orders whose state is read from the view (None: all)
    if last is not None:
        touched = f"SELECT client_order_id FROM ({columnar.of_types('run_events', columnar.ORDER_FACTS)})"
        if _reshaped(manifest):  # rows of another shape: every order is recomputed
            everyone = columnar.of_types(f"({lake_events_upto(root, after)})", columnar.ORDER_FACTS)
            touched += f" UNION ALL SELECT client_order_id FROM ({everyone})"
        columnar.run(con, f"CREATE TEMP TABLE touched AS SELECT DISTINCT client_order_id FROM ({touched})")
        theirs = "client_order_id IN (SELECT client_order_id FROM touched)"
        earlier = columnar.of_types(f"({lake_events_upto(root, after)})", columnar.LIFECYCLE, theirs)
        lifecycle = f"{lifecycle} UNION ALL {columnar.PER_EVENT_SQL.format(events=earlier)}"
        if _has_files(root, "fills"):
            fills += f" UNION ALL BY NAME SELECT * EXCLUDE (day) FROM ({_read(root, 'fills')})"
            fills += f" WHERE position <= {after} AND {theirs}"
        wanted = [str(row[0]) for row in columnar.run(con, "SELECT client_order_id FROM touched")]
    columnar.caught_up(ledger, upto)
    con.register("order_rows", columnar.read_order_rows(ledger, wanted))
    state = columnar.state_sql("order_rows")
    orders = columnar.ORDERS_SQL.format(per_event=lifecycle, fills=fills, state=state)
    listed = ", ".join(f'"{row[0]}"' for row in columnar.run(con, f"DESCRIBE {orders}"))
    if last is not None and _has_files(last, "orders"):
        orders += f" UNION ALL BY NAME SELECT * EXCLUDE (day) FROM ({_read(last, 'orders')})"
        orders += " WHERE client_order_id NOT IN (SELECT client_order_id FROM touched)"
    day = "strftime(requested_at, '%Y-%m-%d') AS day"
    counts = {
        "orders": _copy(
            con, f"SELECT {listed}, {day} FROM ({orders})", target / "orders", "orders", ("day", "venue")
        )
    }
    parts = _POSITIONS
    if last is not None and _has_files(last, "positions"):
        parts += f" UNION ALL BY NAME {_read(last, 'positions')}"
    counts["positions"] = _copy(
        con, _SUMMED.format(parts=parts), target / "positions", "positions", ("venue",)
    )
    return counts
