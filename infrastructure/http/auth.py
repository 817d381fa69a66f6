"""Bearer tokens, each with a name and one or more roles (``application.typed_request.ROLES``: ``read``,
``write``, ``admin``, ``risk``; what each includes: ``INCLUDES``).

Tokens come from a file (``--tokens FILE`` or ``$ORDERLEDGER_TOKENS_FILE``: one ``[NAME=]ROLES
TOKEN`` per line, ``#`` comments) or from ``$ORDERLEDGER_TOKENS`` (``[NAME=]ROLES:TOKEN``,
comma-separated); ROLES is one role or several joined by ``+`` (``write+risk``). The name is the
principal a write over HTTP is recorded as (``set_by`` of a limit or a trading state, the
journal's origin); a token given no name is known as ``token:`` and the first 8 hex digits of
its SHA-256. With no token configured every request is allowed, which is why the server then
binds loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import shlex
import stat
from dataclasses import dataclass

from orderledger.infrastructure.application.requests import INCLUDES, ROLES
from orderledger.infrastructure.errors import ConfigurationError

TOKENS_VARIABLE = "ORDERLEDGER_TOKENS"
TOKENS_FILE_VARIABLE = "ORDERLEDGER_TOKENS_FILE"
MIN_TOKEN_LENGTH = 16
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
"""A token's name: what a write over HTTP is recorded as, so plain text a person can read."""


@dataclass(frozen=True)
class Holder:
    """Who presents a token: its ``name`` (the principal) and the roles it holds."""

    name: str
    roles: frozenset[str]

    @property
    def role(self) -> str:
        """The roles as they are configured and as a refusal names them (``write+risk``)."""
        return "+".join(r for r in ROLES if r in self.roles)

    def may(self, needed: str) -> bool:
        """True when one of the roles held includes ``needed`` (``INCLUDES``: admin ⊇ write ⊇
        read, risk ⊇ read)."""
        return any(needed in INCLUDES[role] for role in self.roles)


ANYONE = Holder("", frozenset(ROLES))
"""The caller when no token is configured (loopback only): every role, and no name."""


@dataclass(frozen=True)
class Tokens:
    """The configured tokens and who holds each; empty means no authentication (loopback only)."""

    holders: tuple[tuple[str, Holder], ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.holders)

    def holder_of(self, token: str) -> Holder | None:
        """Who holds a presented token, compared in constant time; None when unknown."""
        found = None
        for known, holder in self.holders:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = holder
        return found


def tokens(*entries: tuple[str, str]) -> Tokens:
    """Tokens from ``(TOKEN, "[NAME=]ROLES")`` pairs, checked as a tokens file's lines are."""
    return _collected([_entry(spec, token, "tokens") for token, spec in entries])


def unnamed(token: str) -> str:
    """The name of a token given none: ``token:`` and the first 8 hex digits of its SHA-256."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def _entry(spec: str, token: str, where: str) -> tuple[str, Holder]:
    spec, token = spec.strip(), token.strip()
    name, named, roles = spec.rpartition("=")
    if named and not NAME.fullmatch(name):
        raise ConfigurationError(
            f"{where}: name {name!r} is not letters, digits and . _ @ - (at most 64, a letter or digit first)"
        )
    held = roles.split("+")
    for role in held:
        if role not in ROLES:
            raise ConfigurationError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(f"{where}: a token must be at least {MIN_TOKEN_LENGTH} characters")
    return token, Holder(name if named else unnamed(token), frozenset(held))


def parse_tokens_text(text: str, where: str) -> list[tuple[str, Holder]]:
    """``[NAME=]ROLES TOKEN`` lines (blank lines and ``#`` comments skipped)."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ConfigurationError(f"{where} line {number}: expected [NAME=]ROLES TOKEN")
        entries.append(_entry(parts[0], parts[1], f"{where} line {number}"))
    return entries


SHARED_BITS = 0o077
"""Permission bits of a tokens file that let someone other than its owner at it: its tokens are
the keys to the ledger, so such a file is refused (as ssh refuses a private key)."""


def _read_private(path: str) -> str:
    """The text of a tokens file that only its owner may read or write, or a one-line error."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode  # of the file read, not of a later one
            if mode & SHARED_BITS:
                raise ConfigurationError(
                    f"tokens file {path!r} is open to group or others (mode {stat.S_IMODE(mode):04o}):"
                    f" anyone who reads it holds the tokens; run chmod 600 {shlex.quote(path)}"
                )
            return handle.read()
    except OSError as error:
        raise ConfigurationError(f"cannot read tokens file {path!r}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"tokens file {path!r} is not UTF-8 text") from None


def load_tokens(path: str | None = None, environ: dict[str, str] | None = None) -> Tokens:
    """Tokens from ``path``, else ``$ORDERLEDGER_TOKENS_FILE``, plus ``$ORDERLEDGER_TOKENS``."""
    env = os.environ if environ is None else environ
    entries: list[tuple[str, Holder]] = []
    path = path or env.get(TOKENS_FILE_VARIABLE)
    if path:
        entries += parse_tokens_text(_read_private(path), path)
    for item in (env.get(TOKENS_VARIABLE) or "").split(","):
        if item.strip():
            spec, sep, token = item.partition(":")
            if not sep:
                raise ConfigurationError(f"${TOKENS_VARIABLE}: expected [NAME=]ROLES:TOKEN, comma-separated")
            entries.append(_entry(spec, token, f"${TOKENS_VARIABLE}"))
    return _collected(entries)


def _collected(entries: list[tuple[str, Holder]]) -> Tokens:
    # The token is the key: the same token twice must not mean two holders.
    holders: dict[str, Holder] = {}
    for token, holder in entries:
        if holders.get(token, holder) != holder:
            raise ConfigurationError("the same token is given two different names or roles")
        holders[token] = holder
    return Tokens(tuple(holders.items()))


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(
    host: str,
    tokens: Tokens,
    *,
    what: str = "listen",
    risk: str = "anyone could read and write the ledger",
    instead: str = "listen on 127.0.0.1",
) -> None:
    """Refuse to listen on anything but loopback without tokens (every listener of the product:
    ``serve``, ``collect --metrics-port``): what it serves would be open to anyone. ``what``,
    ``risk`` and ``instead`` word the refusal for the listener."""
    if not tokens.enabled and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to {what} on {host} without tokens: {risk};"
            f" set ${TOKENS_VARIABLE} or --tokens FILE, or {instead}"
        )
