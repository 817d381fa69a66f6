"""Write ``.layout/orderledger``: the installed package's tree, for the tools that read files, not imports.

``pyproject.toml`` maps ``domain/``, ``projections/`` and ``infrastructure/`` into ``orderledger``
with setuptools' ``package-dir``. Python finds them through the editable install's import hook;
mypy and import-linter (grimp) never run import hooks: they look for ``orderledger/domain/`` on
disk. This script builds that tree, git-ignored, from the same ``package-dir`` table: one link
per mapped folder and per file of ``orderledger/``, so both tools read the checkout's own files
(an error names the real line; nothing is copied that could go stale). It is rebuilt from
scratch on every run (``scripts/lint`` runs it first), so a new folder or file in the table
needs nothing else. On Windows, creating links needs developer mode.

Usage: python scripts/layout.py
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / ".layout"


def package_dir() -> dict[str, str]:
    """The ``[tool.setuptools.package-dir]`` table: package name → folder in the checkout."""
    table: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    return table


def remove(path: Path) -> None:
    """Remove the layout's links and folders; never follows a link into the checkout."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        for child in path.iterdir():
            remove(child)
        path.rmdir()


def link(target: Path, at: Path) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, at.parent), at, target_is_directory=target.is_dir())


def build() -> None:
    remove(LAYOUT)
    for name, folder in package_dir().items():
        at = LAYOUT.joinpath(*name.split("."))
        source = ROOT / folder
        if at == LAYOUT / name:  # the top-level package: its own files, beside the mapped folders
            at.mkdir(parents=True, exist_ok=True)
            for entry in source.iterdir():
                if entry.name != "__pycache__":
                    link(entry, at / entry.name)
        else:
            link(source, at)


if __name__ == "__main__":
    build()
