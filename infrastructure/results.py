"""What the ledger's queries answer: one frozen dataclass per kind of row, and one filter.

Every value is typed (``Decimal`` amounts, timezone-aware ``datetime`` times, the domain's
enums); ``to_json()`` gives the JSON-ready form that ``orderledger … --json`` prints and the HTTP
API sends (the one renderer of each row kind: amounts and times as exact strings, enums by
value). A row's fields are declared in the order its JSON keys appear.

Beside the layers of ``infrastructure/``, like ``errors``: the application answers with these
rows, and so do the audit's searches below it.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from annotated_types import Ge

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import OrderEvent, stored_when_given
from orderledger.domain.exposure import ExposureFigures
from orderledger.domain.instrument import Definition
from orderledger.domain.order_state import ShownOrder
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import (
    AVERAGE,
    WIDE,
    Liquidity,
    Side,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)
from orderledger.infrastructure.storage.codecs import row_filler, row_reader
from orderledger.projections.book import Position
from orderledger.projections.fees import FeeValuation, FeeValue, net_of_fees
from orderledger.projections.lots import ClosedLot, OpenLot, share

Row = TypeVar("Row", bound="_Row")
HIDDEN: dict[str, bool] = {"json": False}
"""Field metadata: kept on the typed row, left out of its JSON (e.g. the decoded event)."""


_AS_IS = frozenset({str, int, float, bool, type(None)})
"""The types whose values are JSON-ready as they are (exactly these: an enum deriving from
``str`` is shown by its value, below)."""


def plain(value: Any) -> Any:
    """A typed value as JSON-ready data: Decimals and times as exact text, enums by value."""
    kind = type(value)
    if kind in _AS_IS:  # the common cases first, by exact type: a list of rows converts each value
        return value
    if kind is Decimal:
        return format_decimal(value)
    if kind is datetime:
        return format_timestamp(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, _Row):
        return value.to_json()
    if kind is dict or isinstance(value, Mapping):  # (a dict spares the abstract class's check)
        # A value ready as it is is not passed down: one call less each.
        return {k: v if type(v) in _AS_IS else plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _AS_IS else plain(v) for v in value]
    return value


def _reader(hint: Any) -> Callable[[Any], Any]:
    """How to read one JSON-ready value back into the field's type."""
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _reader(next(a for a in args if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return parse_timestamp
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if origin is tuple:
        return tuple
    if origin in (Mapping, dict) and args and args[1] is Decimal:
        return lambda v: {k: Decimal(x) for k, x in v.items()}
    if origin in (Mapping, dict) and args and isinstance(args[1], type) and issubclass(args[1], _Row):
        row = args[1]
        return lambda v: {k: row.from_json(x) for k, x in v.items()}
    if origin in (Mapping, dict):
        return dict
    return lambda v: v


_SHOWN_NAMES: dict[type, tuple[str, ...]] = {}


def _shown_names(cls: type) -> tuple[str, ...]:
    """The names of a row class's fields that its JSON shows, in field order (found once a class)."""
    names = _SHOWN_NAMES.get(cls)
    if names is None:
        names = _SHOWN_NAMES[cls] = tuple(f.name for f in fields(cls) if f.metadata.get("json", True))
    return names


_PACKED = "_packed"
"""Key, in a row's ``__dict__``, of its values still packed (``_Row.packed_reader``)."""


class _Row:
    """Shared behaviour of the row dataclasses (each declares its own fields).

    A row made by ``packed_reader`` holds its stored values as one JSON text until a field is
    first read: that read decodes every field at once (one field at a time cost a row's full
    reading 2.6 times as much), and the row is then like any other. Equality, ``repr``,
    ``to_json``, pickling and copies read its fields.
    """

    if not typing.TYPE_CHECKING:  # at run time only: mypy keeps checking attribute names

        def __getattr__(self, name: str) -> Any:
            # Only reached when ``name`` is not in the row's __dict__: a packed row's fields.
            state = self.__dict__
            packed = state.get(_PACKED)
            if packed is None or name.startswith("__"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            fill, text = packed
            fill(self, orjson.loads(text))  # one update: a thread reading meanwhile sees no field or all
            state.pop(_PACKED, None)
            return object.__getattribute__(self, name)

    def __getstate__(self) -> dict[str, Any]:
        """The row's fields (a packed row's decoded first), for pickling and copies."""
        if _PACKED in self.__dict__:
            getattr(self, fields(self)[0].name)  # type: ignore[arg-type]
        return self.__dict__

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, keys in field order (fields marked ``HIDDEN`` left out)."""
        return {
            name: value if type(value := getattr(self, name)) in _AS_IS else plain(value)
            for name in _shown_names(type(self))
        }

    @classmethod
    def from_json(cls: type[Row], data: Mapping[str, Any]) -> Row:
        """The typed row of JSON-ready data (as ``to_json`` writes it)."""
        readers = _readers(cls)  # type: ignore[arg-type]
        return cls(**{name: read(data[name]) for name, read in readers.items()})

    @classmethod
    def from_stored(cls: type[Row], values: Sequence[Any]) -> Row:
        """The typed row of values as the ledger stored them, in field order: amounts and times
        are the ledger's own canonical text, so they are only converted, not checked again."""
        return cls.stored_reader()((values,))[0]

    @classmethod
    def stored_reader(
        cls: type[Row], decoders: Sequence[Callable[[Any], Any] | None] = ()
    ) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
        """What turns stored rows into typed rows, a page at a time (a listing of many rows, such
        as every open order after a restart, pays little per row).

        A stored row holds the fields' values in field order (more columns after them are left
        alone). ``decoders``: per column, what reads the stored form first (None: nothing), e.g.
        JSON text into a list, which the field's type then takes. A NULL stays None. Made once
        per class and decoders: one function whose body converts each column by its own calls,
        not by a loop over per-field converters.
        """
        return row_reader(cls, tuple(decoders))

    @classmethod
    def packed_reader(
        cls: type[Row], decoders: Sequence[Callable[[Any], Any] | None] = ()
    ) -> Callable[[Iterable[Sequence[Any]]], list[Row]]:
        """What turns stored rows whose first column is a row's stored values packed as one JSON
        array into typed rows, each decoded on the first read of a field (as ``stored_reader``
        with ``decoders`` would read the values). A listing of many rows, such as every open
        order after a restart, then costs a fraction of a microsecond per row until it is read."""
        fill = row_filler(cls, tuple(decoders))

        def packed(rows: Iterable[Sequence[Any]]) -> list[Row]:
            out: list[Row] = []
            append = out.append
            for r in rows:
                row = _new(cls)
                row.__dict__[_PACKED] = (fill, r[0])
                append(row)
            return out

        return packed


_new = object.__new__


@functools.cache
def _readers(cls: type[_Row]) -> dict[str, Callable[[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return {f.name: _reader(hints[f.name]) for f in fields(cls) if f.init and f.metadata.get("json", True)}  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the one filter


def criterion(meaning: str, *lists: str, param: str | None = None) -> dict[str, Any]:
    """The metadata of a field of :class:`Filter` that selects rows: what it selects
    (``meaning``), the lists that take it, and its keyword, option and query parameter
    (``param``; default: its name)."""
    return {"meaning": meaning, "lists": frozenset(lists), "param": param}


@dataclass(frozen=True)
class Filter:
    """Which rows a query selects; every field is optional.

    ``since``/``until`` are inclusive (creation time for orders, venue time for trades, recorded
    or venue time for events, arrival time for messages); ``newest`` reverses the order; ``limit``
    keeps the first so many. An empty range is refused, so a typo never looks like "no rows".
    ``sort``: ``oldest``, ``newest``, a column or ``-column`` (``listing.LISTINGS`` says which
    each list offers); ``cursor``: continue after the page that issued it.

    This is the one declaration of the filters: each selecting field says what it selects and
    which lists take it (:func:`criterion`); the others page and order the rows of every list.
    ``listing.FILTERS``, the list methods' keywords (``application.filtered``), the CLI's
    options and the HTTP query parameters are derived from it, so a filter added here is taken
    by each shell at once.
    """

    account: str | None = field(
        default=None,
        metadata=criterion("only this account", "orders", "trades", "events", "positions", "parents"),
    )
    venue: str | None = field(
        default=None,
        metadata=criterion(
            "only this venue", "orders", "trades", "events", "positions", "instruments", "parents"
        ),
    )
    instrument: str | None = field(
        default=None,
        metadata=criterion(
            "only this instrument", "orders", "trades", "events", "positions", "instruments", "parents"
        ),
    )
    client_order_id: str | None = field(
        default=None,
        metadata=criterion(
            "only those of this order (client order ID, venue order ID or NAME=VALUE alias)",
            "trades",
            "events",
            param="order",
        ),
    )
    parent: str | None = field(
        default=None,
        metadata=criterion(
            "only the children of this parent (their parent_id), or their trades", "orders", "trades"
        ),
    )
    since: datetime | None = field(
        default=None,
        metadata=criterion("at or after this time", "orders", "trades", "events", "messages", "parked"),
    )
    until: datetime | None = field(
        default=None,
        metadata=criterion("at or before this time", "orders", "trades", "events", "messages", "parked"),
    )
    newest: bool = False
    limit: Annotated[int, Ge(1)] | None = None
    sort: str | None = None
    cursor: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:  # timezone-aware, in UTC (a naive time is refused)
                object.__setattr__(self, name, parse_timestamp(value, name))
        if self.since is not None and self.until is not None and self.since > self.until:
            raise InvalidInputError(
                f"since {format_timestamp(self.since)} is after until {format_timestamp(self.until)}:"
                " nothing could match"
            )
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError(f"limit must be at least 1, not {self.limit}", field="limit")

    @property
    def since_text(self) -> str | None:
        """``since`` as stored text (UTC, fixed width: text order is time order)."""
        return None if self.since is None else format_timestamp(self.since)

    @property
    def until_text(self) -> str | None:
        """``until`` as stored text."""
        return None if self.until is None else format_timestamp(self.until)


# ---------------------------------------------------------------------- orders and trades


@dataclass(frozen=True)
class OrderRow(ShownOrder, _Row):
    """One order as it stands (or stood): the fields of ``Order.snapshot()``, typed, in its order.
    They are the domain's declaration of what an order shows (``domain.order_state.ShownOrder``),
    which this row inherits: a field declared there is a field here."""

    @property
    def is_open(self) -> bool:
        """True while the order can still trade."""
        return self.status.is_open


@dataclass(frozen=True)
class TradeRow(_Row):
    """One fill of the blotter as it stands after busts and corrections."""

    account: str
    venue: str
    instrument: str
    side: Side
    client_order_id: str
    venue_order_id: str | None
    trade_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal | None
    fee_currency: str | None
    liquidity: Liquidity | None
    ts_event: datetime
    tags: Mapping[str, str]
    parent_id: str | None
    late: bool


@dataclass(frozen=True)
class ParentRow(_Row):
    """A parent (a proposal, a strategy's decision: what orders name as ``parent_id``) and its
    child orders as they stand: how many, how many still open, their accounts and instruments,
    the first one's creation and the last change to any."""

    parent_id: str
    orders: int
    open_orders: int
    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------------- positions and P&L


@dataclass(frozen=True)
class PositionRow(_Row):
    """A net position with realized and (given a mark) unrealized P&L, and its cash flows."""

    account: str
    venue: str
    instrument: str
    quantity: Decimal
    average_price: Decimal | None
    realized_pnl: Decimal
    realized_pnl_net: Decimal | None
    unrealized_pnl: Decimal | None
    fees: Mapping[str, Decimal]
    quote_currency: str | None
    mark: Decimal | None
    # What the figures are in, and which instrument definition produced them.
    notional: Decimal
    pnl_currency: str | None
    contract_size: Decimal
    settlement: str
    definition_version: int | None
    funding: Mapping[str, Decimal] = field(default_factory=dict)
    """Cash flows the position received (+) or paid (−), per currency: funding, interest, rebates."""
    mark_time: datetime | None = None
    """When the recorded mark used was taken; None for a caller's mark (or none)."""
    fee_values: Mapping[str, FeeValueRow] = field(default_factory=dict)
    """The fees in other currencies than the P&L, valued in it, with the rate used."""
    unvalued_fees: tuple[str, ...] = ()
    """The fee currencies with no known rate (why ``realized_pnl_net`` is None)."""

    @classmethod
    def of(
        cls,
        position: Position,
        mark: Decimal | None,
        funding: Mapping[str, Decimal] | None = None,
        mark_time: datetime | None = None,
        valuation: FeeValuation | None = None,
    ) -> PositionRow:
        """The row of a folded position, valued at ``mark`` (None: no unrealized P&L), with its
        cash flows and its fees in other currencies valued (``valuation``): net P&L is realized −
        fees + cash flows, when all are in the P&L currency or valued into it."""
        average = position.average_price
        funding = dict(sorted((funding or {}).items()))
        net = net_of_fees(position.realized_pnl, position.fees, position.pnl_currency, valuation)
        return cls(
            account=position.account,
            venue=position.venue,
            instrument=position.instrument,
            quantity=position.quantity,
            average_price=None if average is None else average.normalize(AVERAGE),
            realized_pnl=position.realized_pnl,
            realized_pnl_net=net_of(net, position.pnl_currency, funding),
            unrealized_pnl=position.unrealized_pnl(mark),
            fees=dict(sorted(position.fees.items())),
            quote_currency=position.quote_currency,
            mark=mark,
            notional=position.notional(mark),
            pnl_currency=position.pnl_currency,
            contract_size=position.terms.contract_size,
            settlement=str(position.terms.settlement),
            definition_version=position.terms.version,
            funding=funding,
            mark_time=mark_time,
            **fee_fields(valuation),
        )


@dataclass(frozen=True)
class FeeValueRow(_Row):
    """Fees paid in one currency, valued in the P&L currency: the amount, its value, the rate
    used and where it came from (``fill``: the fill's own price; ``mark``: a recorded mark of
    ``instrument`` at ``time`` from ``mark_source``). Fees valued at several rates give the
    average rate the value implies, ``rates`` says how many, and no single time."""

    amount: Decimal
    value: Decimal
    rate: Decimal
    rates: int
    source: str
    instrument: str | None
    time: datetime | None
    mark_source: str | None

    @classmethod
    def of(cls, v: FeeValue) -> FeeValueRow:
        return cls(v.amount, v.value, v.rate, v.rates, v.source, v.instrument, v.time, v.mark_source)


def fee_fields(valuation: FeeValuation | None) -> dict[str, Any]:
    """A row's ``fee_values`` and ``unvalued_fees`` from its fees' valuation."""
    if valuation is None:
        return {"fee_values": {}, "unvalued_fees": ()}
    values = {c: FeeValueRow.of(v) for c, v in valuation.values().items()}
    return {"fee_values": values, "unvalued_fees": valuation.unvalued()}


def net_of(net: Decimal | None, currency: str | None, flows: Mapping[str, Decimal]) -> Decimal | None:
    """Net P&L (realized − fees) with cash flows added: one number only when every flow is in
    the P&L currency, else None (the figures stay apart, per currency)."""
    if net is None or any(paid_in != currency for paid_in in flows):
        return None
    received = flows.get(currency or "")
    return net if received is None else WIDE.add(net, received)


class ExposureRow(ExposureFigures, _Row):
    """One group's exposure to one underlying: positions netted in units of the underlying and
    valued at the latest marks, beside the worst case of the open orders, per side
    (``domain.exposure``: the rules, and what each field is)."""


@dataclass(frozen=True)
class LotRow(_Row):
    """A tax lot: open (what is left of an opening fill) or closed (one matched quantity, with
    the fill that opened it and the fill that closed it). Amounts in ``pnl_currency``."""

    status: str  # open | closed
    cost_basis: str
    account: str
    venue: str
    instrument: str
    side: str  # long | short: the lot's side
    quantity: Decimal
    open_client_order_id: str
    open_trade_id: str
    open_time: datetime
    open_price: Decimal
    cost: Decimal
    close_client_order_id: str | None
    close_trade_id: str | None
    close_time: datetime | None
    close_price: Decimal | None
    proceeds: Decimal | None
    realized_pnl: Decimal | None
    fees: Mapping[str, Decimal]  # the opening fill's share, and (closed) the closing fill's
    pnl_currency: str | None

    @classmethod
    def of_open(cls, basis: str, lot: OpenLot) -> LotRow:
        opened = lot.opened
        fee = share(opened.fee, lot.quantity, abs(opened.signed_qty))
        fees = {opened.fee_currency or "?": fee} if fee else {}
        return cls(
            "open", basis, opened.account, opened.venue, opened.instrument,
            "long" if opened.signed_qty > 0 else "short", lot.quantity,
            opened.client_order_id, opened.trade_id, opened.ts_event, lot.price, lot.cost,
            None, None, None, None, None, None, fees, opened.terms.pnl_currency,
        )  # fmt: skip

    @classmethod
    def of_closed(cls, basis: str, lot: ClosedLot) -> LotRow:
        opened, closed = lot.opened, lot.closed
        return cls(
            "closed", basis, opened.account, opened.venue, opened.instrument,
            "long" if opened.signed_qty > 0 else "short", lot.quantity,
            opened.client_order_id, opened.trade_id, opened.ts_event, opened.price, lot.cost,
            closed.client_order_id, closed.trade_id, closed.ts_event, closed.price, lot.proceeds,
            lot.realized, dict(sorted(lot.fees.items())), lot.pnl_currency,
        )  # fmt: skip


@dataclass(frozen=True)
class PnlRow(_Row):
    """Realized P&L and fees of one group in one P&L currency (amounts in different currencies
    are never added together)."""

    by: str = field(metadata=HIDDEN)  # day, account, venue, instrument, parent or tag:NAME
    group: str  # the group's value ("(none)" when the entry has none)
    pnl_currency: str | None
    realized_pnl: Decimal
    realized_pnl_net: Decimal | None
    fees: Mapping[str, Decimal]
    fills: int
    funding: Mapping[str, Decimal] = field(default_factory=dict)
    """The group's cash flows (funding, interest, rebates) per currency; net P&L includes them."""
    fee_values: Mapping[str, FeeValueRow] = field(default_factory=dict)
    """The fees in other currencies than the P&L, valued in it, with the rate used."""
    unvalued_fees: tuple[str, ...] = ()
    """The fee currencies with no known rate (why ``realized_pnl_net`` is None)."""

    def to_json(self) -> dict[str, Any]:
        """Keyed by the grouping (``{"day": "2026-…", …}``); the P&L currency also under its
        older name, ``quote_currency``."""
        return {
            self.by: self.group,
            "quote_currency": self.pnl_currency,
            "pnl_currency": self.pnl_currency,
            "realized_pnl": plain(self.realized_pnl),
            "realized_pnl_net": plain(self.realized_pnl_net),
            "fees": plain(self.fees),
            "fills": self.fills,
            "funding": plain(self.funding),
            "fee_values": plain(self.fee_values),
            "unvalued_fees": plain(self.unvalued_fees),
        }


@dataclass(frozen=True)
class DailyPnlRow(_Row):
    """One UTC day of one group's P&L in one P&L currency: what the day realized, paid in fees
    and received in cash flows, and the unrealized P&L of what the group held at the day's end,
    valued at each instrument's last mark of the day."""

    day: str
    by: str = field(metadata=HIDDEN)  # account, parent or tag:NAME
    group: str
    pnl_currency: str | None
    realized_pnl: Decimal
    fees: Mapping[str, Decimal]
    funding: Mapping[str, Decimal]
    realized_pnl_net: Decimal | None
    """Realized − fees + cash flows, when all are in the P&L currency (else None)."""
    unrealized_pnl: Decimal | None
    """At the day's last marks; None when something held at the day's end has no mark by then."""
    unmarked: tuple[str, ...] = ()
    """The instruments held at the day's end without a mark by then (why unrealized is None)."""
    fee_values: Mapping[str, FeeValueRow] = field(default_factory=dict)
    """The day's fees in other currencies than the P&L, valued in it, with the rate used."""
    unvalued_fees: tuple[str, ...] = ()
    """The fee currencies with no known rate (why ``realized_pnl_net`` is None)."""

    def to_json(self) -> dict[str, Any]:
        """Keyed by day and by the grouping (``{"day": …, "account": …, …}``)."""
        data = super().to_json()
        return {"day": data.pop("day"), self.by: data.pop("group"), **data}


@dataclass(frozen=True)
class PnlPoint(_Row):
    """One realized P&L entry in log order, with the running total in its quote currency."""

    position: int
    ts_event: datetime
    account: str
    venue: str
    instrument: str
    quote_currency: str | None
    realized_pnl: Decimal
    cumulative_realized_pnl: Decimal


# ---------------------------------------------------------------------- the log and the journal


@dataclass(frozen=True)
class EventRecord(_Row):
    """One event of the global log: its header, then its payload (JSON-ready), and the event."""

    position: int
    type: str
    client_order_id: str
    version: int
    ts_event: datetime
    ts_recorded: datetime
    source: str
    account: str
    venue: str
    instrument: str
    message_id: int | None
    payload: Mapping[str, Any]
    event: OrderEvent = field(metadata=HIDDEN, compare=False, repr=False)

    HEADER: ClassVar[frozenset[str]] = frozenset(
        {
            "originator_id",
            "originator_version",
            "client_order_id",
            "ts_event",
            "ts_recorded",
            "source",
            "account",
            "venue",
            "instrument",
        }
    )

    @classmethod
    def of(cls, position: int, event: OrderEvent, message_id: int | None) -> EventRecord:
        """The record of a decoded event at a log position."""
        return cls(
            position=position,
            type=event.type_name(),
            client_order_id=event.client_order_id,
            version=event.originator_version,
            ts_event=event.ts_event,
            ts_recorded=event.ts_recorded,
            source=event.source,
            account=event.account,
            venue=event.venue,
            instrument=event.instrument,
            message_id=message_id,
            payload=_payload(event, cls.HEADER),
            event=event,
        )


def _payload(event: OrderEvent, header: frozenset[str]) -> dict[str, Any]:
    """An event's fields after its header, JSON-ready, as stored: a field stored only when given
    (``WHEN_GIVEN``) is left out while it is None, so an event reads as it did before the field."""
    payload = event.model_dump(mode="json", exclude=set(header))
    for name in stored_when_given(type(event)):
        if payload[name] is None:
            del payload[name]
    return payload


@dataclass(frozen=True)
class MessageRecord(_Row):
    """One inbound message of the journal, verbatim, with its outcome.

    ``outcome`` is an ``Outcome`` (applied, duplicate, parked, ignored, rejected).
    """

    message_id: int
    received_at: datetime
    origin: str
    line: int | None
    format: str
    raw: str
    outcome: Outcome
    reason: str | None
    client_order_id: str | None
    events: int


@dataclass(frozen=True)
class HistoryEntry:
    """One event of an order, with the message that produced it (journal ID, raw bytes, origin
    and line; all None for an event no message produced)."""

    position: int
    event: OrderEvent
    message_id: int | None
    message_raw: bytes | None
    message_origin: str | None
    message_line: int | None

    @property
    def record(self) -> EventRecord:
        """The event as a record of the global log."""
        return EventRecord.of(self.position, self.event, self.message_id)

    def message_json(self) -> dict[str, Any] | None:
        """The message as JSON-ready data (raw bytes as UTF-8 text, invalid bytes replaced)."""
        if self.message_id is None:
            return None
        return {
            "message_id": self.message_id,
            "origin": self.message_origin,
            "line": self.message_line,
            "raw": (self.message_raw or b"").decode("utf-8", "replace"),
        }

    def to_json(self) -> dict[str, Any]:
        """The order's history row: version, times and source, the payload without the order's
        own identity (``None`` values left out), and the message."""
        record = self.record
        return {
            "version": record.version,
            "position": record.position,
            "type": record.type,
            "ts_event": plain(record.ts_event),
            "ts_recorded": plain(record.ts_recorded),
            "source": record.source,
            "payload": {k: v for k, v in record.payload.items() if v is not None},
            "message": self.message_json(),
        }

    def to_log_json(self) -> dict[str, Any]:
        """The full event record with its message (the HTTP API's ``/orders/{id}/history``)."""
        return {**self.record.to_json(), "message": self.message_json()}


@dataclass(frozen=True)
class InstrumentRow:
    """One version of an instrument's definition, from the log: the definition (typed), the
    version, and the event that recorded it."""

    record: EventRecord
    definition: Definition

    @classmethod
    def of(cls, record: EventRecord) -> InstrumentRow:
        """The row of an ``InstrumentDefined`` event's record."""
        names = [f.name for f in fields(Definition)]
        return cls(record, Definition(**{name: getattr(record.event, name) for name in names}))

    @property
    def venue(self) -> str:
        return self.record.venue

    @property
    def instrument(self) -> str:
        return self.record.instrument

    @property
    def version(self) -> int:
        return self.record.version

    def to_json(self) -> dict[str, Any]:
        """Venue, instrument and version, the definition's fields, then where it was recorded."""
        record = self.record
        return {
            "venue": record.venue,
            "instrument": record.instrument,
            "version": record.version,
            **record.payload,
            "ts_event": plain(record.ts_event),
            "ts_recorded": plain(record.ts_recorded),
            "source": record.source,
            "position": record.position,
            "message_id": record.message_id,
        }


# ---------------------------------------------------------------------- audit and reconciliation


@dataclass(frozen=True)
class ViewsLag:
    """How far the views (orders, trades, positions) are behind the log: the slowest view's
    position and the log's last event. Queries answered from the views show the log up to
    ``position`` only; ``orderledger project`` (or a ``project --follow``) folds the rest.

    ``unsettled``: books (positions and their P&L entries) whose re-fold in venue time an ingest
    left for its end, still to do (an ingest running, or one that stopped); ``settles``: how many
    times such work was done, so that an answer kept for a state of the views is not reused
    after it."""

    position: int
    log_end: int
    unsettled: int = 0
    settles: int = 0

    @property
    def behind(self) -> int:
        """Events of the log no answer from the views includes yet (0: the views are current)."""
        return max(self.log_end - self.position, 0)

    @property
    def current(self) -> bool:
        """Whether the views show the whole log, every book settled."""
        return not self.behind and not self.unsettled

    def warning(self) -> str:
        """The one line the CLI prints on stderr when the views are behind."""
        if not self.behind:
            return (
                f"warning: {self.unsettled:,} books are still being re-folded in venue time (their"
                " positions and P&L are not final): the ingest settles them when it ends,"
                " `orderledger project` if it stopped"
            )
        return (
            f"warning: the views are {self.behind:,} events behind the log (they show events up to"
            f" {self.position:,} of {self.log_end:,}): `orderledger project` folds the rest"
        )


@dataclass(frozen=True)
class Head:
    """The hash chains' heads: the last event's position and hash (0 and "" before the first
    event), and the journal's last record's (None before the first journal row)."""

    position: int
    hash: str
    journal: tuple[int, str] | None = None

    def __str__(self) -> str:
        text = f"{self.position}:{self.hash}" if self.position else ""
        if self.journal is not None:
            text = f"{text} journal {self.journal[0]}:{self.journal[1]}".lstrip()
        return text

    @staticmethod
    def json_of(head: Head | None) -> dict[str, Any]:
        """``{"position", "hash", "journal", "head"}``; an empty log has position 0 and no hash,
        an empty journal no ``journal``; ``head`` is the text ``orderledger head`` prints."""
        if head is None:
            return {"position": 0, "hash": None, "journal": None, "head": None}
        return {
            "position": head.position,
            "hash": head.hash or None,
            "journal": None if head.journal is None else f"{head.journal[0]}:{head.journal[1]}",
            "head": str(head),
        }


__all__ = [
    "EventRecord",
    "Filter",
    "Head",
    "HistoryEntry",
    "InstrumentRow",
    "MessageRecord",
    "OrderRow",
    "PnlPoint",
    "PnlRow",
    "PositionRow",
    "TradeRow",
    "ViewsLag",
    "plain",
]
