"""Every command output pasted in docs/ is what the command prints today.

The pages mark each pasted output with the command that produces it (``<!-- output: … -->``, see
``scripts/docs_outputs.py``). This test runs each page's commands through the real
``orderledger`` in a scratch directory, page by page, and fails on the first page whose blocks
differ, showing the diff. ``python scripts/docs_outputs.py --write`` regenerates the blocks.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
COVERED = ("messages.md", "semantics.md", "audit.md", "how-to/audit.md", "reconciliation.md", "operations.md")
"""The pages whose outputs must be marked (every page is checked; these must have markers)."""


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_outputs", ROOT / "scripts" / "docs_outputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_outputs"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


docs_outputs = _script()


@pytest.mark.parametrize(
    "page", sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md"))
)
def test_pasted_outputs_equal_what_the_commands_print(page: str) -> None:
    # Given the page as committed, when its marked commands run in order in a scratch directory
    _, drifts, checked = docs_outputs.render(ROOT / "docs" / page)

    # Then the pages that show command output have their blocks marked, and none has drifted
    if page in COVERED:
        assert checked > 0, f"docs/{page} shows command output but has no <!-- output: … --> marker"
    assert not drifts, "\n".join(d.diff() for d in drifts) + "\n(python scripts/docs_outputs.py --write)"


def test_wall_clock_values_are_masked_and_nothing_else() -> None:
    # Given two ingest summaries that differ only in elapsed time and rate
    a = "13 lines: 9 applied; 9 events in 0.02 s (551 events/s)"
    b = "13 lines: 9 applied; 9 events in 0.10 s (1,204 events/s)"
    # Then they normalise to the same text, while a different count still differs
    assert docs_outputs.normalise(a) == docs_outputs.normalise(b)
    assert docs_outputs.normalise(a) != docs_outputs.normalise(b.replace("9 events", "8 events"))
    # And a recording stamp is masked, a venue time of the examples (2026-11-20..22) is not
    stamp = '{"received_at":"2026-11-23T10:55:01.003262Z","ts":"2026-11-20T10:00:00Z"}'
    assert docs_outputs.normalise(stamp, clock_fixed=True) == stamp  # exact once the clock is fixed
    assert docs_outputs.normalise(stamp) == '{"received_at":"<now>","ts":"2026-11-20T10:00:00Z"}'
