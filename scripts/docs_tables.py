"""Rewrite the field tables of docs/messages.md from the message models.

Usage (from the repository root, with the project's Python)::

    python scripts/docs_tables.py           # exit 1 and show the diff when the page is stale
    python scripts/docs_tables.py --write   # rewrite the tables in place

The tables sit between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``; what they say
comes from ``infrastructure/messages/models.py`` (see ``infrastructure/messages/docs.py``).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orderledger.infrastructure.messages.docs import rendered  # noqa: E402

PAGE = ROOT / "docs" / "messages.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the page's tables in place")
    args = parser.parse_args(argv)
    page = PAGE.read_text(encoding="utf-8")
    fresh = rendered(page)
    if fresh == page:
        return 0
    if args.write:
        PAGE.write_text(fresh, encoding="utf-8")
        sys.stdout.write(f"rewrote the generated tables of {PAGE.relative_to(ROOT)}\n")
        return 0
    diff = difflib.unified_diff(page.splitlines(True), fresh.splitlines(True), "docs/messages.md", "models")
    sys.stdout.writelines(diff)
    sys.stdout.write("(python scripts/docs_tables.py --write)\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
