"""Limits and trading states through the real CLI, on SQLite and PostgreSQL (docs/risk.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli import assert_one_line_failure, cli_json, run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


ORDER = json.dumps(
    {"venue": "x", "account": "main", "instrument": "BTC-USDT", "side": "buy", "order_type": "limit",
     "quantity": "3", "price": "100"}
)  # fmt: skip


def test_limits_halt_resume_and_check_through_the_cli(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given an order notional limit of 250, set by alice
    run = run_cli(
        "limit", "set", "account", "main", "max_order_notional", "250", "--by", "alice", db=db, cwd=cwd
    )
    assert run.returncode == 0 and run.stdout == "max_order_notional of account main set to 250 by alice\n"
    [limit] = cli_json("limits", "--json", db=db, cwd=cwd)
    assert (limit["kind"], limit["value"], limit["set_by"]) == ("max_order_notional", "250", "alice")
    # Then an order of 3 × 100 = 300 is denied (exit 1), saying why
    run = run_cli("check", ORDER, db=db, cwd=cwd)
    assert run.returncode == 1 and run.stdout.splitlines() == [
        "denied",
        "  max_order_notional 250 on account main: would be 300",
    ], run.describe()
    # When the account is halted by alice, and the limit cleared
    run = run_cli("halt", "--account", "main", "--by", "alice", "--reason", "flash crash", db=db, cwd=cwd)
    assert run.returncode == 0 and run.stdout == "main: halted (set by alice)\n", run.describe()
    assert (
        run_cli(
            "limit", "clear", "account", "main", "max_order_notional", "--by", "bob", db=db, cwd=cwd
        ).returncode
        == 0
    )
    # Then the state says who halted it, and the check is denied for the halt alone
    [state] = cli_json("state", "--json", db=db, cwd=cwd)
    assert (state["account"], state["state"], state["set_by"], state["reason"]) == (
        "main",
        "halted",
        "alice",
        "flash crash",
    )
    run = run_cli("check", ORDER, "--json", db=db, cwd=cwd)
    assert run.returncode == 1 and json.loads(run.stdout)["breaches"] == [
        {"reason": "trading is halted (set by alice: flash crash)"}
    ]
    # And once resumed the order is allowed (exit 0), and the limits as of before they were set are none
    assert run_cli("resume", "--account", "main", "--by", "bob", db=db, cwd=cwd).returncode == 0
    assert run_cli("check", ORDER, db=db, cwd=cwd).stdout == "allowed\n"
    assert cli_json("limits", "--json", "--as-of", "2000-01-01T00:00:00Z", db=db, cwd=cwd) == []
    assert cli_json("limits", "--json", db=db, cwd=cwd) == []


def test_a_bad_limit_is_one_line_and_changes_nothing(file_ledger_url: str, tmp_path: Path) -> None:
    run = run_cli(
        "limit",
        "set",
        "account",
        "main",
        "max_orders",
        "3",
        "--by",
        "alice",
        db=file_ledger_url,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and run.stderr_lines == [
        "orderledger: a max_orders limit needs interval (seconds)"
    ]
    assert cli_json("limits", "--json", db=file_ledger_url, cwd=tmp_path) == []


def _fill(cid: str, side: str, quantity: str, minute: int) -> list[dict[str, object]]:
    """An order filled in full as a venue reports it (external: a fact the risk door never refuses)."""
    ts = f"2025-03-03T09:{minute:02d}:00Z"
    book = {"venue": "x", "account": "main", "instrument": "BTC-USDT"}
    return [
        {"type": "request", "client_order_id": cid, **book, "side": side, "order_type": "limit",
         "quantity": quantity, "price": "100", "external": True, "ts": ts},
        {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": quantity,
         "price": "100", "ts": ts},
    ]  # fmt: skip


def test_risk_says_how_close_each_limit_stands_and_watch_reports_each_change(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given at most 10 BTC-USDT and orders of at most 1,000, and 8 bought
    assert (
        run_cli(
            "limit", "set", "instrument", "BTC-USDT", "max_position", "10", "--by", "a", db=db, cwd=cwd
        ).returncode
        == 0
    )
    assert (
        run_cli(
            "limit", "set", "account", "main", "max_order_notional", "1000", "--by", "a", db=db, cwd=cwd
        ).returncode
        == 0
    )
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(m) + "\n" for m in _fill("b1", "buy", "8", 0)))
    assert run_cli("ingest", "in.jsonl", db=db, cwd=cwd).returncode == 0
    # Then 8 of 10 is 80%: at the default threshold (0.8), near, and risk exits 1 for cron
    run = run_cli("risk", db=db, cwd=cwd)
    assert run.returncode == 1 and run.stdout.splitlines() == [
        "per_order max_order_notional 1000 on account main",
        "near max_position 10 on instrument BTC-USDT: 8 of 10 (80%)",
    ], run.describe()
    # And with a threshold of 0.9 it is ok: exit 0
    run = run_cli("risk", "--threshold", "0.9", "--json", db=db, cwd=cwd)
    assert run.returncode == 0 and [r["status"] for r in json.loads(run.stdout)] == ["per_order", "ok"]
    # When watched, it reports the near limit, then, once 3 more are bought (8 + 3 = 11 > 10),
    # the breach: one JSON line per change (waiting on the lines, not on the clock)
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent), "ORDERLEDGER_DATABASE_URL": db}
    command = [sys.executable, "-m", "orderledger", "risk", "--watch", "--json", "--interval", "0.05"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=cwd, text=True) as watcher:
        try:
            assert watcher.stdout is not None
            first = json.loads(watcher.stdout.readline())
            assert (first["status"], first["figure"]) == ("near", "8")
            (tmp_path / "more.jsonl").write_text(
                "".join(json.dumps(m) + "\n" for m in _fill("b2", "buy", "3", 1))
            )
            assert run_cli("ingest", "more.jsonl", db=db, cwd=cwd).returncode == 0
            second = json.loads(watcher.stdout.readline())
            assert (second["status"], second["kind"], second["figure"]) == ("breached", "max_position", "11")
        finally:
            watcher.send_signal(signal.SIGINT)
            watcher.wait()


def test_risk_shows_the_days_drawdown(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given at most 40 USDT of drawdown, and today (the CLI reads the wall clock) 10 BTC bought
    # at 100, marked at 106 then at 102
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def ts(n: int) -> str:
        return (today + timedelta(microseconds=n)).isoformat()

    set_limit = ("limit", "set", "account", "main", "max_drawdown", "40", "--by", "a")
    assert run_cli(*set_limit, db=db, cwd=cwd).returncode == 0
    book = {"venue": "x", "account": "main", "instrument": "BTC-USDT"}
    marks = [
        {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": p, "ts": ts(n)}
        for p, n in (("106", 3), ("102", 4))
    ]
    lines = [
        {"type": "request", "client_order_id": "b1", **book, "side": "buy", "order_type": "limit",
         "quantity": "10", "price": "100", "ts": ts(1)},
        {"type": "fill", "client_order_id": "b1", "trade_id": "t-b1", "quantity": "10", "price": "100",
         "ts": ts(2)},
        *marks,
    ]  # fmt: skip
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    assert run_cli("ingest", "in.jsonl", db=db, cwd=cwd).returncode == 0
    # Then the day's P&L rose to (106 − 100) × 10 = 60 and stands at (102 − 100) × 10 = 20: a
    # drawdown of 40, at the limit (near); risk exits 1
    run = run_cli("risk", db=db, cwd=cwd)
    assert run.returncode == 1 and run.stdout.splitlines() == [
        "near max_drawdown 40 on account main: 40 of 40 (100%)"
    ], run.describe()
    # When marked at 101: 60 − 10 = 50 > 40, breached
    late = {"type": "mark", "venue": "x", "instrument": "BTC-USDT", "price": "101", "ts": ts(5)}
    (tmp_path / "more.jsonl").write_text(json.dumps(late) + "\n")
    assert run_cli("ingest", "more.jsonl", db=db, cwd=cwd).returncode == 0
    run = run_cli("risk", "--json", db=db, cwd=cwd)
    [row] = json.loads(run.stdout)
    assert (row["status"], row["kind"], row["figure"]) == ("breached", "max_drawdown", "50")


def test_reduce_only_counts_the_open_sells_through_the_cli(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given long 1 (bought at 100), a sale of 1 open, and the account reduce-only
    order = {"venue": "x", "account": "main", "instrument": "BTC-USDT", "order_type": "limit", "price": "100"}
    lines = [
        {"type": "request", "client_order_id": "b1", "side": "buy", "quantity": "1", **order},
        {"type": "fill", "client_order_id": "b1", "trade_id": "t1", "quantity": "1", "price": "100"},
        {"type": "request", "client_order_id": "s1", "side": "sell", "quantity": "1", **order},
    ]
    stamped = [{**line, "ts": f"2025-03-03T09:0{n}:00Z"} for n, line in enumerate(lines)]
    assert (
        run_cli(
            "ingest", "-", stdin="".join(json.dumps(x) + "\n" for x in stamped), db=db, cwd=cwd
        ).returncode
        == 0
    )
    assert (
        run_cli(
            "reduce-only", "--account", "main", "--by", "alice", "--reason", "review", db=db, cwd=cwd
        ).returncode
        == 0
    )
    # Then a second sale of 1 is denied (exit 1): with the open one filled, 1 − 1 − 1 = −1
    sell = json.dumps({**order, "side": "sell", "quantity": "1"})
    run = run_cli("check", sell, db=db, cwd=cwd)
    assert run.returncode == 1 and run.stdout.splitlines() == [
        "denied",
        "  reduce-only: the position 1 would become -1 with the 1 open to sell filled (0 left to reduce)"
        " (set by alice: review)",
    ], run.describe()
    # And when the open sale is cancelled, the same sale is allowed (exit 0): 1 to reduce
    cancel = {"type": "canceled", "client_order_id": "s1", "ts": "2025-03-03T09:05:00Z"}
    assert run_cli("ingest", "-", stdin=json.dumps(cancel) + "\n", db=db, cwd=cwd).returncode == 0
    run = run_cli("check", sell, db=db, cwd=cwd)
    assert run.returncode == 0 and run.stdout == "allowed\n", run.describe()


def test_a_halt_or_resume_of_every_account_is_said_in_so_many_words(
    file_ledger_url: str, tmp_path: Path
) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given main resumed by bob
    assert run_cli("resume", "--account", "main", "--by", "bob", db=db, cwd=cwd).returncode == 0
    # When halt, reduce-only or resume is given no account: refused in one line, nothing set
    for command in ("halt", "reduce-only", "resume"):
        run = run_cli(command, "--by", "ops", db=db, cwd=cwd)
        assert run.returncode == 2 and run.stderr_lines == [
            f"orderledger: {command} without --account sets every account's state:"
            " name an --account, or say --all-accounts"
        ], run.describe()
    run = run_cli("halt", "--account", "main", "--all-accounts", "--by", "ops", db=db, cwd=cwd)
    assert run.returncode == 2 and run.stderr_lines == [
        "orderledger: halt: --account and --all-accounts are two different things; give one"
    ], run.describe()
    assert [s["account"] for s in cli_json("state", "--json", db=db, cwd=cwd)] == ["main"]
    # When every account is halted, said so
    run = run_cli("halt", "--all-accounts", "--by", "ops", "--reason", "venue incident", db=db, cwd=cwd)
    assert run.returncode == 0 and run.stdout == "every account: halted (set by ops)\n", run.describe()
    # Then main, whose own state is active, is shown halted, from the global state: in the
    # table and in the JSON, as its checks are denied
    every, main = cli_json("state", "--json", db=db, cwd=cwd)
    assert (every["account"], every["state"], every["effective_state"], every["effective_from"]) == (
        "", "halted", "halted", "global"
    )  # fmt: skip
    assert (main["account"], main["state"], main["effective_state"], main["effective_from"]) == (
        "main", "active", "halted", "global"
    )  # fmt: skip
    table = run_cli("state", db=db, cwd=cwd, env={"COLUMNS": "200"}).stdout.splitlines()
    assert [[cell.strip() for cell in line.split("  ") if cell.strip()][:2] for line in table[3:]] == [
        ["(every account)", "halted"], ["main", "halted (global); own active"]
    ], table  # fmt: skip
    run = run_cli("check", ORDER, db=db, cwd=cwd)
    assert run.returncode == 1 and "trading is halted (set by ops: venue incident)" in run.stdout


def test_verify_holds_on_a_ledger_of_limits_and_trading_states(file_ledger_url: str, tmp_path: Path) -> None:
    """Limits and trading states are facts on aggregates of their own, not orders: verify, full and
    incremental, reads each stored under its fact's ID (it once reported every one misfiled)."""
    db, cwd = file_ledger_url, tmp_path
    # Given a limit set, a halt, a resumption and a limit cleared: four facts, none an order's
    steps = [
        ("limit", "set", "account", "main", "max_order_notional", "250", "--by", "alice"),
        ("halt", "--account", "main", "--by", "alice", "--reason", "flash crash"),
    ]
    for step in steps:
        assert run_cli(*step, db=db, cwd=cwd).returncode == 0
    # Then verify holds, whole and from the anchor the first one left
    run = run_cli("verify", "--full", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    assert run_cli("head", db=db, cwd=cwd).returncode == 0
    for step in [
        ("resume", "--account", "main", "--by", "bob"),
        ("limit", "set", "tag", "strategy=mm", "max_orders", "3", "--interval", "60", "--by", "bob"),
        ("limit", "clear", "account", "main", "max_order_notional", "--by", "bob"),
    ]:
        assert run_cli(*step, db=db, cwd=cwd).returncode == 0
    run = run_cli("verify", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    run = run_cli("verify", "--full", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()


def test_ingest_denies_a_request_of_ours_on_a_halted_account(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given the account halted by alice
    assert (
        run_cli("halt", "--account", "main", "--by", "alice", "--reason", "x", db=db, cwd=cwd).returncode == 0
    )
    request = {"type": "request", "client_order_id": "c-1", **json.loads(ORDER), "ts": "2025-03-03T09:00:00Z"}
    (tmp_path / "in.jsonl").write_text(json.dumps(request) + "\n")
    # When a request of ours is ingested
    run = run_cli("ingest", "in.jsonl", db=db, cwd=cwd)
    # Then it is denied (exit 1, saying why), no order exists, and the journal says denied
    assert run.returncode == 1, run.describe()
    assert run.stderr_lines == ["line 1: denied: trading is halted (set by alice: x)"], run.describe()
    assert "0 applied" in run.stdout and "1 denied" in run.stdout
    assert cli_json("orders", "--json", db=db, cwd=cwd) == []
    denied = cli_json("messages", "--outcome", "denied", "--json", db=db, cwd=cwd)  # one JSON line
    assert (denied["client_order_id"], denied["reason"]) == ("c-1", "trading is halted (set by alice: x)")
    # And with an override by carol it is recorded, who and why in the journal
    override = {"by": "carol", "reason": "client hedge"}
    (tmp_path / "in.jsonl").write_text(json.dumps({**request, "override": override}) + "\n")
    assert run_cli("ingest", "in.jsonl", db=db, cwd=cwd).returncode == 0
    [order] = cli_json("orders", "--json", db=db, cwd=cwd)
    assert order["client_order_id"] == "c-1"
    assert run_cli("verify", "--full", db=db, cwd=cwd).returncode == 0


def test_a_state_and_a_limit_dated_in_the_future_are_scheduled(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given a halt and a limit of 5 a venue dated 2099
    later = {"set_by": "venue", "ts": "2099-01-01T00:00:00Z"}
    facts = [
        {"type": "trading_state", "account": "main", "state": "halted", **later},
        {"type": "limit_set", "scope": "account", "target": "main", "kind": "max_order_notional",
         "value": "5", **later},
    ]  # fmt: skip
    (tmp_path / "facts.jsonl").write_text("".join(json.dumps(f) + "\n" for f in facts))
    assert run_cli("ingest", "facts.jsonl", db=db, cwd=cwd).returncode == 0
    # Then state and limits show them as scheduled from 2099, not in force
    [state] = cli_json("state", "--json", db=db, cwd=cwd)
    assert (state["state"], state["since"], state["scheduled"]) == (
        "halted",
        "2099-01-01T00:00:00.000000Z",
        True,
    )
    [limit] = cli_json("limits", "--json", db=db, cwd=cwd)
    assert (limit["value"], limit["scheduled"]) == ("5", True)
    run = run_cli("state", db=db, cwd=cwd)
    assert "2099-01-01T00:00:00.000000Z (scheduled)" in run.stdout, run.describe()
    # And the check agrees: 3 × 100 = 300 is allowed now (neither is in force)
    assert run_cli("check", ORDER, db=db, cwd=cwd).stdout == "allowed\n"
    # And as of 2099-06-01 both are in force: the check there would deny it
    [then] = cli_json("state", "--json", "--as-of", "2099-06-01T00:00:00Z", db=db, cwd=cwd)
    assert (then["state"], then["scheduled"]) == ("halted", False)
    # And a halt now is in force at once: state shows it halted, not the scheduled one's
    assert run_cli("halt", "--account", "main", "--by", "alice", db=db, cwd=cwd).returncode == 0
    now, later = cli_json("state", "--json", db=db, cwd=cwd)
    assert (now["set_by"], now["scheduled"], later["set_by"], later["scheduled"]) == (
        "alice",
        False,
        "venue",
        True,
    )


def test_a_limits_response_and_a_cooldown_through_the_cli(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given a daily loss limit answered by a halt
    run = run_cli(
        "limit", "set", "account", "main", "max_daily_loss", "50", "--response", "halt", "--by", "alice",
        db=db, cwd=cwd,
    )  # fmt: skip
    assert run.returncode == 0, run.describe()
    [limit] = cli_json("limits", db=db, cwd=cwd)
    assert (limit["kind"], limit["response"]) == ("max_daily_loss", "halt")
    # And a response on a kind that takes none is one line, and sets nothing
    run = run_cli(
        "limit", "set", "account", "main", "max_position", "5", "--response", "halt", db=db, cwd=cwd
    )
    assert assert_one_line_failure(run) == (
        "orderledger: only a max_daily_loss or max_drawdown limit being set takes response"
    )
    assert len(cli_json("limits", db=db, cwd=cwd)) == 1
    # When main is halted for 30 minutes
    run = run_cli("halt", "--account", "main", "--for", "30m", "--by", "ops", db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    [state] = cli_json("state", db=db, cwd=cwd)
    # Then it ends 30 minutes after it was set, and the line said when
    since, until = datetime.fromisoformat(state["ts_event"]), datetime.fromisoformat(state["until"])
    assert (state["state"], until - since) == ("halted", timedelta(minutes=30))
    assert run.stdout == f"main: halted until {state['until']} (set by ops)\n"
    # And --for with --until is refused in one line
    run = run_cli("halt", "--account", "main", "--for", "1h", "--until", state["until"], db=db, cwd=cwd)
    assert "give one" in assert_one_line_failure(run)


def _loss_of_60(today: str) -> str:
    """10 BTC bought at 100 and sold at 94 on main today, as a venue reports them (external
    requests: facts the door never refuses): realized (94 − 100) × 10 = −60."""
    lines = []
    for cid, side, price in (("b1", "buy", "100"), ("s1", "sell", "94")):
        request = {
            "type": "request",
            "client_order_id": cid,
            "venue": "x",
            "account": "main",
            "external": True,
        }
        request |= {"instrument": "BTC-USDT", "side": side, "order_type": "limit", "quantity": "10"}
        fill = {"type": "fill", "client_order_id": cid, "trade_id": f"t-{cid}", "quantity": "10"}
        lines += [{**request, "price": price, "ts": today}, {**fill, "price": price, "ts": today}]
    return "".join(json.dumps(line) + "\n" for line in lines)


@pytest.mark.parametrize(("response", "state"), [(None, "reduce_only"), ("halt", "halted")])
def test_a_daily_loss_sets_the_response_it_names_citing_the_limit_through_the_cli(
    file_ledger_url: str, tmp_path: Path, response: str | None, state: str
) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given at most 50 lost a day on main (the log's first event), answered by its response
    answer = ["--response", response] if response else []
    run = run_cli(
        "limit", "set", "account", "main", "max_daily_loss", "50", *answer, "--by", "alice", db=db, cwd=cwd
    )
    assert run.returncode == 0, run.describe()
    [limit] = cli_json("limits", "--json", db=db, cwd=cwd)
    cites = f"max_daily_loss 50 on account main (limit event 1, set by alice at {limit['ts_event']}): is 60"
    # When a loss of 60 > 50 is ingested (the day of the ledger's clock: now)
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run = run_cli("ingest", "-", stdin=_loss_of_60(today), db=db, cwd=cwd)
    assert run.returncode == 0, run.describe()
    # Then the sale's commit set the account to the response, citing the limit's event
    [row] = cli_json("state", "--json", db=db, cwd=cwd)
    assert (row["state"], row["set_by"], row["reason"]) == (state, "max_daily_loss", cites)
    # When a person resumes the account, still past its limit, and an order that adds is checked
    assert run_cli("resume", "--account", "main", "--by", "bob", db=db, cwd=cwd).returncode == 0
    run = run_cli("check", ORDER, db=db, cwd=cwd)
    # Then it is denied, and the daily loss rule sets the same response, citing the same event
    assert run.returncode == 1 and "max_daily_loss 50 on account main: would be 60" in run.stdout, (
        run.describe()
    )
    [row] = cli_json("state", "--json", db=db, cwd=cwd)
    assert (row["state"], row["set_by"], row["reason"]) == (state, "max_daily_loss", cites)


def test_denials_lists_the_breaches_recorded_as_facts(file_ledger_url: str, tmp_path: Path) -> None:
    db, cwd = file_ledger_url, tmp_path
    # Given orders of at most 250 on account main
    assert run_cli("limit", "set", "account", "main", "max_order_notional", "250", "--by", "alice",
                   db=db, cwd=cwd).returncode == 0  # fmt: skip
    # When a request of ours for 3 × 100 = 300 is ingested, and the venue reports an order
    # placed elsewhere of the same size
    ours = {"type": "request", "client_order_id": "c-1", "ts": "2025-03-03T11:59:30Z", **json.loads(ORDER)}
    venue = {**ours, "client_order_id": "v-1", "external": True, "venue_order_id": "9"}
    denied = run_cli("ingest", "-", db=db, cwd=cwd, stdin=json.dumps(ours) + "\n")
    flagged = run_cli("ingest", "-", db=db, cwd=cwd, stdin=json.dumps(venue) + "\n")
    # Then ours is denied (exit 1), the venue's recorded and counted as flagged (exit 0)
    assert denied.returncode == 1 and "1 denied" in denied.stdout, denied.describe()
    assert flagged.returncode == 0 and "1 applied" in flagged.stdout, flagged.describe()
    assert "1 flagged" in flagged.stdout, flagged.describe()
    # And denials lists both, each breach with its figure and the limit event it applied
    rows = cli_json("denials", db=db, cwd=cwd)
    assert [(r["action"], r["client_order_id"]) for r in rows] == [("denied", "c-1"), ("flagged", "v-1")]
    assert {(b["limit"], b["value"], b["figure"], b["cites_event"]) for r in rows for b in r["breaches"]} == {
        ("max_order_notional", "250", "300", "LimitSet")
    }
    assert cli_json("denials", "--limit", "max_position", db=db, cwd=cwd) == []
    assert [r["client_order_id"] for r in cli_json("denials", "--account", "main", "--last", "1",
                                                   db=db, cwd=cwd)] == ["v-1"]  # fmt: skip
    # For people, a table
    table = run_cli("denials", db=db, cwd=cwd)
    assert table.returncode == 0 and "flagged" in table.stdout and "c-1" in table.stdout, table.describe()
    # And a bad --last is one line
    assert "last must be 1 to 5000" in assert_one_line_failure(
        run_cli("denials", "--last", "0", db=db, cwd=cwd)
    )
