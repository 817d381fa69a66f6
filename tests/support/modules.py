"""The library's own modules, by dotted name, for the tests that read its source as a whole
(``tests/unit/test_import_time.py``, ``test_module_boundaries.py``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("domain", "projections", "infrastructure")


def project_modules() -> dict[str, Path]:
    """``orderledger.x.y`` → its file, for every module and package of the mapped folders."""
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found["orderledger." + ".".join(parts)] = path
    return found
