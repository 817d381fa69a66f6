"""docs/python.md runs: its ``python`` blocks, in order, as one session in an empty directory.

A block that raises (an ``assert`` in it, or an API that changed under it) fails this test with
the block's number and first line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[str]:
    """The code of every fenced ``python`` block, in order."""
    return [m.group(1) for m in BLOCK.finditer(text)]


def test_the_python_api_page_has_examples() -> None:
    blocks = python_blocks(DOC.read_text("utf-8"))
    assert len(blocks) >= 6
    assert any("AsyncOrderLedger" in b for b in blocks)
    assert any("placing(" in b for b in blocks)
    assert any("follow(" in b for b in blocks)


def test_every_example_on_the_python_api_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDERLEDGER_DATABASE_URL", raising=False)
    session: dict[str, object] = {"__name__": "docs_python"}
    for number, code in enumerate(python_blocks(DOC.read_text("utf-8")), start=1):
        try:
            exec(compile(code, f"docs/python.md block {number}", "exec"), session)
        except Exception as error:  # pragma: no cover - the failure names the block
            first = code.strip().splitlines()[0]
            pytest.fail(f"docs/python.md block {number} ({first!r}) raised {type(error).__name__}: {error}")
    assert (tmp_path / "bot.db").exists()
