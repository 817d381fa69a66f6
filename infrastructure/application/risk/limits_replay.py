"""Limits replayed over the log (``OrderLedger.risk_controls.risk_replay``, docs/risk.md, "Limits
replayed over history"): which recorded orders a set of limits would have denied or flagged, and the P&L and
exposure path without the denied ones. It reads the log and writes nothing.

The log is folded in its order (the ledger's clock) twice, into in-memory orders and positions
(the views' own folds, ``projections``): as recorded, and as replayed, where the events of an
order the limits deny are left out from its request on. At each request of ours the order is
judged against the limits in force at its recorded time, from the replayed state, by the same
pure figures and judge as the check (``domain.risk_figures.FIGURES``, ``domain.risk.judge``);
this module only says what the state is (``_Moment``, the ``FigureSource``). An order the venue
reported (external) is judged too, and flagged, never denied: no check of ours could stop it.

The day's loss and drawdown limits are replayed from the replayed positions' P&L through each
day (``replay_losses``): past its value, such a limit denies the orders that do not reduce, as the
check does, and sets its response (``reduce_only`` or ``halt``) for the rest of the day (a daily
loss) or until the drawdown is back within its value: the orders judged meanwhile are judged
under it, as under a trading state.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import MOVES_PNL, InstrumentDefined, MarkRecorded, OrderEvent, OrderRequested
from orderledger.domain.exposure import Holding, Working, worst_price
from orderledger.domain.instrument import Definition
from orderledger.domain.order import Order
from orderledger.domain.risk import Breach, Limit, checked_limit, state_refusal
from orderledger.domain.risk_figures import Held, Worst, held_in, limit_breaches, position_book, worst_of
from orderledger.domain.values import WIDE
from orderledger.infrastructure.application.ledger_protocol import LedgerParts
from orderledger.infrastructure.application.risk.exposure_rows import ExposureBook
from orderledger.infrastructure.application.risk.pretrade import underlying_exposure_held
from orderledger.infrastructure.application.risk.replay_losses import UNKNOWN, Losses
from orderledger.infrastructure.audit.search import EventFilter, search_events
from orderledger.infrastructure.results.log import definition_of
from orderledger.infrastructure.results.replay import (
    ReplayBreachRow,
    ReplayedOrderRow,
    ReplayPathRow,
    RiskReplay,
)
from orderledger.projections.base import MemoryTable, Projection
from orderledger.projections.book import Position
from orderledger.projections.orders import ORDERS_TABLE, OrdersProjection
from orderledger.projections.positions import POSITIONS_TABLE, PositionsProjection

SINCE_EVER = "1970-01-01T00:00:00Z"
"""The ``ts`` of a limit given without one: in force over the whole log."""
SET_BY = "replay"
"""The ``set_by`` of a limit given without one."""
END = "end"
"""The ``at`` of the path's rows after the last event."""
ZERO = Decimal(0)


# ---------------------------------------------------------------------- the limits given


def parse_limits(given: str | Iterable[Mapping[str, Any]]) -> tuple[Limit, ...]:
    """The limits of a replay: a JSON array of ``limit_set`` objects, JSON lines of them (text),
    or the objects themselves. Each is read by the ``limit_set`` message's rules (``type``,
    ``ts`` and ``set_by`` may be left out: in force from the start, set by ``replay``); a bad one
    is refused in one line naming its line (or, in an array, its number)."""
    if isinstance(given, str):
        items = _items(given)
    else:
        items = [(f"limit {n}", item) for n, item in enumerate(given, 1)]
    return tuple(_limit(where, item) for where, item in items)


def _items(text: str) -> list[tuple[str, Any]]:
    if text.lstrip().startswith("["):
        try:
            found = json.loads(text)
        except ValueError as error:
            raise InvalidInputError(f"limits: not a JSON array ({error})") from None
        if not isinstance(found, list):  # pragma: no cover - text starting with [ is an array
            raise InvalidInputError("limits: not a JSON array")
        return [(f"limit {n}", item) for n, item in enumerate(found, 1)]
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append((f"line {n}", json.loads(line)))
        except ValueError as error:
            raise InvalidInputError(f"line {n}: not JSON ({error})") from None
    return items


def _limit(where: str, item: Any) -> Limit:
    # Imported here: the message models load with the writes (``application.lazy_imports``).
    from orderledger.infrastructure.messages.models import LimitSetMessage, parse_message

    if not isinstance(item, dict):
        raise InvalidInputError(f"{where}: a limit is a JSON object of a limit_set's fields")
    try:
        parsed = parse_message({"type": "limit_set", "ts": SINCE_EVER, "set_by": SET_BY, **item})
        if not isinstance(parsed, LimitSetMessage):
            raise InvalidInputError("a limit's type is limit_set", field="type")
        checked_limit(
            parsed.scope, parsed.target, parsed.kind, parsed.value, parsed.interval, parsed.response
        )
    except InvalidInputError as error:
        raise InvalidInputError(f"{where}: {error}", field=error.field) from None
    return Limit(
        parsed.scope,
        parsed.target,
        parsed.kind,
        parsed.value,
        parsed.interval,
        parsed.set_by,
        parsed.reason,
        parsed.ts,
        response=parsed.response,
    )


def in_force(limits: Iterable[Limit], now: datetime) -> list[Limit]:
    """The limits in force at ``now``: of each (scope, target, kind), the latest set by then."""
    latest: dict[tuple[str, str, str], Limit] = {}
    for limit in sorted(limits, key=lambda item: item.ts_event):
        if limit.ts_event <= now:
            latest[limit.key] = limit
    return list(latest.values())


# ---------------------------------------------------------------------- the state, folded


class _World:
    """The orders and positions of one fold of the log, as the views would hold them."""

    def __init__(self) -> None:
        self.folds: tuple[Projection, ...] = (OrdersProjection(), PositionsProjection())
        self.tables: dict[str, MemoryTable[Any, Any]] = {
            spec.name: MemoryTable() for fold in self.folds for spec in fold.tables
        }
        self.created: list[tuple[datetime, str]] = []
        """(creation time, client order ID) of every order requested, by time."""
        self._unsettled = False

    def apply(self, position: int, event: OrderEvent) -> None:
        for fold in self.folds:
            if fold.folds(type(event)):
                fold.apply(position, event, self.tables)
                self._unsettled = True
        if isinstance(event, OrderRequested):
            bisect.insort(self.created, (event.ts_event, event.client_order_id))

    def settled(self) -> _World:
        if self._unsettled:
            for fold in self.folds:
                fold.settle(self.tables)
            self._unsettled = False
        return self

    def positions(self) -> list[Position]:
        rows: dict[Any, Position] = self.tables[POSITIONS_TABLE.name].rows
        return [rows[key] for key in sorted(rows)]

    def orders(self) -> dict[str, Order]:
        rows: dict[str, Order] = self.tables[ORDERS_TABLE.name].rows
        return rows

    def open_orders(self) -> list[Order]:
        return [order for order in self.orders().values() if order.status.is_open]


@dataclass(frozen=True)
class _Standing:
    """A position as a limit sees it (``domain.risk_figures.HeldPosition``)."""

    account: str
    venue: str
    instrument: str
    quantity: Decimal
    notional: Decimal
    pnl_currency: str | None


class _Moment:
    """The replayed state at an order's time, as the figures ask for it (``FigureSource``)."""

    def __init__(
        self,
        world: _World,
        marks: Mapping[tuple[str, str], Decimal],
        definitions: Mapping[tuple[str, str], Definition],
        losses: Losses,
    ) -> None:
        self.world, self.marks, self.definitions, self.losses = world, marks, definitions, losses
        self._state: tuple[list[Position], list[Order]] | None = None

    def state(self) -> tuple[list[Position], list[Order]]:
        """The positions and open orders, read once however many limits ask."""
        if self._state is None:
            self._state = self.world.positions(), self.world.open_orders()
        return self._state

    def held(self, limit: Limit, order: Worst) -> Held:
        positions, working = self.state()
        if limit.scope == "underlying":
            book = ExposureBook(
                [
                    Holding(p.account, p.venue, p.instrument, p.quantity, p.quote_currency)
                    for p in positions
                    if p.quantity
                ],
                [Working.open(o) for o in working],
                dict(self.definitions),
                dict(self.marks),
            )
            return underlying_exposure_held(book, limit.target, order)
        if limit.scope == "instrument":
            positions = [p for p in positions if p.instrument == order.instrument]
            working = [o for o in working if o.instrument == order.instrument]
        else:
            positions = [p for p in positions if p.account == order.account]
            working = [o for o in working if o.account == order.account]
        rows = [
            _Standing(
                p.account,
                p.venue,
                p.instrument,
                p.quantity,
                p.notional(self.marks.get((p.venue, p.instrument))),
                p.pnl_currency,
            )
            for p in positions
        ]
        return held_in(rows, working, order)

    def day_loss(self, limit: Limit, order: Worst) -> tuple[Decimal | None, str]:
        figure = self.losses.figure(limit.target, limit.kind)
        return figure, "" if figure is not None else UNKNOWN

    def drawdown(self, limit: Limit, order: Worst) -> tuple[Decimal | None, str]:
        return self.day_loss(limit, order)

    def responded(self, order: Worst) -> Breach | None:
        """The refusal of the response in force on the order's account (``replay_losses``)."""
        response = self.losses.response(order.account)
        if response is None:
            return None
        positions, working = self.state()
        mine = [
            _Standing(p.account, p.venue, p.instrument, p.quantity, p.cost, p.pnl_currency)
            for p in positions
            if p.account == order.account
        ]
        book = position_book(mine, [o for o in working if o.account == order.account], order.instrument)
        refusal = state_refusal(response.state, book, order.delta, order.reduce_only)
        if refusal is None:
            return None
        return Breach(
            f"{refusal} (set by {response.limit.kind}: {response.reason})", response.limit, response.figure
        )

    def orders_within(self, limit: Limit, order: Worst, since: datetime) -> int:
        created = self.world.created
        start = bisect.bisect_left(created, (since, ""))
        orders = self.world.orders()
        count = 0
        for at, client_order_id in created[start:]:
            if at > order.now:
                break
            found = orders.get(client_order_id)
            if found is None:
                continue
            if limit.scope == "tag":
                name, _, value = limit.target.partition("=")
                count += found.tags.get(name) == value
            elif limit.scope == "account":
                count += found.account == order.account
            else:
                count += found.instrument == order.instrument
        return count


# ---------------------------------------------------------------------- the path


Standing = dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]
"""(account, P&L currency) → (realized P&L, net exposure, gross exposure)."""


def _standing(world: _World, marks: Mapping[tuple[str, str], Decimal]) -> Standing:
    found: Standing = {}
    for book in world.settled().positions():
        notional = book.notional(marks.get((book.venue, book.instrument)))
        signed = WIDE.minus(notional) if book.quantity < 0 else notional
        key = (book.account, book.pnl_currency or "?")
        realized, net, gross = found.get(key, (ZERO, ZERO, ZERO))
        found[key] = (
            WIDE.add(realized, book.realized_pnl),
            WIDE.add(net, signed),
            WIDE.add(gross, notional),
        )
    return found


def _path_rows(at: str, recorded: Standing, replayed: Standing) -> list[ReplayPathRow]:
    rows = []
    for account, currency in sorted({*recorded, *replayed}):
        was = recorded.get((account, currency), (ZERO, ZERO, ZERO))
        now = replayed.get((account, currency), (ZERO, ZERO, ZERO))
        rows.append(ReplayPathRow(at, account, currency, was[0], now[0], was[1], now[1], was[2], now[2]))
    return rows


# ---------------------------------------------------------------------- the replay


def risk_replay(ledger: LedgerParts, limits: tuple[Limit, ...], since: datetime | None = None) -> RiskReplay:
    """Fold the log (module docstring), judging each order requested at or after ``since``
    (recorded time; what came before is folded first, unjudged)."""
    recorded, replayed = _World(), _World()
    marks: dict[tuple[str, str], tuple[datetime, int, Decimal]] = {}
    definitions: dict[tuple[str, str], Definition] = {}
    denied: set[str] = set()
    losses = Losses(limits)
    rows: list[ReplayedOrderRow] = []
    path: list[ReplayPathRow] = []
    day: str | None = None

    def prices() -> dict[tuple[str, str], Decimal]:
        return {key: mark[2] for key, mark in marks.items()}

    for position, event, _ in search_events(ledger.db, ledger.mapper, EventFilter()):
        now = event.ts_recorded
        judged = since is None or now >= since
        today = now.date().isoformat()
        if judged:
            if day is not None and today != day:
                known = prices()
                path += _path_rows(day, _standing(recorded, known), _standing(replayed, known))
            day = today
        if losses.accounts and today != losses.day:
            # (a day's loss counts from the day's start, before ``since`` too)
            losses.open_day(today, replayed.settled().positions(), prices())
        if isinstance(event, MarkRecorded):
            key = (event.venue, event.instrument)
            if key not in marks or (event.ts_event, position) > marks[key][:2]:
                marks[key] = (event.ts_event, position, event.price)
        elif isinstance(event, InstrumentDefined):
            definitions[(event.venue, event.instrument)] = definition_of(event)
        elif judged and isinstance(event, OrderRequested) and event.client_order_id not in replayed.orders():
            row = _judged(
                event, in_force(limits, now), _Moment(replayed.settled(), prices(), definitions, losses)
            )
            if row is not None:
                rows.append(row)
                if row.outcome == "denied":
                    denied.add(event.client_order_id)
        recorded.apply(position, event)
        if event.client_order_id not in denied:
            replayed.apply(position, event)
        if losses.day is not None and (type(event) in MOVES_PNL or type(event) is MarkRecorded):
            losses.moved(replayed.settled().positions(), prices(), in_force(limits, now))
    known = prices()
    if day is not None:
        path += _path_rows(END, _standing(recorded, known), _standing(replayed, known))
    return RiskReplay(tuple(rows), tuple(path))


def _judged(event: OrderRequested, limits: list[Limit], moment: _Moment) -> ReplayedOrderRow | None:
    """The row of an order the limits (and the responses in force) would have denied (or flagged,
    an external one), or None."""
    marks, definitions = moment.marks, moment.definitions
    key = (event.venue, event.instrument)
    order = worst_of(
        event.account,
        event.venue,
        event.instrument,
        event.side,
        event.quantity,
        worst_price(event.price, event.trigger_price, marks.get(key)),
        definitions.get(key),
        event.tags,
        event.ts_recorded,
        event.quote_currency,
        bool(event.reduce_only),
    )
    responded = moment.responded(order)
    breaches = [*([] if responded is None else [responded]), *limit_breaches(limits, moment, order)]
    if not breaches:
        return None
    return ReplayedOrderRow(
        event.client_order_id,
        "flagged" if event.external else "denied",
        event.ts_recorded,
        event.account,
        event.venue,
        event.instrument,
        event.side,
        event.quantity,
        event.price,
        tuple(
            ReplayBreachRow(
                breach.reason,
                breach.limit.scope,
                breach.limit.target,
                breach.limit.kind,
                breach.limit.value,
                breach.limit.interval,
                breach.figure,
            )
            for breach in breaches
            if breach.limit is not None
        ),
    )


__all__ = ["END", "in_force", "parse_limits", "risk_replay"]
