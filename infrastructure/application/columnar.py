"""The columnar engine: the ledger's events in Arrow, questions answered by DuckDB (embedded).

Nothing here folds events in Python. The store's ``events`` rows are read into Arrow (through
the ADBC driver of the backend: ``adbc-driver-sqlite`` or ``adbc-driver-postgresql``, no Python
object per row) and registered in DuckDB, which parses the JSON payloads and answers in SQL.

Two paths, one result:

- **fast**: a SQLite file or a PostgreSQL schema whose payloads are plain JSON (no ``CIPHER_KEY``,
  no ``COMPRESSOR_TOPIC``): the driver reads the payload column as text.
- **through the mapper**: an in-memory ledger (no other connection can see it), or payloads that
  are compressed or encrypted: the rows are read on the ledger's own connection and each payload
  decoded by the ledger's mapper (decrypt, decompress, upcast) before DuckDB sees it. Correct for
  every ledger, and about five times slower.

The log is read in chunks of ``CHUNK`` positions (:func:`load_events`), the next one by the
driver in a thread while DuckDB works on this one; only the payloads of ``PAYLOAD_TYPES`` are
parsed (one pass over each JSON text for every field), and what is kept is a table of the
``ANALYSED`` events without their payload text.

The relations every question starts from (``EVENTS_SQL``, ``PER_EVENT_SQL``, ``ORDERS_SQL``) are
declared once here and serve the lake (:mod:`lake`) and execution quality (:mod:`execution`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import EVENT_TYPES
from orderledger.domain.order_state import FLAG, FROM_REQUEST, NAMED, OPTIONAL_DECIMAL, OPTIONAL_FLAG, SHOWN
from orderledger.infrastructure.audit.columns import MONEY, PRICE, QUANTITY
from orderledger.infrastructure.storage.db import parse_url

if TYPE_CHECKING:  # pragma: no cover - types only
    import duckdb
    import pyarrow as pa

    from orderledger.infrastructure.application.parts import LedgerParts

_RAW = (
    ("notification_id", "BIGINT"),
    ("originator_version", "BIGINT"),
    *((name, "VARCHAR") for name in ("event_type", "client_order_id", "account", "venue", "instrument")),
    ("ts_event", "VARCHAR"),
    ("ts_recorded", "VARCHAR"),
    ("message_id", "BIGINT"),
    ("state", "VARCHAR"),
)
"""The columns read from the store's ``events`` table (``state``: the payload as JSON text)."""
_COLUMNS = ", ".join(name for name, _ in _RAW[:-1])


def _need(module: str) -> Any:
    """An optional dependency of the analytics extra, or a one-line error saying how to get it."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise InvalidInputError(
            f"analytics needs {module.split('.')[0]}: pip install 'orderledger[analytics]'", field="analytics"
        ) from None


def connect() -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB session in UTC (timestamps with time zone show as UTC)."""
    duck = _need("duckdb")
    con = duck.connect(":memory:")
    run(con, "SET TimeZone = 'UTC'")
    return con


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    """Run one statement to its end (DuckDB holds a connection until a result is fetched)."""
    rows: list[Any] = con.execute(sql, params or []).fetchall()
    return rows


def fast_path(ledger: LedgerParts) -> bool:
    """True when the store's payloads are plain JSON another connection can read as text."""
    plain = ledger.mapper.cipher is None and ledger.mapper.compressor is None
    upcast = any(cls.class_version > 1 for cls in EVENT_TYPES)
    return plain and not upcast and not parse_url(ledger.url).is_memory


def high_water(ledger: LedgerParts) -> int:
    """The last position in the log (0 when it is empty)."""
    with ledger.db.read() as tx:
        return int(tx.one("SELECT COALESCE(MAX(notification_id), 0) FROM events")[0])


CHUNK = 1_000_000
"""Positions per read of :func:`read_chunks`: what one Arrow table in memory holds (two at most)."""


def read_events(ledger: LedgerParts, after: int = 0, upto: int | None = None) -> pa.Table:
    """The events at positions ``after`` < p ≤ ``upto`` as an Arrow table (``state`` as JSON text)."""
    upto = high_water(ledger) if upto is None else upto
    where = f"notification_id > {int(after)} AND notification_id <= {int(upto)}"
    if fast_path(ledger):
        return _read_adbc(ledger.url, where)
    return _read_mapped(ledger, where)


def read_chunks(
    ledger: LedgerParts, after: int, upto: int, size: int = CHUNK
) -> Iterator[tuple[int, pa.Table]]:
    """The events at positions ``after`` < p ≤ ``upto`` as Arrow tables of at most ``size``
    positions each, with the position each starts after. On the fast path the next table is read
    by the driver in a thread while the caller works on this one (the driver and DuckDB both
    release the GIL, so reading overlaps the work on a second core)."""
    starts = range(int(after), int(upto), size)
    if not fast_path(ledger):
        for start in starts:
            yield start, read_events(ledger, start, min(start + size, upto))
        return
    with ThreadPoolExecutor(1, thread_name_prefix="lake-read") as pool:
        ahead = [pool.submit(read_events, ledger, start, min(start + size, upto)) for start in starts[:1]]
        for index, start in enumerate(starts):
            if index + 1 < len(starts):
                following = starts[index + 1]
                ahead.append(pool.submit(read_events, ledger, following, min(following + size, upto)))
            yield start, ahead.pop(0).result()


def _read_adbc(url: str, where: str) -> pa.Table:
    parsed = parse_url(url)
    if parsed.dialect == "postgresql":
        dbapi = _need("adbc_driver_postgresql.dbapi")
        sql = (
            f"SELECT {_COLUMNS}, convert_from(state, 'UTF8') AS state"
            f' FROM "{parsed.schema}".events WHERE {where} ORDER BY notification_id'
        )
        conninfo = parsed.conninfo
    else:
        dbapi = _need("adbc_driver_sqlite.dbapi")
        sql = (
            f"SELECT {_COLUMNS}, CAST(state AS TEXT) AS state"
            f" FROM events WHERE {where} ORDER BY notification_id"
        )
        conninfo = f"file:{parsed.path}?mode=ro"
    with contextlib.closing(dbapi.connect(conninfo)) as conn, contextlib.closing(conn.cursor()) as cursor:
        cursor.execute(sql)
        table: pa.Table = cursor.fetch_arrow_table()
    return table


def _read_mapped(ledger: LedgerParts, where: str) -> pa.Table:
    pa = _need("pyarrow")
    names = [name for name, _ in _RAW]
    columns: list[list[Any]] = [[] for _ in names]
    sql = f"SELECT {_COLUMNS}, topic, originator_id, state FROM events WHERE {where} ORDER BY notification_id"
    with ledger.db.read() as tx:
        for row in tx.all(sql):
            *head, topic, originator, data = row
            _, state = ledger.mapper.load(topic, bytes(data), originator, int(head[1]))
            for column, value in zip(columns, (*head, orjson.dumps(state).decode()), strict=True):
                column.append(value)
    types = [pa.int64() if kind == "BIGINT" else pa.string() for _, kind in _RAW]
    return pa.table({n: pa.array(c, type=t) for n, c, t in zip(names, columns, types, strict=True)})


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """``table`` visible to ``con`` as ``name`` for the block."""
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


# The log with real types: one row per event, its payload kept as JSON text.
EVENTS_SQL = """
SELECT notification_id AS position, originator_version AS version, event_type AS type,
       client_order_id, account, venue, instrument,
       CAST(ts_event AS TIMESTAMPTZ) AS ts_event, CAST(ts_recorded AS TIMESTAMPTZ) AS ts_recorded,
       message_id, state AS payload
FROM {source}
"""

LIFECYCLE = (
    "OrderRequested",
    "OrderAccepted",
    "OrderCanceled",
    "OrderRejected",
    "OrderExpired",
    "OrderAmended",
)
"""The event types an order's row reads besides its fills."""
FILL_TYPES = ("OrderFilled", "FillBusted", "FillCorrected")
PAYLOAD_TYPES = ("OrderRequested", "OrderAmended", *FILL_TYPES, "CashFlowRecorded")
"""The event types whose payloads the relations read: the others are read by their columns
alone (type, order, time), so their JSON is never parsed."""

TERMS = tuple(name for name in FROM_REQUEST if name in SHOWN and name not in ("client_order_id", "quantity"))
"""The request's terms an order's row carries as requested: the fields the order's declaration
takes from its request (``order_state.FROM_REQUEST``), less its key and its quantity (the row's is
the latest, amendments included)."""
_LAKE_NAMES = {"price": "limit_price"}
"""A term the lake names otherwise: the limit price as requested."""
_LAKE_TYPES = {OPTIONAL_DECIMAL: PRICE, FLAG: "BOOLEAN", OPTIONAL_FLAG: "BOOLEAN", NAMED: "JSON"}
"""The lake's type of a term, by its kind in the declaration (the rest: text as parsed)."""

_HEADER = ("account", "venue", "instrument")
"""Terms every event's header holds: read from its columns, not its payload."""

# Each event with the payload fields the analytic tables read (absent = NULL), parsed once, in
# one pass over the JSON, and only for ``PAYLOAD_TYPES``; the payload text itself is dropped.
_SHARED = (
    "quantity",
    "side",
    "price",
    "parent_id",
    "quote_currency",
    "tags",
    "last_qty",
    "last_px",
    "fee",
    "fee_currency",
    "liquidity",
    "previous_qty",
    "previous_px",
    "previous_fee",
    "previous_fee_currency",
    "trade_id",
    "amount",
    "currency",
    "kind",
    "flow_id",
)
"""The fields of every payload type's rows (a field another type lacks reads as NULL)."""
_REQUEST_ONLY = tuple(name for name in TERMS if name not in (*_HEADER, *_SHARED))
"""The terms only a request holds: looked for in its payload alone (the paths a payload is
searched for cost its parse)."""
_FIELDS = (*_SHARED, *_REQUEST_ONLY)
_PARSED = ", ".join(f"'{name}'" for name in PAYLOAD_TYPES)
_JSON = frozenset(name for name in _FIELDS if SHOWN.get(name) is NAMED)
"""The payload fields that are mappings (tags, aliases): kept as JSON."""


def _paths(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'$.{name}'" for name in names) + "]"


# (a list shorter than _FIELDS reads NULL past its end: another type's row has no request terms)
PER_EVENT_SQL = (
    "SELECT position, type, client_order_id, account, venue, instrument, ts_event, "
    + ", ".join(
        f"CAST(f[{i + 1}] AS JSON) AS {name}" if name in _JSON else f"f[{i + 1}] AS {name}"
        for i, name in enumerate(_FIELDS)
    )
    + " FROM (SELECT *, CASE"
    + f" WHEN type = 'OrderRequested' THEN json_extract_string(payload, {_paths(_FIELDS)})"
    + f" WHEN type IN ({_PARSED}) THEN json_extract_string(payload, {_paths(_SHARED)})"
    + " END AS f FROM ({events}))"
)

# Every fill, bust and correction as signed rows (a bust takes its fill back; a correction takes
# the previous figures back and books the new ones), with its order's context from the request.
FILLS_SQL = f"""
WITH e AS ({{per_event}}),
req AS (
    SELECT client_order_id, side AS order_side, order_type, CAST(price AS {PRICE}) AS limit_price,
           CAST(quantity AS {QUANTITY}) AS order_quantity, CAST(decision_price AS {PRICE}) AS decision_price,
           parent_id, tags, quote_currency, ts_event AS requested_at
    FROM {{requests}}
),
legs AS (
    SELECT position, 'fill' AS kind, client_order_id, account, venue, instrument, ts_event, trade_id, side,
           CAST(last_qty AS {QUANTITY}) AS quantity, CAST(last_px AS {PRICE}) AS price,
           CAST(fee AS {MONEY}) AS fee, fee_currency, liquidity
    FROM e WHERE type = 'OrderFilled'
    UNION ALL
    SELECT position, 'bust', client_order_id, account, venue, instrument, ts_event, trade_id, side,
           -CAST(last_qty AS {QUANTITY}), CAST(last_px AS {PRICE}), -CAST(fee AS {MONEY}), fee_currency, NULL
    FROM e WHERE type = 'FillBusted'
    UNION ALL
    SELECT position, 'correction-undo', client_order_id, account, venue, instrument, ts_event, trade_id, side,
           -CAST(previous_qty AS {QUANTITY}), CAST(previous_px AS {PRICE}), -CAST(previous_fee AS {MONEY}),
           previous_fee_currency, NULL
    FROM e WHERE type = 'FillCorrected'
    UNION ALL
    SELECT position, 'correction', client_order_id, account, venue, instrument, ts_event, trade_id, side,
           CAST(last_qty AS {QUANTITY}), CAST(last_px AS {PRICE}), CAST(fee AS {MONEY}), fee_currency, NULL
    FROM e WHERE type = 'FillCorrected'
)
SELECT legs.*, legs.quantity * legs.price AS notional, req.order_type, req.limit_price, req.order_quantity,
       req.decision_price, req.parent_id, req.tags, req.quote_currency, req.requested_at
FROM legs LEFT JOIN req USING (client_order_id)
"""


def _slippage(reference: str, name: str) -> str:
    """An order's slippage cost, sign × (notional − reference × filled) with sign −1 for a sell,
    and its base, reference × filled; NULL without the reference or a fill."""
    have = f"{reference} > 0 AND filled_quantity > 0"
    sign = "CASE WHEN side = 'sell' THEN -1 ELSE 1 END"
    cost = f"{sign} * (notional - {reference} * filled_quantity)"
    return (
        f"CASE WHEN {have} THEN {cost} END AS {name}_slippage_cost,"
        f" CASE WHEN {have} THEN {reference} * filled_quantity END AS {name}_slippage_base"
    )


def _term(name: str) -> str:
    """A request's term as the lake's orders have it: named and typed by the declaration."""
    value = f"any_value({name})"
    cast = _LAKE_TYPES.get(SHOWN[name])
    return f"{value if cast is None else f'CAST({value} AS {cast})'} AS {_LAKE_NAMES.get(name, name)}"


# One row per order: its terms, its lifecycle times, what it filled and what that cost.
ORDERS_SQL = f"""
WITH e AS ({{per_event}}),
f AS ({{fills}}),
terms AS (
    SELECT client_order_id, {", ".join(_term(name) for name in TERMS)}, min(ts_event) AS requested_at
    FROM e WHERE type = 'OrderRequested' GROUP BY client_order_id
),
life AS (
    SELECT client_order_id,
           min(ts_event) FILTER (WHERE type = 'OrderAccepted') AS acknowledged_at,
           min(ts_event) FILTER (WHERE type IN ('OrderCanceled', 'OrderRejected', 'OrderExpired'))
               AS ended_at,
           arg_max(CAST(quantity AS {QUANTITY}), position)
               FILTER (WHERE type IN ('OrderRequested', 'OrderAmended') AND quantity IS NOT NULL) AS quantity,
           count(*) FILTER (WHERE type = 'OrderRejected') AS rejects,
           count(*) FILTER (WHERE type = 'OrderCanceled') AS cancels,
           count(*) FILTER (WHERE type = 'OrderAmended') AS replaces,
           arg_max(type, position) FILTER (WHERE type IN
               ('OrderCanceled', 'OrderRejected', 'OrderExpired')) AS ended_by
    FROM e WHERE client_order_id <> '' GROUP BY client_order_id
),
filled AS (
    SELECT client_order_id, sum(quantity) AS filled_quantity, sum(notional) AS notional,
           sum(fee) FILTER (WHERE fee_currency IS NULL OR quote_currency IS NULL
                            OR fee_currency = quote_currency) AS fees,
           sum(quantity) FILTER (WHERE liquidity = 'maker') AS maker_quantity,
           min(ts_event) FILTER (WHERE kind = 'fill') AS first_fill_at
    FROM f GROUP BY client_order_id
),
running AS (
    SELECT f.client_order_id, f.position, f.ts_event, life.quantity,
           sum(f.quantity) OVER (PARTITION BY f.client_order_id ORDER BY f.position) AS cumulative
    FROM f JOIN life USING (client_order_id)
),
-- Filled at the fill from which the cumulative quantity stays at the order's quantity: a bust
-- that takes it below again makes a later fill the one that completed the order (or none).
done AS (
    SELECT client_order_id, min(ts_event) AS filled_at FROM (
        SELECT *, max(CASE WHEN cumulative < quantity THEN position END)
                      OVER (PARTITION BY client_order_id) AS last_short
        FROM running
    ) WHERE cumulative >= quantity AND position > coalesce(last_short, 0) GROUP BY client_order_id
),
per_order AS (
    SELECT terms.*, life.quantity, life.acknowledged_at, filled.first_fill_at,
           least(done.filled_at, life.ended_at) AS completed_at,
           CASE WHEN done.filled_at IS NOT NULL AND (life.ended_at IS NULL OR done.filled_at <= life.ended_at)
                THEN 'filled' ELSE lower(replace(life.ended_by, 'Order', '')) END
               AS ended_as,
           coalesce(filled.filled_quantity, 0) AS filled_quantity, filled.notional,
           filled.fees, coalesce(filled.maker_quantity, 0) AS maker_quantity,
           life.rejects, life.cancels, life.replaces
    FROM terms JOIN life USING (client_order_id)
    LEFT JOIN filled USING (client_order_id) LEFT JOIN done USING (client_order_id)
)
-- Each order's own parts of the group figures, computed once here rather than in every report:
-- the seconds from the request, and the slippage cost (positive = cost) and base against each
-- reference (NULL without the reference or a fill).
SELECT *,
       epoch(acknowledged_at) - epoch(requested_at) AS ack_seconds,
       epoch(first_fill_at) - epoch(requested_at) AS first_fill_seconds,
       epoch(completed_at) - epoch(requested_at) AS completion_seconds,
       {_slippage("limit_price", "limit")},
       {_slippage("decision_price", "decision")}
FROM per_order
"""


def of_types(relation: str, types: tuple[str, ...], where: str = "TRUE") -> str:
    """The rows of ``relation`` of the given event types (filtered before any payload is parsed)."""
    listed = ", ".join(f"'{name}'" for name in types)
    return f"SELECT * FROM {relation} WHERE type IN ({listed}) AND {where}"


ANALYSED = (*LIFECYCLE, *FILL_TYPES, "CashFlowRecorded")
"""The event types the analytic relations read (the rest of the log is never parsed)."""
CHUNK_VIEW = "chunk"
"""What :func:`load_events` names each chunk of the log while it parses it (``EVENTS_SQL``'s columns)."""


def load_events(
    con: duckdb.DuckDBPyConnection,
    ledger: LedgerParts,
    span: tuple[int, int],
    table: str,
    each: Callable[[int, pa.Table], None] | None = None,
    chunk: int = CHUNK,
) -> None:
    """Read the log at positions ``span`` (after, upto] into the temp ``table`` of the
    ``ANALYSED`` events with their payload fields parsed (``PER_EVENT_SQL``'s columns), chunk by
    chunk; ``each(start, events)`` runs on every chunk once it is parsed, with the chunk's rows
    as read (the lake writes them out there)."""
    after, upto = span
    parsed = PER_EVENT_SQL.format(events=of_types(CHUNK_VIEW, ANALYSED))
    empty = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in _RAW)
    source = f"(SELECT {empty} WHERE FALSE)"  # no row: the columns only
    run(con, f"CREATE OR REPLACE TEMP VIEW {CHUNK_VIEW} AS {EVENTS_SQL.format(source=source)}")
    run(con, f"CREATE TEMP TABLE {table} AS {parsed}")  # (empty: the view's columns only)
    for start, events in read_chunks(ledger, after, upto, chunk):
        with registered(con, "raw_events", events):
            run(con, f"CREATE OR REPLACE TEMP VIEW {CHUNK_VIEW} AS {EVENTS_SQL.format(source='raw_events')}")
            run(con, f"INSERT INTO {table} {parsed}")
            if each is not None:
                each(start, events)


def relations(table: str) -> dict[str, str]:
    """The SQL of the fills and the orders over a ``table`` that :func:`load_events` filled."""
    requests = f"(SELECT * FROM {table} WHERE type = 'OrderRequested')"
    fills = FILLS_SQL.format(per_event=of_types(table, FILL_TYPES), requests=requests)
    return {"fills": fills, "orders": ORDERS_SQL.format(per_event=of_types(table, LIFECYCLE), fills=fills)}
