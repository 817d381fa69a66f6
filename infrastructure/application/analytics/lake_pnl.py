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
carried from the last snapshot. Under a lot rule the whole log's fills are folded by each run
that has fills, as ``orderledger pnl`` does under that rule. Busted fills have no row (they
realized nothing).

The view's rows are read as they stand when the run reads them, which may already include the
effect of events past the run's position (a bust recorded meanwhile restates its book): those
events are in the next run's span, so the next run reads the book again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from orderledger.domain.values import format_decimal
from orderledger.infrastructure.application.analytics import columnar
from orderledger.infrastructure.application.reads.order_figures import rule_books
from orderledger.infrastructure.audit.columns import typed_sql
from orderledger.projections.positions import PNL_TABLE

if TYPE_CHECKING:  # pragma: no cover - types only
    import duckdb
    import pyarrow as pa

    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

TABLE = "pnl"
RULE_KEY = "pnl_cost_basis"
"""The manifest's record of the rule the snapshot's P&L rows were computed under."""
_READ = (
    "position",
    "account",
    "venue",
    "instrument",
    "ts_event",
    "client_order_id",
    "trade_id",
    "signed_qty",
    "price",
    "realized",
    "fee",
    "fee_currency",
    "pnl_currency",
    "tags",
)
"""What a row is read as (the P&L view's column names): the position, then text."""
_WHERE = "kind <> 'busted'"
"""A busted fill realized nothing: it has no row."""


def _typed(rule: str) -> str:
    """The table's rows (besides the ``day`` partition) from the ``pnl_run`` rows read: the
    decimals and times typed as ``audit/columns.py`` declares them, ``tags`` JSON."""
    return f"""
        SELECT CAST(position AS BIGINT) AS position, account, venue, instrument,
               {typed_sql("ts_event", "ts_event")} AS ts_event, client_order_id, trade_id,
               CASE WHEN starts_with(signed_qty, '-') THEN 'sell' ELSE 'buy' END AS side,
               {typed_sql("ltrim(signed_qty, '-')", "quantity")} AS quantity,
               {typed_sql("price", "price")} AS price,
               {typed_sql("realized", "realized_pnl")} AS realized_pnl,
               {typed_sql("fee", "fee")} AS fee, fee_currency, pnl_currency, CAST(tags AS JSON) AS tags,
               '{rule}' AS cost_basis
        FROM pnl_run
    """


def _arrow(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows read as ``_READ`` names them, as an Arrow table."""
    return columnar.arrow_rows(rows, _READ, frozenset({"position"}))


def _view_entries(ledger: LedgerParts, where: str) -> pa.Table:
    """The average-cost entries ``where`` selects (SQL with its values inline), as ``_READ``
    names them (``columnar.read_store``)."""
    sql = f"SELECT {', '.join(_READ)} FROM {{table}} WHERE {_WHERE} AND ({where})"
    return columnar.read_store(ledger, sql, PNL_TABLE.name, _READ, frozenset({"position"}))


def _rule_entries(ledger: LedgerParts, rule: str, upto: int) -> pa.Table:
    """Every standing fill up to ``upto`` with what it realized under the lot ``rule``, as
    ``_view_entries`` gives the view's entries."""
    return _arrow(
        [
            (
                f.position,
                *key,
                f.ts_event.isoformat(),
                f.client_order_id,
                f.trade_id,
                format_decimal(f.signed_qty),
                format_decimal(f.price),
                format_decimal(f.realized),
                None if f.fee is None else format_decimal(f.fee),
                f.fee_currency,
                f.pnl_currency,
                orjson.dumps(f.tags).decode(),
            )
            for key, book in rule_books(ledger, rule, None, False).items()
            for f in book.fills
            if f.position <= upto
        ]
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


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _average_entries(
    con: duckdb.DuckDBPyConnection, ledger: LedgerParts, after: int, last: Path | None, upto: int
) -> tuple[pa.Table, str | None]:
    """The entries to write from the view (those past ``after``, and every entry of the books
    the run restated) and the SQL of the rows carried from the ``last`` snapshot's table (None:
    nothing to carry, every entry is read)."""
    columnar.caught_up(ledger, upto)
    if last is None or not after:
        return _view_entries(ledger, f"position <= {int(upto)}"), None
    previous = _read(last)
    wanted = f"position > {int(after)} AND position <= {int(upto)}"
    books = _restated_books(con, previous)
    if books:
        pairs = " OR ".join(
            f"(account = {_quoted(a)} AND venue = {_quoted(v)} AND instrument = {_quoted(i)})"
            for a, v, i in books
        )
        wanted = f"{wanted} OR (position <= {int(after)} AND ({pairs}))"
    carried = f"SELECT * FROM ({previous}) ANTI JOIN pnl_restated USING (account, venue, instrument)"
    return _view_entries(ledger, wanted), carried


def write_pnl(
    con: duckdb.DuckDBPyConnection,
    ledger: LedgerParts,
    manifest: dict[str, Any],
    snapshots: tuple[Path | None, Path],
    upto: int,
    copy: Any,
) -> tuple[int, dict[str, Any]]:
    """Write the P&L snapshot under ``snapshots[1]`` (``copy``: the lake's partitioned writer)
    from the last one (``snapshots[0]``) and the run (``run_fills``); returns the count and what
    the manifest keeps of it."""
    last, target = snapshots
    rule = ledger.analytics.cost_basis()
    earlier = last / TABLE if last is not None else None
    if manifest.get(RULE_KEY) != rule or earlier is None or not any(earlier.rglob("*.parquet")):
        earlier = None  # no rows under this rule to carry
    carried = None
    if rule == "average":
        entries, carried = _average_entries(con, ledger, int(manifest["position"]), earlier, upto)
    elif earlier is not None and not columnar.run(con, "SELECT count(*) FROM run_fills")[0][0]:
        # No fill, bust or correction in the run: no figure under the rule moved.
        entries = _arrow([])
        carried = _read(earlier)
    else:
        entries = _rule_entries(ledger, rule, upto)
    with columnar.registered(con, "pnl_run", entries):
        sql = _typed(rule)
        if carried is not None:
            sql += f" UNION ALL BY NAME {carried}"
        day = "strftime(ts_event, '%Y-%m-%d') AS day"
        count = copy(con, f"SELECT *, {day} FROM ({sql})", target / TABLE, TABLE, ("day", "venue"))
    return int(count), {RULE_KEY: rule}


def _read(directory: Path) -> str:
    """SQL of the rows of a snapshot's P&L table (without the ``day`` partition column)."""
    files = str(directory / "**" / "*.parquet").replace("'", "''")
    return f"SELECT * EXCLUDE (day) FROM read_parquet('{files}', hive_partitioning = true)"
