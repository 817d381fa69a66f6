"""The distribution installs one top-level package, ``orderledger``, and nothing else.

The repository keeps ``domain/``, ``projections/`` and ``infrastructure/`` at its top level;
``pyproject.toml`` maps them into one namespace with setuptools' ``package-dir`` (no links in
the checkout). These tests install the checkout both ways a user does, as a built wheel and as
an editable install, each into a fresh virtual environment, and from there import every module
of the mapped folders and fetch every file of the page through the HTTP app: a module or a
static file the mapping misses fails here, as does an import that still names an old top-level
package.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

import orderledger

ROOT = Path(__file__).resolve().parents[2]
OLD_TOP_LEVEL = re.compile(r"^\s*(?:from|import)\s+(?:domain|infrastructure|projections)\b", re.M)
PACKAGE_DIR: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]
STATIC = ROOT / "infrastructure" / "http" / "static"


def checkout_modules() -> list[str]:
    """Every module of the package, named as installed, read from the mapped folders."""
    names = []
    for package, folder in PACKAGE_DIR.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            names.append(".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts))))
    return sorted(set(names))


def test_the_mapping_covers_the_design_folders_and_the_checkout_holds_no_links() -> None:
    assert PACKAGE_DIR == {
        "orderledger": "orderledger",
        "orderledger.domain": "domain",
        "orderledger.projections": "projections",
        "orderledger.infrastructure": "infrastructure",
    }
    # git ls-files -s shows mode 120000 for a symbolic link.
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-s"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert [line for line in tracked if line.startswith("120000")] == []
    # The walk below finds what it must: the modules every layer has (a sample, not a second list).
    modules = checkout_modules()
    for name in ("orderledger.domain.order", "orderledger.projections.positions", "orderledger.__main__"):
        assert name in modules
    assert len([m for m in modules if m.startswith("orderledger.infrastructure.")]) > 40


def test_the_public_names_are_exactly_these() -> None:
    assert orderledger.__all__ == [
        "AmendBelowFilledError",
        "AsyncOrderLedger",
        "AsyncPlacement",
        "CheckResult",
        "ClientOrderId",
        "ClientOrderIdReuseError",
        "CommittedEvent",
        "ConcurrencyError",
        "ConfigurationError",
        "DatabaseCorruptError",
        "DatabaseLockedError",
        "DatabaseReplacedError",
        "Difference",
        "EventRecord",
        "ExposureRow",
        "FillConflictError",
        "Filter",
        "Head",
        "HistoryEntry",
        "IdentityConflictError",
        "IngestReport",
        "InstrumentRow",
        "InvalidInputError",
        "InvalidTransitionError",
        "LedgerError",
        "LimitRow",
        "MessageError",
        "MessageRecord",
        "OrderDeniedError",
        "OrderLedger",
        "OrderNotFoundError",
        "OrderRow",
        "Outcome",
        "OverfillError",
        "Placement",
        "PnlPoint",
        "PnlRow",
        "PositionRow",
        "ReconcileReport",
        "RequestNotRecordedError",
        "Result",
        "Snapshot",
        "StoreError",
        "TradeId",
        "TradeRow",
        "TradingStateRow",
        "UnknownTradeError",
        "VenueOrderId",
        "VerifyReport",
    ]
    assert all(hasattr(orderledger, name) for name in orderledger.__all__)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the files a clone of this checkout holds (with its uncommitted edits).

    Built from a copy: setuptools builds in the source tree, and a ``build/`` folder left there
    by an earlier build would put stale modules into the wheel.
    """
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("orderledger-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package_with_every_module_and_the_page(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"orderledger"}
    for module in checkout_modules():
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module
    for page in STATIC.iterdir():
        assert f"orderledger/infrastructure/http/static/{page.name}" in names


def fresh_venv(at: Path) -> tuple[Path, Path]:
    """A virtual environment without pip: its python and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(at)], check=True)
    python = at / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return python, Path(site)


def install(python: Path, *target: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *target],
        check=True,
        capture_output=True,
    )


def use_this_environments_dependencies(site: Path) -> None:
    """Put this environment's site-packages on the fresh one's path, after its own site-packages.

    A ``.pth`` line adds the folder as a plain directory (its own ``.pth`` files, among them this
    checkout's editable hook, are not run), and the file sorts after the installed package's
    own ``.pth``, so the package found is the one just installed.
    """
    (site / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


# Run inside the fresh environment: import every module, check where the package came from,
# serve the page and each static file through the app, open a ledger.
IMPORT_AND_SERVE = """
import importlib, json, sys
from pathlib import Path
expected = json.loads(sys.argv[1])
for name in expected["modules"]:
    importlib.import_module(name)
import orderledger, orderledger.domain.order as order
assert orderledger.__file__.startswith(expected["package_in"]), orderledger.__file__
assert order.__file__.startswith(expected["domain_in"]), order.__file__
hooks = [m.__file__ for n, m in sys.modules.items() if n.startswith("__editable__")]
assert bool(hooks) == expected["editable"] and all(h.startswith(expected["site"]) for h in hooks), hooks
assert not {"domain", "infrastructure", "projections"} & set(sys.modules), "old top level"
from fastapi.testclient import TestClient
from orderledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
with OrderLedger("memory://") as ledger:
    with TestClient(create_app(LedgerService(ledger)), base_url="http://127.0.0.1") as client:
        for url, file in [("/", "index.html"), *(("/static/" + f, f) for f in expected["static"])]:
            reply = client.get(url)
            assert reply.status_code == 200, (url, reply.status_code)
            assert reply.content == (Path(expected["static_dir"]) / file).read_bytes(), url
    print(type(ledger).__name__)
"""


def import_and_serve(python: Path, site: Path, package_in: Path, domain_in: Path, cwd: Path) -> None:
    expected = {
        "modules": checkout_modules(),
        "package_in": str(package_in),
        "domain_in": str(domain_in),
        "site": str(site),
        "editable": package_in.is_relative_to(ROOT),
        "static": sorted(p.name for p in STATIC.iterdir()),
        "static_dir": str(STATIC),
    }
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [str(python), "-c", IMPORT_AND_SERVE, json.dumps(expected)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and run.stdout.strip() == "OrderLedger", run.stderr
    run = subprocess.run(
        [str(python), "-m", "orderledger", "--help"], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert run.returncode == 0 and "Usage" in run.stdout, run.stderr


def test_a_fresh_venv_with_the_wheel_imports_every_module_and_serves_the_page(
    wheel: Path, tmp_path: Path
) -> None:
    python, site = fresh_venv(tmp_path / "venv")
    before = {p.name for p in site.iterdir()}
    install(python, str(wheel))
    added = {p.name for p in site.iterdir()} - before
    assert {a for a in added if not a.endswith(".dist-info")} == {"orderledger"}, added
    use_this_environments_dependencies(site)
    import_and_serve(python, site, site / "orderledger", site / "orderledger" / "domain", tmp_path)


def test_a_fresh_venv_with_an_editable_install_imports_every_module_from_the_checkout(tmp_path: Path) -> None:
    python, site = fresh_venv(tmp_path / "venv")
    install(python, "-e", str(ROOT))
    use_this_environments_dependencies(site)
    # The editable install reads the checkout itself: orderledger/ and the mapped domain/.
    import_and_serve(python, site, ROOT / "orderledger", ROOT / "domain", tmp_path)


def test_the_python_docs_install_instructions_name_every_extra_and_both_ways_to_install() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    page = (ROOT / "docs" / "python.md").read_text()
    install = page[: page.index("## Opening a ledger")]
    assert [name for name in extras if name != "dev" and f"`{name}`" not in install] == []
    # The two ways this module's tests install the package: a checkout, and a wheel built from one
    assert "pip install /path/to/orderledger " in install
    assert "python -m pip wheel /path/to/orderledger --no-deps -w dist" in install


def test_no_source_imports_the_old_top_level_names() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("domain", "projections", "infrastructure", "tests", "scripts", "orderledger", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".md") and OLD_TOP_LEVEL.search(path.read_text())
    ]
    assert offenders == []
