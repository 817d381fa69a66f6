"""Limits, trading states and the pre-trade check (``OrderLedger.limits``, ``check`` …).

Limits and states are facts in the log (``domain.risk``), read back from their view
(``projections.risk``) as they stood at any venue time. ``check`` works out, for each limit that
bears on an order, the figure the order's worst case would make (the order filled in full at its
limit price, a market order at the latest mark) from the views at that moment, and hands it to
the domain's ``judge``. Every figure comes from one function per kind (``FIGURES``); positions
and gross exposure come from ``held`` (the one place an exposure module plugs in).

A limit whose figure cannot be worked out (no price for a market order, positions in several
currencies, an underlying's exposure) denies the order, saying why: a check that cannot see a
figure does not take it as within its limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.exposure import Working, underlying_of
from orderledger.domain.instrument import Terms
from orderledger.domain.risk import (
    GLOBAL,
    TRADING_STATES,
    UNWOUND_BY,
    Breach,
    Limit,
    PositionBook,
    judge,
    lifted,
    response_state,
    state_refusal,
)
from orderledger.domain.values import (
    WIDE,
    Side,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)
from orderledger.infrastructure.application.daily_pnl import day_pnl_path
from orderledger.infrastructure.application.exposure import ExposureBook, fold_exposure, read_exposure
from orderledger.infrastructure.application.queries import latest_mark
from orderledger.projections.risk import LIMITS_TABLE, STATES_TABLE, LimitFact, StateFact

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.inbound import Result
    from orderledger.infrastructure.results.positions import ExposureRow

OrderLedger = Any
"""The ledger these functions read (``OrderLedger``, whose module imports this one)."""

DAILY_LOSS_RULE = "max_daily_loss"
"""The name the daily loss rule signs the state it sets with (``set_by``)."""
LOSS_STATE = "reduce_only"
"""What the daily loss rule sets an account past its limit to: it may add no risk, and may
always get out (a halt would stop it from closing the positions that lose)."""

_SEVERITY = {state: rank for rank, state in enumerate(TRADING_STATES)}
"""active < reduce_only < halted: an account's state is the stricter of its own and the global."""


# ---------------------------------------------------------------------- rows


@dataclass(frozen=True)
class LimitRow(Limit):
    """A limit in force: its key, its value, who set it, when and why."""

    def to_json(self) -> dict[str, Any]:
        data = {
            **self.__dict__,
            "value": format_decimal(self.value),
            "ts_event": format_timestamp(self.ts_event),
        }
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class TradingStateRow:
    """A trading state set on an account ("" for every account), by whom, when and why, beside
    the state its orders are checked under: ``effective_state``, the stricter of its own and
    the global one, and where that comes from (``effective_from``: ``account`` or ``global``;
    the account's own when the two are as strict, since it stays when the global is resumed)."""

    account: str
    state: str
    set_by: str
    reason: str | None
    ts_event: datetime
    effective_state: str = ""
    effective_from: str = "account"
    until: datetime | None = None
    """When the state lifts itself (a cooldown); None: until set again."""

    @property
    def shown(self) -> str:
        """The state in force as people read it: ``halted``, or ``halted (global); own active``
        when the global state is the stricter."""
        if self.effective_from == "global" and self.account != GLOBAL:
            return f"{self.effective_state} (global); own {self.state}"
        return self.effective_state

    def to_json(self) -> dict[str, Any]:
        data = {
            **self.__dict__,
            "ts_event": format_timestamp(self.ts_event),
            "until": None if self.until is None else format_timestamp(self.until),
        }
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` says of an order: allowed, or denied with every reason."""

    allowed: bool
    state: str
    """The trading state the order's account is in (the stricter of its own and the global)."""
    breaches: list[Breach] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [b.reason for b in self.breaches]

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "state": self.state,
            "breaches": [
                {
                    "reason": b.reason,
                    **({} if b.limit is None else LimitRow(**b.limit.__dict__).to_json()),
                    **({} if b.figure is None else {"figure": format_decimal(b.figure)}),
                }
                for b in self.breaches
            ],
        }


# ---------------------------------------------------------------------- reading the facts


def _facts(ledger: OrderLedger, table: str, as_of: datetime | None) -> list[tuple[Any, ...]]:
    clause, params = "", []
    if as_of is not None:
        clause, params = " WHERE ts_event <= ?", [format_timestamp(as_of)]
    with ledger.db.read() as tx:
        return list(
            tx.execute(f"SELECT * FROM {table}{clause} ORDER BY ts_event, position", params).fetchall()
        )


def limit_facts_in_force(ledger: OrderLedger, as_of: datetime | None = None) -> list[LimitFact]:
    """The settings in force at venue time ``as_of`` (None: after every limit recorded): the
    latest setting of each (scope, target, kind), unless it is a clearing; each with its log
    position."""
    latest: dict[tuple[str, str, str], LimitFact] = {}
    for row in _facts(ledger, LIMITS_TABLE.name, as_of):
        fact = LIMITS_TABLE.from_row(row)
        latest[(fact.scope, fact.target, fact.kind)] = fact
    return [f for f in latest.values() if f.value is not None]


def limit_of(fact: LimitFact) -> Limit:
    """A limit setting as the check applies it."""
    assert fact.value is not None
    return Limit(
        fact.scope,
        fact.target,
        fact.kind,
        fact.value,
        fact.interval,
        fact.set_by,
        fact.reason,
        parse_timestamp(fact.ts_event),
        fact.response,
    )


def limits_in_force(ledger: OrderLedger, as_of: datetime | None = None) -> list[Limit]:
    """The limits in force at venue time ``as_of`` (None: after every limit recorded)."""
    return [limit_of(f) for f in limit_facts_in_force(ledger, as_of)]


def limits(ledger: OrderLedger, as_of: datetime | None = None) -> list[LimitRow]:
    """``OrderLedger.limits``: by scope, target and kind."""
    found = [LimitRow(**limit.__dict__) for limit in limits_in_force(ledger, as_of)]
    return sorted(found, key=lambda row: (row.scope, row.target, row.kind))


def trading_states(ledger: OrderLedger, as_of: datetime | None = None) -> list[TradingStateRow]:
    """``OrderLedger.trading_states``: each account's state in force ("" first: every account's),
    with the state its orders are checked under (the stricter of its own and the global). A state
    set ``until`` a time is in force only before it (judged at ``as_of``, else the ledger's
    clock): after it, the latest state set before it that is still in force applies again, or
    ``active`` (since that time) when there is none."""
    now = as_of if as_of is not None else ledger._clock()
    history: dict[str, list[StateFact]] = {}
    for row in _facts(ledger, STATES_TABLE.name, as_of):
        fact = STATES_TABLE.from_row(row)
        history.setdefault(fact.account, []).append(fact)
    latest = {account: _standing_fact(facts, now) for account, facts in history.items()}
    overall = latest[GLOBAL].state if GLOBAL in latest else "active"
    return [
        TradingStateRow(
            f.account,
            f.state,
            f.set_by,
            f.reason,
            parse_timestamp(f.ts_event),
            *_in_force(f, overall),
            until=None if f.until is None else parse_timestamp(f.until),
        )
        for _, f in sorted(latest.items())
    ]


def _standing_fact(facts: list[StateFact], now: datetime) -> StateFact:
    """The fact in force at ``now`` among an account's (in time order): the latest one not lifted
    by its ``until``; when every one is, ``active`` from when the latest lifted itself."""
    for fact in reversed(facts):
        if not lifted(None if fact.until is None else parse_timestamp(fact.until), now):
            return fact
    last = max(facts, key=lambda f: f.until or "")
    assert last.until is not None
    reason = f"{last.state} until {last.until} lifted itself"
    return StateFact(
        last.position, last.account, "active", last.set_by, reason, last.until, last.ts_recorded, last.source
    )


def _in_force(fact: StateFact, overall: str) -> tuple[str, str]:
    """The state an account's orders are checked under, given its own fact and the global
    state, and where it comes from (``TradingStateRow.effective_from``)."""
    if fact.account == GLOBAL:
        return fact.state, "global"
    if _SEVERITY[overall] > _SEVERITY[fact.state]:
        return overall, "global"
    return fact.state, "account"


def state_of(states: list[TradingStateRow], account: str) -> TradingStateRow | None:
    """The state an account is in: the stricter of its own and the global; None: never set."""
    found = [s for s in states if s.account in (account, GLOBAL)]
    return max(found, key=lambda s: (_SEVERITY[s.state], s.account == GLOBAL), default=None)


# ---------------------------------------------------------------------- the order's worst case


@dataclass(frozen=True)
class Worst:
    """An order as the check sees it: filled in full at ``price``."""

    account: str
    venue: str
    instrument: str
    delta: Decimal
    """The signed quantity the order adds (a buy +, a sell −)."""
    price: Decimal | None
    """The limit price, or the latest mark for a market order; None when neither is known."""
    terms: Terms
    underlying: str | None
    tags: dict[str, str]
    now: datetime
    quote_currency: str | None = None

    @property
    def notional(self) -> Decimal | None:
        return None if self.price is None else self.terms.value(abs(self.delta), self.price)


def definition_terms(ledger: OrderLedger, venue: str, instrument: str) -> tuple[Terms, str | None]:
    """How an instrument's quantity is valued (its definition's contract size and settlement;
    one unit, linear, without one) and its underlying, as exposure maps it
    (``domain.exposure.underlying_of``: the definition's underlying, else its base currency, else
    the instrument itself)."""
    definitions = ledger.instruments(venue=venue, instrument=instrument)
    definition = definitions[0].definition if definitions else None
    underlying = underlying_of(instrument, definition).name
    if definition is None:
        return Terms(), underlying
    return Terms(definition.contract_size, definition.settlement), underlying


def worst_case(ledger: OrderLedger, request: Any, now: datetime) -> Worst:
    """The worst case of a request message (``RequestMessage``)."""
    terms, underlying = definition_terms(ledger, request.venue, request.instrument)
    price = request.price
    if price is None:
        mark = latest_mark(ledger.db, request.venue, request.instrument)
        price = None if mark is None else mark[0]
    sign = Decimal(1) if request.side is Side.BUY else Decimal(-1)
    return Worst(
        request.account,
        request.venue,
        request.instrument,
        sign * request.quantity,
        price,
        terms,
        underlying,
        dict(request.tags),
        now,
        request.quote_currency,
    )


# ---------------------------------------------------------------------- the figures


@dataclass(frozen=True)
class Held:
    """What a scope would hold at worst once the order and its open orders fill: the largest
    absolute net quantity of the order's instrument, and the gross notional (None: unknown)."""

    position: Decimal
    gross: Decimal | None
    why_unknown: str = ""
    position_before: Decimal = Decimal(0)
    """The same worst case without this order."""
    gross_before: Decimal | None = None
    """The gross notional without this order (None: unknown)."""
    reduces: bool = False
    """Whether the order reduces the scope's position (``domain.risk.PositionBook.reduces``)."""


class Reads:
    """What one check (or one standing of the limits) reads from the views, each read once
    however many limits ask for it: the positions and open orders of a scope, the exposure
    (``application.exposure``), and what ``held`` worked out of them for an order."""

    def __init__(self, ledger: OrderLedger, order: Worst | None = None) -> None:
        self.ledger = ledger
        self._also = [] if order is None or not order.delta else [(order.venue, order.instrument)]
        self._exposure: ExposureBook | None = None
        self._scopes: dict[tuple[str, str], tuple[list[Any], list[Any]]] = {}
        self._held: dict[tuple[Any, ...], Held] = {}

    def exposure(self) -> ExposureBook:
        """The exposure's rows and marks (and the order's leg's mark), read once."""
        if self._exposure is None:
            self._exposure = read_exposure(self.ledger, also=self._also)
        return self._exposure

    def scope(self, scope: str, target: str) -> tuple[list[Any], list[Any]]:
        """The positions and open orders of an instrument (every account's) or of an account."""
        key = (scope, target)
        if key not in self._scopes:
            named = {"instrument": target} if scope == "instrument" else {"account": target}
            found = list(self.ledger.positions(**named)), list(self.ledger.orders(open=True, **named))
            self._scopes[key] = found
        return self._scopes[key]

    def book(self, order: Worst) -> PositionBook:
        """The order's account's position in its instrument (over its venues) and its open
        orders there: what a reduce-only state judges the order against."""
        return _book(*self.scope("account", order.account), order.instrument)

    def held(self, limit: Limit, order: Worst) -> Held:
        """``held`` for a limit and an order, worked out once."""
        key = (
            limit.scope,
            limit.target,
            order.account,
            order.venue,
            order.instrument,
            order.delta,
            order.price,
        )
        if key not in self._held:
            self._held[key] = held(self, limit, order)
        return self._held[key]


def _book(rows: list[Any], working: list[Any], instrument: str) -> PositionBook:
    """The net position of ``instrument`` among ``rows`` and the leaves of its open orders on
    each side among ``working``."""
    zero = Decimal(0)
    return PositionBook(
        sum((r.quantity for r in rows if r.instrument == instrument), start=zero),
        sum((o.leaves_quantity for o in working if o.instrument == instrument and o.side is Side.BUY), zero),
        sum((o.leaves_quantity for o in working if o.instrument == instrument and o.side is Side.SELL), zero),
    )


def held(reads: Reads, limit: Limit, order: Worst) -> Held:
    """The one function the position and gross exposure limits read (an exposure module plugs in
    here). For an instrument: its positions summed over accounts and venues; for an account: its
    positions (the order's instrument's, for the net quantity). The worst case fills every open
    order of the scope in full, the buys and the sells apart, with this one on its side. Gross
    exposure is figured per side too: each position (account, venue, instrument) is valued at
    its latest mark (at cost without one), signed; its open buys' leaves at their limit prices
    are added to it and its sells' taken from it, this order's on its side; the position counts
    for the larger of the two in absolute value, and the gross is their sum over positions. So
    an order that takes a position towards flat makes the gross no larger. For an underlying:
    the exposure read (``application.exposure``) netted across accounts and venues, the order
    added to it."""
    if limit.scope == "underlying":
        return _underlying_held(reads.exposure(), limit.target, order)
    rows, working = reads.scope(
        limit.scope, order.instrument if limit.scope == "instrument" else order.account
    )
    mine = order.instrument
    book = _book(rows, working, mine)
    net = book.position
    longest = net + book.open_buys + max(order.delta, Decimal(0))
    shortest = net - book.open_sells + min(order.delta, Decimal(0))
    position = max(abs(longest), abs(shortest))
    before = max(abs(net + book.open_buys), abs(net - book.open_sells))
    reduces = book.reduces(order.delta)
    if order.notional is None:
        why = "no price to value the order: no limit price and no mark"
        return Held(position, None, why, before, reduces=reduces)
    currencies = {r.pnl_currency for r in rows}
    if len(currencies) > 1:
        shown = ", ".join(sorted(map(str, currencies)))
        return Held(position, None, f"positions in several currencies ({shown})", before, reduces=reduces)
    if any(o.price is None for o in working):
        why = "an open market order has no price to value it at"
        return Held(position, None, why, before, reduces=reduces)
    legs: dict[tuple[str, str, str], list[Decimal]] = {}
    """(account, venue, instrument) → [the position's signed value, open buys', open sells']."""

    def leg(account: str, venue: str, instrument: str) -> list[Decimal]:
        return legs.setdefault((account, venue, instrument), [Decimal(0), Decimal(0), Decimal(0)])

    for r in rows:
        leg(r.account, r.venue, r.instrument)[0] += -r.notional if r.quantity < 0 else r.notional
    for o in working:
        value = (
            order.terms.value(o.leaves_quantity, o.price)
            if o.instrument == mine
            else o.leaves_quantity * o.price
        )
        leg(o.account, o.venue, o.instrument)[1 if o.side is Side.BUY else 2] += value
    gross_before = _per_side(legs.values())
    leg(order.account, order.venue, mine)[1 if order.delta > 0 else 2] += order.notional
    return Held(position, _per_side(legs.values()), "", before, gross_before, reduces)


def _per_side(legs: Iterable[list[Decimal]]) -> Decimal:
    """The gross of positions valued [signed, open buys, open sells]: each counts for the larger
    of its value with every buy filled and with every sell filled."""
    return sum((max(abs(value + buys), abs(value - sells)) for value, buys, sells in legs), Decimal(0))


def _underlying_held(book: ExposureBook, underlying: str, order: Worst) -> Held:
    """An underlying's worst case (``application.exposure``, netted across accounts and venues):
    the position is the larger of the worst long and worst short units, every open order of the
    underlying filled on its side and this order on its own; the gross exposure is the larger of
    the two worst values, in the one currency they are in. The order reduces when, in units of
    the underlying, it takes the net towards flat with the open orders on its side filled."""
    adding = []
    if order.delta:
        side = Side.BUY if order.delta > 0 else Side.SELL
        adding.append(
            Working(order.account, order.venue, order.instrument, side, abs(order.delta), order.price)
        )
    before = {r.underlying: r for r in fold_exposure(book, ("underlying",))}.get(underlying)
    after = {r.underlying: r for r in fold_exposure(book, ("underlying",), adding=adding)}.get(underlying)
    if after is None:
        return Held(Decimal(0), Decimal(0), "", Decimal(0), Decimal(0))
    position = max(abs(after.worst_long_units), abs(after.worst_short_units))
    was = Decimal(0) if before is None else max(abs(before.worst_long_units), abs(before.worst_short_units))
    reduces = False
    if before is not None:
        # The order's units (none when it cannot be priced: an inverse contract without a price).
        units = WIDE.add(
            WIDE.subtract(after.open_long_units, before.open_long_units),
            WIDE.subtract(after.open_short_units, before.open_short_units),
        )
        units_book = PositionBook(before.net_units, before.open_long_units, -before.open_short_units)
        reduces = units_book.reduces(units)
    gross, why = _underlying_gross(after)
    gross_before = Decimal(0) if before is None else _underlying_gross(before)[0]
    return Held(position, gross, why, was, gross_before, reduces)


def _underlying_gross(row: ExposureRow) -> tuple[Decimal | None, str]:
    """The larger of an exposure row's two worst values, or why it cannot be worked out."""
    if row.unpriced:
        return None, f"no price to value {', '.join(row.unpriced)}"
    currencies = sorted({*row.worst_long_value, *row.worst_short_value})
    if len(currencies) > 1:
        return None, f"values in several currencies ({', '.join(currencies)})"
    values = [*row.worst_long_value.values(), *row.worst_short_value.values()]
    return max(map(abs, values), default=Decimal(0)), ""


Figure = tuple[Decimal | None, str, Decimal | None]
"""A figure after the order (None: why it cannot be worked out), and the figure without the order
for what an order can shrink (None for what it cannot: a day's loss, a count, its own notional)."""


def _position(reads: Reads, limit: Limit, order: Worst) -> Figure:
    found = reads.held(limit, order)
    return found.position, "", found.position_before


def _gross(reads: Reads, limit: Limit, order: Worst) -> Figure:
    found = reads.held(limit, order)
    return found.gross, found.why_unknown, found.gross_before


def _order_notional(reads: Reads, limit: Limit, order: Worst) -> Figure:
    return order.notional, "no price to value the order: no limit price and no mark", None


def _daily_loss(reads: Reads, limit: Limit, order: Worst) -> Figure:
    """The loss of the account's UTC day (the ledger's clock's) so far: realized − fees + cash
    flows, and unrealized at the day's last marks (``pnl_daily``), as a positive number."""
    day = order.now.date().isoformat()
    rows = [r for r in reads.ledger.pnl_daily(by="account") if r.day == day and r.group == limit.target]
    if not rows:
        return Decimal(0), "", None
    if len(rows) > 1:
        return None, "the day's P&L is in several currencies", None
    row = rows[0]
    if row.realized_pnl_net is None or row.unrealized_pnl is None:
        why = "the day's P&L is not known in full (an unvalued fee or a position without a mark)"
        return None, why, None
    return max(Decimal(0), -(row.realized_pnl_net + row.unrealized_pnl)), "", None


def _drawdown(reads: Reads, limit: Limit, order: Worst) -> Figure:
    """The fall of the account's P&L for the UTC day (``_daily_loss``'s figure, taken as the day
    opens and after each of its fills, cash flows and marks in venue time) from its high that day
    to where it stands (``daily_pnl.day_pnl_path``)."""
    day = order.now.date().isoformat()
    ledger = reads.ledger
    path = day_pnl_path(ledger.db, limit.target, day, order.now, ledger.cost_basis())
    return path.drawdown, path.why, None


def _orders(reads: Reads, limit: Limit, order: Worst) -> Figure:
    """The orders of the scope requested within the last ``interval`` seconds, this one too."""
    assert limit.interval is not None
    ledger = reads.ledger
    since = order.now - timedelta(seconds=limit.interval) + timedelta(microseconds=1)
    if limit.scope == "tag":
        name, _, value = limit.target.partition("=")
        tagged = sum(1 for r in ledger.orders(since=since, until=order.now) if r.tags.get(name) == value)
        return Decimal(tagged + 1), "", None
    if limit.scope == "account":
        found = ledger.orders(account=order.account, since=since, until=order.now)
    else:
        found = ledger.orders(instrument=order.instrument, since=since, until=order.now)
    return Decimal(len(found) + 1), "", None


def reduces(reads: Reads, limit: Limit, order: Worst) -> bool:
    """Whether the order reduces the position a limit of ``UNWOUND_BY`` judges it on (such a
    limit never denies it): for an instrument, its net summed over accounts and venues; for an
    underlying, its net units; for an account (its position and gross exposure, its day's loss
    and drawdown), its position in the order's instrument over its venues. The open orders of
    the scope on the order's side count as filled (``domain.risk.PositionBook``)."""
    return limit.kind in UNWOUND_BY and reads.held(limit, order).reduces


FIGURES: dict[str, Callable[[Reads, Limit, Worst], Figure]] = {
    "max_position": _position,
    "max_gross_exposure": _gross,
    "max_order_notional": _order_notional,
    "max_daily_loss": _daily_loss,
    "max_drawdown": _drawdown,
    "max_orders": _orders,
}
"""The figure each kind of limit bounds (``domain.risk.LIMIT_KINDS`` describes them)."""


# ---------------------------------------------------------------------- the check


def denial(ledger: OrderLedger, now: datetime) -> Callable[[Any], str | None]:
    """The pre-trade check as ``recording.record``'s ``deny``: the reasons a request is denied at
    ``now``, or None (a ``Record`` request with ``check``; ``OrderLedger.placing``)."""

    def deny(request: Any) -> str | None:
        result = check(ledger, request, now)
        return None if result.allowed else "; ".join(result.reasons)

    return deny


def check(ledger: OrderLedger, request: Any, now: datetime) -> CheckResult:
    """Allowed, or denied with every limit the order would breach and what its state forbids."""
    order = worst_case(ledger, request, now)
    breaches: list[Breach] = []
    states = trading_states(ledger, now)
    current = state_of(states, order.account)
    state = "active" if current is None else current.state
    reads = Reads(ledger, order)
    if state != "active" and current is not None:
        refusal = state_refusal(state, reads.book(order), order.delta)
        if refusal is not None:
            breaches.append(
                Breach(f"{refusal} (set by {current.set_by}: {current.reason or 'no reason given'})")
            )
    for limit in limits_in_force(ledger, now):
        if not limit.applies(order.account, order.instrument, order.underlying, order.tags):
            continue
        figure, why, before = FIGURES[limit.kind](reads, limit, order)
        breach = judge(limit, figure, why, before, reduces(reads, limit, order))
        if breach is not None:
            breaches.append(breach)
    losses = [b for b in breaches if b.limit is not None and b.limit.kind == DAILY_LOSS_RULE and b.figure]
    if losses and state == "active":
        state = _halt_for_loss(ledger, order, losses[0])
    return CheckResult(not breaches, state, breaches)


def _halt_for_loss(ledger: OrderLedger, order: Worst, breach: Breach) -> str:
    """The daily loss rule: an account past its daily loss limit is set to the limit's response
    (``LOSS_STATE`` unless it names ``halt``), as a fact; returns that state."""
    state = LOSS_STATE if breach.limit is None else response_state(breach.limit.response)
    ledger.record(
        {
            "type": "trading_state",
            "ts": format_timestamp(order.now),
            "account": order.account,
            "state": state,
            "set_by": DAILY_LOSS_RULE,
            "reason": breach.reason,
            "source": "rule",
        },
        strict=True,
    )
    return state


def request_of(spec: dict[str, Any], now: datetime) -> Any:
    """The request message of a spec given to ``check`` (its client order ID may be absent)."""
    # Imported here: the message models load with the writes (``application.lazy``), so a
    # process that only reads never imports them.
    from orderledger.infrastructure.messages.models import RequestMessage, parse_message

    message = {**spec, "type": "request"}
    message.setdefault("client_order_id", "check")
    message.setdefault("ts", format_timestamp(now))
    parsed = parse_message(message)
    if not isinstance(parsed, RequestMessage):  # pragma: no cover - the type is set above
        raise InvalidInputError("check takes the fields of a request", field="type")
    return parsed


def fact_message(message_type: str, ts: datetime, **fields: Any) -> dict[str, Any]:
    """A risk fact's message (``limit_set``, ``limit_cleared``, ``trading_state``), absent fields left out."""
    return {
        "type": message_type,
        "ts": format_timestamp(ts),
        **{k: v for k, v in fields.items() if v is not None},
    }


def record_fact(ledger: OrderLedger, message: dict[str, Any], origin: str = "api") -> Result:
    """Record a risk fact, journaled as from ``origin``; a refused one raises its one-line error."""
    return ledger.record(message, origin=origin, strict=True)


__all__ = [
    "DAILY_LOSS_RULE",
    "CheckResult",
    "Held",
    "LimitRow",
    "Reads",
    "TradingStateRow",
    "Worst",
    "check",
    "held",
    "limits",
    "limits_in_force",
    "request_of",
    "state_of",
    "trading_states",
    "worst_case",
]
