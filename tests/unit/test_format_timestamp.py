"""``format_timestamp`` writes every time the ledger stores: ISO 8601 in UTC, fixed width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from orderledger.domain import values
from orderledger.domain.values import format_timestamp


def _spelt_out(v: datetime) -> str:
    v = v.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 - the definition, field by field
        v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond
    )  # fmt: skip


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
    | st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.builds(
            timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
        ),
    )
)
def test_every_time_is_written_field_by_field_in_utc(moment: datetime) -> None:
    assert format_timestamp(moment) == _spelt_out(moment)


def test_the_days_remembered_are_bounded_and_forgetting_them_changes_nothing() -> None:
    start = datetime(2026, 1, 1, 9, 30, 0, 7, tzinfo=UTC)
    moments = [start + timedelta(days=n) for n in range(values._MOST_DAYS + 10)]
    written = [format_timestamp(m) for m in moments]
    assert len(values._DAYS) <= values._MOST_DAYS
    assert written[0] == "2026-01-01T09:30:00.000007Z"
    assert written == [_spelt_out(m) for m in moments]
    assert format_timestamp(moments[0]) == written[0]  # a day forgotten is made again alike
