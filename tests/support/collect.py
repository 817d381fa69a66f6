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
from decimal import Decimal
from typing import Any

import orjson

from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.collect.source import CollectError, ConnectionLost


def failure_lines(stderr: str | bytes) -> list[str]:
    """The lines of a collector's stderr that are not its status lines (``collect VENUE …: state: …``)."""
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    return [line for line in text.splitlines() if not line.startswith("collect ")]


class ScriptedSource:
    """A source of ledger-format messages (``format`` ledger) driven by the test."""

    format = "ledger"

    def __init__(self, venue: str = "venueA", account: str | None = "acc1") -> None:
        self.venue = venue
        self.account = account
        self.options: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.open: list[dict[str, Any]] = []
        self.venue_ids: dict[str, str] = {}  # the venue's order ID of each client order ID
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
        """``open`` when the test set it, else the orders the venue's history leaves open."""
        if self.open:
            return list(self.open)
        orders: dict[str, dict[str, Any]] = {}
        for m in self.history:
            if m["type"] == "request":
                orders[m["client_order_id"]] = {
                    "client_order_id": m["client_order_id"], "instrument": m["instrument"], "side": m["side"],
                    "order_type": m["order_type"], "quantity": m["quantity"], "price": m.get("price"),
                    "filled_quantity": "0", "status": "open",
                }  # fmt: skip
                if m["client_order_id"] in self.venue_ids:  # the venue knows it from the request on
                    orders[m["client_order_id"]]["venue_order_id"] = self.venue_ids[m["client_order_id"]]
            elif m["type"] == "accepted" and m["client_order_id"] in orders:
                orders[m["client_order_id"]]["venue_order_id"] = m["venue_order_id"]
            elif m["type"] == "fill" and m.get("client_order_id") in orders:
                row = orders[m["client_order_id"]]
                row["filled_quantity"] = str(Decimal(row["filled_quantity"]) + Decimal(m["quantity"]))
                row["status"] = "partially_filled"
        return [
            r
            for r in orders.values()
            if "venue_order_id" in r and Decimal(r["filled_quantity"]) < Decimal(r["quantity"])
        ]

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
        "parked": sorted(m.raw for m in ledger.audit.messages(parked=True)),
    }
