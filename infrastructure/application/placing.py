"""Intent before send: record the request, send with its client order ID, record the answer.

    with ledger.placing({"venue": "binance", "account": "main", "instrument": "BNB/USDT",
                         "side": "buy", "order_type": "market", "quantity": "2"}) as placement:
        order = exchange.create_order(..., params={"clientOrderId": placement.client_order_id})
        placement.accepted(order["id"])

1. The ``request`` goes through the risk door (its limits and its account's trading state,
   judged inside the write transaction that records it) and is recorded (and durable) before
   the body runs; if the door denies it, the request is journaled with the ``denied`` outcome
   and its breaches and ``OrderDeniedError`` is raised; if the ledger refuses it (a reused
   client order ID, a bad field), ``RequestNotRecordedError`` is raised: either way the body
   never runs, and nothing may be sent that the ledger does not know. ``override={"by": WHO,
   "reason": WHY}`` lets this one order through the breaches, journaled with who and why.
2. The body sends the order with ``placement.client_order_id`` and reports the answer:
   ``placement.accepted(venue_order_id)`` or ``placement.rejected(reason)``.
3. An exception from the body whose type is one of ``rejections`` (the venue refused the order,
   e.g. ccxt's ``InvalidOrder``, ``InsufficientFunds``) records ``rejected`` with its message.
   Any other exception (a timeout, a dropped connection) is ambiguous: the venue may or may not
   have the order, so nothing more is recorded, the order stays in flight (``requested``, open),
   and the exception propagates. Its fate comes later from the venue's own reports (an order or
   trade update, a snapshot, reconciliation), matched by the client order ID.

The asyncio twin is ``AsyncOrderLedger.placing`` (same rules; the answers are awaited).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.outcomes import Outcome
from orderledger.domain.values import format_timestamp
from orderledger.infrastructure.application.requests import Record
from orderledger.infrastructure.application.writes.place_answer import Placed
from orderledger.infrastructure.errors import MessageError, OrderDeniedError, RequestNotRecordedError
from orderledger.infrastructure.ingest.inbound import Result

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts

IN_FLIGHT = "in_flight"
DENIED = Outcome.DENIED
RECORDED = ("applied", "duplicate")
"""Request outcomes under which the order may be sent (a duplicate: the same request again,
e.g. a retry after a timeout with the same client order ID, which the venue deduplicates)."""


def new_client_order_id() -> str:
    """A fresh client order ID: 32 hex digits (within every venue's length and alphabet)."""
    return uuid.uuid4().hex


def request_message(spec: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ``request`` message for ``spec`` (a client order ID and ``ts`` are added if absent)."""
    if spec.get("type", "request") != "request":
        raise ValueError(f"placing takes the fields of a request, not a {spec['type']!r} message")
    message = {**spec, "type": "request"}
    if not message.get("client_order_id"):
        message["client_order_id"] = new_client_order_id()
    message.setdefault("ts", format_timestamp(now))
    return message


def checked_request(message: dict[str, Any], result: Result) -> Result:
    """The request's result, or ``RequestNotRecordedError`` when the order must not be sent
    (``OrderDeniedError`` when the pre-trade check denied it)."""
    cid = str(message["client_order_id"])
    if result.outcome == DENIED:
        raise OrderDeniedError(
            f"order {cid!r} was denied ({result.reason}); do not send it",
            client_order_id=cid,
            outcome=result.outcome,
            reason=result.reason,
        )
    if result.outcome not in RECORDED:
        raise RequestNotRecordedError(
            f"order {cid!r} was not recorded ({result.outcome}: {result.reason}); do not send it",
            client_order_id=cid,
            outcome=result.outcome,
            reason=result.reason,
        )
    return result


@dataclass
class PlacementState:
    """What ``placing`` knows of one order: its client order ID and the results recorded."""

    client_order_id: str
    request: Result
    answer: Result | None = None
    answered: str = IN_FLIGHT
    """``accepted``, ``rejected``, or ``in_flight`` while the venue's answer is unknown."""

    def answer_message(self, kind: str, now: datetime, **fields: Any) -> dict[str, Any]:
        message = {"type": kind, "client_order_id": self.client_order_id, "ts": format_timestamp(now)}
        message.update({k: v for k, v in fields.items() if v is not None})
        return message

    def on_error(
        self, error: BaseException, rejections: tuple[type[BaseException], ...], now: datetime
    ) -> dict[str, Any] | None:
        """The ``rejected`` message when ``error`` is the venue refusing the order (and no answer
        was recorded yet); None when the error leaves the order in flight."""
        if self.answered != IN_FLIGHT or not isinstance(error, rejections):
            return None
        return self.answer_message("rejected", now, reason=_one_line(error))


class Placement(PlacementState):
    """The order being placed (``OrderLedger.placing``): report the venue's answer here."""

    def __init__(self, state: PlacementState, record: Callable[[dict[str, Any]], Result], clock: Any) -> None:
        super().__init__(state.client_order_id, state.request)
        self._record = record
        self._clock = clock

    def accepted(self, venue_order_id: str | None = None, *, ts: datetime | None = None) -> Result:
        """The venue acknowledged the order (with its ID for it)."""
        message = self.answer_message("accepted", ts or self._clock(), venue_order_id=venue_order_id)
        return self._answer("accepted", message)

    def rejected(self, reason: str | None = None, *, ts: datetime | None = None) -> Result:
        """The venue refused the order: it ends ``rejected``."""
        return self._answer("rejected", self.answer_message("rejected", ts or self._clock(), reason=reason))

    def _answer(self, kind: str, message: dict[str, Any]) -> Result:
        self.answer = self._record(message)
        self.answered = kind
        return self.answer


class AsyncPlacement(PlacementState):
    """The order being placed (``AsyncOrderLedger.placing``): report the venue's answer here."""

    def __init__(
        self, state: PlacementState, record: Callable[[dict[str, Any]], Awaitable[Result]], clock: Any
    ) -> None:
        super().__init__(state.client_order_id, state.request)
        self._record = record
        self._clock = clock

    async def accepted(self, venue_order_id: str | None = None, *, ts: datetime | None = None) -> Result:
        """The venue acknowledged the order (with its ID for it)."""
        message = self.answer_message("accepted", ts or self._clock(), venue_order_id=venue_order_id)
        return await self._answer("accepted", message)

    async def rejected(self, reason: str | None = None, *, ts: datetime | None = None) -> Result:
        """The venue refused the order: it ends ``rejected``."""
        return await self._answer(
            "rejected", self.answer_message("rejected", ts or self._clock(), reason=reason)
        )

    async def _answer(self, kind: str, message: dict[str, Any]) -> Result:
        self.answer = await self._record(message)
        self.answered = kind
        return self.answer


def record_request(ledger: Any, message: dict[str, Any]) -> Result:
    """Record a placement's request through the risk door: a ``Record`` request handed to the
    ledger's one dispatch; a denied one is journaled as ``denied``, with the breaches."""
    return ledger.handle(Record(message, origin="api"))


def placing_message(spec: dict[str, Any], now: datetime, check: bool, override: Any) -> dict[str, Any]:
    """The request a placement records: ``spec`` with its client order ID and time, and the
    ``override`` (who lets it through the risk door, and why), if any."""
    if not check:
        raise InvalidInputError(
            "placing always passes the risk door; to let one order through its breaches, give"
            ' override={"by": WHO, "reason": WHY}',
            field="check",
        )
    message = request_message(spec, now)
    if override is not None:
        message["override"] = override
    return message


def place(ledger: Any, spec: dict[str, Any], *, origin: str) -> Placed:
    """Check and record one request of ours in one transaction (the risk door, ``record``): the
    order as recorded, or the denial with its breaches, or why the ledger refused it."""
    message = placing_message(spec, ledger.processor.clock(), True, None)
    result = ledger.handle(Record(message, origin=origin))
    if isinstance(result.error, InvalidInputError | MessageError):
        raise result.error  # a field the request cannot have: bad input, not a refusal
    order = None
    if result.outcome in RECORDED:
        order = ledger.order(str(message["client_order_id"])).snapshot()
    return Placed(result, order)


@contextlib.contextmanager
def placing(
    ledger: LedgerParts,
    spec: dict[str, Any],
    *,
    rejections: tuple[type[BaseException], ...] = (),
    check: bool = True,
    override: dict[str, str] | None = None,
) -> Iterator[Placement]:
    """``OrderLedger.placing``: see the module's docstring."""
    clock = ledger.processor.clock
    message = placing_message(spec, clock(), check, override)
    recorded = record_request(ledger, message)
    state = PlacementState(str(message["client_order_id"]), checked_request(message, recorded))
    placement = Placement(state, ledger.record, clock)
    try:
        yield placement
    except BaseException as error:
        rejected = placement.on_error(error, rejections, clock())
        if rejected is not None:
            placement._answer("rejected", rejected)
        raise


def _one_line(error: BaseException) -> str:
    """An exception as a reject reason: its first line, at most 1,024 characters (the field's limit)."""
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return text[:1024]


__all__ = [
    "IN_FLIGHT",
    "AsyncPlacement",
    "Placement",
    "PlacementState",
    "checked_request",
    "new_client_order_id",
    "place",
    "placing",
    "placing_message",
    "record_request",
    "request_message",
]
