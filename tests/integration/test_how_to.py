"""Every guide of docs/how-to/ runs: its ``bash`` and ``python`` blocks, in order, as written.

Each page runs in an empty directory holding a copy of ``docs/examples/``, with this interpreter's
``python`` and ``orderledger`` first on ``PATH`` and the checkout on ``PYTHONPATH`` (the collect
guide's loopback venue is ``tests.support.tradier_server``). ``bash`` blocks run each in its own
``bash -e``; ``python`` blocks share one session per page. What the page names and this machine
must change: the loopback ports (8765 for the venue, 9108 for the metrics) become free ones, and
the PostgreSQL guide's URL becomes the test server's with a schema of its own, dropped afterwards.
A block that fails fails its page's test with the block's number, first line and output.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.http_api import BOUND
from tests.support.postgres import private_schema, require_postgres

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ROOT / "docs" / "how-to"
BLOCK = re.compile(r"^( *)```(python|bash)\n(.*?)^\1```$", re.DOTALL | re.MULTILINE)
PAGES = sorted(p.name for p in GUIDES.glob("*.md") if p.name != "index.md")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=desk1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def blocks(page: str) -> list[tuple[str, str]]:
    """The page's runnable blocks, in order, each as (kind, code) with its indentation removed."""
    text = (GUIDES / page).read_text("utf-8")
    return [(kind, textwrap.dedent(code)) for _, kind, code in BLOCK.findall(text)]


def _run_page(page: str, tmp_path: Path, swaps: dict[str, str]) -> None:
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "ORDERLEDGER_DATABASE_URL"}
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    session: dict[str, object] = {"__name__": "docs_how_to"}
    found = blocks(page)
    assert found, f"docs/how-to/{page} has no block to run"
    for number, (kind, code) in enumerate(found, start=1):
        for written, here in swaps.items():
            code = code.replace(written, here)
        where = f"docs/how-to/{page} block {number} ({code.strip().splitlines()[0]!r})"
        if kind == "python":
            cwd = Path.cwd()
            os.chdir(tmp_path)
            try:
                exec(compile(code, where, "exec"), session)
            except Exception as error:  # pragma: no cover - the failure names the block
                pytest.fail(f"{where} raised {type(error).__name__}: {error}")
            finally:
                os.chdir(cwd)
            continue
        # the bound only guards against a hang: a block waits on conditions, not on time
        # (a block that fails stops what it started in the background: nothing outlives it)
        done = subprocess.run(
            ["bash", "-ec", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND * 2,
        )
        assert done.returncode == 0, f"{where} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("page", PAGES)
def test_every_block_of_the_guide_runs(page: str, tmp_path: Path) -> None:
    swaps = {"8765": str(_free_port()), "9108": str(_free_port())}
    if PG_URL not in (GUIDES / page).read_text("utf-8"):
        _run_page(page, tmp_path, swaps)
        return
    require_postgres()
    with private_schema("ol_howto") as url:
        _run_page(page, tmp_path, {**swaps, PG_URL: url})


def test_every_guide_is_in_the_index_and_the_navigation() -> None:
    index = (GUIDES / "index.md").read_text("utf-8")
    nav = (ROOT / "mkdocs.yml").read_text("utf-8")
    for page in PAGES:
        assert f"({page})" in index, page
        assert f"how-to/{page}" in nav, page
