"""Verify's speed beside its contender, and an incremental verify after new events, in one run.

    .venv/bin/python tests/benchmarks/verify.py                       # 20,000 orders, 3 rounds
    .venv/bin/python tests/benchmarks/verify.py --orders 100000 --new 2000 --rounds 1

A simulated session (``simulate_lines(seed=3)``) is ingested once into a SQLite file. Each round
then runs, each in a fresh process (its CPU time after its imports, ``time.process_time``, and
its peak resident memory):

* contender: the event rows read with one plain ``SELECT`` in log order and each hashed with
  hashlib (``chain.link``) against the hash before it, in one loop: the floor of any check of
  the chain in Python;
* chain: ``verify_chain`` with the mapper: the same hashes, plus each payload read and validated
  as if it came from outside and its search columns compared with it;
* full verify: ``OrderLedger.audit.verify()``: the storage, the chain and payloads, every view refolded
  and compared, the journal's chain and cross-checks;
* chain, validated and full, validated: the same, with every payload validated as input from
  outside (``_check_row(fast=False)``), as ``verify`` checked each before ``payload_check``:
  the figures the proven payloads are compared with;
* incremental: after a full verify anchored the heads and a second session (``--new`` orders)
  was appended, ``verify(incremental=True)``: what is new since the anchor, and the 1,000
  records of each chain before it.

The figures are medians of the rounds, with events/s for each and the ratio to the contender.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.application.ledger import OrderLedger  # noqa: E402
from orderledger.infrastructure.application.simulator import simulate_lines  # noqa: E402

CHILD = r"""
import json, sqlite3, sys, time
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.audit.search import CHUNK, EVENT_COLUMNS
from orderledger.infrastructure.audit.chain_check import verify_chain
from orderledger.infrastructure.storage.chain import GENESIS, link
what, database = sys.argv[1:3]
if what.endswith("validated"):
    import functools
    from orderledger.infrastructure.audit import chain_check
    chain_check._check_row = functools.partial(chain_check._check_row, fast=False)
    what = what.split(",")[0]
result = {}
if what == "contender":
    began = time.process_time()
    connection = sqlite3.connect(database)
    cursor = connection.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY notification_id")
    previous, events = GENESIS, 0
    while rows := cursor.fetchmany(CHUNK):
        for row in rows:
            if link(previous, row[:-1]) != row[-1]:
                raise SystemExit(f"event {row[0]} does not match its hash")
            previous = row[-1]
        events += len(rows)
    spent = time.process_time() - began
    ok = True
else:
    ledger = OrderLedger("sqlite:///" + database, create=False)
    began = time.process_time()
    if what == "chain":
        report = verify_chain(ledger.db, mapper=ledger.mapper)
    elif what == "full":
        report = ledger.audit.verify()
    else:
        report = ledger.audit.verify(incremental=True)
    spent = time.process_time() - began
    events, ok = report.events, report.ok and report.broken is None
    ledger.close()
# The peak of this process's own memory (VmHWM: ru_maxrss would keep the parent's across exec)
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": spent, "events": events, "ok": ok, "peak": peak}))
"""

KINDS = ("contender", "chain", "chain,validated", "full", "full,validated", "incremental")


def run(kind: str, database: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(database)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    answer: dict[str, float] = json.loads(done.stdout)
    if not answer["ok"]:
        raise SystemExit(f"{kind}: the ledger does not verify")
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument(
        "--new", type=int, default=1_000, help="orders of the session appended after the anchor"
    )
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory) / "base.db"
        anchored = Path(directory) / "anchored.db"
        with OrderLedger(f"sqlite:///{base}") as ledger:
            ledger.ingest_lines(simulate_lines(seed=3, orders=options.orders))
        shutil.copyfile(base, anchored)
        with OrderLedger(f"sqlite:///{anchored}") as ledger:
            assert ledger.audit.verify(anchor=True).ok
            ledger.ingest_lines(simulate_lines(seed=4, orders=options.new, tag="new"))
            new = ledger.audit.head().position - ledger.audit.verify(incremental=True).since  # type: ignore[union-attr]
        figures: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
        for _ in range(options.rounds):
            for kind in KINDS:
                figures[kind].append(run(kind, anchored if kind == "incremental" else base))
    contender = statistics.median(f["events"] / f["seconds"] for f in figures["contender"])
    print(f"{options.orders:,} orders; incremental: {new:,} events after the anchor's overlap start")
    print(f"{'':16} {'events':>9} {'seconds':>8} {'events/s':>10} {'÷ contender':>12} {'peak MB':>8}")
    for kind in KINDS:
        rounds = figures[kind]
        seconds = statistics.median(f["seconds"] for f in rounds)
        events = rounds[0]["events"]
        rate = statistics.median(f["events"] / f["seconds"] for f in rounds)
        peak = statistics.median(f["peak"] for f in rounds) / 2**20
        print(
            f"{kind.replace(',', ', '):16} {events:>9,.0f} {seconds:>8.2f} {rate:>10,.0f} {rate / contender:>11.2f}× {peak:>8.0f}"
        )


if __name__ == "__main__":
    main()
