"""The bytes the hot path stores are the bytes the plain formulas give.

The ingest path takes shortcuts (the index columns' times read back from the payload, amounts
written as text before orjson sees them, the hash link of an ordinary row in one f-string, times
and amounts formatted without ``isoformat``/``format``): each is checked here against the
straightforward formula it replaces, so a release's database still verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from hashlib import sha256
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from orderledger.domain.construction import construct
from orderledger.domain.events import OrderFilled, OrderRequested
from orderledger.domain.order import order_id_for
from orderledger.domain.values import Liquidity, OrderType, Side, format_decimal, format_timestamp
from orderledger.infrastructure.storage.chain import GENESIS, link
from orderledger.infrastructure.storage.mapper import LedgerMapper

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES).map(
    lambda moment: moment.replace(microsecond=0) if moment.second % 3 == 0 else moment
)


def plain_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def plain_link(previous: bytes, row: Sequence[Any]) -> bytes:
    values = ["\x15" if v is None else v for v in [*row[:4], *row[5:]]]
    text = "\x1f".join(map(str, values)).encode("utf-8")
    return sha256(previous + text + b"\x1e" + bytes(row[4])).digest()


@settings(max_examples=300)
@given(MOMENTS)
def test_timestamps_are_written_as_isoformat_writes_them(moment: datetime) -> None:
    assert format_timestamp(moment) == plain_timestamp(moment)


@settings(max_examples=300)
@given(st.decimals(allow_nan=True, allow_infinity=True) | st.decimals(places=12))
def test_amounts_are_written_as_format_f_writes_them(amount: Decimal) -> None:
    assert format_decimal(amount) == format(amount, "f")


def _header(client_order_id: str, version: int, ts_event: datetime, ts_recorded: datetime) -> dict[str, Any]:
    """An event's header fields, for order ``client_order_id`` at ``version``."""
    return dict(
        originator_id=order_id_for(client_order_id),
        originator_version=version,
        ts_recorded=ts_recorded,
        ts_event=ts_event,
        source="ingest",
        client_order_id=client_order_id,
        account="a",
        venue="v",
        instrument="BTC-USDT",
    )


def _fill(ts_event: datetime, ts_recorded: datetime, **fields: Any) -> OrderFilled:
    values: dict[str, Any] = dict(
        _header("c-1", 3, ts_event, ts_recorded),
        trade_id="t-1",
        last_qty=Decimal("0.10"),
        last_px=Decimal("1E+2"),
        side=Side.BUY,
        fee=Decimal("-0.5"),
        liquidity=Liquidity.MAKER,
    )
    values.update(fields)
    return construct(OrderFilled, values)


@settings(max_examples=200)
@given(MOMENTS, MOMENTS)
def test_the_index_columns_hold_the_times_as_format_timestamp_writes_them(
    ts_event: datetime, ts_recorded: datetime
) -> None:
    stored = LedgerMapper(transcoder=JSONTranscoder()).to_stored_event(_fill(ts_event, ts_recorded))
    assert (stored.ts_event, stored.ts_recorded) == (
        format_timestamp(ts_event),
        format_timestamp(ts_recorded),
    )


def test_the_payload_writes_amounts_as_format_decimal_and_keeps_field_order() -> None:
    moment = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    stored = LedgerMapper(transcoder=JSONTranscoder()).to_stored_event(_fill(moment, moment))
    state = orjson.loads(stored.state)
    assert list(state)[:3] == ["ts_recorded", "ts_event", "source"]
    assert (state["last_qty"], state["last_px"], state["fee"]) == ("0.10", "100", "-0.5")
    assert state["venue_realized_pnl"] is None
    request = construct(
        OrderRequested,
        dict(
            _header("c-2", 1, moment, moment),
            side=Side.SELL,
            order_type=OrderType.MARKET,
            quantity=Decimal("3"),
        ),
    )
    state = orjson.loads(LedgerMapper(transcoder=JSONTranscoder()).to_stored_event(request).state)
    assert (state["quantity"], state["price"]) == ("3", None)


@pytest.mark.parametrize("message_id", [17, None])
@pytest.mark.parametrize("payload", [b'{"a":1}', bytearray(b"{}"), memoryview(b"{}")])
def test_the_hash_link_is_the_plain_formula(message_id: int | None, payload: Any) -> None:
    row = (
        12,
        str(order_id_for("c-1")),
        3,
        "domain.events:OrderFilled",
        payload,
        "OrderFilled",
        "c-é",
        "",
        "v",
        "BTC-USDT",
        "2026-11-20T09:30:00.000000Z",
        "2026-11-20T09:30:00.250000Z",
        "ingest",
        message_id,
    )
    assert link(GENESIS, row) == plain_link(GENESIS, row)
    assert link(GENESIS, list(row)) == plain_link(GENESIS, row)
