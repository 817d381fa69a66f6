"""The ``orderledger`` command, run for real in a subprocess, the way a user or a script runs it.

Happy paths run on a SQLite file and on PostgreSQL (``file_ledger_url``) and are checked against
figures computed by hand from a small session (``SCENARIO``). Failure paths check the contract in
the README: one line on stderr, a non-zero exit, no traceback, and stored data left untouched.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderledger.projections import PROJECTIONS
from tests.support.cli import (
    OPEN_STATUSES,
    OUTCOMES,
    STATUSES,
    assert_one_line_failure,
    assert_same_outputs,
    cli_env,
    cli_json,
    ingest,
    json_many,
    jsonl,
    parse_ingest,
    private_postgres_url,
    run_cli,
    run_many,
    view_outputs,
    write_lines,
)
from tests.support.cli_session import (
    D5,
    D6,
    SCENARIO,
    SCENARIO_EVENTS,
    Ledger,
    dec,
    decs,
    ingest_scenario,
    session_fill,
    session_request,
    stored,
)

# client order ID → status, filled, leaves, average price, venue order IDs
EXPECTED_ORDERS: dict[str, tuple[str, str, str, str | None, list[str]]] = {
    "o-1": ("filled", "2", "0", "101", ["v-1"]),
    "o-2": ("filled", "1", "0", "110", ["v-2"]),
    "o-3": ("partially_filled", "2", "3", "50", ["v-3"]),
    "o-4": ("rejected", "0", "0", None, []),
    "o-5": ("canceled", "0", "0", None, ["v-5"]),
    "o-6": ("accepted", "0", "1", None, ["v-6"]),
    "o-7": ("filled", "0.5", "0", "104", ["v-7"]),
    "o-8": ("accepted", "0", "1", None, ["v-8"]),
}
OPEN_ORDERS = ["o-3", "o-6", "o-8"]

# trade ID → order, account, venue, instrument, side, quantity, price, fee, venue time
EXPECTED_TRADES = {
    "t-1": ("o-1", "acc1", "V1", "BTC-USD", "buy", "1", "100", "0.1", D5 + "10:00:02.000000Z"),
    "t-2": ("o-1", "acc1", "V1", "BTC-USD", "buy", "1", "102", "0.1", D5 + "10:00:03.000000Z"),
    "t-3": ("o-2", "acc1", "V1", "BTC-USD", "sell", "1", "110", "0.2", D6 + "09:00:02.000000Z"),
    "t-4": ("o-3", "acc2", "V2", "ETH-USD", "buy", "2", "50", None, D6 + "09:10:02.000000Z"),
    "t-5": ("o-7", "acc2", "V2", "BTC-USD", "sell", "0.5", "104", "0.05", D6 + "10:00:01.000000Z"),
}

MARKS = ("BTC-USD=105", "ETH-USD=55")
# (account, venue, instrument) → quantity, average, realized, realized net, unrealized at MARKS, fees
EXPECTED_POSITIONS: dict[tuple[str, str, str], tuple[str, str | None, str, str, str, dict[str, str]]] = {
    ("acc1", "V1", "BTC-USD"): ("1", "101", "9", "8.6", "4", {"USD": "0.4"}),
    ("acc1", "V1", "ETH-USD"): ("0", None, "0", "0", "0", {}),  # t-6 bought, then busted: flat
    ("acc2", "V2", "BTC-USD"): ("-0.5", "104", "0", "-0.05", "-0.5", {"USD": "0.05"}),
    ("acc2", "V2", "ETH-USD"): ("2", "50", "0", "0", "10", {}),
}

# --by → group → realized, realized net, fees, fills (the busted t-6 counts nowhere)
EXPECTED_PNL: dict[str, dict[str, tuple[str, str, dict[str, str], int]]] = {
    "day": {
        "2026-01-05": ("0", "-0.2", {"USD": "0.2"}, 2),
        "2026-01-06": ("9", "8.75", {"USD": "0.25"}, 3),
    },
    "account": {
        "acc1": ("9", "8.6", {"USD": "0.4"}, 3),
        "acc2": ("0", "-0.05", {"USD": "0.05"}, 2),
    },
    "venue": {
        "V1": ("9", "8.6", {"USD": "0.4"}, 3),
        "V2": ("0", "-0.05", {"USD": "0.05"}, 2),
    },
    "instrument": {
        "BTC-USD": ("9", "8.55", {"USD": "0.45"}, 4),
        "ETH-USD": ("0", "0", {}, 1),
    },
    "tag:strategy": {
        "mm": ("0", "-0.2", {"USD": "0.2"}, 3),
        "trend": ("9", "8.8", {"USD": "0.2"}, 1),
        "(none)": ("0", "-0.05", {"USD": "0.05"}, 1),
    },
}

DOCUMENTED_ORDER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "client_order_id": str,
    "account": str,
    "venue": str,
    "instrument": str,
    "side": str,
    "order_type": str,
    "quantity": str,
    "price": str,
    "status": str,
    "filled_quantity": str,
    "leaves_quantity": str,
    "average_price": (str, type(None)),
    "venue_order_ids": list,
    "anomalies": list,
    "version": int,
}


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The backends several processes can share (``file_ledger_url`` reads this).

    Overrides tests/conftest.py's, whose ``memory`` backend would only repeat the SQLite runs here.
    """
    return str(request.param)


@pytest.fixture
def scenario(file_ledger_url: str, tmp_path: Path) -> Ledger:
    """SCENARIO ingested into an empty database of its own (SQLite file or PostgreSQL)."""
    return ingest_scenario(file_ledger_url, tmp_path)


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """SCENARIO ingested once per backend, for the tests that only read."""
    folder = tmp_path_factory.mktemp(f"shared-{request.param}")
    if request.param == "sqlite":
        yield ingest_scenario(f"sqlite:///{folder / 'ledger.db'}", folder)
        return
    with private_postgres_url() as url:
        yield ingest_scenario(url, folder)


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A SQLite file holding SCENARIO, and its orders and trades; ``sqlite_scenario`` copies it."""
    folder = tmp_path_factory.mktemp("template")
    ledger = ingest_scenario(f"sqlite:///{folder / 'ledger.db'}", folder)
    return folder / "ledger.db", stored(ledger)


@pytest.fixture
def sqlite_scenario(sqlite_template: tuple[Path, Any], tmp_path: Path) -> Ledger:
    """A private copy of the SQLite file holding SCENARIO."""
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{sqlite_template[0]}{suffix}")
        if source.exists():
            shutil.copy(source, tmp_path / f"ledger.db{suffix}")
    return Ledger(
        f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, write_lines(tmp_path / "session.jsonl", SCENARIO)
    )


# ---------------------------------------------------------------------- demo


def test_demo_shows_the_session_and_a_second_run_is_all_duplicate(
    file_ledger_url: str, tmp_path: Path
) -> None:
    first = run_cli("demo", db=file_ledger_url, cwd=tmp_path)
    assert first.returncode == 0 and first.stderr == "", first.describe()
    for heading in (
        "open orders (",
        "recent fills (last ",
        "order states: ",
        "positions (",
        "realized P&L by tag:strategy",
    ):
        assert heading in first.stdout, f"demo shows no {heading!r}\n{first.describe()}"
    counts = re.search(r"^(\d+) messages: (.*); (\d+) events recorded$", first.stdout, re.M)
    assert counts is not None, first.describe()
    messages, recorded = int(counts[1]), int(counts[3])
    assert recorded > 0 and "applied" in counts[2]
    hint = re.search(
        r"Inspect one order's history:\s+orderledger (?:--db \S+ )?history (\S+)$", first.stdout, re.M
    )
    assert hint is not None, first.describe()

    ledger = Ledger(file_ledger_url, tmp_path, tmp_path)
    history, orders_before, trades_before = ledger.json_many(("history", hint[1]), ("orders",), ("trades",))
    assert history and history[0]["type"] == "OrderRequested"
    second = ledger.run("demo")
    assert second.returncode == 0 and second.stderr == "", second.describe()
    assert f"{messages} messages: {messages} duplicate; 0 events recorded" in second.stdout, second.describe()
    assert stored(ledger) == (orders_before, trades_before)


# ---------------------------------------------------------------------- ingest


def test_ingest_prints_a_count_per_outcome_and_the_time(file_ledger_url: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "session.jsonl", SCENARIO)
    run, summary = ingest(path, db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    assert summary.lines == len(SCENARIO)
    assert summary.counts == {**dict.fromkeys(OUTCOMES, 0), "applied": len(SCENARIO)}
    assert summary.events == SCENARIO_EVENTS
    assert summary.seconds >= 0

    again, summary = ingest(path, db=file_ledger_url, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == "", again.describe()
    assert summary.counts == {**dict.fromkeys(OUTCOMES, 0), "duplicate": len(SCENARIO)}
    assert summary.events == 0


def test_ingest_reads_standard_input(file_ledger_url: str, tmp_path: Path) -> None:
    run = run_cli("ingest", "-", db=file_ledger_url, cwd=tmp_path, stdin="\n".join(SCENARIO) + "\n")
    assert run.returncode == 0 and run.stderr == "", run.describe()
    summary = parse_ingest(run.stdout)
    assert (summary.lines, summary.counts["applied"], summary.events) == (
        len(SCENARIO),
        len(SCENARIO),
        SCENARIO_EVENTS,
    )
    orders, history = json_many([("orders",), ("history", "o-1")], db=file_ledger_url, cwd=tmp_path)
    assert [o["client_order_id"] for o in orders] == list(EXPECTED_ORDERS)
    assert {entry["message"]["origin"] for entry in history} == {"-"}


def test_ingest_parks_a_fact_until_its_order_arrives(file_ledger_url: str, tmp_path: Path) -> None:
    early_fill = session_fill("t-9", "1", "100", D5 + "10:00:02Z", client_order_id="o-9")
    request = session_request("o-9", "acc1", "V1", "BTC-USD", "buy", "1", "100", D5 + "10:00:00Z")
    first = write_lines(tmp_path / "fill.jsonl", jsonl(early_fill))
    run, summary = ingest(first, db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and summary.counts["parked"] == 1 and summary.events == 0, run.describe()
    assert cli_json("trades", db=file_ledger_url, cwd=tmp_path) == []

    second = write_lines(tmp_path / "request.jsonl", jsonl(request))
    run, summary = ingest(second, db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 0 and summary.counts["applied"] == 1, run.describe()
    order, trades = json_many([("order", "o-9"), ("trades",)], db=file_ledger_url, cwd=tmp_path)
    assert (order["status"], order["filled_quantity"]) == ("filled", "1")
    assert [t["trade_id"] for t in trades] == ["t-9"]


# Each bad line, and the words its one-line reason must contain.
BAD_LINES = {
    "NaN": (
        '{"type":"fill","client_order_id":"o-3","trade_id":"t-9","quantity":NaN,"price":"50",'
        '"ts":"2026-01-07T00:00:00Z"}',
        "nan",
    ),
    "NaN string": (
        jsonl(session_fill("t-9", "NaN", "50", "2026-01-07T00:00:00Z", client_order_id="o-3"))[0],
        "nan",
    ),
    "negative quantity": (
        jsonl(session_fill("t-9", "-1", "50", "2026-01-07T00:00:00Z", client_order_id="o-3"))[0],
        "positive",
    ),
    "naive timestamp": (
        jsonl(session_fill("t-9", "1", "50", "2026-01-07T00:00:00", client_order_id="o-3"))[0],
        "utc offset",
    ),
    "unknown type": (
        jsonl({"type": "teleport", "client_order_id": "o-3", "ts": "2026-01-07T00:00:00Z"})[0],
        "unknown message type",
    ),
    "malformed JSON": ('{"type":"fill","client_order_id":"o-3",', "malformed json"),
    "overfill": (
        jsonl(session_fill("t-9", "4", "50", "2026-01-07T00:00:00Z", client_order_id="o-3"))[0],
        "overfill",
    ),
    "reused client order ID": (
        jsonl(session_request("o-3", "acc2", "V2", "ETH-USD", "sell", "5", "50", "2026-01-07T00:00:00Z"))[0],
        "already used",
    ),
    "conflicting trade": (
        jsonl(session_fill("t-4", "1", "50", "2026-01-07T00:00:00Z", client_order_id="o-3"))[0],
        "already booked",
    ),
}


@pytest.mark.parametrize("bad", list(BAD_LINES))
def test_a_bad_line_is_rejected_and_leaves_stored_data_untouched(
    sqlite_scenario: Ledger, sqlite_template: tuple[Path, Any], bad: str
) -> None:
    line, reason = BAD_LINES[bad]
    path = write_lines(sqlite_scenario.cwd / "bad.jsonl", [line])
    run, summary = ingest(path, db=sqlite_scenario.db, cwd=sqlite_scenario.cwd)
    assert run.returncode == 1, run.describe()
    assert summary.counts == {**dict.fromkeys(OUTCOMES, 0), "rejected": 1}, run.describe()
    assert summary.events == 0
    assert len(run.stderr_lines) == 1, run.describe()
    assert run.stderr_lines[0].startswith("line 1: rejected: "), run.describe()
    assert reason in run.stderr_lines[0].lower(), run.describe()
    assert stored(sqlite_scenario) == sqlite_template[1]


def _mixed_file(folder: Path) -> tuple[Path, list[int]]:
    """Two good orders (one partly filled) with every kind of bad line in between.

    Returns the file and the numbers of its bad lines.
    """
    good = jsonl(
        session_request("g-1", "acc9", "V9", "SOL-USD", "buy", "3", "10", D5 + "12:00:00Z"),
        session_fill("g-t1", "1", "10", D5 + "12:00:01Z", client_order_id="g-1"),
        session_request("g-2", "acc9", "V9", "SOL-USD", "sell", "1", "11", D5 + "12:01:00Z"),
    )
    lines = [good[0], good[1]]
    bad_numbers = []
    for line, _ in BAD_LINES.values():
        lines.append(line.replace('"o-3"', '"g-1"').replace('"t-4"', '"g-t1"'))
        bad_numbers.append(len(lines))
    lines.append(good[2])
    return write_lines(folder / "mixed.jsonl", lines), bad_numbers


def test_ingest_reports_each_rejected_line_and_stores_the_rest(file_ledger_url: str, tmp_path: Path) -> None:
    path, bad_numbers = _mixed_file(tmp_path)
    run, summary = ingest(path, db=file_ledger_url, cwd=tmp_path)
    assert run.returncode == 1, run.describe()
    assert "Traceback" not in run.stderr
    numbers = [re.match(r"line (\d+): rejected: \S", line) for line in run.stderr_lines]
    assert [
        int(n[1]) if n else line for n, line in zip(numbers, run.stderr_lines, strict=True)
    ] == bad_numbers, run.describe()
    assert summary.counts["rejected"] == len(bad_numbers)
    assert summary.counts["applied"] == 3
    assert summary.lines == len(bad_numbers) + 3
    orders, trades = stored(Ledger(file_ledger_url, tmp_path, path))
    assert [(o["client_order_id"], o["status"], o["filled_quantity"], o["side"]) for o in orders] == [
        ("g-1", "partially_filled", "1", "buy"),
        ("g-2", "requested", "0", "sell"),
    ]
    assert [t["trade_id"] for t in trades] == ["g-t1"]


def test_strict_stores_nothing_when_a_line_is_rejected(file_ledger_url: str, tmp_path: Path) -> None:
    path, bad_numbers = _mixed_file(tmp_path)
    run, _ = ingest(path, db=file_ledger_url, cwd=tmp_path, strict=True)
    assert run.returncode == 1, run.describe()
    assert "Traceback" not in run.stderr
    rejected = [line for line in run.stderr_lines if re.match(r"line \d+: rejected: \S", line)]
    assert len(rejected) == len(bad_numbers), run.describe()
    assert any("--strict" in line and "nothing" in line for line in run.stderr_lines), run.describe()
    ledger = Ledger(file_ledger_url, tmp_path, path)
    assert ledger.json_many(("orders",), ("trades",), ("positions",)) == [[], [], []]

    clean = write_lines(tmp_path / "clean.jsonl", SCENARIO)
    run, summary = ingest(clean, db=file_ledger_url, cwd=tmp_path, strict=True)
    assert run.returncode == 0 and run.stderr == "", run.describe()
    assert summary.counts["applied"] == len(SCENARIO)
    assert len(ledger.json("orders")) == len(EXPECTED_ORDERS)


def test_strict_summary_does_not_claim_events_it_did_not_store(tmp_path: Path) -> None:
    path, _ = _mixed_file(tmp_path)
    run, summary = ingest(path, db=f"sqlite:///{tmp_path / 'ledger.db'}", cwd=tmp_path, strict=True)
    assert summary.events == 0, run.describe()
    assert summary.counts["applied"] == 0, run.describe()


# ---------------------------------------------------------------------- one order


def test_order_json_has_the_documented_fields(shared: Ledger) -> None:
    snapshots = shared.json_many(*(("order", coid) for coid in ("o-1", "o-4", "o-8")), ("orders",))
    every = snapshots.pop()
    for order in snapshots:
        for name, kind in DOCUMENTED_ORDER_FIELDS.items():
            assert name in order, f"{order['client_order_id']}: no {name!r} in {sorted(order)}"
            assert isinstance(order[name], kind), f"{order['client_order_id']}: {name} = {order[name]!r}"
    o1 = snapshots[0]
    assert {
        k: o1[k] for k in ("client_order_id", "account", "venue", "instrument", "side", "order_type")
    } == {
        "client_order_id": "o-1",
        "account": "acc1",
        "venue": "V1",
        "instrument": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
    }
    assert (dec(o1["quantity"]), dec(o1["price"]), o1["version"], o1["tags"]) == (
        Decimal(2),
        Decimal(100),
        4,
        {"strategy": "mm"},
    )
    assert [o["client_order_id"] for o in every] == list(EXPECTED_ORDERS)
    for order in every:
        status, filled, leaves, average, venue_ids = EXPECTED_ORDERS[order["client_order_id"]]
        assert order["status"] in STATUSES
        assert order["status"] == status, order
        assert (dec(order["filled_quantity"]), dec(order["leaves_quantity"])) == (dec(filled), dec(leaves)), (
            order
        )
        assert dec(order["average_price"]) == dec(average), order
        assert order["venue_order_ids"] == venue_ids, order
        assert order["anomalies"] == [], order
    by_id = {o["client_order_id"]: o for o in every}
    assert snapshots[1:] == [by_id["o-4"], by_id["o-8"]], "the orders view differs from the log"


def test_order_is_found_by_its_venue_order_id(shared: Ledger) -> None:
    by_venue_id, by_client_id, history = shared.json_many(
        ("order", "v-3"), ("order", "o-3"), ("history", "v-5")
    )
    assert by_venue_id == by_client_id
    assert by_venue_id["client_order_id"] == "o-3"
    assert [e["type"] for e in history][-1] == "OrderCanceled"
    table = shared.run("order", "v-7")
    assert table.returncode == 0 and re.search(r"client_order_id\s+o-7", table.stdout), table.describe()


def test_order_at_a_version_and_as_of_venue_time(shared: Ledger) -> None:
    *versions, between, same, before_bust, now = shared.json_many(
        *(("order", "o-1", "--version", str(v)) for v in (1, 2, 3, 4)),
        ("order", "o-1", "--as-of", D5 + "10:00:02.500Z", "--event-time"),
        # An offset other than Z names the same instant.
        ("order", "o-1", "--as-of", "2026-01-05T11:00:02.5+01:00", "--event-time"),
        # o-8 between its fill and the bust: filled then, reopened now.
        ("order", "o-8", "--as-of", D6 + "11:00:01.5Z", "--event-time"),
        ("order", "o-8"),
    )
    assert [(s["status"], s["filled_quantity"], s["version"]) for s in versions] == [
        ("requested", "0", 1),
        ("accepted", "0", 2),
        ("partially_filled", "1", 3),
        ("filled", "2", 4),
    ]
    assert between == versions[2]
    assert same == between
    assert (before_bust["status"], now["status"]) == ("filled", "accepted")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        # 00:00 at +01:00 on 1 January of year 1 is 23:00 of the year before: no such datetime
        (("order", "o-1", "--as-of", "0001-01-01T00:00:00+01:00"), "--as-of is out of range"),
        (("orders", "--as-of", "0001-01-01T00:00:00+01:00"), "--as-of is out of range"),
        (("positions", "--as-of", "9999-12-31T23:59:59-01:00"), "--as-of is out of range"),
        (("trades", "--since", "0001-01-01T00:00:00+00:01"), "--since is out of range"),
        # o-1 has four events (requested, accepted, two fills): there is no fifth
        (("order", "o-1", "--version", "5"), "order 'o-1' has no version 5 (its last is 4)"),
    ],
)
def test_times_out_of_range_and_versions_past_the_last_are_bad_input(
    shared: Ledger, args: tuple[str, ...], words: str
) -> None:
    before = stored(shared)

    line = assert_one_line_failure(shared.run(*args), 2)

    assert words in line
    assert stored(shared) == before


def test_order_as_of_recorded_time(file_ledger_url: str, tmp_path: Path) -> None:
    first = write_lines(tmp_path / "first.jsonl", SCENARIO[:3])  # o-1 requested, accepted, one fill
    rest = write_lines(tmp_path / "rest.jsonl", SCENARIO[3:])
    ledger = Ledger(file_ledger_url, tmp_path, first)
    assert ingest(first, db=file_ledger_url, cwd=tmp_path)[0].returncode == 0
    recorded = [e["ts_recorded"] for e in ledger.json("history", "o-1")]
    assert ingest(rest, db=file_ledger_url, cwd=tmp_path)[0].returncode == 0

    then, far, now = ledger.json_many(
        ("order", "o-1", "--as-of", recorded[-1]),
        ("order", "o-1", "--as-of", "2999-01-01T00:00:00Z"),
        ("order", "o-1"),
    )
    assert (then["status"], then["filled_quantity"], then["version"]) == ("partially_filled", "1", 3)
    assert far == now
    assert now["status"] == "filled"
    too_early = ledger.run("order", "o-1", "--as-of", "2000-01-01T00:00:00Z")
    assert "did not exist" in assert_one_line_failure(too_early, 2)


def test_history_lists_every_event_beside_its_message(shared: Ledger) -> None:
    lines = dict(enumerate(SCENARIO, start=1))
    history, busted = shared.json_many(("history", "o-7"), ("history", "o-8"))
    assert [e["type"] for e in history] == ["OrderRequested", "OrderAccepted", "OrderFilled"]
    for entry in history + busted:
        for name in ("type", "ts_event", "ts_recorded", "source", "payload", "message"):
            assert name in entry, f"history entry without {name!r}: {entry}"
        assert entry["source"] == "ingest"
        assert entry["ts_event"].endswith("Z") and entry["ts_recorded"].endswith("Z")
        message = entry["message"]
        assert message["origin"] == str(shared.path)
        assert message["raw"] == lines[message["line"]]
    assert [e["message"]["line"] for e in history] == [19, 20, 20]  # the fill implied the ack
    assert [e["ts_event"] for e in history] == [
        D6 + "10:00:00.000000Z",
        D6 + "10:00:01.000000Z",
        D6 + "10:00:01.000000Z",
    ]
    fill = history[2]["payload"]
    assert (fill["trade_id"], dec(fill["last_qty"]), dec(fill["last_px"]), dec(fill["fee"])) == (
        "t-5",
        Decimal("0.5"),
        Decimal(104),
        Decimal("0.05"),
    )
    assert [e["version"] for e in history] == [1, 2, 3]
    assert [e["type"] for e in busted] == ["OrderRequested", "OrderAccepted", "OrderFilled", "FillBusted"]
    assert [e["message"]["line"] for e in busted] == [21, 22, 22, 23]

    table = shared.run("history", "o-5")
    assert table.returncode == 0 and table.stderr == "", table.describe()
    for event_type in ("OrderRequested", "OrderAccepted", "OrderCancelRequested", "OrderCanceled"):
        assert event_type in table.stdout


# ---------------------------------------------------------------------- views


def test_orders_with_filters(shared: Ledger) -> None:
    cases = {
        (): list(EXPECTED_ORDERS),
        ("--open",): OPEN_ORDERS,
        ("--account", "acc1"): ["o-1", "o-2", "o-5", "o-8"],
        ("--venue", "V2"): ["o-3", "o-4", "o-5", "o-7"],
        ("--instrument", "ETH-USD"): ["o-3", "o-4", "o-5", "o-8"],
        ("--open", "--account", "acc2"): ["o-3", "o-6"],
        ("--account", "acc2", "--venue", "V1", "--instrument", "BTC-USD"): ["o-6"],
        ("--account", "nobody"): [],
    }
    results = shared.json_many(*(("orders", *args) for args in cases))
    for (args, expected), rows in zip(cases.items(), results, strict=True):
        assert [o["client_order_id"] for o in rows] == expected, f"orders {' '.join(args)}"
    assert all(o["status"] in OPEN_STATUSES for o in results[1])
    table = shared.run("orders", "--open")
    assert table.returncode == 0 and table.stdout.endswith("\n3 open orders\n"), table.describe()


def test_trades_with_filters(shared: Ledger) -> None:
    cases = {
        (): list(EXPECTED_TRADES),  # t-6 was busted
        ("--account", "acc1"): ["t-1", "t-2", "t-3"],
        ("--venue", "V2"): ["t-4", "t-5"],
        ("--instrument", "BTC-USD"): ["t-1", "t-2", "t-3", "t-5"],
        ("--order", "o-1"): ["t-1", "t-2"],
        ("--order", "v-2"): ["t-3"],  # by venue order ID
        ("--order", "o-8"): [],
        ("--since", "2026-01-06T00:00:00Z"): ["t-3", "t-4", "t-5"],
        ("--until", "2026-01-05T23:59:59Z"): ["t-1", "t-2"],
        ("--since", D5 + "10:00:03Z", "--until", D6 + "09:00:02Z"): ["t-2", "t-3"],  # both inclusive
        ("--since", "2026-01-06T11:00:00+02:00"): ["t-3", "t-4", "t-5"],  # 09:00:00Z
        ("--account", "acc2", "--instrument", "BTC-USD"): ["t-5"],
    }
    results = shared.json_many(*(("trades", *args) for args in cases))
    for (args, expected), rows in zip(cases.items(), results, strict=True):
        assert [t["trade_id"] for t in rows] == expected, f"trades {' '.join(args)}"
    for row in results[0]:
        coid, account, venue, instrument, side, qty, price, fee, ts = EXPECTED_TRADES[row["trade_id"]]
        assert (row["client_order_id"], row["account"], row["venue"], row["instrument"], row["side"]) == (
            coid,
            account,
            venue,
            instrument,
            side,
        )
        assert (dec(row["quantity"]), dec(row["price"]), dec(row["fee"])) == (dec(qty), dec(price), dec(fee))
        assert row["ts_event"] == ts
        assert row["late"] is False


def test_positions_with_and_without_marks(shared: Ledger) -> None:
    marks = [part for mark in MARKS for part in ("--mark", mark)]
    rows, unmarked = shared.json_many(("positions", *marks), ("positions",))
    assert [(r["account"], r["venue"], r["instrument"]) for r in rows] == list(EXPECTED_POSITIONS)
    for row in rows:
        qty, average, realized, net, unrealized, fees = EXPECTED_POSITIONS[
            (row["account"], row["venue"], row["instrument"])
        ]
        assert (dec(row["quantity"]), dec(row["average_price"])) == (dec(qty), dec(average)), row
        assert (dec(row["realized_pnl"]), dec(row["realized_pnl_net"])) == (dec(realized), dec(net)), row
        assert dec(row["unrealized_pnl"]) == dec(unrealized), row
        assert decs(row["fees"]) == decs(fees), row
    assert all(r["unrealized_pnl"] is None for r in unmarked)
    assert [(r["quantity"], r["realized_pnl"]) for r in unmarked] == [
        (r["quantity"], r["realized_pnl"]) for r in rows
    ]
    table = shared.run("positions", *marks)
    assert table.returncode == 0 and "positions (4)" in table.stdout, table.describe()


def test_pnl_by_each_grouping(shared: Ledger) -> None:
    results = shared.json_many(*(("pnl", "--by", by) for by in EXPECTED_PNL))
    for (by, groups), rows in zip(EXPECTED_PNL.items(), results, strict=True):
        assert [r[by] for r in rows] == sorted(groups), f"pnl --by {by}"
        for row in rows:
            realized, net, fees, fills = groups[row[by]]
            assert row["quote_currency"] == "USD"
            assert (dec(row["realized_pnl"]), dec(row["realized_pnl_net"])) == (dec(realized), dec(net)), row
            assert decs(row["fees"]) == decs(fees), row
            assert row["fills"] == fills, row
    table = shared.run("pnl", "--by", "tag:strategy")
    assert table.returncode == 0 and "realized P&L by tag:strategy" in table.stdout, table.describe()


def test_pnl_fill_counts_agree_with_the_trade_blotter(shared: Ledger) -> None:
    groupings = ("day", "account", "venue", "instrument", "tag:strategy")
    trades, *results = shared.json_many(("trades",), *(("pnl", "--by", by) for by in groupings))
    for by, rows in zip(groupings, results, strict=True):
        if by == "day":
            expected = Counter(t["ts_event"][:10] for t in trades)
        elif by.startswith("tag:"):
            expected = Counter(t["tags"].get("strategy", "(none)") for t in trades)
        else:
            expected = Counter(t[by] for t in trades)
        assert {r[by]: r["fills"] for r in rows} == dict(expected), f"pnl --by {by}"


def test_rebuild_all_reports_its_rate_and_changes_no_answer(scenario: Ledger) -> None:
    before = view_outputs(scenario.db, scenario.cwd, MARKS, groupings=("day", "tag:strategy"))
    run = scenario.run("rebuild", "--all")
    assert run.returncode == 0, run.describe()
    closing = run.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"rebuilt (.+): (\d+) events in ([\d.]+) s \(([\d,]+) events/s\)", closing)
    assert found is not None, run.describe()
    assert set(found[1].split(", ")) == {p.name for p in PROJECTIONS}  # every view, none twice
    assert len(found[1].split(", ")) == len(PROJECTIONS)
    assert int(found[2]) == SCENARIO_EVENTS
    after = view_outputs(scenario.db, scenario.cwd, MARKS, groupings=("day", "tag:strategy"))
    assert_same_outputs(after, before, "after rebuild --all")

    one = scenario.run("rebuild", "trades")
    assert one.returncode == 0 and one.stdout.startswith("rebuilt trades: "), one.describe()
    assert scenario.json("trades") == before["trades"]


def test_project_brings_stale_views_up_to_date(file_ledger_url: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "session.jsonl", SCENARIO)
    ledger = Ledger(file_ledger_url, tmp_path, path)
    run = ledger.run("ingest", str(path), "--no-project")
    assert run.returncode == 0, run.describe()
    # The log holds everything; the views have folded none of it yet, and the queries answered
    # from them say so on stderr.
    (order,) = ledger.json_many(("order", "o-1"))
    assert order["status"] == "filled"
    for query in ("orders", "trades"):
        stale = ledger.run(query, "--json")
        assert (stale.returncode, json.loads(stale.stdout)) == (0, []), stale.describe()
        assert stale.stderr.startswith(
            f"orderledger: warning: the views are {SCENARIO_EVENTS} events behind the log"
        ), stale.describe()

    project = ledger.run("project")
    assert project.returncode == 0 and project.stderr == "", project.describe()
    assert project.stdout.strip().splitlines()[-1] == f"views current: {SCENARIO_EVENTS} events applied"
    caught_up = view_outputs(file_ledger_url, tmp_path, MARKS, groupings=("account",))
    assert [o["client_order_id"] for o in caught_up["orders"]] == list(EXPECTED_ORDERS)
    assert [o["client_order_id"] for o in caught_up["orders --open"]] == OPEN_ORDERS
    assert [t["trade_id"] for t in caught_up["trades"]] == list(EXPECTED_TRADES)

    again = ledger.run("project")
    assert again.returncode == 0 and again.stdout.strip() == "views current: 0 events applied", (
        again.describe()
    )
    assert ledger.run("rebuild", "--all").returncode == 0
    fresh = view_outputs(file_ledger_url, tmp_path, MARKS, groupings=("account",))
    assert_same_outputs(fresh, caught_up, "project vs a fresh fold")


def test_database_url_from_the_environment_and_the_default(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "session.jsonl", SCENARIO)
    env = cli_env(ORDERLEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'from-env.db'}")
    run = run_cli("ingest", str(path), db=None, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.describe()
    assert (tmp_path / "from-env.db").exists()
    assert len(run_cli("orders", "--json", db=None, cwd=tmp_path, env=env).json()) == len(EXPECTED_ORDERS)
    # --db wins over the variable (and a query creates no database: other.db stays absent).
    line = assert_one_line_failure(
        run_cli("orders", "--json", db=f"sqlite:///{tmp_path / 'other.db'}", cwd=tmp_path, env=env), 2
    )
    assert "other.db" in line and not (tmp_path / "other.db").exists()
    # Neither: orderledger.db in the working directory.
    assert run_cli("ingest", str(path), db=None, cwd=tmp_path).returncode == 0
    assert (tmp_path / "orderledger.db").exists()


# ---------------------------------------------------------------------- failures: one line each


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("order", "nope"), "no order 'nope'"),
        (("order", "nope", "--json"), "no order 'nope'"),
        (("history", "nope"), "no order 'nope'"),
        (("trades", "--order", "nope"), "no order 'nope'"),
        (("order", "o-1", "--version", "0"), "--version"),
        (("positions", "--mark", "BTC-USD=abc"), "abc"),
        (("positions", "--mark", "BTC-USD"), "INSTRUMENT=PRICE"),
        (("positions", "--mark", "BTC-USD=-5"), "positive"),
        (("positions", "--mark", "BTC-USD=NaN"), "NaN"),
        (("positions", "--mark", "=5"), "INSTRUMENT=PRICE"),
        (("order", "o-1", "--as-of", "2026-01-05T10:00:00"), "UTC offset"),
        (("order", "o-1", "--as-of", "yesterday"), "--as-of"),
        # 00:00 at +01:00 on 1 January of year 1 is in year 0 in UTC, before any datetime
        (("order", "o-1", "--as-of", "0001-01-01T00:00:00+01:00"), "--as-of is out of range"),
        (("orders", "--as-of", "0001-01-01T00:00:00+01:00"), "--as-of is out of range"),
        # 23:59:59 at -01:00 on 31 December 9999 is in year 10000 in UTC
        (("trades", "--until", "9999-12-31T23:59:59-01:00"), "--until is out of range"),
        (("trades", "--since", "2026-01-05"), "UTC offset"),
        (("trades", "--until", "2026-01-05T10:00:00"), "UTC offset"),
        (("rebuild", "nope"), "no view is named 'nope'"),
        (("rebuild",), "name a view"),
        (("pnl", "--by", "weekday"), "--by"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_bad_arguments_fail_with_one_line(sqlite_scenario: Ledger, args: tuple[str, ...], words: str) -> None:
    line = assert_one_line_failure(sqlite_scenario.run(*args), 2)
    assert words.lower() in line.lower()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@host/db",
        "sqlite://",
        "oracle:whatever",
        "postgresql://postgres@127.0.0.1/test?schema=bad-name",
    ],
)
def test_an_unsupported_database_url_fails_with_one_line(tmp_path: Path, url: str) -> None:
    line = assert_one_line_failure(run_cli("orders", db=url, cwd=tmp_path), 2)
    assert any(word in line for word in ("unsupported database URL", "names no file", "schema"))
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_file_fails_with_one_line(
    sqlite_scenario: Ledger, sqlite_template: tuple[Path, Any]
) -> None:
    cases = [sqlite_scenario.cwd / "missing.jsonl", sqlite_scenario.cwd]
    if os.geteuid() != 0:  # root reads any file, whatever its mode
        locked = write_lines(sqlite_scenario.cwd / "locked.jsonl", SCENARIO)
        locked.chmod(0)
        cases.append(locked)
    runs = run_many([("ingest", str(path)) for path in cases], db=sqlite_scenario.db, cwd=sqlite_scenario.cwd)
    for path, run in zip(cases, runs, strict=True):
        line = assert_one_line_failure(run, 2)
        assert "cannot read" in line and path.name in line
    assert stored(sqlite_scenario) == sqlite_template[1]


def test_a_file_that_is_not_a_database_fails_with_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    content = random.Random(1).randbytes(16384)
    garbage.write_bytes(content)
    path = write_lines(tmp_path / "session.jsonl", SCENARIO)
    commands = [
        ("orders", "--json"),
        ("ingest", str(path)),
        ("order", "o-1"),
        ("rebuild", "--all"),
        ("project",),
    ]
    for run in run_many(commands, db=f"sqlite:///{garbage}", cwd=tmp_path):
        line = assert_one_line_failure(run)
        assert "not a valid" in line or "corrupt" in line, line
    assert garbage.read_bytes() == content, "the garbage file was modified"


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, so that damage to the file is damage to the data."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def test_a_database_corrupted_after_its_header_fails_with_one_line(sqlite_scenario: Ledger) -> None:
    path = Path(sqlite_scenario.db.removeprefix("sqlite:///"))
    _checkpoint(path)
    page = 4096
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(page)
        handle.write(random.Random(2).randbytes(size - page))
    commands = [("orders", "--json"), ("trades",), ("ingest", str(sqlite_scenario.path)), ("history", "o-1")]
    for run in run_many(commands, db=sqlite_scenario.db, cwd=sqlite_scenario.cwd):
        line = assert_one_line_failure(run)
        assert "corrupt" in line or "malformed" in line or "not a valid" in line, line


def _corrupt_events_table(ledger: Ledger) -> None:
    """Overwrite the root page of the log's table with bytes no SQLite page starts with."""
    path = Path(ledger.db.removeprefix("sqlite:///"))
    _checkpoint(path)
    conn = sqlite3.connect(path)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    with path.open("r+b") as handle:
        handle.seek((root - 1) * page)
        handle.write(b"\x42" + random.Random(3).randbytes(page - 1))


def test_a_corrupt_log_fails_with_one_line(sqlite_scenario: Ledger) -> None:
    _corrupt_events_table(sqlite_scenario)
    commands = [("order", "o-1"), ("history", "o-1"), ("ingest", str(sqlite_scenario.path))]
    for run in run_many(commands, db=sqlite_scenario.db, cwd=sqlite_scenario.cwd):
        line = assert_one_line_failure(run)
        assert "corrupt" in line or "malformed" in line, line


def test_a_rebuild_that_fails_prints_one_line(sqlite_scenario: Ledger) -> None:
    _corrupt_events_table(sqlite_scenario)
    assert_one_line_failure(sqlite_scenario.run("rebuild", "--all"))


def test_a_locked_database_fails_with_one_line_and_readers_still_read(
    sqlite_scenario: Ledger, sqlite_template: tuple[Path, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process holds the write lock: ingest waits out its busy timeout, then gives up.

    The timeout (10 s) is not configurable, so this test takes that long.
    """
    path = Path(sqlite_scenario.db.removeprefix("sqlite:///"))
    extra = write_lines(
        sqlite_scenario.cwd / "more.jsonl",
        jsonl(session_request("o-99", "acc1", "V1", "BTC-USD", "buy", "1", "1", "2026-01-07T00:00:00Z")),
    )
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        run = sqlite_scenario.run("ingest", str(extra))
        waited = time.monotonic() - started
        line = assert_one_line_failure(run)
        assert "locked" in line, line
        # WAL: a writer's lock does not stop readers.
        assert stored(sqlite_scenario) == sqlite_template[1]
    finally:
        holder.rollback()
        holder.close()
    with capsys.disabled():
        print(f"\nlocked database: ingest gave up after {waited:.1f} s")
    assert stored(sqlite_scenario) == sqlite_template[1]
    run, summary = ingest(extra, db=sqlite_scenario.db, cwd=sqlite_scenario.cwd)
    assert run.returncode == 0 and summary.counts["applied"] == 1, run.describe()


UNREACHABLE = "postgresql://postgres@127.0.0.1:1/x"


def test_an_unreachable_postgresql_fails_without_a_traceback(tmp_path: Path) -> None:
    run = run_cli("orders", db=UNREACHABLE, cwd=tmp_path)
    assert run.returncode == 2, run.describe()
    assert "Traceback" not in run.stderr and run.stdout == "", run.describe()
    assert run.stderr_lines[-1].startswith("orderledger: cannot connect to PostgreSQL at "), run.describe()


def test_an_unreachable_postgresql_prints_one_line(tmp_path: Path) -> None:
    assert_one_line_failure(run_cli("orders", db=UNREACHABLE, cwd=tmp_path), 2)


USAGE_ERRORS = [
    ("order",),
    ("frobnicate",),
    ("orders", "--no-such-option"),
    ("order", "o-1", "--version", "x"),
]


def test_usage_errors_fail_with_one_line(tmp_path: Path) -> None:
    for run in run_many(USAGE_ERRORS, db=f"sqlite:///{tmp_path / 'ledger.db'}", cwd=tmp_path):
        assert_one_line_failure(run)


def test_usage_errors_exit_2_as_bad_input(tmp_path: Path) -> None:
    for run in run_many(USAGE_ERRORS, db=f"sqlite:///{tmp_path / 'ledger.db'}", cwd=tmp_path):
        line = assert_one_line_failure(run, 2)
        assert "internal error" not in line
