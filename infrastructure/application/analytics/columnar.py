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
declared once here and serve the lake (:mod:`lake`) and execution quality (:mod:`execution`). An
order's state is not among them: it is the orders view's row (:func:`read_order_rows`, typed by
the order's declaration in :func:`state_sql`), folded once by the domain's rules; the SQL adds
only what the order's history says (its times, amendments and fills' fees).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_args

import orjson

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import EVENT_TYPES, OrderEvent
from orderledger.domain.lifecycle import ENDED
from orderledger.domain.order import FOLDED
from orderledger.domain.order_state import (
    DECIMAL,
    DERIVED_DECIMAL,
    FIGURES,
    FLAG,
    FROM_REQUEST,
    INTEGER,
    KEPT,
    NAMED,
    OPTIONAL_DECIMAL,
    OPTIONAL_FLAG,
    SHOWN,
    STATE,
    TERMS_KIND,
    TEXTS,
    Kind,
)
from orderledger.domain.order_state import TIME as TIME_KIND
from orderledger.domain.values import TEXT, Status
from orderledger.infrastructure.audit.columns import COLUMN_TYPES, MONEY, PLACES, PRICE, QUANTITY, TIME
from orderledger.infrastructure.storage.db import parse_url
from orderledger.projections.orders import INTEGER_KINDS, ORDERS_TABLE

if TYPE_CHECKING:  # pragma: no cover - types only
    import duckdb
    import pyarrow as pa

    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

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
"""The event types an order's history is read from besides its fills (when it was requested,
acknowledged and ended, and its amendments)."""
ORDER_FACTS = tuple(kind.__name__ for kind in FOLDED)
"""The event types an order folds: each changes its row (``domain.order.FOLDED``)."""
FILL_TYPES = ("OrderFilled", "FillBusted", "FillCorrected")
PAYLOAD_TYPES = ("OrderRequested", "OrderAmended", *FILL_TYPES, "CashFlowRecorded")
"""The event types whose payloads the relations read: the others are read by their columns
alone (type, order, time), so their JSON is never parsed."""

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
"""The payload fields the relations read besides the request's terms (a field a type's event
does not declare reads as NULL)."""


# What the lake types each declared value as (the orders' state, the fills' order terms).
_KIND_TYPES = {
    INTEGER: "BIGINT",
    FLAG: "BOOLEAN",
    OPTIONAL_FLAG: "BOOLEAN",
    TEXTS: "JSON",
    NAMED: "JSON",
    TERMS_KIND: "JSON",
}
"""The lake's type of a value by its kind in the declaration (besides figures and times)."""
_FIGURE_TYPES = {"quantity": QUANTITY, "price": PRICE}


def lake_type(column: str, view_column: str, kind: Kind) -> str:
    """The lake's type of a declared value: the type ``audit/columns.py`` gives its column's name,
    else its figure's (quantity or price places), else its kind's (times, integers, flags, lists
    and mappings as JSON; the rest text)."""
    if column in COLUMN_TYPES:
        return COLUMN_TYPES[column]
    if view_column in FIGURES:
        return _FIGURE_TYPES[FIGURES[view_column]]
    if kind is TIME_KIND:
        return TIME
    if kind in (DECIMAL, OPTIONAL_DECIMAL, DERIVED_DECIMAL):
        return f"DECIMAL(38,{PLACES})"
    return _KIND_TYPES.get(kind, "VARCHAR")


FILL_OWN = ("client_order_id", "account", "venue", "instrument", "side")
"""The request's terms a fill's row holds as its own (its header, and its side: the order's)."""
FILL_NAMES = {"quantity": "order_quantity", "price": "limit_price"}
"""The request's terms a fill's row names otherwise: its own ``quantity`` and ``price`` are the
leg's."""


def fill_terms(
    requested: Mapping[str, str] = FROM_REQUEST, kinds: Mapping[str, Kind] = STATE
) -> dict[str, tuple[str, Kind]]:
    """The terms of its order's request a fill's row carries, in order, each lake column with the
    request's field it is read from and the value's kind: every field the order's declaration
    takes from its request (``requested``: ``order_state.FROM_REQUEST``, the kinds ``STATE``'s),
    once each, less the fill's own (``FILL_OWN``), named as ``FILL_NAMES`` says."""
    terms: dict[str, tuple[str, Kind]] = {}
    for name, field in requested.items():
        if field not in FILL_OWN:
            terms.setdefault(FILL_NAMES.get(field, field), (field, kinds[name]))
    return terms


def terms_sql(
    source: str, requested: Mapping[str, str] = FROM_REQUEST, kinds: Mapping[str, Kind] = STATE
) -> str:
    """SQL of the order terms of the requests in ``source`` (``PER_EVENT_SQL``'s rows): each
    order's key, each of :func:`fill_terms` in its lake type, and when it was requested."""
    casts = (
        f"CAST({field} AS {lake_type(column, field, kind)}) AS {column}"
        for column, (field, kind) in fill_terms(requested, kinds).items()
    )
    return f"SELECT client_order_id, {', '.join(casts)}, ts_event AS requested_at FROM {source}"


_FIELDS = tuple(dict.fromkeys((*(field for field, _ in fill_terms().values()), *_SHARED)))
"""The payload fields each event's row holds: the terms of a request a fill's row carries
(:func:`fill_terms`), first (a request's paths end with them), then the rest of ``_SHARED``."""
_JSON = frozenset(name for name in _FIELDS if SHOWN.get(name) is NAMED)


def _decimal(annotation: Any) -> bool:
    """Whether a field's declared type is a decimal (``DecimalStr``, optional or in a union)."""
    return annotation is Decimal or any(_decimal(arg) for arg in get_args(annotation))


def amounts(kinds: Iterable[type[OrderEvent]] = (), fields: Iterable[str] = _FIELDS) -> dict[str, int]:
    """The recorded amounts among ``fields`` (default: the payload fields each event's row holds),
    each with the decimal places the lake keeps of it: every field an event class of ``kinds``
    (default: those of ``PAYLOAD_TYPES``, ``domain.events``) declares as a decimal. Its places are
    its lake type's (``columns.COLUMN_TYPES``: money keeps more), or, for the ``previous_`` figure
    a correction restates, the restated field's; any other decimal keeps ``PLACES``."""
    chosen = list(kinds) or [kind for kind in EVENT_TYPES if kind.__name__ in PAYLOAD_TYPES]
    declared = {name for kind in chosen for name, f in kind.model_fields.items() if _decimal(f.annotation)}
    default = f"DECIMAL(38,{PLACES})"

    def places(name: str) -> int:
        typed = COLUMN_TYPES.get(name) or COLUMN_TYPES.get(name.removeprefix("previous_"), default)
        return int(typed.rstrip(")").rpartition(",")[2]) if typed.startswith("DECIMAL(") else PLACES

    return {name: places(name) for name in fields if name in declared}


"""The payload fields that are mappings (tags, aliases): kept as JSON."""
_LACKED = "'$[0]'"
"""The path read where a payload type lacks a field: an array's first item, NULL at once for an
object, where a key the object lacks is looked for through every key it has (the paths a payload
is searched for cost its parse as much as the parse itself)."""


def _paths(event_type: str) -> str:
    """The JSON paths read from a payload of ``event_type``: each of ``_FIELDS`` its event class
    declares, up to the last it does, ``_LACKED`` for the others (so each field is the same item
    of every type's list)."""
    held = next(kind for kind in EVENT_TYPES if kind.__name__ == event_type).model_fields
    last = max(index for index, name in enumerate(_FIELDS) if name in held)
    return "[" + ", ".join(f"'$.{name}'" if name in held else _LACKED for name in _FIELDS[: last + 1]) + "]"


_HEADER = "position, type, client_order_id, account, venue, instrument, ts_event"
# Each event's header with its payload's fields as one list ``f`` (the payload text dropped): what
# :func:`load_events` keeps. A list is stored for less than its items as columns of their own,
# and an item is read (``FIELDS_SQL``) only from the rows and of the fields a question reads.
PARSED_SQL = (
    f"SELECT {_HEADER}, CASE type "
    + " ".join(f"WHEN '{kind}' THEN json_extract_string(payload, {_paths(kind)})" for kind in PAYLOAD_TYPES)
    + " END AS f FROM ({events})"
)
# (a list shorter than _FIELDS reads NULL past its end; an event not of PAYLOAD_TYPES has none)
FIELDS_SQL = (
    f"SELECT {_HEADER}, "
    + ", ".join(
        f"CAST(f[{i + 1}] AS JSON) AS {name}" if name in _JSON else f"f[{i + 1}] AS {name}"
        for i, name in enumerate(_FIELDS)
    )
    + " FROM {parsed}"
)
PER_EVENT_SQL = FIELDS_SQL.replace("{parsed}", f"({PARSED_SQL})")
"""Each event with the payload fields the analytic tables read (absent = NULL), parsed in one
pass over the JSON, and only for ``PAYLOAD_TYPES``."""


# Every fill, bust and correction as signed rows (a bust takes its fill back; a correction takes
# the previous figures back and books the new ones), with its order's terms from the request
# (``{{terms}}``: :func:`terms_sql`).
FILLS_SQL = f"""
WITH e AS ({{per_event}}),
req AS ({{terms}}),
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
SELECT legs.*, legs.quantity * legs.price AS notional, req.* EXCLUDE (client_order_id)
FROM legs LEFT JOIN req USING (client_order_id)
"""


def fills_sql(per_event: str, requests: str) -> str:
    """SQL of the fills of ``per_event`` (``PER_EVENT_SQL``'s rows of ``FILL_TYPES``), each with
    its order's terms read from ``requests`` (its rows of the orders' requests)."""
    return FILLS_SQL.format(per_event=per_event, terms=terms_sql(requests))


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


# The orders' state as the orders view folded it (``order_state``'s declaration, read from the
# view's rows): each declared value as its lake column, typed by what the declaration says it is.
KEPT_IN_LAKE = {"requested_price": "limit_price", "notional": "notional"}
"""What the lake's orders carry of what restoring an order keeps besides what it shows, and the
column each is: the limit as requested (what slippage against the limit is measured from), and
what the fills traded (quantity × price summed)."""


def state_columns(shown: Mapping[str, Kind] = SHOWN) -> dict[str, tuple[str, Kind]]:
    """The lake's order-state columns, in order, each with the orders view's column it is read
    from and the value's kind: every value the order ``shown`` (its declaration's
    ``ShownOrder``), then ``KEPT_IN_LAKE``."""
    columns = {name: (name, kind) for name, kind in shown.items()}
    columns.update({lake: (name, KEPT[name]) for name, lake in KEPT_IN_LAKE.items()})
    return columns


def state_sql(source: str, shown: Mapping[str, Kind] = SHOWN) -> str:
    """SQL of the orders' state from ``source`` (rows as the orders view stores them, as
    :func:`read_order_rows` reads them): each column of :func:`state_columns` in its lake type."""
    casts = (
        f"CAST({view} AS {lake_type(name, view, kind)}) AS {name}"
        for name, (view, kind) in state_columns(shown).items()
    )
    return f"SELECT {', '.join(casts)} FROM {source}"


ENDED_BY = {TEXT[status]: f"Order{status.value.capitalize()}" for status in ENDED}
"""Each status that ends an order unfilled, with the event whose fact ends it there."""
_ENDED_TIMES = ", ".join(
    f"arg_max(ts_event, position) FILTER (WHERE type = '{event}') AS {status}_at"
    for status, event in ENDED_BY.items()
)
"""When each ending fact last happened to an order (by position)."""
_ENDED_AT = " ".join(f"WHEN '{status}' THEN {status}_at" for status in ENDED_BY)
_FINISHED = ", ".join(f"'{TEXT[status]}'" for status in Status if status.is_terminal)

# One row per order: its state as the orders view folded it (``{{state}}``: :func:`state_sql`), and
# what its history says of it: when it was requested, acknowledged, first filled, completed and
# ended, how many amendments it had, and its fills' fees and maker quantity.
ORDERS_SQL = f"""
WITH e AS ({{per_event}}),
f AS ({{fills}}),
state AS ({{state}}),
life AS (
    SELECT client_order_id,
           min(ts_event) FILTER (WHERE type = 'OrderRequested') AS requested_at,
           min(ts_event) FILTER (WHERE type = 'OrderAccepted') AS acknowledged_at,
           count(*) FILTER (WHERE type = 'OrderAmended') AS replaces,
           {_ENDED_TIMES}
    FROM e WHERE client_order_id <> '' GROUP BY client_order_id
),
filled AS (
    SELECT client_order_id,
           sum(fee) FILTER (WHERE fee_currency IS NULL OR quote_currency IS NULL
                            OR fee_currency = quote_currency) AS fees,
           sum(quantity) FILTER (WHERE liquidity = 'maker') AS maker_quantity,
           min(ts_event) FILTER (WHERE kind = 'fill') AS first_fill_at
    FROM f GROUP BY client_order_id
),
running AS (
    SELECT f.client_order_id, f.position, f.ts_event, state.quantity,
           sum(f.quantity) OVER (PARTITION BY f.client_order_id ORDER BY f.position) AS cumulative
    FROM f JOIN state USING (client_order_id) WHERE state.status = '{TEXT[Status.FILLED]}'
),
-- Filled (as its state says) at the fill from which the cumulative quantity stays at the order's
-- quantity: a bust that takes it below again makes a later fill the one that completed it.
done AS (
    SELECT client_order_id, min(ts_event) AS filled_at FROM (
        SELECT *, max(CASE WHEN cumulative < quantity THEN position END)
                      OVER (PARTITION BY client_order_id) AS last_short
        FROM running
    ) WHERE cumulative >= quantity AND position > coalesce(last_short, 0) GROUP BY client_order_id
),
-- Ended (canceled, rejected, expired) as its state says, at the last fact that ends it so: a
-- closure withdrawn since (reinstated) ended nothing.
ended AS (
    SELECT state.*, life.requested_at, life.acknowledged_at, filled.first_fill_at,
           CASE status {_ENDED_AT} END AS ended_at, done.filled_at,
           CASE WHEN status IN ({_FINISHED}) THEN status END AS ended_as,
           filled.fees, coalesce(filled.maker_quantity, 0) AS maker_quantity,
           CAST(status = '{TEXT[Status.REJECTED]}' AS BIGINT) AS rejects,
           CAST(status = '{TEXT[Status.CANCELED]}' AS BIGINT) AS cancels, life.replaces
    FROM state JOIN life USING (client_order_id)
    LEFT JOIN filled USING (client_order_id) LEFT JOIN done USING (client_order_id)
),
per_order AS (
    SELECT * EXCLUDE (filled_at),
           CASE WHEN status = '{TEXT[Status.FILLED]}' THEN filled_at ELSE ended_at END AS completed_at
    FROM ended
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


ANALYSED = (*ORDER_FACTS, "CashFlowRecorded")
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
    parsed = PARSED_SQL.format(events=of_types(CHUNK_VIEW, ANALYSED))
    empty = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in _RAW)
    source = f"(SELECT {empty} WHERE FALSE)"  # no row: the columns only
    run(con, f"CREATE OR REPLACE TEMP VIEW {CHUNK_VIEW} AS {EVENTS_SQL.format(source=source)}")
    run(con, f"CREATE TEMP TABLE {table}_parsed AS {parsed}")  # (empty: the view's columns only)
    run(con, f"CREATE TEMP VIEW {table} AS {FIELDS_SQL.format(parsed=f'{table}_parsed')}")
    for start, events in read_chunks(ledger, after, upto, chunk):
        with registered(con, "raw_events", events):
            run(con, f"CREATE OR REPLACE TEMP VIEW {CHUNK_VIEW} AS {EVENTS_SQL.format(source='raw_events')}")
            run(con, f"INSERT INTO {table}_parsed {parsed}")
            if each is not None:
                each(start, events)


def relations(table: str, state: str) -> dict[str, str]:
    """The SQL of the fills and the orders over a ``table`` that :func:`load_events` filled and
    the orders' rows ``state`` (:func:`read_order_rows`)."""
    requests = f"(SELECT * FROM {table} WHERE type = 'OrderRequested')"
    fills = fills_sql(of_types(table, FILL_TYPES), requests)
    orders = ORDERS_SQL.format(per_event=of_types(table, LIFECYCLE), fills=fills, state=state_sql(state))
    return {"fills": fills, "orders": orders}


def caught_up(ledger: LedgerParts, upto: int) -> None:
    """The views hold every event up to ``upto`` (caught up when they lag, and every book's
    re-fold an ingest left for later done: ``catch_up``), or a one-line error."""
    ledger.upkeep.catch_up()
    if ledger.upkeep.views_position() < upto:
        raise InvalidInputError(
            f"the ledger's views stop at position {ledger.upkeep.views_position()} before the log's {upto}:"
            " run `orderledger project` first",
            field="directory",
        )


def arrow_rows(rows: list[tuple[Any, ...]], names: tuple[str, ...], integers: frozenset[str]) -> pa.Table:
    """Rows read from the store as an Arrow table: the ``integers`` columns as int64, the rest text."""
    pa = _need("pyarrow")
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    types = [pa.int64() if name in integers else pa.string() for name in names]
    return pa.table([pa.array(c, type=t) for c, t in zip(columns, types, strict=True)], names=list(names))


_SQLITE_BATCH = "adbc.sqlite.query.batch_rows"
STORE_BATCH = 1 << 20
"""Rows per Arrow batch the SQLite driver reads a store's table in (its default is 1,024): the
orders view's 100,000 rows in one batch cost a fifth less CPU than in a hundred (the driver
types each batch's columns by their values, and DuckDB then scans one batch, not a hundred)."""


def read_store(
    ledger: LedgerParts, sql: str, table: str, names: tuple[str, ...], integers: frozenset[str]
) -> pa.Table:
    """The rows of ``sql`` (``{table}`` in it names the store's ``table``; its columns ``names``)
    as :func:`arrow_rows` types them: by the ADBC driver when the store can be read on another
    connection (no Python object per row, as the log is read), else on the ledger's own."""
    if not fast_path(ledger):
        with ledger.db.read() as tx:
            return arrow_rows([tuple(row) for row in tx.all(sql.format(table=table))], names, integers)
    parsed = parse_url(ledger.url)
    options: dict[str, str] = {}
    if parsed.dialect == "postgresql":
        dbapi = _need("adbc_driver_postgresql.dbapi")
        qualified, conninfo = f'"{parsed.schema}".{table}', parsed.conninfo
    else:
        dbapi = _need("adbc_driver_sqlite.dbapi")
        qualified, conninfo = table, f"file:{parsed.path}?mode=ro"
        options[_SQLITE_BATCH] = str(STORE_BATCH)
    with contextlib.closing(dbapi.connect(conninfo)) as conn, contextlib.closing(conn.cursor()) as cursor:
        cursor.adbc_statement.set_options(**options)
        cursor.execute(sql.format(table=qualified))
        found: pa.Table = cursor.fetch_arrow_table()
    # typed as ``arrow_rows``'s: the SQLite driver types a column by its values, so none when empty
    return found.cast(arrow_rows([], names, integers).schema)


_ORDER_VIEW = tuple(dict.fromkeys(view for view, _ in state_columns().values()))
"""The orders view's columns the lake's orders read."""
_IN_ONE_READ = 2_000
"""At most this many orders are read from the view by their IDs; more, and the whole view is
read (one scan costs less than a long list of keys)."""


def read_order_rows(ledger: LedgerParts, orders: list[str] | None = None) -> pa.Table:
    """The orders view's rows of ``orders`` (None: every order; more than ``_IN_ONE_READ``: every
    order, for the caller to pick its own from), the columns :func:`state_sql` reads, as the view
    stores them."""
    where = "TRUE"
    if orders is not None and len(orders) <= _IN_ONE_READ:
        quoted = ", ".join("'" + key.replace("'", "''") + "'" for key in orders) or "NULL"
        where = f"client_order_id IN ({quoted})"
    integers = frozenset(view for view, kind in state_columns().values() if kind in INTEGER_KINDS)
    sql = f"SELECT {', '.join(_ORDER_VIEW)} FROM {{table}} WHERE {where}"
    return read_store(ledger, sql, ORDERS_TABLE.name, _ORDER_VIEW, integers)
