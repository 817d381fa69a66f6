"""Regenerate, or check, every command output pasted in ``docs/**/*.md``.

Usage (from the repository root, with the project's Python)::

    python scripts/docs_outputs.py            # check: exit 1 and show a diff when a block drifted
    python scripts/docs_outputs.py --write    # rewrite the drifted blocks in place
    python scripts/docs_outputs.py docs/semantics.md   # only these files

Markers (HTML comments, invisible when the Markdown is rendered):

``<!-- output: COMMAND -->``
    Immediately followed (blank lines allowed) by a fenced block that shows what COMMAND prints.
    COMMAND is a shell command line (bash); ``orderledger`` in it is the real command of this
    checkout (``python -m orderledger`` with the checkout first on PYTHONPATH). The block
    is what it writes to stdout and stderr, through one pipe, so in the order a terminal shows
    it. The comment may span lines; a ``COLUMNS=N`` prefix gives one command another width.

``<!-- output: session -->``
    The fenced block that follows is a terminal transcript: each line starting with ``$ `` is
    run as above, and the lines after it up to the next ``$ `` line are its output.

``<!-- run: COMMAND -->``
    A step the reader also takes (shown in a ``bash`` block nearby) whose output the page does
    not show; it runs so that the outputs after it are right.

``<!-- env: NAME=VALUE -->``
    Sets an environment variable for the page's later commands (what ``export`` in a page's
    ``bash`` block does for the reader). ``DOCS_CLOCK=2026-11-21T17:50:20Z`` is special: from
    then on the ledger's clock (``ts_recorded``, ``received_at``) is fixed: the n-th
    ``orderledger`` command after the marker (counting from 0) starts at that time plus 5 n
    seconds, and each reading of the clock adds one microsecond. So a page whose output shows
    recording times, ``--as-of`` answers or the hash chain's head is reproducible exactly; a page
    sets the clock again where its narration jumps ahead.

A transcript line may start a here-document (``<<'EOF'``): the lines up to its terminator are
part of the command, and stay in the block as written.

How a page runs: in a fresh temporary directory holding ``docs/examples`` (so the paths the
page uses resolve), every marked command in page order, sharing that directory (so a page is a
tutorial: what one step stored, the next reads). The environment has no ``ORDERLEDGER_*`` or
cipher settings (a page sets its own with ``export`` inside a command), ``COLUMNS=100`` so
tables have one width, and ``NO_COLOR``/``TERM=dumb`` so there are no colour codes.

What may differ (masked on both sides before comparing, so a block that differs only in them
is left as written):

- the elapsed time and rate of an ``ingest`` summary: ``in 0.02 s (551 events/s)`` and, in
  ``--acks`` output, ``"seconds": 0.005``;
- ciphertext, which a fresh random nonce makes different on every run: 24 upper-case hex digits
  (what ``hex(substr(state, 1, 12))`` shows of an encrypted payload);

and, only in the blocks before a page sets ``DOCS_CLOCK`` (after it, they are exact):

- the times the ledger stamps when it records (``received_at``, ``ts_recorded``, ``recorded_at``,
  in JSON and in tables): any ISO time that is not on the 2026-11-20..2026-11-22 days the
  example inputs use is a stamp of the run's own clock;
- values derived from those stamps: the hash chain's head (``head N:HEX``), which is also
  masked while ``CIPHER_KEY`` is set (the chain covers the ciphertext, nonce included).

Everything else must match exactly. A command that prints a Python traceback is an error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COLUMNS = "100"
TIMEOUT = 120.0

_MARKER = re.compile(r"<!--\s*(?P<kind>output|run|env):\s*(?P<command>.*?)\s*-->", re.DOTALL)
_FENCE = re.compile(
    r"^(?P<indent>[ ]*)(?P<fence>```+)[^\n]*\n(?P<body>.*?)^[ ]*(?P=fence)[ \t]*$", re.DOTALL | re.MULTILINE
)

# Wall-clock parts of an output (see the module docstring), each replaced by a fixed mask.
_TIMINGS = (
    (re.compile(r"in \d+(\.\d+)? s \([\d,]+ events/s\)"), "in #.## s (# events/s)"),
    (re.compile(r'"seconds": ?\d+(\.\d+)?'), '"seconds": #'),
    (re.compile(r"\b[0-9A-F]{24}\b"), "<ciphertext>"),
)
_STAMPS = (
    (re.compile(r"\b(?!2026-11-2[012])\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<now>"),
    (re.compile(r"head (\d+):[0-9a-f]{64}"), r"head \1:<hash>"),
)


_EXPORT = re.compile(r"^\$ export (?P<name>\w+)=")
_HEREDOC = re.compile(r"<<-?\s*'?\"?(?P<end>\w+)")

# What ``orderledger`` runs in a page: the real CLI, with the ledger's clock fixed when the page
# sets DOCS_CLOCK (the ledger takes a clock; the command has no option for one, nor should it).
_MAIN = """\
import itertools, os, runpy, sys
from datetime import datetime, timedelta

start = os.environ.get("DOCS_CLOCK")
if start:
    from orderledger.infrastructure.application import ledger

    # The n-th command since the page set the clock starts n * 5 s after it (a counter file
    # beside this script): later commands record later, as in the page's narration.
    counter = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clock-" + start)
    runs = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as handle:
        handle.write(str(runs + 1))
    base = datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(seconds=5 * runs)
    ticks = itertools.count()
    opened = ledger.OrderLedger.__init__

    def fixed_clock():
        return base + timedelta(microseconds=next(ticks))

    def __init__(self, *args, clock=None, **kwargs):
        opened(self, *args, clock=clock or fixed_clock, **kwargs)

    ledger.OrderLedger.__init__ = __init__
sys.argv[0] = "orderledger"
runpy.run_module("orderledger", run_name="__main__", alter_sys=True)
"""


def normalise(text: str, clock_fixed: bool = False) -> str:
    """The text with every wall-clock value masked (recording stamps only without DOCS_CLOCK)."""
    for pattern, mask in _TIMINGS if clock_fixed else (*_TIMINGS, *_STAMPS):
        text = pattern.sub(mask, text)
    return text


@dataclass
class Block:
    """One marked block of a page: where its body is, and what produces it."""

    command: str
    start: int
    """Offset of the block's body (after the opening fence line) in the page."""
    end: int
    """Offset just past the body (at the closing fence)."""
    body: str
    session: bool
    indent: str = ""
    """The fence's indentation (a block inside a list item): every line of the body has it."""


@dataclass
class Step:
    """A marked command with no block of its own (``run:``), or a setting (``env:``)."""

    command: str
    setting: bool = False


def parse(text: str, path: Path) -> list[Block | Step]:
    """Every marker of a page, in page order, with the fenced block each ``output:`` names."""
    items: list[Block | Step] = []
    for marker in _MARKER.finditer(text):
        command = marker["command"].strip()
        if marker["kind"] != "output":
            items.append(Step(command, setting=marker["kind"] == "env"))
            continue
        fence = _FENCE.search(text, marker.end())
        line = text.count("\n", 0, marker.start()) + 1
        if fence is None or text[marker.end() : fence.start()].strip():
            raise SystemExit(f"{path}:{line}: an output marker must be followed by a fenced block")
        items.append(
            Block(
                command=command,
                start=fence.start("body"),
                end=fence.end("body"),
                body=fence["body"],
                session=command == "session",
                indent=fence["indent"],
            )
        )
    return items


def _environment(bin_dir: Path) -> dict[str, str]:
    """The environment every command of a page runs in (see the module docstring)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORDERLEDGER_", "CIPHER_", "COMPRESSOR_")) and k not in {"COLUMNS", "LINES"}
    }
    env["PATH"] = os.pathsep.join((str(bin_dir), env.get("PATH", "")))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env.update(COLUMNS=COLUMNS, NO_COLOR="1", TERM="dumb")
    # Byte code is kept out of the checkout, in one cache of the temporary directory that every
    # command reads (compiling the checkout again was a third of a short command's time).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "orderledger-docs-pycache"))
    return env


class Runner:
    """A page's scratch directory and the shell its commands run in."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        shutil.copytree(DOCS / "examples", directory / "docs" / "examples")
        bin_dir = directory / ".bin"
        bin_dir.mkdir()
        (bin_dir / "orderledger_main.py").write_text(_MAIN)
        wrapper = bin_dir / "orderledger"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{bin_dir / "orderledger_main.py"}" "$@"\n')
        wrapper.chmod(0o755)
        python = bin_dir / "python"  # `python` in a page is this Python (its virtualenv too)
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        python.chmod(0o755)
        self.env = _environment(bin_dir)

    def run(self, command: str) -> str:
        """What one shell command prints, stdout and stderr in the order written (as a terminal shows)."""
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
            check=False,
        )
        output = done.stdout.decode()
        if "Traceback" in output:
            raise RuntimeError(f"`{command}` printed a traceback:\n{output}")
        return output

    def setting(self, assignment: str) -> None:
        """Apply an ``env:`` marker's NAME=VALUE to the page's later commands."""
        name, _, value = assignment.partition("=")
        self.env[name.strip()] = value.strip()

    def session(self, transcript: str) -> str:
        """A transcript with the output after each ``$ `` line replaced by what it prints now."""
        lines: list[str] = []
        source = iter(transcript.splitlines())
        for line in source:
            if not line.startswith("$ "):
                continue
            command = [line]
            heredoc = _HEREDOC.search(line)
            if heredoc is not None:  # the document's lines belong to the command
                for body in source:
                    command.append(body)
                    if body == heredoc["end"]:
                        break
            lines.extend(command)
            export = _EXPORT.match(line)
            if export is not None:  # the transcript's later commands see it, as in one shell
                self.env[export["name"]] = self.run(f'{line[2:]} && printf %s "${export["name"]}"')
                continue
            lines.extend(self.run("\n".join(command)[2:]).splitlines())
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Drift:
    """One block whose pasted text is not what its command prints."""

    path: Path
    line: int
    command: str
    pasted: str
    actual: str

    def diff(self) -> str:
        where = f"{self.path.relative_to(ROOT)}:{self.line}"
        return "".join(
            difflib.unified_diff(
                self.pasted.splitlines(keepends=True),
                self.actual.splitlines(keepends=True),
                f"{where} (pasted)",
                f"{where} `{self.command}` (now)",
            )
        )


def render(path: Path) -> tuple[str, list[Drift], int]:
    """The page with every drifted block replaced, the drifts, and how many blocks were checked."""
    text = path.read_text(encoding="utf-8")
    items = parse(text, path)
    drifts: list[Drift] = []
    pieces: list[str] = []
    cursor = 0
    checked = 0
    with tempfile.TemporaryDirectory(prefix="docs-outputs-") as scratch:
        runner = Runner(Path(scratch))
        for item in items:
            if isinstance(item, Step):
                runner.setting(item.command) if item.setting else runner.run(item.command)
                continue
            body = "".join(line.removeprefix(item.indent) for line in item.body.splitlines(keepends=True))
            actual = runner.session(body) if item.session else runner.run(item.command)
            if actual and not actual.endswith("\n"):
                actual += "\n"
            actual = "".join(item.indent + line if line.strip() else line for line in actual.splitlines(True))
            checked += 1
            fixed = "DOCS_CLOCK" in runner.env and "CIPHER_KEY" not in runner.env
            if normalise(actual, fixed) == normalise(item.body, fixed):
                continue
            line = text.count("\n", 0, item.start)
            drifts.append(Drift(path, line, item.command, item.body, actual))
            pieces.append(text[cursor : item.start])
            pieces.append(actual)
            cursor = item.end
    pieces.append(text[cursor:])
    return "".join(pieces), drifts, checked


def pages(names: list[str]) -> list[Path]:
    """The pages named, or every page under docs/ and its folders."""
    return [Path(n).resolve() for n in names] if names else sorted(DOCS.rglob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite drifted blocks in place")
    parser.add_argument("pages", nargs="*", help="Markdown files (default: docs/**/*.md)")
    args = parser.parse_args(argv)
    failed = False
    for path in pages(args.pages):
        new, drifts, checked = render(path)
        if not checked:
            continue
        if args.write and drifts:
            path.write_text(new, encoding="utf-8")
        for drift in drifts:
            sys.stdout.write(drift.diff() + ("" if args.write else "\n"))
        state = f"{len(drifts)} rewritten" if args.write else f"{len(drifts)} differ"
        sys.stderr.write(f"{path.relative_to(ROOT)}: {checked} blocks, {state}\n")
        failed = failed or (bool(drifts) and not args.write)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
