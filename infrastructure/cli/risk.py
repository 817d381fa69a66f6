"""Risk commands: ``limits``, ``limit set|clear``, ``halt``, ``reduce-only``, ``resume``,
``state``, ``check`` and ``denials`` (docs/risk.md). Thin shells over ``OrderLedger``'s risk methods."""

from __future__ import annotations

import getpass
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from orderledger.domain.errors import InvalidInputError
from orderledger.domain.events import TradingStateSet
from orderledger.domain.risk import RESPONDING
from orderledger.domain.values import format_decimal, format_timestamp
from orderledger.infrastructure.application.requests import ClearLimit, SetLimit, SetTradingState
from orderledger.infrastructure.application.risk.standing import ALERTS, Changes
from orderledger.infrastructure.cli.app import JsonOption, duration, moment, open_ledger, seconds
from orderledger.infrastructure.cli.json_out import json_array, print_json
from orderledger.infrastructure.cli.render import say, text_table

AsOf = Annotated[
    str | None,
    typer.Option(
        help="As they stood at this time of the ledger's clock (ISO 8601); later ones are scheduled."
    ),
]
By = Annotated[
    str | None,
    typer.Option("--by", help="Who sets it: a person, a rule, a service (default: your user name)."),
]
Reason = Annotated[str | None, typer.Option(help="Why: kept with the fact.")]
Account = Annotated[str | None, typer.Option(help="The account (every account: --all-accounts).")]


def _since(row: Any) -> str:
    """When a limit or state takes effect, marked when it is scheduled (not in force yet)."""
    since = format_timestamp(row.since or row.ts_event)
    return f"{since} (scheduled)" if row.scheduled else since


def limits(as_of: AsOf = None, as_json: JsonOption = False) -> None:
    """The limits in force now (or --as-of a time), then those scheduled: who set each, when and why."""
    with open_ledger(create=False) as ledger:
        rows = ledger.risk_controls.limits(as_of=moment(as_of, "--as-of"))
    if as_json:
        json_array(row.to_json() for row in rows)
        return
    # The response column is shown when a limit has one (a loss or drawdown limit).
    responding = any(r.kind in RESPONDING for r in rows)
    text_table(
        "limits",
        [
            "scope",
            "target",
            "kind",
            "value",
            "interval",
            *(["response"] * responding),
            "by",
            "since",
            "reason",
        ],
        [
            [
                r.scope,
                r.target,
                r.kind,
                format_decimal(r.value),
                "" if r.interval is None else f"{r.interval}s",
                *([response_shown(r)] * responding),
                r.set_by,
                _since(r),
                r.reason or "",
            ]
            for r in rows
        ],
        wrap=("reason",),
    )


def set_limit(
    scope: Annotated[str, typer.Argument(help="account, underlying, instrument or tag.")],
    target: Annotated[str, typer.Argument(help="The account, underlying, instrument or NAME=VALUE tag.")],
    kind: Annotated[str, typer.Argument(help="max_position, max_gross_exposure, max_order_notional, …")],
    value: Annotated[str, typer.Argument(help="The most the figure may be.")],
    interval: Annotated[int | None, typer.Option(help="For max_orders: the window in seconds.")] = None,
    set_by: By = None,
    reason: Reason = None,
    response: Annotated[
        str | None,
        typer.Option(help="For max_daily_loss, max_drawdown: reduce_only (default) or halt, once past it."),
    ] = None,
) -> None:
    """Set a limit, in force from now until set again or cleared."""
    who = set_by or getpass.getuser()
    with open_ledger() as ledger:
        ledger.handle(
            SetLimit(scope, target, kind, value, who, interval=interval, reason=reason, response=response)
        )
    say(f"{kind} of {scope} {target} set to {value} by {who}")


def clear_limit(
    scope: Annotated[str, typer.Argument(help="account, underlying, instrument or tag.")],
    target: Annotated[str, typer.Argument(help="The account, underlying, instrument or NAME=VALUE tag.")],
    kind: Annotated[str, typer.Argument(help="The kind of limit to clear.")],
    set_by: By = None,
    reason: Reason = None,
) -> None:
    """Clear a limit: it no longer applies from now."""
    who = set_by or getpass.getuser()
    with open_ledger() as ledger:
        ledger.handle(ClearLimit(scope, target, kind, who, reason=reason))
    say(f"{kind} of {scope} {target} cleared by {who}")


def response_shown(row: Any) -> str:
    """A limit's response as the table shows it: its own, the default for a loss or drawdown limit."""
    if row.kind not in RESPONDING:
        return ""
    return row.response or "reduce_only"


For = Annotated[
    str | None, typer.Option("--for", help="Lift itself after this long: 90s, 30m, 2h (a cooldown).")
]
Until = Annotated[str | None, typer.Option(help="Lift itself at this time (ISO 8601).")]


AllAccounts = Annotated[
    bool,
    typer.Option("--all-accounts", help="Set every account's state (needed when no --account is given)."),
]


def _set_state(
    command: str,
    state: str,
    account: str | None,
    all_accounts: bool,
    set_by: str | None,
    reason: str | None,
    lasting: str | None = None,
    until: str | None = None,
) -> None:
    if account is None and not all_accounts:
        raise InvalidInputError(
            f"{command} without --account sets every account's state:"
            " name an --account, or say --all-accounts"
        )
    if account is not None and all_accounts:
        raise InvalidInputError(f"{command}: --account and --all-accounts are two different things; give one")
    if lasting is not None and until is not None:
        raise InvalidInputError(f"{command}: --for and --until both say when it lifts itself; give one")
    who = set_by or getpass.getuser()
    span = None if lasting is None else duration(lasting, "--for")
    asked = SetTradingState(
        state, who, account=account, reason=reason, until=moment(until, "--until"), lasting=span
    )
    with open_ledger() as ledger:
        ledger.handle(asked)
        rows = ledger.risk_controls.trading_states()
    ends = "".join(
        f" until {format_timestamp(r.until)}" for r in rows if r.account == (account or "") and r.until
    )
    say(f"{account or 'every account'}: {state}{ends} (set by {who})")


def halt(
    account: Account = None,
    all_accounts: AllAccounts = False,
    set_by: By = None,
    reason: Reason = None,
    lasting: For = None,
    until: Until = None,
) -> None:
    """Halt trading: every order of the account (or, with --all-accounts, of every account) is
    denied; with --for or --until, a cooldown that lifts itself."""
    _set_state("halt", "halted", account, all_accounts, set_by, reason, lasting, until)


def reduce_only(
    account: Account = None,
    all_accounts: AllAccounts = False,
    set_by: By = None,
    reason: Reason = None,
    lasting: For = None,
    until: Until = None,
) -> None:
    """Reduce only: only orders that shrink the absolute position are allowed; with --for or
    --until, until then."""
    _set_state("reduce-only", "reduce_only", account, all_accounts, set_by, reason, lasting, until)


def resume(
    account: Account = None, all_accounts: AllAccounts = False, set_by: By = None, reason: Reason = None
) -> None:
    """Trade again: the account (or, with --all-accounts, the global state) is active."""
    _set_state("resume", "active", account, all_accounts, set_by, reason)


def state(as_of: AsOf = None, as_json: JsonOption = False) -> None:
    """Each account's trading state in force (the stricter of its own and every account's: "halted
    (global); own active"), and its own as last set (every account's first): by whom and why."""
    with open_ledger(create=False) as ledger:
        rows = ledger.risk_controls.trading_states(as_of=moment(as_of, "--as-of"))
    if as_json:
        json_array(row.to_json() for row in rows)
        return
    # The until column is shown when a state has one (a cooldown).
    timed = any(r.until is not None for r in rows)
    text_table(
        "trading states",
        ["account", "state", "by", "since", *(["until"] * timed), "reason"],
        [
            [
                r.account or "(every account)",
                r.shown,
                r.set_by,
                _since(r),
                *([format_timestamp(r.until) if r.until else ""] * timed),
                r.reason or "",
            ]
            for r in rows
        ],
        wrap=("reason",),
    )


def check(
    order: Annotated[
        str, typer.Argument(metavar="ORDER", help="The order's request fields as a JSON object.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Check an order against the limits and its account's trading state; exit 1 when denied."""
    try:
        spec: Any = json.loads(order)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"ORDER is not JSON: {error.msg}") from None
    if not isinstance(spec, dict):
        raise InvalidInputError("ORDER must be a JSON object of a request's fields")
    with open_ledger() as ledger:
        result = ledger.check(spec)
    if as_json:
        print_json(result.to_json())
    else:
        say("allowed" if result.allowed else "denied")
        for reason in result.reasons:
            say(f"  {reason}")
    if not result.allowed:
        raise typer.Exit(1)


def risk(
    ctx: typer.Context,
    threshold: Annotated[
        float, typer.Option(help="Say a limit is near when its figure is at least this share of it.")
    ] = 0.8,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep going: a line each time a limit's status changes.")
    ] = False,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between looks.")] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """How close each limit stands to its value: ok, near, breached, unknown or per_order. Exit 1
    when one is near or breached (for cron); --watch prints a line (--json: a JSON object) each
    time a limit's status changes, until interrupted, and records at each look the response of a
    loss or drawdown limit passed (a mark another process recorded). `risk replay`: limits
    replayed over the log."""
    if ctx.invoked_subcommand is not None:
        return
    pause = seconds(interval, "--interval", 0.01, 3600)
    with open_ledger(create=False) as ledger:
        rows = ledger.risk(threshold=threshold)
        if not watch:
            if as_json:
                json_array(row.to_json() for row in rows)
            else:
                for row in rows:
                    say(row.line())
            if any(row.status in ALERTS for row in rows):
                raise typer.Exit(1)
            return
        changes = Changes()
        while True:
            for result in ledger.risk_controls.respond():
                for event in result.events:
                    if isinstance(event, TradingStateSet):
                        shown = {"account": event.account, "state": event.state, "set_by": event.set_by}
                        line = f"{event.state} {event.account} (set by {event.set_by}: {event.reason})"
                        say(json.dumps({**shown, "reason": event.reason}) if as_json else line)
            for row in rows:
                if changes.news(row.limit.key, row.status):
                    say(json.dumps(row.to_json()) if as_json else row.line())
            sys.stdout.flush()
            time.sleep(pause)
            rows = ledger.risk(threshold=threshold)


def replay(
    limits: Annotated[
        Path,
        typer.Option(
            "--limits",
            metavar="FILE",
            help="limit_set objects: a JSON array or JSON lines (type, ts and set_by may be left out).",
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            help="Judge the orders recorded from this time on (ISO 8601); the state before is folded first."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Which recorded orders the limits would have denied (or flagged: external orders), and the
    P&L and exposure path as recorded and without the denied orders. Reads the log, writes nothing."""
    try:
        text = limits.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(
            f"--limits: cannot read {limits}: {getattr(error, 'strerror', None) or error}"
        ) from None
    with open_ledger(create=False) as ledger:
        found = ledger.risk_controls.risk_replay(text, since=moment(since, "--since"))
    if as_json:
        print_json(found.to_json())
        return
    text_table(
        f"denied or flagged ({len(found.orders)})",
        ["order", "outcome", "recorded", "account", "instrument", "side", "quantity", "price", "breaches"],
        [
            [
                r.client_order_id,
                r.outcome,
                format_timestamp(r.ts_recorded),
                r.account,
                r.instrument,
                r.side.value,
                format_decimal(r.quantity),
                "" if r.price is None else format_decimal(r.price),
                "; ".join(b.reason for b in r.breaches),
            ]
            for r in found.orders
        ],
        wrap=("breaches",),
    )
    say()
    text_table(
        "path (recorded → replayed)",
        ["at", "account", "ccy", "realized", "replayed", "net", "replayed", "gross", "replayed"],
        [
            [
                r.at,
                r.account,
                r.currency,
                *(
                    format_decimal(v)
                    for v in (
                        r.realized_pnl,
                        r.replayed_realized_pnl,
                        r.net,
                        r.replayed_net,
                        r.gross,
                        r.replayed_gross,
                    )
                ),
            ]
            for r in found.path
        ],
    )


risk_app = typer.Typer(
    help="How close each limit stands to its value; `risk replay`: limits replayed over the log.",
    invoke_without_command=True,
)
"""``orderledger risk`` (the limits' standing) and ``orderledger risk replay``."""
risk_app.callback()(risk)
risk_app.command("replay")(replay)


limit_app = typer.Typer(help="Set or clear a risk limit (docs/risk.md).", no_args_is_help=True)
"""``orderledger limit``: ``set`` and ``clear``."""
limit_app.command("set")(set_limit)
limit_app.command("clear")(clear_limit)


def _breached(breach: dict[str, str]) -> str:
    """One breach as people read it: its reason, and the event it applied."""
    return f"{breach['reason']} [{breach.get('cites_event', '?')} {breach.get('cites', '?')}]"


def denials(
    account: Annotated[str | None, typer.Option(help="Only this account's.")] = None,
    limit: Annotated[
        str | None,
        typer.Option(help="Only those breaching a limit of this kind (max_position, …, or trading_state)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Recorded from this time of the ledger's clock on.")
    ] = None,
    last: Annotated[int, typer.Option(help="The latest this many (at most 5000).")] = 500,
    as_json: JsonOption = False,
) -> None:
    """The breaches the risk door recorded as facts: each request denied, let through by an
    override (by whom and why) or venue's order flagged, at the ledger's time, each breach citing
    the limit or trading state event it applied."""
    with open_ledger(create=False) as ledger:
        rows = ledger.risk_controls.denials(
            account=account, limit=limit, since=moment(since, "--since"), last=last
        )
    if as_json:
        json_array(row.to_json() for row in rows)
        return
    text_table(
        "denials",
        ["position", "at", "action", "order", "account", "instrument", "by", "breaches"],
        [
            [
                r.position,
                format_timestamp(r.ts),
                r.action,
                r.client_order_id,
                r.account,
                r.instrument,
                "" if r.by is None else f"{r.by}: {r.why or ''}",
                "; ".join(_breached(b) for b in r.breaches),
            ]
            for r in rows
        ],
        wrap=("breaches",),
    )
