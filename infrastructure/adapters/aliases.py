"""Venue aliases: extra identities an order carries so a venue's own keys resolve to it.

The client order ID is the order's key for ever and is never replaced (docs/semantics.md). Some venues
cannot carry it: a DEX may accept only an integer client order index, and a FIX cancel/replace
chain gives the order a new ClOrdID at every step. Those keys are recorded as *aliases* of the
order (name → value); the ledger keeps an identity row ``(venue, "alias:<name>", value)`` for
each, and a later message that names the order only by ``venue`` + ``aliases`` resolves to it.

Numeric client index (for a venue that only takes an integer)::

    index = numeric_client_index("c-1")               # e.g. "193530389461827"
    request = {"type": "request", "client_order_id": "c-1", "venue": "dexA", ...,
               "aliases": client_index_alias("c-1")}  # {"client_index": "193530389461827"}
    # send `index` to the venue; a venue message that carries only the index then becomes
    {"type": "fill", "venue": "dexA", "aliases": {"client_index": "193530389461827"}, ...}

Record the alias on the ``request`` (intent is recorded before it is sent), so a venue message
that arrives before the acknowledgement already resolves. The index is derived from the client
order ID, so it can be recomputed anywhere (a restarted collector, a reconciliation job) without
a lookup table. Two client order IDs can collide on one index (each pair with probability
about 2**-48: some 1 in 5.6 million over 10 000 orders, 1 in 560 over a million): the ledger
then refuses the second request with an identity conflict, and the caller retries that order
with another ``salt``.

Value-qualified aliases (for keys an order can have several of, such as FIX ClOrdIDs): an
order holds one value per alias name, and the ledger refuses to change it, so each such key
gets a name of its own that embeds the value — see :func:`qualified_alias`.
"""

from __future__ import annotations

import hashlib

CLIENT_INDEX = "client_index"
"""The alias name under which a numeric client order index is recorded."""

INDEX_BITS = 48
MAX_NAME_LENGTH = 128  # the ledger's identifier limit (domain.values.MAX_ID_LENGTH)


def numeric_client_index(client_order_id: str, *, bits: int = INDEX_BITS, salt: str = "") -> str:
    """A stable integer (as decimal text) in ``1 … 2**bits - 1`` derived from a client order ID.

    SHA-256 of ``salt + client_order_id`` (UTF-8), first ``bits`` bits; zero is avoided because
    some venues reserve it for "no client index". Same input, same index, on every machine.
    """
    if not client_order_id:
        raise ValueError("client_order_id must be non-empty")
    if not 8 <= bits <= 63:
        raise ValueError("bits must be between 8 and 63")
    digest = hashlib.sha256((salt + client_order_id).encode("utf-8")).digest()
    value = int.from_bytes(digest[:8], "big") >> (64 - bits)
    return str(value or 1)


def client_index_alias(client_order_id: str, *, bits: int = INDEX_BITS, salt: str = "") -> dict[str, str]:
    """The ``aliases`` entry to put on the request: ``{"client_index": "<index>"}``."""
    return {CLIENT_INDEX: numeric_client_index(client_order_id, bits=bits, salt=salt)}


def client_index_value(value: object) -> str:
    """The canonical text of a client index a venue reports (``"007"``, ``7`` → ``"7"``), so the
    alias a venue message names matches the one the request recorded. Refuses a non-integer."""
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"a client index must be a whole number, not {str(value)[:40]!r}")
    return str(int(text))


def qualified_alias(prefix: str, value: str) -> dict[str, str]:
    """An alias whose name embeds its value: ``{"<prefix>:<value>": "<value>"}``.

    Use it for keys an order may have many of over its life (each would otherwise clash on one
    name). A value too long for a name is replaced in the name by a SHA-256 prefix, which is
    just as deterministic.
    """
    name = f"{prefix}:{value}"
    if len(name) > MAX_NAME_LENGTH:
        name = f"{prefix}:#{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"
    return {name: value}
