"""JSON on stdout, as every command writes it: one indented document, or an array written a page
of rows at a time. The standard library and orjson only, so that the commands answered before
the command line is imported (``cli.quick``) write the very same text as the others."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from itertools import islice
from typing import Any

import orjson

PAGE = 1_000
"""Rows read, measured and written at a time: a large result is never held whole."""


def indented(data: Any) -> str:
    """JSON-ready data as indented JSON text: what ``json.dumps(data, indent=2,
    ensure_ascii=False)`` writes, made by orjson (the same text, in a fraction of the time) unless
    the data holds what orjson refuses and the standard library writes (an integer past 64 bits,
    a lone surrogate, a key that is not a string)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data, indent=2, ensure_ascii=False)


def print_json(data: Any) -> None:
    """One JSON document, indented."""
    sys.stdout.write(indented(data) + "\n")


def json_array(rows: Iterable[Any]) -> None:
    """A JSON array written a page of rows at a time (the same text as
    ``print_json(list(rows))``): each page is one indented array, written without its brackets."""
    write = sys.stdout.write
    source = iter(rows)
    first = True
    while page := list(islice(source, PAGE)):
        text = indented(page)  # "[\n  row,\n  row\n]"
        write(("[" if first else ",") + text[1:-2])
        first = False
    write("[]\n" if first else "\n]\n")
