"""Connector details that need no Redmine: request headers, time format, error sorting, project members."""

from datetime import datetime, timedelta, timezone

import pytest
from redminelib import exceptions as rm

from connector.errors import TrackerError
from connector.redmine import RedmineConnector, format_filter_time, project_members
from rules.model import Person


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


def test_project_members_carry_the_groups_they_are_members_through():
    """A group's membership names the group; its users are members through it (GET
    /projects/:id/memberships.json as Redmine 5 answers, with the group's users beside)."""
    memberships = [
        {"id": 10, "user": {"id": 6, "name": "Alice Agent"}, "roles": [{"id": 3, "name": "Manager"}]},
        {"id": 11, "group": {"id": 8, "name": "change-board"}, "roles": [{"id": 3, "name": "Manager"}]},
        {"id": 12, "user": {"id": 7, "name": "Cora Board"}, "roles": [{"id": 3, "name": "Manager", "inherited": True}]},
        {"id": 13, "group": {"id": 9, "name": "auditors"}, "roles": [{"id": 5, "name": "Reporter"}]},
    ]
    group_users = {"8": [{"id": 7, "name": "Cora Board"}], "9": [{"id": 7, "name": "Cora Board"},
                                                                 {"id": 12, "name": "Ada Auditor"}]}
    members = project_members(memberships, group_users, {"6": "agent", "7": "cora", "12": "ada"})
    assert members == {
        "6": Person("6", "agent", "Alice Agent", roles=("Manager",)),
        "7": Person("7", "cora", "Cora Board", groups=("change-board", "auditors"), roles=("Manager", "Reporter")),
        "12": Person("12", "ada", "Ada Auditor", groups=("auditors",), roles=("Reporter",)),  # listed by group only
    }
    # A group whose users the API user may not read adds nobody.
    assert set(project_members(memberships, {}, {})) == {"6", "7"}


def test_an_actor_is_known_with_the_groups_of_the_project():
    members = {"7": Person("7", "cora", "Cora Board", groups=("change-board",), roles=("Manager",))}
    actor = RedmineConnector._known(Person("7", name="Cora Board"), members)
    assert actor == Person("7", "cora", "Cora Board", groups=("change-board",), roles=("Manager",))
    stranger = Person("99", name="Somebody")
    assert RedmineConnector._known(stranger, members) is stranger
