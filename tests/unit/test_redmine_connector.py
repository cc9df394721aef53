"""Connector details that need no Redmine: request headers, time format, error sorting."""

from datetime import datetime, timedelta, timezone

import pytest
from redminelib import exceptions as rm

from connector.errors import TrackerError
from connector.redmine import RedmineConnector, format_filter_time


def test_writes_carry_skip_webhooks_and_the_key_only_in_a_header():
    connector = RedmineConnector("http://127.0.0.1:9/", "k" * 40, timeout=3)
    session = connector._redmine.engine.session
    assert session.headers["X-Skip-Webhooks"] == "1"
    assert session.headers["X-Redmine-API-Key"] == "k" * 40
    assert session._timeout == 3
    assert connector.url == "http://127.0.0.1:9"


def test_filter_time_is_exactly_what_redmine_accepts():
    moment = datetime(2026, 11, 22, 1, 44, 59, 999999, tzinfo=timezone(timedelta(hours=-3)))
    assert format_filter_time(moment) == "2026-11-22T04:44:59Z"


@pytest.mark.parametrize("error, transient, status", [
    (rm.ValidationError("Status is invalid"), False, 422),
    (rm.ResourceNotFoundError(), False, 404),
    (rm.ForbiddenError(), False, 403),
    (rm.AuthError(), True, 401),
    (rm.ServerError(), True, 500),
    (rm.UnknownError(429), True, 429),
    (rm.UnknownError(503), True, 503),
    (rm.UnknownError(418), False, 418),
])
def test_errors_are_sorted_into_retry_or_dead_letter(error, transient, status):
    connector = RedmineConnector("http://127.0.0.1:9", "key")

    def fail():
        raise error

    with pytest.raises(TrackerError) as caught:
        connector._call(fail)
    assert (caught.value.transient, caught.value.status) == (transient, status)


def test_unreachable_redmine_is_transient():
    connector = RedmineConnector("http://127.0.0.1:9", "key", timeout=2)
    with pytest.raises(TrackerError) as caught:
        connector.service_user()
    assert caught.value.transient and str(caught.value).startswith("Redmine unreachable")
