"""Imports sit at the top of a module; one inside a function says why, in a comment just above it.

A function-level import hides a dependency from the reader and from import-linter's layer
contracts alike (grimp sees it, but a reader of the module's head does not). The accepted
reasons are start-up cost (a module heavy to load that few commands need) and an optional
dependency; an import cycle is not one: the shared piece moves to the lower layer instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FOLDERS = ("orderledger", "domain", "projections", "infrastructure")


def unexplained(source: str) -> list[int]:
    """Lines of imports inside a function with no comment above them (a run of imports, or a
    ``try:``, shares the comment of its first line)."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom):
                above = inner.lineno - 2
                while above >= 0 and lines[above].strip().startswith(("import ", "from ")):
                    above -= 1
                if "#" not in lines[inner.lineno - 1] and (above < 0 or "#" not in lines[above]):
                    found.append(inner.lineno)
    return found


def test_the_check_sees_an_unexplained_import() -> None:
    assert unexplained("def f():\n    import json\n    return json\n") == [2]
    assert unexplained("def f():\n    # start-up cost\n    import a\n    import b\n") == []
    assert (
        unexplained(
            "def f():\n    try:  # optional\n        import pyarrow\n    except ImportError:\n        pass\n"
        )
        == []
    )


def test_every_import_inside_a_function_says_why() -> None:
    sources = [path for folder in PACKAGE_FOLDERS for path in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 50
    offenders = {
        f"{path.relative_to(ROOT)}:{line}" for path in sources for line in unexplained(path.read_text())
    }
    assert offenders == set()
