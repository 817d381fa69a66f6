"""``orderledger collect`` as users run it: a real subprocess against the loopback Tradier
(tests/support/tradier_server.py) and a FIX log, on a SQLite file and PostgreSQL.

kill -9 of the collector and a restart, a second collector refused while the first runs,
SIGTERM exiting 0 with what arrived committed, bad credentials and a credentials file others
may read refused in one line, and ``/health``'s collector figures. The books at the end equal
the clean stream's (tests/collect/test_tradier_collector.py describes the venue's steps)."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderledger import OrderLedger
from tests.support.cli import cli_command, cli_env, run_cli
from tests.support.collect import books, failure_lines
from tests.support.collect_docs import wait_for
from tests.support.tradier_examples import ACCOUNT, VENUE
from tests.support.tradier_server import TOKEN, TradierVenue, clean_replies, step_a, step_b, step_c, step_d

pytestmark = pytest.mark.timeout(120)
# Tradier's examples are from June 2018: the first start reads that far back.
OPTIONS = ("-o", "poll=0.05", "-o", "days=4000", "--status-every", "0.1", "--reconcile-every", "0")


def collector(db: str, url: str, cwd: Path, *extra: str, token: str = TOKEN) -> subprocess.Popen[bytes]:
    argv = cli_command("collect", "tradier", "--endpoint", url, "--account", ACCOUNT, *OPTIONS, *extra, db=db)
    env = cli_env(ORDERLEDGER_TRADIER_TOKEN=token)
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def filled(quantity: str, cid: str = "ext-tradier-228175") -> Callable[[OrderLedger], bool]:
    def check(ledger: OrderLedger) -> bool:
        found = [o for o in ledger.orders() if o.client_order_id == cid]
        return bool(found) and str(found[0].filled_quantity) == quantity

    return check


def has(cid: str) -> Callable[[OrderLedger], bool]:
    return lambda ledger: any(o.client_order_id == cid for o in ledger.orders())


def clean_books() -> dict[str, Any]:
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(clean_replies(), format="tradier", venue=VENUE, account=ACCOUNT)
        return books(ledger)


def test_kill_9_and_restart_a_second_collector_refused_and_sigterm_exits_0(
    backend: str, file_ledger_url: str, tmp_path: Path
) -> None:
    if backend == "memory":
        pytest.skip("a collector and its restart share a database: the sqlite run is this one")
    db = file_ledger_url
    with TradierVenue() as venue:
        step_a(venue)
        # Given a collector that booked the partial fill (20 of 228175),
        first = collector(db, venue.url, tmp_path)
        wait_for(db, filled("20"), first)
        # when a second collector starts on the same venue and account, it is refused in one line,
        second = run_cli(
            "collect", "tradier", "--endpoint", venue.url, "--account", ACCOUNT, *OPTIONS,
            db=db, cwd=tmp_path, env=cli_env(ORDERLEDGER_TRADIER_TOKEN=TOKEN),
        )  # fmt: skip
        assert second.returncode == 2
        assert len(second.stderr_lines) == 1
        assert second.stderr_lines[0].startswith(
            f"orderledger: a collector already runs on tradier account {ACCOUNT}"
        )
        # when the first is killed (-9) while the venue moves on (228175 fills; a new day),
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
        step_b(venue)
        step_c(venue)
        # a restart takes the dead collector's lease over, and its backfill books the fill,
        restarted = collector(db, venue.url, tmp_path, "--json")
        wait_for(db, filled("50"), restarted)
        step_d(venue)
        wait_for(db, has("ext-tradier-229064"), restarted)
        # when it gets SIGTERM, it exits 0 with what arrived committed and its lease given up
        restarted.send_signal(signal.SIGTERM)
        out, err = restarted.communicate(timeout=60)
        assert restarted.returncode == 0, err
        figures = [json.loads(line) for line in out.decode().splitlines()]
        assert figures[-1]["state"] == "stopped" and figures[-1]["parked"] == 0
        assert {"frames_per_second", "events_per_second", "last_frame_age", "backlog", "reconnects"} <= set(
            figures[-1]
        )
    # then the books are the clean stream's, and no collector is left holding the account
    with OrderLedger(db) as ledger:
        assert books(ledger) == clean_books()
        assert ledger.upkeep.collectors() == []


def test_status_lines_go_to_stderr_when_it_is_no_terminal_and_sigterm_says_stopped(tmp_path: Path) -> None:
    # Given a collector whose stdout and stderr are pipes (a service's log), without --json,
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    prefix = f"collect tradier {ACCOUNT}: "
    with TradierVenue() as venue:
        step_a(venue)
        process = collector(db, venue.url, tmp_path, "--status-every", "3600")
        assert process.stderr is not None and process.stdout is not None
        read: list[bytes] = []
        streaming = threading.Event()

        def reading() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                read.append(line)
                if line.decode().startswith(prefix + "streaming"):
                    streaming.set()

        reader = threading.Thread(target=reading, daemon=True)
        reader.start()
        wait_for(db, filled("20"), process)
        # when it gets SIGTERM once it says it streams (its line read, not a time waited),
        assert streaming.wait(60), b"".join(read)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(60)
        out = process.stdout.read()
        process.stdout.close()
        process.stderr.close()
    # then it exits 0, stdout stays empty, and stderr holds one status line per change of state
    # (the interval is an hour: no other line), the last one "stopped".
    assert process.returncode == 0 and out == b""
    lines = b"".join(read).decode().splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    states = [line.removeprefix(prefix).split(":")[0] for line in lines]
    assert states[0] == "backfilling" and "streaming" in states and states[-1] == "stopped"
    assert all(a != b for a, b in itertools.pairwise(states))  # changes only


def test_since_chooses_a_first_starts_backfill_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    with TradierVenue() as venue:
        step_a(venue)
        # Given nothing booked, a first start with --since (days=0 would read only today)
        process = collector(db, venue.url, tmp_path, "-o", "days=0", "--since", "2018-05-30T12:00:00Z")
        wait_for(db, filled("20"), process)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        # then its backfill asks from that day.
        assert venue.requests[0]["start"] == "2018-05-30"
    env = cli_env(ORDERLEDGER_TRADIER_TOKEN=TOKEN)
    done = run_cli(
        "collect", "tradier", "--account", ACCOUNT, "--since", "soon", db=db, cwd=tmp_path, env=env
    )
    assert done.returncode == 2 and len(done.stderr_lines) == 1, done.describe()
    assert done.stderr_lines[0].startswith("orderledger: --since"), done.describe()


def test_bad_credentials_are_refused_in_one_line_that_never_shows_the_token(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    with TradierVenue() as venue:
        process = collector(db, venue.url, tmp_path, token="s3cret-wrong")
        out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    # one line says why (status lines may come before it: the collector had started)
    assert failure_lines(err) == ["orderledger: tradier refused the token (HTTP 401)"]
    assert b"s3cret" not in out + err


def test_a_credentials_file_others_may_read_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "tradier.env"
    secrets.write_text("token=s3cret\n")
    secrets.chmod(0o644)
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = run_cli(
        "collect", "tradier", "--endpoint", "http://127.0.0.1:9/v1", "--account", ACCOUNT,
        "--credentials-file", str(secrets), db=db, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr_lines == [
        f"orderledger: --credentials-file {secrets} may be read by others (mode 644):"
        " allow its owner only (chmod 600)"
    ]
    assert "s3cret" not in done.stdout + done.stderr
    assert not (tmp_path / "ledger.db").exists()  # refused before the ledger is opened


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("fix",), "collect fix needs --option path=… "),
        (
            ("tradier", "--account", ACCOUNT, "--endpoint", "moon"),
            "--endpoint must be mainnet, sandbox or a URL, not 'moon'",
        ),
        (("tradier", "-o", "poll=0"), "collect tradier needs --account"),
    ],
)
def test_a_setting_the_registry_refuses_is_named_as_the_command_spells_it(
    tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    # The Python API names its arguments (`options`, `endpoint`, `account`); here, the options
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = run_cli("collect", *args, db=db, cwd=tmp_path, env=cli_env(ORDERLEDGER_TRADIER_TOKEN="t"))
    assert done.returncode == 2 and len(done.stderr_lines) == 1, done.describe()
    assert done.stderr_lines[0].startswith(f"orderledger: {line}"), done.describe()
    assert not (tmp_path / "ledger.db").exists()  # refused before the ledger is opened


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("tradier", "--account", ACCOUNT, "-o", "poll=soon"),
            "--option poll must be a number of seconds from 0, not 'soon'",
        ),
        (
            ("tradier", "--account", ACCOUNT, "-o", "days=-1"),
            "--option days must be a number of days from 0, not '-1'",
        ),
        (
            ("fix", "-o", "path=x.log", "-o", "price_scale=two"),
            "--option price_scale must be a number from 0, not 'two'",
        ),
        (
            ("fix", "-o", "path=x.log", "-o", "poll=-0.5"),
            "--option poll must be a number of seconds from 0, not '-0.5'",
        ),
        (
            ("lighter", "--account", "7", "-o", "timeout=0"),
            "--option timeout must be a positive number of seconds, not '0'",
        ),
    ],
)
def test_a_numeric_option_out_of_its_range_is_refused_in_one_line(
    tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    # SourceConfig.number reads every venue's numeric options; the command names them as it spells them
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = cli_env(ORDERLEDGER_TRADIER_TOKEN="t", ORDERLEDGER_LIGHTER_AUTH_TOKEN="t")
    done = run_cli("collect", *args, db=db, cwd=tmp_path, env=env)
    assert (done.returncode, done.stderr_lines) == (2, [f"orderledger: {line}"]), done.describe()
