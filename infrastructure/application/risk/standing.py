"""How close each limit in force stands to its value, without an order (``orderledger risk``).

The same figures as the pre-trade check (``application.risk.pretrade``), for an order of nothing: a
position's and a gross exposure's worst case with the open orders, the day's loss, the orders
sent within the interval. ``max_order_notional`` bounds each order and has no standing figure;
what the check cannot evaluate is ``unknown``, with why.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from orderledger.domain.instrument import Terms
from orderledger.domain.risk import Limit
from orderledger.domain.values import format_decimal, format_timestamp, parse_timestamp
from orderledger.infrastructure.application.reads.follow import Wakeup
from orderledger.infrastructure.application.risk.pretrade import (
    FIGURES,
    DenialRow,
    LimitRow,
    OrderLedger,
    Reads,
    TradingStateRow,
    Worst,
    limits_in_force,
)

STATUSES = ("ok", "near", "breached", "unknown", "per_order")
"""ok: below the threshold; near: at or past ``threshold`` × value; breached: past the value;
unknown: the figure cannot be worked out; per_order: the limit bounds each order (no standing
figure)."""
ALERTS = frozenset({"near", "breached"})


@dataclass(frozen=True)
class LimitStatus:
    """A limit in force and how close its figure stands to it."""

    limit: LimitRow
    status: str
    figure: Decimal | None = None
    why: str = ""
    as_of: datetime | None = None
    """The ledger's time the status was worked out at: a watcher's alert carries it as the time
    of the change (``changed_at``), the look that found the status new."""

    def line(self) -> str:
        """One line for people: the status, the limit, and the figure against it."""
        if self.figure is None:
            return f"{self.status} {self.limit.shown()}" + (f": {self.why}" if self.why else "")
        share = "" if not self.limit.value else f" ({self.figure * 100 / self.limit.value:.0f}%)"
        shown = f"{format_decimal(self.figure)} of {format_decimal(self.limit.value)}{share}"
        return f"{self.status} {self.limit.shown()}: {shown}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, **self.limit.to_json()}
        if self.figure is not None:
            data["figure"] = format_decimal(self.figure)
        if self.why:
            data["reason_unknown"] = self.why
        if self.as_of is not None:
            data["as_of"] = format_timestamp(self.as_of)
        return data


class Changes:
    """What a watcher reports (``orderledger risk --watch``, ``GET /risk/stream``): a limit whose
    status differs from the one it had at the last look, ``ok`` before the first; ``per_order``
    never changes anything."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], str] = {}

    def news(self, key: tuple[str, str, str], status: str) -> bool:
        """Whether ``status`` is news for the limit ``key`` (scope, target, kind), noting it."""
        before = self._seen.get(key, "ok")
        self._seen[key] = status
        return status != before and status != "per_order"


class StateChanges:
    """The trading states a watcher reports (``GET /risk/stream``'s ``state`` events,
    ``AsyncOrderLedger.risk_events``): each account's row (``TradingStateRow.to_json``) that
    differs from the one seen at the last look, first each account not active, with the time of
    the change (``changed_at``): the state's own time when it was set, the end of the state before
    it when that one lifted itself (``until``)."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, Any]] = {}

    def news(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows of ``rows`` that are news, each with its ``changed_at``; noting them."""
        found = []
        for row in rows:
            before = self._seen.get(row["account"])
            self._seen[row["account"]] = row
            if row == before or (before is None and row["effective_state"] == "active"):
                continue
            changed_at = row["ts_event"]
            if before is not None and before.get("until") is not None:
                ended = before["until"]
                if row["ts_event"] <= before["ts_event"] or row["ts_event"] == ended:
                    changed_at = ended  # the state before lifted itself: the change is its end
            found.append({**row, "changed_at": changed_at})
        return found


@dataclass(frozen=True)
class StateChange:
    """A trading state that changed (``StateChanges``): the account's row as it now stands, and
    when the change took effect."""

    state: TradingStateRow
    changed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {**self.state.to_json(), "changed_at": format_timestamp(self.changed_at)}


def order_of_nothing(account: str, instrument: str, now: datetime) -> Worst:
    """An order of nothing: what the check's figures are without an order."""
    return Worst(account, "", instrument, Decimal(0), Decimal(1), Terms(), None, {}, now)


def _standing(reads: Reads, limit: Limit, now: datetime) -> tuple[Decimal | None, str]:
    if limit.kind in ("max_position", "max_gross_exposure"):
        if limit.scope == "underlying":
            instruments = [""]  # the underlying's exposure, whatever its instruments
        elif limit.scope == "instrument":
            instruments = [limit.target]
        else:
            rows, working = reads.scope("account", limit.target)
            instruments = sorted({r.instrument for r in rows} | {o.instrument for o in working}) or [""]
        account = limit.target if limit.scope == "account" else ""
        found = [reads.held(limit, order_of_nothing(account, i, now)) for i in instruments]
        if limit.kind == "max_position":
            return max(f.position for f in found), ""
        return found[0].gross, found[0].why_unknown
    account = limit.target if limit.scope == "account" else ""
    figure, why, _ = FIGURES[limit.kind](reads, limit, order_of_nothing(account, "", now))
    if limit.kind == "max_orders" and figure is not None:
        figure -= 1  # the check counts the order it checks; here there is none
    return figure, why


def standing(ledger: OrderLedger, threshold: Decimal, now: datetime) -> list[LimitStatus]:
    """Each limit in force at ``now`` with its status (``STATUSES``), by scope, target and kind."""
    found = []
    reads = Reads(ledger)
    for limit in sorted(limits_in_force(ledger, now), key=lambda x: x.key):
        row = LimitRow(**limit.__dict__)
        if limit.kind == "max_order_notional":
            found.append(LimitStatus(row, "per_order", as_of=now))
            continue
        figure, why = _standing(reads, limit, now)
        if figure is None:
            found.append(LimitStatus(row, "unknown", None, why, now))
        elif figure > limit.value:
            found.append(LimitStatus(row, "breached", figure, as_of=now))
        elif figure >= threshold * limit.value:
            found.append(LimitStatus(row, "near", figure, as_of=now))
        else:
            found.append(LimitStatus(row, "ok", figure, as_of=now))
    return found


async def risk_events(
    look: Callable[[], Awaitable[list[LimitStatus]]],
    look_states: Callable[[], Awaitable[list[TradingStateRow]]],
    wakeup: Wakeup,
    poll_seconds: float,
    look_breaches: Callable[[], Awaitable[list[DenialRow]]] | None = None,
) -> AsyncGenerator[LimitStatus | StateChange | DenialRow, None]:
    """``AsyncOrderLedger.risk_events``: each limit whose status changes (``Changes``; its
    ``as_of``: the ledger's time of the look that found it), each trading state that changes
    (``StateChanges``) and each breach the risk door records from the first look on
    (``look_breaches``: the latest ones), looked at again after each commit of this process and
    every ``poll_seconds`` (other processes' commits, a state that lifts itself)."""
    limits, states = Changes(), StateChanges()
    # The breaches recorded before the first look are not told: only those from then on.
    seen = 0 if look_breaches is None else max((row.position for row in await look_breaches()), default=0)
    while True:
        before = wakeup.generation
        for status in await look():
            if limits.news(status.limit.key, status.status):
                yield status
        rows = {row.account: row for row in await look_states()}
        for change in states.news([row.to_json() for row in rows.values()]):
            yield StateChange(rows[change["account"]], parse_timestamp(change["changed_at"]))
        for row in [] if look_breaches is None else await look_breaches():
            if row.position > seen:
                seen = row.position
                yield row
        await wakeup.wait_async(poll_seconds, before)


__all__ = [
    "ALERTS",
    "STATUSES",
    "Changes",
    "LimitStatus",
    "StateChange",
    "StateChanges",
    "order_of_nothing",
    "risk_events",
    "standing",
]
