"""The repository is self-contained: every file the code, the tests and the docs name exists in it.

A reference to a document (``docs/NAME.md``, ``NAME.md`` in capitals such as ``README.md``) that the
repository does not hold leads a reader nowhere: the facts the product relies on live in docs/,
with their public sources (docs/venue-facts.md for the venues' connections).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = re.compile(r"(?<![\w/.-])docs/([\w./-]+\.md)")
CAPITAL_DOC = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[A-Z][A-Z_]+\.md)\b")


def _tracked() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs the git checkout")
    wanted = (".py", ".md", ".toml", ".js", ".yml", ".cfg")
    return [ROOT / name for name in listed.stdout.splitlines() if name.endswith(wanted)]


def test_every_document_named_in_the_repository_is_in_it() -> None:
    missing = []
    for path in _tracked():
        if not path.is_file() or path.name == Path(__file__).name:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for name in DOC_PATH.findall(line):
                if not (ROOT / "docs" / name).is_file():
                    missing.append(f"{path.relative_to(ROOT)}:{number}: docs/{name}")
            for name in CAPITAL_DOC.findall(line):
                if not (ROOT / name).is_file() and not (path.parent / name).is_file():
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert missing == []


def test_nothing_points_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _tracked()
        if path.is_file() and path.name != Path(__file__).name
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if "../shared/" in line or "shared/design/" in line
    ]
    assert outside == []
