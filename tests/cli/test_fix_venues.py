"""FIX as venues write it, through the real ``orderledger`` command on SQLite and PostgreSQL.

Message shapes: NASDAQ's "INET FIX Interface Specification" (FIX 4.2; every message the venue
sends carries SenderCompID INET) and the Zero Hash FIX API specification (FIX 4.2 with the
custom tag 43229 FractionBase; its published examples are quoted below, from the public
repository klfsecond/poc-zh-fix-spec, source/index.html.md). Lines are framed by
:mod:`tests.support.fixlog` (true BodyLength and CheckSum), one or several messages a line.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from orderledger.infrastructure.adapters.declared import load
from orderledger.infrastructure.adapters.venue_registry import formats
from tests.support.cli import ROOT, cli_json, run_cli
from tests.support.fixlog import Session, fix_text
from tests.support.http_api import running_server


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL (``file_ledger_url`` reads this)."""
    return str(request.param)


def inet() -> Session:
    return Session(sender="INET", target="DSK1", begin="FIX.4.2", sep="|", style="bare")


def new_report(session: Session, clordid: str, order_id: str, quantity: str) -> str:
    """INET's New (150=0) for a limit buy of AAPL at 150, IOC."""
    return session.text(
        "20261120-14:30:00.001",
        f"35=8|1=ACC1|11={clordid}|17={order_id}-0|20=0|37={order_id}|39=0|150=0|55=AAPL|54=1|"
        f"38={quantity}|40=2|44=150|59=3|14=0|6=0|151={quantity}|60=20261120-14:30:00.000",
    )


def ingest(tmp_path: Path, db: str, text: str, *options: str) -> tuple[int, str, str]:
    path = tmp_path / "session.log"
    path.write_text(text)
    run = run_cli("ingest", str(path), "--format", "fix", "--venue", "inet", *options, db=db, cwd=tmp_path)
    return run.returncode, run.stdout, run.stderr


def test_a_refused_message_leaves_the_others_of_its_line_booked(file_ledger_url: str, tmp_path: Path) -> None:
    """One line, two execution reports: a good New, then a fill of 150 on an order of 100. The
    New is booked (request and acknowledgement); the overfill alone is refused; the line's
    journal row is `rejected` and its reason gives every message's fate."""
    session = inet()
    overfill = session.text(
        "20261120-14:30:00.002",
        "35=8|1=ACC1|11=OF-1|17=X-1|20=0|37=8001|39=2|150=2|55=AAPL|54=1|38=100|40=2|44=150|"
        "32=150|31=150|14=150|6=150|151=0|60=20261120-14:30:00.001",
    )
    code, _, stderr = ingest(
        tmp_path, file_ledger_url, new_report(session, "OF-1", "8001", "100") + overfill + "\n"
    )
    assert code == 1, stderr
    # The New's two ledger messages (request, accepted) are applied; the fill (the third) is not.
    [order] = cli_json("orders", db=file_ledger_url, cwd=tmp_path)
    assert (order["client_order_id"], order["status"], order["venue_order_ids"]) == (
        "OF-1",
        "accepted",
        ["8001"],
    )
    assert order["filled_quantity"] == "0"  # 150 > 100: nothing of the overfill is booked
    [row] = [
        json.loads(line)
        for line in run_cli("messages", "--json", db=file_ledger_url, cwd=tmp_path).stdout.splitlines()
    ]
    assert row["outcome"] == "rejected" and row["events"] == 2  # OrderRequested, OrderAccepted
    assert row["reason"].startswith("messages 1, 2 of 3 applied; message 3 of 3 rejected: ")
    assert row["reason"].endswith("(overfill)")
    # verify finds the journal consistent with the log: a rejected line may name the events
    # of the messages its reason says were applied.
    verified = run_cli("verify", db=file_ledger_url, cwd=tmp_path)
    assert verified.returncode == 0, verified.describe()
    # --strict keeps its meaning: the same line stores nothing.
    again = tmp_path / "strict"
    again.mkdir()
    strict_db = f"sqlite:///{again / 'strict.db'}"
    code, _, stderr = ingest(
        again, strict_db, new_report(inet(), "OF-1", "8001", "100") + overfill + "\n", "--strict"
    )
    assert code == 1 and "nothing from this input was stored" in stderr
    assert cli_json("orders", db=strict_db, cwd=again) == []


def test_an_order_id_changed_unasked_is_booked_with_an_anomaly(file_ledger_url: str, tmp_path: Path) -> None:
    """INET's IOC: a New under OrderID 7001, then its Canceled under a new OrderID 7002, same
    ClOrdID and no OrigClOrdID, on one line. The order is canceled, knows both OrderIDs, and
    an anomaly keeps the two values; the new one then names the order."""
    session = inet()
    canceled = session.text(
        "20261120-14:30:00.002",
        "35=8|1=ACC1|11=IOC-1|17=7002-4|20=0|37=7002|39=4|150=4|55=AAPL|54=1|38=100|40=2|44=150|59=3|"
        "14=0|6=0|151=0|60=20261120-14:30:00.001",
    )
    code, stdout, stderr = ingest(
        tmp_path, file_ledger_url, new_report(session, "IOC-1", "7001", "100") + canceled + "\n"
    )
    assert code == 0, stderr
    assert stdout.startswith("1 lines: 1 applied,")
    [order] = cli_json("orders", db=file_ledger_url, cwd=tmp_path)
    assert order["status"] == "canceled" and order["leaves_quantity"] == "0"
    assert order["venue_order_ids"] == ["7001", "7002"]
    assert order["anomalies"] == ["venue_order_id_changed"]
    events = [
        json.loads(line)
        for line in run_cli(
            "events", "--json", "--type", "AnomalyRecorded", db=file_ledger_url, cwd=tmp_path
        ).stdout.splitlines()
    ]
    assert [(e["payload"]["recorded"], e["payload"]["reported"]) for e in events] == [("7001", "7002")]
    # The new OrderID resolves to the order.
    shown = cli_json("order", "7002", db=file_ledger_url, cwd=tmp_path)
    assert shown["client_order_id"] == "IOC-1"


def inet_fill(session: Session, exec_id: str, **changed: str) -> str:
    """INET's partial fill (150=1) of 10 at 150 of the New above (C-1, OrderID 9001, account
    ACC1, a buy of AAPL); ``changed`` replaces a tag's value (``t55="MSFT"``), and nothing else."""
    fields = {"35": "8", "1": "ACC1", "11": "C-1", "17": exec_id, "20": "0", "37": "9001", "39": "1",
              "150": "1", "55": "AAPL", "54": "1", "38": "100", "40": "2", "44": "150", "59": "3",
              "32": "10", "31": "150", "14": "10", "6": "150", "151": "90",
              "60": "20261120-14:30:00.002"}  # fmt: skip
    fields |= {tag.removeprefix("t"): value for tag, value in changed.items()}
    return session.text("20261120-14:30:00.003", "|".join(f"{tag}={value}" for tag, value in fields.items()))


def test_a_report_that_contradicts_the_order_is_refused_alone(file_ledger_url: str, tmp_path: Path) -> None:
    """A report naming the order (ClOrdID C-1, OrderID 9001) but stating another instrument
    (55), side (54) or account (1) than the order's is refused with the field and both values,
    alone: the good fill beside it on its line is booked. Each contradicting report is INET's
    fill with only that tag changed."""
    session = inet()
    lines = [
        new_report(session, "C-1", "9001", "100"),
        inet_fill(session, "F-55", t55="MSFT"),
        inet_fill(session, "F-54", t54="2"),
        inet_fill(session, "F-1", t1="ACC2"),
        # one line, two reports: a contradicting fill, then a good one
        inet_fill(session, "F-55b", t55="MSFT") + inet_fill(session, "F-ok"),
    ]
    code, stdout, stderr = ingest(tmp_path, file_ledger_url, "\n".join(lines) + "\n")
    assert code == 1, stderr
    assert stdout.startswith("5 lines: 1 applied, 0 duplicate, 0 parked, 0 ignored, 4 rejected")
    rejected = [
        json.loads(line)
        for line in run_cli(
            "messages", "--outcome", "rejected", "--json", db=file_ledger_url, cwd=tmp_path
        ).stdout.splitlines()
    ]
    assert [row["reason"] for row in rejected] == [
        "order 'C-1' has instrument 'AAPL', but the report states instrument 'MSFT'",
        "order 'C-1' has side 'buy', but the report states side 'sell'",
        "order 'C-1' has account 'ACC1', but the report states account 'ACC2'",
        "message 2 of 2 applied; message 1 of 2 rejected:"
        " order 'C-1' has instrument 'AAPL', but the report states instrument 'MSFT'",
    ]
    assert rejected[-1]["events"] == 1  # the good fill's OrderFilled
    # The store holds the order and the one good fill: 10 of 100 at 150, nothing else
    [order] = cli_json("orders", db=file_ledger_url, cwd=tmp_path)
    shown = ("instrument", "side", "account", "status", "filled_quantity")
    assert [order[name] for name in shown] == ["AAPL", "buy", "ACC1", "partially_filled", "10"]
    trades = cli_json("trades", db=file_ledger_url, cwd=tmp_path)
    assert [(t["trade_id"], t["quantity"], t["price"]) for t in trades] == [("F-ok", "10", "150")]
    # A long of 10 AAPL at 150 (cost 10 × 150 = 1500), one position row
    positions = cli_json("positions", db=file_ledger_url, cwd=tmp_path)
    assert [(p["account"], p["instrument"], p["quantity"], p["average_price"]) for p in positions] == [
        ("ACC1", "AAPL", "10", "150")
    ]
    assert cli_json("verify", db=file_ledger_url, cwd=tmp_path)["ok"] is True


# ---------------------------------------------------------------------- scales (Zero Hash)

ZERO_HASH = ROOT / "docs" / "examples" / "fix-zerohash.log"
"""Zero Hash's published ER NEW and ER FILL (klfsecond/poc-zh-fix-spec, "New Order - Single"):
every field as published, framed again by tests.support.fixlog.fix_text because the published
BodyLength and CheckSum do not match their bodies."""


def test_the_zero_hash_example_is_the_published_messages_reframed() -> None:
    published = {
        # ER NEW: OrderQty 1000, LeavesQty 1000, FractionBase 10000
        "582": "35=8|34=582|49=MIDCDEV1|52=20210714-10:31:03.862|56=YOURSENDCOMP|6=0.0|"
        "11=43637618552482556000|14=0|17=30005_582|20=0|37=62XGZUU7W05SC3|38=1000|39=0|40=2|44=150.0|54=1|55=LTCUSD|59=1|"
        "60=20210714-10:31:03.858|150=0|151=1000|43229=10000",
        # ER FILL: LastQty 1000 at LastPx 141.78
        "583": "35=8|34=583|49=MIDCDEV1|52=20210714-10:31:04.106|56=YOURSENDCOMP|6=141.78|"
        "11=43637618552482556000|14=1000|17=62XGZUU7W05SC32_62XGZUU7W05T|20=0|31=141.78|32=1000|"
        "37=62XGZUU7W05SC3|38=1000|39=2|40=2|44=150.0|54=1|55=LTCUSD|59=1|60=20210714-10:31:03.935|150=2|"
        "151=0|43211=CROX|43212=MIDC|43214=T|43229=10000",
    }
    assert ZERO_HASH.read_text().splitlines() == [
        fix_text(published["582"], begin="FIX.4.2", sep="|"),
        fix_text(published["583"], begin="FIX.4.2", sep="|"),
    ]


def zero_hash_booked(db: str, cwd: Path) -> tuple[str, str, str, str]:
    """(order quantity, status, trade quantity, trade price) of the one Zero Hash order."""
    [order] = cli_json("orders", db=db, cwd=cwd)
    [trade] = cli_json("trades", db=db, cwd=cwd)
    return order["quantity"], order["status"], trade["quantity"], trade["price"]


def test_a_per_message_divisor_tag_scales_quantities_from_the_command_line(
    file_ledger_url: str, tmp_path: Path
) -> None:
    run = run_cli(
        "ingest",
        "--format",
        "fix",
        "--venue",
        "zerohash",
        "--account",
        "ZH1",
        "--quantity-divisor-tag",
        "43229",
        str(ZERO_HASH),
        db=file_ledger_url,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.describe()
    # OrderQty 1000 / 43229=10000 = 0.1 LTC; LastQty 1000 / 10000 = 0.1, fully filling it;
    # LastPx 141.78 is a price, which FractionBase does not scale.
    assert zero_hash_booked(file_ledger_url, tmp_path) == ("0.1", "filled", "0.1", "141.78")
    [position] = cli_json("positions", db=file_ledger_url, cwd=tmp_path)
    assert position["quantity"] == "0.1"


def test_a_divisor_that_is_not_a_power_of_ten_rejects_the_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'zh.db'}"
    line = fix_text(
        "35=8|11=Z-1|17=E-1|20=0|37=Z1|38=1000|39=0|40=2|44=150.0|54=1|55=LTCUSD|59=1|"
        "60=20210714-10:31:03.858|150=0|151=1000|43229=300",
        begin="FIX.4.2",
        sep="|",
    )
    path = tmp_path / "bad.log"
    path.write_text(line + "\n")
    run = run_cli(
        "ingest", "--format", "fix", "--venue", "zerohash", "--account", "ZH1",
        "--quantity-divisor-tag", "43229", str(path), db=db, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1
    assert "line 1: rejected: divisor tag 43229 must be a power of ten from 1 to 1" in run.stderr
    assert cli_json("orders", db=db, cwd=tmp_path) == []


def test_a_per_message_divisor_tag_scales_quantities_over_http(file_ledger_url: str) -> None:
    with running_server(file_ledger_url) as server:
        query = "format=fix&venue=zerohash&account=ZH1&quantity_divisor_tag=43229"
        answer = http_post(
            f"{server.url}/messages?{query}", ZERO_HASH.read_bytes(), "application/octet-stream"
        )
        assert answer["counts"]["applied"] == 2, answer
        [order] = http_get(f"{server.url}/orders")
        [trade] = http_get(f"{server.url}/trades")
    # As from the command line: 1000 / 10000 = 0.1 LTC at 141.78.
    assert (order["quantity"], order["status"], trade["quantity"], trade["price"]) == (
        "0.1",
        "filled",
        "0.1",
        "141.78",
    )


# ---------------------------------------------------------------------- one format registry


def test_the_format_help_and_checks_come_from_the_registry(tmp_path: Path) -> None:
    shown = " ".join(run_cli("ingest", "--help", db=None, cwd=tmp_path).stdout.split())
    for name, fmt in formats().items():
        assert f"{name}: {fmt.reads}" in shown  # lighter included
    db = f"sqlite:///{tmp_path / 'none.db'}"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    # Lighter's payloads name no account of ours: the command asks for one, as the feed does.
    run = run_cli("ingest", "--format", "lighter", "--venue", "lighter", str(empty), db=db, cwd=tmp_path)
    assert run.returncode != 0
    assert run.stderr == "orderledger: format lighter needs --account (its payloads do not say which)\n"
    run = run_cli(
        "ingest", "--format", "ccxt", "--venue", "okx", "--account", "a", "--quantity-scale", "2",
        str(empty), db=db, cwd=tmp_path,
    )  # fmt: skip
    assert run.stderr == "orderledger: format ccxt does not take --quantity-scale\n"
    assert not (tmp_path / "none.db").exists()  # refused before any database was made


def test_the_docs_table_of_formats_is_the_registry() -> None:
    from orderledger.infrastructure.ingest.formats import formats_table

    text = (ROOT / "docs" / "venues.md").read_text()
    start = text.index("<!-- formats:")
    block = text[text.index("\n", start) + 1 : text.index("<!-- /formats -->")]
    assert block.strip() == formats_table()


def test_every_venue_format_names_code_that_loads() -> None:
    # given the registry's formats, when each one's translation or feed is loaded by the name
    # its declaration gives, then it is a callable; and only the ledger's own format has neither.
    for name, fmt in formats().items():
        named = [ref for ref in (fmt.translate, fmt.feed) if ref is not None]
        assert len(named) == (0 if name == "ledger" else 1), name
        assert all(callable(load(ref)) for ref in named), name


# Every format over HTTP: the docs' example of each native feed, posted as JSON lines, books
# what docs/venues.md's table of examples says of it (the same counts `ingest` gives).
HTTP_FEEDS = [
    # hyperliquid.jsonl: 7 lines: 4 applied, 1 duplicate, 1 parked, 1 ignored
    ("hyperliquid.jsonl", "format=hyperliquid&venue=hyperliquid&account=main", (4, 1, 1, 1)),
    # lighter.jsonl: 5 lines: 3 applied, 1 duplicate, 1 ignored
    ("lighter.jsonl", "format=lighter&venue=lighter&account=1077", (3, 1, 0, 1)),
    # tradier.jsonl: 3 lines: 3 applied
    ("tradier.jsonl", "format=tradier&venue=tradier&account=VA000000", (3, 0, 0, 0)),
    # snapshots.jsonl: 3 lines: 3 applied
    ("snapshots.jsonl", "format=snapshots", (3, 0, 0, 0)),
]


def test_every_format_is_accepted_over_http(file_ledger_url: str) -> None:
    examples = ROOT / "docs" / "examples"
    for name, query, (applied, duplicate, parked, ignored) in HTTP_FEEDS:
        with running_server(file_ledger_url) as server:
            body = (examples / name).read_bytes()
            answer = http_post(f"{server.url}/messages?{query}", body, "application/x-ndjson")
        counts = answer["counts"]
        assert (counts["applied"], counts["duplicate"], counts["parked"], counts["ignored"]) == (
            applied,
            duplicate,
            parked,
            ignored,
        ), (name, answer)
        assert counts["rejected"] == 0
        # A second post finds everything booked: nothing is applied twice.
        with running_server(file_ledger_url) as server:
            again = http_post(f"{server.url}/messages?{query}", body, "application/x-ndjson")
        assert again["counts"]["applied"] == 0, (name, again)


def http_post(url: str, body: bytes, media_type: str) -> Any:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": media_type})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def http_get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())
