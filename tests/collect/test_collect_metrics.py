"""``orderledger collect --metrics-port``: the collector's status figures scraped as Prometheus
metrics, from a real subprocess collecting from the loopback Tradier
(tests/support/tradier_server.py); the exposition text read with prometheus_client's own parser."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orderledger import OrderLedger
from tests.support.cli import cli_command, cli_env, run_cli
from tests.support.http_api import READ_TOKEN, bearer, free_port, said_listening
from tests.support.tradier_examples import ACCOUNT
from tests.support.tradier_server import TOKEN, TradierVenue, step_a

pytestmark = pytest.mark.timeout(120)
LABELS = {"collector": f"tradier:{ACCOUNT}", "venue": "tradier", "account": ACCOUNT}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of an exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **extra: str) -> float:
    return found[("orderledger_collector_" + name, tuple(sorted({**LABELS, **extra}.items())))]


def test_the_metrics_port_serves_the_figures_of_the_last_status_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    port = free_port()
    # Given a collector with a read token configured, its figures said at each change of state
    # only (an interval of an hour), on the loopback Tradier holding 228175 (20 of 50 filled),
    with TradierVenue() as venue:
        step_a(venue)
        argv = cli_command(
            "collect", "tradier", "--endpoint", venue.url, "--account", ACCOUNT, "-o", "poll=0.05",
            "-o", "days=4000", "--status-every", "3600", "--reconcile-every", "0", "--json",
            "--metrics-port", str(port), db=db,
        )  # fmt: skip
        env = cli_env(ORDERLEDGER_TRADIER_TOKEN=TOKEN, ORDERLEDGER_TOKENS=f"read:{READ_TOKEN}")
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert process.stdout is not None
            line: dict[str, Any] = {}
            while line.get("state") != "streaming":  # (a line per change of state; none after it)
                line = json.loads(process.stdout.readline() or b'{"state": "ended"}')
                assert line["state"] != "ended", process.communicate()
            # when Prometheus scrapes the port without a token, it is refused,
            url = f"http://127.0.0.1:{port}/metrics"
            refused = httpx2.get(url)
            # and with the read token it reads the exposition
            scraped = httpx2.get(url, headers=bearer(READ_TOKEN))
            with OrderLedger(db) as ledger:
                head = ledger.log_position()
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
    # (its line said where, and that tokens are on)
    assert f"orderledger: metrics at {url} (tokens on)" in err.decode().splitlines()
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(scraped.text)
    # then every figure is the streaming line's: one frame (the backfill's one page: 1 order,
    # fewer than the page's 100), its events (every event of the ledger: this collector booked
    # them all), nothing held, lost, refused or parked,
    assert of(found, "frames_total") == line["frames"] == 1
    assert of(found, "events_total") == line["events"] == head > 0
    assert of(found, "backlog") == line["backlog"] == 0
    assert of(found, "reconnects_total") == line["reconnects"] == 0
    assert of(found, "refused_total") == line["refused"] == 0
    assert of(found, "parked_total") == line["parked"] == 0
    assert of(found, "last_frame_age_seconds") == line["last_frame_age"]
    assert of(found, "latency_seconds", quantile="0.5") == line["latency_p50"]
    assert of(found, "latency_seconds", quantile="0.99") == line["latency_p99"]
    # the state streaming, and beside them the process's own figures.
    assert of(found, "state", state="streaming") == 1
    assert [key for key in found if key[0] == "orderledger_collector_state"] == [
        ("orderledger_collector_state", tuple(sorted({**LABELS, "state": "streaming"}.items())))
    ]
    assert found[("process_cpu_seconds_total", ())] > 0


def test_a_metrics_port_it_cannot_open_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = cli_env(ORDERLEDGER_TRADIER_TOKEN=TOKEN)
    common = ("collect", "tradier", "--endpoint", "http://127.0.0.1:9/v1", "--account", ACCOUNT)
    # An address other than loopback without tokens: anyone could read the figures
    wide = run_cli(*common, "--metrics-port", "9", "--metrics-host", "0.0.0.0", db=db, cwd=tmp_path, env=env)
    # a port out of range, a port another program holds:
    far = run_cli(*common, "--metrics-port", "70000", db=db, cwd=tmp_path, env=env)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        taken = run_cli(*common, "--metrics-port", str(port), db=db, cwd=tmp_path, env=env)
    # each is one line, exit 2.
    for done in (wide, far, taken):
        assert done.returncode == 2 and len(done.stderr_lines) == 1, done.describe()
    assert wide.stderr_lines == [
        "orderledger: refusing to serve metrics on 0.0.0.0 without tokens: anyone could read the"
        " collector's figures; set $ORDERLEDGER_TOKENS or --tokens FILE, or use --metrics-host 127.0.0.1"
    ]
    assert far.stderr_lines == ["orderledger: --metrics-port must be from 1 to 65535, not 70000"]
    assert taken.stderr_lines[0].startswith(f"orderledger: cannot listen on 127.0.0.1:{port}: ")
    assert not (tmp_path / "ledger.db").exists()  # refused before the ledger is opened


def test_the_metrics_port_says_where_it_listens_and_answers_loopback_names_only(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    port = free_port()
    # Given a collector serving its metrics without tokens (so on loopback only),
    with TradierVenue() as venue:
        step_a(venue)
        argv = cli_command(
            "collect", "tradier", "--endpoint", venue.url, "--account", ACCOUNT, "-o", "poll=0.05",
            "-o", "days=4000", "--reconcile-every", "0", "--metrics-port", str(port), db=db,
        )  # fmt: skip
        env = cli_env(ORDERLEDGER_TRADIER_TOKEN=TOKEN)
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            # when its line says where the metrics are,
            url, access = said_listening(process, "metrics")
            # a scrape addressed to a loopback name is served,
            served = [httpx2.get(url, headers={"Host": host}) for host in (f"127.0.0.1:{port}", "localhost")]
            # and one addressed to another name (a page whose DNS name was rebound to 127.0.0.1) is
            # refused, as `serve` refuses it, its figures and account kept out of the answer.
            rebound = httpx2.get(url, headers={"Host": f"evil.example:{port}"})
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
    assert (url, access) == (f"http://127.0.0.1:{port}/metrics", "tokens off: loopback names only")
    assert [response.status_code for response in served] == [200, 200]
    assert "orderledger_collector_frames_total" in served[0].text
    assert rebound.status_code == 403
    assert rebound.headers["content-type"] == "application/problem+json"
    assert "is not a loopback name" in rebound.json()["detail"]
    assert ACCOUNT not in rebound.text and "orderledger_collector" not in rebound.text
