"""Adding an optional field to an order is two hand edits in two source files, adding a
conditional term one, and the field reaches every output.

The test copies the package, makes in the copy the two edits docs/development.md ("Adding a
field to an order") gives for an optional ``min_quantity`` (a figure a repeat may add), and
runs the copy in its own processes: a request stating the field is parsed, stored on its event
and shown by the view, ``OrderRow``, ``orders --json``, the HTTP JSON, the CLI's orders table
and the lake; a repeat of an order requested without it adds it (``OrderDetailsAdded``), and a
repeat stating another value is refused with a one-line reason, nothing stored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.cli import ROOT

EDITS: tuple[tuple[str, str, str], ...] = (
    # 1. The request's field, with its markers: its message rule and meaning, its repeat rule
    #    (one a repeat may add: OrderDetailsAdded carries it, stored only when given)
    (
        "domain/events.py",
        '    than let it take); None: the request did not say."""\n',
        "    min_quantity: Annotated[\n"
        "        DecimalStr | None, WHEN_GIVEN, Says(Check.FIGURE, 'the least fill'), Repeat.MAY_ADD\n"
        "    ] = None\n",
    ),
    # 2. What the order shows of it: its kind, taken from the request, a quantity, a column
    (
        "domain/order_state.py",
        '    did not say adds it, one that says otherwise is an anomaly (``Order.request_again``)."""\n',
        "    min_quantity: Annotated[\n"
        '        Decimal | None, OPTIONAL_DECIMAL, REQUESTED, QUANTITY, Listed(1, "min")\n'
        "    ]\n",
    ),
)
"""Each hand edit: the file, the line it goes after, the line."""

CHECK = r"""
import json, sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from orderledger.infrastructure.application.analytics.lake import lake_orders
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.http.app import create_app
from orderledger.infrastructure.http.service import LedgerService
from orderledger.infrastructure.messages.models import message_from_line
from orderledger.infrastructure.results.orders import OrderRow

url, work = sys.argv[1], Path(sys.argv[2])
request = {"type": "request", "client_order_id": "c-1", "account": "alpha", "venue": "binance",
           "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": "2",
           "price": "64010", "ts": "2026-11-20T10:00:00Z"}
lines = [
    {**request, "min_quantity": "0.5"},
    {**request, "client_order_id": "c-2"},
    {**request, "client_order_id": "c-2", "min_quantity": "0.25", "ts": "2026-11-20T10:00:01Z"},
    {**request, "client_order_id": "c-2", "min_quantity": "0.75", "ts": "2026-11-20T10:00:02Z"},
]
out = {"parsed": str(message_from_line(json.dumps(lines[0]).encode()).min_quantity)}
with OrderLedger(url) as ledger:
    results = [ledger.record(line) for line in lines]
    out["outcomes"] = [(r.outcome.value, r.reason) for r in results]
    out["events"] = [(type(e).__name__, str(e.min_quantity)) for r in results for e in r.events]
    with ledger.db.read() as tx:
        rows = tx.all("SELECT state FROM events ORDER BY notification_id")
    stored = [json.loads(bytes(row[0])) for row in rows]
    out["stored"] = [state.get("min_quantity", "absent") for state in stored]
    out["view"] = [str(row.min_quantity) for row in ledger.orders()]
    out["row_field"] = "min_quantity" in OrderRow.__dataclass_fields__
    out["past"] = [str(row.min_quantity) for row in ledger.orders(as_of=datetime.now(UTC))]
    with TestClient(create_app(LedgerService(ledger)), base_url="http://127.0.0.1") as client:
        out["http"] = [row["min_quantity"] for row in client.get("/orders").json()]
    ledger.analytics.export_lake(work / "lake")
con = duckdb.connect()
sql = lake_orders(work / "lake")
out["lake"] = con.execute(f"SELECT min_quantity FROM ({sql}) ORDER BY client_order_id").fetchall()
out["lake"] = [format(v.normalize(), "f") for (v,) in out["lake"]]  # a DECIMAL of the lake's scale
con.close()
print(json.dumps(out))
"""


TERM_EDITS: tuple[tuple[str, str, str], ...] = (
    # 1. The term, with its markers (OrderTerms: the order holds its terms as one value)
    (
        "domain/order_terms.py",
        '            "client order ID of the order whose fill activates this one'
        " (an OTO's or bracket's parent)\",\n"
        "        ),\n"
        "        Repeat.MUST_MATCH,\n"
        "    ] = None\n",
        "    peg_offset: Annotated[\n"
        "        DecimalStr | None, Says(Check.FIGURE, 'a pegged order\\'s distance'), Repeat.MAY_ADD\n"
        "    ] = None\n",
    ),
    # 2. Its typed read, for the type checker (the property itself is made of the declaration)
    ("domain/order_terms.py", "        canceled_by: str | None\n", "        peg_offset: Decimal | None\n"),
)
"""Adding a conditional term: the hand edits, in one source file."""

TERM_CHECK = (
    CHECK.split("url, work = sys.argv[1], Path(sys.argv[2])")[0]
    + r"""
url, work = sys.argv[1], Path(sys.argv[2])
request = {"type": "request", "client_order_id": "c-1", "account": "alpha", "venue": "binance",
           "instrument": "BTC-USDT", "side": "buy", "order_type": "limit", "quantity": "2",
           "price": "64010", "ts": "2026-11-20T10:00:00Z"}
lines = [
    {**request, "peg_offset": "0.5"},
    {**request, "client_order_id": "c-2"},
    {**request, "client_order_id": "c-2", "peg_offset": "0.25", "ts": "2026-11-20T10:00:01Z"},
    {**request, "client_order_id": "c-2", "peg_offset": "0.75", "ts": "2026-11-20T10:00:02Z"},
]
out = {"parsed": str(message_from_line(json.dumps(lines[0]).encode()).peg_offset)}
with OrderLedger(url) as ledger:
    results = [ledger.record(line) for line in lines]
    out["outcomes"] = [(r.outcome.value, r.reason) for r in results]
    events = [e for r in results for e in r.events]
    out["events"] = [(type(e).__name__, e.terms and str(e.terms.peg_offset)) for e in events]
    with ledger.db.read() as tx:
        rows = tx.all("SELECT state FROM events ORDER BY notification_id")
    out["stored"] = [json.loads(bytes(row[0])).get("terms", "absent") for row in rows]
    out["view"] = [row.terms for row in ledger.orders()]
    out["typed"] = [str(row.peg_offset) for row in ledger.orders()]
    out["past"] = [row.terms for row in ledger.orders(as_of=datetime.now(UTC))]
    with TestClient(create_app(LedgerService(ledger)), base_url="http://127.0.0.1") as client:
        out["http"] = [row["terms"] for row in client.get("/orders").json()]
    ledger.analytics.export_lake(work / "lake")
con = duckdb.connect()
sql = lake_orders(work / "lake")
terms = con.execute(f"SELECT terms FROM ({sql}) ORDER BY client_order_id").fetchall()
out["lake"] = [json.loads(v) for (v,) in terms]
con.close()
print(json.dumps(out))
"""
)


def _copy_with_the_field(to: Path, edits: tuple[tuple[str, str, str], ...] = EDITS) -> Path:
    """The package copied under ``to`` (its folders where the installed package has them), with
    the hand edits made (``EDITS``: the three)."""
    package = to / "orderledger"
    shutil.copytree(ROOT / "orderledger", package)
    for folder in ("domain", "projections", "infrastructure"):
        shutil.copytree(ROOT / folder, package / folder, ignore=shutil.ignore_patterns("__pycache__"))
    edited: set[str] = set()
    for path, after, line in edits:
        source = package / path
        text = source.read_text(encoding="utf-8")
        assert text.count(after) == 1, after
        source.write_text(text.replace(after, after + line), encoding="utf-8")
        edited.add(path)
    if edits is EDITS:
        assert len(EDITS) == 2 and len(edited) == 2  # two hand edits, in two source files
    if edits is TERM_EDITS:
        assert len(edited) == 1  # a term: one source file
    return to


def _run(copy: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-B", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_optional_field_added_in_one_declaration_reaches_every_output(tmp_path: Path) -> None:
    copy = _copy_with_the_field(tmp_path / "copy")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    # The copy, not this checkout, is what runs
    where = _run(copy, "-c", "import orderledger.domain.events as e; print(e.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(copy)), where.stderr

    checked = _run(copy, "-c", CHECK, url, str(tmp_path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    out = json.loads(checked.stdout)

    # The message parses the field by its rule (a figure)
    assert out["parsed"] == "0.5"
    # c-1 is requested with it; c-2 without it, then repeated with it (added), then repeated with
    # another value (a conflict: refused, with the field named, nothing stored)
    outcomes = out["outcomes"]
    assert [o for o, _ in outcomes] == ["applied", "applied", "applied", "rejected"]
    assert "min_quantity" in outcomes[3][1]
    assert out["events"] == [
        ["OrderRequested", "0.5"],
        ["OrderRequested", "None"],
        ["OrderDetailsAdded", "0.25"],
    ]
    # Stored only when given: a request without it is stored as before the field (same bytes)
    assert out["stored"] == ["0.5", "absent", "0.25"]
    # The view, the past (folded from the log), OrderRow, the HTTP JSON and the lake show it
    assert out["view"] == ["0.5", "0.25"]
    assert out["past"] == ["0.5", "0.25"]
    assert out["row_field"] is True
    assert out["http"] == ["0.5", "0.25"]
    assert out["lake"] == ["0.5", "0.25"]

    # orders --json and the CLI's table (its column under its heading)
    listed = _run(copy, "-m", "orderledger", "--db", url, "orders", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [row["min_quantity"] for row in json.loads(listed.stdout)] == ["0.5", "0.25"]
    table = _run(copy, "-m", "orderledger", "--db", url, "orders", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "min" in next(line for line in table.stdout.splitlines() if line.startswith("order "))


def test_a_field_declared_without_its_repeat_rule_stops_the_package_loading(tmp_path: Path) -> None:
    # Given the copy with the request's field declared without its Repeat marker
    path, after, line = EDITS[0]
    unruled = ((path, after, line.replace(", Repeat.MAY_ADD", "")),)
    copy = _copy_with_the_field(tmp_path / "copy", unruled)
    # Then the package does not load, and says which field lacks its markers
    loaded = _run(copy, "-c", "import orderledger.domain.events", cwd=tmp_path)
    assert loaded.returncode == 1
    assert loaded.stderr.splitlines()[-1] == (
        "TypeError: OrderSpec fields without one Says and one Repeat: ['min_quantity']"
    )


def test_a_term_added_in_one_declaration_reaches_every_output(tmp_path: Path) -> None:
    copy = _copy_with_the_field(tmp_path / "copy", TERM_EDITS)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    checked = _run(copy, "-c", TERM_CHECK, url, str(tmp_path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    out = json.loads(checked.stdout)

    # A message states the term as a field of its own, parsed by its rule (a figure)
    assert out["parsed"] == "0.5"
    # c-1 is requested with it; c-2 without it, then repeated with it (added among its terms),
    # then repeated with another value (refused, the term named, nothing stored)
    outcomes = out["outcomes"]
    assert [o for o, _ in outcomes] == ["applied", "applied", "applied", "rejected"]
    assert "peg_offset" in outcomes[3][1]
    assert out["events"] == [
        ["OrderRequested", "0.5"],
        ["OrderRequested", None],
        ["OrderDetailsAdded", "0.25"],
    ]
    # Stored among the terms, only when stated: a plain request is stored as before the term
    assert out["stored"] == [{"peg_offset": "0.5"}, "absent", {"peg_offset": "0.25"}]
    # The order's terms in the view, the past, the HTTP JSON and the lake; the term read by name
    assert (
        out["view"]
        == out["past"]
        == out["http"]
        == out["lake"]
        == [
            {"peg_offset": "0.5"},
            {"peg_offset": "0.25"},
        ]
    )
    assert out["typed"] == ["0.5", "0.25"]
    listed = _run(copy, "-m", "orderledger", "--db", url, "orders", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [row["terms"] for row in json.loads(listed.stdout)] == [
        {"peg_offset": "0.5"},
        {"peg_offset": "0.25"},
    ]
