"""The SQL shape of a view table: one definition (``TableSpec``), the same DDL for the live
tables and for those a rebuild fills."""

from __future__ import annotations

import uuid
from typing import Any

from orderledger.projections.base import Index, TableSpec


def _sql_type(kind: str, dialect: str) -> str:
    if kind == "INTEGER":
        return "BIGINT" if dialect == "postgresql" else "INTEGER"
    return "TEXT"


def create_table_sql(spec: TableSpec[Any, Any], name: str, dialect: str) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements for a view table named ``name``."""
    columns = ", ".join(f"{c.name} {_sql_type(c.type, dialect)}" for c in spec.columns)
    statements = [f"CREATE TABLE IF NOT EXISTS {name} ({columns}, PRIMARY KEY ({', '.join(spec.key)}))"]
    tag = uuid.uuid4().hex[:8]
    for i, index in enumerate(spec.indexes):
        found = index if isinstance(index, Index) else Index(index)
        where = "" if found.where is None else f" WHERE {found.where}"
        indexed = (*found.columns, *found.include) if dialect == "sqlite" else found.columns
        statements.append(
            f"CREATE INDEX IF NOT EXISTS ix_{name}_{i}_{tag} ON {name} ({', '.join(indexed)}){where}"
        )
    return statements
