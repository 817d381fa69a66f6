"""Risk limits and trading states as facts, and the rules a pre-trade check applies.

A limit is set (``LimitSet``) and cleared (``LimitCleared``) like any other fact: journaled with
who set it (``set_by``) and when (``ts_event``, venue time), kept in the log, answerable as of any
time. Each setting is an aggregate of its own keyed by (scope, target, kind, time), so the same
message again is a duplicate and another value at the same instant a clear error, as a mark's.
A trading state (``TradingStateSet``) is keyed by (account, time); account "" is every account's.

What a check does with them is pure and lives here too: which limits apply to an order
(``Limit.applies``), whether an order reduces a position (``PositionBook.reduces``), whether a
figure after the order's worst case is past a limit (``judge``), and what a trading state
refuses (``state_refusal``). The figures themselves are worked out by ``domain.risk_figures``
from a state the caller gives: the check reads it from the views, the replay of limits folds it
from the log.

Every limit is "at most": a figure past its value (strictly greater) is a breach; a figure equal
to it is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid5

from orderledger.domain.decisions import Stamp
from orderledger.domain.errors import FactConflictError, InvalidInputError
from orderledger.domain.events import BreachRecorded, LimitCleared, LimitSet, TradingStateSet
from orderledger.domain.values import format_decimal, format_timestamp

LIMIT_NAMESPACE = UUID("3f0a6c1e-2b7d-4e59-8a41-6d9c0e7b2f13")
STATE_NAMESPACE = UUID("9a4e2d70-5c1b-4f86-b3e2-0d7f6a8c1e45")
BREACH_NAMESPACE = UUID("c2d85b3a-7e14-4a0f-9b6d-51e8a3f07c29")
"""Distinct from the other facts' namespaces: no aggregate ID collides."""

LIMIT_SCOPES = ("account", "underlying", "instrument", "tag")
"""What a limit applies to: an account, an underlying asset, an instrument (summed over accounts
and venues), or the orders carrying a strategy tag (``NAME=VALUE``)."""

LIMIT_KINDS: dict[str, tuple[str, ...]] = {
    "max_position": ("account", "underlying", "instrument"),
    "max_gross_exposure": ("account", "underlying", "instrument"),
    "max_order_notional": ("account", "underlying", "instrument", "tag"),
    "max_daily_loss": ("account",),
    "max_drawdown": ("account",),
    "max_orders": ("account", "instrument", "tag"),
}
"""Each kind of limit and the scopes it may have (positions and P&L are not kept per tag, so a
tag limits only what one order is: its notional and how many are sent):

* max_position: the absolute net quantity held (of the order's instrument, for an account);
* max_gross_exposure: the sum of the absolute notionals held, at the latest marks, the open
  orders' worst case figured per side;
* max_order_notional: one order's quantity × contract size × price;
* max_daily_loss: the UTC day's loss: realized − fees + cash flows, and unrealized at the marks;
* max_drawdown: the fall of that day's P&L from its high;
* max_orders: orders requested within the last ``interval`` seconds, this one included."""

TRADING_STATES = ("active", "reduce_only", "halted")
"""active: every order is checked against the limits; reduce_only: only orders that reduce the
absolute position (``PositionBook.reduces``, the open orders on their side counted) are allowed;
halted: no order is."""

RESPONSES = {"reduce_only": "reduce_only", "halt": "halted"}
"""What a loss or drawdown limit may name as its response (``LimitSet.response``), and the
trading state each sets when the account passes the limit. reduce_only, the default, lets the
account close what it holds; halt stops every order."""
RESPONDING = ("max_daily_loss", "max_drawdown")
"""The kinds of limit that take a response: the ledger sets it on its own when the figure passes
the limit (``infrastructure.application.risk.loss_responses``), without waiting for an order."""

GLOBAL = ""
"""The account of a trading state that applies to every account."""


def limit_id_for(scope: str, target: str, kind: str, ts_event: datetime) -> UUID:
    """The aggregate ID of one setting (or clearing) of a limit."""
    return uuid5(LIMIT_NAMESPACE, f"{scope}\n{target}\n{kind}\n{format_timestamp(ts_event)}")


def state_id_for(account: str, ts_event: datetime) -> UUID:
    """The aggregate ID of one trading state set on an account ("" for every account)."""
    return uuid5(STATE_NAMESPACE, f"{account}\n{format_timestamp(ts_event)}")


def breach_id_for(client_order_id: str, account: str, ts_event: datetime, action: str) -> UUID:
    """The aggregate ID of one breach fact (``BreachRecorded``)."""
    return uuid5(BREACH_NAMESPACE, f"{client_order_id}\n{account}\n{format_timestamp(ts_event)}\n{action}")


BREACH_ACTIONS = ("denied", "overridden", "flagged")
"""What became of what breached (``BreachRecorded.action``): a request of ours refused, one let
through by the risk role, a venue's fact recorded as it is."""
STATE_BREACH = "trading_state"
"""The name a breach of a trading state goes by where a limit's would be its kind."""


def response_state(response: str | None) -> str:
    """The trading state a limit's response sets (None: the default, reduce_only)."""
    return RESPONSES[response or "reduce_only"]


def checked_limit(
    scope: str,
    target: str,
    kind: str,
    value: Decimal | None,
    interval: int | None,
    response: str | None = None,
) -> None:
    """A limit's fields checked by the rules of ``LIMIT_KINDS``; one-line error otherwise."""
    if scope not in LIMIT_SCOPES:
        raise InvalidInputError(f"scope must be one of {'|'.join(LIMIT_SCOPES)}", field="scope")
    if kind not in LIMIT_KINDS:
        raise InvalidInputError(f"kind must be one of {'|'.join(LIMIT_KINDS)}", field="kind")
    if scope not in LIMIT_KINDS[kind]:
        allowed = "|".join(LIMIT_KINDS[kind])
        raise InvalidInputError(f"a {kind} limit's scope must be one of {allowed}", field="scope")
    if scope == "tag" and "=" not in target:
        raise InvalidInputError("a tag limit's target is NAME=VALUE (strategy=mm)", field="target")
    if value is not None and (not value.is_finite() or value < 0):
        raise InvalidInputError("value must be a number, zero or more", field="value")
    if (interval is not None) != (kind == "max_orders" and value is not None):
        if interval is None:
            raise InvalidInputError("a max_orders limit needs interval (seconds)", field="interval")
        raise InvalidInputError("only a max_orders limit takes interval", field="interval")
    if interval is not None and interval <= 0:
        raise InvalidInputError("interval must be a positive number of seconds", field="interval")
    if response is not None:
        if response not in RESPONSES:
            raise InvalidInputError(f"response must be one of {'|'.join(RESPONSES)}", field="response")
        if kind not in RESPONDING or value is None:
            raise InvalidInputError(
                f"only a {' or '.join(RESPONDING)} limit being set takes response", field="response"
            )


def record_limit(
    existing: LimitSet | LimitCleared | None,
    *,
    scope: str,
    target: str,
    kind: str,
    value: Decimal | None,
    set_by: str,
    stamp: Stamp,
    interval: int | None = None,
    reason: str | None = None,
    response: str | None = None,
) -> LimitSet | LimitCleared | None:
    """The event setting a limit (``value`` None: clearing it), or None when ``existing`` already
    records the same; another value at the same instant is a ``FactConflictError``."""
    checked_limit(scope, target, kind, value, interval, response)
    header = {
        "originator_id": limit_id_for(scope, target, kind, stamp.ts_event),
        "originator_version": 1,
        "ts_event": stamp.ts_event,
        "ts_recorded": stamp.ts_recorded,
        "source": stamp.source,
        "account": target if scope == "account" else "",
        "scope": scope,
        "target": target,
        "kind": kind,
        "set_by": set_by,
        "reason": reason,
    }
    event: LimitSet | LimitCleared
    if value is None:
        event = LimitCleared(**header)
    else:
        event = LimitSet(**header, value=value, interval=interval, response=response)
    if existing is None:
        return event
    if _content(existing) != _content(event):
        raise FactConflictError(
            f"{kind} limit of {scope} {target!r} at {format_timestamp(stamp.ts_event)} already recorded"
            f" as {_content(existing)} (now {_content(event)})"
        )
    return None


def _content(event: LimitSet | LimitCleared) -> str:
    if isinstance(event, LimitCleared):
        return "cleared"
    per = f" per {event.interval}s" if event.interval is not None else ""
    then = f" ({event.response})" if event.response is not None else ""
    return f"{format_decimal(event.value)}{per}{then}"


def record_state(
    existing: TradingStateSet | None,
    *,
    account: str,
    state: str,
    set_by: str,
    stamp: Stamp,
    reason: str | None = None,
    until: datetime | None = None,
) -> TradingStateSet | None:
    """The event setting an account's trading state ("" for every account), or None when
    ``existing`` already records it; another state at the same instant is a conflict. With
    ``until`` the state lifts itself then (``lifted``)."""
    if state not in TRADING_STATES:
        raise InvalidInputError(f"state must be one of {'|'.join(TRADING_STATES)}", field="state")
    if until is not None and until <= stamp.ts_event:
        raise InvalidInputError("until must be after the state's time (ts)", field="until")
    event = TradingStateSet(
        originator_id=state_id_for(account, stamp.ts_event),
        originator_version=1,
        ts_event=stamp.ts_event,
        ts_recorded=stamp.ts_recorded,
        source=stamp.source,
        account=account,
        state=state,
        set_by=set_by,
        reason=reason,
        until=until,
    )
    if existing is None:
        return event
    if existing.state != state or existing.until != until:
        shown = repr(account) if account else "every account"
        raise FactConflictError(
            f"trading state of {shown} at {format_timestamp(stamp.ts_event)} already recorded as"
            f" {existing.state}{_until(existing.until)} (now {state}{_until(until)})"
        )
    return None


def _until(until: datetime | None) -> str:
    return "" if until is None else f" until {format_timestamp(until)}"


def lifted(until: datetime | None, now: datetime) -> bool:
    """Whether a state set ``until`` a time has lifted itself at ``now``: it is in force only
    before ``until``."""
    return until is not None and now >= until


# ---------------------------------------------------------------------- what a check applies


@dataclass(frozen=True)
class Limit:
    """A limit in force: the latest setting of its (scope, target, kind) not cleared since."""

    scope: str
    target: str
    kind: str
    value: Decimal
    interval: int | None
    set_by: str
    reason: str | None
    ts_event: datetime
    since: datetime | None = None
    """When it takes effect: its ``ts_event``, or the time the ledger recorded it if later (a
    fact dated in the past is not in force before the ledger knew it)."""
    scheduled: bool = False
    """Dated after the moment asked about: it takes effect at ``since``, not yet."""
    response: str | None = None
    """A loss or drawdown limit's response (``RESPONSES``); None for the other kinds."""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.scope, self.target, self.kind

    def applies(self, account: str, instrument: str, underlying: str | None, tags: dict[str, str]) -> bool:
        """Whether the limit bears on an order of this account, instrument and tags."""
        if self.scope == "account":
            return self.target == account
        if self.scope == "instrument":
            return self.target == instrument
        if self.scope == "underlying":
            return self.target == underlying
        name, _, value = self.target.partition("=")
        return tags.get(name) == value

    def shown(self) -> str:
        per = f" per {self.interval}s" if self.interval is not None else ""
        return f"{self.kind} {format_decimal(self.value)}{per} on {self.scope} {self.target}"


@dataclass(frozen=True)
class Breach:
    """A limit an order would pass, or a trading state that refuses it (``limit`` None)."""

    reason: str
    limit: Limit | None = None
    figure: Decimal | None = None
    """The figure after the order's worst case; None when it could not be worked out (the
    order is then denied: a limit that cannot be evaluated is not taken as met)."""
    state: tuple[str, str, datetime] | None = None
    """The trading state that refuses the order: its account ("" every account's), the state
    and its time (the key of its ``TradingStateSet``)."""

    def cited(self) -> dict[str, str]:
        """The breach as a ``BreachRecorded`` holds it: the limit's name (its kind, or
        ``STATE_BREACH``), scope, target, value and figure, and the event it applied by its
        aggregate ID and version (``cites``, ``cites_version``)."""
        found: dict[str, str] = {"reason": self.reason}
        if self.limit is not None:
            limit = self.limit
            cites = limit_id_for(limit.scope, limit.target, limit.kind, limit.ts_event)
            found |= {"limit": limit.kind, "scope": limit.scope, "target": limit.target}
            found |= {"value": format_decimal(limit.value), "cites_event": "LimitSet"}
            if self.figure is not None:
                found["figure"] = format_decimal(self.figure)
        elif self.state is not None:
            account, state, ts_event = self.state
            cites = state_id_for(account, ts_event)
            found |= {"limit": STATE_BREACH, "scope": "account", "target": account, "value": state}
            found["cites_event"] = "TradingStateSet"
        else:  # pragma: no cover - every breach the check finds names its limit or state
            return found
        return found | {"cites": str(cites), "cites_version": "1"}


def record_breach(
    action: str,
    breaches: list[Breach],
    *,
    client_order_id: str,
    account: str,
    venue: str,
    instrument: str,
    now: datetime,
    source: str,
    by: str | None = None,
    why: str | None = None,
) -> BreachRecorded:
    """The fact that ``breaches`` were found at the ledger's time ``now`` and what became of them
    (``BREACH_ACTIONS``), each citing the limit or state event it applied."""
    if action not in BREACH_ACTIONS:  # pragma: no cover - the door names one of them
        raise InvalidInputError(f"action must be one of {'|'.join(BREACH_ACTIONS)}", field="action")
    return BreachRecorded(
        originator_id=breach_id_for(client_order_id, account, now, action),
        originator_version=1,
        ts_event=now,
        ts_recorded=now,
        source=source,
        client_order_id=client_order_id,
        account=account,
        venue=venue,
        instrument=instrument,
        action=action,
        breaches=[b.cited() for b in breaches],
        by=by,
        why=why,
    )


UNWOUND_BY = frozenset({"max_position", "max_gross_exposure", "max_daily_loss", "max_drawdown"})
"""The kinds of limit that never deny an order that reduces (``PositionBook.reduces``): getting
out is always allowed. A limit on what one order is (its notional) or how many are sent still
applies to it."""


@dataclass(frozen=True)
class PositionBook:
    """A position and the open orders working on each side of it (their leaves quantities, ≥ 0):
    what an order is judged against when the question is whether it reduces the position."""

    position: Decimal
    open_buys: Decimal = Decimal(0)
    open_sells: Decimal = Decimal(0)

    def open_towards(self, delta: Decimal) -> Decimal:
        """The open orders on the side of an order moving the position by ``delta``."""
        return self.open_buys if delta > 0 else self.open_sells

    def room(self, delta: Decimal) -> Decimal:
        """How much an order on ``delta``'s side may still take off the position: its size less
        the open orders already working that way, when that side is towards flat (a sell against
        a long, a buy against a short); nothing otherwise."""
        if not delta or not self.position or (delta > 0) == (self.position > 0):
            return Decimal(0)
        return max(abs(self.position) - self.open_towards(delta), Decimal(0))

    def reduces(self, delta: Decimal) -> bool:
        """Whether an order moving the position by ``delta`` reduces it: filled in full, with
        every open order on its side filled too, it brings the position towards flat and not
        past it (|position + open on its side + delta| < |position|, no change of sign)."""
        return bool(delta) and abs(delta) <= self.room(delta)


def judge(
    limit: Limit,
    figure: Decimal | None,
    why_unknown: str = "",
    before: Decimal | None = None,
    reduces: bool = False,
) -> Breach | None:
    """The breach when ``figure`` (after the order) is past the limit, or cannot be known. With
    ``before`` (the figure without the order, for what an order can shrink: a position, an
    exposure), an order that leaves the figure no larger is no breach, even past the limit: a
    desk over its limit may always come back towards it. An order that ``reduces`` its position
    is no breach of a limit of ``UNWOUND_BY``, whatever the figure (known or not)."""
    if reduces and limit.kind in UNWOUND_BY:
        return None
    if figure is None:
        return Breach(f"{limit.shown()}: not evaluated ({why_unknown})", limit)
    if figure > limit.value and (before is None or figure > before):
        return Breach(f"{limit.shown()}: would be {format_decimal(figure)}", limit, figure)
    return None


def state_refusal(state: str, book: PositionBook, delta: Decimal, reduce_only: bool = False) -> str | None:
    """Why ``state`` refuses an order moving ``book``'s position by ``delta``, or None. Reduce-only
    allows an order only when it reduces (``PositionBook.reduces``): the open orders on its side
    count, so the reducing orders allowed never add up to more than the position. An order flagged
    ``reduce_only`` reduces by its terms (the venue never lets it grow the position)."""
    if state == "halted":
        return "trading is halted"
    if state != "reduce_only" or reduce_only or book.reduces(delta):
        return None
    working = book.open_towards(delta)
    after = book.position + (working if delta > 0 else -working) + delta
    # A reversal opens a position on the other side: not a reduction either.
    refusal = (
        f"reduce-only: the position {format_decimal(book.position)} would become {format_decimal(after)}"
    )
    if working:
        side = "buy" if delta > 0 else "sell"
        left = format_decimal(book.room(delta))
        refusal += f" with the {format_decimal(working)} open to {side} filled ({left} left to reduce)"
    return refusal


__all__ = [
    "BREACH_ACTIONS",
    "GLOBAL",
    "LIMIT_KINDS",
    "LIMIT_SCOPES",
    "RESPONDING",
    "RESPONSES",
    "STATE_BREACH",
    "TRADING_STATES",
    "UNWOUND_BY",
    "Breach",
    "Limit",
    "PositionBook",
    "breach_id_for",
    "checked_limit",
    "judge",
    "lifted",
    "limit_id_for",
    "record_breach",
    "record_limit",
    "record_state",
    "response_state",
    "state_id_for",
    "state_refusal",
]
