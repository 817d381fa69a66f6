"""The distribution installs one top-level package, ``orderledger``, and nothing else.

The repository keeps ``domain/``, ``projections/`` and ``infrastructure/`` at its top level;
``orderledger/`` maps them into one namespace (symbolic links the build follows). These tests
build the real wheel, install it into a fresh virtual environment and import every module
from there, so an import that still names an old top-level package fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD_TOP_LEVEL = re.compile(r"^\s*(?:from|import)\s+(?:domain|infrastructure|projections)\b", re.M)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("orderledger-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"orderledger"}
    for part in ("domain/order.py", "projections/positions.py", "infrastructure/http/static/index.html"):
        assert f"orderledger/{part}" in names


def test_a_fresh_venv_with_the_wheel_imports_every_module_and_runs_the_command(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    before = set(p.name for p in site.iterdir())
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    added = {p.name for p in site.iterdir()} - before
    assert {a for a in added if not a.endswith(".dist-info")} == {"orderledger"}, added
    # The dependencies come from this environment's site-packages, put on the path as a plain
    # directory, so its editable hook for the checkout is not loaded and cannot shadow the wheel.
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}
    code = (
        "import importlib, pkgutil, orderledger\n"
        f"assert orderledger.__file__.startswith({str(site)!r}), orderledger.__file__\n"
        "for m in pkgutil.walk_packages(orderledger.__path__, 'orderledger.'):\n"
        "    importlib.import_module(m.name)\n"
        "import sys\n"
        "assert not {'domain', 'infrastructure', 'projections'} & set(sys.modules), 'old top level'\n"
        "from orderledger import OrderLedger\n"
        "with OrderLedger('memory://') as ledger:\n"
        "    print(type(ledger).__name__)\n"
    )
    run = subprocess.run([str(python), "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "OrderLedger", run.stderr
    run = subprocess.run(
        [str(python), "-m", "orderledger", "--help"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0 and "Usage" in run.stdout, run.stderr


def test_no_source_imports_the_old_top_level_names() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("domain", "projections", "infrastructure", "tests", "scripts", "orderledger", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".md") and not path.is_symlink() and OLD_TOP_LEVEL.search(path.read_text())
    ]
    assert offenders == []
