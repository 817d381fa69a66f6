"""docs/collect.md stays true: its table of collectors is the registry's, and its two "Try it"
examples run as written (the real command, the loopback servers that ship with the tests)."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orderledger import OrderLedger
from orderledger.infrastructure.collect.registry import venue_table
from tests.support.cli import ROOT, cli_env

DOC = ROOT / "docs" / "collect.md"


def block(title: str) -> list[str]:
    """The commands of the bash block under the heading ``title`` (comments dropped)."""
    section = DOC.read_text().split(f"## {title}\n", 1)[1]
    code = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in code.splitlines() if line.strip()]


def argv(command: str, port: int | None = None) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and argv of a documented command, run with this checkout."""
    if port is not None:
        command = command.replace("8765", str(port))
    words = shlex.split(command.rstrip("&").strip())
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[0] == "orderledger":
        words = [sys.executable, "-m", "orderledger", *words[1:]]
    elif words[0] == "python":
        words = [sys.executable, *words[1:]]
    return env, words


def start(command: str, cwd: Path, port: int | None = None) -> subprocess.Popen[bytes]:
    env, words = argv(command, port)
    return subprocess.Popen(
        words, cwd=cwd, env=cli_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def run(command: str, cwd: Path, port: int | None = None) -> str:
    env, words = argv(command, port)
    done = subprocess.run(words, cwd=cwd, env=cli_env(**env), capture_output=True, timeout=120, check=True)
    return done.stdout.decode()


def wait_for(url: str, condition: Callable[[OrderLedger], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with OrderLedger(url, create=False) as ledger:
                if condition(ledger):
                    return
        except Exception:
            pass  # the collector has not created the ledger yet
        time.sleep(0.05)  # a look at another process's progress
    raise AssertionError("the documented example did not get there in 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err


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
    wait_for(url, lambda ledger: bool(ledger.collectors()), collector)
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
