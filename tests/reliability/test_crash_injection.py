"""SIGKILL during ingest, follow, rebuild and reconcile, on SQLite and PostgreSQL (issue 8, item 1).

One campaign per backend, in rounds. Each round works on one database that keeps growing:

1. **ingest**: a simulated session (about 3,000 lines, group commits of 50) is ingested again and
   again from its first line, every other run with ``project=False`` (views left to a follower);
2. **follow**: a second session is written by a ``--no-project`` ingester while a
   ``project --follow`` worker folds the views; the follower is killed every cycle, the writer
   every other cycle;
3. **rebuild**: ``rebuild --all`` is killed while it refolds into new tables;
4. **reconcile**: ``reconcile SNAPSHOT --apply`` is killed while it records corrections (inferred
   fills, closes, external orders with their fills) — then it runs to the end, and once more,
   which must record nothing.

Each phase ends with one uninterrupted run. After every kill the checks of
``tests/support/crash.py`` run (acknowledged messages journaled, no duplicate, journal and
events atomic, hash chain valid, views equal a fresh fold); at the end of each round the log holds
exactly the facts of a clean run of the same steps (an in-memory ledger), and every query answers
the same.

The CI-sized form makes 22 kills per backend (10 ingest, 4 follow, 4 rebuild, 4 reconcile; a
follow cycle may also kill its writer, which adds ingest kills): every phase is killed several
times, mid-work included, with every check after every kill, and the whole suite stays within
its time budget. ``ORDERLEDGER_SOAK=N`` (see ``tests/support/soak.py``) runs N rounds of the full-size
campaign, 60 kills per backend each (30 ingest, 12 follow, 9 rebuild, 9 reconcile): the soak
run whose figures docs/reliability.md records.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import pytest

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.application.upkeep.reconcile import Reconciler, parse_snapshot
from tests.support.crash import (
    AckLog,
    Checker,
    Killer,
    Tally,
    acked_pairs,
    follow_worker,
    ingest_worker,
    outputs,
    rebuild_worker,
    reconcile_worker,
    venue_snapshot,
)
from tests.support.integration import facts, opened
from tests.support.soak import SOAK

# Kills per round: each round of a soak is the full-size campaign; CI runs one smaller round.
FULL_ROUND = {"ingest": 30, "follow": 12, "rebuild": 9, "reconcile": 9}
PER_ROUND = FULL_ROUND if SOAK else {"ingest": 10, "follow": 4, "rebuild": 4, "reconcile": 4}
BATCH = 50
RECONCILE_BATCH = 20


def rounds() -> int:
    """Rounds per backend: one in CI; the soak factor in a soak."""
    return max(1, SOAK)


# Later rounds work on a larger log: a soak run gets a time limit that grows with its rounds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600 * rounds() ** 2)]


class Campaign:
    """One database, killed round after round; a clean in-memory ledger does the same steps."""

    def __init__(self, url: str, folder: Path, seed: int) -> None:
        self.url = url
        self.folder = folder
        self.seed = seed
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.killer = Killer(folder, self.rng, self.tally)
        self.checker = Checker(url)
        self.reference = OrderLedger("memory://")

    def run(self, rounds: int) -> Tally:
        started = time.monotonic()
        try:
            for number in range(rounds):
                self.round(number)
        finally:
            self.reference.close()
        self.tally.seconds = time.monotonic() - started
        return self.tally

    def round(self, number: int) -> None:
        tag = f"r{number}"
        session = self._write(f"{tag}-session.jsonl", list(simulate_lines(self.seed + number, 1000, tag)))
        follow = self._write(
            f"{tag}-follow.jsonl", list(simulate_lines(self.seed + 1000 + number, 600, f"{tag}f"))
        )
        # The clean run of the same steps: what the killed database must end up holding.
        self.reference.ingest_lines(session.read_bytes().splitlines(), origin=str(session))
        self.reference.ingest_lines(follow.read_bytes().splitlines(), origin=str(follow))
        snapshot = venue_snapshot(self.reference, tag)
        reconciler = Reconciler(self.reference, parse_snapshot(snapshot), grace=timedelta(seconds=60))
        reconciler.apply(reconciler.differences(), origin="reconcile:crash")
        self.checker.expected = facts(self.reference)

        self.ingest_phase(session)
        self.follow_phase(follow)
        self.rebuild_phase()
        self.reconcile_phase(snapshot)

        assert self.checker.facts == self.checker.expected, "the log differs from a clean run's"
        with opened(self.url) as ledger:
            assert outputs(ledger) == outputs(self.reference), "query answers differ from a clean run's"
            if ledger.db.dialect == "sqlite":
                with ledger.db.read() as tx:
                    assert tx.one("PRAGMA integrity_check")[0] == "ok"

    # ------------------------------------------------------------------ phases

    def ingest_phase(self, session: Path) -> None:
        wanted = self.tally.kills["ingest"] + PER_ROUND["ingest"]
        complete = False  # once a run has stored the whole session, reruns only find duplicates
        for attempt in range(PER_ROUND["ingest"] * 4):
            if self.tally.kills["ingest"] >= wanted:
                break
            process, acks = self.killer.start(ingest_worker, self.url, str(session), attempt % 2 == 1, BATCH)
            log = self.killer.wait_and_kill("ingest", process, acks, any_commit=complete)
            complete = complete or log.done
            self.checker.restart_and_check(self.tally, list(acked_pairs(log)), str(session))
        assert self.tally.kills["ingest"] >= wanted, self.tally.describe()
        self._complete(ingest_worker, str(session), True, BATCH, origin=str(session))

    def follow_phase(self, session: Path) -> None:
        """A ``--no-project`` writer and a follower, both killed; the views stay behind between cycles."""
        wanted = self.tally.kills["follow"] + PER_ROUND["follow"]
        for cycle in range(PER_ROUND["follow"] * 4):
            if self.tally.kills["follow"] >= wanted:
                break
            writer, writer_acks = self.killer.start(ingest_worker, self.url, str(session), False, BATCH)
            follower, follower_acks = self.killer.start(follow_worker, self.url)
            followed = self.killer.wait_and_kill(
                "follow", follower, follower_acks, may_finish=False, patience=10
            )
            written = self.killer.wait_and_kill("ingest", writer, writer_acks)
            positions = [int(values[1]) for _, values in followed.progress]
            self.checker.restart_and_check(
                self.tally,
                list(acked_pairs(written)),
                str(session),
                views_at_least=max(positions, default=0),
                catch_up=cycle % 4 == 3,
            )
        assert self.tally.kills["follow"] >= wanted, self.tally.describe()
        self._complete(ingest_worker, str(session), True, BATCH, origin=str(session))

    def rebuild_phase(self) -> None:
        wanted = self.tally.kills["rebuild"] + PER_ROUND["rebuild"]
        for _ in range(PER_ROUND["rebuild"] * 4):
            if self.tally.kills["rebuild"] >= wanted:
                break
            process, acks = self.killer.start(rebuild_worker, self.url)
            self.killer.wait_and_kill("rebuild", process, acks)
            self.checker.restart_and_check(self.tally)
        assert self.tally.kills["rebuild"] >= wanted, self.tally.describe()
        self._complete(rebuild_worker)

    def reconcile_phase(self, snapshot: str) -> None:
        wanted = self.tally.kills["reconcile"] + PER_ROUND["reconcile"]
        for _ in range(PER_ROUND["reconcile"] * 4):
            if self.tally.kills["reconcile"] >= wanted:
                break
            process, acks = self.killer.start(reconcile_worker, self.url, snapshot, RECONCILE_BATCH)
            log = self.killer.wait_and_kill("reconcile", process, acks)
            self.checker.restart_and_check(self.tally, list(acked_pairs(log)), "reconcile:crash")
        assert self.tally.kills["reconcile"] >= wanted, self.tally.describe()
        self._complete(reconcile_worker, snapshot, RECONCILE_BATCH, origin="reconcile:crash")
        again = self._complete(reconcile_worker, snapshot, RECONCILE_BATCH, origin="reconcile:crash")
        assert sum(new for _, new, _ in again.commits) == 0, "a second reconcile --apply recorded events"

    # ------------------------------------------------------------------ helpers

    def _complete(self, target: object, *args: object, origin: str | None = None) -> AckLog:
        process, acks = self.killer.start(target, self.url, *args)  # type: ignore[arg-type]
        log = self.killer.finish(getattr(target, "__name__", "worker").removesuffix("_worker"), process, acks)
        self.checker.restart_and_check(self.tally, list(acked_pairs(log)), origin)
        return log

    def _write(self, name: str, lines: Iterable[str]) -> Path:
        path = self.folder / name
        path.write_text("".join(line + "\n" for line in lines))
        return path


def assert_kills_landed_in_work(tally: Tally) -> None:
    """Most kills interrupted a run that had committed something; every kind had such kills."""
    # Two kills in three wait for the run to commit work first; timing on a loaded machine may
    # still put a few of those before it, so the bound is looser than the design.
    landed = sum(tally.mid_work.values())
    assert landed >= tally.total / 3, tally.describe()
    assert all(tally.mid_work[kind] >= 1 for kind in PER_ROUND), tally.describe()


def test_sqlite_survives_sigkill_during_ingest_follow_rebuild_and_reconcile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Campaign(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, seed=811).run(rounds())
    with capsys.disabled():
        print(f"\ncrash injection on SQLite: {tally.describe()}")
    assert tally.total >= sum(PER_ROUND.values()) * rounds()
    assert_kills_landed_in_work(tally)


@pytest.mark.postgres
def test_postgres_survives_sigkill_during_ingest_follow_rebuild_and_reconcile(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Campaign(postgres_url, tmp_path, seed=812).run(rounds())
    with capsys.disabled():
        print(f"\ncrash injection on PostgreSQL: {tally.describe()}")
    assert tally.total >= sum(PER_ROUND.values()) * rounds()
    assert_kills_landed_in_work(tally)
