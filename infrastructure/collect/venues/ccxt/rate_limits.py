"""The waits a ccxt exchange's replies ask for, honoured for every request the ccxt collector makes.

ccxt's own limiter (``enableRateLimit``) spaces requests by the weights it knows; it does not read
what a venue says in a reply. So every REST request of a :class:`~.ccxt.CcxtSource` (the
backfill's pages, the funding reads, the reconciliation's open orders, ``load_markets``, a
listen key) goes through :func:`gate`, which wraps the exchange's ``fetch2`` (the one call every
ccxt request makes before it signs and sends: a wait before it leaves the request's signature
fresh) with the source's :class:`~.gate.RateGate`, the one gate every collector source has:

* before each request the gate is passed (no request while the venue asked for a wait);
* after each reply its headers are read (:func:`asked_wait`); a reply that says the window is
  used up closes the gate until the window's end;
* a rate-limit reply (ccxt's ``RateLimitExceeded`` or ``DDoSProtection``) closes the gate until
  the time its headers name (:data:`FALLBACK` seconds when they name none) and the request is
  sent again after it, up to :data:`RETRIES` times; then the fault goes to the collector, which
  reconnects after the gate's wait at least.

The headers judged are those of the reply the request itself got: ccxt hands each reply's headers
to the exchange's ``handle_errors`` within the request's own task, which puts them in the
request's own box (a context variable the wrapper sets per request). The exchange's
``last_response_headers`` is not read: it is shared by the source's tasks (the stream's listen
key, the funding reads, a reconciliation), so it may hold another request's reply.

The headers read, by venue (each venue's API reference):

* ``Retry-After`` (seconds): Binance's HTTP 429 and 418, and any venue that sends it;
* Bybit v5: ``X-Bapi-Limit-Status`` (requests left in the window) and
  ``X-Bapi-Limit-Reset-Timestamp`` (the window's end, epoch milliseconds), on every reply and on
  the ``retCode`` 10006 reply ("Too many visits").

A wait further than ``bounds.MAX_WAIT`` is capped there and reported (the gate does it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from orderledger.infrastructure.collect.gate import RateGate, retry_after

RETRIES = 3
"""How many times one request is sent again after a rate-limit reply before it is a fault."""
FALLBACK = 1.0
"""Seconds the gate stays closed after a rate-limit reply whose headers name no time."""

_REPLIES: ContextVar[list[Mapping[str, Any]] | None] = ContextVar("ccxt_reply_headers", default=None)
"""The box of the request under way in this task: the headers of the replies it got."""


def _number(text: Any) -> float | None:
    try:
        return None if text is None else float(text)
    except (TypeError, ValueError):
        return None


def asked_wait(headers: Mapping[str, Any], now: float, *, limited: bool) -> float | None:
    """Seconds ``headers`` ask the next request to wait (None: no wait asked). ``now`` is the
    UTC time in epoch seconds (a window's end is a time, not a span); ``limited``: the reply was a
    rate-limit refusal (a window's end then applies whatever is said left)."""
    said = {str(name).lower(): value for name, value in headers.items()}
    retry = retry_after(said.get("retry-after"))
    if retry is not None:
        return retry
    reset = _number(said.get("x-bapi-limit-reset-timestamp"))
    left = _number(said.get("x-bapi-limit-status"))
    if reset is not None and (limited or (left is not None and left <= 0)):
        return max(0.0, reset / 1000 - now)
    return None


def gate(exchange: Any, gate: RateGate) -> None:
    """Route every request of ``exchange`` (a ccxt instance) through ``gate`` (see the module)."""
    # ccxt is an optional dependency (the collect extra)
    import ccxt

    inner: Callable[..., Awaitable[Any]] = exchange.fetch2
    judge: Callable[..., Any] = exchange.handle_errors
    what = f"{exchange.id}'s rate-limit headers"

    def handle_errors(code: Any, reason: Any, url: Any, method: Any, headers: Any, *rest: Any) -> Any:
        box = _REPLIES.get()
        if box is not None:
            box.append(headers or {})
        return judge(code, reason, url, method, headers, *rest)

    def hold(box: list[Mapping[str, Any]], limited: bool) -> None:
        wait = asked_wait(box[-1] if box else {}, gate.timing.now().timestamp(), limited=limited)
        if limited and wait is None:
            wait = FALLBACK
        if wait:
            gate.hold(wait, what)

    async def fetch2(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(RETRIES + 1):
            await gate.wait()
            box: list[Mapping[str, Any]] = []
            token = _REPLIES.set(box)
            try:
                reply = await inner(*args, **kwargs)
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection):
                hold(box, limited=True)
                if attempt == RETRIES:
                    raise
                continue
            finally:
                _REPLIES.reset(token)
            hold(box, limited=False)
            return reply
        raise AssertionError("unreachable")  # the loop returns or raises

    exchange.handle_errors = handle_errors
    exchange.fetch2 = fetch2


__all__ = ["FALLBACK", "RETRIES", "asked_wait", "gate"]
