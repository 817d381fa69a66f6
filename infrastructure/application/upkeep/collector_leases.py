"""The ledger's side of ``orderledger collect`` (``infrastructure/collect/``): the lease that keeps
one collector per venue and account, the status figures it publishes, and the venue time it
resumes from.

``OrderLedger`` has them in its groups (``application.ledger_groups``: ``upkeep.collector_lease``,
``collector_heartbeat``, ``collector_release``, ``collectors``; ``venues.last_venue_time``), each a
typed request answered here (``application.bootstrap`` names the handlers); ``serve``'s ``/health``
and the page read the figures through the ``Collectors`` request.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orderledger.domain.errors import LedgerError
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.storage import collectors as table
from orderledger.infrastructure.storage.collectors import NO_ACCOUNT

STALE_AFTER = timedelta(seconds=30)
"""A lease whose heartbeat is older than this may be taken over (its holder is gone)."""


class CollectorBusyError(LedgerError):
    """Another collector holds the venue and account (its heartbeat is fresh)."""


class LeaseLostError(LedgerError):
    """This collector's lease was taken over (its heartbeats stopped for too long)."""


@dataclass(frozen=True)
class CollectorRow:
    """One collector as its lease shows it: who runs it, since when, its last heartbeat and its
    status figures (``collect.status.Status.figures``); ``stale`` once the heartbeat is older than
    the takeover age."""

    venue: str
    account: str | None
    owner: str
    pid: int
    started: datetime
    heartbeat: datetime
    stale: bool
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "account": self.account,
            "owner": self.owner,
            "pid": self.pid,
            "started": format_timestamp(self.started),
            "heartbeat": format_timestamp(self.heartbeat),
            "stale": self.stale,
            **self.figures,
        }


def wall_clock() -> datetime:
    """The wall clock a collector's lease is judged by (not the ledger's: leases are between
    processes, each with its own clock)."""
    return datetime.now(UTC)


def _key(account: str | None) -> str:
    return NO_ACCOUNT if account is None else account


def _named(venue: str, account: str | None) -> str:
    return venue if account is None else f"{venue} account {account}"


def take(
    db: Any,
    venue: str,
    account: str | None,
    owner: str,
    pid: int,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
) -> None:
    """Take the lease, or raise :class:`CollectorBusyError` naming the live holder. A holder is
    gone when its heartbeat is older than ``stale_after``, or at once when it ran on this host
    and its process no longer exists (killed: a restart need not wait)."""

    def gone(held: table.LeaseRow) -> bool:
        return held.heartbeat < now - stale_after or _dead_here(held.owner, held.pid)

    held = table.take_lease(db, venue, _key(account), owner, pid, now, gone)
    if held is not None:
        raise CollectorBusyError(
            f"a collector already runs on {_named(venue, account)} (pid {held.pid}, {held.owner},"
            f" last heartbeat {format_timestamp(held.heartbeat)})"
        )


def _dead_here(owner: str, pid: int) -> bool:
    """True when ``owner`` (``host:pid:nonce``, ``collect.runner.owner_name``) ran on this host and
    process ``pid`` is gone."""
    if owner.split(":", 1)[0] != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def heartbeat(
    db: Any, venue: str, account: str | None, owner: str, now: datetime, figures: dict[str, Any]
) -> None:
    """Publish the figures; raise :class:`LeaseLostError` when another collector took over."""
    if not table.beat(db, venue, _key(account), owner, now, figures):
        raise LeaseLostError(
            f"another collector took over {_named(venue, account)}: this one stops (no double booking)"
        )


def release(db: Any, venue: str, account: str | None, owner: str) -> None:
    table.release(db, venue, _key(account), owner)


def rows(db: Any, now: datetime, stale_after: timedelta = STALE_AFTER) -> list[CollectorRow]:
    return [
        CollectorRow(
            r.venue,
            None if r.account == NO_ACCOUNT else r.account,
            r.owner,
            r.pid,
            r.started,
            r.heartbeat,
            r.heartbeat < now - stale_after,
            r.status,
        )
        for r in table.read_collectors(db)
    ]


def last_venue_time(ledger: Any, venue: str, account: str | None) -> datetime | None:
    """The latest venue time the ledger has booked for ``venue``/``account``: its newest trade's
    time or its newest order's creation, whichever is later (None: nothing booked yet)."""
    found: list[datetime] = []
    trades = ledger.trades(venue=venue, account=account, newest=True, limit=1)
    found += [t.ts_event for t in trades]
    orders = ledger.orders(venue=venue, account=account, newest=True, limit=1)
    found += [o.created_at for o in orders]
    return max(found, default=None)


__all__ = [
    "STALE_AFTER",
    "CollectorBusyError",
    "CollectorRow",
    "LeaseLostError",
    "heartbeat",
    "last_venue_time",
    "release",
    "rows",
    "take",
    "wall_clock",
]
