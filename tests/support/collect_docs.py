"""Running docs/collect.md's examples as written: the commands of a "Try it" block, with this
checkout's Python, waiting on the ledger another process writes."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orderledger import OrderLedger
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
    """Until the ledger at ``url`` shows ``condition`` while ``process`` (a collector) runs, read
    by this process as an operator would."""
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
    raise AssertionError("the collector did not get there in 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err


__all__ = ["DOC", "argv", "block", "run", "start", "stop", "wait_for"]
