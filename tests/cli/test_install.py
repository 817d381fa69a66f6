"""The README's set-up lines, run as a newcomer runs them: the light line (the package without any
extra) installs into a fresh virtualenv, runs the demo, imports the public names, and a command
that needs an extra names it in one line; the test line installs ``[dev]``.

The copy is the checkout's tracked files (``git ls-files``), so what is tested is what a clone
holds. pip reads the package index this machine is given (PyPI or its mirror)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _set_up_lines() -> list[str]:
    """The shell lines of the README's "Set up" section's code blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [
        line.strip()
        for block in re.findall(r"```bash\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.strip()
    ]


def test_the_readme_sets_up_the_light_install_first_and_the_tests_with_dev() -> None:
    light, tests = _set_up_lines()
    assert "[dev]" not in light and "pip install -e . " in light + " " and "orderledger demo" in light
    assert "'.[dev]'" in tests and "scripts/check" in tests


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout"
)
def test_the_light_line_runs_the_demo_in_a_fresh_virtualenv_without_any_extra(tmp_path: Path) -> None:
    # Given a copy of the checkout's tracked files
    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "ORDERLEDGER_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    # When the README's light line runs there, verbatim (python3 as the README says, else this one)
    light = _set_up_lines()[0]
    if shutil.which("python3", path=env["PATH"]) is None:
        light = light.replace("python3 ", f"{sys.executable} ", 1)
    done = subprocess.run(
        ["bash", "-c", light], cwd=clone, env=env, capture_output=True, text=True, timeout=900
    )
    # Then the demo ran
    assert done.returncode == 0, done.stderr[-2000:]
    assert "orderledger history" in done.stdout
    python = clone / ".venv" / "bin" / "python"
    # And the package and its public names import, with no extra installed
    probe = (
        "import importlib.util, orderledger\n"
        "from orderledger import OrderLedger, AsyncOrderLedger\n"
        "assert all(getattr(orderledger, n) is not None for n in orderledger.__all__)\n"
        "extras = ['ccxt', 'aiohttp', 'websockets', 'duckdb', 'pyarrow', 'prometheus_client', 'pytest']\n"
        "print(sorted(m for m in extras if importlib.util.find_spec(m) is not None))\n"
    )
    imported = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert imported.stdout.strip() == "[]"
    # And a command that needs the collect extra says so in one line, exit 2
    env["ORDERLEDGER_TRADIER_TOKEN"] = "not-used"
    refused = subprocess.run(
        [
            str(clone / ".venv" / "bin" / "orderledger"),
            "--db",
            "memory://",
            "collect",
            "tradier",
            "--account",
            "VA1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "orderledger: aiohttp is not installed: pip install 'orderledger[collect]'"
    ]
