"""Kill -9 at random points, rerun from the start, and nothing is lost or counted twice (issue 3).

A simulated session (thousands of orders, acknowledgements, partial fills, cancels, amends,
busts, duplicate deliveries) is written to a file. ``orderledger ingest FILE`` is started again
and again on one database and SIGKILLed after a random delay drawn from a seeded generator;
after every kill the same command is rerun from the first line, as docs/operations.md tells an
operator to do. The delays follow a clean run's timing (``Timing.delay``), scaled by the pace the
killed runs actually make under the machine's load of the moment (``Pace``: each kill shows how far
its run had got), so that kills land in start-up, in the re-read of stored facts, and in the
writing of new ones, all along the file. Every other
run while the log is incomplete is ``ingest --no-project`` (a deployment whose views are kept by
a separate worker), so the views are often behind the log.

Then ``project`` must bring the views up to the log, and they must equal a fresh fold
(``rebuild --all``). Finally one run goes to completion, and the database must hold exactly what
one clean ingest of the file holds: the same facts, each once, and the same answers to every
query.

The CI-sized campaign makes 20 kills on SQLite and 5 on PostgreSQL; ``ORDERLEDGER_SOAK=N`` (see
``tests/support/soak.py``) makes N times the full 50 and 10.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.application.ledger import DEFAULT_BATCH
from orderledger.infrastructure.application.simulator import simulate_lines
from tests.support.cli import (
    OPEN_STATUSES,
    OUTCOMES,
    assert_same_outputs,
    cli_command,
    cli_env,
    ingest,
    private_postgres_url,
    progress_of,
    run_cli,
    stored_facts,
    view_outputs,
    write_lines,
)
from tests.support.soak import sized

pytestmark = pytest.mark.slow

MARKS = ("BTC-USDT=64000", "ETH-USDT=3100", "BTC/USD=64010", "SOL/USD=145")
SESSION_SEED = 3
KILL_SEED = 20261120
SQLITE_KILLS = sized(20, 50)
POSTGRES_KILLS = sized(5, 10)


@dataclass(frozen=True)
class Timing:
    """How long ``ingest`` of the session takes on this machine and backend (wall time)."""

    startup: float  # a command that does nothing: interpreter, imports, opening the database
    clean: float  # the whole file into an empty ledger
    rerun: float  # the whole file again: every line a duplicate
    lines: int  # in the file; ingest commits them DEFAULT_BATCH (1,000) at a time

    def reached(self, committed: int, stored: float) -> float:
        """When a run that finds ``stored`` (a fraction) of the session stored has committed its
        first ``committed`` lines: start-up, then the stored part re-read at the rerun's pace, then
        new facts written at the clean run's."""
        again = min(committed, stored * self.lines)
        return (
            self.startup
            + again * (self.rerun - self.startup) / self.lines
            + (committed - again) * (self.clean - self.startup) / self.lines
        )

    def delay(self, rng: random.Random, stored: float) -> float:
        """A kill delay; ``stored`` is the fraction of the session's events already in the log.

        A rerun first reads what is stored again, as duplicates, then appends new facts. A third
        of the kills land anywhere before that point (start-up, opening the database, the
        re-read); the other two thirds just past it, within the next one and a half group commits
        of new events. So the log grows a little per run, and many kills interrupt the writing of
        facts not yet stored. Once everything is stored, kills land anywhere in the rerun.
        """
        past_the_stored_part = rng.random() < 2 / 3
        spread = rng.random()
        reread = self.reached(round(stored * self.lines), stored)
        if stored >= 1.0:
            return 0.05 + spread * self.rerun
        if not past_the_stored_part:
            return 0.05 + spread * reread
        batch = (self.clean - self.startup) * DEFAULT_BATCH / self.lines
        return reread + spread * 1.5 * batch


@dataclass
class Pace:
    """How many times the reference's ``Timing`` the killed runs take now: the kill delays' scale.

    The reference is timed once, before the kills, and the kills meet whatever load the machine has
    when they come (the other test worker's commands start, stop and change), so a fixed scale can
    put every kill in start-up, or none. Each run shows how far it got: it committed its first
    ``committed`` lines (its journal rows) within ``elapsed`` seconds, and, killed, not the next
    group commit. That bounds the factor by which it was slower than the reference: ``elapsed /
    reached(committed + batch)`` (the next commit was not reached) < factor ≤ ``elapsed /
    reached(committed)``. The next delay is scaled by a factor within the last run's bounds:

    - a run that finished was timed whole: its own factor;
    - a run killed after some commits: the factor moves (to the middle of the bounds, in ratio) only
      when outside them;
    - a run killed before its first commit bounds the factor from below only: when the kill came at
      least half way to where the first commit was due, the factor doubles past that bound (a search
      upwards, as a load can make a start several times slower than the reference's).
    """

    factor: float = 1.0
    factors: list[float] = field(default_factory=lambda: [1.0])

    def observe(self, timing: Timing, stored: float, elapsed: float, committed: int, finished: bool) -> None:
        """Learn from one run that found ``stored`` of the session stored (see the class)."""
        if finished:
            self.factor = elapsed / timing.reached(timing.lines, stored)
        else:
            committed = min(committed, timing.lines)
            low = elapsed / timing.reached(min(committed + DEFAULT_BATCH, timing.lines), stored)
            if committed == 0:
                if self.factor < 2 * low:
                    self.factor = 2 * max(low, self.factor)
            else:
                high = elapsed / timing.reached(committed, stored)
                if not low <= self.factor <= high:
                    self.factor = (max(low, high / 4) * high) ** 0.5
        self.factors.append(self.factor)


def measure(url: str, session: Path, cwd: Path, lines: int) -> Timing:
    """Ingest the session into an empty ledger (the reference), time it, a rerun and a no-op,
    each a new interpreter as the killed runs are (``fresh``)."""
    started = time.monotonic()
    run, summary = ingest(session, db=url, cwd=cwd, fresh=True)
    clean = time.monotonic() - started
    assert run.returncode == 0 and run.stderr == "", run.describe()
    assert summary.lines == lines and summary.counts["rejected"] == 0, run.describe()
    started = time.monotonic()
    run, summary = ingest(session, db=url, cwd=cwd, fresh=True)
    rerun = time.monotonic() - started
    assert run.returncode == 0, run.describe()
    assert summary.counts == {**dict.fromkeys(OUTCOMES, 0), "duplicate": lines}, run.describe()
    started = time.monotonic()
    run = run_cli("project", db=url, cwd=cwd, fresh=True)
    startup = time.monotonic() - started
    assert run.returncode == 0, run.describe()
    return Timing(startup, clean, rerun, lines)


@dataclass
class Campaign:
    """What happened over the kills, and what the database looked like at the end."""

    kills: int = 0
    finished_before_the_kill: int = 0
    before_any_commit: int = 0
    after_some_commits: int = 0
    while_appending_events: int = 0
    no_project_runs: int = 0
    views_left_behind: int = 0
    caught_up_by_project: int = 0
    left_to_the_next_run: int = 0
    delays: list[float] = field(default_factory=list)
    pace: Pace = field(default_factory=Pace)
    final_outputs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"{self.kills} SIGKILLs (delays {min(self.delays):.2f}–{max(self.delays):.2f} s, the "
            f"reference's timing × {min(self.pace.factors):.2f}–{max(self.pace.factors):.2f} as the "
            f"runs' pace showed, × {self.pace.factors[-1]:.2f} at the end): "
            f"{self.after_some_commits} landed mid-ingest, after some commits "
            f"({self.while_appending_events} after that run had appended new events, the others "
            f"while re-reading stored facts or writing the first new group commit); "
            f"{self.before_any_commit} before the first commit; "
            f"{self.finished_before_the_kill} runs finished before their kill; "
            f"{self.no_project_runs} runs were `ingest --no-project`; "
            f"views left behind the log {self.views_left_behind} times "
            f"({self.caught_up_by_project} caught up by `project`, "
            f"{self.left_to_the_next_run} left to the next run)"
        )


def project_catches_up(url: str, cwd: Path) -> int:
    """Run one-shot ``project``; the views must then be at the end of the log. Returns events applied."""
    behind = progress_of(url)
    run = run_cli("project", db=url, cwd=cwd)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    found = re.search(r"^views current: (\d+) events applied$", run.stdout, re.M)
    assert found is not None, run.describe()
    after = progress_of(url)
    assert not after.views_behind, f"views still behind after project: {after}"
    assert after.last_event == behind.last_event, "project appended to the log"
    applied = int(found[1])
    assert (applied > 0) == behind.views_behind, run.describe()
    assert applied <= behind.last_event - behind.views_at, run.describe()
    return applied


def kill_campaign(
    url: str, session: Path, cwd: Path, *, kills: int, timing: Timing, seed: int, events: int
) -> Campaign:
    """Start ``ingest session`` and SIGKILL it after a random delay (``Timing.delay`` at the pace
    the runs make, ``Pace``), ``kills`` times.

    While the log holds fewer than ``events`` (what one clean run stores), every other run is
    ``ingest --no-project`` (views kept by a separate worker), which leaves the views behind the
    log; each time they are behind after a run, every other time an operator runs ``project``
    and otherwise the next ``ingest`` must catch them up itself.
    """
    rng = random.Random(seed)
    campaign = Campaign()
    for attempt in range(kills * 4):
        if campaign.kills >= kills:
            break
        before = progress_of(url)
        stored = min(before.events / events, 1.0)
        wait = campaign.pace.factor * timing.delay(rng, stored)
        no_project = attempt % 2 == 0 and before.events < events
        campaign.no_project_runs += no_project
        command = cli_command("ingest", str(session), *(["--no-project"] if no_project else []), db=url)
        with (cwd / "ingest.stderr").open("w+b") as stderr:
            started = time.monotonic()
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=cli_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                process.wait(timeout=wait)  # the deliberate kill delay
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
            elapsed = time.monotonic() - started
            returncode = process.wait(timeout=60)
            stderr.seek(0)
            errors = stderr.read().decode()
        after = progress_of(url)
        assert after.last_event >= before.last_event and after.journal >= before.journal
        campaign.pace.observe(timing, stored, elapsed, after.journal - before.journal, returncode == 0)
        if returncode == 0:
            campaign.finished_before_the_kill += 1
            assert errors == "", errors
        else:
            assert returncode == -signal.SIGKILL, f"ingest failed on its own (exit {returncode}): {errors}"
            campaign.kills += 1
            campaign.delays.append(wait)
            if after.journal == before.journal:
                campaign.before_any_commit += 1
            else:
                campaign.after_some_commits += 1
                campaign.while_appending_events += after.events > before.events
        if after.views_behind:
            campaign.views_left_behind += 1
            if campaign.views_left_behind % 2:
                project_catches_up(url, cwd)
                campaign.caught_up_by_project += 1
            else:
                campaign.left_to_the_next_run += 1
    assert campaign.kills == kills, (
        f"only {campaign.kills} kills in {kills * 4} attempts: {campaign.describe()}"
    )
    return campaign


def recover_and_check(
    url: str, session: Path, cwd: Path, reference: dict[str, Any], lines: int
) -> dict[str, Any]:
    """After the kills: project, compare with a fresh fold, run to completion, compare with a clean run."""
    project_catches_up(url, cwd)
    # Marks only for what is held so far: every kill may have landed before the first commit (a
    # slow machine), and a mark for an instrument not held is refused by design.
    positions = run_cli("positions", "--json", db=url, cwd=cwd).json()
    held = {row["instrument"] for row in positions}
    marks = [mark for mark in MARKS if mark.split("=")[0] in held]
    caught_up = view_outputs(url, cwd, marks)
    rebuilt = run_cli("rebuild", "--all", db=url, cwd=cwd)
    assert rebuilt.returncode == 0, rebuilt.describe()
    assert_same_outputs(view_outputs(url, cwd, marks), caught_up, "views after `project` vs a fresh fold")

    run, summary = ingest(session, db=url, cwd=cwd)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    assert summary.lines == lines
    assert summary.counts["rejected"] == 0 and summary.counts["ignored"] == 0, run.describe()
    assert not progress_of(url).views_behind

    final = view_outputs(url, cwd, MARKS)
    assert_same_outputs(final, reference, "after the kills and a complete rerun vs one clean ingest")
    assert final["orders --open"] == [o for o in final["orders"] if o["status"] in OPEN_STATUSES]

    again, summary = ingest(session, db=url, cwd=cwd)
    assert again.returncode == 0, again.describe()
    assert summary.counts == {**dict.fromkeys(OUTCOMES, 0), "duplicate": lines}, again.describe()
    assert summary.events == 0
    return final


# ---------------------------------------------------------------------- SQLite: the full campaign


@dataclass
class Reference:
    """One clean ingest of the session file, and what it stored."""

    session: Path
    lines: int
    url: str
    outputs: dict[str, Any]
    facts: Any
    timing: Timing

    @property
    def events(self) -> int:
        return sum(self.facts.values())


def make_reference(url: str, folder: Path, orders: int, seed: int) -> Reference:
    lines = list(simulate_lines(seed, orders))
    session = write_lines(folder / "session.jsonl", lines)
    timing = measure(url, session, folder, len(lines))
    return Reference(session, len(lines), url, view_outputs(url, folder, MARKS), stored_facts(url), timing)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("reference")
    return make_reference(f"sqlite:///{folder / 'reference.db'}", folder, 3500, SESSION_SEED)


@pytest.fixture(scope="module")
def sqlite_campaign(reference: Reference, tmp_path_factory: pytest.TempPathFactory) -> tuple[Campaign, str]:
    folder = tmp_path_factory.mktemp("killed")
    url = f"sqlite:///{folder / 'ledger.db'}"
    campaign = kill_campaign(
        url,
        reference.session,
        folder,
        kills=SQLITE_KILLS,
        timing=reference.timing,
        seed=KILL_SEED,
        events=reference.events,
    )
    campaign.final_outputs = recover_and_check(
        url, reference.session, folder, reference.outputs, reference.lines
    )
    return campaign, url


def test_sqlite_kill_campaign(
    sqlite_campaign: tuple[Campaign, str], capsys: pytest.CaptureFixture[str]
) -> None:
    campaign, _ = sqlite_campaign
    with capsys.disabled():
        print(f"\nkill -9 on SQLite: {campaign.describe()}")
    assert campaign.kills >= SQLITE_KILLS
    # A fifth of the kills at least interrupt a run that has already committed new facts.
    assert campaign.after_some_commits >= SQLITE_KILLS // 5, campaign.describe()
    # Views were left behind the log at least once (caught up by `project`, or by the next run).
    assert campaign.caught_up_by_project + campaign.left_to_the_next_run >= 1, campaign.describe()


def test_sqlite_every_fact_is_stored_exactly_once(
    sqlite_campaign: tuple[Campaign, str], reference: Reference
) -> None:
    _, url = sqlite_campaign
    facts = stored_facts(url)
    assert max(facts.values()) == 1, [f for f, n in facts.items() if n > 1][:10]
    assert facts == reference.facts, {
        "missing": list(reference.facts - facts)[:10],
        "extra": list(facts - reference.facts)[:10],
    }


def test_sqlite_views_equal_a_fresh_fold(sqlite_campaign: tuple[Campaign, str], reference: Reference) -> None:
    campaign, url = sqlite_campaign
    folder = Path(url.removeprefix("sqlite:///")).parent
    run = run_cli("rebuild", "--all", db=url, cwd=folder)
    assert run.returncode == 0, run.describe()
    assert_same_outputs(
        view_outputs(url, folder, MARKS), campaign.final_outputs, "final views vs a fresh fold"
    )


def test_sqlite_open_orders_are_right(sqlite_campaign: tuple[Campaign, str], reference: Reference) -> None:
    campaign, _ = sqlite_campaign
    open_orders = campaign.final_outputs["orders --open"]
    assert open_orders == reference.outputs["orders --open"]
    assert {o["status"] for o in open_orders} <= OPEN_STATUSES
    assert len(open_orders) > 100  # the simulator leaves many orders resting


# ---------------------------------------------------------------------- PostgreSQL: a shorter run


@pytest.mark.postgres
def test_postgres_kill_campaign(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = make_reference(postgres_url, tmp_path, 1000, SESSION_SEED + 1)
    with private_postgres_url() as url:
        campaign = kill_campaign(
            url,
            reference.session,
            tmp_path,
            kills=POSTGRES_KILLS,
            timing=reference.timing,
            seed=KILL_SEED + 1,
            events=reference.events,
        )
        with capsys.disabled():
            print(f"\nkill -9 on PostgreSQL: {campaign.describe()}")
        recover_and_check(url, reference.session, tmp_path, reference.outputs, reference.lines)
        facts = stored_facts(url)
        assert max(facts.values()) == 1, [f for f, n in facts.items() if n > 1][:10]
        assert facts == reference.facts
