"""Reading a structure: how it names its order, its lists and its times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orderledger.infrastructure.adapters.aliases import client_index_value
from orderledger.infrastructure.adapters.ccxt.rules import (
    INFO_ORIGINAL_CLIENT_ID_KEYS,
    InstrumentOf,
    VenueRules,
    info_of,
)
from orderledger.infrastructure.adapters.common import (
    AdapterError,
    text_or_none,
    time_from_iso,
    time_from_millis,
)


@dataclass(frozen=True)
class Identity:
    """How messages name an order: by client order ID, by a client index alias, or neither."""

    client_order_id: str | None = None
    client_index: str | None = None

    @property
    def known(self) -> bool:
        return self.client_order_id is not None or self.client_index is not None

    def key(self, venue: str, venue_order_id: str | None) -> dict[str, Any]:
        aliases = None if self.client_index is None else {"client_index": self.client_index}
        return {
            "client_order_id": self.client_order_id,
            "venue": venue,
            "venue_order_id": venue_order_id,
            "aliases": aliases,
        }


def client_id_of(value: object, rules: VenueRules) -> str | None:
    """A client order ID, or None when the value means "none" at this venue."""
    if isinstance(value, Mapping | list | tuple):
        return None  # not an ID (a nested info object): never its repr
    found = text_or_none(value)
    return None if found is None or found in rules.no_client_id else found


def at_path(info: Mapping[str, Any], path: str) -> object:
    value: object = info
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def identity_of(structure: Mapping[str, Any], rules: VenueRules, *, is_order: bool) -> Identity:
    """The client identity of an order or trade: unified field first, then the venue's own."""
    info = info_of(structure)
    found: str | None = None
    if is_order:  # a cancel reply's clientOrderId is the cancel request's; the order's is here
        for name in INFO_ORIGINAL_CLIENT_ID_KEYS:
            found = found or client_id_of(info.get(name), rules)
    found = found or client_id_of(structure.get("clientOrderId"), rules)
    for path in rules.client_id_keys:
        found = found or client_id_of(at_path(info, path), rules)
    if found is None and not is_order and rules.trade_client_index is not None:
        found = client_id_of(rules.trade_client_index(structure, info), rules)
    if found is not None and rules.client_index:
        return Identity(client_index=client_index_value(found))
    return Identity(client_order_id=found)


def forced_kind(structure: Mapping[str, Any], rules: VenueRules, account: str | None) -> str | None:
    return None if rules.forced is None else rules.forced(structure, info_of(structure), account)


def list_field(structure: Mapping[str, Any], key: str) -> list[Any]:
    """A list-valued field (``trades``, ``fees``); absent or null is empty, anything else refused."""
    value = structure.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise AdapterError(f"{key} must be a list, not {type(value).__name__}")
    return list(value)


def time_field(structure: Mapping[str, Any], millis_key: str, iso_key: str | None = None) -> str | None:
    found = time_from_millis(structure.get(millis_key), millis_key)
    if found is None and iso_key is not None:
        found = time_from_iso(structure.get(iso_key), iso_key)
    return found


def stated_of(
    structure: Mapping[str, Any], account: str | None, instrument_of: InstrumentOf | None
) -> dict[str, str]:
    """What an order or trade structure states of its order: the account it is read for, its
    symbol (as a request names it) and its side; the ledger refuses a report of an order that
    states another (``Order.check_stated``). Empty when the structure names neither."""
    symbol = text_or_none(structure.get("symbol"))
    side = (text_or_none(structure.get("side")) or "").lower()
    if symbol is None and side not in ("buy", "sell"):
        return {}
    stated = {} if account is None else {"account": account}
    if symbol is not None:
        stated["instrument"] = instrument_of(symbol) if instrument_of else symbol
    if side in ("buy", "sell"):
        stated["side"] = side
    return stated
