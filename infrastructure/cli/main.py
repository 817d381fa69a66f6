"""The ``orderledger`` command's entry point: what it does before it imports the command line.

Importing the command line (typer, pydantic, the domain, the ledger: about half a second on a
quiet machine) is most of a command's start. A command that writes to a SQLite file that must be
checked before its first write (``storage.early_check``) has that check started first, so that
the file is read beside those imports; then ``cli.command`` runs the command. A read the stored
views answer as they are (``orders --json``, ``orders --open --json``: ``cli.quick``) is answered
before any of those imports.
"""

from __future__ import annotations

import sys

from orderledger.infrastructure.cli import quick
from orderledger.infrastructure.storage import early_check


def main() -> None:
    """Console entry point: one line per failure, never a traceback (``cli.command.run``)."""
    sys.argv[1:] = _global_options_first(sys.argv[1:])
    answered = quick.answer(sys.argv[1:])
    if answered is not None:
        sys.exit(answered)
    early_check.start_for_command(sys.argv[1:])
    # Start-up cost: the command line is imported once the check of its file has begun.
    from orderledger.infrastructure.cli.command import run

    run()


def _global_options_first(args: list[str]) -> list[str]:
    """Move ``--db URL`` (or ``--db=URL``) given after the subcommand to before it."""
    moved: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg == "--db" and index + 1 < len(args):
            moved.extend(args[index : index + 2])
            index += 2
            continue
        if arg.startswith("--db="):
            moved.append(arg)
        else:
            rest.append(arg)
        index += 1
    return moved + rest


if __name__ == "__main__":
    main()
