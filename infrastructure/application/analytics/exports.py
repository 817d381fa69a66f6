"""Exports: a table of the ledger written whole to a file or a stream, as csv, jsonl or parquet.

A file is written beside its target and renamed over it, so a failed export leaves no half
file; an export never writes over the ledger's own database files, and over another file only
when asked to (``force``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.audit.search import export_rows
from orderledger.infrastructure.storage.db import parse_url

TABLES = ("trades", "orders", "events", "lots", "closed-lots")
"""What can be exported."""
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
"""How it can be written: the export formats (the input formats are the venue registry's)."""
FROM_VIEWS = ("trades", "orders")
"""The tables read from the views (which may lag the log); the others are folded from the log."""
_SQLITE_FILES = ("", "-wal", "-shm", "-journal")


def check_export(table: str, fmt: str, raw: bool) -> None:
    """Refuse an export that cannot be written, before anything is read or opened."""
    if table not in TABLES:
        raise InvalidInputError(
            f"export {', '.join(TABLES[:-1])} or {TABLES[-1]}, not {table!r}", field="table"
        )
    if fmt not in EXPORT_FORMATS:
        raise InvalidInputError(
            f"`format` must be {', '.join(EXPORT_FORMATS[:-1])} or {EXPORT_FORMATS[-1]}, not {fmt!r}",
            field="format",
        )
    if raw and fmt != "csv":
        raise InvalidInputError(
            f"`raw` goes with `format` csv ({fmt} is always written as stored)", field="raw"
        )


def write_export(
    rows: Iterable[dict[str, Any]],
    out: str | Path | io.BufferedIOBase | io.RawIOBase,
    *,
    fmt: str,
    raw: bool,
    force: bool,
    ledger_url: str,
) -> int:
    """Write ``rows`` to ``out`` (a path, or a binary stream); returns how many were written."""
    if not isinstance(out, str | Path):
        return export_rows(rows, fmt, cast(BinaryIO, out), raw=raw)
    target = _target(Path(out), ledger_url, force)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        count = export_rows(rows, fmt, partial, raw=raw)
        os.replace(partial, target)
    except OSError as error:
        raise InvalidInputError(
            f"cannot write {str(out)!r}: {error.strerror or error}", field="out"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return count


def _ledger_files(url: str) -> Iterator[str]:
    parsed = parse_url(url)
    if parsed.dialect == "sqlite" and not parsed.is_memory:
        for suffix in _SQLITE_FILES:
            yield f"{parsed.path}{suffix}"


def _target(path: Path, url: str, force: bool) -> Path:
    """Where an export may write: never over the ledger's own files; over another file only with ``force``."""
    for ledger_file in _ledger_files(url):
        if os.path.exists(ledger_file) and os.path.exists(path) and os.path.samefile(ledger_file, path):
            raise InvalidInputError(
                f"`out` {str(path)!r} is the ledger's own database: refusing to write over it", field="out"
            )
    if os.path.isdir(path):
        raise InvalidInputError(f"`out` {str(path)!r} is a directory", field="out")
    if os.path.exists(path) and not force:
        raise InvalidInputError(f"`out` {str(path)!r} exists: give `force` to replace it", field="out")
    return path
