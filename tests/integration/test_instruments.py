"""Instrument definitions through ingest, on every backend (memory, SQLite file, PostgreSQL).

Given definitions and fills as JSON lines, then positions and P&L use the contract size and
settlement in force when each fill was booked; the definitions are hash-chained events of the
log (verify stays ok, a rebuild reproduces every figure), and the journal says what became of
each definition line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orderledger.domain.values import AVERAGE, WIDE
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.reads.view_queries import list_positions, pnl_by
from orderledger.infrastructure.audit.search import EventFilter, search_events
from orderledger.infrastructure.audit.verify import verify
from tests.support.integration import (
    assert_views_equal_fold,
    fill,
    journal,
    lines,
    opened,
    request,
    ts,
    view_rows,
)


def instrument(venue: str, name: str, seconds: float = 0, **fields: Any) -> dict[str, Any]:
    """An ``instrument`` message."""
    return {"type": "instrument", "venue": venue, "instrument": name, "ts": ts(seconds), **fields}


OKX_SWAP = instrument(
    "okx", "BTC-USDT-SWAP", kind="swap", contract_size="0.01", settle_currency="USDT", quote_currency="USDT"
)


def round_trip(n: int, venue: str, name: str, qty: str, entry: str, exit_: str, seconds: float) -> list[Any]:
    """A buy of ``qty`` at ``entry`` then a sell of ``qty`` at ``exit_`` (two orders, two fills)."""
    return [
        request(f"b{n}", venue=venue, instrument=name, quantity=qty, price=entry, seconds=seconds),
        fill(f"b{n}", f"tb{n}", qty, entry, seconds=seconds + 1),
        request(
            f"s{n}", venue=venue, instrument=name, side="sell", quantity=qty, price=exit_, seconds=seconds + 2
        ),
        fill(f"s{n}", f"ts{n}", qty, exit_, seconds=seconds + 3),
    ]


def position(ledger: OrderLedger, name: str, mark: Decimal | None = None) -> dict[str, Any]:
    marks = {} if mark is None else {name: mark}
    rows = [r for r in list_positions(ledger.db, marks) if r["instrument"] == name]
    assert len(rows) == 1, rows
    return rows[0]


def test_an_okx_swap_realizes_one_hundred_usdt_not_ten_thousand(ledger: OrderLedger) -> None:
    # Given BTC-USDT-SWAP with contract size 0.01 (0.01 BTC per contract)
    # When buy 10 contracts at 60000, sell 10 at 61000
    # Then realized = 10 × 0.01 × (61000 − 60000) = 100 USDT
    report = ledger.ingest_lines(
        lines(OKX_SWAP, *round_trip(1, "okx", "BTC-USDT-SWAP", "10", "60000", "61000", 10))
    )
    assert report.counts["applied"] == 5 and not report.rejected
    row = position(ledger, "BTC-USDT-SWAP")
    assert Decimal(row["realized_pnl"]) == 100
    assert (row["pnl_currency"], row["contract_size"], row["settlement"], row["definition_version"]) == (
        "USDT",
        "0.01",
        "linear",
        1,
    )
    [group] = pnl_by(ledger.db, "instrument")
    assert (Decimal(group["realized_pnl"]), group["pnl_currency"]) == (100, "USDT")
    assert verify(ledger.db, ledger.mapper).ok


def test_a_repeated_definition_is_a_duplicate_and_a_changed_one_a_new_version(ledger: OrderLedger) -> None:
    changed = {**OKX_SWAP, "contract_size": "0.1", "ts": ts(100)}
    report = ledger.ingest_lines(lines(OKX_SWAP, {**OKX_SWAP, "ts": ts(50)}, changed))
    assert report.counts == {"applied": 2, "duplicate": 1, "parked": 0, "ignored": 0, "rejected": 0}
    outcomes = [(row.outcome, row.reason) for row in journal(ledger)]
    assert outcomes[1] == (
        "duplicate",
        "instrument 'BTC-USDT-SWAP' at 'okx' already has this definition (version 1)",
    )
    every = ledger.venues.instruments(all_versions=True)
    assert [(r.version, r.definition.contract_size) for r in every] == [
        (1, Decimal("0.01")),
        (2, Decimal("0.1")),
    ]
    [current] = ledger.venues.instruments()
    assert (current.version, current.definition.contract_size, current.definition.kind) == (
        2,
        Decimal("0.1"),
        "swap",
    )
    # The definitions are events of the log, searchable by type and instrument like any other.
    found = list(
        search_events(ledger.db, ledger.mapper, EventFilter(types=["InstrumentDefined"], venue="okx"))
    )
    assert [e.originator_version for _, e, _ in found] == [1, 2]


def test_a_redefinition_mid_stream_applies_from_the_next_fill_and_a_rebuild_reproduces_it(
    ledger: OrderLedger,
) -> None:
    # v1 (0.01): buy 10 at 60000, sell 10 at 61000 → 10 × 0.01 × 1000 = 100 USDT
    # v2 (0.1):  buy 10 at 60000, sell 10 at 61000 → 10 × 0.1 × 1000 = 1000 USDT; total 1100
    redefined = {**OKX_SWAP, "contract_size": "0.1", "ts": ts(30)}
    ledger.ingest_lines(
        lines(
            OKX_SWAP,
            *round_trip(1, "okx", "BTC-USDT-SWAP", "10", "60000", "61000", 10),
            redefined,
            *round_trip(2, "okx", "BTC-USDT-SWAP", "10", "60000", "61000", 40),
        )
    )
    row = position(ledger, "BTC-USDT-SWAP")
    assert Decimal(row["realized_pnl"]) == 1100
    assert row["definition_version"] == 2
    with ledger.db.read() as tx:
        used = tx.all("SELECT trade_id, realized, definition_version FROM pnl_entries_view ORDER BY position")
    assert [(t, Decimal(r), v) for t, r, v in used] == [
        ("tb1", 0, 1),
        ("ts1", 100, 1),
        ("tb2", 0, 2),
        ("ts2", 1000, 2),
    ]
    before = view_rows(ledger)
    ledger.views.rebuild(["positions"])
    assert view_rows(ledger) == before
    assert_views_equal_fold(ledger)
    assert verify(ledger.db, ledger.mapper).ok


def test_an_inverse_perpetual_books_btc_with_a_harmonic_average(ledger: OrderLedger) -> None:
    # Bybit BTCUSD (ccxt's BTC/USD:BTC), inverse, 1 USD per contract, settled in BTC.
    # Long 1000 at 50000 and 1000 at 40000: coin cost 0.02 + 0.025 = 0.045 BTC,
    #  average 2000 / 0.045 = 44444.44… (harmonic); close 2000 at 55000: worth 2000/55000 =
    #  0.0363636… BTC, realized = 0.045 − 0.0363636… = 0.0086363636… BTC
    #  (= 2000 × (1/44444.44… − 1/55000)). A fee of 0.00002 BTC: net = realized − 0.00002.
    definition = instrument(
        "bybit",
        "BTC/USD:BTC",
        kind="swap",
        contract_size="1",
        settlement="inverse",
        settle_currency="BTC",
        base_currency="BTC",
        quote_currency="USD",
    )
    messages = [
        definition,
        request("l1", venue="bybit", instrument="BTC/USD:BTC", quantity="1000", price="50000", seconds=1),
        fill("l1", "t1", "1000", "50000", seconds=2),
        request("l2", venue="bybit", instrument="BTC/USD:BTC", quantity="1000", price="40000", seconds=3),
        fill("l2", "t2", "1000", "40000", seconds=4),
    ]
    ledger.ingest_lines(lines(*messages))
    row = position(ledger, "BTC/USD:BTC", mark=Decimal(50000))
    assert Decimal(row["average_price"]) == AVERAGE.divide(Decimal(2000), Decimal("0.045"))
    assert Decimal(row["unrealized_pnl"]) == Decimal("0.005")  # 0.045 − 2000/50000
    ledger.ingest_lines(
        lines(
            request(
                "c1",
                venue="bybit",
                instrument="BTC/USD:BTC",
                side="sell",
                quantity="2000",
                price="55000",
                seconds=5,
            ),
            fill("c1", "t3", "2000", "55000", seconds=6, fee="0.00002", fee_currency="BTC"),
        )
    )
    row = position(ledger, "BTC/USD:BTC")
    realized = WIDE.subtract(Decimal("0.045"), AVERAGE.divide(Decimal(2000), Decimal(55000)))
    assert Decimal(row["realized_pnl"]) == realized
    assert str(realized).startswith("0.00863636363636")
    assert (row["pnl_currency"], row["quote_currency"], row["settlement"]) == ("BTC", "USD", "inverse")
    assert Decimal(row["realized_pnl_net"]) == WIDE.subtract(realized, Decimal("0.00002"))
    assert verify(ledger.db, ledger.mapper).ok


def test_an_option_and_its_underlying_are_separate_positions(ledger: OrderLedger) -> None:
    # AAPL call, 100 shares per contract: buy 2 at 3.50, sell 2 at 4.25 → 0.75 × 2 × 100 = 150 USD.
    # AAPL stock (undefined, 1 share per unit): buy 100 at 190 and the option's sells do not
    # touch it: it stays long 100 at 190.
    option = instrument(
        "nasdaq",
        "AAPL240621C00190000",
        kind="option",
        contract_size="100",
        quote_currency="USD",
        underlying="AAPL",
        strike="190",
        option_type="call",
        expiry="2024-06-21",
    )
    ledger.ingest_lines(
        lines(
            option,
            request("stk", venue="nasdaq", instrument="AAPL", quantity="100", price="190", seconds=1),
            fill("stk", "s1", "100", "190", seconds=2),
            *round_trip(1, "nasdaq", "AAPL240621C00190000", "2", "3.50", "4.25", 3),
        )
    )
    assert Decimal(position(ledger, "AAPL240621C00190000")["realized_pnl"]) == 150
    stock = position(ledger, "AAPL")
    assert (Decimal(stock["quantity"]), Decimal(stock["average_price"]), stock["definition_version"]) == (
        100,
        190,
        0,
    )


def test_define_instrument_from_python_and_a_bad_definition_is_one_line(ledger: OrderLedger) -> None:
    result = ledger.venues.define_instrument(
        "okx", "ETH-USDT-SWAP", kind="swap", contract_size=Decimal("0.1")
    )
    assert (result.outcome, len(result.events)) == ("applied", 1)
    assert (
        ledger.venues.define_instrument("okx", "ETH-USDT-SWAP", kind="swap", contract_size="0.10").outcome
        == "duplicate"
    )
    bad = ledger.venues.define_instrument("bybit", "ETHUSD", settlement="inverse")
    assert (bad.outcome, bad.reason) == (
        "rejected",
        "an inverse instrument needs settle_currency or base_currency (its P&L is in that coin)",
    )
    assert [r.instrument for r in ledger.venues.instruments()] == ["ETH-USDT-SWAP"]


def test_a_view_built_by_the_previous_fold_is_rebuilt_on_open(file_ledger_url: str) -> None:
    # A database whose positions view was built by fold version 2 (before instruments, when
    # this swap realized 10000) is refolded when opened: 100 USDT, with the definition used.
    with opened(file_ledger_url) as first:
        first.ingest_lines(
            lines(OKX_SWAP, *round_trip(1, "okx", "BTC-USDT-SWAP", "10", "60000", "61000", 10))
        )
        with first.db.write() as tx:
            tx.execute("UPDATE view_versions SET version = 2 WHERE view = 'positions'")
            tx.execute("UPDATE positions_view SET realized_pnl = '10000'")
    with opened(file_ledger_url) as reopened:
        row = position(reopened, "BTC-USDT-SWAP")
        assert (Decimal(row["realized_pnl"]), row["definition_version"]) == (100, 1)
