"""An order's identities are (venue, kind, value), built by name and stored as plain tuples."""

from __future__ import annotations

from orderledger.domain.identity import IdentityKey


def test_each_named_constructor_gives_the_stored_identity() -> None:
    assert IdentityKey.venue_order("BINANCE", "8886774") == ("BINANCE", "venue_order_id", "8886774")
    assert IdentityKey.alias("LIGHTER", "client_index", "7") == ("LIGHTER", "alias:client_index", "7")
    assert IdentityKey.client_order("c-1") == ("", "client_order_id", "c-1")


def test_a_key_and_its_plain_tuple_are_one_dictionary_key() -> None:
    owners = {("V", "venue_order_id", "V-1"): "c-1"}
    key = IdentityKey.venue_order("V", "V-1")
    assert owners[key] == "c-1" and hash(key) == hash(("V", "venue_order_id", "V-1"))
    assert (key.venue, key.kind, key.value) == ("V", "venue_order_id", "V-1")
