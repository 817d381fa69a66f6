"""The lake tests' session and how they read a lake back (DuckDB, every table sorted).

The session (venue times T0 + seconds): X buys 1.5 BTC-USDT limit 100 on V1 and fills 0.5 @
100.10 (fee 0.0100 maker) and 1 @ 100.05 (fee -0.002 taker); Y sells 2 ETH-USDT on V2 and fills 2
@ 10.5, then that fill is busted (FIRST). The next day, Z buys 0.25 BTC-USDT on V1 and fills at 99
(SECOND).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from orderledger.infrastructure.application.analytics.lake import lake_tables
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.integration import fact, fill, request

DAY = 86_400
FIRST: list[dict[str, Any]] = [
    request("X", seconds=0, venue="V1", quantity="1.5", price="100"),
    fact("accepted", "X", seconds=1),
    fill("X", "x1", "0.5", "100.10", seconds=2, fee="0.0100", fee_currency="USDT", liquidity="maker"),
    fill("X", "x2", "1", "100.05", seconds=3, fee="-0.002", fee_currency="USDT", liquidity="taker"),
    request("Y", seconds=4, venue="V2", instrument="ETH-USDT", side="sell", quantity="2", price="10.5"),
    fill("Y", "y1", "2", "10.5", seconds=5),
    fact("fill_busted", "Y", seconds=6, trade_id="y1", reason="erroneous"),
]
SECOND: list[dict[str, Any]] = [
    request("Z", seconds=DAY, venue="V1", quantity="0.25", price="99"),
    fill("Z", "z1", "0.25", "99", seconds=DAY + 1),
]


def record(ledger: OrderLedger, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        assert ledger.record(message).outcome == "applied", message


def contents(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the lake as sorted rows, read by DuckDB."""
    con = duckdb.connect()
    try:
        return {
            table: sorted(
                con.execute(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true)").fetchall(),
                key=repr,
            )
            for table, glob in lake_tables(lake).items()
        }
    finally:
        con.close()


def lake_rows(lake: Path, table: str, columns: str, order: str = "position") -> list[tuple[Any, ...]]:
    """``columns`` of the committed rows of ``table`` in the lake, in ``order``, read by DuckDB."""
    con = duckdb.connect()
    try:
        source = f"read_parquet('{lake_tables(lake)[table]}', hive_partitioning = true)"
        return list(con.execute(f"SELECT {columns} FROM {source} ORDER BY {order}").fetchall())
    finally:
        con.close()
