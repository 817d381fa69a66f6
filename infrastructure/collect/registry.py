"""The collectors, by venue name: one entry per venue in :data:`COLLECTORS`.

Everything else derives from this dict: ``orderledger collect``'s venue argument and its help,
the options and credentials each venue takes (checked before anything connects), the endpoints
``endpoint`` names, and the table in docs/collect.md. Adding a venue is one entry here and a
module beside this one with its :class:`~.source.Source` (docs/collect.md, "Adding a venue").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.source import Source, SourceConfig
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.errors import ConfigurationError
from orderledger.infrastructure.ingest.formats import FIX_OPTIONS

TIMEOUT_MEANING = "seconds a reply may take before the connection counts as lost (default 30)"
"""What the ``timeout`` option of a venue that has one means."""


@dataclass(frozen=True)
class VenueCollector:
    """One venue's collector: how to make its source and what it needs.

    ``endpoints``: name → URL (the first is the default, ``mainnet`` by convention; any URL given
    as ``endpoint`` is taken as it is). ``options``: name → meaning; ``required``: the options
    that must be given. ``credentials``: the secrets it reads (``ORDERLEDGER_<VENUE>_<NAME>`` or a
    credentials file); ``needs_account``: whether ``account`` is required."""

    factory: Callable[[SourceConfig], Source]
    summary: str
    endpoints: Mapping[str, str]
    options: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    credentials: tuple[str, ...] = ()
    needs_account: bool = False


def _fix(config: SourceConfig) -> Source:
    from orderledger.infrastructure.collect.fix import FixLogSource  # loads only for its venue

    return FixLogSource(config)


def _tradier(config: SourceConfig) -> Source:
    # a venue's module loads its clients (the collect extra) only when that venue is collected
    from orderledger.infrastructure.collect.tradier import TradierSource

    return TradierSource(config)


def _lighter(config: SourceConfig) -> Source:
    # a venue's module loads its clients (the collect extra) only when that venue is collected
    from orderledger.infrastructure.collect.lighter import lighter_source

    return lighter_source(config)


def _hyperliquid(config: SourceConfig) -> Source:
    # a venue's module loads its clients (the collect extra) only when that venue is collected
    from orderledger.infrastructure.collect.hyperliquid import HyperliquidSource

    return HyperliquidSource(config)


def _hyperliquid_watch(config: SourceConfig) -> Source:
    # a venue's module loads its clients (the collect extra) only when that venue is collected
    from orderledger.infrastructure.collect.hyperliquid import HyperliquidWatchSource

    return HyperliquidWatchSource(config)


def _ccxt(config: SourceConfig) -> Source:
    # a venue's module loads its clients (the collect extra) only when that venue is collected
    from orderledger.infrastructure.collect.ccxt import CcxtSource

    return CcxtSource(config)


HYPERLIQUID = {"mainnet": "https://api.hyperliquid.xyz", "testnet": "https://api.hyperliquid-testnet.xyz"}
"""Hyperliquid's info base URLs; the WebSocket URL derives from them (``https://h`` → ``wss://h/ws``)."""


COLLECTORS: dict[str, VenueCollector] = {
    "fix": VenueCollector(
        _fix,
        "follow a FIX engine's message log as it grows (QuickFIX/J, QuickFIX C++), surviving rotation",
        {"file": "file://"},
        options={
            "path": "the engine's messages log (e.g. FIX.4.4-SENDER-TARGET.messages.current.log)",
            "venue": "the venue name the log's orders are booked under (default fix)",
            "poll": "seconds between looks at a log with nothing new (default 0.2)",
            **{name: f"FIX adapter option: {meaning}" for name, meaning in FIX_OPTIONS.items()},
        },
        required=("path",),
    ),
    "tradier": VenueCollector(
        _tradier,
        "poll the account's orders (with tags) within the rate limit headers; recent days on start",
        {"mainnet": "https://api.tradier.com/v1", "sandbox": "https://sandbox.tradier.com/v1"},
        options={
            "poll": "seconds between polls when the rate limit allows more (default 2)",
            "days": "days of orders read on a first start (default 7)",
            "timeout": TIMEOUT_MEANING,
        },
        credentials=("token",),
        needs_account=True,
    ),
    "lighter": VenueCollector(
        _lighter,
        "the account channels (orders, trades) with the auth token, REST backfill, the market map",
        {"mainnet": "https://mainnet.zklighter.elliot.ai", "testnet": "https://testnet.zklighter.elliot.ai"},
        options={
            "ping": "seconds between the collector's pings (default 30)",
            "timeout": TIMEOUT_MEANING,
        },
        credentials=("auth_token",),
    ),
    "hyperliquid": VenueCollector(
        _hyperliquid,
        "one user's orderUpdates, userFills and userFundings over WebSocket; info backfill"
        " (historicalOrders, userFillsByTime, userFunding); frontendOpenOrders reconciled",
        HYPERLIQUID,
        options={
            "user": "the address followed (default: --account, which is then an address)",
            "venue": "the venue name the ledger books (default hyperliquid)",
            "ping": "seconds between pings (default 50; the venue drops a connection silent for 60)",
            "timeout": TIMEOUT_MEANING,
        },
        needs_account=True,
    ),
    "hyperliquid-watch": VenueCollector(
        _hyperliquid_watch,
        "other traders' open orders from webData2, each address its own account (new and closed"
        " orders by reconciliation); 10 addresses per connection, at most 10 connections",
        HYPERLIQUID,
        options={
            "addresses": "the traders' addresses, comma-separated (at most 100)",
            "venue": "the venue name the ledger books (default hyperliquid-watch)",
            "ping": "seconds between pings (default 50)",
            "timeout": TIMEOUT_MEANING,
        },
        required=("addresses",),
    ),
    "ccxt": VenueCollector(
        _ccxt,
        "any exchange ccxt.pro supports: watch_orders, watch_my_trades; REST backfill (orders, my"
        " trades, funding history) and fetch_open_orders reconciled; ccxt credentials from"
        " ORDERLEDGER_CCXT_APIKEY, _SECRET, _PASSWORD, _UID, _WALLETADDRESS, _PRIVATEKEY as needed",
        {"mainnet": "ccxt://mainnet", "testnet": "ccxt://sandbox"},
        options={
            "exchange": "the ccxt exchange id (binance, okx, hyperliquid, …)",
            "venue": "the venue name the ledger books (default: the exchange id)",
            "rate_limit": "off turns ccxt's own spacing of requests off (default on)",
            "funding_every": "seconds between reads of the funding history while streaming (default 60)",
            "symbols": "markets (ccxt symbols, comma-separated) always read where ccxt needs a symbol",
        },
        required=("exchange",),
        needs_account=True,
    ),
}
"""Every collector, by the venue name ``orderledger collect`` takes."""


def spelled() -> str:
    """The venue names in words, for help texts and errors."""
    names = list(COLLECTORS)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def collector_for(name: str) -> VenueCollector:
    found = COLLECTORS.get(name)
    if found is None:
        raise ConfigurationError(f"the venue must be {spelled()}, not {name!r}")
    return found


def endpoint_url(spec: VenueCollector, endpoint: str | None) -> str:
    """``endpoint``: a name of the venue's endpoints (default its first), or a URL."""
    if endpoint is None:
        return next(iter(spec.endpoints.values()))
    if endpoint in spec.endpoints:
        return spec.endpoints[endpoint]
    if "://" in endpoint:
        return endpoint
    names = ", ".join(spec.endpoints)
    raise ConfigurationError(f"`endpoint` must be {names} or a URL, not {endpoint!r}")


def configure(
    name: str,
    *,
    account: str | None,
    endpoint: str | None,
    options: Mapping[str, str],
    credentials: Credentials,
    timing: Timing | None = None,
) -> tuple[VenueCollector, SourceConfig]:
    """Check a collector's settings against its entry (one-line refusals) and make its config."""
    spec = collector_for(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        takes = ", ".join(spec.options) or "no options"
        raise ConfigurationError(f"collect {name} does not take the option {unknown[0]!r}; it takes {takes}")
    missing = [o for o in spec.required if not options.get(o)]
    if missing:
        raise ConfigurationError(
            f"collect {name} needs `options` {missing[0]}=… ({spec.options[missing[0]]})"
        )
    if spec.needs_account and not account:
        raise ConfigurationError(f"collect {name} needs `account`")
    absent = [c for c in spec.credentials if credentials.get(c) is None]
    if absent:
        raise ConfigurationError(
            f"collect {name} needs the credential {absent[0]!r}: set"
            f" {credentials.variable(name, absent[0])} or give `credentials`"
        )
    config = SourceConfig(
        venue=options.get("venue") or name,
        account=account,
        endpoint=endpoint_url(spec, endpoint),
        options=dict(options),
        credentials=credentials,
        timing=timing or Timing(),
    )
    return spec, config


def registry_help() -> str:
    """One line per venue for ``orderledger collect --help``."""
    lines = []
    for name, spec in COLLECTORS.items():
        needs = [f"--option {o}=…" for o in spec.required] + (["--account"] if spec.needs_account else [])
        needs += [Credentials.variable(name, c) for c in spec.credentials]
        lines.append(f"{name}: {spec.summary}" + (f" (needs {', '.join(needs)})" if needs else ""))
    return "; ".join(lines) + "."


def option_help() -> str:
    """The options of every venue, for ``--option``'s help."""
    return "; ".join(
        f"{name}: {', '.join(spec.options)}" for name, spec in COLLECTORS.items() if spec.options
    )


def venue_table() -> str:
    """The Markdown table of the collectors (docs/collect.md shows it; a test keeps it true)."""
    rows = ["| venue | what it does | endpoints | options | credentials |", "|---|---|---|---|---|"]
    for name, spec in COLLECTORS.items():
        rows.append(
            f"| `{name}` | {spec.summary} | {', '.join(f'`{e}`' for e in spec.endpoints)}"
            f" | {', '.join(f'`{o}`' for o in spec.options) or '—'}"
            f" | {', '.join(f'`{Credentials.variable(name, c)}`' for c in spec.credentials) or '—'} |"
        )
    return "\n".join(rows)


__all__ = [
    "COLLECTORS",
    "VenueCollector",
    "collector_for",
    "configure",
    "endpoint_url",
    "option_help",
    "registry_help",
    "spelled",
    "venue_table",
]
