"""Execution quality: what execution cost and how well orders worked, per group, in DuckDB.

Per order (``columnar.ORDERS_SQL``): time to acknowledgement, to first fill and to completion;
fill ratio; slippage against the limit and against the price at decision time; fees; maker
quantity; rejects, cancels and replaces. Per group, orders are summed so that every figure is
weighted by what was traded:

- slippage in basis points, positive when it cost: buy (avg fill − ref) / ref × 10,000, sell
  (ref − avg fill) / ref × 10,000; a group's is Σ sign × (notional − ref × filled) /
  Σ ref × filled × 10,000 over its orders that have the reference and a fill;
- fees in basis points of the notional (fees in the order's quote currency, or with no currency);
- fill ratio Σ filled / Σ quantity; maker share Σ maker quantity / Σ filled;
- reject, cancel and replace rates per order; times in seconds, mean and median.

The source is the lake (``lake=DIR``: its Parquet files) or the ledger's store read into Arrow
(``columnar.load_events``, and each order's state as the orders view folded it), never a fold of
events in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.analytics import columnar
from orderledger.infrastructure.application.analytics.lake import lake_orders

if TYPE_CHECKING:  # pragma: no cover - types only
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

GROUPINGS = ("venue", "instrument", "account", "tag:NAME", "parent", "hour", "day")
"""What a report may be grouped by (``--by``, several joined by commas)."""

_GROUP_SQL = {
    "venue": "venue",
    "instrument": "instrument",
    "account": "account",
    "parent": "parent_id",
    "hour": "strftime(date_trunc('hour', requested_at), '%Y-%m-%dT%H:00Z')",
    "day": "strftime(requested_at, '%Y-%m-%d')",
}


def _slippage(name: str) -> str:
    """A group's slippage in bps from its orders' costs and bases (``columnar.ORDERS_SQL``)."""
    return f"CAST(sum({name}_slippage_cost) AS DOUBLE) / CAST(sum({name}_slippage_base) AS DOUBLE) * 10000"


_METRICS = f"""
    count(*) AS orders,
    count(*) FILTER (WHERE filled_quantity > 0) AS filled_orders,
    sum(quantity) AS quantity, sum(filled_quantity) AS filled_quantity, sum(notional) AS notional,
    sum(fees) AS fees,
    CAST(sum(filled_quantity) AS DOUBLE) / CAST(sum(quantity) AS DOUBLE) AS fill_ratio,
    {_slippage("limit")} AS slippage_vs_limit_bps,
    {_slippage("decision")} AS slippage_vs_decision_bps,
    CAST(sum(fees) AS DOUBLE) / CAST(sum(notional) FILTER (WHERE fees IS NOT NULL) AS DOUBLE) * 10000
        AS fee_bps,
    CAST(sum(maker_quantity) AS DOUBLE) / CAST(sum(filled_quantity) AS DOUBLE) AS maker_share,
    sum(rejects) AS rejects, sum(cancels) AS cancels, sum(replaces) AS replaces,
    CAST(sum(rejects) AS DOUBLE) / count(*) AS reject_rate,
    CAST(sum(cancels) AS DOUBLE) / count(*) AS cancel_rate,
    CAST(sum(replaces) AS DOUBLE) / count(*) AS replace_rate,
    avg(ack_seconds) AS ack_seconds_mean,
    median(ack_seconds) AS ack_seconds_median,
    avg(first_fill_seconds) AS first_fill_seconds_mean,
    median(first_fill_seconds) AS first_fill_seconds_median,
    avg(completion_seconds) AS completion_seconds_mean,
    median(completion_seconds) AS completion_seconds_median
"""


@dataclass(frozen=True)
class ExecutionRow:
    """One group's execution quality: exact sums as Decimal, ratios and bps as float (None: no data)."""

    group: dict[str, str | None]
    orders: int
    filled_orders: int
    quantity: Decimal | None
    filled_quantity: Decimal | None
    notional: Decimal | None
    fees: Decimal | None
    fill_ratio: float | None
    slippage_vs_limit_bps: float | None
    slippage_vs_decision_bps: float | None
    fee_bps: float | None
    maker_share: float | None
    rejects: int
    cancels: int
    replaces: int
    reject_rate: float | None
    cancel_rate: float | None
    replace_rate: float | None
    ack_seconds_mean: float | None
    ack_seconds_median: float | None
    first_fill_seconds_mean: float | None
    first_fill_seconds_median: float | None
    completion_seconds_mean: float | None
    completion_seconds_median: float | None

    def to_json(self) -> dict[str, Any]:
        """The row as JSON values: decimals as exact text."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            out[name] = str(value) if isinstance(value, Decimal) else value
        return out


def parse_by(by: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The groupings named by ``by`` (a comma-separated text or a list), checked."""
    if by is None or by == "":
        return []
    names = [part.strip() for part in (by.split(",") if isinstance(by, str) else by)]
    for name in names:
        if (
            name.startswith("tag:")
            and len(name) > 4
            and name[4:].replace("_", "a").replace("-", "a").isalnum()
        ):
            continue
        if name not in _GROUP_SQL:
            raise InvalidInputError(f"`by` must be among {', '.join(GROUPINGS)}, not {name!r}", field="by")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"`by` names a grouping twice: {','.join(names)}", field="by")
    return names


def _group_sql(name: str) -> str:
    if name.startswith("tag:"):
        return f"json_extract_string(tags, '$.\"{name[4:]}\"')"
    return _GROUP_SQL[name]


def _window(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    if since is not None and until is not None and since >= until:
        raise InvalidInputError("`since` must be before `until`", field="since")
    clauses, params = ["TRUE"], []
    if since is not None:
        clauses.append("requested_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("requested_at < ?")
        params.append(until)
    return " AND ".join(clauses), params


def report_sql(orders: str, by: list[str], where: str) -> str:
    """The report over a relation ``orders`` (``columnar.ORDERS_SQL``'s columns)."""
    keys = [f'{_group_sql(name)} AS "{name}"' for name in by]
    select = ", ".join([*keys, _METRICS])
    ordinals = ", ".join(str(i + 1) for i in range(len(by)))
    group = f" GROUP BY {ordinals} ORDER BY {ordinals}" if by else ""
    return f"SELECT {select} FROM ({orders}) WHERE requested_at IS NOT NULL AND {where}{group}"


def execution_quality(
    ledger: LedgerParts,
    *,
    by: str | list[str] | tuple[str, ...] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lake: str | Path | None = None,
) -> list[ExecutionRow]:
    """Execution quality grouped ``by`` (``GROUPINGS``) over orders requested in [since, until),
    from the lake at ``lake`` (as last exported) or straight from the ledger's store."""
    names = parse_by(by)
    where, params = _window(since, until)
    con = columnar.connect()
    try:
        if lake is not None:  # the lake's orders snapshot: already one row per order
            orders = lake_orders(Path(lake))
        else:
            upto = columnar.high_water(ledger)
            columnar.load_events(con, ledger, (0, upto), "log")
            columnar.caught_up(ledger, upto)
            con.register("order_rows", columnar.read_order_rows(ledger))
            orders = columnar.relations("log", "order_rows")["orders"]
        sql = report_sql(orders, names, where)
        result = con.execute(sql, params)
        columns = [d[0] for d in result.description]
        rows = result.fetchall()
    finally:
        con.close()
    out = []
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        group = {name: (None if values[name] is None else str(values.pop(name))) for name in names}
        for name in names:
            values.pop(name, None)
        out.append(ExecutionRow(group=group, **_clean(values)))
    return out


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """DuckDB's decimals normalised (no trailing zeros of the scale); counts as int."""
    for name, value in values.items():
        if isinstance(value, Decimal):
            plain = value.normalize()
            values[name] = plain.quantize(Decimal(1)) if int(plain.as_tuple().exponent) > 0 else plain
        elif name in ("orders", "filled_orders", "rejects", "cancels", "replaces"):
            values[name] = int(value or 0)
    return values
