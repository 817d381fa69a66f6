"""The order's state is one declaration: what it shows (``ShownOrder``, by kind ``SHOWN``) and
what else restoring it needs (``KEPT``). The snapshot, the stored state, the orders view's
columns and ``OrderRow`` follow it, so a field declared there reaches every one of them."""

from __future__ import annotations

from dataclasses import fields

from orderledger.domain.fills import Fill
from orderledger.domain.order import Order
from orderledger.domain.order_state import COMMANDS_ONLY, KEPT, SHOWN, STATE, ShownOrder
from orderledger.domain.values import Liquidity
from orderledger.infrastructure.results.orders import OrderRow
from orderledger.projections.orders import OPEN_SHOWN, ORDERS_TABLE, SHOWN_DECODERS
from tests.support.builders import accepted, amend_requested, busted, corrected, filled, given


def _worked_order() -> Order:
    # Every kind of value set: venue order IDs, fills (one busted, one corrected, one with a fee
    # and liquidity), an amend target, tags, a pending amendment.
    return given(
        accepted("V-1", {"exchange_id": "E-1"}),
        filled("T-1", 2, 100, fee="0.1", fee_currency="USDT", liquidity=Liquidity.MAKER),
        filled("T-2", 3, 101),
        busted("T-2"),
        corrected("T-1", qty=1),
        amend_requested(price=99),
        tags={"desk": "a"},
        time_in_force="GTC",
    )


def test_every_declared_field_reaches_the_snapshot_the_stored_state_the_view_and_order_row() -> None:
    order = _worked_order()
    restorable = [name for name, kind in STATE.items() if kind.read is not None]

    assert list(order.snapshot()) == list(SHOWN)
    assert list(SHOWN) == [f.name for f in fields(ShownOrder)]
    assert issubclass(OrderRow, ShownOrder)  # its fields are the declaration's, not a copy of them
    assert fields(OrderRow) == fields(ShownOrder)
    assert [c.name for c in ORDERS_TABLE.columns] == [*SHOWN, "is_open", *KEPT, OPEN_SHOWN]
    assert list(order.to_state()) == [*restorable, *COMMANDS_ONLY]


def test_the_stored_state_and_the_views_row_restore_the_order_as_it_was() -> None:
    order = _worked_order()
    state = order.to_state()

    assert Order.from_state(state).to_state() == state
    row = ORDERS_TABLE.to_row(order)
    from_view = ORDERS_TABLE.from_row(row)
    # The view keeps no fingerprints and no request source: only commands read them.
    assert from_view.to_state() == {**state, "seen": [], "request_source": ""}
    assert OrderRow.stored_reader(SHOWN_DECODERS)([row]) == [OrderRow.from_json(order.snapshot())]


def test_a_fill_is_stored_as_its_fields_in_declaration_order_and_read_back_as_it_was() -> None:
    order = _worked_order()
    maker = order.fills["T-1"]

    stored = maker.stored()

    # T-1 was booked as 2 at 100 with a fee of 0.1 USDT, then corrected to 1 (first_qty keeps 2).
    assert dict(zip([f.name for f in fields(Fill)], stored, strict=True)) == {
        "trade_id": "T-1",
        "qty": "1",
        "px": "100",
        "fee": "0.1",
        "fee_currency": "USDT",
        "liquidity": "maker",
        "ts_event": stored[6],
        "late": False,
        "busted": False,
        "first_qty": "2",
        "first_px": "100",
        "inferred": False,
    }
    assert [Fill.from_stored(f.stored()) for f in order.fills.values()] == list(order.fills.values())
    assert Fill.from_stored(stored[:11]).inferred is False  # stored before fills could be inferred
