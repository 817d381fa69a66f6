"""Writers on PostgreSQL overlap: while one folds its batch's views, another commits to the log.

Notification IDs are assigned under the log lock, held until commit, so that a follower reading
by ID never skips a row. A writer that has seen another writer's commit folds a large batch's
views after its commit, in a transaction of their own (``store.FOLD_AFTER_COMMIT``): the log
lock is then not held while it folds, and the other writers' commits go on meanwhile. The views
still fold each event once, in log order, and the books are those of one writer alone.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from orderledger.infrastructure.application.ledger import OrderLedger
from orderledger.infrastructure.application.simulator import simulate_lines
from orderledger.infrastructure.storage.store import FOLD_AFTER_COMMIT
from tests.support.books import all_books
from tests.support.http_api import BOUND, wait_until
from tests.support.integration import assert_views_equal_fold
from tests.support.postgres import POSTGRES_URL, private_schema, require_postgres


def _events_of(url: str, tag: str) -> int:
    """How many events of orders tagged ``tag`` the log holds, as another session sees it."""
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        row = conn.execute(
            f'SELECT COUNT(*) FROM "{schema}".events WHERE client_order_id LIKE %s', (f"{tag}.%",)
        ).fetchone()
    return int(row[0]) if row is not None else 0


def test_another_writer_commits_while_a_writer_folds_its_views() -> None:
    require_postgres()
    sessions = {tag: list(simulate_lines(seed=5, orders=30, tag=tag)) for tag in ("a1", "b1", "a2", "b2")}
    with private_schema() as url, OrderLedger(url) as first, OrderLedger(url) as second:
        for tag, writer in (("a1", first), ("b1", second)):
            half = len(sessions[tag]) // 2
            writer.ingest_lines(sessions[tag][:half])
        for tag, writer in (("a1", first), ("b1", second)):  # each has now seen the other's commits
            writer.ingest_lines(sessions[tag][len(sessions[tag]) // 2 :])
        overlapped: list[bool] = []
        meanwhile = threading.Thread(target=second.ingest_lines, args=(sessions["b2"],))
        fold = first.views._fold

        def fold_while_the_other_commits(tx: Any, batch: Sequence[Any], *args: Any, **kwargs: Any) -> None:
            if not overlapped and len(batch) >= FOLD_AFTER_COMMIT:
                meanwhile.start()
                # Under the log lock (the fold inside the commit), the other commit would wait.
                overlapped.append(wait_until(lambda: _events_of(url, "b2") > 0, "the other writer's commit"))
            fold(tx, batch, *args, **kwargs)

        first.views._fold = fold_while_the_other_commits  # type: ignore[method-assign]
        first.ingest_lines(sessions["a2"])
        meanwhile.join(BOUND)
        assert overlapped == [True]  # the other writer's batch committed while this one folded
        with first.db.read() as tx:
            count, last = tx.one("SELECT COUNT(*), MAX(notification_id) FROM events")
        assert count == last  # notification IDs 1…N: nothing a follower could skip
        first.upkeep.catch_up()
        assert_views_equal_fold(first)  # every event folded once, in log order
        books = all_books(first)
    with OrderLedger("memory://") as alone:
        for lines in sessions.values():
            alone.ingest_lines(lines)
        assert books == all_books(alone)
