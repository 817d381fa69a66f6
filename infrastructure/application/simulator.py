"""A deterministic simulated trading session, in the ledger's message format.

Used by ``orderledger demo`` and the benchmark. Given a seed it always produces the same
messages: several accounts, venues and instruments; acknowledgements, partial and full fills,
cancels (some racing a fill), rejects, amends, expiries, a late fill after a cancel,
duplicate deliveries (a REST poll repeating the stream) and a trade bust.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orderledger.domain.errors import InvalidInputError

ACCOUNTS = ("alpha", "beta")
VENUES = {"venueA": ("BTC-USDT", "ETH-USDT"), "venueB": ("BTC/USD", "SOL/USD")}
PRICES = {"BTC-USDT": 64000, "ETH-USDT": 3100, "BTC/USD": 64010, "SOL/USD": 145}
STRATEGIES = ("mm", "trend", "arb")
START = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Session:
    """Builds messages order by order; ``messages`` holds them in delivery order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = START
        self.messages: list[dict[str, Any]] = []
        self.seq = 0
        self.trade_seq = 0

    def tick(self, low: float = 0.05, high: float = 2.0) -> str:
        self.clock += timedelta(seconds=self.rng.uniform(low, high))
        return _ts(self.clock)

    def emit(self, message: dict[str, Any], *, duplicate_chance: float = 0.0) -> None:
        self.messages.append(message)
        if duplicate_chance and self.rng.random() < duplicate_chance:
            self.messages.append(dict(message))  # the REST poll repeats what the stream said

    def trade_id(self, venue: str) -> str:
        self.trade_seq += 1
        return f"{venue[-1]}T{self.trade_seq:07d}"

    def order(self, kind: str) -> None:
        """One order's messages: its request, then what ``kind`` of life it has (KINDS)."""
        rng = self.rng
        self.seq += 1
        venue = rng.choice(list(VENUES))
        instrument = rng.choice(VENUES[venue])
        account = rng.choice(ACCOUNTS)
        side = rng.choice(("buy", "sell"))
        mid = PRICES[instrument] * (1 + rng.uniform(-0.002, 0.002))
        price = Decimal(str(round(mid * (0.999 if side == "buy" else 1.001), 2)))
        quantity = Decimal(rng.choice(("0.1", "0.25", "0.5", "1", "2", "5")))
        coid = f"{account[:1]}-{self.seq:06d}"
        voi = f"{venue}-{100000 + self.seq}"
        strategy = rng.choice(STRATEGIES)
        placed = _Placed(coid, venue, voi, instrument, quantity, price)
        self.emit(
            {
                "type": "request",
                **placed.base,
                "account": account,
                "venue": venue,
                "instrument": instrument,
                "side": side,
                "order_type": "limit",
                "quantity": str(quantity),
                "price": str(price),
                "time_in_force": "GTC",
                "tags": {"strategy": strategy, "leg": rng.choice(("entry", "exit"))},
                "ts": self.tick(),
            }
        )
        if kind == "reject":
            self.emit({"type": "rejected", **placed.base, "reason": "insufficient margin", "ts": self.tick()})
            return
        self.emit(
            {"type": "accepted", **placed.base, "venue_order_id": voi, "ts": self.tick()},
            duplicate_chance=0.3,
        )
        if kind != "rest":  # a resting order stays open
            getattr(self, f"_{kind}")(placed)

    def _fill_message(
        self, placed: _Placed, quantity: Decimal, price: Decimal, **more: Any
    ) -> dict[str, Any]:
        return {
            "type": "fill",
            **placed.by_venue,
            "trade_id": self.trade_id(placed.venue),
            "quantity": str(quantity),
            "price": str(price),
            **more,
            "ts": self.tick(),
        }

    def _fill(self, placed: _Placed) -> None:
        chunks = _split(placed.quantity, self.rng.choice((1, 2, 3)), self.rng)
        for chunk in chunks:
            fee = (chunk * placed.price * Decimal("0.0002")).quantize(Decimal("0.0001"))
            more = {"fee": str(fee), "fee_currency": _quote(placed.instrument)}
            more["liquidity"] = self.rng.choice(("maker", "taker"))
            self.emit(self._fill_message(placed, chunk, placed.price, **more), duplicate_chance=0.25)

    def _partial_cancel(self, placed: _Placed) -> None:
        half = (placed.quantity / 2).normalize()
        more = {"fee": "0", "fee_currency": _quote(placed.instrument)}
        self.emit(self._fill_message(placed, half, placed.price, **more))
        self.emit({"type": "cancel_requested", **placed.base, "ts": self.tick()})
        self.emit({"type": "canceled", **placed.by_venue, "reason": "user", "ts": self.tick()})

    def _late_fill(self, placed: _Placed) -> None:
        self.emit({"type": "cancel_requested", **placed.base, "ts": self.tick()})
        self.emit({"type": "canceled", **placed.by_venue, "ts": self.tick()})
        # Real-world race: the venue matched the order just before the cancel landed.
        self.emit(self._fill_message(placed, placed.quantity, placed.price))

    def _amend(self, placed: _Placed) -> None:
        new_price = (placed.price * Decimal("1.001")).quantize(Decimal("0.01"))
        self.emit({"type": "amend_requested", **placed.base, "price": str(new_price), "ts": self.tick()})
        self.emit({"type": "amended", **placed.by_venue, "price": str(new_price), "ts": self.tick()})
        self.emit(self._fill_message(placed, placed.quantity, new_price))

    def _cancel_rejected(self, placed: _Placed) -> None:
        self.emit({"type": "cancel_requested", **placed.base, "ts": self.tick()})
        self.emit({"type": "cancel_rejected", **placed.base, "reason": "too late", "ts": self.tick()})

    def _expire(self, placed: _Placed) -> None:
        self.emit({"type": "expired", **placed.by_venue, "ts": self.tick()})

    def _bust(self, placed: _Placed) -> None:
        fill = self._fill_message(placed, placed.quantity, placed.price)
        self.emit(fill)
        bust = {"type": "fill_busted", **placed.by_venue, "trade_id": fill["trade_id"]}
        self.emit({**bust, "reason": "clearly erroneous", "ts": self.tick()})


@dataclass(frozen=True)
class _Placed:
    """What one simulated order's later messages repeat."""

    client_order_id: str
    venue: str
    venue_order_id: str
    instrument: str
    quantity: Decimal
    price: Decimal

    @property
    def base(self) -> dict[str, Any]:
        return {"client_order_id": self.client_order_id}

    @property
    def by_venue(self) -> dict[str, Any]:
        return {"venue": self.venue, "venue_order_id": self.venue_order_id}


KINDS = (
    ("fill", 40),
    ("rest", 14),
    ("partial_cancel", 12),
    ("amend", 10),
    ("cancel_rejected", 6),
    ("expire", 6),
    ("reject", 6),
    ("late_fill", 3),
    ("bust", 3),
)


def _quote(instrument: str) -> str:
    return instrument.replace("/", "-").split("-")[-1]


def _split(quantity: Decimal, parts: int, rng: random.Random) -> list[Decimal]:
    if parts == 1:
        return [quantity]
    step = quantity / parts
    chunks = [step.quantize(Decimal("0.0001")) for _ in range(parts - 1)]
    chunks.append(quantity - sum(chunks))
    return [c for c in chunks if c > 0]


def simulate(seed: int = 7, orders: int = 40, tag: str | None = None) -> list[dict[str, Any]]:
    """A session of ``orders`` orders; the showcase cases appear at least once each.

    With ``tag``, every client order ID, venue order ID and trade ID starts with ``tag.``, so
    sessions with different tags never share an identifier.
    """
    session = Session(seed)
    showcase = [
        "late_fill",
        "bust",
        "amend",
        "reject",
        "partial_cancel",
        "cancel_rejected",
        "expire",
    ]
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    for i in range(orders):
        kind = showcase[i] if i < len(showcase) else session.rng.choices(names, weights)[0]
        session.order(kind)
    if tag is not None:
        for message in session.messages:
            for key in ("client_order_id", "venue_order_id", "trade_id"):
                if isinstance(message.get(key), str):
                    message[key] = f"{tag}.{message[key]}"
    return session.messages


def simulate_lines(seed: int = 7, orders: int = 40, tag: str | None = None) -> Iterator[str]:
    """The session as JSON lines."""
    for message in simulate(seed, orders, tag):
        yield json.dumps(message, separators=(",", ":"))


def ingest_demo(ledger: Any, seed: int, orders: int) -> Any:
    """Ingest the simulated session of ``seed`` into ``ledger`` (an ``OrderLedger``) and return
    its ``IngestReport``; refused when the ledger holds the demo's order IDs from another session.

    Another seed reuses the demo's order IDs for other orders: mixing them would make nonsense.
    """
    messages = simulate(seed, orders)
    requests = {m["client_order_id"]: m for m in messages if m["type"] == "request"}
    ids = list(requests)
    with ledger.db.read() as tx:
        origins = tx.all("SELECT DISTINCT origin FROM messages WHERE origin LIKE 'demo:seed=%'")
        held = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            held += tx.all(
                "SELECT client_order_id, instrument, side, quantity FROM orders_view"
                f" WHERE client_order_id IN ({','.join('?' * len(part))})",
                part,
            )
    others = sorted(str(o[0]) for o in origins if o[0] != f"demo:seed={seed}")
    # Not only demo runs: `orderledger simulate` output from another seed, ingested by hand.
    differ = [
        r[0]
        for r in held
        if (r[1], r[2], r[3]) != tuple(requests[r[0]][k] for k in ("instrument", "side", "quantity"))
    ]
    if others or differ:
        source = others[0] if others else f"another simulated session (order {differ[0]!r} differs)"
        raise InvalidInputError(
            f"this ledger already holds the demo's order IDs from {source}: seed {seed} would mix two"
            " sessions under the same IDs; use another ledger (or the same `seed`)"
        )
    return ledger.ingest_lines(simulate_lines(seed, orders), origin=f"demo:seed={seed}")
