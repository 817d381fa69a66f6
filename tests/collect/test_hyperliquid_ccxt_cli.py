"""``orderledger collect hyperliquid`` and ``collect ccxt`` as users run them: the real command in a
subprocess against the loopback Hyperliquid (tests/support/hyperliquid_venue.py): kill -9 and a
restart, a one-line refusal of an address that is none, and docs/collect.md's two "Try it"
examples run as written. The books at the end equal the clean stream's."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orderledger import OrderLedger
from tests.support.cli import cli_command, cli_env, run_cli
from tests.support.collect import books
from tests.support.collect_books import clean_books
from tests.support.collect_docs import block, run, start, stop, wait_for
from tests.support.hyperliquid_venue import USER, VenueThread, session

pytestmark = pytest.mark.timeout(180)


def clean() -> dict[str, Any]:
    frames = [json.dumps(u.frame()).encode() for u in session()]
    return clean_books(frames, format="hyperliquid", venue="hyperliquid", account=USER)


def collector(db: str, url: str, cwd: Path) -> subprocess.Popen[bytes]:
    argv = cli_command(
        "collect", "hyperliquid", "--endpoint", url, "--account", USER, "--reconcile-every", "0", db=db
    )
    return subprocess.Popen(argv, cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def traded(count: int) -> Any:
    return lambda ledger: len(ledger.trades()) == count


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_and_restart_ends_with_the_clean_books(backend: str, tmp_path: Path, request: Any) -> None:
    db = (
        str(request.getfixturevalue("postgres_url"))
        if backend == "postgres"
        else f"sqlite:///{tmp_path / 'l.db'}"
    )
    updates = session()
    with VenueThread() as thread:
        venue = thread.venue
        # Given the collector running and the session up to the NEAR fill booked (5 updates),
        first = collector(db, venue.base, tmp_path)
        thread.call(venue.connected, ("orderUpdates", "userFills", "userFundings"))
        for update in updates[:5]:
            thread.call(venue.publish, update)
        wait_for(db, traded(1), first)
        # when it is killed (-9) and the venue moves on (the NEAR order filled, the liquidation),
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
        for update in updates[5:]:
            thread.call(venue.publish, update)
        # a restart takes the dead collector's lease over, and its backfill books the rest;
        restarted = collector(db, venue.base, tmp_path)
        wait_for(db, traded(2), restarted)
        wait_for(db, lambda ledger: books(ledger) == clean(), restarted)
        stop(restarted)
    # then the books are the clean stream's and no collector holds the account.
    with OrderLedger(db) as ledger:
        assert books(ledger) == clean()
        assert ledger.upkeep.collectors() == []


def test_an_account_that_is_no_address_is_refused_in_one_line(tmp_path: Path) -> None:
    done = run_cli(
        "collect", "hyperliquid", "--endpoint", "http://127.0.0.1:9", "--account", "main",
        db=f"sqlite:///{tmp_path / 'l.db'}", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr_lines == [
        "orderledger: --account (the user) 'main' is not a Hyperliquid address (0x and 40 hex digits)"
    ]


def free_port() -> int:
    with socket.socket() as probe:  # the documented port may be taken on a shared machine
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("venue", ["hyperliquid", "ccxt"])
def test_the_try_it_examples_run_as_written(venue: str, tmp_path: Path) -> None:
    serve, collect, show, kill = block(f"Try it: {venue}")
    assert kill == "kill -TERM %2 %1"
    documented = 8766 if venue == "hyperliquid" else 8767
    port = free_port()
    server = start(serve.replace(str(documented), "8765"), tmp_path, port)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().decode() == f"http://127.0.0.1:{port} user {USER}\n"
        process = start(collect.replace(str(documented), "8765"), tmp_path, port)
        url = f"sqlite:///{tmp_path / ('hl.db' if venue == 'hyperliquid' else 'ccxt.db')}"
        # the session's two trades: 64.8 NEAR bought at 4.95, liquidated at 4.6879
        wait_for(url, traded(2), process)
        shown = run(show, tmp_path)
        if venue == "hyperliquid":
            assert "-16.98408" in shown and "NEAR" in shown and "SOL" in shown
        else:
            assert shown.rstrip().endswith("2 trades") and "NEAR/USDC:USDC" in shown
        stop(process)
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


def test_sigterm_under_an_endless_flood_exits_0_with_everything_read_durable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    with VenueThread() as thread:
        venue = thread.venue
        # Given the command collecting while the venue floods it without end (its stdout and
        # stderr pipes, as a service runs it),
        argv = cli_command(
            "collect", "hyperliquid", "--endpoint", venue.base, "--account", USER,
            "--reconcile-every", "0", "--json", db=db,
        )  # fmt: skip
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        thread.call(venue.connected, ("orderUpdates", "userFills", "userFundings"))
        thread.loop.call_soon_threadsafe(venue.flood, session()[0].frame(), None)
        wait_for(db, lambda ledger: len(ledger.audit.messages(limit=500)) == 500, process)
        # when it gets SIGTERM (the flood still going),
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)  # a bound against a hang, not a measure
    # then it exits 0, says it stopped, and every frame it read is durable and journaled once.
    assert process.returncode == 0, err
    last = json.loads(out.decode().splitlines()[-1])
    assert last["state"] == "stopped" and last["backlog"] == 0
    assert err.decode().splitlines()[-1].startswith(f"collect hyperliquid {USER}: stopped:")
    with OrderLedger(db) as ledger:
        assert len(ledger.audit.messages()) == last["frames"] >= 500
