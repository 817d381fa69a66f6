"""Write ``infrastructure/cli/quick_table.py``: what the command's quick answers (``cli.quick``)
know of the command line and of the stored views, derived from their one declaration each.

Usage (from the repository root, with the project's Python)::

    python scripts/quick_table.py           # exit 1 and show the diff when the table is stale
    python scripts/quick_table.py --write   # rewrite the table

The quick answers run before typer, pydantic and the ledger are imported, so they cannot read
the typer definitions, the orders' declaration (``domain.order_state``) or the projections: this
script reads them and writes what the answers need as literals. ``tests/cli/test_quick.py``
fails while the table differs from what this script would write.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from pathlib import Path
from pprint import pformat
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import typer  # noqa: E402

from orderledger.domain.order_state import SHOWN  # noqa: E402
from orderledger.infrastructure.cli.app import app  # noqa: E402
from orderledger.infrastructure.listing import parse_sort  # noqa: E402
from orderledger.infrastructure.results.orders import OrderRow  # noqa: E402
from orderledger.infrastructure.storage import codecs  # noqa: E402
from orderledger.infrastructure.storage.schema import SCHEMA_VERSION  # noqa: E402
from orderledger.infrastructure.storage.views import SETTLES  # noqa: E402
from orderledger.projections import PROJECTIONS  # noqa: E402
from orderledger.projections import orders as orders_view  # noqa: E402

TABLE = ROOT / "infrastructure" / "cli" / "quick_table.py"

FORMS: dict[Any, str] = {
    bool: "bool",
    SHOWN["post_only"].read: "bool",  # (None stays None: the renderer passes NULL through)
    orders_view._loads: "json",
    orders_view._loads_or_none: "json",
    orjson.loads: "json",
}
"""What each converter the stored renderer applies (``codecs.row_renderer``) is called here."""


def flags(command: str, names: dict[str, str]) -> dict[str, str]:
    """The flags of ``command`` typer declares for the parameters ``names`` (option → parameter)."""
    group: Any = typer.main.get_command(app)
    declared = {param.name: param for param in group.commands[command].params}
    found = {}
    for name, role in names.items():
        param = declared[name]
        if not getattr(param, "is_flag", False) or len(param.opts) != 1:
            raise SystemExit(f"{command}: {name} is not one flag any more: teach cli.quick its new form")
        found[param.opts[0]] = role
    return found


def shown_forms() -> tuple[tuple[str, str | None], ...]:
    """Each field an order row shows in JSON, in order, with what turns its stored value into
    its JSON form (None: nothing)."""
    names, readers = codecs._row_readers(OrderRow)
    forms = []
    for i, name in enumerate(names):
        decoder = orders_view.SHOWN_DECODERS[i] if i < len(orders_view.SHOWN_DECODERS) else None
        chain = {
            FORMS.get(c, "?") for c in (decoder, codecs._json_form(readers[i], decoder)) if c is not None
        }
        if "?" in chain or len(chain) > 1 or codecs._json_form(readers[i], decoder) is codecs._NO_FORM:
            raise SystemExit(f"orders: the JSON form of {name} is new: teach cli.quick its form")
        forms.append((name, next(iter(chain), None)))
    if tuple(name for name, _ in forms) != orders_view.SHOWN_COLUMNS:
        raise SystemExit("orders: a row shows other fields than the view's snapshot columns")
    return tuple(forms)


def table() -> dict[str, Any]:
    """What the quick answers know, by name."""
    group: Any = typer.main.get_command(app)
    if [param.opts for param in group.params] != [["--db"]]:
        raise SystemExit("the global options are not `--db` alone: teach cli.quick")
    return {
        "ORDERS_FLAGS": flags("orders", {"open_only": "open", "as_json": "json"}),
        "SCHEMA_VERSION": int(SCHEMA_VERSION),
        "VIEW_VERSIONS": {p.name: p.version for p in PROJECTIONS},
        "VIEW_COLUMNS": {s.name: tuple(c.name for c in s.columns) for p in PROJECTIONS for s in p.tables},
        "UNFINISHED": tuple(p.unfinished for p in PROJECTIONS if p.unfinished is not None),
        "SETTLES": SETTLES,
        "ORDERS_TABLE": orders_view.ORDERS_TABLE.name,
        "OPEN_ONLY": orders_view.OPEN_ONLY,
        "OPEN_SHOWN": orders_view.OPEN_SHOWN,
        "ORDERS_SORT": parse_sort("orders", None, newest=False).keys("sqlite"),
        "ORDER_FIELDS": shown_forms(),
    }


def rendered() -> str:
    """The text of ``quick_table.py``."""
    lines = [
        '"""What the quick answers (``cli.quick``) know of the command line and the stored views.',
        "",
        "Written by ``scripts/quick_table.py`` from the typer definitions, the orders' declaration and",
        'the projections; never edited by hand (``tests/cli/test_quick.py`` checks it is current)."""',
        "",
        "from __future__ import annotations",
    ]
    for name, value in table().items():
        lines += ["", f"{name} = {pformat(value, width=100, sort_dicts=False)}"]
    # As ruff formats it, so that the lint passes the file as written.
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TABLE), "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table")
    args = parser.parse_args(argv)
    fresh = rendered()
    current = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
    if fresh == current:
        return 0
    if args.write:
        TABLE.write_text(fresh, encoding="utf-8")
        sys.stdout.write(f"rewrote {TABLE.relative_to(ROOT)}\n")
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(current.splitlines(True), fresh.splitlines(True), "table", "fresh")
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
