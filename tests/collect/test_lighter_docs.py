"""docs/collect.md's Lighter example runs as written: the real command against the
loopback Lighter that ships with the tests (``python -m tests.support.lighter_server``)."""

from __future__ import annotations

import contextlib
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orderledger import OrderLedger
from orderledger.infrastructure.errors import StoreError
from tests.support.cli import ROOT, cli_env

pytestmark = pytest.mark.timeout(120)
SECTION = "## Try it: lighter\n"


def commands() -> list[str]:
    """The bash block under "Try it: lighter" in docs/collect.md, comments dropped."""
    code = (ROOT / "docs" / "collect.md").read_text().split(SECTION, 1)[1]
    code = code.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in code.splitlines() if line.strip()]


def launch(command: str, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    """A documented command with this checkout's Python and a free port for the documented one."""
    words = shlex.split(command.replace("8766", str(port)).rstrip("&").strip())
    env = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    words = [sys.executable, *(["-m", "orderledger"] if words[0] == "orderledger" else []), *words[1:]]
    return subprocess.Popen(
        words, cwd=cwd, env=cli_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_the_lighter_example_runs_as_written(tmp_path: Path) -> None:
    serve, collect, orders, positions, kill = commands()
    assert kill == "kill -TERM %2 %1"
    with socket.socket() as probe:  # the documented port may be taken on a shared machine
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = launch(serve, port, tmp_path)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().decode() == (
            f"http://127.0.0.1:{port} account 1077 token 1767139200:1077:255:0b6a41\n"
        )
        collector = launch(collect, port, tmp_path)
        url = f"sqlite:///{tmp_path / 'lighter.db'}"
        deadline = time.monotonic() + 60
        while True:  # until the 6 trades are booked, as an operator would look
            assert collector.poll() is None and time.monotonic() < deadline, collector.communicate()
            with contextlib.suppress(StoreError), OrderLedger(url, create=False) as ledger:
                if len(ledger.trades()) == 6:  # (StoreError: the collector is still creating it)
                    break
            time.sleep(0.05)  # a look at another process's progress
        shown = launch(orders, port, tmp_path).communicate(timeout=60)[0].decode()
        # orders 0-5 (281474977354074 + i): every third (2, 5) left open after its fill
        assert all(f"ext-lighter-{281474977354074 + i}" in shown for i in range(6))
        assert shown.count("canceled") == 4 and shown.count("partially_filled") == 2
        flat = launch(positions, port, tmp_path).communicate(timeout=60)[0].decode()
        assert "ETH/USDC:USDC" in flat  # 3 sells and 3 buys of 10.2304: quantity 0
        collector.send_signal(signal.SIGTERM)
        _, err = collector.communicate(timeout=60)
        assert collector.returncode == 0, err
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
