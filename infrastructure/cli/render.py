"""What people see: stored text shown verbatim and safely, numbers aligned, tables that fit.

The one place the command turns stored values into terminal text. Nothing here is ever handed
to rich's markup parser (tables and lines are plain text written to the stream), so an ID such
as ``a[/]`` or ``[red]`` is shown as it is stored; control characters, escape sequences and
bidi controls are shown escaped (``\\x1b``, ``\\u202e``), so stored text can neither drive the
terminal nor reorder what is around it.
"""

from __future__ import annotations

import json
import json.encoder as json_encoder
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from itertools import islice
from typing import Any, TextIO

from orderledger.domain.order_state import FIGURES
from orderledger.domain.values import PLAIN_NUMBER_FORM, escape_unsafe
from orderledger.infrastructure.application.reads.display import Precision
from orderledger.infrastructure.cli.json_out import PAGE, json_array
from orderledger.infrastructure.listing import ORDER_COLUMNS as LIST_COLUMNS
from orderledger.infrastructure.listing import ListColumn

_NUMBER = re.compile(PLAIN_NUMBER_FORM)

DEFAULT_WIDTH = 160
"""Width of a table written to a pipe or file when $COLUMNS does not say otherwise."""
MAX_PLACES = 8
"""Decimal places shown at most; a value with more is rounded and marked with …."""
WIDER = "--json or a wider terminal shows them"
"""How to see the columns a narrow table left out (COLUMNS=N sets the width too)."""
MIN_WRAP = 12
"""Narrowest a wrapping column (free text) is squeezed to before columns are dropped."""
MIN_LINES = 30
"""Narrowest a column of lines (an event's payload) is squeezed to before columns are dropped."""


def visible(value: Any) -> str:
    """A value as one line of safe text: unsafe characters shown as escapes, None as empty."""
    if value is None:
        return ""
    return escape_unsafe(str(value))


def width() -> int:
    """The width tables are fitted to: $COLUMNS, else the terminal's, else DEFAULT_WIDTH."""
    text = os.environ.get("COLUMNS", "")
    if text.isdigit() and int(text) >= 20:
        return int(text)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


@dataclass(frozen=True)
class Column:
    """One column: its header, how to read it from a row, and how to show it.

    ``kind``: ``text`` (never broken), ``number`` (right-aligned, one precision for the
    column, never broken), ``wrap`` (free text, wrapped to fit), ``lines`` (a list of lines,
    each wrapped to fit) or ``tail`` (the last column of a one-line-per-row stream: printed
    whole, past the width if need be). When the table is too wide, columns with the lowest
    ``keep`` go first.

    ``places`` (numbers): the decimal places shown at most, or which of the row's display
    places (``application.reads.display``: ``price``, ``quantity``, ``money``) bound them.
    """

    name: str
    get: Callable[[Any], Any]
    kind: str = "text"
    keep: int = 5
    places: int | str = MAX_PLACES

    def most(self, row: Any) -> int:
        """The decimal places this column shows of ``row``'s value at most."""
        if isinstance(self.places, int):
            return self.places
        precision = row.get("precision") if isinstance(row, dict) else None
        return MAX_PLACES if precision is None else int(precision[self.places])


def col(
    name: str, kind: str = "text", keep: int = 5, key: str | None = None, places: int | str = MAX_PLACES
) -> Column:
    """A column read from ``row[key or name]``."""
    field = key or name
    return Column(name, lambda row: row.get(field), kind, keep, places)


def _places(text: str) -> int | None:
    """Decimal places of a plain number, None when the text is not one."""
    if not _NUMBER.fullmatch(text):
        return None
    return len(text.split(".", 1)[1]) if "." in text else 0


def _number_cells(values: list[str], most: list[int]) -> list[str]:
    """Numbers of one column with one precision: the most any has, each at most its row's
    ``most`` (an instrument's tick, a currency's cents); a rounded value is marked with …."""
    own = [_places(text) for text in values]
    places = max((min(p, m) for p, m in zip(own, most, strict=True) if p is not None), default=0)
    return [
        text + " " if p is None else rounded(text, min(places, m))
        for text, p, m in zip(values, own, most, strict=True)
    ]


def rounded(text: str, places: int) -> str:
    """A plain number shown to ``places`` decimals (half to even), marked … when that changed it."""
    try:
        exact = Decimal(text)
        shown = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return text + " "
    return format(shown, "f") + ("…" if shown != exact else " ")


def at_most(text: str, places: int) -> str:
    """A figure standing alone (not in a column): as it is when it has at most ``places``
    decimals, else rounded to them and marked …; text that is not a plain number as it is."""
    own = _places(text)
    return text if own is None or own <= places else rounded(text, places).rstrip()


def _wrap(text: str, size: int) -> list[str]:
    """Free text in lines of at most ``size``, broken at spaces where it can be (inside a word
    only when the word is longer than a line): a person reads words, not fixed-size chunks.
    The space at each break is not shown (``--json`` has every value exactly). A ``lines``
    cell's own lines (the only line breaks a cell holds) are wrapped one by one."""
    lines = [
        part
        for line in text.split("\n")
        for part in textwrap.wrap(
            line, size, expand_tabs=False, replace_whitespace=False, break_on_hyphens=False
        )
        or [""]
    ]
    return lines or [""]


WRAPPING = ("wrap", "lines")


def _narrowest(column: Column, natural: int) -> int:
    """How narrow a column may be squeezed before columns are dropped: free text to MIN_WRAP,
    a list of lines to MIN_LINES (a ``key: value`` line broken every few characters is not
    readable), any other column not at all."""
    if column.kind == "wrap":
        return min(natural, MIN_WRAP)
    if column.kind == "lines":
        return min(natural, MIN_LINES)
    return natural


class Table:
    """A table written page by page: widths from what has been seen, columns fitted once."""

    def __init__(
        self, title: str | None, columns: list[Column], stream: TextIO | None = None, header: bool = True
    ) -> None:
        self.title = title
        self.header = header
        self.columns = columns
        self.stream = stream or sys.stdout
        self.shown: list[int] | None = None  # indexes of the columns that fit
        self.widths: list[int] = []
        self.rows = 0
        self.hidden: list[str] = []

    def write(self, rows: Iterable[Any], limit: int | None = None) -> int:
        """Write every row (at most ``limit``); returns how many were written."""
        source: Iterator[Any] = iter(rows)
        if limit is not None:
            source = islice(source, limit)
        first = True
        while True:
            page = list(islice(source, PAGE))
            if not page and not first:
                break
            self._page(page, first)
            first = False
            if len(page) < PAGE:
                break
        return self.rows

    def _cells(self, page: list[Any]) -> list[list[str]]:
        columns = [
            ["\n".join(map(visible, c.get(row))) for row in page]
            if c.kind == "lines"
            else [visible(c.get(row)) for row in page]
            for c in self.columns
        ]
        for index, column in enumerate(self.columns):
            if column.kind == "number":
                columns[index] = _number_cells(columns[index], [column.most(row) for row in page])
        return [list(row) for row in zip(*columns, strict=True)] if page else []

    def _fit(self, natural: list[int]) -> None:
        """Choose the columns and widths for the table's width: squeeze free text, then drop."""
        budget = width()
        shown = list(range(len(self.columns)))
        widths = list(natural)
        while True:
            total = sum(widths[i] + 2 for i in shown if self.columns[i].kind != "tail") - 2
            if total <= budget or len(shown) == 1:
                break
            wrapping = [i for i in shown if widths[i] > _narrowest(self.columns[i], natural[i])]
            if wrapping:
                # Squeeze the widest free text, but not below the next widest: the room is shared
                # (a long payload must not shrink to MIN_WRAP while a shorter column stays whole).
                wrapping.sort(key=lambda i: widths[i], reverse=True)
                widest = wrapping[0]
                runner_up = widths[wrapping[1]] if len(wrapping) > 1 else 0
                step = min(total - budget, max(1, widths[widest] - runner_up))
                widths[widest] = max(_narrowest(self.columns[widest], natural[widest]), widths[widest] - step)
                continue
            drop = min(reversed(shown), key=lambda i: self.columns[i].keep)
            shown.remove(drop)
        # The room a dropped column left goes back to the free text squeezed for it.
        room = budget - (sum(widths[i] + 2 for i in shown if self.columns[i].kind != "tail") - 2)
        for i in shown:
            if room > 0 and self.columns[i].kind in WRAPPING and widths[i] < natural[i]:
                grown = min(natural[i], widths[i] + room)
                room -= grown - widths[i]
                widths[i] = grown
        self.shown = shown
        self.widths = widths
        self.hidden = [self.columns[i].name for i in range(len(self.columns)) if i not in shown]

    def _page(self, page: list[Any], first: bool) -> None:
        cells = self._cells(page)
        natural = [len(c.name) for c in self.columns]
        for row in cells:
            for i, cell in enumerate(row):
                natural[i] = max(natural[i], *map(len, cell.split("\n")))
        out = self.stream
        if first:
            if self.title is not None:
                out.write(visible(self.title) + "\n")
            self._fit(natural)
            self._header()
        else:
            assert self.shown is not None
            grown = False
            for i in self.shown:
                if self.columns[i].kind not in (*WRAPPING, "tail") and natural[i] > self.widths[i]:
                    self.widths[i] = natural[i]
                    grown = True
            if grown:  # a wider value than any before: say so with a fresh header
                self._header()
        assert self.shown is not None
        lines = []
        for row in cells:
            parts = []
            for i in self.shown:
                if self.columns[i].kind in WRAPPING:
                    parts.append(_wrap(row[i], self.widths[i]))
                else:
                    parts.append([row[i]])
            height = max(len(p) for p in parts)
            for line in range(height):
                lines.append(
                    "  ".join(
                        self._pad(i, part[line] if line < len(part) else "")
                        for i, part in zip(self.shown, parts, strict=True)
                    ).rstrip()
                )
        if lines:
            out.write("\n".join(lines) + "\n")
        self.rows += len(page)

    def _pad(self, index: int, text: str) -> str:
        size = self.widths[index]
        if self.columns[index].kind == "tail":
            return text
        return text.rjust(size) if self.columns[index].kind == "number" else text.ljust(size)

    def _header(self) -> None:
        assert self.shown is not None
        if not self.header:  # a log-like stream: one line per row, nothing else (greppable)
            return
        names = "  ".join(self._pad(i, self.columns[i].name) for i in self.shown).rstrip()
        rule = "  ".join("-" * self.widths[i] for i in self.shown)
        self.stream.write(f"{names}\n{rule}\n")

    def hint(self) -> str | None:
        """One line naming the columns left out to fit, or None when all are shown."""
        if not self.hidden:
            return None
        count, budget = len(self.hidden), width()
        named = f"{count} column(s) left out to fit {budget}: {', '.join(self.hidden)}; {WIDER}"
        return named if len(named) <= budget else f"{count} column(s) left out to fit {budget}; {WIDER}"


def table(
    title: str | None,
    columns: list[Column],
    rows: Iterable[Any],
    *,
    limit: int | None = None,
    notes: TextIO | None = None,
    header: bool = True,
) -> int:
    """Write a table to stdout and its hint (if any) to ``notes`` (stderr); returns the row count."""
    writer = Table(title, columns, header=header)
    count = writer.write(rows, limit)
    hint = writer.hint()
    if hint is not None:
        (notes or sys.stderr).write(hint + "\n")
    return count


def pairs(data: dict[str, Any], row: dict[str, Any] | None = None) -> str:
    """A mapping as ``value key`` pairs (fees: ``0.1 USD 0.02 BTC``), each amount to at most its
    currency's places when ``row`` has them (its ``precision``), marked … when rounded."""
    places = ((row or {}).get("precision") or {}).get("currencies") or {}
    shown = []
    for currency, amount in data.items():
        text = visible(amount)
        most = places.get(currency)
        shown.append(f"{text if most is None else at_most(text, most)} {currency}")
    return " ".join(shown)


def fees_of(key: str) -> Callable[[dict[str, Any]], str]:
    """What reads a row's per-currency amounts (``fees``, ``funding``) as rounded pairs."""
    return lambda row: pairs(row[key], row)


# ---------------------------------------------------------------------- lines, JSON and tables


def say(text: str = "") -> None:
    """One or more lines for people on stdout; stored text in them is shown safely."""
    sys.stdout.write("\n".join(visible(line) for line in text.split("\n")) + "\n")


def warn(text: str) -> None:
    """One line on stderr, shown safely."""
    sys.stderr.write(visible(text) + "\n")
    sys.stderr.flush()


def _line_encoder() -> Callable[[Any], str]:
    """What ``json.dumps(row, ensure_ascii=False)`` does, with its encoder made once: the
    standard library's own C encoder, as ``json.dumps`` makes it afresh for each call (a
    tenth of a long list's time), without the check for a row holding itself (JSON-ready rows
    hold no cycles)."""
    make = getattr(json_encoder, "c_make_encoder", None)  # typeshed does not declare it
    if make is None:  # an interpreter without the C encoder
        return lambda row: json.dumps(row, ensure_ascii=False)
    shape = json.JSONEncoder(ensure_ascii=False)
    encode = make(
        None,
        shape.default,
        json_encoder.encode_basestring,
        None,
        shape.key_separator,
        shape.item_separator,
        shape.sort_keys,
        shape.skipkeys,
        shape.allow_nan,
    )
    return lambda row: "".join(encode(row, 0))


one_line = _line_encoder()
"""A row as one line of JSON: the text of ``json.dumps(row, ensure_ascii=False)``."""


def json_lines(rows: Iterable[Any]) -> int:
    """One JSON document per line, written a page of rows at a time; returns how many."""
    count = 0
    source = iter(rows)
    write = sys.stdout.write
    while page := list(islice(source, PAGE)):
        write("\n".join(map(one_line, page)) + "\n")
        count += len(page)
    return count


def text_table(title: str, columns: list[str], rows: list[list[Any]], wrap: tuple[str, ...] = ()) -> None:
    """A small table of text columns (rows given as lists in column order).

    Columns named in ``wrap`` are free text: wrapped to fit and kept over the others, which are
    dropped first (a reconciliation report without its ``detail`` says nothing).
    """
    table(
        title,
        [
            Column(name, _item(i), "wrap", keep=8) if name in wrap else Column(name, _item(i))
            for i, name in enumerate(columns)
        ],
        rows,
    )


def _item(index: int) -> Callable[[Any], Any]:
    return lambda row: row[index]


def limited(count: int, limit: int | None, what: str) -> None:
    """Say on stderr when --limit cut a table short (more rows may match)."""
    if limit is not None and count == limit:
        warn(f"showing the first {count} {what} (--limit {limit}); --sort and the filters choose which")


def show(
    rows: Iterable[Any],
    limit: int | None,
    as_json: bool,
    what: str,
    columns: list[Column],
    precision: Precision | None = None,
) -> None:
    """A query's typed rows as a JSON array (exact) or a table (figures rounded to ``precision``),
    streamed (never all held at once); ``rows`` already stops at ``limit``."""
    if as_json:
        json_array(row.to_json() for row in rows)
        return
    add = (precision or Precision()).add
    count = table(what, columns, (add(row.to_json()) for row in rows))
    say(f"{count} {what}")
    limited(count, limit, what)


# ---------------------------------------------------------------------- what each command shows


def order_table(data: dict[str, Any], precision: dict[str, Any] | None = None) -> None:
    """One order, a field per line; its figures rounded to ``precision`` (its instrument's)."""
    rows = []
    for key, value in data.items():
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False) if value else ""
        elif precision and key in FIGURES and value is not None:
            value = at_most(str(value), precision[FIGURES[key]])
        rows.append((key, value))
    table(None, [Column("field", lambda r: r[0]), Column("value", lambda r: r[1], "wrap")], rows)


def _message_ref(row: dict[str, Any]) -> str:
    message = row["message"]
    return "" if message is None else f"#{message['message_id']} {message['origin']}:{message['line'] or ''}"


def payload_lines(payload: dict[str, Any] | None) -> list[str]:
    """An event's payload as ``key: value`` lines (text as it is, anything else as JSON), a
    line per field: read down the column, not along one long line of escaped JSON."""
    return [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in (payload or {}).items()
    ]


HISTORY_COLUMNS = [
    col("v", "number", 9, key="version"),
    col("type", keep=9),
    col("ts_event", keep=6),
    col("ts_recorded", keep=3),
    col("source", keep=2),
    Column("message", _message_ref, "wrap", keep=4),
    Column("payload", lambda r: payload_lines(r["payload"]), "lines", keep=8),
]


def _flag(name: str) -> Callable[[dict[str, Any]], str]:
    """A flag's cell: ``yes``, ``no``, or empty when it is not stated."""
    return lambda row: {True: "yes", False: "no"}.get(row[name], "")


def _list_column(column: ListColumn) -> Column:
    """A column of a list declared for both shells (``listing.ORDER_COLUMNS``), under its
    heading, shown as it says: a list as its items, a flag as yes or no, a figure to the row's
    places."""
    field, heading, keep = column.field, column.heading, column.keep
    if column.shown == "list":
        return Column(heading, lambda r: ", ".join(r[field]), "wrap", keep)
    if column.shown == "flag":
        return Column(heading, _flag(field), keep=keep)
    if column.places is not None:
        return col(heading, "number", keep, key=field, places=column.places)
    return col(heading, keep=keep, key=field)


# The keep ranks say what a person needs at 80 columns (docs/semantics.md, "Figures for people"):
# an order keeps its account and venue, a trade its order, trade ID and fee, a position with a
# mark its unrealized P&L. An order's are declared with its fields (``domain.order_state.Listed``).
ORDER_COLUMNS = [_list_column(column) for column in LIST_COLUMNS]

TRADE_COLUMNS = [
    col("ts_event", keep=4),
    col("account", keep=3),
    col("venue", keep=3),
    col("instrument", keep=8),
    col("side", keep=7),
    col("client_order_id", keep=9),
    col("trade_id", keep=9),
    col("quantity", "number", 8, places="quantity"),
    col("price", "number", 8, places="price"),
    col("fee", "number", 9, places="money"),
    col("fee-ccy", keep=9, key="fee_currency"),
    Column("late", lambda r: "late" if r["late"] else "", keep=2),
]

POSITION_COLUMNS = [
    col("account", keep=9),
    col("venue", keep=8),
    col("instrument", keep=9),
    col("quantity", "number", 9, places="quantity"),
    col("average_price", "number", 7, places="price"),
    col("pnl-ccy", keep=9, key="pnl_currency"),
    col("realized_pnl", "number", places="money", keep=8),
    col("realized_pnl_net", "number", places="money", keep=4),
    col("unrealized_pnl", "number", places="money", keep=9),
    Column("fees", fees_of("fees"), keep=3),
]
FUNDING_COLUMN = Column("funding", fees_of("funding"), keep=3)
"""Shown when some row has cash flows (a ledger without them keeps its narrower table)."""


def fee_rates(row: dict[str, Any]) -> str:
    """Fees in other currencies: each valued one's rate and source (``BNB@600 mark``), and the
    ones without a rate (``BNB: no rate``)."""
    valued = [f"{c}@{v['rate']} {v['source']}" for c, v in row.get("fee_values", {}).items()]
    return " ".join([*valued, *(f"{c}: no rate" for c in row.get("unvalued_fees", ()))])


FEE_RATES_COLUMN = Column("fee_rates", fee_rates, keep=3)
"""Shown when some row paid fees in another currency than its P&L."""


def _with_funding(columns: list[Column], rows: list[dict[str, Any]]) -> list[Column]:
    """The columns, with funding and fee rates when some row has them (a ledger without them
    keeps its narrower table)."""
    if any(r.get("funding") for r in rows):
        columns = [*columns, FUNDING_COLUMN]
    if any(r.get("fee_values") or r.get("unvalued_fees") for r in rows):
        columns = [*columns, FEE_RATES_COLUMN]
    return columns


def positions_table(rows: list[dict[str, Any]]) -> None:
    """Positions with their P&L (in ``pnl-ccy``); unrealized P&L only when some row has a mark."""
    columns = _with_funding(POSITION_COLUMNS, rows)
    if not any(r.get("unrealized_pnl") is not None for r in rows):
        columns = [c for c in columns if c.name != "unrealized_pnl"]
    table(f"positions ({len(rows)})", columns, rows)


EXPOSURE_COLUMNS = [
    col("account", keep=9),
    col("venue", keep=8),
    col("underlying", keep=9),
    col("net", "number", 9, key="net_units"),
    Column("net_value", fees_of("net_value"), keep=7),
    Column("gross_value", fees_of("gross_value"), keep=7),
    col("options", "number", 3, key="option_units"),
    col("worst-long", "number", 8, key="worst_long_units"),
    col("worst-short", "number", 8, key="worst_short_units"),
    Column("unmapped", lambda row: " ".join(row["unmapped"]), keep=6),
    Column("unpriced", lambda row: " ".join(row["unpriced"]), keep=6),
]
IN_CURRENCY_COLUMNS = [
    col("net_in", "number", 7),
    col("gross_in", "number", 7),
    Column("unconverted", lambda row: " ".join(row["unconverted"]), keep=6),
]
"""Exposure per group and underlying (``--json`` has every figure: the open orders' units and
the worst cases' values too)."""


def exposure_table(rows: list[dict[str, Any]], by: tuple[str, ...], currency: str | None = None) -> None:
    """Exposure per group and underlying: the grouping's columns, then the figures (with
    ``currency``, net and gross in it after the values); the unmapped, unpriced and unconverted
    legs only when some row has one."""
    columns = [c for c in EXPOSURE_COLUMNS if c.name not in ("account", "venue") or c.name in by]
    if currency is not None:
        at = [c.name for c in columns].index("gross_value") + 1
        columns[at:at] = IN_CURRENCY_COLUMNS
    for name in ("unmapped", "unpriced", "unconverted"):
        if not any(r.get(name) for r in rows):
            columns = [c for c in columns if c.name != name]
    title = f"exposure ({len(rows)})" + ("" if currency is None else f" in {currency}")
    table(title, columns, rows)


def lots_table(rows: list[dict[str, Any]], closed: bool) -> None:
    """Open lots, or closed lots with what closed them."""
    columns = [
        col("instrument", keep=9),
        col("side", keep=7),
        col("quantity", "number", 9, places="quantity"),
        col("opened", keep=8, key="open_trade_id"),
        col("open_price", "number", 7, places="price"),
        col("pnl-ccy", keep=8, key="pnl_currency"),
        col("cost", "number", places="money", keep=6),
    ]
    if closed:
        columns += [
            col("closed", keep=8, key="close_trade_id"),
            col("close_price", "number", 7, places="price"),
            col("realized_pnl", "number", places="money", keep=8),
        ]
    columns += [
        Column("fees", fees_of("fees"), keep=3),
        col("account", keep=4),
        col("venue", keep=4),
    ]
    table(f"{'closed' if closed else 'open'} lots ({len(rows)})", columns, rows)


def pnl_table(rows: list[dict[str, Any]], by: str) -> None:
    """Realized P&L per group (the first column is the grouping)."""
    key = next(iter(rows[0])) if rows else by
    columns = [
        col(key, keep=9),
        col("quote", keep=8, key="quote_currency"),
        col("realized_pnl", "number", places="money", keep=9),
        col("realized_pnl_net", "number", places="money", keep=6),
        Column("fees", fees_of("fees"), keep=5),
    ]
    table(f"realized P&L by {by}", [*_with_funding(columns, rows), col("fills", "number", 7)], rows)


def daily_pnl_table(rows: list[dict[str, Any]], by: str) -> None:
    """Daily P&L per group (the second column is the grouping)."""
    key = list(rows[0])[1] if rows else by
    table(
        f"daily P&L by {by}",
        [
            col("day", keep=9),
            col(key, keep=9),
            col("pnl-ccy", keep=8, key="pnl_currency"),
            col("realized_pnl", "number", places="money", keep=9),
            Column("fees", fees_of("fees"), keep=6),
            Column("funding", fees_of("funding"), keep=6),
            col("realized_pnl_net", "number", places="money", keep=7),
            col("unrealized_pnl", "number", places="money", keep=8),
            *([FEE_RATES_COLUMN] if any(r.get("fee_values") or r.get("unvalued_fees") for r in rows) else []),
        ],
        rows,
    )


MESSAGE_COLUMNS = [
    col("id", "number", 9, key="message_id"),
    col("received_at", keep=6),
    Column("origin:line", lambda r: f"{r['origin']}:{r['line'] or ''}", keep=5),
    col("outcome", keep=9),
    col("order", keep=7, key="client_order_id"),
    col("events", "number", 2),
    col("reason", "wrap", 8),
    Column("raw", lambda r: r["raw"][:120], "wrap", 4),
]

EVENT_COLUMNS = [
    col("position", "number", 9),
    col("ts_recorded", keep=6),
    col("type", keep=9),
    col("client_order_id", keep=8),
    Column("where", lambda r: f"{r['account']}/{r['venue']}/{r['instrument']}", keep=5),
    Column(
        "payload", lambda r: json.dumps(r["payload"], ensure_ascii=False, separators=(",", ":")), "tail", 7
    ),
]

PARENT_COLUMNS = [
    col("parent_id", keep=9),
    col("orders", "number", 8, places=0),
    col("open", "number", 7, key="open_orders", places=0),
    Column("accounts", lambda r: ", ".join(r["accounts"]), "wrap", 4),
    Column("instruments", lambda r: ", ".join(r["instruments"]), "wrap", 5),
    col("created_at", keep=3),
    col("updated_at", keep=2),
]


INSTRUMENT_COLUMNS = [
    "venue",
    "instrument",
    "version",
    "kind",
    "contract_size",
    "settlement",
    "settle_currency",
    "base_currency",
    "quote_currency",
    "expiry",
    "strike",
    "option_type",
]
