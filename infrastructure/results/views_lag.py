"""How far the views are behind the log: :class:`ViewsLag`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViewsLag:
    """How far the views (orders, trades, positions) are behind the log: the slowest view's
    position and the log's last event. Queries answered from the views show the log up to
    ``position`` only; ``orderledger project`` (or a ``project --follow``) folds the rest.

    ``unsettled``: books (positions and their P&L entries) whose re-fold in venue time an ingest
    left for its end, still to do (an ingest running, or one that stopped); ``settles``: how many
    times such work was done, so that an answer kept for a state of the views is not reused
    after it."""

    position: int
    log_end: int
    unsettled: int = 0
    settles: int = 0

    @property
    def behind(self) -> int:
        """Events of the log no answer from the views includes yet (0: the views are current)."""
        return max(self.log_end - self.position, 0)

    @property
    def current(self) -> bool:
        """Whether the views show the whole log, every book settled."""
        return not self.behind and not self.unsettled

    def warning(self) -> str:
        """The one line the CLI prints on stderr when the views are behind."""
        if not self.behind:
            return (
                f"warning: {self.unsettled:,} books are still being re-folded in venue time (their"
                " positions and P&L are not final): the ingest settles them when it ends,"
                " `orderledger project` if it stopped"
            )
        return (
            f"warning: the views are {self.behind:,} events behind the log (they show events up to"
            f" {self.position:,} of {self.log_end:,}): `orderledger project` folds the rest"
        )
