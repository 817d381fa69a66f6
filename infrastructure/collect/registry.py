"""The collectors, by name: each venue package declares its own (``adapters/<venue>/venue.py``,
``declared.Collector``), and the venue registry (``adapters.venue_registry``) lists the packages.

Everything else derives from those declarations: ``orderledger collect``'s venue argument and
its help, the options and credentials each venue takes (checked before anything connects), the
endpoints ``endpoint`` names, and the table in docs/collect.md. Adding a venue is its package and
one line in the venue registry (docs/venues.md, "Adding a venue").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from orderledger.infrastructure.adapters import venue_registry
from orderledger.infrastructure.adapters.declared import Collector, load
from orderledger.infrastructure.collect.credentials import Credentials
from orderledger.infrastructure.collect.source import Source, SourceConfig
from orderledger.infrastructure.collect.timing import Timing
from orderledger.infrastructure.errors import ConfigurationError


class VenueCollector(Collector):
    """One venue's collector: its declaration (``adapters.declared.Collector``: the endpoints,
    options, required options, credentials and whether ``account`` is needed), and the source
    it names, made by :meth:`factory`."""

    def factory(self, config: SourceConfig) -> Source:
        """The collector's source; its module (and the clients it loads, the collect extra) is
        imported only now, when its venue is collected."""
        source: Source = load(self.source)(config)
        return source


def _made(declared: Collector) -> VenueCollector:
    return VenueCollector(**{f.name: getattr(declared, f.name) for f in fields(declared)})


def collectors() -> dict[str, VenueCollector]:
    """Every collector, by the venue name ``orderledger collect`` takes."""
    return {name: _made(declared) for name, declared in venue_registry.collectors().items()}


def spelled() -> str:
    """The venue names in words, for help texts and errors."""
    names = list(venue_registry.collectors())
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def collector_for(name: str) -> VenueCollector:
    declared = venue_registry.collectors().get(name)
    if declared is None:
        raise ConfigurationError(f"the venue must be {spelled()}, not {name!r}")
    return _made(declared)


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
    for name, spec in venue_registry.collectors().items():
        needs = [f"--option {o}=…" for o in spec.required] + (["--account"] if spec.needs_account else [])
        needs += [Credentials.variable(name, c) for c in spec.credentials]
        lines.append(f"{name}: {spec.summary}" + (f" (needs {', '.join(needs)})" if needs else ""))
    return "; ".join(lines) + "."


def option_help() -> str:
    """The options of every venue, for ``--option``'s help."""
    return "; ".join(
        f"{name}: {', '.join(spec.options)}"
        for name, spec in venue_registry.collectors().items()
        if spec.options
    )


def venue_table() -> str:
    """The Markdown table of the collectors (docs/collect.md shows it; a test keeps it true)."""
    rows = ["| venue | what it does | endpoints | options | credentials |", "|---|---|---|---|---|"]
    for name, spec in venue_registry.collectors().items():
        rows.append(
            f"| `{name}` | {spec.summary} | {', '.join(f'`{e}`' for e in spec.endpoints)}"
            f" | {', '.join(f'`{o}`' for o in spec.options) or '—'}"
            f" | {', '.join(f'`{Credentials.variable(name, c)}`' for c in spec.credentials) or '—'} |"
        )
    return "\n".join(rows)


__all__ = [
    "VenueCollector",
    "collector_for",
    "collectors",
    "configure",
    "endpoint_url",
    "option_help",
    "registry_help",
    "spelled",
    "venue_table",
]
