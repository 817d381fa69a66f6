"""docs/collect.md stays true: its table of collectors is the registry's, and its two "Try it"
examples run as written (the real command, the loopback servers that ship with the tests)."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

from orderledger.infrastructure.collect.registry import venue_table
from tests.support.collect_docs import DOC, block, run, start, stop, wait_for


def test_the_table_of_collectors_is_the_registrys() -> None:
    text = DOC.read_text()
    shown = re.search(r"<!-- venues -->\n(.*?)\n<!-- /venues -->", text, re.S)
    assert shown is not None and shown[1] == venue_table()


def test_the_fix_example_runs_as_written(tmp_path: Path) -> None:
    touch, collect, write, trades, kill = block("Try it: fix")
    assert kill == "kill -TERM %1"
    url = f"sqlite:///{tmp_path / 'collect.db'}"
    run(touch, tmp_path)
    collector = start(collect, tmp_path)
    wait_for(url, lambda ledger: bool(ledger.upkeep.collectors()), collector)
    run(write, tmp_path)
    # 4 orders × 2 fills (3 @ 100 and 7 @ 101) = 8 trades
    wait_for(url, lambda ledger: len(ledger.trades()) == 8, collector)
    assert run(trades, tmp_path).rstrip().endswith("8 trades")
    stop(collector)


def test_the_tradier_example_runs_as_written(tmp_path: Path) -> None:
    serve, collect, orders, kill = block("Try it: tradier")
    assert kill == "kill -TERM %2 %1"
    with socket.socket() as probe:  # the documented port may be taken on a shared machine
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start(serve, tmp_path, port)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().decode().startswith(f"http://127.0.0.1:{port}/v1 account VA000000")
        collector = start(collect, tmp_path, port)
        url = f"sqlite:///{tmp_path / 'collect.db'}"
        # the published reply: 228175 and 228749 expired, the combo's leg 229064 canceled
        wait_for(url, lambda ledger: len(ledger.orders()) == 3, collector)
        shown = run(orders, tmp_path)
        assert all(cid in shown for cid in ("ext-tradier-228175", "ext-tradier-228749", "ext-tradier-229064"))
        stop(collector)
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
