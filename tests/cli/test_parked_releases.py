"""A parked line settled by its release whatever the release makes of it (applied, a duplicate,
refused), through the real command, one ``orderledger ingest`` per input as separate processes
would run them, on SQLite and PostgreSQL (docs/semantics.md, "Waiting is not refusing").

On PostgreSQL the settlement goes through ``orderledger_settle``, which settles a line only
when what it waited for is in the log (docs/audit.md, "Settling a parked line"): for a bust or
correction that waited for its trade, a fill of the order its key names, whether the release
adds events or not. Each session's outcomes are worked out by hand beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.audit import raw_sql
from tests.support.cli import cli_json, jsonl, parse_ingest, run_cli, write_lines


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _ts(seconds: int) -> str:
    return f"2026-11-20T10:00:{seconds:02d}Z"


REQUEST = {
    "type": "request",
    "client_order_id": "o1",
    "account": "a",
    "venue": "v",
    "instrument": "BTC-USDT",
    "side": "buy",
    "order_type": "limit",
    "quantity": "2",
    "price": "100",
    "ts": _ts(0),
}
ACCEPTED = {"type": "accepted", "client_order_id": "o1", "venue_order_id": "V1", "ts": _ts(1)}
FILL = {
    "type": "fill",
    "client_order_id": "o1",
    "trade_id": "t1",
    "quantity": "1",
    "price": "100",
    "ts": _ts(2),
}
LATE = "arrived after later facts of its order: applied at its place in venue time"


def _ingest_each(db: str, cwd: Path, *inputs: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Each input ingested by its own ``orderledger ingest``: the counts each reports."""
    counts = []
    for number, messages in enumerate(inputs, 1):
        path = write_lines(cwd / f"in{number}.jsonl", jsonl(*messages))
        run = run_cli("ingest", str(path), db=db, cwd=cwd)
        assert run.returncode == 0, run.describe()
        counts.append({k: v for k, v in parse_ingest(run.stdout).counts.items() if v})
    return counts


def _messages(db: str, cwd: Path) -> list[tuple[int, str, int, str, int, str | None]]:
    """(message ID, input, line, outcome, events, reason) of every journal line, oldest first."""
    run = run_cli("messages", "--json", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    found = [json.loads(text) for text in run.stdout.splitlines()]
    return sorted(
        (m["message_id"], Path(m["origin"]).name, m["line"], m["outcome"], m["events"], m["reason"])
        for m in found
    )


def _settlements(db: str) -> list[tuple[int, str, int]]:
    """(line settled, outcome, its events) of each settlement record, in the journal's order."""
    with raw_sql(db) as sql:
        rows = sql.all("SELECT message_id, outcome, event_count FROM settlements ORDER BY position")
    return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def _trades(db: str, cwd: Path) -> list[tuple[str, str, str, str]]:
    rows = cli_json("trades", db=db, cwd=cwd)
    return [(t["client_order_id"], t["trade_id"], t["quantity"], t["price"]) for t in rows]


def _order(db: str, cwd: Path) -> tuple[str, str, str]:
    order = cli_json("order", "o1", db=db, cwd=cwd)
    return order["status"], order["filled_quantity"], order["leaves_quantity"]


def _verified(db: str, cwd: Path) -> None:
    run = run_cli("verify", db=db, cwd=cwd)
    assert run.returncode == 0 and run.stdout.startswith("ok: "), run.describe()
    parked = run_cli("messages", "--parked", "--json", db=db, cwd=cwd)
    assert (parked.returncode, parked.stdout) == (0, ""), parked.describe()


def test_a_correction_with_its_fills_own_values_is_a_duplicate_once_the_fill_arrives(
    file_ledger_url: str, tmp_path: Path
) -> None:
    """Issue 67, item 3: the correction, parked before its order, is released by the fill and
    changes nothing; the fill is booked once and the second ingest succeeds."""
    db = file_ledger_url
    correction = {
        "type": "fill_corrected",
        "client_order_id": "o1",
        "trade_id": "t1",
        "quantity": "1",
        "price": "100",
        "ts": _ts(3),
    }
    # Given a correction of trade t1 of o1, recorded before anything of o1 (one process)
    # When o1's request, its acceptance and the fill t1 with the correction's own values follow
    # (another process)
    counts = _ingest_each(db, tmp_path, [correction], [REQUEST, ACCEPTED, FILL])

    # Then the first parks the correction and the second applies its three lines
    assert counts == [{"parked": 1}, {"applied": 3}]
    # And the correction is settled as a duplicate: the fill already has its values
    assert _messages(db, tmp_path) == [
        (1, "in1.jsonl", 1, "duplicate", 0, "was parked; trade 't1' already has these values"),
        (2, "in2.jsonl", 1, "applied", 1, None),
        (3, "in2.jsonl", 2, "applied", 1, None),
        (4, "in2.jsonl", 3, "applied", 1, None),
    ]
    # by one settlement record, which adds no event (the request, acceptance and fill are 3)
    assert _settlements(db) == [(1, "duplicate", 0)]
    # And the fill is booked once: 1 of 2 at 100
    assert _trades(db, tmp_path) == [("o1", "t1", "1", "100")]
    assert _order(db, tmp_path) == ("partially_filled", "1", "1")
    _verified(db, tmp_path)


def test_a_correction_its_release_refuses_is_settled_rejected_and_the_fill_stays_booked(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    # Given a correction of t1 to 5, recorded before o1 (an order of 2)
    correction = {"type": "fill_corrected", "client_order_id": "o1", "trade_id": "t1", "quantity": "5"}
    # When o1's request and the fill t1 of 1 follow, in another process
    counts = _ingest_each(db, tmp_path, [correction | {"ts": _ts(3)}], [REQUEST, FILL])

    # Then the fill is applied and the correction, released by it, refused on its own: 5 of 2
    # would overfill the order (a released message's refusal never refuses its releaser)
    assert counts == [{"parked": 1}, {"applied": 2}]
    overfill = "was parked; order 'o1': trade 't1' would fill 5 of quantity 2 (overfill)"
    assert _messages(db, tmp_path) == [
        (1, "in1.jsonl", 1, "rejected", 0, overfill),
        (2, "in2.jsonl", 1, "applied", 1, None),
        (3, "in2.jsonl", 2, "applied", 1, None),
    ]
    assert _settlements(db) == [(1, "rejected", 0)]
    assert _trades(db, tmp_path) == [("o1", "t1", "1", "100")]
    _verified(db, tmp_path)


def test_a_correction_by_venue_order_id_is_released_by_the_name_that_comes_after_the_fill(
    file_ledger_url: str, tmp_path: Path
) -> None:
    """The release adds no event and the fill it waited for was booked by an earlier commit: the
    settlement is justified by the fill of the order the venue order ID now names."""
    db = file_ledger_url
    # Given a correction of t1 naming the order by venue order ID V1 only, with t1's own values
    correction = {
        "type": "fill_corrected",
        "venue": "v",
        "venue_order_id": "V1",
        "trade_id": "t1",
        "quantity": "1",
        "price": "100",
        "ts": _ts(3),
    }
    # When o1 and its fill t1 arrive without V1, and then o1's acceptance as V1 (three processes)
    counts = _ingest_each(db, tmp_path, [correction], [REQUEST, FILL], [ACCEPTED])

    # Then the correction waits through the second (nothing is known as V1) and the acceptance,
    # placed before the fill in venue time, releases it: a duplicate
    assert counts == [{"parked": 1}, {"applied": 2}, {"applied": 1}]
    assert _messages(db, tmp_path) == [
        (1, "in1.jsonl", 1, "duplicate", 0, "was parked; trade 't1' already has these values"),
        (2, "in2.jsonl", 1, "applied", 1, None),
        (3, "in2.jsonl", 2, "applied", 1, None),
        (4, "in3.jsonl", 1, "applied", 1, LATE),
    ]
    assert _settlements(db) == [(1, "duplicate", 0)]
    assert _trades(db, tmp_path) == [("o1", "t1", "1", "100")]
    _verified(db, tmp_path)


def test_a_parked_fill_that_another_message_booked_first_is_a_duplicate(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    # Given the fill t1 reported by venue order ID V1 before o1 is known
    by_venue = {k: v for k, v in FILL.items() if k != "client_order_id"} | {
        "venue": "v",
        "venue_order_id": "V1",
    }
    # When o1, the same fill by client order ID, and o1's acceptance as V1 follow
    counts = _ingest_each(db, tmp_path, [by_venue], [REQUEST, FILL, ACCEPTED])

    # Then the acceptance releases the parked fill, whose trade the fill before it booked
    assert counts == [{"parked": 1}, {"applied": 3}]
    assert _messages(db, tmp_path) == [
        (1, "in1.jsonl", 1, "duplicate", 0, "was parked; trade 't1' is already booked"),
        (2, "in2.jsonl", 1, "applied", 1, None),
        (3, "in2.jsonl", 2, "applied", 1, None),
        (4, "in2.jsonl", 3, "applied", 1, LATE),
    ]
    assert _settlements(db) == [(1, "duplicate", 0)]
    assert _trades(db, tmp_path) == [("o1", "t1", "1", "100")]
    _verified(db, tmp_path)


def test_a_parked_cancel_of_an_order_another_message_canceled_is_a_duplicate(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db = file_ledger_url
    # Given the venue's cancel of V1 at 4 s, before anything names V1
    parked = {"type": "canceled", "venue": "v", "venue_order_id": "V1", "ts": _ts(4)}
    # When o1 is requested and canceled at 3 s by client order ID, and then acknowledged as V1
    canceled = {"type": "canceled", "client_order_id": "o1", "ts": _ts(3)}
    counts = _ingest_each(db, tmp_path, [parked], [REQUEST, canceled], [ACCEPTED])

    # Then the acknowledgement releases the parked cancel, which finds o1 canceled already
    assert counts == [{"parked": 1}, {"applied": 2}, {"applied": 1}]
    assert _messages(db, tmp_path) == [
        (1, "in1.jsonl", 1, "duplicate", 0, "was parked; already canceled"),
        (2, "in2.jsonl", 1, "applied", 1, None),
        (3, "in2.jsonl", 2, "applied", 1, None),
        (4, "in3.jsonl", 1, "applied", 1, LATE),
    ]
    assert _settlements(db) == [(1, "duplicate", 0)]
    assert _order(db, tmp_path) == ("canceled", "0", "0")
    _verified(db, tmp_path)


def test_an_earlier_schemas_settle_function_is_replaced_when_the_database_is_opened(
    postgres_url: str, tmp_path: Path
) -> None:
    """A database whose ``orderledger_settle`` an earlier release (schema 5) put in place, which
    refused the settlement above, gets the function of this release when it is opened: the
    ingest that failed is then taken."""
    db = postgres_url
    correction = {"type": "fill_corrected", "client_order_id": "o1", "trade_id": "t1", "ts": _ts(3)}
    assert _ingest_each(db, tmp_path, [correction | {"quantity": "1", "price": "100"}]) == [{"parked": 1}]
    with raw_sql(db) as sql:
        # A stand-in for the earlier function: it refuses the settlement as that one did.
        sql.execute(
            "CREATE OR REPLACE FUNCTION orderledger_settle(p_position BIGINT, p_message_id BIGINT,"
            " p_parts INTEGER[], p_parts_text TEXT, p_before_reason TEXT, p_before_client_order_id TEXT,"
            " p_before_event_count INTEGER, p_outcome TEXT, p_reason TEXT, p_client_order_id TEXT,"
            " p_event_count INTEGER, p_first_event BIGINT, p_hash BYTEA) RETURNS void LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'the earlier release refuses'"
            " USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        sql.execute("UPDATE ledger_meta SET value = '5' WHERE key = 'schema_version'")

    assert _ingest_each(db, tmp_path, [REQUEST, ACCEPTED, FILL]) == [{"applied": 3}]
    assert _settlements(db) == [(1, "duplicate", 0)]
    _verified(db, tmp_path)  # the function is the ledger's own again
