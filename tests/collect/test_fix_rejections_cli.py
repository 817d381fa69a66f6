"""A drop copy's rejections of orders it never reported as New, through the real command: ``orderledger
ingest --format fix`` of a log, and ``orderledger collect fix`` following a log the engine rotates by
rename (QuickFIX C++'s ``backup()``) and by copy-truncate (logrotate's ``copytruncate``), killed
(-9) and restarted between. The rejected orders are booked and listed by ``orderledger orders``;
the books at the end equal those of ingesting the same lines from a file, with nothing parked."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orderledger import OrderLedger
from orderledger.domain.values import Status
from tests.support.cli import cli_command, cli_env, cli_json, run_cli
from tests.support.collect import books
from tests.support.collect_docs import stop, wait_for
from tests.support.fixlog import REJECTED_ORDERS, rejection_lines, session_lines

pytestmark = pytest.mark.timeout(120)
VENUE = "desk1"


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL (``file_ledger_url`` reads this): databases two processes share."""
    return str(request.param)


def test_ingest_books_the_rejected_orders_and_orders_lists_them(file_ledger_url: str, tmp_path: Path) -> None:
    # Given a drop copy's log holding an order's New and fills, then the two rejections,
    log = tmp_path / "FIX.4.4-VENUEX-DROPCOPY.messages.current.log"
    log.write_bytes(b"".join(line + b"\n" for line in [*session_lines(1), *rejection_lines()]))
    # when it is ingested by the command,
    done = run_cli("ingest", str(log), "--format", "fix", "--venue", VENUE, db=file_ledger_url, cwd=tmp_path)
    # then every line is applied (3 of the order, 2 rejections: nothing parked),
    assert done.returncode == 0, done.describe()
    assert done.stdout.startswith("5 lines: 5 applied, 0 duplicate, 0 parked, 0 ignored, 0 rejected;")
    listed = cli_json("orders", db=file_ledger_url, cwd=tmp_path)
    # and `orders` lists the rejected orders beside the filled one, with the figures they stated.
    shown = sorted((o["client_order_id"], o["status"], o["side"], o["quantity"], o["price"]) for o in listed)
    assert shown == [
        ("D1-41-010", "rejected", "sell", "0.01", "64102.4"),
        ("D1-41-011", "rejected", "buy", "0.5", "3000.5"),
        ("F-1", "filled", "buy", "10", "101"),
    ]


def collector(db: str, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    argv = cli_command(
        "collect", "fix", "-o", f"path={log}", "-o", f"venue={VENUE}", "-o", "poll=0.05",
        "--reconcile-every", "0", "--status-every", "0.1", db=db,
    )  # fmt: skip
    return subprocess.Popen(argv, cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def status(cid: str, wanted: Status, filled: str | None = None) -> Any:
    def check(ledger: OrderLedger) -> bool:
        found = [o for o in ledger.orders() if o.client_order_id == cid]
        return (
            bool(found)
            and found[0].status is wanted
            and (filled is None or str(found[0].filled_quantity) == filled)
        )

    return check


def write(path: Path, lines: list[bytes], mode: str = "ab") -> None:
    with open(path, mode) as log:
        log.write(b"".join(line + b"\n" for line in lines))


def test_collect_fix_books_the_rejected_orders_across_rename_copy_truncate_and_kill_9(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    new_1, fill_1a, fill_1b, new_2, fill_2a, fill_2b = session_lines(2)
    rejected_1, rejected_2 = rejection_lines()
    everything = [new_1, fill_1a, fill_1b, new_2, rejected_1, fill_2a, fill_2b, rejected_2]
    with OrderLedger("memory://") as clean:
        clean.ingest_lines(everything, format="fix", venue=VENUE)
        expected = books(clean)
    # (the clean stream: F-1 and F-2 filled, the two rejected orders booked, nothing parked)
    assert [(o[0], o[1]) for o in expected["orders"]] == [
        *((cid, "rejected") for cid in REJECTED_ORDERS),
        ("F-1", "filled"),
        ("F-2", "filled"),
    ]
    assert expected["parked"] == []
    log = tmp_path / "FIX.4.4-VENUEX-DROPCOPY.messages.current.log"
    # Given a collector following a log that holds F-1's reports and F-2's New,
    write(log, [new_1, fill_1a, fill_1b, new_2])
    first = collector(db, log, tmp_path)
    wait_for(db, status("F-2", Status.ACCEPTED), first)
    # when the first rejection is written and the engine backs the log up (renamed) and writes F-2's
    # fills to a fresh log,
    write(log, [rejected_1])
    log.rename(tmp_path / "FIX.4.4-VENUEX-DROPCOPY.messages.backup.1.log")
    write(log, [fill_2a, fill_2b])
    # then the rejected order is booked, from the old file drained before the new one is read;
    wait_for(db, status("D1-41-010", Status.REJECTED), first)
    wait_for(db, status("F-2", Status.FILLED, "10"), first)
    # when the collector is killed (-9) and started again (it reads the current log from its start:
    # two duplicates, journaled),
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    with OrderLedger(db, create=False) as ledger:
        journaled = len(ledger.audit.messages())
    restarted = collector(db, log, tmp_path)
    wait_for(db, lambda ledger: len(ledger.audit.messages()) == journaled + 2, restarted)
    # and the log is rotated by copy-truncate (copied aside, cut to nothing in place) and the second
    # rejection written (shorter than what was read: the follower sees the file cut whenever it looks),
    shutil.copyfile(log, tmp_path / "FIX.4.4-VENUEX-DROPCOPY.messages.1.log")
    assert len(rejected_2) + 1 < log.stat().st_size
    with open(log, "r+b") as cut:
        cut.truncate(0)
    write(log, [rejected_2])
    # then the second rejected order is booked too,
    wait_for(db, status("D1-41-011", Status.REJECTED), restarted)
    stop(restarted)
    # and the books are the clean stream's: both rejected orders there, nothing parked.
    with OrderLedger(db) as ledger:
        assert books(ledger) == expected
