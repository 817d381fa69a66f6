"""Risk and exposure with the venues' order kinds: a reduce-only order never counts as growing
the position, a stop's worst case is valued at its trigger price or the mark (whichever is
worse), and the legs of one OCO set (a bracket's take-profit and stop-loss) count once.

Every figure is worked out by hand in the test."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orderledger.domain.exposure import Holding, Working, exposure, link_of, worst_price
from orderledger.domain.risk import PositionBook, state_refusal
from orderledger.domain.risk_figures import position_book
from orderledger.domain.values import Side

D = Decimal
ONE = Decimal(1)
ZERO = Decimal(0)


def _prices(mark: str | None) -> object:
    def prices(venue: str, instrument: str) -> Decimal | None:
        return None if mark is None else D(mark)

    return prices


def _figures(held: str, working: list[Working], mark: str | None = "65000") -> object:
    holdings = [Holding("a", "v", "BTC-USDT", D(held))] if D(held) else []
    (row,) = exposure(holdings, working, {}, _prices(mark), by=("underlying",))  # type: ignore[arg-type]
    return row


def _order(side: Side, quantity: str, price: str | None = None, **terms: object) -> Working:
    return Working("a", "v", "BTC-USDT", side, D(quantity), None if price is None else D(price), **terms)  # type: ignore[arg-type]


def test_a_reduce_only_order_never_grows_the_exposure() -> None:
    # Long 3; a reduce-only sell of 5 and a reduce-only buy of 2, both at 65000
    row = _figures(
        "3",
        [_order(Side.SELL, "5", "65000", reduce_only=True), _order(Side.BUY, "2", "65000", reduce_only=True)],
    )
    # The sell can take off the 3 held, no more: 3 − 3 = 0, never short; the buy would grow: 0
    assert (row.open_short_units, row.worst_short_units) == (D(-3), D(0))  # type: ignore[attr-defined]
    assert (row.open_long_units, row.worst_long_units) == (D(0), D(3))  # type: ignore[attr-defined]
    # Valued at 65000: net 3 × 65000 = 195000; with the sell, 195000 − 3 × 65000 = 0
    assert row.worst_short_value == {"?": D(0)}  # type: ignore[attr-defined]
    # Without the flag the same orders count in full: 3 − 5 = −2 and 3 + 2 = 5
    plain = _figures("3", [_order(Side.SELL, "5", "65000"), _order(Side.BUY, "2", "65000")])
    assert (plain.worst_short_units, plain.worst_long_units) == (D(-2), D(5))  # type: ignore[attr-defined]


def test_a_stop_is_valued_at_its_trigger_or_the_mark_whichever_is_worse() -> None:
    stop = _order(Side.SELL, "1", trigger_price=D(60000))
    # Mark 62000 above the trigger: 1 × 62000 = 62000 taken away
    assert _figures("0", [stop], mark="62000").worst_short_value == {"?": D(-62000)}  # type: ignore[attr-defined]
    # Mark 58000 below it: the trigger's 60000 is worse
    assert _figures("0", [stop], mark="58000").worst_short_value == {"?": D(-60000)}  # type: ignore[attr-defined]
    # No mark: the trigger; a limit price bounds the fill whatever the trigger
    assert worst_price(None, D(60000), None) == D(60000)
    assert worst_price(D(59900), D(60000), D(70000)) == D(59900)


def test_a_brackets_legs_count_once_the_larger() -> None:
    # Long 2: a take-profit sell of 2 at 70000 and a stop-loss sell of 1.5 (trigger 58000), one bracket
    link = link_of("tp", "B-1", "bracket", None)
    assert link == link_of("sl", "B-1", "bracket", None)
    tp = _order(Side.SELL, "2", "70000", link=link)
    sl = _order(Side.SELL, "1.5", trigger_price=D(58000), link=link)
    row = _figures("2", [tp, sl], mark="65000")
    # The larger leg (2) stands for both: 2 − 2 = 0, not 2 − 3.5 = −1.5
    assert (row.open_short_units, row.worst_short_units) == (D(-2), D(0))  # type: ignore[attr-defined]
    # Its value: 2 × 65000 − 2 × 70000 = 130000 − 140000 = −10000
    assert row.worst_short_value == {"?": D(-10000)}  # type: ignore[attr-defined]
    # OCO siblings named by linked_ids alone are one set too, whichever names the other
    assert link_of("a", None, None, ["b"]) == link_of("b", None, None, ["a"]) is not None


@dataclass(frozen=True)
class _Open:
    """An open order as a limit sees it (``domain.risk_figures.OpenOrder``)."""

    side: Side
    leaves_quantity: Decimal
    reduce_only: bool | None = None
    group_id: str | None = None
    contingency: str | None = None
    client_order_id: str = "o"
    account: str = "a"
    venue: str = "v"
    instrument: str = "BTC-USDT"
    price: Decimal | None = ONE
    trigger_price: Decimal | None = None
    linked_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Held:
    quantity: Decimal
    account: str = "a"
    venue: str = "v"
    instrument: str = "BTC-USDT"
    notional: Decimal = ZERO
    pnl_currency: str | None = "USDT"


def test_the_position_book_counts_reduce_only_and_linked_orders_as_they_can_fill() -> None:
    held = [_Held(D(3))]
    working = [
        _Open(Side.SELL, D(2), reduce_only=True, client_order_id="r1"),
        _Open(Side.SELL, D(4), reduce_only=True, client_order_id="r2"),  # 2 + 4 = 6 > 3: at most 3
        _Open(Side.BUY, D(5), reduce_only=True, client_order_id="r3"),  # grows a long: nothing
        _Open(Side.BUY, D(1), group_id="G", contingency="oco", client_order_id="o1"),
        _Open(Side.BUY, D(2), group_id="G", contingency="oco", client_order_id="o2"),  # the larger: 2
    ]
    assert position_book(held, working, "BTC-USDT") == PositionBook(D(3), D(2), D(3))  # type: ignore[arg-type]


def test_a_reduce_only_order_passes_a_reduce_only_state() -> None:
    # Long 1: a sale of 3 would turn it short −2; flagged reduce-only, the venue stops it at flat
    book = PositionBook(D(1))
    assert state_refusal("reduce_only", book, D(-3)) == "reduce-only: the position 1 would become -2"
    assert state_refusal("reduce_only", book, D(-3), reduce_only=True) is None
    assert state_refusal("halted", book, D(-3), reduce_only=True) == "trading is halted"
