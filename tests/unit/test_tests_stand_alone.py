"""Tests read as specifications: no test module imports another; what tests share is in tests/support/.

A test module (``tests/**/test_*.py``), a ``conftest.py`` or a benchmark script
(``tests/benchmarks/*.py``) imports from ``tests`` only ``tests.support``, and the support package
imports nothing else from ``tests``: a reader of a test or a benchmark finds every builder it uses
in one place, and changing one module's private helper cannot break another.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(source: str, package: str) -> list[str]:
    """Every module an import statement anywhere in the source names (in functions too)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def leaks(source: str, package: str) -> list[str]:
    """The modules of ``tests`` outside ``tests.support`` the source imports."""
    return sorted(
        {
            name
            for name in imported_modules(source, package)
            if (name == "tests" or name.startswith("tests."))
            and not name.startswith("tests.support")
            # ``from tests import support`` names the package, then tests.support: allowed
            and name != "tests"
        }
    )


def checked_files() -> list[Path]:
    return sorted(
        path
        for path in TESTS.rglob("*.py")
        if path.name.startswith("test_")
        or path.name == "conftest.py"
        or {"support", "benchmarks"} & set(path.relative_to(TESTS).parts)
    )


def test_the_check_sees_a_test_module_importing_another() -> None:
    assert leaks("from tests.cli.test_live_input import FILL", "tests.reliability") == [
        "tests.cli.test_live_input",
        "tests.cli.test_live_input.FILL",
    ]
    assert leaks("def f():\n    import tests.audit.test_verify\n", "tests.audit") == [
        "tests.audit.test_verify"
    ]
    assert leaks("from . import test_verify", "tests.audit") == ["tests.audit", "tests.audit.test_verify"]
    assert leaks("from tests import builders", "tests.unit") == ["tests.builders"]
    assert leaks("from tests.support.cli import run_cli\nfrom tests import support", "tests.cli") == []
    assert leaks("from tests.benchmarks.run import lines_for", "tests.benchmarks") == [
        "tests.benchmarks.run",
        "tests.benchmarks.run.lines_for",
    ]


def test_test_modules_import_only_the_support_package_from_tests() -> None:
    files = checked_files()
    assert len([f for f in files if f.name.startswith("test_")]) > 50  # the walk finds the suite
    assert len([f for f in files if f.parent.name == "benchmarks"]) >= 8  # and the benchmarks
    offenders = {
        str(path.relative_to(TESTS.parent)): found
        for path in files
        if (found := leaks(path.read_text(), ".".join(path.relative_to(TESTS.parent).parent.parts)))
    }
    assert offenders == {}
