"""A venue in memory for collector tests: a :class:`ScriptedSource` reads ledger-format frames
that the test publishes, with faults the test schedules.

The venue keeps every message it ever sent (``history``) so its backfill answers what the stream
may have lost; ``publish`` sends a frame on the live stream, ``drop`` loses one (the backfill
still has it), ``disconnect`` ends the stream with ``ConnectionLost``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson

from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.collect.source import CollectError, ConnectionLost


class ScriptedSource:
    """A source of ledger-format messages (``format`` ledger) driven by the test."""

    format = "ledger"

    def __init__(self, venue: str = "venueA", account: str | None = "acc1") -> None:
        self.venue = venue
        self.account = account
        self.options: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.open: list[dict[str, Any]] = []
        self.connects = 0
        self.closes = 0
        self.backfills: list[datetime | None] = []
        self.refuse: CollectError | None = None
        self._live: asyncio.Queue[bytes | CollectError] = asyncio.Queue()

    # ------------------------------------------------------------------ the test's side

    def publish(self, message: dict[str, Any], *, lose: bool = False) -> None:
        """The venue sends ``message`` (``lose``: the collector never sees it live)."""
        self.history.append(message)
        if not lose:
            self._live.put_nowait(orjson.dumps(message))

    def repeat(self, message: dict[str, Any]) -> None:
        """The stream delivers ``message`` again (a duplicate)."""
        self._live.put_nowait(orjson.dumps(message))

    def disconnect(self, fault: CollectError | None = None) -> None:
        self._live.put_nowait(fault or ConnectionLost("the server closed the connection"))

    # ------------------------------------------------------------------ Source

    async def connect(self) -> None:
        self.connects += 1
        if self.refuse is not None:
            raise self.refuse

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._live.get()
            if isinstance(item, CollectError):
                raise item
            yield item

    async def backfill(self, since: datetime | None) -> AsyncIterator[bytes]:
        self.backfills.append(since)
        for message in list(self.history):
            if since is None or parse_timestamp(message["ts"]) >= since:
                yield orjson.dumps(message)

    async def open_orders(self) -> list[dict[str, Any]]:
        return list(self.open)

    async def close(self) -> None:
        self.closes += 1


def books(ledger: Any) -> dict[str, Any]:
    """What a collector must get right, as plain data to compare with the clean stream's: every
    order's status and fills, every trade, every position, and what is parked."""
    return {
        "orders": sorted(
            (o.client_order_id, o.status.value, str(o.quantity), str(o.filled_quantity), o.venue_order_ids)
            for o in ledger.orders()
        ),
        "trades": sorted(
            (t.trade_id, t.client_order_id, str(t.quantity), str(t.price)) for t in ledger.trades()
        ),
        "positions": sorted(
            (p.account, p.instrument, str(p.quantity), str(p.realized_pnl)) for p in ledger.positions()
        ),
        "parked": sorted(m.raw for m in ledger.messages(parked=True)),
    }
