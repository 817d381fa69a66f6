"""``orderledger collect lighter`` as users run it: a real subprocess against the loopback
Lighter (tests/support/lighter_server.py, in a thread), on a SQLite file and PostgreSQL: kill -9
and a restart whose backfill books what happened meanwhile, SIGTERM exiting 0, and a refused
auth token in one line that never shows it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orderledger import OrderLedger
from tests.support.cli import cli_command, cli_env
from tests.support.collect import books, failure_lines
from tests.support.collect_docs import wait_for
from tests.support.lighter_server import (
    ACCOUNT,
    TOKEN,
    LighterThread,
    LighterVenue,
    clean_stream,
    scenario,
)

pytestmark = pytest.mark.timeout(120)


def collector(db: str, url: str, cwd: Path, *extra: str, token: str = TOKEN) -> subprocess.Popen[bytes]:
    argv = cli_command("collect", "lighter", "--endpoint", url, "--account", ACCOUNT, *extra, db=db)
    env = cli_env(ORDERLEDGER_LIGHTER_AUTH_TOKEN=token)
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def clean_books(events: Any) -> dict[str, Any]:
    with OrderLedger("memory://") as ledger:
        ledger.ingest_lines(clean_stream(events), format="lighter", venue="lighter", account=ACCOUNT)
        return books(ledger)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_kill_9_then_a_restart_books_what_happened_meanwhile_and_sigterm_exits_0(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    events = scenario(6)  # 16 events: orders 0-5, each opened, traded, then canceled or left open
    venue = LighterVenue(events[:8])  # orders 0-2 opened and traded (event 7: order 2's trade)
    with LighterThread(venue) as server:
        # Given a collector that booked the first 3 trades,
        first = collector(db, server.url, tmp_path, "--reconcile-every", "0")
        wait_for(db, lambda ledger: len(ledger.trades()) == 3, first)
        # when it is killed (-9) and the account trades on: events 8-15 happen unseen,
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)

        def trade_on() -> None:
            venue.events.extend(events[8:])
            while not venue.done:
                venue.publish()

        server.call(trade_on)
        # a restart takes the dead collector's lease over and its backfill books them,
        expected = clean_books(events)
        restarted = collector(db, server.url, tmp_path, "--json", "--reconcile-every", "0")
        wait_for(db, lambda ledger: books(ledger) == expected, restarted)
        # and SIGTERM stops it: exit 0
        restarted.send_signal(signal.SIGTERM)
        _, err = restarted.communicate(timeout=60)
        assert restarted.returncode == 0, err
    # Then the books are the clean stream's (6 orders, 6 trades, nothing parked)
    with OrderLedger(db) as ledger:
        assert books(ledger) == expected
        assert len(expected["trades"]) == 6 and expected["parked"] == []


def test_a_refused_auth_token_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    with LighterThread(LighterVenue(scenario(1))) as server:
        process = collector(db, server.url, tmp_path, token="1767139200:1077:255:forged")
        out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert failure_lines(err) == [
        "orderledger: lighter refused the account channels (code 20013: invalid auth)"
    ]
    assert b"forged" not in out + err


def test_a_missing_auth_token_names_its_variable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    argv = cli_command("collect", "lighter", "--endpoint", "http://127.0.0.1:9", "--account", ACCOUNT, db=db)
    done = subprocess.run(argv, cwd=tmp_path, env=cli_env(), capture_output=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        "orderledger: collect lighter needs the credential 'auth_token': set"
        " ORDERLEDGER_LIGHTER_AUTH_TOKEN or give --credentials-file"
    ]
