"""The access rules of every listener of the product (``serve``'s API and page, ``collect
--metrics-port``'s metrics): :class:`Access`, which each of them asks, so that the rules are the
same everywhere. Who may call (a bearer token's role, when tokens are configured), and what is
refused before anything is answered: requests a web browser may have been tricked into.

A page from any site can make the operator's browser send requests to the server: a form or a
``fetch`` with a "simple" content type (``text/plain``, a form's two types, or none) goes out
without asking the server first, and a DNS name the attacker controls can be made to point at
127.0.0.1 (DNS rebinding), after which the page reads the answers too. So, in front of every route:

- without tokens (loopback only), the ``Host`` header must name loopback (``localhost``,
  ``127.0.0.0/8``, ``::1``): a rebound name is refused, reads included;
- a request that may change the ledger (any method but GET, HEAD, OPTIONS) is refused when its
  ``Origin`` is another origin than the server's own and not one of ``--allow-origin``, and when
  its content type is one a browser sends across origins unasked. Every other type makes the
  browser ask first (a CORS preflight), which this server never grants.

Without tokens a listener binds loopback only (``auth.check_bind``). See docs/http.md (threat
model, "Every listener").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.http.auth import ANYONE, Holder, Tokens, is_loopback
from orderledger.infrastructure.http.problems import Problem, problem_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIMPLE_TYPES = frozenset({"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
"""Content types a browser sends to another origin without a preflight (and none at all)."""
CHALLENGE = {"WWW-Authenticate": "Bearer"}
"""The header of every 401: the scheme a caller must use."""


def host_name(host: str) -> str:
    """The name in a ``Host`` header or an origin's authority, without the port."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def origin_authority(origin: str) -> str | None:
    """``host[:port]`` of an ``Origin`` header, lower case; None for ``null`` or nonsense."""
    parts = urlsplit(origin.strip().lower())
    return parts.netloc if parts.scheme in ("http", "https") and parts.netloc else None


def check_origin(origin: str) -> str:
    """An origin for ``--allow-origin`` (``scheme://host[:port]``), lower case, or a one-line error."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ConfigurationError(f"--allow-origin {origin!r}: give an origin as scheme://host[:port]")
    return f"{parts.scheme}://{parts.netloc}".lower()


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header (the scheme in any case), else None."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class Access:
    """The rules one listener applies: its tokens (none: loopback only, every caller ``ANYONE``: every role)
    and the web origins besides its own whose pages may write (``--allow-origin``)."""

    tokens: Tokens = field(default_factory=Tokens)
    allowed_origins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tokens: Tokens | None = None, allowed_origins: Iterable[str] = ()) -> Access:
        origins = frozenset(o.strip().lower().rstrip("/") for o in allowed_origins)
        return cls(tokens or Tokens(), origins)

    def refusal(self, method: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """Why a request is refused before anything else (status, one-line detail), or None:
        ``headers`` by lower-case name."""
        return refusal(method, headers, self.tokens, self.allowed_origins)

    def holder(self, token: str | None) -> Holder:
        """Who presents ``token`` (None: no bearer token): ``ANYONE`` (every role, no name)
        without tokens configured, else the token's holder; a ``Problem`` 401 without a known
        token."""
        if not self.tokens.enabled:
            return ANYONE
        if token is None:
            raise Problem(401, "a bearer token is required: Authorization: Bearer TOKEN", headers=CHALLENGE)
        holder = self.tokens.holder_of(token)
        if holder is None:
            raise Problem(401, "the bearer token is not known", headers=CHALLENGE)
        return holder

    def admit(self, method: str, headers: dict[str, str]) -> Holder:
        """A request to a listener whose every answer is a read (the metrics): the refusals
        first, then the caller's role (every role includes ``read``, so any known token reads);
        a ``Problem`` when refused. Roles are compared for the API's requests in access.py."""
        refused = self.refusal(method, headers)
        if refused is not None:
            raise Problem(*refused)
        return self.holder(bearer_token(headers.get("authorization", "")))


def refusal(
    method: str, headers: dict[str, str], tokens: Tokens, allowed_origins: frozenset[str]
) -> tuple[int, str] | None:
    """Why a request is refused (status, one-line detail), or None to let it through."""
    host = headers.get("host", "")
    if not tokens.enabled and not is_loopback(host_name(host)):
        return 403, (
            f"Host {host[:80]!r} is not a loopback name: without tokens this server answers only"
            " requests addressed to localhost, 127.0.0.1 or [::1] (a DNS name pointed at loopback"
            " could be a web page reading the ledger)"
        )
    if method in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    if origin is not None:
        authority = origin_authority(origin)
        if authority != host.strip().lower() and origin.strip().lower().rstrip("/") not in allowed_origins:
            return 403, (
                f"a request from the web page at {origin[:80]!r} may not change the ledger:"
                " only this server's own page and origins given by --allow-origin may"
            )
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    has_body = headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers
    if has_body and media_type in SIMPLE_TYPES:
        return 415, (
            f"writes are not accepted as {media_type or 'a body without Content-Type'}, which any web"
            " page can send unasked: post application/json, application/x-ndjson or application/octet-stream"
        )
    return None


class BrowserGuard:
    """ASGI middleware answering a request ``access`` refuses with a problem document."""

    def __init__(self, app: ASGIApp, *, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            refused = self.access.refusal(scope["method"], headers)
            if refused is not None:
                await problem_response(*refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)
