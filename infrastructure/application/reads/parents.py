"""Parents: one row per ``parent_id`` the orders name, read from the orders view, paged as every
list is (``listing``)."""

from __future__ import annotations

from typing import Any

import orjson

from orderledger.infrastructure.listing import Page, ordering, read_page
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.orders import ParentRow
from orderledger.infrastructure.storage import cursors
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.paging import Keyset
from orderledger.projections.orders import ORDERS_TABLE


def _distinct(dialect: str, column: str) -> str:
    """The distinct values of ``column`` in a group, as a JSON array."""
    if dialect == "postgresql":
        return f"CAST(json_agg(DISTINCT {column}) AS TEXT)"
    return f"json_group_array(DISTINCT {column})"


def parent_page(db: Database, where: Filter, *, count: bool | int = False) -> Page[ParentRow]:
    """The parents of the orders ``where`` selects (account, venue, instrument), a page at a
    time in its sort (by parent ID unless it names another)."""
    clauses, params = ["parent_id IS NOT NULL"], []
    for column in ("account", "venue", "instrument"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    grouped = (
        f"(SELECT parent_id, COUNT(*) AS orders, CAST(SUM(is_open) AS BIGINT) AS open_orders,"
        f" {_distinct(db.dialect, 'account')} AS accounts,"
        f" {_distinct(db.dialect, 'instrument')} AS instruments,"
        f" MIN(created_at) AS created_at, MAX(updated_at) AS updated_at"
        f" FROM {ORDERS_TABLE.name} WHERE {' AND '.join(clauses)} GROUP BY parent_id) parents"
    )
    order = ordering("parents", where, db.dialect, seal=cursors.seal(db))
    columns = "parent_id, orders, open_orders, accounts, instruments, created_at, updated_at"
    keyset = Keyset(columns, grouped, ("", params), order.keys, order.descending, order.start)
    return read_page(db, keyset, order, where.limit, _parent_rows, count=count)


def _parent_rows(rows: list[Any]) -> list[ParentRow]:
    return [
        ParentRow.from_json(
            {
                "parent_id": r[0],
                "orders": int(r[1]),
                "open_orders": int(r[2] or 0),
                "accounts": sorted(orjson.loads(r[3])),
                "instruments": sorted(orjson.loads(r[4])),
                "created_at": r[5],
                "updated_at": r[6],
            }
        )
        for r in rows
    ]


__all__ = ["parent_page"]
