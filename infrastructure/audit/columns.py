"""The column types of the ledger's tables outside the database: one declaration, read by the
Parquet export (``export TABLE --format parquet``) and by the lake (``application/analytics/lake.py``,
``columnar.py``), so a column has the same type wherever it is written.

A column is typed by its name, in every table that has it. Types are DuckDB's spelling; Arrow's
follows from it (:func:`arrow_type`).

Decimal scales are chosen per kind so that quantity × price fits DuckDB's 38 digits:
quantities and prices keep ``MAX_PLACES`` (12) places, so their product (scale 24) keeps 14 whole
digits (a notional below 10^14); money (fees, cash flows, P&L), which is summed but never
multiplied, keeps ``MAX_MONEY_PLACES`` (18). The same constants bound the places of every
recorded figure at the door (``messages/fields.py``), so the log holds no figure these columns
cannot keep; a derived one (an average price) is rounded half-even to its column's scale.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from orderledger.domain.values import MAX_MONEY_PLACES, MAX_PLACES

PLACES = MAX_PLACES
"""A quantity's and a price's places."""
MONEY_PLACES = MAX_MONEY_PLACES
"""A fee's, a cash flow's and a P&L figure's places."""
QUANTITY = f"DECIMAL(38,{PLACES})"
PRICE = f"DECIMAL(38,{PLACES})"
MONEY = f"DECIMAL(38,{MONEY_PLACES})"
NOTIONAL = f"DECIMAL(38,{2 * PLACES})"
"""quantity × price exactly (the product of two decimals of PLACES places)."""
TIME = "TIMESTAMPTZ"

_QUANTITIES = ("quantity", "filled_quantity", "leaves_quantity", "last_qty", "previous_qty", "order_quantity")
_PRICES = ("price", "average_price", "open_price", "close_price", "limit_price", "decision_price", "last_px")
_MONEY = ("fee", "cost", "proceeds", "realized_pnl", "amount")  # (a lot's `fees` is a map by currency)
_TIMES = (
    "ts_event",
    "ts_recorded",
    "created_at",
    "updated_at",
    "open_time",
    "close_time",
    "requested_at",
    "acknowledged_at",
    "first_fill_at",
    "completed_at",
)
COLUMN_TYPES: dict[str, str] = {
    **dict.fromkeys(_QUANTITIES, QUANTITY),
    **dict.fromkeys(_PRICES, PRICE),
    **dict.fromkeys(_MONEY, MONEY),
    "notional": NOTIONAL,
    **dict.fromkeys(_TIMES, TIME),
}
"""Each typed column by name (the rest: text, integers and flags as they come)."""
DERIVED = frozenset({"average_price", "realized_pnl"})
"""Columns the ledger computes (rounded half-even to their scale); every other decimal was recorded."""


def arrow_type(sql: str) -> Any:
    """The Arrow type of a declared DuckDB type."""
    # pyarrow is an optional dependency (the parquet and analytics extras)
    import pyarrow as pa

    if sql == TIME:
        return pa.timestamp("us", tz="UTC")
    precision, scale = sql[len("DECIMAL(") : -1].split(",")
    return pa.decimal128(int(precision), int(scale))


def typed_value(column: str, value: Any) -> Any:
    """A row's value (as ``to_json`` writes it) in its column's declared type: Decimal for the
    decimals (refused when it has more places than the column keeps, unless derived), an aware
    datetime for the times; None stays None."""
    if value is None:
        return None
    kind = COLUMN_TYPES[column]
    if kind == TIME:
        return datetime.fromisoformat(str(value))
    number = Decimal(str(value))
    scale = int(kind[kind.index(",") + 1 : -1])
    if -int(number.as_tuple().exponent) > scale and number != number.quantize(Decimal(1).scaleb(-scale)):
        if column not in DERIVED:
            raise ValueError(f"{column} {value} has more than {scale} decimal places")
        return number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_EVEN)
    return number


def typed_sql(text: str, column: str) -> str:
    """DuckDB SQL of the text expression ``text`` in ``column``'s declared type, as
    :func:`typed_value` types it: a derived decimal rounded half-even to its scale, exactly, from
    its digits (a cast would round half away from zero, and a figure of 34 significant digits may
    not fit a wider decimal); any other column cast."""
    kind = COLUMN_TYPES[column]
    if column not in DERIVED:
        return f"CAST({text} AS {kind})"
    scale = int(kind[kind.index(",") + 1 : -1])
    digits = f"split_part({text}, '.', 2)"
    rest = f"substr({digits}, {scale + 1})"
    odd = f"substr(rpad({digits}, {scale}, '0'), {scale}, 1) IN ('1', '3', '5', '7', '9')"
    # Past the scale: more than half (6-9, or 5 then any other digit), or half exactly and the
    # last digit kept odd, rounds one unit in the last place away from zero.
    half = f"left({rest}, 1) = '5' AND (rtrim(substr({rest}, 2), '0') <> '' OR {odd})"
    up = f"(left({rest}, 1) > '5' OR ({half}))"
    kept = f"CAST(regexp_extract({text}, '^-?[0-9]*(\\.[0-9]{{0,{scale}}})?') AS {kind})"
    unit = f"CAST('0.{'0' * (scale - 1)}1' AS {kind})"
    sign = f"CASE WHEN starts_with({text}, '-') THEN -1 ELSE 1 END"
    rounded = f"CAST({kept} + CASE WHEN {up} THEN {sign} * {unit} ELSE 0 END AS {kind})"
    return f"CASE WHEN length({digits}) <= {scale} THEN CAST({text} AS {kind}) ELSE {rounded} END"
