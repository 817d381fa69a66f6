"""The day's loss and drawdown along a replay of the log (``limits_replay``, docs/risk.md, "Limits
replayed over history"), and the responses those limits set.

For each account a ``max_daily_loss`` or ``max_drawdown`` limit names, the replay keeps the
account's P&L through each UTC day of the ledger's clock: its positions' realized P&L net of fees
plus their unrealized P&L at the latest marks (``_equity``), less what that stood at when the day
opened. The figure is taken again after each fill, bust, correction or mark, and the high is the
largest of the day's figures (0 at the open). A moment whose figure cannot be worked out (a
position without a mark, a fee in another currency, positions in several P&L currencies) is left
out, as the check leaves it out.

Once a limit's figure is past its value, its response (``reduce_only`` or ``halt``) holds for
the account: a daily loss's for the rest of the day, a drawdown's until the drawdown is back
within its value (the day's P&L has recovered towards its high) or the day ends. The orders
judged meanwhile are judged under it, as the check judges an order under a trading state
(``domain.risk.state_refusal``). Nothing of this is kept when no limit given is of these kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from orderledger.domain.risk import RESPONDING, TRADING_STATES, Limit, response_state
from orderledger.domain.values import WIDE, format_decimal
from orderledger.projections.book import Position

ZERO = Decimal(0)
DAILY_LOSS = "max_daily_loss"
UNKNOWN = "the day's P&L is not known in full (a position without a mark, a fee in another currency)"
_SEVERITY = {state: rank for rank, state in enumerate(TRADING_STATES)}


@dataclass(frozen=True)
class Response:
    """A response in force in the replay: the state a limit set, and the figure that passed it."""

    state: str
    limit: Limit
    figure: Decimal

    @property
    def reason(self) -> str:
        limit = self.limit
        return (
            f"{limit.kind} {format_decimal(limit.value)} on account {limit.target}:"
            f" is {format_decimal(self.figure)}"
        )


def _equity(positions: Iterable[Position], marks: Mapping[tuple[str, str], Decimal]) -> Decimal | None:
    """Realized net of fees plus unrealized at ``marks``, over one account's positions (None: not
    known in full, or in several P&L currencies)."""
    total, currencies = ZERO, set()
    for book in positions:
        net = book.realized_pnl_net
        unrealized = book.unrealized_pnl(marks.get((book.venue, book.instrument)))
        if net is None or unrealized is None:
            return None
        currencies.add(book.pnl_currency)
        total = WIDE.add(total, WIDE.add(net, unrealized))
    return None if len(currencies) > 1 else total


class Losses:
    """Each limited account's P&L through the day, its high, and the responses in force."""

    def __init__(self, limits: Iterable[Limit]) -> None:
        self.accounts = frozenset(limit.target for limit in limits if limit.kind in RESPONDING)
        self.day: str | None = None
        self.opened: dict[str, Decimal | None] = {}
        self.pnl: dict[str, Decimal | None] = {}
        self.high: dict[str, Decimal] = {}
        self.responses: dict[str, dict[str, Response]] = {}

    def open_day(self, day: str, positions: list[Position], marks: Mapping[tuple[str, str], Decimal]) -> None:
        """A new UTC day: each account's P&L starts at 0 from what it stands at now; the
        responses of the day before end with it."""
        if not self.accounts or day == self.day:
            return
        self.day = day
        for account in self.accounts:
            opened = _equity((p for p in positions if p.account == account), marks)
            self.opened[account] = opened
            self.pnl[account] = None if opened is None else ZERO
            self.high[account] = ZERO
        self.responses = {}

    def moved(
        self, positions: list[Position], marks: Mapping[tuple[str, str], Decimal], limits: Iterable[Limit]
    ) -> None:
        """After a fill or a mark: each account's day P&L and high taken again, and the responses
        of the limits in force (``limits``) set, or a drawdown's lifted when back within it."""
        for account in self.accounts:
            opened = self.opened.get(account)
            now = _equity((p for p in positions if p.account == account), marks)
            if opened is None or now is None:
                self.pnl[account] = None
                continue
            pnl = WIDE.subtract(now, opened)
            self.pnl[account] = pnl
            self.high[account] = max(self.high[account], pnl)
        for limit in limits:
            if limit.kind not in RESPONDING or limit.target not in self.accounts:
                continue
            figure = self.figure(limit.target, limit.kind)
            held = self.responses.setdefault(limit.target, {})
            if figure is not None and figure > limit.value:
                if limit.kind not in held:
                    held[limit.kind] = Response(response_state(limit.response), limit, figure)
            elif figure is not None and limit.kind != DAILY_LOSS:
                held.pop(limit.kind, None)

    def figure(self, account: str, kind: str) -> Decimal | None:
        """The day's loss (a positive number) or drawdown of ``account`` now (None: unknown)."""
        pnl = self.pnl.get(account)
        if pnl is None:
            return None
        if kind == DAILY_LOSS:
            return max(ZERO, WIDE.minus(pnl))
        return WIDE.subtract(self.high[account], pnl)

    def response(self, account: str) -> Response | None:
        """The strictest response in force on ``account`` (None: none)."""
        held = self.responses.get(account, {}).values()
        return max(held, key=lambda r: _SEVERITY[r.state], default=None)


__all__ = ["UNKNOWN", "Losses", "Response"]
