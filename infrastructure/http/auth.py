"""Bearer tokens with a role each: ``read`` < ``write`` < ``admin`` (each includes the ones before).

Tokens come from a file (``--tokens FILE`` or ``$ORDERLEDGER_TOKENS_FILE``: one ``ROLE TOKEN``
per line, ``#`` comments) or from ``$ORDERLEDGER_TOKENS`` (``ROLE:TOKEN,ROLE:TOKEN``). With no
token configured every request is allowed, which is why the server then binds loopback only.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import shlex
import stat
from dataclasses import dataclass

from orderledger.infrastructure.application.requests import ROLES
from orderledger.infrastructure.errors import ConfigurationError

TOKENS_VARIABLE = "ORDERLEDGER_TOKENS"
TOKENS_FILE_VARIABLE = "ORDERLEDGER_TOKENS_FILE"
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Tokens:
    """The configured tokens and their roles; empty means no authentication (loopback only)."""

    roles: tuple[tuple[str, str], ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.roles)

    def role_of(self, token: str) -> str | None:
        """The role of a presented token, compared in constant time; None when unknown."""
        found = None
        for known, role in self.roles:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = role
        return found


def allows(role: str, needed: str) -> bool:
    """True when ``role`` includes ``needed`` (admin ⊇ write ⊇ read)."""
    return ROLES.index(role) >= ROLES.index(needed)


def _entry(role: str, token: str, where: str) -> tuple[str, str]:
    role, token = role.strip(), token.strip()
    if role not in ROLES:
        raise ConfigurationError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(f"{where}: a token must be at least {MIN_TOKEN_LENGTH} characters")
    return role, token


def parse_tokens_text(text: str, where: str) -> list[tuple[str, str]]:
    """``ROLE TOKEN`` lines (blank lines and ``#`` comments skipped)."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ConfigurationError(f"{where} line {number}: expected ROLE TOKEN")
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
    entries: list[tuple[str, str]] = []
    path = path or env.get(TOKENS_FILE_VARIABLE)
    if path:
        entries += parse_tokens_text(_read_private(path), path)
    for item in (env.get(TOKENS_VARIABLE) or "").split(","):
        if item.strip():
            role, sep, token = item.partition(":")
            if not sep:
                raise ConfigurationError(f"${TOKENS_VARIABLE}: expected ROLE:TOKEN, comma-separated")
            entries.append(_entry(role, token, f"${TOKENS_VARIABLE}"))
    # The token is the key: the same token twice must not mean two roles.
    roles: dict[str, str] = {}
    for role, token in entries:
        if roles.get(token, role) != role:
            raise ConfigurationError("the same token is given two different roles")
        roles[token] = role
    return Tokens(tuple((token, role) for token, role in roles.items()))


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
