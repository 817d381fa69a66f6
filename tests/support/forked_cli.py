"""The command-line tests' commands, each a process forked from one that has imported the CLI.

A command of the tests is ``python -m orderledger …``: a new interpreter that imports the
checkout before it does anything, most of a short command's time, paid again by each of the
suite's thousands of commands. Here one server process per test process (``serve``) imports
the command line once; each command is a child forked from it, given its own standard input,
output and error (the test's pipes, passed over a Unix socket), its working directory, its
environment and its arguments, and then run exactly as ``python -m orderledger`` runs it
(``runpy``): its own process, its own exit status, what it prints on its own streams, the
interpreter's own exit (``atexit`` handlers, threads joined). What differs from a new
interpreter is only what was imported before the command started, so a test of what a command
imports (``tests/cli/test_start_imports.py``) starts its commands fresh, as does every command
when ``ORDERLEDGER_TESTS_FRESH_PROCESSES=1`` is set.

Each child is forked from the server as it stood after its imports: no command sees another's
state. The server ends when the test process that started it does (its standard input closes).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PRELOADED = (
    "orderledger.infrastructure.cli.main",
    "orderledger.infrastructure.cli.command",
    "orderledger.infrastructure.application.command_requests",
    "orderledger.infrastructure.application.command_handlers",
    "orderledger.infrastructure.application.writes.recording",
    "orderledger.infrastructure.application.upkeep.maintenance",
)
"""What the server imports before it forks: the command line, and what commands import on first
use (the writes, the upkeep)."""

FRESH = "ORDERLEDGER_TESTS_FRESH_PROCESSES"
"""Set to 1: every command is a new interpreter (``subprocess``), as a user's is."""


# ---------------------------------------------------------------------- the server


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ConnectionError("the test process went away mid-request")
        data += part
    return data


def serve(path: str) -> dict[str, Any]:
    """Accept commands on the Unix socket ``path`` until standard input closes; returns only in
    a forked child, with the request it is to run (``run_child``)."""
    for name in PRELOADED:
        __import__(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wake-up pipe is written
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "children")
    selector.register(0, selectors.EVENT_READ, "parent")
    waiting: dict[int, socket.socket] = {}  # a child's pid → the connection told its exit status
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                if not os.read(0, 4096):  # the test process ended
                    os._exit(0)
            elif key.data == "children":
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 4096):
                        pass
                while waiting:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    conn = waiting.pop(pid, None)
                    if conn is not None:
                        with contextlib.suppress(OSError):
                            conn.sendall(f"S{os.waitstatus_to_exitcode(status)}\n".encode())
                        conn.close()
            else:
                conn, _ = listener.accept()
                try:
                    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
                    request = json.loads(_read_exactly(conn, int(_read_exactly(conn, 10))))
                except (OSError, ValueError):
                    conn.close()
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # the command: leave the server behind
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    for fd in (wake_r, wake_w):
                        os.close(fd)
                    listener.close()
                    for other in waiting.values():
                        other.close()
                    conn.close()
                    for target, fd in enumerate(fds):
                        os.dup2(fd, target)
                        os.close(fd)
                    return dict(request)
                for fd in fds:
                    os.close(fd)
                waiting[pid] = conn
                conn.sendall(f"P{pid}\n".encode())


def run_child(request: Mapping[str, Any]) -> None:
    """Run the command of ``request`` as ``python -m orderledger`` would, in this (forked) process."""
    import runpy

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    random.seed()  # its own draws, not the server's state that every child would share
    sys.argv = ["orderledger", *request["args"]]
    runpy.run_module("orderledger", run_name="__main__", alter_sys=True)


# ---------------------------------------------------------------------- the test process's side


class _Server:
    """This test process's server, started with its first command; its socket is in a temporary
    folder made then (not on import: the server imports this module too)."""

    def __init__(self) -> None:
        self.folder = ""
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def path(self) -> str:
        return str(Path(self.folder) / "server")

    def started(self, env: Mapping[str, str], root: Path) -> str:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                if not self.folder:
                    self.folder = tempfile.mkdtemp(prefix="orderledger-cli-")
                    atexit.register(self.stop)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "tests.support.forked_cli", self.path],
                    cwd=root,
                    env=dict(env),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                assert self.process.stdout is not None
                ready = self.process.stdout.readline()
                if ready != b"ready\n":
                    raise RuntimeError(f"the commands' server did not start: {ready!r}")
            return self.path

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)  # its socket's folder


_SERVER = _Server()


def _drain(fd: int, into: list[bytes]) -> None:
    with os.fdopen(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(65536):
            into.append(chunk)


def _feed(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb", buffering=0) as stream, contextlib.suppress(BrokenPipeError):
        stream.write(data)


def run(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes | None,
    timeout: float,
    root: Path,
    server_env: Mapping[str, str],
) -> tuple[int, bytes, bytes]:
    """Run ``orderledger ARGS`` in a child of the server; its exit status, stdout and stderr.
    Raises ``subprocess.TimeoutExpired`` (the child killed) after ``timeout`` seconds."""
    path = _SERVER.started(server_env, root)
    deadline = time.monotonic() + timeout
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if stdin is None:
        in_r, in_w = os.open(os.devnull, os.O_RDONLY), -1
    else:
        in_r, in_w = os.pipe()
    body = json.dumps({"args": list(args), "cwd": str(cwd), "env": dict(env)}).encode()
    out: list[bytes] = []
    err: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(path)
            socket.send_fds(conn, [b"R"], [in_r, out_w, err_w])
            conn.sendall(b"%010d" % len(body) + body)
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        threads = [
            threading.Thread(target=_drain, args=(out_r, out), daemon=True),
            threading.Thread(target=_drain, args=(err_r, err), daemon=True),
        ]
        if in_w >= 0:
            threads.append(threading.Thread(target=_feed, args=(in_w, stdin), daemon=True))
        for thread in threads:
            thread.start()
        replies = conn.makefile("rb")
        conn.settimeout(max(deadline - time.monotonic(), 0.001))
        pid = 0
        try:
            pid = int(replies.readline()[1:])
            conn.settimeout(max(deadline - time.monotonic(), 0.001))
            status = replies.readline()
            for thread in threads:
                thread.join(max(deadline - time.monotonic(), 0.001))
            if not status.startswith(b"S") or any(t.is_alive() for t in threads):
                raise TimeoutError
        except TimeoutError:
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(["orderledger", *args], timeout) from None
    return int(status[1:]), b"".join(out), b"".join(err)


def fresh() -> bool:
    """Whether commands are to start as new interpreters (``FRESH``)."""
    return os.environ.get(FRESH) == "1"


if __name__ == "__main__":
    run_child(serve(sys.argv[1]))
