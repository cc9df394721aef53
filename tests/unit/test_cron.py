"""Cron schedules as crontab reads them: Sunday is 0 and 7, names work, a restricted day of
month and weekday fire on either, and the scheduler fires when the expression says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.cron import CronError, parse_cron
from ticketwarden.service import scheduler_trigger

SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "first"), [
    ("0 9 * * 1", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),  # Monday, not Tuesday
    ("0 9 * * mon", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ("0 9 * * 0", datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),  # Sunday
    ("0 9 * * 7", datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),  # Sunday too
    ("30 8 * * mon-fri", datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),
    ("0 9 1 * mon", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),  # the 1st or any Monday: Monday comes first
    ("0 9 1 * sun", datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),
    ("*/15 * * * *", datetime(2026, 11, 28, 12, 15, tzinfo=UTC)),
    ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
])
def test_the_first_firing_after_a_saturday_noon(expression, first):
    assert parse_cron(expression).next_after(SATURDAY) == first
    assert scheduler_trigger(expression).get_next_fire_time(None, SATURDAY + timedelta(seconds=1)) == first


@pytest.mark.parametrize(("expression", "message"), [
    ("0 0 12 1 * ?", "looks like a Quartz (Jira) expression with seconds and `?`; ticketwarden uses 5-field cron, "
                     "minute hour day month weekday: `0 12 1 * *`"),
    ("0 9 * *", "has 4 field(s); ticketwarden uses 5"),
    ("0 9 31 2 *", "never fires: no allowed month has day 31"),
    ("0 9 30 2,4 *", ""),  # April has a 30th: fires
    ("60 9 * * *", "minute 60 is out of range 0-59"),
    ("0 9 * * mnd", "weekday 'mnd': expected a number or a name (sun-sat)"),
    ("0 9 * * 5-1", "the range runs backwards"),
    ("*/0 * * * *", "a step must be 1 or more"),
    ("0 9 L * *", "uses Quartz's `?`, `L`, `W` or `#`"),
])
def test_what_is_not_a_schedule_says_why(expression, message):
    if not message:
        assert parse_cron(expression).next_after(SATURDAY) is not None
        return
    with pytest.raises(CronError) as raised:
        parse_cron(expression)
    assert message in str(raised.value)


minutes = st.sampled_from(["*", "0", "*/15", "5,35", "10-20/5"])
hours = st.sampled_from(["*", "9", "8-17", "*/6", "0,12"])
days = st.sampled_from(["*", "1", "15", "1-7", "*/10", "31"])
months = st.sampled_from(["*", "1", "2", "jun-aug", "*/3", "12"])
weekdays = st.sampled_from(["*", "0", "1", "7", "mon-fri", "sat,sun", "5"])


@settings(max_examples=150, deadline=None)
@given(minutes, hours, days, months, weekdays, st.integers(0, 400 * 24 * 60))
def test_the_scheduler_fires_when_the_expression_says(minute, hour, day, month, weekday, offset):
    """The scheduler's trigger (APScheduler numbers weekdays from Monday) agrees with a direct
    reading of the expression, minute by minute."""
    expression = f"{minute} {hour} {day} {month} {weekday}"
    try:
        cron = parse_cron(expression)
    except CronError:
        return  # never fires (31 in a month without it): refused at load
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset)
    expected = cron.next_after(start)
    fired = scheduler_trigger(expression).get_next_fire_time(None, start + timedelta(seconds=1))
    assert fired == expected
    if expected is not None:
        assert cron.fires_on(expected)
        assert not any(cron.fires_on(start + timedelta(minutes=n)) for n in range(1, min(
            int((expected - start).total_seconds() // 60), 3000)))
