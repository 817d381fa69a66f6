"""``follow`` across processes, on a SQLite file and on PostgreSQL.

Given a follower in one process and a writer in another (the real ``orderledger`` command either
way round), then the follower sees every committed event once, in log order, while the writer is
still writing. Nothing waits on the clock: the follower polls often and the test ends when it has
seen the number of events the writer's input produces (or the test's timeout fails it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from orderledger import AsyncOrderLedger, CommittedEvent, OrderLedger
from orderledger.infrastructure.application.reads.follow import read_after
from tests.support.cli import ROOT, TIMEOUT, assert_one_line_failure, cli_command, cli_env, run_cli
from tests.support.integration import fact, fill, line, request

ROUNDS = 4
ORDERS_PER_ROUND = 5


def round_messages(r: int) -> list[dict[str, Any]]:
    """One ``ingest`` run's input: five orders, each requested, accepted and filled in one go."""
    messages = []
    for n in range(ORDERS_PER_ROUND):
        cid = f"r{r}-{n}"
        messages += [
            request(cid, quantity="1"),
            fact("accepted", cid, seconds=1, venue_order_id=f"V-{cid}"),
            fill(cid, f"t-{cid}", "1", seconds=2),
        ]
    return messages


# Each round: 5 orders × (requested, accepted, filled) = 15 events; 4 rounds: 60.
EXPECTED = ROUNDS * ORDERS_PER_ROUND * 3


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_python_follower_sees_what_another_process_writes(file_ledger_url: str, tmp_path: Path) -> None:
    OrderLedger(file_ledger_url).close()  # the database exists before either side starts
    inputs = []
    for r in range(ROUNDS):
        path = tmp_path / f"round-{r}.jsonl"
        path.write_text("".join(line(m) + "\n" for m in round_messages(r)), "utf-8")
        inputs.append(path)

    async def main() -> tuple[list[CommittedEvent], list[CommittedEvent]]:
        async with AsyncOrderLedger(file_ledger_url) as ledger:
            seen: list[CommittedEvent] = []

            async def follow() -> None:
                async for committed in ledger.follow(since=0, poll_seconds=0.02):
                    seen.append(committed)
                    if len(seen) == EXPECTED:
                        return

            follower = asyncio.create_task(follow())
            for path in inputs:  # four processes one after another: four commits
                process = await asyncio.create_subprocess_exec(
                    *cli_command("ingest", str(path), db=file_ledger_url),
                    cwd=ROOT,
                    env=cli_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
                assert process.returncode == 0, stderr.decode()
            await asyncio.wait_for(follower, TIMEOUT)
            return seen, read_after(ledger.ledger, 0, 10 * EXPECTED)

    seen, logged = asyncio.run(main())
    assert len(logged) == EXPECTED
    assert [(c.position, c.event) for c in seen] == [(c.position, c.event) for c in logged]
    assert [c.position for c in seen] == list(range(1, EXPECTED + 1))
    assert [c.event.client_order_id for c in seen][:3] == ["r0-0"] * 3


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_follow_command_sees_what_this_process_writes(file_ledger_url: str) -> None:
    ledger = OrderLedger(file_ledger_url)
    try:
        # The command follows from the start and stops after the expected number of events.
        with subprocess.Popen(
            cli_command(
                "follow", "--after", "0", "--interval", "0.02", "--limit", str(EXPECTED), db=file_ledger_url
            ),
            cwd=ROOT,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None
            first = None
            for r in range(ROUNDS):
                ledger.ingest_lines([line(m) for m in round_messages(r)])
                if first is None:
                    # Live: the command has printed the first round before the second is written.
                    first = json.loads(process.stdout.readline())
            # Read on from the same buffered stream (communicate() would skip what readline buffered).
            rest = process.stdout.read()
            stderr = process.stderr.read() if process.stderr else ""
            process.wait(TIMEOUT)
        assert process.returncode == 0, stderr
        records = [first, *(json.loads(text) for text in rest.splitlines())]
        logged = read_after(ledger, 0, 10 * EXPECTED)
        assert (
            [r["position"] for r in records] == [c.position for c in logged] == list(range(1, EXPECTED + 1))
        )
        assert [(r["type"], r["client_order_id"]) for r in records] == [
            (c.event.type_name(), c.event.client_order_id) for c in logged
        ]
    finally:
        ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_write_rolled_back_after_taking_positions_leaves_no_gap_to_skip(file_ledger_url: str) -> None:
    ledger = OrderLedger(file_ledger_url)
    try:
        ledger.record(request("c-0"))  # position 1
        stop = threading.Event()
        follower = ledger.follow(0, poll_seconds=TIMEOUT, stop=stop)
        first = next(follower)
        assert (first.position, first.event.client_order_id) == (1, "c-0")

        # A write fails inside its transaction, after its event took position 2: all of it is undone.
        taken: list[int] = []
        fold = ledger.processor.inline

        def failing(tx: Any, committed: list[tuple[int, Any]], decided: Any) -> None:
            taken.extend(position for position, _ in committed)
            raise RuntimeError("the disk went away")

        ledger.processor.inline = failing
        with pytest.raises(RuntimeError, match="disk went away"):
            ledger.record(request("c-1"))
        ledger.processor.inline = fold
        assert taken == [2]

        # The next write takes position 2 again; the follower, already past 1, gets it.
        ledger.record(request("c-2"))
        second = next(follower)
        assert (second.position, second.event.client_order_id) == (2, "c-2")
        stop.set()
        assert list(follower) == []
    finally:
        ledger.close()


def test_the_follow_command_resumes_and_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    # No ledger there: an error, and no file created (follow only reads).
    missing = run_cli("follow", db=url, cwd=tmp_path)
    assert "ledger.db" in assert_one_line_failure(missing, 2)
    assert not (tmp_path / "ledger.db").exists()
    ledger = OrderLedger(url)
    try:
        ledger.ingest_lines([line(request("c-1")), line(request("c-2"))])
    finally:
        ledger.close()
    negative = run_cli("follow", "--after", "-1", db=url, cwd=tmp_path)
    assert assert_one_line_failure(negative, 2) == "orderledger: --after must be a log position (0 or more)"
    # Resumed after position 1, one event: the second request, then the command ends.
    resumed = run_cli("follow", "--after", "1", "--limit", "1", db=url, cwd=tmp_path)
    assert (resumed.returncode, resumed.stderr) == (0, "")
    (record,) = [json.loads(text) for text in resumed.stdout.splitlines()]
    assert (record["position"], record["type"], record["client_order_id"]) == (2, "OrderRequested", "c-2")
