"""The Tradier collector against a hostile loopback Tradier (tests/support/tradier_server.py's
hostile faults): replies too large or endless, an HTML page for a 200, a redirect to another
host, rate-limit headers that ask for absurd waits, and a rate-limit window the periodic
reconciliation must keep. Each refusal is journaled with its reason, the collector goes on, and
the books end as the clean stream's. Time is a manual clock (no wall-clock waits)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orderledger.infrastructure.collect.bounds import HEAD_BYTES, MAX_FRAME_BYTES, MAX_WAIT
from tests.support.tradier_collect import START, Run, clean, clean_books, collected
from tests.support.tradier_server import TradierVenue, published_venue

pytestmark = pytest.mark.timeout(60)


async def fault_then_clean(run: Run, *fault: Any) -> None:
    """The fault on the next poll; the collector reconnects; the venue's steps go on."""
    run.venue.fault(*fault)
    await run.next_poll()
    await run.reconnect()
    await clean(run)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            ("huge", 3_000_000),
            f"a reply longer than {MAX_FRAME_BYTES} bytes, refused (Content-Length 3000000)",
        ),
        (("endless",), f"a reply longer than {MAX_FRAME_BYTES} bytes, refused"),
        (("html",), "answered 200 with a reply that is not an orders reply (malformed JSON"),
    ],
)
def test_a_reply_too_large_endless_or_not_json_is_refused_journaled_and_the_collector_goes_on(
    fault: tuple[Any, ...], reason: str
) -> None:
    found, rejected, figures, venue, _ = asyncio.run(collected(lambda run: fault_then_clean(run, *fault)))
    # The books are the clean stream's: the refusal cost one reconnect, nothing else.
    assert found == clean_books()
    assert figures["refused"] == 1 and figures["reconnects"] == 1
    # The refusal is journaled with its reason and at most HEAD_BYTES of what came.
    [refusal] = rejected
    assert refusal.reason.startswith(f"tradier: {reason}")
    assert len(refusal.raw.encode()) <= HEAD_BYTES
    if fault[0] == "endless":
        # The endless body was cut at the bound: the server wrote a little beyond the bytes read
        # (what the sockets' buffers held when the client hung up), far below its own limit.
        assert MAX_FRAME_BYTES < venue.sent < 20 * MAX_FRAME_BYTES


def test_an_html_page_for_the_first_backfill_is_a_passing_fault_not_an_exit() -> None:
    # Given the venue's first reply (the backfill's first page) is an HTML page,
    async def schedule(run: Run) -> None:
        await run.reconnect()
        await clean(run)

    found, rejected, figures, _, _ = asyncio.run(collected(schedule, before=lambda v: v.fault("html")))
    # then the collector journals it, reconnects and books the clean stream.
    assert found == clean_books()
    assert [r.raw for r in rejected] == ["<html><body><h1>Service temporarily unavailable</h1></body></html>"]
    assert figures["state"] == "stopped" and figures["refused"] == 1


def test_a_redirect_to_another_host_is_not_followed() -> None:
    # Given a second venue, on another host name, holding other orders,
    with published_venue() as other:
        elsewhere = other.url.replace("127.0.0.1", "localhost") + "/accounts/VA000000/orders"

        async def schedule(run: Run) -> None:
            await fault_then_clean(run, "redirect", elsewhere)

        found, rejected, figures, _, _ = asyncio.run(collected(schedule))
        # then the redirect is not followed: the other host is never asked, nothing of it booked;
        assert other.requests == []
        # the collector counted a lost connection and the books are the clean stream's.
        assert found == clean_books() and rejected == []
        assert figures["reconnects"] == 1


def test_an_absurd_rate_limit_expiry_is_capped_and_reported() -> None:
    seen: list[dict[str, Any]] = []

    async def schedule(run: Run) -> None:
        run.venue.fault("headers", {"X-Ratelimit-Available": "0", "X-Ratelimit-Expiry": "1e30"})
        await run.next_poll()
        # The collector waits MAX_WAIT at most, and says so while it streams.
        assert MAX_WAIT in run.clock.slept
        seen.append(run.collector.figures())
        await run.clock.advance(MAX_WAIT)
        await run.settle()
        await clean(run)

    found, _, _, _, _ = asyncio.run(collected(schedule))
    assert seen[0]["state"] == "streaming"
    assert (
        seen[0]["error"] == "tradier's X-Ratelimit-Expiry asks for a wait of 1e+27 s: waiting 120 s at most"
    )
    assert found == clean_books()


def test_every_request_keeps_the_rate_limit_window_the_periodic_reconciliation_too() -> None:
    # Given a window of 2 requests a minute: the backfill and the reconciliation on start use it
    # up (X-Ratelimit-Available: 0, the window ending 60 s ahead),
    def window(venue: TradierVenue) -> None:
        venue.allowed, venue.window = 2, 60.0

    async def schedule(run: Run) -> None:
        await run.clock.sleeping(3)
        for _ in range(130):  # 65 s in half seconds: past the window's end
            await run.clock.advance(0.5)
            # each turn until the collector waits on the clock again (the status loop, the poll,
            # the reconciliation): every request due has been answered
            await run.clock.sleeping(3)

    # when the collector reconciles every 0.5 s (long before the window ends),
    *_, venue, _ = asyncio.run(collected(schedule, before=window, reconcile_every=0.5))
    # then no request is sent while the window is used up: none is over the limit, and the third
    # request (the first of the next window) comes at its end, 60 s after the first.
    times = [(t - START).total_seconds() for t in venue.times]
    assert venue.over_limit == 0
    assert times[:2] == [0.0, 0.0] and len(times) > 2 and times[2] >= 60.0
