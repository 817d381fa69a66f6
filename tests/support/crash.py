"""Crash injection: real ledger work in child processes, SIGKILLed at random, checked after each kill.

Workers (``ingest``, ``follow``, ``rebuild``, ``reconcile``) run the same code the commands run,
in processes forked from a forkserver that has already imported the ledger, so a kill costs
milliseconds rather than an interpreter start. Each worker appends an acknowledgement line to
its own file after every commit has returned (for ingest and reconcile: the journal ID of every
message in the group commit, as a caller would report them as durable). The parent chooses the
moment of each SIGKILL from a seeded generator: a third of the kills land at a random time from
the start (start-up, opening the database, re-reading stored facts), the others just after the
worker has acknowledged a random number of commits, so that they fall inside the next one.

After every kill the parent restarts the ledger (opens it and catches the views up, as any
restarted process does) and checks, incrementally:

- no acknowledged message is lost: every acknowledged journal ID is in the journal, with its line;
- no event is duplicated: the facts in the log are a sub-multiset of what a clean run stores;
- every journal row has exactly the events it says it produced (journal and events are atomic);
- the hash chain is valid from the first event (checked from the last verified head onwards,
  which is linked to everything before it);
- the views equal a fresh fold of the log (folded in memory here, compared row by row).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderledger.domain.events import OrderEvent
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import (
    list_orders,
    list_positions,
    list_trades,
    pnl_by,
)
from orderledger.infrastructure.application.upkeep.reconcile import Reconciler, parse_snapshot
from orderledger.infrastructure.audit.chain_check import verify_chain
from orderledger.infrastructure.audit.view_check import view_differences
from orderledger.infrastructure.ingest.inbound import Result
from orderledger.infrastructure.ingest.inputs import is_live, read_lines
from orderledger.infrastructure.storage.chain import GENESIS
from orderledger.projections import PROJECTIONS
from orderledger.projections.base import MemoryTable
from tests.support.faults import torn_commit_problems
from tests.support.integration import fact_of, read_log

Fact = tuple[str, str, str]

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["__main__", __name__])

# ============================================================================= in the child process


class _Acks:
    """An append-only acknowledgement file; each line is written with one write(2)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, kind: str, *values: object) -> None:
        os.write(self.fd, f"{kind} {time.monotonic():.6f} {' '.join(map(str, values))}\n".encode())

    def results(self, results: list[Result]) -> None:
        """One line for a durable group commit: new events, then (journal ID, line) pairs."""
        pairs = " ".join(f"{r.message_id}:{r.line_no if r.line_no is not None else '-'}" for r in results)
        self.write("commit", sum(len(r.events) for r in results), pairs)


def ingest_worker(url: str, path: str, project: bool, batch_size: int, acks_path: str) -> None:
    """``orderledger ingest FILE`` (``--no-project`` when ``project`` is false)."""
    acks = _Acks(acks_path)
    ledger = OrderLedger(url, batch_size=batch_size, project=project)
    with open(path, "rb") as handle:  # read as the command reads it
        ledger.ingest_lines(read_lines(handle, pauses=is_live(handle)), origin=path, on_batch=acks.results)
    ledger.close()
    acks.write("done")


def follow_worker(url: str, acks_path: str) -> None:
    """``orderledger project --follow``: catch up, poll, forever (it only ever ends by a signal)."""
    acks = _Acks(acks_path)
    ledger = OrderLedger(url, project=False)

    def folded(count: int) -> None:
        acks.write("views", count, min(ledger.views.positions().values()))

    while True:
        ledger.views.catch_up(progress=folded)
        time.sleep(0.01)


def rebuild_worker(url: str, acks_path: str) -> None:
    """``orderledger rebuild --all``."""
    acks = _Acks(acks_path)
    ledger = OrderLedger(url)
    ledger.views.rebuild(list(ledger.views.by_name), progress=lambda count: acks.write("folded", count))
    ledger.close()
    acks.write("done")


def reconcile_worker(url: str, snapshot: str, batch_size: int, acks_path: str) -> None:
    """``orderledger reconcile SNAPSHOT --apply``."""
    acks = _Acks(acks_path)
    ledger = OrderLedger(url, batch_size=batch_size)
    ledger.upkeep.catch_up()
    reconciler = Reconciler(ledger, parse_snapshot(snapshot), grace=timedelta(seconds=60))
    reconciler.apply(reconciler.differences(), origin="reconcile:crash", on_batch=acks.results)
    ledger.close()
    acks.write("done")


# ============================================================================= in the parent


@dataclass
class AckLog:
    """What one worker run acknowledged, read back from its file (a torn last line is ignored)."""

    commits: list[tuple[float, int, list[tuple[int, int | None]]]] = field(default_factory=list)
    progress: list[tuple[float, list[str]]] = field(default_factory=list)
    done: bool = False

    @classmethod
    def read(cls, path: Path) -> AckLog:
        log = cls()
        if not path.exists():
            return log
        for line in path.read_text().split("\n")[:-1]:
            kind, stamp, *rest = line.split(" ")
            if kind == "commit":
                pairs = []
                for pair in rest[1:]:
                    message_id, line_no = pair.split(":")
                    pairs.append((int(message_id), None if line_no == "-" else int(line_no)))
                log.commits.append((float(stamp), int(rest[0]), pairs))
            elif kind == "done":
                log.done = True
            else:
                log.progress.append((float(stamp), rest))
        return log

    @property
    def stamps(self) -> list[float]:
        """When each acknowledgement that did work was written."""
        return sorted([c[0] for c in self.commits if c[1] > 0] + [p[0] for p in self.progress])

    def working(self) -> int:
        """Acknowledgements that did work: commits with new events, or view progress."""
        return sum(1 for c in self.commits if c[1] > 0) + len(self.progress)


@dataclass
class Tally:
    """What the kills hit; printed by the tests and quoted in docs/reliability.md."""

    kills: Counter[str] = field(default_factory=Counter)
    mid_work: Counter[str] = field(default_factory=Counter)  # after the run had committed something
    finished: Counter[str] = field(default_factory=Counter)  # runs that ended before their kill
    checks: int = 0
    acked_messages: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.kills.values())

    def describe(self) -> str:
        parts = ", ".join(
            f"{kind} {n} ({self.mid_work[kind]} after that run's first commit)"
            for kind, n in self.kills.items()
        )
        return (
            f"{self.total} SIGKILLs: {parts}; {sum(self.finished.values())} runs finished before their kill; "
            f"{self.checks} restarts checked, {self.acked_messages} acknowledged journal IDs all present, "
            f"in {self.seconds:.0f} s"
        )


class Killer:
    """Starts workers and SIGKILLs them at seeded random moments."""

    def __init__(self, folder: Path, rng: random.Random, tally: Tally) -> None:
        self.folder = folder
        self.rng = rng
        self.tally = tally
        self.runs = 0
        self.gap: dict[str, float] = {}  # typical seconds between acknowledgements, per kind
        self.reach: dict[str, float] = {}  # typical seconds from start to the first new work, per kind

    def start(self, target: Callable[..., None], *args: Any) -> tuple[Any, Path]:
        self.runs += 1
        acks = self.folder / f"acks-{self.runs}"
        process = CONTEXT.Process(target=target, args=(*args, str(acks)), daemon=True)
        process.start()
        return process, acks

    def wait_and_kill(
        self,
        kind: str,
        process: Any,
        acks: Path,
        *,
        may_finish: bool = True,
        patience: float = 120.0,
        any_commit: bool = False,
    ) -> AckLog:
        """Let the worker run until the chosen moment, then SIGKILL it (if it is still running).

        A third of the kills come at a random time before the worker is expected to start new
        work (start-up, opening the database, re-reading what is stored); the others after it has
        acknowledged one to three commits of new work (``any_commit``: of any commit, for a run
        with nothing new to do), within one and a half commit times, so inside the next commit.
        ``patience``: the longest wait for those acknowledgements.
        """
        rng = self.rng
        started = time.monotonic()
        gap = self.gap.get(kind, 0.05)
        if rng.random() < 1 / 3:
            process.join(rng.uniform(0.0, 1.2 * self.reach.get(kind, 0.2)))
        else:
            wanted = rng.randint(1, 3)
            deadline = started + patience
            while process.is_alive() and time.monotonic() < deadline:
                log = AckLog.read(acks)
                if (len(log.commits) if any_commit else log.working()) >= wanted:
                    break
                time.sleep(0.002)
            process.join(rng.uniform(0.0, 1.5 * gap))
        killed = process.is_alive()
        if killed:
            os.kill(process.pid, signal.SIGKILL)
        process.join(60)
        return self._account(kind, process, acks, killed, started, gap, may_finish)

    def finish(self, kind: str, process: Any, acks: Path) -> AckLog:
        """Let the worker run to its end; it must succeed."""
        started = time.monotonic()
        process.join(600)
        return self._account(kind, process, acks, False, started, self.gap.get(kind, 0.05), True)

    def _account(
        self, kind: str, process: Any, acks: Path, killed: bool, started: float, gap: float, may_finish: bool
    ) -> AckLog:
        log = AckLog.read(acks)
        if killed and process.exitcode == 0:
            killed = False  # it finished between the last look and the signal
        if killed:
            assert process.exitcode == -signal.SIGKILL, f"{kind} worker: exit {process.exitcode}"
            self.tally.kills[kind] += 1
            self.tally.mid_work[kind] += bool(log.commits or log.progress)
        else:
            assert may_finish, f"{kind} worker stopped by itself (exit {process.exitcode})"
            assert process.exitcode == 0, f"{kind} worker failed (exit {process.exitcode}); see its stderr"
            assert log.done, f"{kind} worker exited without finishing"
            self.tally.finished[kind] += 1
        stamps = log.stamps
        if len(stamps) >= 2:
            self.gap[kind] = 0.5 * gap + 0.5 * (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        if stamps:
            self.reach[kind] = 0.5 * self.reach.get(kind, 0.2) + 0.5 * (stamps[0] - started)
        elif not killed:
            self.reach[kind] = 0.5 * self.reach.get(kind, 0.2) + 0.5 * (time.monotonic() - started)
        return log


class Checker:
    """The parent's incremental knowledge of one database, checked after every restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.head: tuple[int, bytes] = (0, GENESIS)
        self.position = 0
        self.facts: Counter[Fact] = Counter()
        self.tables = {p.name: {s.name: MemoryTable[Any, Any]() for s in p.tables} for p in PROJECTIONS}
        self.projections = [cls() for cls in PROJECTIONS]
        self.expected: Counter[Fact] = Counter()  # what a clean run stores, so far
        self.pending: list[tuple[int, OrderEvent]] = []  # read from the log, not yet folded

    def restart_and_check(
        self,
        tally: Tally,
        acked: Sequence[tuple[int, int | None]] = (),
        origin: str | None = None,
        *,
        views_at_least: int = 0,
        catch_up: bool = True,
    ) -> None:
        """Open the ledger as a restarted process does and check every invariant.

        With ``catch_up`` the views are first brought to the end of the log (what a restarted
        ingest or ``project`` does) and must equal a fold of the whole log; without it they are
        compared where they stand, with a fold of the log up to their position.
        ``views_at_least``: the views position a follower acknowledged before it was killed.
        """
        ledger = OrderLedger(self.url, project=True)
        try:
            positions = set(ledger.views.positions().values())
            assert len(positions) == 1, f"views at different positions: {ledger.views.positions()}"
            at = positions.pop()
            assert at >= views_at_least, f"views at {at}, but a follower acknowledged {views_at_least}"
            if catch_up:
                ledger.upkeep.catch_up()
            self._acknowledged_are_journaled(ledger, acked, origin)
            tally.acked_messages += len(acked)
            self._chain_holds(ledger)
            for _, event in self._read_new(ledger):
                self.facts[fact_of(event)] += 1
            extra = self.facts - self.expected
            assert not extra, f"facts stored more often than a clean run stores them: {list(extra)[:5]}"
            torn = torn_commit_problems(ledger.db)
            assert not torn, torn
            self._fold_to(min(ledger.views.positions().values()))
            for projection in self.projections:
                problems = view_differences(ledger.db, projection, self.tables[projection.name], limit=5)
                assert not problems, problems
            tally.checks += 1
        finally:
            ledger.close()

    def _fold_to(self, position: int) -> None:
        """Fold the events read so far, up to ``position``, into the in-memory tables."""
        while self.pending and self.pending[0][0] <= position:
            at, event = self.pending.pop(0)
            for projection in self.projections:
                projection.apply(at, event, self.tables[projection.name])
        for projection in self.projections:
            projection.settle(self.tables[projection.name])

    def _acknowledged_are_journaled(
        self, ledger: OrderLedger, acked: Sequence[tuple[int, int | None]], origin: str | None
    ) -> None:
        wanted = dict(acked)
        found: dict[int, tuple[Any, Any]] = {}
        ids = sorted(wanted)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            with ledger.db.read() as tx:
                rows = tx.all(
                    f"SELECT message_id, line_no, origin FROM messages"
                    f" WHERE message_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            found.update({int(r[0]): (r[1], r[2]) for r in rows})
        lost = [i for i in ids if i not in found]
        assert not lost, f"{len(lost)} acknowledged messages are not in the journal: {lost[:5]}"
        for message_id, line_no in wanted.items():
            assert found[message_id][0] == line_no, f"journal row {message_id} is not line {line_no}"
            assert origin is None or found[message_id][1] == origin

    def _chain_holds(self, ledger: OrderLedger) -> None:
        report = verify_chain(ledger.db, after=self.head)
        assert report.broken is None, report.broken
        if report.head is not None:
            self.head = (report.head[0], bytes.fromhex(report.head[1]))

    def _read_new(self, ledger: OrderLedger) -> list[tuple[int, OrderEvent]]:
        new = read_log(ledger, start=self.position + 1)
        if new:
            assert [p for p, _ in new] == list(range(self.position + 1, new[-1][0] + 1)), "the log has a gap"
            self.position = new[-1][0]
            self.pending.extend(new)
        return new


# ============================================================================= sessions and snapshots


def venue_snapshot(
    ledger: OrderLedger, tag: str, venue: str = "venueA", account: str = "alpha", externals: int = 400
) -> str:
    """A venue view that disagrees with the ledger in every way reconciliation corrects.

    Of the ledger's open orders at (venue, account) from this tag's sessions, a third are still open
    at the venue with more filled than the ledger knows (an inferred fill), a third are closed there
    (canceled) and a third are absent. The venue also holds ``externals`` orders the ledger never saw, each
    filled by a fill in the snapshot.
    """
    orders = [
        o
        for o in list_orders(ledger.db, open_only=True, venue=venue, account=account)
        if o["client_order_id"].startswith(f"{tag}.")
    ]
    open_rows, closed_rows, fills = [], [], []
    for index, order in enumerate(orders):
        row = {
            "venue_order_id": order.get("venue_order_id") or f"{tag}.V{index}",
            "client_order_id": order["client_order_id"],
            "instrument": order["instrument"],
            "side": order["side"],
            "quantity": order["quantity"],
            "price": order["price"],
        }
        filled = Decimal(order["filled_quantity"])
        if index % 3 == 0:
            more = filled + (Decimal(order["quantity"]) - filled) / 2
            open_rows.append(
                {**row, "status": "open", "filled_quantity": str(more), "average_price": order["price"]}
            )
        elif index % 3 == 1:
            closed_rows.append({**row, "status": "canceled", "filled_quantity": str(filled)})
    for index in range(externals):
        voi = f"{tag}.X{index}"
        closed_rows.append(
            {
                "venue_order_id": voi,
                "instrument": "BTC-USDT",
                "side": "buy" if index % 2 else "sell",
                "quantity": "1",
                "price": "64000",
                "filled_quantity": "1",
                "average_price": "64000",
                "status": "filled",
            }
        )
        fills.append(
            {
                "trade_id": f"{tag}.XT{index}",
                "venue_order_id": voi,
                "instrument": "BTC-USDT",
                "side": "buy" if index % 2 else "sell",
                "quantity": "1",
                "price": "64000",
                "ts": "2026-11-21T08:00:00Z",
            }
        )
    return json.dumps(
        {
            "venue": venue,
            "account": account,
            "as_of": "2026-11-21T09:00:00Z",
            "open_orders": open_rows,
            "closed_orders": closed_rows,
            "fills": fills,
        }
    )


def outputs(ledger: OrderLedger) -> dict[str, Any]:
    """What the query commands answer (orders, trades, positions, P&L by every grouping)."""
    return {
        "orders": list_orders(ledger.db),
        "trades": list_trades(ledger.db),
        "positions": list_positions(ledger.db),
        **{
            f"pnl by {by}": pnl_by(ledger.db, by)
            for by in ("day", "account", "venue", "instrument", "tag:strategy")
        },
    }


def acked_pairs(log: AckLog) -> Iterator[tuple[int, int | None]]:
    """Every (journal ID, line) a run acknowledged."""
    for _, _, pairs in log.commits:
        yield from pairs
