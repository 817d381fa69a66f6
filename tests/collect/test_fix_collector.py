"""The FIX log follower (infrastructure/collect/fix.py): a QuickFIX C++-style message log that
grows, is rotated by rename (``backup()``) and truncated (``clear()``) while followed; a partial
last line waits for its newline; two messages on one line are both booked. For each schedule the
books equal those of ingesting the same lines from a file (the clean stream), and nothing is
parked. Every backend; the follower's polls are driven by a manual clock."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from orderledger import OrderLedger
from orderledger.infrastructure.application.aio import AsyncOrderLedger
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.registry import configure
from orderledger.infrastructure.collect.runner import Collector
from tests.support.clock import ManualClock
from tests.support.collect import books
from tests.support.fixlog import session_lines

pytestmark = pytest.mark.timeout(60)
POLL = 0.2


def clean_books(url: str, lines: list[bytes]) -> dict[str, Any]:
    """The books from ingesting the lines from a file (``orderledger ingest --format fix``)."""
    with OrderLedger(url) as ledger:
        ledger.ingest_lines(lines, format="fix", venue="desk1")
        return books(ledger)


def follower(ledger: AsyncOrderLedger, path: Path, clock: ManualClock) -> Collector:
    _, config = configure(
        "fix",
        account=None,
        endpoint=None,
        options={"path": str(path), "venue": "desk1", "poll": str(POLL)},
        credentials=Credentials(),
        timing=clock.timing(),
    )
    from orderledger.infrastructure.collect.venues.fix import FixLogSource

    return Collector(ledger, FixLogSource(config), timing=clock.timing(), reconcile_every=None)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as log:
        log.write(data)


def test_a_log_rotated_by_rename_and_truncated_while_followed_loses_and_repeats_nothing(
    ledger_url: str, tmp_path: Path
) -> None:
    lines = session_lines(4)  # 12 lines
    expected = clean_books("memory://", lines)
    # (the clean stream reads the two messages on their own lines)
    # The clean stream books 4 orders × (3 + 7) = 40 filled, 8 trades, nothing parked.
    assert [o[3] for o in expected["orders"]] == ["10", "10", "10", "10"]
    assert len(expected["trades"]) == 8 and expected["parked"] == []
    log = tmp_path / "FIX.4.4-VENUEX-DESK1.messages.current.log"
    backup = tmp_path / "FIX.4.4-VENUEX-DESK1.messages.backup.1.log"

    async def scenario() -> dict[str, Any]:
        async with AsyncOrderLedger(ledger_url) as ledger:
            clock = ManualClock()
            # Given a log holding 3 lines and half of the 4th,
            append(log, b"\n".join(lines[:3]) + b"\n" + lines[3][:40])
            collector = follower(ledger, log, clock)
            task = asyncio.create_task(collector.run())
            await collector.received(3)
            await collector.durable()
            # when the 4th line is finished and two more follow, one of them written as two
            # messages on one line (the adapter splits at 8=FIX),
            second = lines[5].split(b" : ", 1)[1]  # the message without its stamp
            append(log, lines[3][40:] + b"\n" + lines[4] + second + b"\n")
            await clock.advance(POLL)
            await collector.received(5)  # 3 + the 4th + the line holding two messages
            # when the engine backs the log up (renamed after 2 more lines) and starts a new one,
            append(log, lines[6] + b"\n" + lines[7] + b"\n")
            os.rename(log, backup)
            append(log, lines[8] + b"\n")
            await clock.advance(POLL)
            await collector.received(8)  # the old file drained (2), then the new one (1)
            # when the engine clears the log (truncated) and writes on,
            os.truncate(log, 0)
            await clock.advance(POLL)
            append(log, b"\n".join(lines[9:]) + b"\n")
            await clock.advance(POLL)
            await collector.received(11)  # the 3 lines after the truncation
            await collector.durable()
            collector.stop()
            figures = await task
            assert figures["frames"] == 11 and figures["parked"] == 0
            return await asyncio.to_thread(books, ledger.ledger)

    # then the books are the clean stream's: nothing lost, nothing booked twice
    assert asyncio.run(scenario()) == expected


def test_a_restarted_follower_reads_the_log_again_and_books_nothing_twice(
    file_ledger_url: str, tmp_path: Path
) -> None:
    lines = session_lines(2)
    expected = clean_books("memory://", lines)
    log = tmp_path / "messages.current.log"
    append(log, b"\n".join(lines[:4]) + b"\n")

    async def run_once(count: int) -> dict[str, Any]:
        async with AsyncOrderLedger(file_ledger_url) as ledger:
            collector = follower(ledger, log, ManualClock())
            task = asyncio.create_task(collector.run())
            await collector.received(count)
            await collector.durable()
            collector.stop()
            await task
            return await asyncio.to_thread(books, ledger.ledger)

    # Given a follower that read the first 4 lines and stopped,
    asyncio.run(run_once(4))
    # when the log grows by 2 lines and a new follower starts (it reads all 6 from the start),
    append(log, b"\n".join(lines[4:]) + b"\n")
    # then the 4 lines read again are duplicates, and the books are the clean stream's
    assert asyncio.run(run_once(6)) == expected
