"""``orderledger exposure`` through the real CLI on SQLite and PostgreSQL: the desk of
``tests/support/exposure.py`` (every figure worked out by hand there) as JSON for machines and as
a table for people; a bad ``--by`` or ``--mark`` is one line on stderr and leaves the ledger as
it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import assert_one_line_failure, cli_json, jsonl, parse_ingest, run_cli, write_lines
from tests.support.exposure import BTC_ACROSS_ACCOUNTS, BY_ACCOUNT, DESK, exact, expected


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """The file backends the CLI opens (overrides tests/conftest.py's, which adds memory)."""
    return str(request.param)


@pytest.fixture
def desk(file_ledger_url: str, tmp_path: Path) -> str:
    run = run_cli(
        "ingest", str(write_lines(tmp_path / "desk.jsonl", jsonl(*DESK))), db=file_ledger_url, cwd=tmp_path
    )
    assert parse_ingest(run.stdout).counts["applied"] == len(DESK), run.describe()
    return file_ledger_url


def test_exposure_by_account_and_across_accounts_as_json(desk: str, tmp_path: Path) -> None:
    per_account = cli_json("exposure", "--by", "account,underlying", db=desk, cwd=tmp_path)
    across = cli_json("exposure", "--by", "underlying", db=desk, cwd=tmp_path)
    assert [exact(row) for row in per_account] == expected(BY_ACCOUNT)
    assert exact(across[0]) == expected([BTC_ACROSS_ACCOUNTS])[0]


def test_the_table_shows_net_values_and_worst_cases_per_account(desk: str, tmp_path: Path) -> None:
    run = run_cli("exposure", db=desk, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    lines = run.stdout.splitlines()
    assert lines[0] == "exposure (3)"
    assert lines[1].split() == [
        "account", "underlying", "net", "net_value", "gross_value", "options", "worst-long", "worst-short",
        "unmapped", "unpriced",
    ]  # fmt: skip
    # alpha BTC: net 3, 186050 USDT (gross the same: both legs long), 1 of it options, worst long
    # 4, worst short 1
    assert lines[3].split() == [
        "alpha", "BTC", "3.00000", "186050", "USDT", "186050", "USDT", "1", "4.00000", "1.00000"
    ]  # fmt: skip
    # alpha ETH-USDT: no definition (its own underlying) and no mark (no value): both said
    assert lines[4].split() == [
        "alpha", "ETH-USDT", "10.00000", "0", "10.00000", "10.00000", "spot-a:ETH-USDT", "spot-a:ETH-USDT"
    ]  # fmt: skip
    # beta BTC: −1.5 + 0.96875 = −0.53125; 62000 USD and −93150 USDT, gross 62000 USD and
    # |−93150| = 93150 USDT
    assert lines[5].split() == [
        "beta", "BTC", "-0.53125", "62000", "USD", "-93150", "USDT", "62000", "USD", "93150", "USDT", "0",
        "-0.03125", "-3.53125",
    ]  # fmt: skip


def test_exposure_as_of_a_past_time(desk: str, tmp_path: Path) -> None:
    # Given the desk (its fills done by 10:00:02 venue time), and alpha's open bid of 1 BTC/USDT
    # at 59000 filled at 11:00
    fill = {"type": "fill", "client_order_id": "a-bid", "trade_id": "t-a-bid", "quantity": "1"}
    late = write_lines(
        tmp_path / "late.jsonl", jsonl({**fill, "price": "59000", "ts": "2026-11-20T11:00:00Z"})
    )
    assert run_cli("ingest", str(late), db=desk, cwd=tmp_path).returncode == 0
    # Then now alpha holds 2 + 1 = 3 BTC/USDT and a call: 4 BTC, and no bid is open
    [alpha, *_] = cli_json("exposure", db=desk, cwd=tmp_path)
    assert (exact(alpha["net_units"]), exact(alpha["open_long_units"])) == (4, 0)
    # And as of 10:30 venue time the desk stands as worked out in tests/support/exposure.py
    then = cli_json("exposure", "--as-of", "2026-11-20T10:30:00Z", "--event-time", db=desk, cwd=tmp_path)
    assert [exact(row) for row in then] == expected(BY_ACCOUNT)
    # And as recorded before anything was, there is no exposure
    assert cli_json("exposure", "--as-of", "2001-01-01T00:00:00Z", db=desk, cwd=tmp_path) == []
    # And a time that is not one is one line
    line = assert_one_line_failure(run_cli("exposure", "--as-of", "soon", db=desk, cwd=tmp_path), 2)
    assert "--as-of" in line, line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--by", "account"), "orderledger: --by: exposure is per underlying; include underlying"),
        (("--by", "desk,underlying"), "orderledger: --by: 'desk' is not one of account, venue, underlying"),
        (("--mark", "SOL=1"), "orderledger: mark SOL: no position or open order in that instrument"),
        (("--mark", "BTCUSD=-1"), "orderledger: mark for BTCUSD must be positive, not -1"),
        (("--in-currency", "US D"), "orderledger: --in-currency: the name of one currency, such as USDT"),
    ],
)
def test_a_bad_option_is_one_line_and_stores_nothing(
    desk: str, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    before = run_cli("head", db=desk, cwd=tmp_path).stdout
    line = assert_one_line_failure(run_cli("exposure", *args, db=desk, cwd=tmp_path), 2)
    assert line.startswith(says), line
    assert run_cli("head", db=desk, cwd=tmp_path).stdout == before


def test_the_table_in_one_currency_names_what_has_no_rate(desk: str, tmp_path: Path) -> None:
    # Given the desk, whose beta holds 62000 USD at inv-d with no rate of USD in USDT recorded
    run = run_cli("exposure", "--by", "underlying", "--in-currency", "USDT", db=desk, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    lines = run.stdout.splitlines()
    # Then the table says its currency, and BTC has no figure in it, naming the value without a rate
    assert lines[0] == "exposure (2) in USDT"
    assert lines[1].split()[:5] == ["underlying", "net", "net_value", "gross_value", "net_in"]
    assert lines[3].split()[:6] == ["BTC", "2.46875", "62000", "USD", "92900", "USDT"]
    assert "inv-d:USD" in lines[3].split()
    # When a rate of 0.999 is recorded at inv-d (a mark of USD/USDT)
    rate = {
        "type": "mark",
        "venue": "inv-d",
        "instrument": "USD/USDT",
        "price": "0.999",
        "ts": "2026-11-20T10:00:03Z",
    }
    assert run_cli("ingest", "-", stdin=jsonl(rate)[0] + "\n", db=desk, cwd=tmp_path).returncode == 0
    # Then BTC is 92900 + 62000 × 0.999 = 154838 USDT net and 279200 + 61938 = 341138 gross
    [btc, _] = cli_json("exposure", "--by", "underlying", "--in-currency", "USDT", db=desk, cwd=tmp_path)
    assert (btc["in_currency"], exact(btc["net_in"]), exact(btc["gross_in"]), btc["unconverted"]) == (
        "USDT",
        154838,
        341138,
        [],
    )
