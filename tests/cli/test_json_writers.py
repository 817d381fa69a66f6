"""The lists' JSON is the standard library's text, written a page at a time: a JSON array is
``json.dumps(rows, indent=2, ensure_ascii=False)`` (made by orjson for rows with no floats, as
the lists' rows are: amounts and times are text; by the standard library for what orjson
refuses), JSON lines are ``json.dumps(row, ensure_ascii=False)`` a line each (the standard
library's encoder, made once), for any JSON-ready rows."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.infrastructure.cli import json_out, render

TEXT = st.lists(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
    | st.sampled_from(["\n", '"', "\\", ",\n  ", ",\n    ", ": ", "\x00", "\u2028", "\x7f"]),
    max_size=4,
).map("".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
ROWS = st.lists(st.dictionaries(TEXT, JSON, max_size=6) | JSON, max_size=8)
FLOATS = st.recursive(
    st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=8,
)


def written(write: Any, rows: list[Any]) -> tuple[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        answer = write(iter(rows))
    return out.getvalue(), answer


@settings(max_examples=400, deadline=None)
@given(rows=ROWS | st.lists(FLOATS, max_size=4))
def test_json_lines_are_the_standard_librarys(rows: list[Any]) -> None:
    text, count = written(render.json_lines, rows)
    assert text == "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    assert count == len(rows)


@settings(max_examples=400, deadline=None)
@given(rows=ROWS)
def test_a_json_array_is_the_standard_librarys(rows: list[Any]) -> None:
    text, _ = written(json_out.json_array, rows)
    assert text == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def test_pages_join_into_one_array_and_one_line_per_row(monkeypatch: Any) -> None:
    monkeypatch.setattr(render, "PAGE", 3)
    rows = [{"n": n, "tags": {"a": [n, {"b": "x,\n  y"}]}, "none": None} for n in range(10)]
    text, _ = written(json_out.json_array, rows)
    assert text == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    lines, count = written(render.json_lines, rows)
    assert lines == "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    assert count == 10


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    rows = [{"big": 2**80, "lone": "\ud800", 1: "key not text"}, {"a": 1}]
    lines, _ = written(render.json_lines, rows)
    assert lines == "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    text, _ = written(json_out.json_array, rows)
    assert text == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
