"""``AsyncOrderLedger``: the ledger's API as coroutines, shared by many tasks, on every backend.

Given many tasks recording on one instance at once, then every fill is booked once and the
positions are exact; the event loop never runs the database work itself; ``follow`` sees every
committed event once, in log order; ``placing`` records the request before the send and the
send's outcome after it (an ack, a rejection, or nothing for an ambiguous failure).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger import (
    AsyncOrderLedger,
    CommittedEvent,
    OrderLedger,
    RequestNotRecordedError,
    StoreError,
)
from orderledger.domain.events import OrderAccepted, OrderRejected, OrderRequested
from orderledger.domain.values import Status
from orderledger.infrastructure.application.reads.follow import read_after
from orderledger.infrastructure.application.reads.view_queries import list_positions, list_trades
from orderledger.infrastructure.audit.verify import verify
from tests.support.integration import Clock, fact, fill, request, store_state

ORDERS = 200


def order_messages(n: int) -> list[dict[str, Any]]:
    """Order ``o-n``: a limit buy of 2, its ack, two fills of 1 (at 100 and 101), and the first
    fill delivered again (a venue's redelivery: a duplicate, never a second trade)."""
    cid = f"o-{n}"
    first = fill(cid, f"t-{n}-1", "1", "100", seconds=2)
    return [
        request(cid, quantity="2", price="101"),
        fact("accepted", cid, seconds=1, venue_order_id=f"V-{n}"),
        first,
        fill(cid, f"t-{n}-2", "1", "101", seconds=3),
        first,
    ]


async def follow_until(ledger: AsyncOrderLedger, last: int, since: int = 0) -> list[CommittedEvent]:
    """Every event ``follow`` yields up to position ``last``."""
    seen: list[CommittedEvent] = []
    async for committed in ledger.follow(since=since, poll_seconds=0.05):
        seen.append(committed)
        if committed.position >= last:
            break
    return seen


def test_many_tasks_on_one_instance_book_every_fill_once(ledger_url: str) -> None:
    async def main() -> tuple[list[CommittedEvent], list[CommittedEvent]]:
        async with AsyncOrderLedger(ledger_url) as ledger:
            # Per order: requested, accepted and two fills = 4 events (the redelivery adds none).
            follower = asyncio.create_task(follow_until(ledger, ORDERS * 4))

            async def place(n: int) -> None:
                # One task per order: its messages in order, each awaited (as a bot's task would),
                # and the order read back after each while the other tasks write.
                versions = []
                for message in order_messages(n):
                    await ledger.record(message)
                    versions.append((await ledger.order(f"o-{n}")).version)
                # Versions 1, 2, 3, 4, then 4 again after the redelivered fill.
                assert versions == [1, 2, 3, 4, 4]

            await asyncio.gather(*(place(n) for n in range(ORDERS)))
            followed = await follower
            logged = read_after(ledger.ledger, 0, 10 * ORDERS)
            orders = await asyncio.gather(*(ledger.order(f"o-{n}") for n in range(ORDERS)))
            assert {o.status for o in orders} == {Status.FILLED}
            assert {o.filled_quantity for o in orders} == {Decimal(2)}
            sync = ledger.ledger
            trades = list_trades(sync.db)
            # 200 orders × 2 distinct trade IDs; the redelivered first fills are duplicates.
            assert len(trades) == ORDERS * 2
            assert len({(t["client_order_id"], t["trade_id"]) for t in trades}) == ORDERS * 2
            (position,) = list_positions(sync.db)
            # Bought 200 × (1 + 1) = 400 for 200 × (1 × 100 + 1 × 101) = 40,200: 100.5 on average.
            assert Decimal(position["quantity"]) == Decimal(400)
            assert Decimal(position["average_price"]) == Decimal("100.5")
            assert Decimal(position["realized_pnl"]) == 0
            assert store_state(sync)["parked"] == []
            assert verify(sync.db, sync.mapper).ok
            return followed, logged

    followed, logged = asyncio.run(main())
    assert len(logged) == ORDERS * 4
    assert [c.position for c in followed] == [c.position for c in logged] == list(range(1, ORDERS * 4 + 1))
    assert [c.event for c in followed] == [c.event for c in logged]


def test_the_event_loop_never_runs_database_work(ledger_url: str) -> None:
    # The ledger's clock is read inside each write: it notes the thread doing the work.
    threads: list[str] = []
    clock = Clock()

    def noting() -> datetime:
        threads.append(threading.current_thread().name)
        return clock()

    async def main() -> str:
        async with AsyncOrderLedger(ledger_url, clock=noting) as ledger:
            loop_thread = threading.current_thread().name
            await asyncio.gather(*(ledger.record(request(f"c-{n}")) for n in range(5)))
            await ledger.ingest_lines([f'{{"type":"accepted","client_order_id":"c-0","ts":"{ts()}"}}'])
            return loop_thread

    def ts() -> str:
        return "2026-11-20T10:00:01Z"

    loop_thread = asyncio.run(main())
    assert threads, "the clock was never read: the test would prove nothing"
    assert loop_thread not in threads
    assert set(threads) == {"orderledger-write_0"}


def test_methods_keep_the_synchronous_answers_and_errors(ledger_url: str) -> None:
    async def main() -> None:
        async with AsyncOrderLedger(ledger_url) as ledger:
            await ledger.record(request("c-1"))
            order = await ledger.order("c-1")
            assert order.status is Status.REQUESTED
            events = await ledger.audit.order_events("c-1")
            assert [type(e) for e in events] == [OrderRequested]
            history = await ledger.history("c-1")
            assert [h.position for h in history] == [1]
            # The same request with another quantity reuses the client order ID: refused.
            result = await ledger.record(request("c-1", quantity="3"))
            assert result.outcome == "rejected"
            assert await ledger.resolve("c-1") == "c-1"

    asyncio.run(main())


def test_every_method_of_the_ledger_has_its_coroutine() -> None:
    """The asynchronous ledger answers everything the synchronous one does: each public method
    defined on ``OrderLedger`` itself is there, except the streaming ``iter_*`` forms (an asyncio
    program takes the list form, or ``follow``) and ``close`` (``await ledger.close()``)."""
    import inspect

    own = {
        name
        for name, value in vars(OrderLedger).items()
        if inspect.isfunction(value) and not name.startswith(("_", "iter_"))
    }
    missing = sorted(n for n in own if not hasattr(AsyncOrderLedger, n))
    assert missing == []
    # Writes stay writes: they run on the one writer thread, in call order.
    orders = AsyncOrderLedger.orders
    assert inspect.iscoroutinefunction(orders)


def test_a_ledger_opened_elsewhere_is_wrapped_and_left_open(ledger_url: str) -> None:
    sync = OrderLedger(ledger_url)
    try:

        async def main() -> None:
            async with AsyncOrderLedger(ledger=sync) as ledger:
                await ledger.record(request("c-1"))

        asyncio.run(main())
        assert sync.order("c-1").status is Status.REQUESTED  # still open after the block
    finally:
        sync.close()


def test_a_closed_or_unopened_instance_says_how_to_open_it() -> None:
    ledger = AsyncOrderLedger("memory://")
    with pytest.raises(RuntimeError, match="async with AsyncOrderLedger"):
        asyncio.run(ledger.order("c-1"))


# ----------------------------------------------------------------------------- placing

SPEC = {
    "venue": "V",
    "account": "acc",
    "instrument": "BTC-USDT",
    "side": "buy",
    "order_type": "limit",
    "quantity": "2",
    "price": "100",
}


class VenueRefused(Exception):
    """A venue's "order rejected" error (as ccxt's InvalidOrder)."""


def test_placing_records_the_request_before_the_send_and_the_ack_after() -> None:
    async def main() -> None:
        async with AsyncOrderLedger("memory://") as ledger:
            async with ledger.placing(SPEC) as placement:
                # Sent with this ID, the order is already on record as requested.
                cid = placement.client_order_id
                assert (await ledger.order(cid)).status is Status.REQUESTED
                assert placement.answered == "in_flight"
                await placement.accepted("V-77")
            assert placement.answered == "accepted"
            order = await ledger.order(cid)
            assert order.status is Status.ACCEPTED
            assert order.venue_order_id == "V-77"
            assert [type(e) for e in await ledger.audit.order_events(cid)] == [OrderRequested, OrderAccepted]

    asyncio.run(main())


def test_a_venue_rejection_raised_by_the_send_is_recorded_and_propagates() -> None:
    async def main() -> str:
        async with AsyncOrderLedger("memory://") as ledger:
            with pytest.raises(VenueRefused):
                async with ledger.placing(SPEC, rejections=(VenueRefused,)) as placement:
                    raise VenueRefused("binance {'code': -2010, 'msg': 'insufficient balance'}")
            order = await ledger.order(placement.client_order_id)
            assert order.status is Status.REJECTED
            (rejected,) = [
                e
                for e in await ledger.audit.order_events(placement.client_order_id)
                if e.type_name() == "OrderRejected"
            ]
            assert isinstance(rejected, OrderRejected)
            return rejected.reason or ""

    assert asyncio.run(main()) == "binance {'code': -2010, 'msg': 'insufficient balance'}"


@pytest.mark.parametrize(
    "failure", [TimeoutError("timed out"), ConnectionResetError("reset"), asyncio.CancelledError()]
)
def test_an_ambiguous_send_leaves_the_order_in_flight_and_propagates(failure: BaseException) -> None:
    async def main() -> None:
        async with AsyncOrderLedger("memory://") as ledger:
            with pytest.raises(type(failure)):
                async with ledger.placing(SPEC, rejections=(VenueRefused,)) as placement:
                    raise failure
            cid = placement.client_order_id
            assert placement.answered == "in_flight"
            order = await ledger.order(cid)
            assert order.status is Status.REQUESTED  # open: the venue may have it
            assert [type(e) for e in await ledger.audit.order_events(cid)] == [OrderRequested]
            # The venue's own report settles it later, by the client order ID.
            await ledger.record(fact("accepted", cid, venue_order_id="V-9"))
            assert (await ledger.order(cid)).status is Status.ACCEPTED

    asyncio.run(main())


def test_a_request_the_ledger_refuses_is_never_sent() -> None:
    async def main() -> None:
        async with AsyncOrderLedger("memory://") as ledger:
            await ledger.record(request("c-1"))
            sent: list[str] = []
            with pytest.raises(RequestNotRecordedError, match="'c-1' was not recorded") as caught:
                async with ledger.placing(SPEC | {"client_order_id": "c-1", "quantity": "5"}) as placement:
                    sent.append(placement.client_order_id)  # pragma: no cover - must not run
            assert sent == []
            assert caught.value.outcome == "rejected"
            assert caught.value.client_order_id == "c-1"

    asyncio.run(main())


def test_placing_again_with_the_same_request_may_resend_it() -> None:
    # A retry after a timeout: the same request, same client order ID (the venue deduplicates).
    async def main() -> None:
        async with AsyncOrderLedger("memory://") as ledger:
            spec = SPEC | {"client_order_id": "c-9", "ts": "2026-11-20T10:00:00Z"}
            with pytest.raises(TimeoutError):
                async with ledger.placing(spec):
                    raise TimeoutError
            async with ledger.placing(spec) as placement:
                assert placement.request.outcome == "duplicate"
                await placement.rejected("post only would cross")
            assert (await ledger.order("c-9")).status is Status.REJECTED

    asyncio.run(main())


def test_the_synchronous_twin_follows_the_same_rules() -> None:
    ledger = OrderLedger("memory://")
    try:
        with ledger.placing(SPEC) as accepted:
            accepted.accepted("V-1")
        with pytest.raises(VenueRefused), ledger.placing(SPEC, rejections=(VenueRefused,)) as refused:
            raise VenueRefused("no")
        with pytest.raises(TimeoutError), ledger.placing(SPEC, rejections=(VenueRefused,)) as unknown:
            raise TimeoutError
        statuses = [ledger.order(p.client_order_id).status for p in (accepted, refused, unknown)]
        assert statuses == [Status.ACCEPTED, Status.REJECTED, Status.REQUESTED]
        reused = SPEC | {"client_order_id": accepted.client_order_id, "quantity": "9"}
        with pytest.raises(RequestNotRecordedError), ledger.placing(reused):
            pass  # pragma: no cover - the body must not run
    finally:
        ledger.close()


def test_follow_on_the_synchronous_ledger_resumes_from_a_position(ledger_url: str) -> None:
    ledger = OrderLedger(ledger_url)
    try:
        for n in range(3):
            ledger.record(request(f"c-{n}"))
        stop = threading.Event()
        stop.set()  # read what is committed, then end at the first wait
        assert [(c.position, c.event.client_order_id) for c in ledger.follow(1, stop=stop)] == [
            (2, "c-1"),
            (3, "c-2"),
        ]
        # A thread records while another follows: the follower is woken by the commit.
        seen: list[int] = []
        follower_stop = threading.Event()

        def follow() -> None:
            for committed in ledger.follow(3, poll_seconds=60, stop=follower_stop):
                seen.append(committed.position)
                follower_stop.set()

        thread = threading.Thread(target=follow)
        thread.start()
        ledger.record(fill("c-0", "t-1", "1"))
        thread.join()
        assert seen == [4]
    finally:
        ledger.close()


def _ledger_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("orderledger-")}


def _new_ledger_threads(before: set[threading.Thread]) -> set[threading.Thread]:
    """The ledger's threads still running that were not before the test: the ones it left."""
    return _ledger_threads() - before


def test_a_ledger_that_cannot_open_fails_with_its_one_line_error(tmp_path: Path) -> None:
    before = _ledger_threads()  # a pool another test of this process left (an HTTP app's)
    missing = f"sqlite:///{tmp_path / 'absent.db'}"

    async def main() -> None:
        async with AsyncOrderLedger(missing, create=False):
            pass  # pragma: no cover - never opened

    with pytest.raises(StoreError, match=r"absent\.db"):
        asyncio.run(main())
    assert not (tmp_path / "absent.db").exists()
    assert not _new_ledger_threads(before)


def test_a_write_whose_caller_is_cancelled_is_still_carried_out(ledger_url: str) -> None:
    sync = OrderLedger(ledger_url)

    async def main() -> None:
        async with AsyncOrderLedger(ledger=sync) as ledger:
            tasks = [asyncio.create_task(ledger.record(request(f"c-{n}"))) for n in range(20)]
            await asyncio.sleep(0)  # each task has called record() and awaits it
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
        # Leaving the block waited for the writes under way or queued.

    try:
        asyncio.run(main())
        # Every one of the twenty happened.
        assert [sync.order(f"c-{n}").status for n in range(20)] == [Status.REQUESTED] * 20
    finally:
        sync.close()


def test_a_reopened_file_is_checked_from_open_in_the_background(tmp_path: Path, monkeypatch: Any) -> None:
    """The check a process makes before its first write starts when the ledger opens, in a thread
    of its own: the bot's first write after a restart waits only for what is left of it."""
    before = _ledger_threads()  # a pool another test of this process left (an HTTP app's)
    from orderledger.infrastructure.storage import early_check
    from orderledger.infrastructure.storage import sqlite as sqlite_storage

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    with OrderLedger(url) as ledger:
        for message in order_messages(20):
            ledger.record(message)
    # As after a crash (or of a copy): the file is not known sound, so the next process checks it.
    (tmp_path / f"bot.db{early_check.SOUND_SUFFIX}").unlink()
    started, release = threading.Event(), threading.Event()
    checks: list[str] = []
    check = sqlite_storage.check_sqlite_file

    def checked(tx: Any, path: str, *, deep: bool = False) -> str:
        checks.append(threading.current_thread().name)
        started.set()
        assert release.wait(timeout=60)
        return check(tx, path, deep=deep)

    monkeypatch.setattr(sqlite_storage, "check_sqlite_file", checked)

    async def main() -> str:
        async with AsyncOrderLedger(url) as ledger:
            # Given the ledger just opened: its check is already running, before any write
            assert await asyncio.to_thread(started.wait, 60)
            assert checks == ["orderledger-check"]
            release.set()
            # When the first write comes, it is made once the check has passed
            result = await ledger.record(request("after-restart"))
            return str(result.outcome)

    assert asyncio.run(main()) == "applied"
    assert checks == ["orderledger-check"]  # checked once, in the background
    assert not _new_ledger_threads(before)
