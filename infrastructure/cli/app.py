"""The ``orderledger`` typer application: its global options, the ledger each command opens, and
how options are read into the Python API's typed values (times, durations, sort orders).

The commands live by group beside this module (``ingest``, ``queries``, ``audit``, ``admin``);
``COMMANDS`` names each one's home, in the order ``--help`` lists them, and ``main`` runs the
application. A command's module is imported when that command runs (or ``--help`` lists it), so
``orderledger orders`` loads the reads it makes, not ingest's adapters, the HTTP server, the
collectors or rich's progress bars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import import_module
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.models import TyperInfo

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.values import parse_timestamp
from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.cli.render import warn
from orderledger.infrastructure.listing import LISTINGS
from orderledger.infrastructure.storage.early_check import DEFAULT_URL, URL_VARIABLE

COMMANDS = {
    "ingest": "ingest:ingest",
    "order": "queries:order",
    "history": "queries:history",
    "orders": "queries:orders",
    "trades": "queries:trades",
    "parents": "queries:parents",
    "positions": "queries:positions",
    "lots": "queries:lots",
    "pnl": "queries:pnl",
    "exposure": "exposure:exposure",
    "project": "admin:project",
    "rebuild": "admin:rebuild",
    "events": "audit:events",
    "follow": "audit:follow",
    "verify": "audit:verify",
    "head": "audit:head",
    "export": "audit:export",
    "reconcile": "audit:reconcile",
    "demo": "admin:demo",
    "simulate": "simulate:simulate",
    "serve": "admin:serve",
    "collect": "collect:collect",
    "db": "admin:db_app",
    "messages": "audit:messages_app",
    "instruments": "queries:instruments_app",
    "analytics": "analytics:analytics_app",
    "limits": "risk:limits",
    "limit": "risk:limit_app",
    "state": "risk:state",
    "halt": "risk:halt",
    "reduce-only": "risk:reduce_only",
    "resume": "risk:resume",
    "check": "risk:check",
    "denials": "risk:denials",
    "risk": "risk:risk_app",
}
"""Each subcommand, in the order ``--help`` lists them: ``MODULE:NAME`` of this package, a
command function or the ``typer.Typer`` of a group of subcommands."""


class _Commands(MutableMapping[str, Any]):
    """A group's subcommands by name, each built (its module imported) when first asked for."""

    def __init__(self, group: LazyGroup, homes: Mapping[str, str]) -> None:
        self.group = group
        self.built: dict[str, Any] = dict(group.commands)
        self.names = [*self.built, *(name for name in homes if name not in self.built)]
        self.homes = homes

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            module, _, attribute = self.homes[name].partition(":")
            self.built[name] = self.group.build(
                name, getattr(import_module(f"{__package__}.{module}"), attribute)
            )
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self.names:
            self.names.append(name)
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        self.names.remove(name)
        self.built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class LazyGroup(TyperGroup):
    """A typer group whose subcommands (``HOMES``: name → ``MODULE:NAME``) are imported and
    built when first used: a command or a group of them, as ``Typer.command()`` and
    ``Typer.add_typer()`` would have built it."""

    HOMES: Mapping[str, str] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self, self.HOMES)

    def build(self, name: str, target: Any) -> Any:
        if isinstance(target, typer.Typer):
            return typer.main.get_group_from_info(
                TyperInfo(target, name=name),
                pretty_exceptions_short=True,
                suggest_commands=self.suggest_commands,
                rich_markup_mode=self.rich_markup_mode,
            )
        holder = typer.Typer()
        holder.command(name)(target)
        return typer.main.get_command_from_info(
            holder.registered_commands[0],
            pretty_exceptions_short=True,
            rich_markup_mode=self.rich_markup_mode,
        )


def lazy_group(homes: Mapping[str, str]) -> type[LazyGroup]:
    """The group class of a ``typer.Typer(cls=...)`` whose subcommands are ``homes``."""
    return type("LazyGroup", (LazyGroup,), {"HOMES": homes})


app = typer.Typer(
    name="orderledger",
    cls=lazy_group(COMMANDS),
    help="An event-sourced order ledger: every fact immutable, every view rebuildable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help panels print a metavar such as <bool> after every flag.
    rich_markup_mode=None,
)


class _State:
    url: str | None = None


state = _State()


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=f"Database URL: sqlite:///PATH, memory:// or postgresql://… "
            f"(default ${URL_VARIABLE}, else {DEFAULT_URL}).",
            metavar="URL",
        ),
    ] = None,
) -> None:
    """Global options (given before or after the subcommand)."""
    state.url = db


@contextmanager
def open_ledger(create: bool = True) -> Iterator[OrderLedger]:
    """The ledger at --db. ``create=False`` (read-only commands): an existing ledger or an error,
    never a new file, schema or tables."""
    with OrderLedger(state.url, create=create) as ledger:
        yield ledger


def warn_if_behind(ledger: OrderLedger) -> None:
    """For a command answered from the views: one line on stderr when they are behind the log
    (``ingest --no-project`` with no follower running), so that what is missing is not taken
    for nothing having happened."""
    lag = ledger.upkeep.views_lag()
    if not lag.current:
        warn(f"orderledger: {lag.warning()}")


# ---------------------------------------------------------------------- reading options


def moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time option, or None."""
    return None if value is None else parse_timestamp(value, option)


def time_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """--since/--until as times; an empty range is refused in the options' own words (the
    query would refuse it too, in the API's)."""
    low, high = moment(since, "--since"), moment(until, "--until")
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"--since {since} is after --until {until}: nothing could match")
    return low, high


OPTION_NAMES = {"fmt": "--format", "options": "--option", "credentials": "--credentials-file"}
"""The options whose name is not their argument's with dashes (``app_role`` is ``--app-role``)."""


def option_name(argument: str) -> str:
    """How the command line spells an argument of the Python API."""
    return OPTION_NAMES.get(argument, "--" + argument.replace("_", "-"))


def sort_help(listing: str) -> str:
    """The help of ``--sort``, from the list's declaration (``listing.LISTINGS``)."""
    return f"{LISTINGS[listing].describe_sort()}."


def seconds(value: float, option: str, low: float, high: float, *, above: bool = False) -> float:
    """A finite number of seconds within bounds (NaN and infinities are refused)."""
    if not math.isfinite(value) or value < low or value > high or (above and value == low):
        bound = f"more than {low:g}" if above else f"from {low:g}"
        raise InvalidInputError(f"{option} must be a number of seconds {bound} to {high:g}, not {value!r}")
    return value


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str, option: str) -> timedelta:
    """``90``, ``30s``, ``10m``, ``2h`` or ``1d``, at most 366 days."""
    found = _DURATION.fullmatch(text.strip())
    amount = float(found[1]) * _UNITS[found[2]] if found else -1.0
    if not 0 <= amount <= 366 * 86400:
        raise InvalidInputError(f"{option} takes a duration such as 30s, 10m, 2h or 1d, not {text!r}")
    return timedelta(seconds=amount)


class Interrupted(Exception):
    """A command (ingest) stopped part-way: the one line to print, and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def open_input(path: str) -> Any:
    """A file to read bytes from, or a one-line error."""
    try:
        return open(path, "rb")
    except OSError as error:
        raise InvalidInputError(f"cannot read {path!r}: {error.strerror}") from None


# Options several commands share (declared once).
LimitOption = Annotated[int | None, typer.Option("--limit", min=1, max=10**9, help="Show at most this many.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
EventTimeOption = Annotated[bool, typer.Option("--event-time", help="Read --as-of as venue time.")]
