"""The filter options of every list command, derived from ``listing.FILTERS`` as the HTTP API's
query parameters are (``http.list_parameters``).

A list command takes ``criteria: Criteria`` and is declared with ``@lists("orders")``: in place
of that parameter, typer sees one option ``--PARAM`` for each filter the list takes, with the
help its declaration gives; the command receives what was given as ``criteria``, parsed by each
filter's kind (a time as a UTC datetime, an empty range refused in the options' own words). A
filter added to a list in ``listing.FILTERS`` is thereby an option of its command too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import typer

from orderledger.domain.errors import argument_names
from orderledger.infrastructure.cli.app import option_name, time_range
from orderledger.infrastructure.listing import FILTERS_BY_NAME, Criterion, filters_of
from orderledger.infrastructure.results.filter import Filter

Command = Callable[..., None]


@dataclass(frozen=True)
class Criteria:
    """The filters a list command was given, by the ``Filter``'s field names (None: not given)."""

    chosen: Mapping[str, Any] = field(default_factory=dict)

    def filter(self, **paging: Any) -> Filter:
        """The ``Filter`` of these criteria, with ``paging`` (``sort``, ``limit`` …)."""
        return Filter(**self.chosen, **paging)


NO_CRITERIA = Criteria()
"""No filter given (the default of a list command's ``criteria``)."""


def filter_help(listing: str, name: str) -> str:
    """The help of a filter's option, from its one declaration (``listing.FILTERS``); an
    argument it names is spelled as its option."""
    text = argument_names(FILTERS_BY_NAME[name].describe(listing), option_name)
    return f"{text[0].upper()}{text[1:]}."


def _option(listing: str, criterion: Criterion, kind: inspect._ParameterKind) -> inspect.Parameter:
    option = typer.Option(f"--{criterion.param}", help=filter_help(listing, criterion.name))
    return inspect.Parameter(criterion.param, kind, default=None, annotation=Annotated[str | None, option])


def _read(listing: str, given: dict[str, Any]) -> Criteria:
    """The criteria among a command's ``given`` options (removed from it), parsed."""
    chosen: dict[str, Any] = {}
    times: dict[str, str | None] = {}
    for criterion in filters_of(listing):
        text = given.pop(criterion.param)
        if criterion.kind is datetime:
            times[criterion.name] = text
        else:
            chosen[criterion.name] = text
    if times:  # the time filters are a range's two ends (checked when the command is declared)
        chosen["since"], chosen["until"] = time_range(times["since"], times["until"])
    return Criteria(chosen)


def lists(listing: str) -> Callable[[Command], Command]:
    """Declare ``listing``'s filters as options of the command, in place of its ``criteria``."""
    criteria = filters_of(listing)
    times = {c.name for c in criteria if c.kind is datetime}
    if times not in (set(), {"since", "until"}):
        raise TypeError(f"{listing}: a command reads times as a since/until range, not {sorted(times)}")

    def derive(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        taken = set(signature.parameters) & {c.param for c in criteria}
        if "criteria" not in signature.parameters or taken:
            raise TypeError(f"{command.__name__} must take `criteria` and no parameter named as a filter")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name == "criteria":
                parameters += [_option(listing, c, parameter.kind) for c in criteria]
            else:
                parameters.append(parameter)

        @functools.wraps(command)
        def run(**given: Any) -> None:
            command(criteria=_read(listing, given), **given)

        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return derive


__all__ = ["NO_CRITERIA", "Criteria", "filter_help", "lists"]
