"""The identifiers say who assigns them: ``ClientOrderId`` (ours), ``VenueOrderId`` and
``TradeId`` (the venue's) type the events, the messages, an order's state and ``resolve``, and
cost nothing at run time (each is a ``str``)."""

from __future__ import annotations

import typing

import orderledger
from orderledger.domain import events
from orderledger.domain.values import ClientOrderId, TradeId, VenueOrderId
from orderledger.infrastructure.messages.models import FillMessage, RequestMessage, message_from_line


def _base(annotation: object) -> object:
    """The type under ``Annotated[...]`` and ``X | None``."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _base(typing.get_args(annotation)[0])
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return _base(args[0]) if len(args) == 1 else annotation


def test_the_events_and_messages_name_each_identifier_by_its_type() -> None:
    # Given the events' and messages' declared fields
    fill = events.OrderFilled.model_fields
    # Then each identifier is typed by who assigns it
    assert fill["client_order_id"].annotation is ClientOrderId
    assert fill["trade_id"].annotation is TradeId
    assert _base(fill["venue_order_id"].annotation) is VenueOrderId
    assert _base(events.OrderRequested.model_fields["venue_order_id"].annotation) is VenueOrderId
    assert _base(FillMessage.model_fields["trade_id"].annotation) is TradeId
    assert _base(RequestMessage.model_fields["client_order_id"].annotation) is ClientOrderId


def test_resolve_answers_a_client_order_id_and_the_types_are_public() -> None:
    # Given the public ledger
    hints = typing.get_type_hints(orderledger.OrderLedger.resolve)
    # Then resolve answers our ID, and the three types are importable from the package
    assert hints["return"] is ClientOrderId
    assert (orderledger.ClientOrderId, orderledger.VenueOrderId, orderledger.TradeId) == (
        ClientOrderId,
        VenueOrderId,
        TradeId,
    )


def test_a_typed_identifier_is_a_plain_string_at_run_time() -> None:
    # Given a fill message read from JSON
    line = (
        '{"type":"fill","client_order_id":"c-1","venue":"X","trade_id":"t-1",'
        '"quantity":"1","price":"10","ts":"2026-01-05T10:00:00Z"}'
    )
    message = message_from_line(line)
    assert isinstance(message, FillMessage)
    # Then its identifiers are plain str values (a NewType adds no class and no cost)
    assert type(message.trade_id) is str and message.trade_id == "t-1"
    assert type(message.client_order_id) is str and TradeId("t-1") == "t-1"
