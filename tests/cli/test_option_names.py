"""A refusal names only options and arguments the command that was run has: the Python API names
its arguments, and the command line spells each as the running command does (an option, or a
positional argument's metavar), never as an option of another command or of none."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from orderledger.infrastructure.cli import main
from orderledger.infrastructure.cli.app import app
from tests.support.cli import assert_one_line_failure, run_cli


def flags_of(path: list[str]) -> set[str]:
    """Every option flag of the command at ``path`` (``["export"]``) and of the top level."""
    assert callable(main.main)  # (importing main registers every command on the app)
    command: Any = typer.main.get_command(app)
    flags = {flag for param in command.params for flag in getattr(param, "opts", ())}
    for name in path:
        command = command.commands[name]
    return flags | {flag for param in command.params for flag in getattr(param, "opts", ())}


CASES = [
    (["export", "lake", "/etc/passwd"], ["export"], "DIR '/etc/passwd' is not a directory"),
    (["trades", "--sort", "bogus"], ["trades"], "--sort must be one of"),
    (["orders", "--as-of", "garbage"], ["orders"], "--as-of"),
    (["export", "trades", "--format", "xml"], ["export"], "--format"),
    (["positions", "--mark", "X"], ["positions"], "--mark"),
    (["messages", "--outcome", "bogus"], ["messages"], "--outcome"),
]


@pytest.mark.parametrize(("args", "path", "said"), CASES)
def test_a_refusal_names_the_running_commands_own_options(
    tmp_path: Path, args: list[str], path: list[str], said: str
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run_cli("db", "init", db=db, cwd=tmp_path).returncode == 0
    line = assert_one_line_failure(run_cli(*args, db=db, cwd=tmp_path), 2)
    assert said in line
    named = set(re.findall(r"--[a-z][a-z-]*", line))
    assert named <= flags_of(path), (line, named - flags_of(path))
    assert "--directory" not in line
