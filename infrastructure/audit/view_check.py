"""Every view refolded from the log and compared with its stored rows: ``Folds`` folds each view
in memory during the one walk of the log, ``view_differences`` tells how the stored tables differ.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from orderledger.domain.events import OrderEvent
from orderledger.domain.order import Order
from orderledger.infrastructure.audit.search import CHUNK
from orderledger.infrastructure.storage.db import Database
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import MemoryTable, Projection
from orderledger.projections.orders import ORDERS_TABLE


class Folds:
    """Every view folded in memory in the one pass over the log, each up to the position its
    stored rows stand at; the orders also to the log's end, which the identities are checked
    against."""

    def __init__(self, tracking: Mapping[str, int], last: int) -> None:
        self.runs: list[tuple[Projection, int, dict[str, MemoryTable[Any, Any]]]] = []
        for projection_class in PROJECTIONS:
            projection = projection_class()
            self.runs.append((projection, tracking.get(projection.name, 0), _tables(projection)))
        self.orders_run = next(i for i, run in enumerate(self.runs) if run[0].name == "orders")
        if self.runs[self.orders_run][1] != last:
            projection = PROJECTIONS[self.orders_run]()
            self.runs.append((projection, last, _tables(projection)))
            self.orders_run = len(self.runs) - 1

    def __call__(self, position: int, event: OrderEvent) -> None:
        for projection, upto, tables in self.runs:
            if position <= upto:
                projection.apply(position, event, tables)

    def views(self) -> Iterator[tuple[Projection, dict[str, MemoryTable[Any, Any]]]]:
        """Each view's tables, folded and settled, in the order of ``PROJECTIONS``."""
        for projection, _, tables in self.runs:
            projection.settle(tables)
        for projection, _, tables in self.runs[: len(PROJECTIONS)]:
            yield projection, tables

    def orders(self) -> dict[str, Order]:
        return self.runs[self.orders_run][2][ORDERS_TABLE.name].rows


def _tables(projection: Projection) -> dict[str, MemoryTable[Any, Any]]:
    return {spec.name: MemoryTable() for spec in projection.tables}


def view_differences(
    db: Database, projection: Projection, tables: dict[str, MemoryTable[Any, Any]], limit: int = 20
) -> list[str]:
    """How a view's stored tables differ from ``tables`` (a fold in memory); empty when equal.

    The stored rows are read a chunk at a time, each compared with the folded row of its key as
    it comes, so that neither side is copied whole."""
    found: list[tuple[int, str, str]] = []
    for number, spec in enumerate(projection.tables):
        table: MemoryTable[Any, Any] = tables[spec.name]
        folded = {spec.key_values(k): k for k in table.rows}  # each stored key → the fold's key
        places = [spec.columns.index(c) for c in _key_columns(spec)]
        columns = ", ".join(c.name for c in spec.columns)
        with db.read() as tx:
            cursor = tx.execute(f"SELECT {columns} FROM {spec.name}")
            while rows := cursor.fetchmany(CHUNK):
                for row in rows:
                    stored = tuple(row)
                    key = tuple(stored[i] for i in places)
                    if key not in folded:
                        found.append(
                            (number, str(key), f"view {spec.name}: row {key} is not explained by the log")
                        )
                        continue
                    expected = spec.to_row(table.rows[folded.pop(key)])
                    if stored != expected and _normal(stored) != _normal(expected):
                        found.append(
                            (
                                number,
                                str(key),
                                f"view {spec.name}: row {key} differs from a fresh fold of the log",
                            )
                        )
        found += [(number, str(key), f"view {spec.name}: row {key} is missing") for key in folded]
        if len(found) >= limit:
            break
    found.sort(key=lambda f: f[:2])  # table by table, each in the order of its keys
    return [text for _, _, text in found[:limit]]


def _key_columns(spec: Any) -> list[Any]:
    names = [c.name for c in spec.columns]
    return [spec.columns[names.index(k)] for k in spec.key]


def _normal(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, bool) else v for v in row)
