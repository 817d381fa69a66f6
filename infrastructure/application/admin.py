"""The ledger's upkeep: the eventsourcing pieces it composes (environment, mapper with the
cipher and compressor, the check that a log is read with the key it was written with), its
schema and cost-basis rule, exports, and the audit's verify and head.

``OrderLedger`` keeps the public methods (their signatures and the argument checks); each
delegates here with itself as ``ledger``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError
from eventsourcing.popo import POPOFactory
from eventsourcing.utils import Environment

from orderledger.domain.errors import InvalidInputError
from orderledger.infrastructure.application.exports import check_export, write_export
from orderledger.infrastructure.audit.anchors import check_anchors, record_anchor
from orderledger.infrastructure.audit.heads import merge_heads
from orderledger.infrastructure.audit.verify import Progress, VerifyReport, verify
from orderledger.infrastructure.errors import ConfigurationError, DatabaseReadOnlyError, StoreError
from orderledger.infrastructure.results import Filter, Head
from orderledger.infrastructure.storage.admin import init_database
from orderledger.infrastructure.storage.mapper import LedgerMapper
from orderledger.infrastructure.storage.store import payload
from orderledger.projections.lots import COST_BASIS_SETTING
from orderledger.projections.lots import cost_basis_named as _cost_basis

if TYPE_CHECKING:
    from orderledger.infrastructure.application.parts import LedgerParts


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


def set_up(
    ledger: LedgerParts, app_role: str | None, password: str | None, cost_basis: str | None
) -> list[str]:
    """``OrderLedger.init_database``: the schema, the role, and a new ledger's cost-basis rule."""
    rule = None if cost_basis is None else _cost_basis(cost_basis)
    if rule is not None and rule != ledger.cost_basis() and ledger.log_position():
        raise InvalidInputError(
            f"this ledger already has events under {ledger.cost_basis()}: change its rule with"
            f" `orderledger db cost-basis {rule} --yes`",
            field="cost_basis",
        )
    done = list(init_database(ledger.db, ledger.recorder, ledger.views, app_role, password))
    if rule is not None:
        ledger.recorder.set_setting(COST_BASIS_SETTING, rule)
        done.append(f"positions and P&L use cost basis {rule}")
    return done


def export(
    ledger: LedgerParts,
    table: str,
    out: str | Path | io.BufferedIOBase | io.RawIOBase,
    *,
    fmt: str,
    force: bool,
    raw: bool,
    cost_basis: str,
) -> int:
    """``OrderLedger.export``: a whole table written to a file or a binary stream."""
    check_export(table, fmt, raw)
    everything = Filter()
    found: Iterable[Any]
    if table == "trades":
        found = ledger.iter_trades(everything)
    elif table == "orders":
        found = ledger.iter_orders(everything)
    elif table in ("lots", "closed-lots"):
        found = ledger.lots(cost_basis=cost_basis, closed=table == "closed-lots")
    else:
        found = ledger.iter_events(everything)
    rows = (row.to_json() for row in found)
    return write_export(rows, out, fmt=fmt, raw=raw, force=force, ledger_url=ledger.url)


def verify_ledger(
    ledger: LedgerParts,
    *,
    expect_head: Head | tuple[int, str] | None,
    heads: Mapping[int, str] | None,
    journal_heads: Mapping[int, str] | None,
    deep: bool,
    incremental: bool = False,
    anchor: bool = False,
    progress: Progress | None = None,
) -> VerifyReport:
    """``OrderLedger.verify``: the storage, the chains, the views and the journal checked."""
    expected = None if expect_head is None else _head_pair(expect_head)
    journal = dict(journal_heads or {})
    if isinstance(expect_head, Head) and expect_head.journal is not None:
        journal = merge_heads(journal, [expect_head.journal], "expect_head")
    since = check_anchors(ledger.db).last if incremental else None
    report = verify(
        ledger.db,
        ledger.mapper,
        expect_head=expected,
        heads=heads,
        journal_heads=journal,
        deep=deep,
        since=since,
        progress=progress,
    )
    report.heads_checked = len(heads or {}) + len(journal) + (expected is not None)
    if anchor and report.ok and not ledger.db.url.read_only:
        try:
            if record_anchor(ledger.db, report.head, report.journal_head) is not None:
                report.anchored += 1
        except DatabaseReadOnlyError:
            pass  # read-only: the next verify starts from the anchor before
        except StoreError as error:
            if "permission denied" not in str(error):
                raise  # (an application role not yet granted INSERT on verified likewise)
    return report


def _head_pair(head: Head | tuple[int, str]) -> tuple[int, str] | None:
    if isinstance(head, Head):
        return (head.position, head.hash) if head.position else None
    return head


def _is_json(data: bytes) -> bool:
    """True for a payload stored as plain JSON (written without a cipher)."""
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True
