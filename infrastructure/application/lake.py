"""The Parquet lake: the log and the analytic tables, exported incrementally (docs/analytics.md).

Layout of a lake directory::

    _manifest.json                               the committed high-water mark (log position)
    events/day=YYYY-MM-DD/venue=V/events-FROM-TO-I.parquet     appended: one file per run and partition
    fills/day=…/venue=…/fills-FROM-TO-I.parquet                appended: fills, busts, corrections
    funding/day=…/venue=…/funding-FROM-TO-I.parquet            appended: cash flows (funding, interest, …)
    snapshot-TO/orders/day=…/venue=…/*.parquet                 rewritten: one row per order
    snapshot-TO/positions/*.parquet                            rewritten: net quantity and cash per book

FROM and TO are the first and last log positions the run read. A run reads the log after the
manifest's position, writes its files, and only then replaces the manifest (written beside it,
flushed, renamed over it). A run that dies before the rename leaves files whose FROM is past the
manifest's position: the next run deletes them first and writes the same positions again, so a
row is never in the lake twice and never missing. Readers take the files up to the manifest's
position (:func:`lake_events`, :func:`lake_tables`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application import columnar

if TYPE_CHECKING:  # pragma: no cover - types only
    import duckdb

    from orderledger.infrastructure.application.ledger import OrderLedger

MANIFEST = "_manifest.json"
APPENDED = ("events", "fills", "funding")
"""The tables each run appends to (their rows never change once written)."""
SNAPSHOTS = ("orders", "positions")
"""The tables each run rewrites whole (an order's row changes as its events arrive)."""
_FILE = re.compile(r"^[a-z]+-(\d+)-(\d+)-[0-9a-f-]+\.parquet$")
_AMOUNTS = (
    "quantity",
    "price",
    "decision_price",
    "last_qty",
    "last_px",
    "fee",
    "previous_qty",
    "previous_px",
    "previous_fee",
    "amount",
)
_PLACES = 12  # the scale of columnar.QUANTITY, PRICE and MONEY


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
        return {"format": 1, "position": 0, "snapshot": None}
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"{path} is not a lake manifest: {error}", field="directory") from None
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


def _glob(directory: Path, table: str) -> str:
    return str(directory / table / "**" / "*.parquet").replace("'", "''")


def _has_files(directory: Path, table: str) -> bool:
    return any((directory / table).rglob("*.parquet"))


def lake_events(directory: Path) -> str:
    """SQL of the lake's committed events (the log's typed columns), for DuckDB."""
    manifest = read_manifest(directory)
    if not manifest["position"]:
        raise InvalidInputError(f"{directory} holds no exported events (run export lake first)", field="lake")
    return lake_events_upto(directory, int(manifest["position"]))


def lake_tables(directory: str | Path) -> dict[str, str]:
    """Each table of the lake that holds rows → the Parquet glob to read it from (the appended
    tables' files past the manifest's position, left by a run still under way or killed, are
    for the reader to leave out: ``WHERE position <= manifest position``)."""
    root = Path(directory)
    manifest = read_manifest(root)
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


def _check_places(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a recorded amount with more places than the lake's decimal columns keep."""
    checks = ", ".join(
        f"max(length(rtrim(split_part({name}, '.', 2), '0'))) FILTER (WHERE {name} IS NOT NULL)"
        for name in _AMOUNTS
    )
    found = columnar.run(con, f"SELECT {checks} FROM per_event")[0]
    for name, places in zip(_AMOUNTS, found, strict=True):
        if places is not None and places > _PLACES:
            raise InvalidInputError(
                f"an event's {name} has {places} decimal places; the lake keeps {_PLACES}: not exported",
                field="directory",
            )


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path, stem: str, partition: str) -> int:
    count = int(columnar.run(con, f"SELECT count(*) FROM ({sql})")[0][0])
    if count:
        target.parent.mkdir(parents=True, exist_ok=True)
        columnar.run(
            con,
            f"COPY ({sql}) TO '{str(target).replace(chr(39), chr(39) * 2)}'"
            f" (FORMAT parquet, PARTITION_BY ({partition}), APPEND, FILENAME_PATTERN '{stem}-{{uuid}}')",
        )
    return count


def export_lake(ledger: OrderLedger, directory: str | Path) -> LakeReport:
    """Append to the lake at ``directory`` what the log holds past its manifest; rewrite the
    snapshots; then commit the new position. Safe to rerun and to kill at any point."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InvalidInputError(f"`directory` {str(root)!r} is not a directory", field="directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInputError(f"cannot create {str(root)!r}: {error.strerror}", field="directory") from None
    manifest = read_manifest(root)
    _discard_uncommitted(root, manifest)
    after = int(manifest["position"])
    upto = columnar.high_water(ledger)
    rows = {table: 0 for table in (*APPENDED, *SNAPSHOTS)}
    if upto <= after:
        return LakeReport(str(root), after, after, rows)
    con = columnar.connect()
    try:
        with columnar.registered(con, "raw_events", columnar.read_events(ledger, after, upto)):
            rows.update(_append(con, root, after, upto))
        snapshot = f"snapshot-{upto:012d}"
        rows.update(_snapshots(con, root, root / snapshot))
    finally:
        con.close()
    _write_manifest(root, {"format": 1, "position": upto, "snapshot": snapshot})
    for path in root.glob("snapshot-*"):
        if path.name != snapshot:
            shutil.rmtree(path)
    return LakeReport(str(root), after, upto, rows)


def _append(con: duckdb.DuckDBPyConnection, root: Path, after: int, upto: int) -> dict[str, int]:
    columnar.run(con, f"CREATE TEMP TABLE batch AS {columnar.EVENTS_SQL.format(source='raw_events')}")
    new = columnar.relations("batch")
    columnar.run(con, f"CREATE TEMP VIEW per_event AS {new['per_event']}")
    _check_places(con)
    stem = f"{after + 1:012d}-{upto:012d}"
    counts = {
        "events": _copy(
            con,
            "SELECT *, strftime(ts_event, '%Y-%m-%d') AS day FROM batch",
            root / "events",
            f"events-{stem}",
            "day, venue",
        )
    }
    # Fills need their order's request, which an earlier run may have exported: read them all
    # from the lake's events (this run's included, just written).
    columnar.run(con, f"CREATE TEMP VIEW lake_log AS {lake_events_upto(root, upto)}")
    everything = columnar.relations("lake_log")
    requests = f"(SELECT * FROM ({everything['per_event']}) WHERE type = 'OrderRequested')"
    fills = columnar.FILLS_SQL.format(per_event=new["per_event"], requests=requests)
    counts["fills"] = _copy(
        con,
        f"SELECT *, strftime(ts_event, '%Y-%m-%d') AS day FROM ({fills})",
        root / "fills",
        f"fills-{stem}",
        "day, venue",
    )
    funding = f"""
        SELECT position, client_order_id AS book, account, venue, instrument, ts_event, kind, flow_id,
               CAST(amount AS {columnar.MONEY}) AS amount, currency, tags,
               strftime(ts_event, '%Y-%m-%d') AS day
        FROM per_event WHERE type = 'CashFlowRecorded'
    """
    counts["funding"] = _copy(con, funding, root / "funding", f"funding-{stem}", "day, venue")
    return counts


def lake_events_upto(root: Path, upto: int) -> str:
    """SQL of the lake's events up to ``upto`` (the files of a run not yet committed included)."""
    return (
        f"SELECT * FROM read_parquet('{_glob(root, 'events')}', hive_partitioning = true)"
        f" WHERE position <= {int(upto)}"
    )


def _snapshots(con: duckdb.DuckDBPyConnection, root: Path, target: Path) -> dict[str, int]:
    everything = columnar.relations("lake_log")
    orders = f"SELECT *, strftime(requested_at, '%Y-%m-%d') AS day FROM ({everything['orders']})"
    counts = {"orders": _copy(con, orders, target / "orders", "orders", "day, venue")}
    positions = f"""
        SELECT account, venue, instrument,
               sum(quantity * CASE WHEN side = 'sell' THEN -1 ELSE 1 END) AS quantity,
               sum(quantity) FILTER (WHERE side = 'buy') AS bought,
               sum(quantity) FILTER (WHERE side = 'sell') AS sold,
               sum(-notional * CASE WHEN side = 'sell' THEN -1 ELSE 1 END) AS cash,
               count(*) AS legs, max(ts_event) AS last_fill_at
        FROM read_parquet('{_glob(root, "fills")}', hive_partitioning = true)
        GROUP BY account, venue, instrument
    """
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    if _has_files(root, "fills"):
        count = int(columnar.run(con, f"SELECT count(*) FROM ({positions})")[0][0])
        path = str(target / "positions" / "positions.parquet").replace("'", "''")
        (target / "positions").mkdir(exist_ok=True)
        columnar.run(con, f"COPY ({positions}) TO '{path}' (FORMAT parquet)")
    counts["positions"] = count
    return counts
