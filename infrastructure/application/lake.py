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
position (:func:`lake_tables`, :func:`lake_orders`).
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
from orderledger.infrastructure.audit.columns import MONEY, PLACES

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


def lake_orders(directory: Path) -> str:
    """SQL of the lake's orders snapshot (one row per order, ``columnar.ORDERS_SQL``'s columns)."""
    tables = lake_tables(directory)
    if "orders" not in tables:
        raise InvalidInputError(f"{directory} holds no exported orders (run export lake first)", field="lake")
    return f"SELECT * FROM read_parquet('{tables['orders']}', hive_partitioning = true)"


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
        if places is not None and places > PLACES:
            raise InvalidInputError(
                f"an event's {name} has {places} decimal places; the lake keeps {PLACES}: not exported",
                field="directory",
            )


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path, stem: str, partition: str) -> int:
    """Write ``sql``'s rows under ``target`` partitioned by ``partition``; returns the count
    (COPY's own, so the query runs once)."""
    target.mkdir(parents=True, exist_ok=True)
    written = columnar.run(
        con,
        f"COPY ({sql}) TO '{str(target).replace(chr(39), chr(39) * 2)}'"
        f" (FORMAT parquet, PARTITION_BY ({partition}), APPEND, FILENAME_PATTERN '{stem}-{{uuid}}')",
    )
    return int(written[0][0]) if written else 0


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
        rows.update(_snapshots(con, root, root / snapshot, upto))
    finally:
        con.close()
    _write_manifest(root, {"format": 1, "position": upto, "snapshot": snapshot})
    for path in root.glob("snapshot-*"):
        if path.name != snapshot:
            shutil.rmtree(path)
    return LakeReport(str(root), after, upto, rows)


def _append(con: duckdb.DuckDBPyConnection, root: Path, after: int, upto: int) -> dict[str, int]:
    columnar.run(con, f"CREATE TEMP TABLE batch AS {columnar.EVENTS_SQL.format(source='raw_events')}")
    # Each payload of the run parsed once: the checks, fills, funding and orders read this table.
    columnar.run(con, f"CREATE TEMP TABLE per_event AS {columnar.relations('batch')['per_event']}")
    _check_places(con)
    stem = f"{after + 1:012d}-{upto:012d}"
    day = "strftime(ts_event, '%Y-%m-%d') AS day"
    counts = {
        "events": _copy(con, f"SELECT *, {day} FROM batch", root / "events", f"events-{stem}", "day, venue")
    }
    # Earlier runs' events (committed files only), parsed where a relation needs them: the
    # requests of the orders this run fills, and every order's lifecycle for the snapshot.
    earlier = lake_events_upto(root, after) if after else "SELECT * FROM batch WHERE FALSE"
    columnar.run(con, f"CREATE TEMP VIEW earlier AS {earlier}")
    filled = columnar.of_types("per_event", columnar.FILL_TYPES)
    earlier_requests = columnar.PER_EVENT_SQL.format(
        events=columnar.of_types(
            "earlier", ("OrderRequested",), f"client_order_id IN (SELECT client_order_id FROM ({filled}))"
        )
    )
    requests = f"(SELECT * FROM per_event WHERE type = 'OrderRequested' UNION ALL {earlier_requests})"
    fills = columnar.FILLS_SQL.format(per_event=filled, requests=requests)
    counts["fills"] = _copy(
        con, f"SELECT *, {day} FROM ({fills})", root / "fills", f"fills-{stem}", "day, venue"
    )
    funding = f"""
        SELECT position, client_order_id AS book, account, venue, instrument, ts_event, kind, flow_id,
               CAST(amount AS {MONEY}) AS amount, currency, tags, {day}
        FROM per_event WHERE type = 'CashFlowRecorded'
    """
    counts["funding"] = _copy(con, funding, root / "funding", f"funding-{stem}", "day, venue")
    lifecycle = columnar.of_types("per_event", columnar.LIFECYCLE)
    if after:
        earlier = columnar.PER_EVENT_SQL.format(events=columnar.of_types("earlier", columnar.LIFECYCLE))
        lifecycle = f"{lifecycle} UNION ALL {earlier}"
    columnar.run(con, f"CREATE TEMP VIEW lifecycle AS {lifecycle}")
    return counts


def lake_events_upto(root: Path, upto: int) -> str:
    """SQL of the lake's events up to ``upto`` (the files of a run not yet committed included)."""
    return (
        f"SELECT * FROM read_parquet('{_glob(root, 'events')}', hive_partitioning = true)"
        f" WHERE position <= {int(upto)}"
    )


def _snapshots(con: duckdb.DuckDBPyConnection, root: Path, target: Path, upto: int) -> dict[str, int]:
    fills = f"SELECT * FROM read_parquet('{_glob(root, 'fills')}', hive_partitioning = true)"
    if not _has_files(root, "fills"):
        fills = "SELECT * FROM per_event WHERE FALSE"  # (no fills yet: an empty relation of its shape)
        fills = columnar.FILLS_SQL.format(per_event=fills, requests="(SELECT * FROM per_event WHERE FALSE)")
    columnar.run(con, f"CREATE TEMP VIEW lake_fills AS {fills}")
    orders = columnar.ORDERS_SQL.format(per_event="SELECT * FROM lifecycle", fills="SELECT * FROM lake_fills")
    day = "strftime(requested_at, '%Y-%m-%d') AS day"
    counts = {
        "orders": _copy(con, f"SELECT *, {day} FROM ({orders})", target / "orders", "orders", "day, venue")
    }
    positions = """
        SELECT account, venue, instrument,
               sum(quantity * CASE WHEN side = 'sell' THEN -1 ELSE 1 END) AS quantity,
               sum(quantity) FILTER (WHERE side = 'buy') AS bought,
               sum(quantity) FILTER (WHERE side = 'sell') AS sold,
               sum(-notional * CASE WHEN side = 'sell' THEN -1 ELSE 1 END) AS cash,
               count(*) AS legs, max(ts_event) AS last_fill_at
        FROM lake_fills GROUP BY account, venue, instrument
    """
    counts["positions"] = _copy(con, positions, target / "positions", "positions", "venue")
    return counts
