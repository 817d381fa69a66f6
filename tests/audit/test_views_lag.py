"""Views that lag the log say so: ``ingest --no-project`` leaves the views to a follower, and until
one folds the new events, every answer from the views (orders, positions, trades, P&L, exports)
says how far behind they are (the CLI: one line on stderr; HTTP: the ``Views-Behind`` header), and
``verify`` does not call views equal to a log they have not folded.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2 as httpx

from tests.support.audit import fill, line, orderledger, request
from tests.support.http_api import running_server

# Two orders and one fill of c-1 (carrying no venue order ID): three events, one per line
# (OrderRequested, OrderRequested, OrderFilled), none of them folded by any view.
LINES = [
    line(request("c-1", seconds=0)),
    line(request("c-2", seconds=1)),
    line(fill("c-1", "t-1", "4", "100", seconds=2)),
]
WARNING = (
    "orderledger: warning: the views are 3 events behind the log (they show events up to 0 of 3):"
    " `orderledger project` folds the rest\n"
)


def _ingest_without_views(url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(LINES) + "\n")
    run = orderledger("ingest", "--no-project", str(source), db=url)
    assert run.code == 0 and run.stdout.startswith("3 lines: 3 applied"), run.describe()


def test_every_answer_from_the_views_warns_while_they_lag(file_ledger_url: str, tmp_path: Path) -> None:
    _ingest_without_views(file_ledger_url, tmp_path)
    commands: list[tuple[str, ...]] = [
        ("orders",),
        ("orders", "--json"),
        ("positions", "--json"),
        ("trades", "--json"),
        ("pnl", "--by", "parent"),
        (
            "pnl",
            "--by",
            "parent",
            "--cost-basis",
            "fifo",
            "--json",
        ),  # (its heads go as far as the orders view)
        ("pnl", "--daily", "--by", "parent", "--json"),  # (so do these)
        ("export", "trades", "--out", str(tmp_path / "trades.csv"), "--format", "csv"),
    ]
    for args in commands:
        run = orderledger(*args, db=file_ledger_url)
        assert run.code == 0 and run.stderr == WARNING, run.describe()
    # What the log answers itself is current: no warning. (``pnl`` by day and the daily P&L by
    # account or tag read the books' heads, kept with the log.)
    for args in (
        ("order", "c-1", "--json"),
        ("orders", "--as-of", "2030-01-01T00:00:00Z", "--json"),
        ("pnl", "--json"),
        ("pnl", "--daily", "--json"),
        ("pnl", "--by", "tag:strategy", "--json"),
        ("pnl", "--by", "tag:strategy", "--cost-basis", "lifo", "--json"),
        ("pnl", "--daily", "--by", "tag:strategy", "--json"),
    ):
        run = orderledger(*args, db=file_ledger_url)
        assert run.code == 0 and run.stderr == "", run.describe()

    assert orderledger("project", db=file_ledger_url).code == 0
    run = orderledger("orders", "--json", db=file_ledger_url)
    assert run.stderr == "" and [o["client_order_id"] for o in run.json()] == ["c-1", "c-2"], run.describe()


def test_verify_counts_the_events_the_views_have_not_folded(file_ledger_url: str, tmp_path: Path) -> None:
    _ingest_without_views(file_ledger_url, tmp_path)
    run = orderledger("verify", db=file_ledger_url)
    assert run.code == 0, run.describe()
    assert run.stdout.startswith(
        "ok: 3 events, hash chain intact, views 3 events behind the log (equal to it up to event 0;"
        " `orderledger project` folds the rest); 3 journal records, chain intact; head 3:"
    ), run.describe()
    assert "views equal the log" not in run.stdout
    assert orderledger("verify", "--json", db=file_ledger_url).json()["views_behind"] == 3
    assert orderledger("project", db=file_ledger_url).code == 0
    after = orderledger("verify", "--full", db=file_ledger_url)
    assert "views equal the log;" in after.stdout, after.describe()
    assert orderledger("verify", "--json", db=file_ledger_url).json()["views_behind"] == 0


def test_http_answers_from_the_views_carry_how_far_behind_they_are(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with running_server(url) as server:
        _ingest_without_views(url, tmp_path)  # another process, leaving the views to a follower
        for path in (
            "/orders",
            "/trades",
            "/positions",
            "/pnl?by=parent",
            "/pnl?by=parent&cost_basis=fifo",
            "/pnl/series",
            "/pnl/daily?by=parent",
        ):
            response = httpx.get(server.url + path)
            assert response.status_code == 200, response.text
            assert response.headers["Views-Behind"] == "3", path
        assert httpx.get(server.url + "/orders").json() == []  # behind: nothing folded yet
        assert httpx.get(server.url + "/verify").json()["views_behind"] == 3
        # From the log (an order's history; P&L by day from the books' heads): current, no header
        for path in (
            "/orders/c-1",
            "/pnl",
            "/pnl?by=tag:strategy",
            "/pnl/daily",
            "/pnl/daily?by=tag:strategy",
        ):
            current = httpx.get(server.url + path)
            assert current.status_code == 200 and "Views-Behind" not in current.headers, path
        server.ledger.upkeep.catch_up()
        response = httpx.get(server.url + "/orders")
        assert response.headers["Views-Behind"] == "0"
        assert [o["client_order_id"] for o in json.loads(response.text)] == ["c-1", "c-2"]
