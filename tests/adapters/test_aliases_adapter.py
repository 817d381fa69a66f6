"""Venue aliases: a numeric client order index that resolves venue messages to the order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderledger.domain.values import Status
from orderledger.infrastructure.adapters.aliases import (
    CLIENT_INDEX,
    client_index_alias,
    numeric_client_index,
    qualified_alias,
)
from orderledger.infrastructure.application.ledger import OrderLedger
from tests.support.adapters import Feed


def test_the_index_is_stable_and_fits_48_bits() -> None:
    index = numeric_client_index("c-1")
    assert index == numeric_client_index("c-1")
    assert (
        index == "183583801601677"
    )  # pinned (first 48 bits of SHA-256("c-1")): a collector restarted tomorrow must agree
    values = {int(numeric_client_index(f"c-{n}")) for n in range(2000)}
    assert len(values) == 2000
    assert all(0 < v < 2**48 for v in values)


def test_salt_and_width() -> None:
    assert numeric_client_index("c-1", salt="retry-1") != numeric_client_index("c-1")
    assert int(numeric_client_index("c-1", bits=16)) < 2**16
    with pytest.raises(ValueError, match="bits"):
        numeric_client_index("c-1", bits=64)
    with pytest.raises(ValueError, match="non-empty"):
        numeric_client_index("")


def test_qualified_aliases_embed_their_value() -> None:
    assert qualified_alias("fix_clordid", "A-1") == {"fix_clordid:A-1": "A-1"}
    long_value = "x" * 120
    [(name, value)] = qualified_alias("fix_clordid", long_value).items()
    assert value == long_value and len(name) <= 128 and name.startswith("fix_clordid:#")
    assert qualified_alias("fix_clordid", long_value) == {name: value}


def test_venue_messages_that_carry_only_the_index_resolve(feed: Feed, ledger: OrderLedger) -> None:
    aliases = client_index_alias("c-1")
    assert list(aliases) == [CLIENT_INDEX]
    fill = {
        "type": "fill",
        "venue": "dexA",
        "aliases": aliases,
        "trade_id": "t-1",
        "quantity": "2",
        "price": "100",
        "ts": "2026-11-20T10:00:02Z",
    }
    # The venue's fill arrives before the order's request reached the ledger: it waits.
    assert feed([fill]).counts["parked"] == 1
    request = {
        "type": "request",
        "client_order_id": "c-1",
        "account": "acc1",
        "venue": "dexA",
        "instrument": "ETH-USDC",
        "side": "buy",
        "order_type": "limit",
        "quantity": "5",
        "price": "100",
        "aliases": aliases,
        "ts": "2026-11-20T10:00:00Z",
    }
    feed([request])
    order = ledger.order("c-1")
    assert (order.status, order.filled_quantity) == (Status.PARTIALLY_FILLED, Decimal(2))
    assert order.aliases == aliases
    cancel = {"type": "canceled", "venue": "dexA", "aliases": aliases, "ts": "2026-11-20T10:00:03Z"}
    feed([cancel])
    assert ledger.order("c-1").status is Status.CANCELED
    assert ledger.resolve(f"{CLIENT_INDEX}={aliases[CLIENT_INDEX]}") == "c-1"
