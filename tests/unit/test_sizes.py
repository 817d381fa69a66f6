"""Sizes a reader can hold: no module over 900 lines, no function over 100.

Every Python file of the checkout counts (the package's folders, the tests and their support,
the benchmarks, the scripts and the examples): a module that outgrows the bound is split where
its subjects part, a function where its steps do.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("orderledger", "domain", "projections", "infrastructure", "tests", "scripts", "examples")
MODULE_LINES = 900
FUNCTION_LINES = 100


def python_files() -> list[Path]:
    return sorted(path for folder in FOLDERS for path in (ROOT / folder).rglob("*.py"))


def long_functions(source: str) -> list[tuple[str, int]]:
    """The functions (methods and nested ones too) longer than the bound, with their length."""
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > FUNCTION_LINES
    ]


def test_the_check_measures_a_function_from_its_def_to_its_last_line() -> None:
    body = "".join(f"        x = {i}\n" for i in range(FUNCTION_LINES - 1))
    assert long_functions(f"class C:\n    def f(self):\n{body}") == []  # 100 lines
    assert long_functions(f"class C:\n    def g(self):\n{body}        y = 0\n") == [("g", 101)]


def test_no_module_is_over_900_lines_and_no_function_over_100() -> None:
    files = python_files()
    assert len(files) > 200  # the walk finds the checkout
    relative = {path: str(path.relative_to(ROOT)) for path in files}
    long_modules = {
        relative[path]: count
        for path in files
        if (count := len(path.read_text().splitlines())) > MODULE_LINES
    }
    functions = {relative[path]: found for path in files if (found := long_functions(path.read_text()))}
    assert (long_modules, functions) == ({}, {})
