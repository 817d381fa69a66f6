"""Running the ``orderledger`` command: the typer application (``app``), and every failure told
in one line.

A thin shell over the Python API (``OrderLedger``): the commands live by group (``ingest``,
``queries``, ``audit``, ``admin``) and only read options and render (``render``); the typer
application names them, each imported when it runs, and this module runs it once ``cli.main``,
the console entry point, has started what a command starts before its imports.

Every failure prints one line to stderr and exits non-zero; no traceback reaches a user
(set ORDERLEDGER_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from orderledger.domain.errors import LedgerError, argument_names
from orderledger.infrastructure.cli.app import Interrupted, app, option_name
from orderledger.infrastructure.cli.render import warn
from orderledger.infrastructure.errors import WRITE_RACE, ConcurrencyError, missing_extra
from orderledger.infrastructure.storage.db import is_write_race

# ---------------------------------------------------------------------- entry point


def run() -> None:
    """Run the command ``sys.argv`` names (``--db`` before the subcommand): one line per failure,
    never a traceback."""
    try:
        # Outside standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Interrupted as stopped:
        _fail(stopped, stopped.code)
    except (LedgerError, ValueError) as error:
        _fail(error, 2)
    except KeyboardInterrupt:
        _fail(KeyboardInterrupt("interrupted"), 130)
    except ModuleNotFoundError as error:
        # An optional dependency a command needs (the collect, analytics … extras): name the extra.
        extra = missing_extra(error)
        if extra is None:
            _fail(error, 3, prefix="internal error: ")
        else:
            _fail(extra, 2)
    except Exception as error:  # usage errors and anything unexpected
        # typer ships its own copy of click: recognise usage errors by their shape, not class.
        if type(error).__name__ == "NoArgsIsHelpError":
            # Bare `orderledger` (or `orderledger db`): the usage, then a clean exit.
            ctx = getattr(error, "ctx", None)
            sys.stdout.write((ctx.get_help() if ctx is not None else "") + "\n")
            sys.exit(0)
        if hasattr(error, "format_message") and hasattr(error, "exit_code"):
            warn(f"orderledger: {error.format_message()}")
            sys.exit(int(error.exit_code))
        if type(error).__name__ == "Abort":
            _fail(error, 130)
        if is_write_race(error):
            _fail(ConcurrencyError(WRITE_RACE), 2)
        _fail(error, 3, prefix="internal error: ")


def _spelling(args: list[str]) -> Callable[[str], str]:
    """How the command ``args`` runs spells an argument of the Python API: its option
    (``--format``), its positional argument's metavar (``DIRECTORY``), or, when the command has
    neither, the argument's own name in backticks, never an option the command does not have."""
    command: Any = typer.main.get_command(app)
    given = iter(args)
    for arg in given:
        found = getattr(command, "commands", {}).get(arg)
        if found is not None:
            command = found
        elif arg == "--db":
            next(given, None)  # (its URL; main moved it before the subcommand)
        elif not arg.startswith("-") or getattr(command, "commands", None) is None:
            break
    flags = {flag for param in command.params for flag in getattr(param, "opts", ())}
    positional = {
        str(param.name): (getattr(param, "metavar", None) or str(param.name).upper()).strip("[]")
        for param in command.params
        if getattr(param, "param_type_name", "") == "argument"
    }

    def spell(argument: str) -> str:
        flag = option_name(argument)
        if flag in flags:
            return flag
        return positional.get(argument, f"`{argument}`")

    return spell


def _fail(error: BaseException, code: int, prefix: str = "") -> None:
    if os.environ.get("ORDERLEDGER_DEBUG"):
        raise error
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    # The API names its arguments; here, the running command's options and arguments
    try:
        spell = _spelling(sys.argv[1:])
    except Exception:  # (the failure is told whatever happens here: the API's spelling, then)
        spell = option_name
    text = argument_names(str(text), spell)
    warn(f"orderledger: {prefix}{(text.splitlines() or [''])[0]}")
    sys.exit(code)
