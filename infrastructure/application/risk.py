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

from collections.abc import Callable
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
    Breach,
    Limit,
    judge,
    state_refusal,
)
from orderledger.domain.values import (
    Side,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)
from orderledger.infrastructure.application.daily_pnl import day_pnl_path
from orderledger.infrastructure.application.exposure import ExposureBook, fold_exposure, read_exposure
from orderledger.infrastructure.application.queries import latest_mark
from orderledger.infrastructure.audit.search import EVENT_SELECT, decoded_events
from orderledger.projections.risk import LIMITS_TABLE, STATES_TABLE, LimitFact, StateFact

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.inbound import Result

OrderLedger = Any
"""The ledger these functions read (``OrderLedger``, whose module imports this one)."""

DAILY_LOSS_RULE = "max_daily_loss"
"""The name the daily loss rule signs the halt it sets with (``set_by``)."""

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
            "since": _shown(self.since),
        }
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class TradingStateRow:
    """A trading state set on an account ("" for every account), by whom, when and why."""

    account: str
    state: str
    set_by: str
    reason: str | None
    ts_event: datetime
    since: datetime | None = None
    """When it takes effect: its ``ts_event``, or the time the ledger recorded it if later."""
    scheduled: bool = False
    """Dated after the moment asked about: it takes effect at ``since``, not yet."""

    def to_json(self) -> dict[str, Any]:
        data = {**self.__dict__, "ts_event": format_timestamp(self.ts_event), "since": _shown(self.since)}
        return {k: v for k, v in data.items() if v is not None}


def _shown(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


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


@dataclass(frozen=True)
class InForce:
    """What is in force at a moment of the ledger's clock (``in_force``), and what is scheduled
    after it."""

    limits: list[Limit]
    states: list[TradingStateRow]
    scheduled_limits: list[Limit]
    scheduled_states: list[TradingStateRow]


def _facts(ledger: OrderLedger, table: str) -> list[tuple[Any, ...]]:
    with ledger.db.read() as tx:
        return list(tx.execute(f"SELECT * FROM {table} ORDER BY position").fetchall())


def _since(fact: LimitFact | StateFact) -> datetime:
    """When a fact takes effect: its venue time, or when the ledger recorded it if later."""
    return max(parse_timestamp(fact.ts_event), parse_timestamp(fact.ts_recorded))


def in_force(ledger: OrderLedger, at: datetime | None = None) -> InForce:
    """The one answer to "what is in force at ``at``" (None: the ledger's clock now): of each
    limit (scope, target, kind) and each account's trading state, the latest setting taking
    effect at or before ``at`` (``_since``: never before the ledger recorded it), a limit unless
    it is a clearing; and every fact recorded by ``at`` taking effect after it, scheduled (one
    recorded later was not known then). ``check``, ``limits``,
    ``trading_states``, the standing of the limits, the HTTP API and the page read it."""
    moment = ledger._clock() if at is None else at
    latest: dict[tuple[str, str, str], tuple[datetime, LimitFact]] = {}
    later_limits: list[Limit] = []
    for row in _facts(ledger, LIMITS_TABLE.name):
        fact = LIMITS_TABLE.from_row(row)
        since, key = _since(fact), (fact.scope, fact.target, fact.kind)
        if parse_timestamp(fact.ts_recorded) > moment:
            continue  # not known yet at that moment
        if since > moment:
            if fact.value is not None:
                later_limits.append(_limit(fact, since, scheduled=True))
        elif key not in latest or latest[key][0] <= since:
            latest[key] = (since, fact)
    current: dict[str, tuple[datetime, StateFact]] = {}
    later_states: list[TradingStateRow] = []
    for row in _facts(ledger, STATES_TABLE.name):
        state = STATES_TABLE.from_row(row)
        since = _since(state)
        if parse_timestamp(state.ts_recorded) > moment:
            continue
        if since > moment:
            later_states.append(_state(state, since, scheduled=True))
        elif state.account not in current or current[state.account][0] <= since:
            current[state.account] = (since, state)
    return InForce(
        [_limit(f, since) for since, f in latest.values() if f.value is not None],
        [_state(f, since) for _, (since, f) in sorted(current.items())],
        sorted(later_limits, key=lambda x: (x.since or moment, x.key)),
        sorted(later_states, key=lambda x: (x.since or moment, x.account)),
    )


def _limit(fact: LimitFact, since: datetime, *, scheduled: bool = False) -> Limit:
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
        since,
        scheduled,
    )


def _state(fact: StateFact, since: datetime, *, scheduled: bool = False) -> TradingStateRow:
    return TradingStateRow(
        fact.account, fact.state, fact.set_by, fact.reason, parse_timestamp(fact.ts_event), since, scheduled
    )


def limits_in_force(ledger: OrderLedger, as_of: datetime | None = None) -> list[Limit]:
    """The limits in force at ``as_of`` (None: the ledger's clock now): ``in_force``'s."""
    return in_force(ledger, as_of).limits


def limits(ledger: OrderLedger, as_of: datetime | None = None) -> list[LimitRow]:
    """``OrderLedger.limits``: those in force by scope, target and kind, then those scheduled."""
    found = in_force(ledger, as_of)
    now = sorted((LimitRow(**limit.__dict__) for limit in found.limits), key=lambda row: row.key)
    return now + [LimitRow(**limit.__dict__) for limit in found.scheduled_limits]


def trading_states(ledger: OrderLedger, as_of: datetime | None = None) -> list[TradingStateRow]:
    """``OrderLedger.trading_states``: each account's state in force ("" first: every
    account's), then those scheduled."""
    found = in_force(ledger, as_of)
    return found.states + found.scheduled_states


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


def held(reads: Reads, limit: Limit, order: Worst) -> Held:
    """The one function the position and gross exposure limits read (an exposure module plugs in
    here). For an instrument: its positions summed over accounts and venues; for an account: its
    positions (the order's instrument's, for the net quantity). The worst case fills every open
    order of the scope in full, the buys and the sells apart, with this one on its side; gross
    exposure adds each position's notional at its latest mark (at cost without one), each open
    order's leaves at its limit price, and this order's. For an underlying: the exposure read
    (``application.exposure``) netted across accounts and venues, the order added to it."""
    if limit.scope == "underlying":
        return _underlying_held(reads.exposure(), limit.target, order)
    rows, working = reads.scope(
        limit.scope, order.instrument if limit.scope == "instrument" else order.account
    )
    mine = order.instrument
    net = sum((r.quantity for r in rows if r.instrument == mine), start=Decimal(0))
    buys = sum(
        (o.leaves_quantity for o in working if o.instrument == mine and o.side is Side.BUY), Decimal(0)
    )
    sells = sum(
        (o.leaves_quantity for o in working if o.instrument == mine and o.side is Side.SELL), Decimal(0)
    )
    longest = net + buys + max(order.delta, Decimal(0))
    shortest = net - sells + min(order.delta, Decimal(0))
    position = max(abs(longest), abs(shortest))
    before = max(abs(net + buys), abs(net - sells))
    if order.notional is None:
        return Held(position, None, "no price to value the order: no limit price and no mark", before)
    currencies = {r.pnl_currency for r in rows}
    if len(currencies) > 1:
        shown = ", ".join(sorted(map(str, currencies)))
        return Held(position, None, f"positions in several currencies ({shown})", before)
    if any(o.price is None for o in working):
        return Held(position, None, "an open market order has no price to value it at", before)
    gross = sum((r.notional for r in rows), start=order.notional)
    gross += sum(
        (order.terms.value(o.leaves_quantity, o.price) for o in working if o.instrument == mine), Decimal(0)
    )
    others = [o for o in working if o.instrument != mine]
    gross += sum((o.leaves_quantity * o.price for o in others), Decimal(0))
    return Held(position, gross, "", before)


def _underlying_held(book: ExposureBook, underlying: str, order: Worst) -> Held:
    """An underlying's worst case (``application.exposure``, netted across accounts and venues):
    the position is the larger of the worst long and worst short units, every open order of the
    underlying filled on its side and this order on its own; the gross exposure is the larger of
    the two worst values, in the one currency they are in."""
    adding = []
    if order.delta:
        side = Side.BUY if order.delta > 0 else Side.SELL
        adding.append(
            Working(order.account, order.venue, order.instrument, side, abs(order.delta), order.price)
        )
    before = {r.underlying: r for r in fold_exposure(book, ("underlying",))}.get(underlying)
    after = {r.underlying: r for r in fold_exposure(book, ("underlying",), adding=adding)}.get(underlying)
    if after is None:
        return Held(Decimal(0), Decimal(0), "", Decimal(0))
    position = max(abs(after.worst_long_units), abs(after.worst_short_units))
    was = Decimal(0) if before is None else max(abs(before.worst_long_units), abs(before.worst_short_units))
    if after.unpriced:
        return Held(position, None, f"no price to value {', '.join(after.unpriced)}", was)
    currencies = sorted({*after.worst_long_value, *after.worst_short_value})
    if len(currencies) > 1:
        return Held(position, None, f"values in several currencies ({', '.join(currencies)})", was)
    values = [*after.worst_long_value.values(), *after.worst_short_value.values()]
    return Held(position, max(map(abs, values), default=Decimal(0)), "", was)


Figure = tuple[Decimal | None, str, Decimal | None]
"""A figure after the order (None: why it cannot be worked out), and the figure without the order
for what an order can shrink (None for what it cannot: a day's loss, a count, its own notional)."""


def _position(reads: Reads, limit: Limit, order: Worst) -> Figure:
    found = reads.held(limit, order)
    return found.position, "", found.position_before


def _gross(reads: Reads, limit: Limit, order: Worst) -> Figure:
    found = reads.held(limit, order)
    return found.gross, found.why_unknown, None


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
    """The orders of the scope the ledger recorded within the last ``interval`` seconds of its
    clock (``order.now``), this one too: by the time each request was recorded, never by the
    ``ts`` its sender put on it (``requested_within``)."""
    assert limit.interval is not None
    since = order.now - timedelta(seconds=limit.interval)
    if limit.scope == "tag":
        name, _, value = limit.target.partition("=")
        tags = requested_within(reads.ledger, since, order.now, tags=True)
        return Decimal(sum(1 for found in tags if found.get(name) == value) + 1), "", None
    if limit.scope == "account":
        found = requested_within(reads.ledger, since, order.now, account=order.account)
    else:
        found = requested_within(reads.ledger, since, order.now, instrument=order.instrument)
    return Decimal(len(found) + 1), "", None


def requested_within(
    ledger: OrderLedger,
    since: datetime,
    until: datetime,
    *,
    account: str | None = None,
    instrument: str | None = None,
    tags: bool = False,
) -> list[Any]:
    """The orders the ledger recorded after ``since`` and up to ``until`` (its own times, the
    log's ``ts_recorded``, read through its index), of an account or instrument: each one's
    client order ID, or with ``tags`` its tags (read from its request's payload)."""
    clauses = ["event_type = ?", "ts_recorded > ?", "ts_recorded <= ?"]
    params: list[Any] = ["OrderRequested", format_timestamp(since), format_timestamp(until)]
    for column, value in (("account", account), ("instrument", instrument)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = " AND ".join(clauses)
    with ledger.db.read() as tx:
        if not tags:
            return [row[0] for row in tx.all(f"SELECT client_order_id FROM events WHERE {where}", params)]
        rows = tx.all(f"SELECT {EVENT_SELECT} FROM events WHERE {where}", params)
    return [getattr(event, "tags", {}) for _, event, _ in decoded_events(ledger.mapper, rows)]


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


RISK_FACTS = ("LimitSet", "TradingStateSet")
"""The events that can make the door deny anything: without one in the log it has nothing to
judge, and a batch of our requests is recorded as one commit, as every other batch is."""


def armed(ledger: OrderLedger) -> bool:
    """Whether a limit or a trading state was ever recorded (one look-up in the log's index by
    event type, inside the write transaction the door runs in: exact across processes)."""
    with ledger.db.read() as tx:
        marks = ", ".join("?" for _ in RISK_FACTS)
        found = tx.one(f"SELECT 1 FROM events WHERE event_type IN ({marks}) LIMIT 1", RISK_FACTS)
    return found is not None


def at_the_door(ledger: OrderLedger, item: Any, now: datetime) -> None:
    """Judge one request of ours (``item``, an ``Inbound`` holding a ``RequestMessage``) at the
    ledger's time ``now``, inside the write transaction that then records it: a breach denies it
    (``item.denied``, with ``item.breaches``), unless the request carries an ``override``, which
    lets it through with the breaches it passed, who and why noted in the journal."""
    request = item.messages[0]
    result = check(ledger, request, now)
    if result.allowed:
        return
    breaches = result.to_json()["breaches"]
    override = request.override
    if override is None:
        item.denied, item.breaches = "; ".join(result.reasons), breaches
        return
    item.breaches = breaches
    item.notes.append(
        f"risk override by {override['by']} ({override['reason']}) of: {'; '.join(result.reasons)}"
    )


def check(ledger: OrderLedger, request: Any, now: datetime) -> CheckResult:
    """Allowed, or denied with every limit the order would breach and what its state forbids."""
    order = worst_case(ledger, request, now)
    breaches: list[Breach] = []
    standing = in_force(ledger, now)
    current = state_of(standing.states, order.account)
    state = "active" if current is None else current.state
    if state != "active" and current is not None:
        before = sum(
            (r.quantity for r in ledger.positions(account=order.account, instrument=order.instrument)),
            start=Decimal(0),
        )
        refusal = state_refusal(state, before, order.delta)
        if refusal is not None:
            breaches.append(
                Breach(f"{refusal} (set by {current.set_by}: {current.reason or 'no reason given'})")
            )
    reads = Reads(ledger, order)
    for limit in standing.limits:
        if not limit.applies(order.account, order.instrument, order.underlying, order.tags):
            continue
        figure, why, before = FIGURES[limit.kind](reads, limit, order)
        breach = judge(limit, figure, why, before)
        if breach is not None:
            breaches.append(breach)
    losses = [b for b in breaches if b.limit is not None and b.limit.kind == DAILY_LOSS_RULE and b.figure]
    if losses and state != "halted":
        _halt_for_loss(ledger, order, losses[0])
        state = "halted"
    return CheckResult(not breaches, state, breaches)


def _halt_for_loss(ledger: OrderLedger, order: Worst, breach: Breach) -> None:
    """The daily loss rule: an account past its daily loss limit is halted, as a fact."""
    ledger.record(
        {
            "type": "trading_state",
            "ts": format_timestamp(order.now),
            "account": order.account,
            "state": "halted",
            "set_by": DAILY_LOSS_RULE,
            "reason": breach.reason,
            "source": "rule",
        },
        strict=True,
    )


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


def record_fact(ledger: OrderLedger, message: dict[str, Any]) -> Result:
    """Record a risk fact; a refused one raises its one-line error."""
    return ledger.record(message, strict=True)


__all__ = [
    "DAILY_LOSS_RULE",
    "CheckResult",
    "Held",
    "InForce",
    "LimitRow",
    "Reads",
    "TradingStateRow",
    "Worst",
    "check",
    "held",
    "in_force",
    "limits",
    "limits_in_force",
    "request_of",
    "state_of",
    "trading_states",
    "worst_case",
]
