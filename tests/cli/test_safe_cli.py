"""The command is safe with any input and readable by a person (issue 13), run for real.

Each test gives the command something a newcomer (or a hostile file) might give it and checks
what it prints, how it exits, and that nothing stored or on disk changed that was not asked to.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import (
    TIMEOUT,
    assert_one_line_failure,
    cli_command,
    cli_env,
    jsonl,
    live_ingest,
    run_cli,
    run_many,
    write_lines,
)

T = "2026-01-05T10:00:0{}Z"


def _request(coid: str, account: str = "acc1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "request",
        "client_order_id": coid,
        "account": account,
        "venue": "V1",
        "instrument": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "quantity": "2",
        "price": "100",
        "ts": T.format(0),
        **extra,
    }


def _small_ledger(tmp_path: Path) -> str:
    """o-1 bought 2 at 100 (two fills of 1), o-2 resting: a ledger to query."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    lines = jsonl(
        _request("o-1"),
        {
            "type": "fill",
            "client_order_id": "o-1",
            "trade_id": "t-1",
            "quantity": "1",
            "price": "100",
            "ts": T.format(1),
        },
        {
            "type": "fill",
            "client_order_id": "o-1",
            "trade_id": "t-2",
            "quantity": "1",
            "price": "100",
            "ts": T.format(2),
        },
        _request("o-2", ts=T.format(3)),
    )
    run = run_cli("ingest", str(write_lines(tmp_path / "s.jsonl", lines)), db=db, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    return db


READ_ONLY = [
    ("verify",),
    ("order", "o-1"),
    ("orders",),
    ("trades",),
    ("positions",),
    ("pnl",),
    ("history", "o-1"),
    ("messages",),
    ("events",),
    ("export", "trades", "--out", "x.csv"),
]


# ---------------------------------------------------------------------- 1. nothing destroyed or created


def test_export_never_writes_over_the_ledger_and_replaces_a_file_only_with_force(tmp_path: Path) -> None:
    db = _small_ledger(tmp_path)
    ledger_file = tmp_path / "ledger.db"
    before = ledger_file.read_bytes()
    for args in (
        ("export", "trades", "--format", "csv", "--out", str(ledger_file)),
        ("export", "trades", "--format", "csv", "--out", str(ledger_file), "--force"),
        ("export", "trades", "--out", f"{ledger_file}-wal", "--force"),
    ):
        line = assert_one_line_failure(run_cli(*args, db=db, cwd=tmp_path), 2)
        assert "ledger's own database" in line
    assert ledger_file.read_bytes() == before
    assert run_cli("verify", db=db, cwd=tmp_path).returncode == 0

    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    line = assert_one_line_failure(run_cli("export", "trades", "--out", str(other), db=db, cwd=tmp_path), 2)
    assert "--force" in line and other.read_text() == "keep me"
    forced = run_cli("export", "trades", "--out", str(other), "--force", db=db, cwd=tmp_path)
    assert forced.returncode == 0, forced.describe()
    assert [t["trade_id"] for t in map(json.loads, other.read_text().splitlines())] == ["t-1", "t-2"]

    # --out -: the rows on stdout, the status on stderr.
    piped = run_cli("export", "trades", "--format", "csv", "--out", "-", db=db, cwd=tmp_path)
    assert piped.returncode == 0, piped.describe()
    assert piped.stdout.splitlines()[0].startswith("account,venue,instrument")
    assert len(piped.stdout.splitlines()) == 3  # header + t-1 + t-2
    assert piped.stderr == "wrote 2 trades to standard output (csv)\n"


def test_read_only_commands_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for run in run_many(READ_ONLY, db=f"sqlite:///{missing}", cwd=tmp_path):
        line = assert_one_line_failure(run, 2)
        assert "typo.db" in line and "does not exist" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    foreign = tmp_path / "app.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'ada')")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    for run in run_many(READ_ONLY, db=f"sqlite:///{foreign}", cwd=tmp_path):
        assert "not an OrderLedger database" in assert_one_line_failure(run, 2)
    assert foreign.read_bytes() == before  # not even its journal mode changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


@pytest.mark.postgres
def test_a_mistyped_postgresql_schema_is_an_error_not_created(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    base = postgres_url.split("?")[0]
    typo = f"ol_typo_{uuid.uuid4().hex[:12]}"
    url = f"{base}?schema={typo}"
    for run in run_many([("orders",), ("verify",)], db=url, cwd=tmp_path):
        assert "does not exist" in assert_one_line_failure(run, 2)
    with psycopg.connect(base) as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (typo,)).fetchone()
    assert found is None


# ---------------------------------------------------------------------- 2. stored text shown safely

HOSTILE = {
    "markup": "a[/]",
    "bracket": "[x]",
    "style": "acct[red]",
    "bidi": "ab\u202ecd",  # refused in an ID (a format character); kept in the journal as sent
}


def test_markup_escapes_and_bidi_controls_are_shown_verbatim_and_safely(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    lines = jsonl(
        _request(HOSTILE["markup"], account=HOSTILE["style"], tags={"strategy": "[bold]s"}),
        {
            "type": "accepted",
            "client_order_id": HOSTILE["markup"],
            "venue_order_id": "v-1",
            "ts": T.format(1),
        },
        {
            "type": "fill",
            "client_order_id": HOSTILE["markup"],
            "trade_id": HOSTILE["bracket"],
            "quantity": "1",
            "price": "100",
            "ts": T.format(2),
        },
        _request(HOSTILE["bidi"], account=HOSTILE["bidi"]),
        _request("o-2"),
        {
            "type": "rejected",
            "client_order_id": "o-2",
            # free text may hold controls and bidi overrides: shown escaped, never as themselves
            "reason": "no\x1b[2J\x1b]0;pwned\x07 \u202eevil",
            "ts": T.format(3),
        },
    )
    run = run_cli("ingest", str(write_lines(tmp_path / "h.jsonl", lines)), db=db, cwd=tmp_path)
    assert run.returncode == 1, run.describe()  # the request with the bidi ID is rejected
    assert "client_order_id contains a control or invisible character (U+202E)" in run.stdout + run.stderr
    commands = [
        ("orders",),
        ("trades",),
        ("positions", "--mark", "BTC-USD=101"),
        ("pnl", "--by", "tag:strategy"),
        ("pnl", "--by", "account"),
        ("messages",),
        ("events",),
        ("order", HOSTILE["markup"]),
        ("order", "o-2"),
        ("history", HOSTILE["markup"]),
        ("history", HOSTILE["bidi"]),
        ("order", "[nope]\u202e"),
    ]
    runs = run_many(commands, db=db, cwd=tmp_path)
    for done in runs:
        shown = done.stdout + done.stderr
        assert done.returncode in (0, 2) and "internal error" not in shown, done.describe()
        assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown, done.describe()
        assert "Traceback" not in shown
    orders, trades, _, by_tag, by_account, messages, _, one, rejected, *_ = runs
    assert "a[/]" in orders.stdout and "acct[red]" in orders.stdout and "ab\\u202ecd" not in orders.stdout
    assert "[x]" in trades.stdout and "a[/]" in messages.stdout
    assert "(U+202E)" in messages.stdout  # the rejected line's reason
    assert "[bold]s" in by_tag.stdout and "acct[red]" in by_account.stdout
    assert "no\\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil" in rejected.stdout
    assert "a[/]" in one.stdout
    assert "[nope]\\u202e" in runs[-1].stderr and runs[-1].returncode == 2
    # demo runs on the same ledger without failing on what it holds.
    demo = run_cli("demo", db=db, cwd=tmp_path)
    assert demo.returncode == 0 and "\x1b" not in demo.stdout, demo.describe()


# ---------------------------------------------------------------------- 3. options validated


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("order", "o-1", "--version", "0"), "--version"),
        (("order", "o-1", "--version", "-1"), "--version"),
        (("order", "o-1", "--version", str(2**70)), "--version"),
        (("reconcile", "snap.json", "--grace", "inf"), "--grace"),
        (("reconcile", "snap.json", "--grace", "nan"), "--grace"),
        (("reconcile", "snap.json", "--grace", "1e308"), "--grace"),
        (("reconcile", "snap.json", "--grace", "-1"), "--grace"),
        (("project", "--follow", "--interval", "-1"), "--interval"),
        (("project", "--follow", "--interval", "0"), "--interval"),
        (("project", "--follow", "--interval", "nan"), "--interval"),
        (("orders", "--limit", "-1"), "--limit"),
        (("orders", "--limit", "0"), "--limit"),
        (("messages", "--limit", "0"), "--limit"),
        (("trades", "--since", "2026-01-06T00:00:00Z", "--until", "2026-01-05T00:00:00Z"), "after --until"),
        (("events", "--since", "tomorrow"), "--since"),
        (("orders", "--sort", "sideways"), "--sort"),
        (("positions", "--mark", "DOGE-USD=1"), "no position"),
        (("positions", "--mark", "BTC-USD=3_100"), "not a decimal"),
        (("positions", "--mark", "BTC-USD=３１００"), "not a decimal"),
        (("positions", "--mark", "BTC-USD= 3100"), "not a decimal"),
        (("messages", "--older-than", "10m"), "--parked"),
        (("messages", "--parked", "--older-than", "soon"), "--older-than"),
        (("demo", "--orders", "0"), "--orders"),
        (("export", "trades", "--format", "xml", "--out", "t.xml"), "--format"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_every_option_is_validated_with_one_line(
    small: str, small_dir: Path, args: tuple[str, ...], words: str
) -> None:
    line = assert_one_line_failure(run_cli(*args, db=small, cwd=small_dir), 2)
    assert words in line and "internal error" not in line


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    (folder / "snap.json").write_text('{"venue": "V1", "account": "acc1", "open_orders": []}')
    return folder


@pytest.fixture(scope="module")
def small(small_dir: Path) -> str:
    return _small_ledger(small_dir)


def test_decimals_accept_only_the_documented_form(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    lines = jsonl(
        *(_request(f"q-{i}", quantity=q) for i, q in enumerate(["3_100", "３１００", " 3100", "3100"]))
    )
    run = run_cli("ingest", str(write_lines(tmp_path / "q.jsonl", lines)), db=db, cwd=tmp_path)
    assert run.returncode == 1
    assert [line.split(":")[0] for line in run.stderr_lines] == ["line 1", "line 2", "line 3"]
    orders = run_cli("orders", "--json", db=db, cwd=tmp_path).json()
    assert [(o["client_order_id"], o["quantity"]) for o in orders] == [("q-3", "3100")]


# ---------------------------------------------------------------------- 5. interrupted ingest


def _send(process: subprocess.Popen[bytes], *messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Write lines and read back their acks (each sent only once it is durable)."""
    assert process.stdin is not None and process.stdout is not None
    for line in jsonl(*messages):
        process.stdin.write(line.encode() + b"\n")
    process.stdin.flush()
    return [json.loads(process.stdout.readline()) for _ in messages]


def test_ctrl_c_during_ingest_says_what_was_kept(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    process = live_ingest(db, tmp_path)
    acks = _send(process, _request("o-1"), _request("o-2"))
    assert [a["outcome"] for a in acks] == ["applied", "applied"]
    process.send_signal(signal.SIGINT)
    # Input stays open: the interrupt alone must end the run (closing it first would race an
    # end of input against the signal).
    assert process.wait(timeout=TIMEOUT) == 130
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stderr = process.stderr.read()
    for pipe in (process.stdin, process.stdout, process.stderr):
        pipe.close()
    assert stderr.decode().splitlines() == [
        "orderledger: interrupted: 2 lines (up to line 2) were committed and are kept;"
        " re-running the same input is safe (stored lines come back as duplicates)"
    ]
    assert [o["client_order_id"] for o in run_cli("orders", "--json", db=db, cwd=tmp_path).json()] == [
        "o-1",
        "o-2",
    ]


def test_a_lock_timeout_part_way_says_the_earlier_batches_were_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    db = f"sqlite:///{path}?busy_timeout=0"
    process = live_ingest(db, tmp_path)
    assert [a["outcome"] for a in _send(process, _request("o-1"))] == ["applied"]
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        _, stderr = process.communicate(jsonl(_request("o-2"))[0].encode() + b"\n", timeout=TIMEOUT)
        lines = stderr.decode().splitlines()
    finally:
        holder.rollback()
        holder.close()
    assert process.returncode == 2
    assert len(lines) == 1 and "locked" in lines[0], lines
    assert lines[0].endswith(
        ": 1 lines (up to line 1) were committed and are kept;"
        " re-running the same input is safe (stored lines come back as duplicates)"
    )
    assert [o["client_order_id"] for o in run_cli("orders", "--json", db=db, cwd=tmp_path).json()] == ["o-1"]


# ---------------------------------------------------------------------- 4. tables for people


def test_tables_fit_80_columns_with_numbers_aligned_and_a_hint(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run_cli("demo", db=db, cwd=tmp_path).returncode == 0
    env = cli_env(COLUMNS="80")
    # (`events` is a one-line-per-event stream whose payload runs on, as grep and less -S expect.)
    for args in (
        ("positions", "--mark", "BTC-USDT=64000"),
        ("orders",),
        ("trades",),
        ("messages",),
    ):
        run = subprocess.run(
            cli_command(*args, db=db), cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stderr
        assert all(len(line) <= 80 for line in run.stdout.splitlines()), (args, run.stdout[:2000])
        assert all(len(line) <= 80 for line in run.stderr.splitlines()), (args, run.stderr)
    positions = subprocess.run(
        cli_command("positions", db=db), cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert "--json or a wider terminal shows them" in positions.stderr
    body = positions.stdout.splitlines()[3:]
    # quantity is the 4th column: right-aligned, one precision (the demo's quantities need 4 places).
    ends = {line.index(line.split()[3]) + len(line.split()[3]) for line in body}
    assert len(ends) == 1
    assert all(len(line.split()[3].split(".")[1]) == 4 for line in body)


def test_limit_sort_and_time_range_select_rows(small: str, small_dir: Path) -> None:
    def ids(*args: str) -> list[str]:
        return [r["client_order_id"] for r in run_cli(*args, "--json", db=small, cwd=small_dir).json()]

    assert ids("orders") == ["o-1", "o-2"]
    assert ids("orders", "--sort", "newest") == ["o-2", "o-1"]
    assert ids("orders", "--limit", "1", "--sort", "newest") == ["o-2"]
    trades = run_cli("trades", "--since", T.format(2), "--json", db=small, cwd=small_dir).json()
    assert [t["trade_id"] for t in trades] == ["t-2"]
    events = run_cli("events", "--sort", "newest", "--limit", "2", "--json", db=small, cwd=small_dir)
    assert [json.loads(line)["position"] for line in events.stdout.splitlines()] == [4, 3]
    table = run_cli("messages", "--limit", "1", db=small, cwd=small_dir)
    assert table.returncode == 0 and "#" not in table.stdout
    assert table.stdout.splitlines()[3].split()[0] == "4"  # newest first: message 4 of 4
    assert "--limit 1" in table.stderr


# ---------------------------------------------------------------------- 7. smaller fixes


def test_db_after_the_subcommand_bare_usage_and_help(small: str, small_dir: Path) -> None:
    after = run_cli("orders", "--json", "--db", small, db=None, cwd=small_dir)
    assert [o["client_order_id"] for o in after.json()] == ["o-1", "o-2"]
    bare = run_cli(db=None, cwd=small_dir)
    assert bare.returncode == 0 and bare.stdout.startswith("Usage:") and bare.stderr == "", bare.describe()
    helped = run_cli("orders", "--help", db=None, cwd=small_dir)
    assert "--open" in helped.stdout and "<bool>" not in helped.stdout


def test_simulate_writes_what_the_demo_ingests_and_demo_refuses_a_second_seed(tmp_path: Path) -> None:
    simulated = run_cli("simulate", "--seed", "3", "--orders", "10", db=None, cwd=tmp_path)
    assert simulated.returncode == 0 and simulated.stderr == ""
    lines = simulated.stdout.splitlines()
    assert all(json.loads(line)["type"] for line in lines)
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert run_cli("ingest", "-", db=db, cwd=tmp_path, stdin=simulated.stdout).returncode == 0
    before = run_cli("orders", "--json", db=db, cwd=tmp_path).json()
    line = assert_one_line_failure(run_cli("demo", "--seed", "4", "--orders", "10", db=db, cwd=tmp_path), 2)
    assert "another simulated session" in line
    assert run_cli("demo", "--seed", "3", "--orders", "10", db=db, cwd=tmp_path).returncode == 0
    line = assert_one_line_failure(run_cli("demo", "--seed", "5", "--orders", "10", db=db, cwd=tmp_path), 2)
    assert "demo:seed=3" in line
    assert run_cli("orders", "--json", db=db, cwd=tmp_path).json() == before


def test_the_demo_runs_without_the_dev_extra(tmp_path: Path) -> None:
    blocked = ("pytest", "hypothesis", "freezegun", "ccxt", "pyarrow", "cryptography", "mypy", "ruff")
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None  # import fails, as if not installed\n"
        f"sys.argv = ['orderledger', '--db', {'sqlite:///' + str(tmp_path / 'd.db')!r}, 'demo']\n"
        "from orderledger.infrastructure.cli.main import main\nmain()\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=cli_env(), capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and "Simulated session (seed 7)" in run.stdout, run.stderr


def test_messages_parked_too_long_exit_1_for_monitoring(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    orphan = {
        "type": "fill",
        "client_order_id": "later",
        "trade_id": "t-9",
        "quantity": "1",
        "price": "1",
        "ts": T.format(0),
    }
    assert run_cli("ingest", "-", db=db, cwd=tmp_path, stdin=jsonl(orphan)[0]).returncode == 0
    fresh = run_cli("messages", "--parked", "--older-than", "10m", "--json", db=db, cwd=tmp_path)
    assert (fresh.returncode, fresh.stdout) == (0, "")  # parked a moment ago: not too long yet
    old = run_cli("messages", "--parked", "--older-than", "0s", "--json", db=db, cwd=tmp_path)
    assert old.returncode == 1
    assert [json.loads(line)["client_order_id"] for line in old.stdout.splitlines()] == ["later"]
