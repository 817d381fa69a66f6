"""Lists and their pages: the filters every list takes (``FILTERS``, read from their one
declaration, ``results.filter.Filter``), the orders a list can be sorted in, the orders table's
columns, and the cursor that continues a page.

The Python API's keyword arguments (``application.filter_keywords``), the HTTP API's query parameters
(with their OpenAPI descriptions, ``http.list_parameters``) and the CLI's filter options and ``--sort``
values (with their help, ``cli.list_options``) are derived from ``FILTERS`` and ``LISTINGS``: a
filter added to ``Filter`` is checked in Python, an option of the list's command and a
parameter of its endpoint at once.

A page is read by keyset (the sort value and a unique tiebreak column, never OFFSET): a cursor
names the last row a page showed, so rows appended between two pages neither shift nor repeat
what follows. A cursor is opaque to its holder, bound to the list, filter and sort it was
issued for, and sealed with the ledger's own secret (``storage/cursors.py``): a changed,
mangled or forged one, or one issued before the secret was rotated, is refused with a one-line
error naming ``cursor``, and the key a sealed one carries is checked for its shape before any
query reads it.

Beside the layers of ``infrastructure/``, like ``results``: the application, the audit's
searches, the CLI and the HTTP API all read it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Generic, TypeVar

import orjson

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.order_state import (
    FIGURES,
    FLAG,
    LISTED,
    OPTIONAL_FLAG,
    SHOWN,
    SIDE,
    TEXTS,
    TIME,
    Kind,
)
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.storage.db import Database
from orderledger.infrastructure.storage.paging import Keyset

T = TypeVar("T")

DEFAULT_LIMIT = 500
"""Rows a page of the HTTP API holds unless ``limit`` says otherwise."""
MAX_LIMIT = 5_000
"""The most rows one page of the HTTP API holds; a larger ``limit`` is refused."""
COUNT_CAP = 100_000
"""The most rows the HTTP API counts for ``count=true`` (twenty of its largest pages): past it,
``Total-Count`` is this number and ``Total-Count-Capped`` says more rows match, so a count costs
at most the rows of twenty pages whatever the size of the log."""


# ---------------------------------------------------------------------- the filters


@dataclass(frozen=True)
class Criterion:
    """One filter: ``name`` is the :class:`~orderledger.infrastructure.results.filter.Filter` field;
    ``param`` the keyword of the Python API's list methods, the CLI option (``--param``) and the
    HTTP query parameter; ``kind`` the value's type; ``lists`` the lists that take it."""

    name: str
    param: str
    kind: type
    meaning: str
    lists: frozenset[str]

    def describe(self, listing: str) -> str:
        """What it selects in ``listing`` (a time bound says which time it bounds)."""
        if self.kind is datetime:
            return f"{self.meaning} ({LISTINGS[listing].time}, ISO 8601 with Z)"
        return self.meaning


def _kind(hint: Any) -> type:
    """The type a filter's value has when given (``str | None``: ``str``)."""
    return next(a for a in typing.get_args(hint) if a is not type(None))


_FILTER_HINTS = typing.get_type_hints(Filter)

FILTERS: tuple[Criterion, ...] = tuple(
    Criterion(
        f.name,
        f.metadata["param"] or f.name,
        _kind(_FILTER_HINTS[f.name]),
        f.metadata["meaning"],
        f.metadata["lists"],
    )
    for f in dataclasses.fields(Filter)
    if "meaning" in f.metadata
)
"""The filters, as :class:`~orderledger.infrastructure.results.filter.Filter` declares them."""
PAGING: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Filter) if "meaning" not in f.metadata)
"""The fields of ``Filter`` that page and order every list's rows rather than select them."""
FILTERS_BY_NAME = {c.name: c for c in FILTERS}


def filters_of(listing: str) -> tuple[Criterion, ...]:
    """The filters ``listing`` takes, in declaration order."""
    return tuple(c for c in FILTERS if listing in c.lists)


# ---------------------------------------------------------------------- the sort orders


@dataclass(frozen=True)
class SortKey:
    """A column a list sorts by: ``column`` as stored; ``numeric``: a decimal stored as text,
    compared as a number; ``nullable``: NULL sorts first (as the lowest value)."""

    column: str
    numeric: bool = False
    nullable: bool = False

    def expression(self, dialect: str) -> str:
        """The SQL the rows are ordered (and a cursor compared) by."""
        if self.numeric:
            kind = "NUMERIC" if dialect == "postgresql" else "REAL"
            cast = f"CAST({self.column} AS {kind})"
            return f"COALESCE({cast}, -1e300)" if self.nullable else cast
        return f"COALESCE({self.column}, '')" if self.nullable else self.column


@dataclass(frozen=True)
class Listing:
    """A list: the sorts it offers (name → key), the default one (``oldest``; ``newest`` is it
    reversed), the unique column that breaks ties, and what ``since``/``until`` bound."""

    name: str
    sorts: Mapping[str, SortKey]
    default: str
    tiebreak: str
    time: str
    key_columns: tuple[str, ...] = ()
    """Rows sorted in Python: the columns whose values joined make the tiebreak ``key``."""

    @property
    def sort_names(self) -> tuple[str, ...]:
        return ("oldest", "newest", *self.sorts)

    def describe_sort(self) -> str:
        columns = ", ".join(self.sorts)
        return (
            f"oldest (default) or newest first (by {self.default}), or a column, '-' before it for"
            f" descending: {columns}"
        )


_JOURNAL_SORTS = {
    "message_id": SortKey("message_id"),
    "received": SortKey("received_at"),
    "outcome": SortKey("outcome"),
    "format": SortKey("format"),
    "origin": SortKey("origin"),
    "client_order_id": SortKey("client_order_id", nullable=True),
}
"""The message journal's sorts; the parked list takes them but ``outcome`` (every row is parked)."""


LISTINGS: dict[str, Listing] = {
    listing.name: listing
    for listing in (
        Listing(
            "orders",
            {
                "created": SortKey("created_at"),
                "updated": SortKey("updated_at"),
                "client_order_id": SortKey("client_order_id"),
                "instrument": SortKey("instrument"),
                "account": SortKey("account"),
                "venue": SortKey("venue"),
                "status": SortKey("status"),
                "side": SortKey("side"),
                "quantity": SortKey("quantity", numeric=True),
                "price": SortKey("price", numeric=True, nullable=True),
                "filled_quantity": SortKey("filled_quantity", numeric=True),
            },
            "created",
            "client_order_id",
            "creation time",
        ),
        Listing(
            "trades",
            {
                "ts": SortKey("ts_event"),
                "instrument": SortKey("instrument"),
                "account": SortKey("account"),
                "venue": SortKey("venue"),
                "side": SortKey("side"),
                "quantity": SortKey("quantity", numeric=True),
                "price": SortKey("price", numeric=True),
                "fee": SortKey("fee", numeric=True, nullable=True),
                "client_order_id": SortKey("client_order_id"),
            },
            "ts",
            "position",
            "venue time",
        ),
        Listing(
            "events",
            {
                "position": SortKey("notification_id"),
                "recorded": SortKey("ts_recorded"),
                "ts": SortKey("ts_event"),
                "type": SortKey("event_type"),
                "client_order_id": SortKey("client_order_id"),
                "account": SortKey("account"),
                "venue": SortKey("venue"),
                "instrument": SortKey("instrument"),
            },
            "position",
            "notification_id",
            "recorded time, or venue time with `event_time`",
        ),
        Listing(
            "messages",
            _JOURNAL_SORTS,
            "message_id",
            "message_id",
            "time received",
        ),
        Listing(
            "parked",
            {name: key for name, key in _JOURNAL_SORTS.items() if name != "outcome"},  # all parked
            "message_id",
            "message_id",
            "time received",
        ),
        Listing(
            "positions",
            {
                "instrument": SortKey("instrument"),
                "account": SortKey("account"),
                "venue": SortKey("venue"),
                "quantity": SortKey("quantity", numeric=True),
                "realized_pnl": SortKey("realized_pnl", numeric=True),
                "unrealized_pnl": SortKey("unrealized_pnl", numeric=True, nullable=True),
                "notional": SortKey("notional", numeric=True),
            },
            "account",
            "key",
            "",
            ("account", "venue", "instrument"),
        ),
        Listing(
            "instruments",
            {
                "instrument": SortKey("instrument"),
                "venue": SortKey("venue"),
                "version": SortKey("version"),
            },
            "venue",
            "key",
            "",
            ("venue", "instrument", "version"),
        ),
        Listing(
            "parents",
            {
                "parent_id": SortKey("parent_id"),
                "created": SortKey("created_at"),
                "updated": SortKey("updated_at"),
                "orders": SortKey("orders"),
                "open_orders": SortKey("open_orders"),
            },
            "parent_id",
            "parent_id",
            "",
        ),
    )
}


# ---------------------------------------------------------------------- the columns


SHOWN_AS: dict[Kind, str] = {TEXTS: "list", FLAG: "flag", OPTIONAL_FLAG: "flag", TIME: "time", SIDE: "side"}
"""How a column of an order's kind is shown, besides as text (or as a figure: ``FIGURES``)."""


@dataclass(frozen=True)
class ListColumn:
    """A column of a list's table, as the CLI and the page both show it: the row's ``field``,
    its ``heading``, its narrow-terminal rank ``keep``, how it is ``shown`` (``text``, ``flag``:
    yes, no or empty, ``figure``: to the row's ``places`` of ``price`` or ``quantity``,
    ``list``: its items, ``time``, ``side``) and the list's ``sort`` by it (None: the list
    cannot be sorted by it)."""

    field: str
    heading: str
    keep: int
    shown: str
    places: str | None
    sort: str | None


def _sort_by(listing: Listing, column: str) -> str | None:
    """The name of ``listing``'s sort by ``column`` as stored, None when it has none."""
    return next((name for name, key in listing.sorts.items() if key.column == column), None)


ORDER_COLUMNS: tuple[ListColumn, ...] = tuple(
    ListColumn(
        name,
        listed.heading or name,
        listed.keep,
        "figure" if name in FIGURES else SHOWN_AS.get(SHOWN[name], "text"),
        FIGURES.get(name),
        _sort_by(LISTINGS["orders"], name),
    )
    for name, listed in LISTED.items()
)
"""The orders table's columns: ``domain.order_state.ShownOrder``'s ``Listed`` fields, in order,
with the orders list's sorts (``LISTINGS``)."""


@dataclass(frozen=True)
class Sort:
    """A list's order: the key, descending or not, as the text that asked for it."""

    listing: Listing
    name: str
    descending: bool

    @property
    def key(self) -> SortKey:
        return self.listing.sorts[self.name]

    @property
    def text(self) -> str:
        return f"-{self.name}" if self.descending else self.name

    def keys(self, dialect: str) -> tuple[str, ...]:
        """The SQL expressions rows are ordered by: the sort key, then the tiebreak (unless the
        key is the tiebreak itself)."""
        if self.key.column == self.listing.tiebreak:
            return (self.listing.tiebreak,)
        return self.key.expression(dialect), self.listing.tiebreak


def parse_sort(listing: str, text: str | None, *, newest: bool = False) -> Sort:
    """``oldest``, ``newest``, ``COLUMN`` or ``-COLUMN`` for ``listing`` (None or empty: oldest,
    or newest with ``newest``); anything else is refused naming ``sort``."""
    spec = LISTINGS[listing]
    if not text:
        return Sort(spec, spec.default, newest)
    if text in ("oldest", "newest"):
        return Sort(spec, spec.default, text == "newest")
    name = text.removeprefix("-")
    if name not in spec.sorts:
        raise InvalidInputError(
            f"`sort` must be one of {', '.join(spec.sort_names)} ('-' before a column: descending),"
            f" not {text!r}",
            field="sort",
        )
    return Sort(spec, name, text.startswith("-"))


# ---------------------------------------------------------------------- the cursor


def _digest(data: bytes, size: int, seal: bytes) -> bytes:
    return hashlib.blake2b(data, key=seal[:64], digest_size=size).digest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Decimal | float):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    return value


def fingerprint(listing: str, sort: Sort, selection: Mapping[str, Any], seal: bytes) -> str:
    """What a cursor is bound to: the list, its sort and every argument that selects its rows."""
    chosen = {k: _plain(v) for k, v in sorted(selection.items()) if v not in (None, False, (), [])}
    data = orjson.dumps([listing, sort.text, chosen], option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(_digest(data, 9, seal)).decode()


def encode_cursor(bound: str, key: Sequence[Any], seal: bytes) -> str:
    """The cursor after a row whose sort key is ``key``, for the selection ``bound``."""
    payload = orjson.dumps([bound, [_plain(v) for v in key]])
    return base64.urlsafe_b64encode(payload + _digest(payload, 16, seal)).decode().rstrip("=")


_NOT_ISSUED = "`cursor` is not one this ledger issued (pass the next cursor of the page before, unchanged)"


_INTEGER_COLUMNS = frozenset(
    {"notification_id", "position", "message_id", "orders", "open_orders", "version"}
)
"""The sort and tiebreak columns that hold integers (a cursor carries them as JSON numbers)."""


def _key_value(value: Any, key: SortKey, dialect: str) -> Any:
    """A value of a cursor's key as the query compares it with ``key``'s column: of the type a
    cursor of that column carries (an integer, a finite number as text, text; None where the
    column may be NULL), else refused, so no query ever compares a column with a value of
    another type."""
    if value is None and key.nullable:
        return None
    if key.column in _INTEGER_COLUMNS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError("not an integer")
    if not isinstance(value, str):
        raise ValueError("not text")
    if key.numeric:
        try:
            number = Decimal(value)
        except InvalidOperation as error:
            raise ValueError("not a number") from error
        if not number.is_finite():
            raise ValueError("not a finite number")
        return float(number) if dialect == "sqlite" else number
    return value


def decode_cursor(token: str, bound: str, sort: Sort, dialect: str, seal: bytes) -> tuple[Any, ...]:
    """The sort key a cursor continues after; a cursor that is malformed, altered, forged,
    sealed with a secret since rotated, or issued for another list, filter or sort is refused
    naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, check = raw[:-16], raw[-16:]
        if len(raw) <= 16 or not hmac.compare_digest(_digest(payload, 16, seal), check):
            raise ValueError("checksum")
        found, key = orjson.loads(payload)
    except (ValueError, TypeError) as error:
        raise InvalidInputError(_NOT_ISSUED, field="cursor") from error
    if found != bound:
        raise InvalidInputError(
            "`cursor` was issued for another filter or sort: page with the same ones, or start again"
            " without a cursor",
            field="cursor",
        )
    columns = [sort.key]
    if dialect == "python" or sort.key.column != sort.listing.tiebreak:
        columns.append(SortKey(sort.listing.tiebreak))
    try:
        if not isinstance(key, list) or len(key) != len(columns):
            raise ValueError("not a key of this sort")
        return tuple(_key_value(v, c, dialect) for v, c in zip(key, columns, strict=True))
    except ValueError as error:
        raise InvalidInputError(_NOT_ISSUED, field="cursor") from error


# ---------------------------------------------------------------------- reading a page


@dataclass(frozen=True)
class Ordering:
    """How a query reads its rows: the sort, the SQL keys it orders by, the key a cursor starts
    after (None: from the first row), and the selection the cursors it issues are bound to."""

    sort: Sort
    keys: tuple[str, ...]
    start: tuple[Any, ...] | None
    bound: str
    seal: bytes

    @property
    def descending(self) -> bool:
        return self.sort.descending

    def cursor_after(self, key: Sequence[Any]) -> str:
        """The cursor of the page that follows the row whose key is ``key``."""
        return encode_cursor(self.bound, key, self.seal)


def ordering(listing: str, where: Any, dialect: str, *, seal: bytes, **selection: Any) -> Ordering:
    """The ordering of a read of ``listing`` under ``where`` (a ``Filter``: its criteria, sort,
    newest and cursor), ``selection`` holding the list's own arguments (``open``, ``types`` …);
    ``dialect``: the database's, or ``python`` for rows sorted in Python (:func:`sorted_page`);
    ``seal``: the ledger's cursor secret (``storage.cursors.seal``)."""
    sort = parse_sort(listing, where.sort, newest=where.newest)
    chosen = {c.name: getattr(where, c.name) for c in FILTERS} | selection
    bound = fingerprint(listing, sort, chosen, seal)
    start = None if where.cursor is None else decode_cursor(where.cursor, bound, sort, dialect, seal)
    return Ordering(sort, sort.keys(dialect), start, bound, seal)


def read_page(
    db: Database,
    keyset: Keyset,
    order: Ordering,
    limit: int | None,
    convert: Callable[[list[Any]], list[T]],
    *,
    count: bool | int = False,
) -> Page[T]:
    """One page of ``keyset`` (read in ``order``): ``limit`` rows (None: all), converted, with
    the cursor of the next page, and (``count``) how many rows the filter selects in all: every
    one (True), or up to a number (see :class:`Page`)."""
    rows, after = keyset.page(db, limit, convert)
    following = None if after is None else order.cursor_after(after)
    if not count:
        return Page(rows, following)
    cap = None if count is True else int(count)
    # A first page that holds the last row holds every row the filter selects: they are counted.
    found = len(rows) if keyset.start is None and after is None else keyset.count(db, cap)
    return Page.counted(rows, following, found, cap)


def row_value(row: Any, column: str) -> Any:
    """A typed row's value of a sort column as the views store it (text for times and enums,
    a Decimal for an amount)."""
    value = getattr(row, column)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def _comparable(value: Any) -> tuple[bool, Any]:
    """A value as Python compares it in a sort: NULL (None) lowest."""
    return (value is not None, "" if value is None else value)


def sorted_page(
    rows: Iterable[T],
    order: Ordering,
    value_of: Callable[[T, str], Any],
    limit: int | None,
    *,
    count: bool | int = False,
) -> Page[T]:
    """A page of rows computed in Python (positions, instruments, an as-of fold): sorted and
    continued exactly as the SQL lists are. ``value_of(row, column)`` is a row's value of a sort
    column or of the tiebreak; decimals compare as numbers."""
    column, listing = order.sort.key.column, order.sort.listing

    def unique(row: T) -> Any:
        if listing.key_columns:
            values = (value_of(row, c) for c in listing.key_columns)
            return "\x1f".join(f"{v:020}" if isinstance(v, int) else str(v) for v in values)
        return value_of(row, listing.tiebreak)

    def key(row: T) -> tuple[Any, Any]:
        return value_of(row, column), unique(row)

    def rank(pair: Sequence[Any]) -> tuple[tuple[bool, Any], Any]:
        return _comparable(pair[0]), pair[1]

    ranked = sorted(((rank(key(r)), r) for r in rows), key=lambda item: item[0], reverse=order.descending)
    total = len(ranked) if count else None  # the rows are at hand: counting them costs nothing
    if order.start is not None:
        start = rank(order.start)
        try:
            ranked = [(k, r) for k, r in ranked if (k < start if order.descending else k > start)]
        except TypeError as error:  # a key of another column's type: not a cursor of this list
            raise InvalidInputError(_NOT_ISSUED, field="cursor") from error
    kept = ranked if limit is None else ranked[:limit]
    more = limit is not None and len(ranked) > limit
    following = order.cursor_after(key(kept[-1][1])) if more else None
    return Page([r for _, r in kept], following, total)


# ---------------------------------------------------------------------- a page


class Page(list[T], Generic[T]):
    """The rows of one page (a list, so every call that answered a list still does), with
    ``next_cursor``: the cursor of the page after (None on the last), and ``total``: the rows the
    filter selects in all (only when asked for with ``count``). Counted up to a number N
    (``count=N``), ``total`` is at most N and ``capped`` says whether more rows match."""

    next_cursor: str | None
    total: int | None
    capped: bool

    def __init__(
        self,
        rows: Iterable[T] = (),
        next_cursor: str | None = None,
        total: int | None = None,
        capped: bool = False,
    ):
        super().__init__(rows)
        self.next_cursor = next_cursor
        self.total = total
        self.capped = capped

    @classmethod
    def counted(cls, rows: Iterable[T], next_cursor: str | None, found: int, cap: int | None) -> Page[T]:
        """A page whose count found ``found`` rows, counting up to ``cap`` (None: all)."""
        if cap is not None and found > cap:
            return cls(rows, next_cursor, cap, True)
        return cls(rows, next_cursor, found)

    def with_rows(self, rows: Iterable[Any]) -> Page[Any]:
        """These rows with this page's cursor and count (the page's rows as another form)."""
        return Page(rows, self.next_cursor, self.total, self.capped)


__all__ = [
    "COUNT_CAP",
    "DEFAULT_LIMIT",
    "FILTERS",
    "LISTINGS",
    "MAX_LIMIT",
    "Criterion",
    "Listing",
    "Ordering",
    "Page",
    "Sort",
    "SortKey",
    "decode_cursor",
    "encode_cursor",
    "filters_of",
    "fingerprint",
    "ordering",
    "parse_sort",
    "read_page",
    "sorted_page",
]
