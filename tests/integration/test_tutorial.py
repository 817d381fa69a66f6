"""docs/tutorial.md runs: its ``python`` and ``bash`` blocks, in order, in an empty directory.

``python`` blocks run as one session (each continues from the ones above); ``bash`` blocks run in
a shell whose ``python`` and ``orderledger`` are this interpreter's. A block that starts
``orderledger … serve`` is started, asked ``/health`` until it answers (on a free port instead of
the page's 8400, which another test may hold), then stopped. A block that fails fails this test
with its number and first line.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.http_api import BOUND

DOC = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(code: str, cwd: Path, env: dict[str, str]) -> None:
    port = _free_port()
    server = subprocess.Popen(
        ["bash", "-c", "exec " + code.strip().replace("--port 8400", f"--port {port}")],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(int(BOUND / 0.05)):  # the bound only guards against a hang
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=BOUND) as answer:
                    assert answer.status == 200
                    return
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else "serve stopped"
                time.sleep(0.05)  # asking again until the server answers: a condition, not a timing
        pytest.fail("serve never answered /health")
    finally:
        server.terminate()
        server.wait(timeout=BOUND)
        if server.stderr is not None:
            server.stderr.close()


def test_every_block_of_the_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDERLEDGER_DATABASE_URL", raising=False)
    env = {k: v for k, v in os.environ.items() if k != "ORDERLEDGER_DATABASE_URL"}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    scripts = Path(sys.executable).parent
    env["PATH"] = os.pathsep.join([str(bin_dir), str(scripts), env.get("PATH", "")])
    session: dict[str, object] = {"__name__": "docs_tutorial"}
    blocks = BLOCK.findall(DOC.read_text("utf-8"))
    assert [kind for kind, _ in blocks].count("python") >= 4
    outputs = []
    for number, (kind, code) in enumerate(blocks, start=1):
        first = code.strip().splitlines()[0]
        if kind == "python":
            try:
                exec(compile(code, f"docs/tutorial.md block {number}", "exec"), session)
            except Exception as error:  # pragma: no cover - the failure names the block
                pytest.fail(
                    f"docs/tutorial.md block {number} ({first!r}) raised {type(error).__name__}: {error}"
                )
        elif first.startswith("orderledger") and " serve" in first:
            _serve(code, tmp_path, env)
        else:
            done = subprocess.run(
                ["bash", "-ec", code], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"docs/tutorial.md block {number} ({first!r}): {done.stderr}"
            outputs.append(done.stdout)
    # The killed process said so, and what it recorded before dying is in the books
    assert "exit status 137" in outputs[0]
    assert "T-2" in outputs[1]
