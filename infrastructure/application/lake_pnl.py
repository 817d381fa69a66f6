"""The lake's P&L table: one row per standing fill with what it realized under the ledger's
cost-basis rule (docs/analytics.md, "P&L").

The figures are the ledger's own, never derived again in SQL:

- under ``average`` (the default rule) they are the rows of the positions view's
  ``pnl_entries_view``, the entries ``orderledger pnl`` groups;
- under a lot rule (fifo, lifo, hifo) they are the fills of ``reads.rule_books``, the fold
  ``orderledger pnl`` runs under that rule.

A fill's realized P&L can change after it was exported: a late fill (earlier in venue time than
the book's last), a bust or a correction restates its book from that point (positions.py). So
the table is a snapshot, rewritten each run with the others (``snapshot-TO/pnl``). Under
``average`` a run costs what it changed: the entries past the last run's position are read from
the view by position, the books a restatement reached (a bust, a correction, or a fill no later
than the book's last exported one in venue time) are read again whole, and every other row is
carried from the last snapshot. Under a lot rule the whole log's fills are folded each run, as
``orderledger pnl`` does under that rule. Busted fills have no row (they realized nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application import columnar
from orderledger.infrastructure.application.reads import rule_books
from orderledger.infrastructure.audit.columns import COLUMN_TYPES, arrow_type, typed_value
from orderledger.projections.positions import PNL_TABLE

if TYPE_CHECKING:  # pragma: no cover - types only
    import duckdb
    import pyarrow as pa

    from orderledger.infrastructure.application.ledger import OrderLedger

TABLE = "pnl"
RULE_KEY = "pnl_cost_basis"
"""The manifest's record of the rule the snapshot's P&L rows were computed under."""
COLUMNS = (
    "position",
    "account",
    "venue",
    "instrument",
    "ts_event",
    "client_order_id",
    "trade_id",
    "side",
    "quantity",
    "price",
    "realized_pnl",
    "fee",
    "fee_currency",
    "pnl_currency",
    "tags",
    "cost_basis",
)
"""The table's columns (besides the ``day`` partition): the typed ones as ``audit/columns.py``
declares them, ``position`` the fill's log position, ``tags`` JSON."""
_ENTRY = ", ".join(column.name for column in PNL_TABLE.columns)


def _schema() -> pa.Schema:
    pa = columnar._need("pyarrow")
    typed = {name: arrow_type(COLUMN_TYPES[name]) for name in COLUMNS if name in COLUMN_TYPES}
    return pa.schema(
        [(name, typed.get(name, pa.int64() if name == "position" else pa.string())) for name in COLUMNS]
    )


def _row(
    position: int,
    book: tuple[str, str, str],
    fill: tuple[Any, ...],
    money: tuple[Any, Any, str | None, str | None],
    tags: dict[str, str],
    rule: str,
) -> tuple[Any, ...]:
    """One row in ``COLUMNS`` order: the fill (time, order, trade, signed quantity, price) and
    its money (realized, fee, fee currency, P&L currency), each typed by its declaration."""
    ts_event, client_order_id, trade_id, signed_qty, price = fill
    realized, fee, fee_currency, pnl_currency = money
    return (
        position,
        *book,
        typed_value("ts_event", ts_event.isoformat()),
        client_order_id,
        trade_id,
        "sell" if signed_qty < 0 else "buy",
        typed_value("quantity", abs(signed_qty)),
        typed_value("price", price),
        typed_value("realized_pnl", realized),
        typed_value("fee", fee),
        fee_currency,
        pnl_currency,
        orjson.dumps(tags).decode(),
        rule,
    )


def _view_rows(ledger: OrderLedger, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The average-cost entries ``where`` selects, as rows (busted fills left out)."""
    with ledger.db.read() as tx:
        found = tx.all(f"SELECT {_ENTRY} FROM {PNL_TABLE.name} WHERE kind <> 'busted' AND {where}", params)
    rows = []
    for raw in found:
        e = PNL_TABLE.from_row(tuple(raw))
        rows.append(
            _row(
                e.position,
                (e.account, e.venue, e.instrument),
                (e.ts_event, e.client_order_id, e.trade_id, e.signed_qty, e.price),
                (e.realized, e.fee, e.fee_currency, e.pnl_currency),
                e.tags,
                "average",
            )
        )
    return rows


def _rule_rows(ledger: OrderLedger, rule: str, upto: int) -> list[tuple[Any, ...]]:
    """Every standing fill up to ``upto`` with what it realized under the lot ``rule``."""
    return [
        _row(
            f.position,
            key,
            (f.ts_event, f.client_order_id, f.trade_id, f.signed_qty, f.price),
            (f.realized, f.fee, f.fee_currency, f.pnl_currency),
            f.tags,
            rule,
        )
        for key, book in rule_books(ledger, rule, None, False).items()
        for f in book.fills
        if f.position <= upto
    ]


def _caught_up(ledger: OrderLedger, upto: int) -> None:
    """The views hold every event up to ``upto`` (caught up when they lag), or a one-line error."""
    if ledger.views_position() < upto:
        ledger.catch_up()
    if ledger.views_position() < upto:
        raise InvalidInputError(
            f"the ledger's views stop at position {ledger.views_position()} before the log's {upto}:"
            " run `orderledger db catch-up` first",
            field="directory",
        )


def _restated_books(con: duckdb.DuckDBPyConnection, last: str) -> list[tuple[str, str, str]]:
    """The books this run restated, also kept as the temp table ``pnl_restated``: a bust or a
    correction, or a fill no later in venue time than the book's last exported row (``last``:
    the last snapshot's rows)."""
    columnar.run(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE pnl_restated AS
        WITH latest AS (SELECT account, venue, instrument, max(ts_event) AS ts_event FROM ({last})
                        GROUP BY account, venue, instrument)
        SELECT DISTINCT f.account, f.venue, f.instrument FROM run_fills f
        LEFT JOIN latest l USING (account, venue, instrument)
        WHERE f.kind <> 'fill' OR f.ts_event <= l.ts_event
        """,
    )
    found = columnar.run(con, "SELECT account, venue, instrument FROM pnl_restated")
    return [(str(a), str(v), str(i)) for a, v, i in found]


def _average_rows(
    con: duckdb.DuckDBPyConnection, ledger: OrderLedger, after: int, last: Path | None, upto: int
) -> tuple[list[tuple[Any, ...]], str | None]:
    """The rows to write from the view (the entries past ``after``, and every entry of the books
    the run restated) and the SQL of the rows carried from the ``last`` snapshot's table (None:
    nothing to carry, every entry is read)."""
    _caught_up(ledger, upto)
    if last is None or not after:
        return _view_rows(ledger, "position <= ?", [upto]), None
    rows = _view_rows(ledger, "position > ? AND position <= ?", [after, upto])
    previous = f"SELECT * EXCLUDE (day) FROM read_parquet('{_glob(last)}', hive_partitioning = true)"
    books = _restated_books(con, previous)
    if books:
        pairs = " OR ".join("(account = ? AND venue = ? AND instrument = ?)" for _ in books)
        rows += _view_rows(ledger, f"position <= ? AND ({pairs})", [after, *(v for b in books for v in b)])
    return rows, f"SELECT * FROM ({previous}) ANTI JOIN pnl_restated USING (account, venue, instrument)"


def write_pnl(
    con: duckdb.DuckDBPyConnection,
    ledger: OrderLedger,
    manifest: dict[str, Any],
    snapshots: tuple[Path | None, Path],
    upto: int,
    copy: Any,
) -> tuple[int, dict[str, Any]]:
    """Write the P&L snapshot under ``snapshots[1]`` (``copy``: the lake's partitioned writer)
    from the last one (``snapshots[0]``) and the run (``run_fills``); returns the count and what
    the manifest keeps of it."""
    last, target = snapshots
    rule = ledger.cost_basis()
    carried = None
    if rule != "average":
        rows = _rule_rows(ledger, rule, upto)
    else:
        earlier = last / TABLE if last is not None else None
        if manifest.get(RULE_KEY) != rule or earlier is None or not any(earlier.rglob("*.parquet")):
            earlier = None  # no rows under this rule to carry
        rows, carried = _average_rows(con, ledger, int(manifest["position"]), earlier, upto)
    pa = columnar._need("pyarrow")
    schema = _schema()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in COLUMNS]
    table = pa.table([pa.array(c, type=t) for c, t in zip(columns, schema.types, strict=True)], schema=schema)
    with columnar.registered(con, "pnl_run", table):
        sql = "SELECT * REPLACE (CAST(tags AS JSON) AS tags) FROM pnl_run"
        if carried is not None:
            sql += f" UNION ALL BY NAME {carried}"
        day = "strftime(ts_event, '%Y-%m-%d') AS day"
        count = copy(con, f"SELECT *, {day} FROM ({sql})", target / TABLE, TABLE, "day, venue")
    return int(count), {RULE_KEY: rule}


def _glob(directory: Path) -> str:
    return str(directory / "**" / "*.parquet").replace("'", "''")
