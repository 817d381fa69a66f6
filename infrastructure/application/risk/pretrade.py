"""Limits, trading states and the pre-trade check (``OrderLedger.risk_controls.limits``, ``check`` …).

Limits and states are facts in the log (``domain.risk``), read back from their view
(``projections.risk``) as they stood at any venue time. ``check`` works out, for each limit that
bears on an order, the figure the order's worst case would make (the order filled in full at its
limit price, a market order at the latest mark) and hands it to the domain's ``judge``. The
figures are pure (``domain.risk_figures.FIGURES``, one function per kind); what they ask of the
state is read here from the views at that moment (``Reads``, their ``FigureSource``): positions
and gross exposure through ``held`` (the one place an exposure module plugs in), the day's P&L,
the orders of a window. The replay of limits over the log (``application.risk.limits_replay``) asks
the same figures of a state it folds instead.

A limit whose figure cannot be worked out (no price for a market order, positions in several
currencies, an underlying's exposure) denies the order, saying why: a check that cannot see a
figure does not take it as within its limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import BreachRecorded
from orderledger.domain.exposure import Working, worst_price
from orderledger.domain.identity import IdentityKey
from orderledger.domain.risk import (
    GLOBAL,
    TRADING_STATES,
    Breach,
    Limit,
    PositionBook,
    lifted,
    record_breach,
    response_state,
    state_refusal,
)
from orderledger.domain.risk_figures import (
    FIGURES,
    Held,
    Worst,
    day_loss,
    held_in,
    limit_breaches,
    position_book,
    underlying_held,
    worst_of,
)
from orderledger.domain.values import (
    Side,
    format_decimal,
    format_timestamp,
    parse_timestamp,
)
from orderledger.infrastructure.application.reads.daily_pnl import day_pnl_path
from orderledger.infrastructure.application.reads.view_queries import latest_mark
from orderledger.infrastructure.application.risk.exposure_rows import (
    ExposureBook,
    fold_exposure,
    read_exposure,
)
from orderledger.infrastructure.audit.search import EVENT_SELECT, decoded_events
from orderledger.projections.risk import LIMITS_TABLE, STATES_TABLE, LimitFact, StateFact

if TYPE_CHECKING:
    from orderledger.infrastructure.ingest.inbound import Result

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
            "since": _shown(self.since),
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
    since: datetime | None = None
    """When it takes effect: its ``ts_event``, or the time the ledger recorded it if later."""
    scheduled: bool = False
    """Dated after the moment asked about: it takes effect at ``since``, not yet."""
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
        return self.effective_state or self.state

    def to_json(self) -> dict[str, Any]:
        data = {
            **self.__dict__,
            "ts_event": format_timestamp(self.ts_event),
            "since": _shown(self.since),
            "until": None if self.until is None else format_timestamp(self.until),
        }
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
    limit_facts: list[LimitFact] = field(default_factory=list)
    """The settings behind ``limits``, with their log positions."""


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
    histories: dict[str, list[tuple[datetime, StateFact]]] = {}
    later_states: list[TradingStateRow] = []
    for row in _facts(ledger, STATES_TABLE.name):
        state = STATES_TABLE.from_row(row)
        since = _since(state)
        if parse_timestamp(state.ts_recorded) > moment:
            continue
        if since > moment:
            later_states.append(_state(state, since, scheduled=True))
        else:
            histories.setdefault(state.account, []).append((since, state))
    current: dict[str, tuple[datetime, StateFact]] = {}
    for account, history in histories.items():
        history.sort(key=lambda pair: pair[0])  # (stable: facts of one time in log order)
        standing = _standing_fact([fact for _, fact in history], moment)
        taking = dict((id(f), t) for t, f in history).get(id(standing))
        current[account] = (parse_timestamp(standing.ts_event) if taking is None else taking, standing)
    overall = current[GLOBAL][1].state if GLOBAL in current else "active"
    return InForce(
        [_limit(f, since) for since, f in latest.values() if f.value is not None],
        [_state(f, since, overall=overall) for _, (since, f) in sorted(current.items())],
        sorted(later_limits, key=lambda x: (x.since or moment, x.key)),
        sorted(later_states, key=lambda x: (x.since or moment, x.account)),
        [f for _, f in latest.values() if f.value is not None],
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
        fact.response,
    )


def _state(
    fact: StateFact, since: datetime, *, scheduled: bool = False, overall: str | None = None
) -> TradingStateRow:
    """A state fact as a row; ``overall`` (the global state in force) gives the state the
    account's orders are checked under, for a state in force (a scheduled one has none yet)."""
    effective, where = ("", "account") if overall is None else _in_force(fact, overall)
    return TradingStateRow(
        fact.account,
        fact.state,
        fact.set_by,
        fact.reason,
        parse_timestamp(fact.ts_event),
        since,
        scheduled,
        effective,
        where,
        None if fact.until is None else parse_timestamp(fact.until),
    )


def limits_in_force(ledger: OrderLedger, as_of: datetime | None = None) -> list[Limit]:
    """The limits in force at ``as_of`` (None: the ledger's clock now): ``in_force``'s."""
    return in_force(ledger, as_of).limits


def limit_facts_in_force(ledger: OrderLedger, as_of: datetime | None = None) -> list[LimitFact]:
    """The settings behind the limits in force at ``as_of`` (``in_force``'s), each with its log
    position, which a response cites."""
    return in_force(ledger, as_of).limit_facts


def limit_of(fact: LimitFact) -> Limit:
    """A limit setting as the check applies it."""
    return _limit(fact, _since(fact))


def limits(ledger: OrderLedger, as_of: datetime | None = None) -> list[LimitRow]:
    """``OrderLedger.risk_controls.limits``: those in force by scope, target and kind, then those
    scheduled."""
    found = in_force(ledger, as_of)
    now = sorted((LimitRow(**limit.__dict__) for limit in found.limits), key=lambda row: row.key)
    return now + [LimitRow(**limit.__dict__) for limit in found.scheduled_limits]


def trading_states(ledger: OrderLedger, as_of: datetime | None = None) -> list[TradingStateRow]:
    """``OrderLedger.risk_controls.trading_states``: each account's state in force ("" first: every
    account's), with the state its orders are checked under (the stricter of its own and the
    global), then those scheduled. A state set ``until`` a time is in force only before it:
    after it, the latest state set before it that is still in force applies again, or
    ``active`` (since that time) when there is none."""
    found = in_force(ledger, as_of)
    return found.states + found.scheduled_states


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


def worst_case(ledger: OrderLedger, request: Any, now: datetime) -> Worst:
    """The worst case of a request message (``RequestMessage``): at its limit price, else at the
    latest mark of its venue and instrument, valued by the definition in force."""
    definitions = ledger.venues.instruments(venue=request.venue, instrument=request.instrument)
    price = request.price
    if price is None:
        mark = latest_mark(ledger.db, request.venue, request.instrument)
        price = worst_price(None, request.trigger_price, None if mark is None else mark[0])
    return worst_of(
        request.account,
        request.venue,
        request.instrument,
        request.side,
        request.quantity,
        price,
        definitions[0].definition if definitions else None,
        request.tags,
        now,
        request.quote_currency,
        bool(request.reduce_only),
    )


# ---------------------------------------------------------------------- the figures


class Reads:
    """What one check (or one standing of the limits) reads from the views, each read once
    however many limits ask for it: the positions and open orders of a scope, the exposure
    (``application.risk.exposure_rows``), and what ``held`` worked out of them for an order. It is the
    ``FigureSource`` the pure figures (``domain.risk_figures.FIGURES``) ask."""

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
        return position_book(*self.scope("account", order.account), order.instrument)

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

    def day_loss(self, limit: Limit, order: Worst) -> tuple[Decimal | None, str]:
        """The loss of the account's UTC day (the ledger's clock's) so far: realized − fees + cash
        flows, and unrealized at the day's last marks (``pnl_daily``), as a positive number."""
        day = order.now.date().isoformat()
        rows = [
            r
            for r in self.ledger.analytics.pnl_daily(by="account")
            if r.day == day and r.group == limit.target
        ]
        if not rows:
            return Decimal(0), ""
        if len(rows) > 1:
            return None, "the day's P&L is in several currencies"
        return day_loss(rows[0].realized_pnl_net, rows[0].unrealized_pnl)

    def drawdown(self, limit: Limit, order: Worst) -> tuple[Decimal | None, str]:
        """The fall of the account's P&L for the UTC day (``day_loss``'s figure, taken as the day
        opens and after each of its fills, cash flows and marks in venue time) from its high that
        day to where it stands (``daily_pnl.day_pnl_path``)."""
        day = order.now.date().isoformat()
        path = day_pnl_path(self.ledger.db, limit.target, day, order.now, self.ledger.analytics.cost_basis())
        return path.drawdown, path.why

    def orders_within(self, limit: Limit, order: Worst, since: datetime) -> int:
        """The orders of the scope the ledger recorded from ``since`` to the order's time (its
        clock's): by the time each request was recorded, never by the ``ts`` its sender put on
        it (``requested_within``)."""
        after = since - timedelta(microseconds=1)
        if limit.scope == "tag":
            name, _, value = limit.target.partition("=")
            tags = requested_within(self.ledger, after, order.now, tags=True)
            return sum(1 for found in tags if found.get(name) == value)
        if limit.scope == "account":
            return len(requested_within(self.ledger, after, order.now, account=order.account))
        return len(requested_within(self.ledger, after, order.now, instrument=order.instrument))


def held(reads: Reads, limit: Limit, order: Worst) -> Held:
    """The one function the position and gross exposure limits read (an exposure module plugs in
    here): the scope's positions and open orders read from the views, handed to the pure
    ``domain.risk_figures.held_in``. For an instrument: its positions summed over accounts and
    venues; for an account: its positions (the order's instrument's, for the net quantity). For an
    underlying: the exposure read (``application.risk.exposure_rows``) netted across accounts and venues,
    without and with the order (``underlying_held``)."""
    if limit.scope == "underlying":
        return underlying_exposure_held(reads.exposure(), limit.target, order)
    rows, working = reads.scope(
        limit.scope, order.instrument if limit.scope == "instrument" else order.account
    )
    return held_in(rows, working, order)


def underlying_exposure_held(book: ExposureBook, underlying: str, order: Worst) -> Held:
    """An underlying's exposure without and with the order added as an open order on its side."""
    adding = []
    if order.delta:
        side = Side.BUY if order.delta > 0 else Side.SELL
        adding.append(
            Working(
                order.account,
                order.venue,
                order.instrument,
                side,
                abs(order.delta),
                order.price,
                reduce_only=order.reduce_only,
            )
        )
    before = {r.underlying: r for r in fold_exposure(book, ("underlying",))}.get(underlying)
    after = {r.underlying: r for r in fold_exposure(book, ("underlying",), adding=adding)}.get(underlying)
    return underlying_held(before, after)


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


# ---------------------------------------------------------------------- the breaches recorded


DENIALS_SHOWN = 500
"""How many breach facts ``denials`` answers when not asked otherwise: the latest."""
DENIALS_MOST = 5_000
"""The most it answers at once (``last``)."""


@dataclass(frozen=True)
class DenialRow:
    """A breach fact (``BreachRecorded``): its log position, the ledger's time, what became of it
    (``action``), the request's order coordinates, each breach citing the limit or state event it
    applied, and for an override who let it through and why."""

    position: int
    ts: datetime
    action: str
    client_order_id: str
    account: str
    venue: str
    instrument: str
    breaches: list[dict[str, str]]
    by: str | None = None
    why: str | None = None

    @property
    def limits(self) -> list[str]:
        """The names of the limits breached (a kind, or ``trading_state``)."""
        return [b.get("limit", "") for b in self.breaches]

    def to_json(self) -> dict[str, Any]:
        data = {**self.__dict__, "ts": format_timestamp(self.ts)}
        return {k: v for k, v in data.items() if v is not None}


def denials(
    ledger: OrderLedger,
    account: str | None = None,
    limit: str | None = None,
    since: datetime | None = None,
    last: int = DENIALS_SHOWN,
) -> list[DenialRow]:
    """``OrderLedger.risk_controls.denials``: the latest ``last`` breach facts in log order, of ``account``,
    citing a limit of kind ``limit`` (or ``trading_state``), recorded from ``since`` on (the
    ledger's time). Read from the log by its index on event type."""
    if not 0 < last <= DENIALS_MOST:
        raise InvalidInputError(f"last must be 1 to {DENIALS_MOST}", field="last")
    clauses, params = ["event_type = ?"], ["BreachRecorded"]
    if account is not None:
        clauses.append("account = ?")
        params.append(account)
    if since is not None:
        clauses.append("ts_recorded >= ?")
        params.append(format_timestamp(since))
    bound = "" if limit is not None else f" LIMIT {last}"
    where = " AND ".join(clauses)
    with ledger.db.read() as tx:
        rows = tx.all(
            f"SELECT {EVENT_SELECT} FROM events WHERE {where} ORDER BY notification_id DESC{bound}", params
        )
    found = []
    for position, event, _ in decoded_events(ledger.mapper, rows):
        assert isinstance(event, BreachRecorded)
        row = DenialRow(
            position,
            event.ts_recorded,
            event.action,
            event.client_order_id,
            event.account,
            event.venue,
            event.instrument,
            list(event.breaches),
            event.by,
            event.why,
        )
        if limit is None or limit in row.limits:
            found.append(row)
    return found[:last][::-1]


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
    lets it through with the breaches it passed, who and why noted in the journal. Either way the
    breach is a fact recorded in the same commit (``item.breach``: a ``BreachRecorded``)."""
    request = item.messages[0]
    result = check(ledger, request, now)
    if result.allowed:
        return
    breaches = result.to_json()["breaches"]
    override = request.override
    item.breach = _breach_fact(request, result.breaches, now, override)
    if override is None:
        item.denied, item.breaches = "; ".join(result.reasons), breaches
        return
    item.breaches = breaches
    item.notes.append(
        f"risk override by {override['by']} ({override['reason']}) of: {'; '.join(result.reasons)}"
    )


def flag_at_the_door(ledger: OrderLedger, item: Any, now: datetime) -> None:
    """Judge the orders a venue's fact (``item``) reports that the ledger does not hold yet, at
    the ledger's time ``now``: such a fact is never refused; each order that breaches a limit or
    state in force is flagged (``item.flags``, by request: a ``BreachRecorded``), and the batch
    records the fact and an anomaly on the order with it (``ingest.risk_facts.book_flag``)."""
    # Imported here: the message models load with the writes (``application.lazy_imports``).
    from orderledger.infrastructure.messages.models import RequestMessage

    processor = ledger.processor
    for message in item.messages:
        if not isinstance(message, RequestMessage):
            continue
        if message.client_order_id is not None and processor.load_order(message.client_order_id):
            continue  # an order the ledger holds, reported again: judged when it was first recorded
        if message.venue_order_id and processor.lookup_identity(
            IdentityKey.venue_order(message.venue, message.venue_order_id)
        ):
            continue
        result = check(ledger, message, now)
        if not result.allowed:
            flags = item.flags = item.flags or {}
            flags[id(message)] = _breach_fact(message, result.breaches, now, None, "flagged")


def _breach_fact(
    request: Any, breaches: list[Breach], now: datetime, override: Any, action: str = "denied"
) -> BreachRecorded:
    """The breach fact of a request the door judged: denied, overridden (``override``: who and
    why) or flagged."""
    return record_breach(
        "overridden" if override is not None else action,
        breaches,
        client_order_id=request.client_order_id or "",
        account=request.account,
        venue=request.venue,
        instrument=request.instrument,
        now=now,
        source=request.source,
        by=None if override is None else override["by"],
        why=None if override is None else override["reason"],
    )


def check(ledger: OrderLedger, request: Any, now: datetime) -> CheckResult:
    """Allowed, or denied with every limit the order would breach and what its state forbids."""
    order = worst_case(ledger, request, now)
    breaches: list[Breach] = []
    standing = in_force(ledger, now)
    current = state_of(standing.states, order.account)
    state = "active" if current is None else current.state
    reads = Reads(ledger, order)
    if state != "active" and current is not None:
        refusal = state_refusal(state, reads.book(order), order.delta, order.reduce_only)
        if refusal is not None:
            breaches.append(
                Breach(
                    f"{refusal} (set by {current.set_by}: {current.reason or 'no reason given'})",
                    state=(current.account, current.state, current.ts_event),
                )
            )
    breaches += limit_breaches(standing.limits, reads, order)
    losses = [b for b in breaches if b.limit is not None and b.limit.kind == DAILY_LOSS_RULE and b.figure]
    if losses and state == "active":
        state = _halt_for_loss(ledger, order, losses[0], standing.limit_facts)
    return CheckResult(not breaches, state, breaches)


def _halt_for_loss(ledger: OrderLedger, order: Worst, breach: Breach, facts: list[LimitFact]) -> str:
    """The daily loss rule: an account past its daily loss limit is set to the limit's response
    (``LOSS_STATE`` unless it names ``halt``), as a fact whose reason cites the limit's event, as
    a response's does; returns that state."""
    assert breach.limit is not None and breach.figure is not None
    limit = breach.limit
    state = response_state(limit.response)
    fact = next(f for f in facts if (f.scope, f.target, f.kind) == limit.key)
    ledger.record(
        {
            "type": "trading_state",
            "ts": format_timestamp(order.now),
            "account": order.account,
            "state": state,
            "set_by": DAILY_LOSS_RULE,
            "reason": cited(fact, format_decimal(breach.figure)),
            "source": "rule",
        },
        strict=True,
    )
    return state


def cited(fact: LimitFact, figure: str) -> str:
    """The reason of a state a loss or drawdown limit sets: the limit's event (its log
    position, value, who set it and when) and the figure."""
    assert fact.value is not None
    return (
        f"{fact.kind} {format_decimal(fact.value)} on account {fact.target}"
        f" (limit event {fact.position}, set by {fact.set_by} at {fact.ts_event}): is {figure}"
    )


def request_of(spec: dict[str, Any], now: datetime) -> Any:
    """The request message of a spec given to ``check`` (its client order ID may be absent)."""
    # Imported here: the message models load with the writes (``application.lazy_imports``), so a
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
    "FIGURES",
    "CheckResult",
    "DenialRow",
    "Held",
    "InForce",
    "LimitRow",
    "Reads",
    "TradingStateRow",
    "Worst",
    "check",
    "cited",
    "denials",
    "held",
    "in_force",
    "limits",
    "limits_in_force",
    "request_of",
    "state_of",
    "trading_states",
    "underlying_exposure_held",
    "worst_case",
]
