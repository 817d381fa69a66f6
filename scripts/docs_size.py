"""How much hand-written prose the docs hold: README.md and docs/**/*.md, in bytes, without what
the project writes itself.

Usage (from the repository root)::

    python scripts/docs_size.py           # bytes per page, largest first, and the total

Left out, as written by code rather than by hand: the regions between ``<!-- generated: NAME -->``
and ``<!-- /generated -->`` (the message field tables), the regions a benchmark rewrites
(``<!-- NAME -->`` … ``<!-- /NAME -->``), and the pasted output of a command (the fenced block
after ``<!-- output: … -->`` or ``<!-- run: … -->``, which tests/cli/test_docs_outputs.py keeps
equal to what the command prints). The generated references (commands, HTTP routes, Python) are
built at site build time and are not files here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_GENERATED = re.compile(r"<!-- generated:.*?<!-- /generated -->", re.S)
_REWRITTEN = re.compile(r"<!-- ([\w -]+?) -->.*?<!-- /\1 -->", re.S)
_PASTED = re.compile(r"<!-- (?:output|run):[^>]*-->\s*```.*?```", re.S)


def prose_bytes(text: str) -> int:
    """The bytes of ``text`` written by hand."""
    for written in (_GENERATED, _REWRITTEN, _PASTED):
        text = written.sub("", text)
    return len(text.encode())


def main() -> int:
    pages = [*sorted((ROOT / "docs").glob("**/*.md")), ROOT / "README.md"]
    sizes = sorted(((prose_bytes(p.read_text()), p.relative_to(ROOT)) for p in pages), reverse=True)
    lines = [f"{size:9,d}  {page}" for size, page in sizes]
    lines.append(f"{sum(size for size, _ in sizes):9,d}  in all")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
