"""What opening a ledger composes from eventsourcing: its settings (the environment), the mapper
with the cipher and compressor they name, and the check that a log is read with the key it was
written with. Every ``OrderLedger`` makes these when it opens; its upkeep (schema, exports,
verify) is ``application.upkeep.maintenance``, imported when first asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError
from eventsourcing.popo import POPOFactory
from eventsourcing.utils import Environment

from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import payload

if TYPE_CHECKING:
    from orderledger.infrastructure.application.ledger_protocol import LedgerParts


def ledger_environment(name: str, env: Mapping[str, str] | None) -> Environment:
    """The settings the ledger reads: os.environ, then ``env``; a CIPHER_KEY without a
    CIPHER_TOPIC means AES-GCM from the ``cryptography`` package (``orderledger[encryption]``)."""
    environment = Environment(name, {**os.environ, **(env or {})})
    if environment.get("CIPHER_KEY") and not environment.get("CIPHER_TOPIC"):
        environment["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
    return environment


def ledger_mapper(env: Environment) -> LedgerMapper:
    """The ledger's mapper with the cipher and compressor ``env`` names, taken from
    eventsourcing's in-memory factory (the recorder is the ledger's own)."""
    factory = POPOFactory(env)
    try:
        cipher = factory.cipher()
    except ImportError:
        raise ConfigurationError(
            "CIPHER_KEY is set but the cipher is not installed: pip install 'orderledger[encryption]'"
        ) from None
    except ValueError as error:
        raise ConfigurationError(f"CIPHER_KEY is not a usable AES key: {error}") from None
    except OSError:  # eventsourcing's "'CIPHER_KEY' not in env"
        raise ConfigurationError(
            "CIPHER_TOPIC is set but CIPHER_KEY is not: set the key the ledger's events are"
            " encrypted with (or unset CIPHER_TOPIC)"
        ) from None
    return LedgerMapper(transcoder=JSONTranscoder(), cipher=cipher, compressor=factory.compressor())


def check_cipher(ledger: LedgerParts) -> None:
    """Refuse to mix: an encrypted log needs its key; a plaintext log takes no key.

    Judged on the first chained event (a row outside the chain, which ``verify`` reports,
    cannot stop the ledger from opening), by decoding it: an encrypted payload may begin with
    any byte, ``{`` included.
    """
    with ledger.db.read() as tx:
        row = tx.one(
            "SELECT originator_id, originator_version, topic, state FROM events"
            " WHERE notification_id > 0 ORDER BY notification_id LIMIT 1"
        )
    if row is None:
        return
    state = payload(row[3])
    try:
        ledger.mapper.decode(row[2], state, row[0], row[1])
        return
    except MapperDeserialisationError as error:
        failure = str(error)
    plain = _is_json(state)
    if ledger.mapper.cipher is not None and plain:
        raise ConfigurationError(
            "this ledger's events are stored unencrypted: unset CIPHER_KEY"
            " (mixing would leave no single key that reads the whole log)"
        )
    if ledger.mapper.cipher is None and not plain:
        raise ConfigurationError(
            "this ledger's events are encrypted: set CIPHER_KEY to the key they were written with"
        )
    if ledger.mapper.cipher is not None:
        raise ConfigurationError("CIPHER_KEY is not the key this ledger's events were written with")
    raise ConfigurationError(failure)


def _is_json(data: bytes) -> bool:
    """True for a payload stored as plain JSON (written without a cipher)."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


__all__ = ["check_cipher", "ledger_environment", "ledger_mapper"]
