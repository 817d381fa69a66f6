"""A row read lazily (``results.rows.lazy_reader``, ``ResultRow.packed_reader``) shows, as JSON, exactly what
the typed row it reads to would show: its stored amounts and times are the ledger's canonical
text, which ``to_json`` takes as it is (``codecs.row_renderer``). Checked for every kind of value
a list's row holds, for any value (hypothesis), and for the rows a simulated session stores."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads import view_queries
from orderledger.infrastructure.application.simulator import simulate
from orderledger.infrastructure.results.filter import Filter
from orderledger.infrastructure.results.log import MessageRecord
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.infrastructure.results.rows import HIDDEN, ResultRow, lazy_reader
from orderledger.infrastructure.results.trades import TradeRow
from orderledger.infrastructure.storage import paging
from orderledger.infrastructure.storage.codecs import row_renderer
from orderledger.projections.orders import SHOWN_DECODERS
from tests.support.typed_values import value_of


@dataclass(frozen=True)
class EveryKind(ResultRow):
    """A row with every kind of value the lists' rows hold."""

    text: str
    number: int
    amount: Decimal
    maybe_amount: Decimal | None
    moment: datetime
    side: Side
    maybe_side: Side | None
    flag: bool
    maybe_flag: bool | None
    names: tuple[str, ...]
    tags: Mapping[str, str]
    fees: Mapping[str, Decimal]
    unseen: str = field(default="", metadata=HIDDEN)


@dataclass(frozen=True)
class Keyed(ResultRow):
    """A row whose field's JSON-ready form is not its stored text (a UUID stays a UUID)."""

    key: UUID


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


JSON_TEXT = orjson.loads
EVERY_KIND_DECODERS = (None,) * 7 + (bool, None, JSON_TEXT, JSON_TEXT, JSON_TEXT)
"""As the views store them: flags as 0/1, lists and mappings as JSON text."""


def stored(value: Any, decoder: Callable[[Any], Any] | None) -> Any:
    """A typed value as the ledger stores it in a view's column (``decoder``: what reads it)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return value if decoder is None else int(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if decoder is not None and isinstance(value, Mapping | tuple):
        return orjson.dumps(
            {k: format_decimal(v) if isinstance(v, Decimal) else v for k, v in value.items()}
            if isinstance(value, Mapping)
            else list(value)
        ).decode()
    return value


def rows_of(cls: type[ResultRow]) -> st.SearchStrategy[ResultRow]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: value_of(hints[f.name]) for f in fields_of(cls) if f.init})


def fields_of(cls: type[ResultRow]) -> tuple[Field[Any], ...]:
    return fields(cls)  # type: ignore[arg-type]  # every row class is a dataclass


def check(row: ResultRow, decoders: tuple[Any, ...]) -> None:
    """Stored, ``row`` reads back lazily and eagerly to rows that show the same JSON."""
    cls = type(row)
    kinds = [*decoders, *[None] * (len(fields_of(cls)) - len(decoders))]
    values = [stored(getattr(row, f.name), d) for f, d in zip(fields_of(cls), kinds, strict=True)]
    lazy = lazy_reader(cls, decoders)([values])[0]
    packed = cls.packed_reader(decoders)([(orjson.dumps(values).decode(),)])[0]
    eager = cls.stored_reader(decoders)([values])[0]
    expected = eager.to_json()
    assert expected == row.to_json()
    # The same data, the same keys in the same order, the same JSON text
    assert row_renderer(cls, tuple(decoders)) is not None
    for shown in (lazy.to_json(), packed.to_json()):
        assert list(shown.items()) == list(expected.items())
        assert orjson.dumps(shown) == orjson.dumps(expected)
    assert "_packed" in vars(lazy) and "_packed" in vars(packed)  # shown without being read
    assert lazy == eager and packed == eager  # and read, the same typed row


def test_every_kind_of_value_has_a_stored_form_shown_as_it_is() -> None:
    assert row_renderer(EveryKind, EVERY_KIND_DECODERS) is not None


@settings(max_examples=300, deadline=None)
@given(row=rows_of(EveryKind))
def test_a_lazy_row_shows_what_its_typed_row_shows(row: EveryKind) -> None:
    check(row, EVERY_KIND_DECODERS)


@settings(max_examples=200, deadline=None)
@given(row=rows_of(OrderRow))
def test_an_order_row_shows_what_its_typed_row_shows(row: OrderRow) -> None:
    check(row, SHOWN_DECODERS)


@settings(max_examples=200, deadline=None)
@given(row=rows_of(TradeRow))
def test_a_trade_row_shows_what_its_typed_row_shows(row: TradeRow) -> None:
    decoders = tuple(
        JSON_TEXT if f.name == "tags" else bool if f.name == "late" else None for f in fields(TradeRow)
    )
    check(row, decoders)


@settings(max_examples=200, deadline=None)
@given(row=rows_of(MessageRecord))
def test_a_message_row_shows_what_its_typed_row_shows(row: MessageRecord) -> None:
    check(row, ())


def test_a_field_without_a_stored_form_shown_as_it_is_reads_the_row_first() -> None:
    key = UUID(int=7)
    assert row_renderer(Keyed) is None
    row = lazy_reader(Keyed)([(str(key),)])[0]
    assert row.to_json() == {"key": key}


@pytest.mark.parametrize("newest", [False, True])
def test_the_lists_of_a_session_show_what_their_typed_rows_show(newest: bool) -> None:
    """Orders, open orders, trades and messages as the ledger stored them: each row's JSON
    before any field is read is its JSON after its fields are read."""
    with OrderLedger("sqlite:///:memory:") as ledger:
        for message in simulate(5, 60):
            ledger.record(message)
        where = Filter(newest=newest)
        lists: list[list[Any]] = [
            list(ledger.iter_orders(where)),
            list(ledger.iter_orders(where, open=True)),
            list(ledger.iter_trades(where)),
            list(ledger.audit.iter_messages(where)),
        ]
    assert all(lists)
    for rows in lists:
        shown = [orjson.dumps(row.to_json()) for row in rows]  # from the stored values
        for row in rows:
            getattr(row, fields(row)[0].name)  # read: the row decodes its fields
        assert [orjson.dumps(row.to_json()) for row in rows] == shown


@pytest.mark.parametrize("sort", ["oldest", "newest", "status", "-quantity", "price", "updated"])
def test_a_whole_list_of_orders_read_by_its_keys_first_is_the_paged_list(
    ledger_url: str, sort: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All orders (no limit) are read by their sort keys first, then each page by its orders'
    IDs (``Keyset.pages_by_key``): the same rows in the same order as the pages read in the
    sort, across several queries of keys and pages (a few rows each here)."""
    monkeypatch.setattr(paging, "KEYS", 7)
    monkeypatch.setattr(view_queries, "PAGE", 3)
    with OrderLedger(ledger_url) as ledger:
        for message in simulate(5, 60):
            ledger.record(message)
        for where in (Filter(sort=sort), Filter(sort=sort, account="alpha")):
            by_key = list(ledger.iter_orders(where))
            paged = list(ledger.orders(where))
            assert len(by_key) > 7 * 2
            assert [orjson.dumps(r.to_json()) for r in by_key] == [orjson.dumps(r.to_json()) for r in paged]


def test_a_key_among_a_keysets_columns_is_read_once() -> None:
    keyset = paging.Keyset("a, b, c", "t", ("", []), ("c", "d", "a"))
    assert keyset.select == "SELECT a, b, c, d FROM t"
    assert keyset.at == (2, 3, 0)
    # Columns that are not all plain names: the keys follow them, every one.
    computed = paging.Keyset("a, f(b, c)", "t", ("", []), ("c",))
    assert (computed.select, computed.at) == ("SELECT a, f(b, c), c FROM t", (-1,))


def test_a_first_page_holding_every_row_is_its_own_count(monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[int | None] = []
    count = paging.Keyset.count

    def counting(self: paging.Keyset, db: Any, cap: int | None = None) -> int:
        counted.append(cap)
        return count(self, db, cap)

    monkeypatch.setattr(paging.Keyset, "count", counting)
    with OrderLedger("memory://") as ledger:
        for message in simulate(5, 20):
            ledger.record(message)
        every = ledger.orders(limit=1000, count=True)
        assert every.total == len(every) > 5 and not counted
        few = ledger.orders(limit=5, count=True)
        assert few.total == len(every) and counted == [None]
        after = ledger.orders(Filter(cursor=few.next_cursor, limit=1000), count=3)
        assert after.total == 3 and after.capped and counted == [None, 3]
