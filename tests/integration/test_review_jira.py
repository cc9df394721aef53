"""The support process review published into Jira (the fake, through the real `jira` library):
the monthly report issue holds the review and links to the year's lessons-learned register,
an issue of its own written again with each report, and to the review's decisions issue,
created once and never overwritten, so what the meeting writes there stays.

Runs on Jira Cloud and Server/DC, with SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.integration.jira_service import serve, work
from ticketwarden.service import Application

RULES = """
version: 1
indicators:
  targets: {breaches: "<= 5"}
rules:
  - name: monthly report and review
    on: [{schedule: "0 6 1 * *"}]
    then:
      - publish_report: {tracker: jira, project: QA, window: previous_month, review: 6}
"""
MEETING = "h2. Decisions\n\n* raise the night shift's staffing (owner: Ana, by 2026-07-01)"


@pytest.fixture(params=["Cloud", "Server"])
def service(request, tmp_path, database_url) -> Iterator[tuple[FakeJira, Application]]:
    for fake in checked_fake_jira(request.param):
        for application in serve(fake, RULES, tmp_path, database_url, "review-secret"):
            yield fake, application


def closed_nonconformity(fake: FakeJira, application: Application, cause: str, closed: datetime) -> str:
    """A nonconformity whose issue was closed (after its effectiveness review) at `closed`, with
    what people wrote in it: its root cause, corrective action and result. Returns its key."""
    issue = fake.create_issue("QA", f"Repeated {cause}", issuetype="Nonconformity", reporter="agent")
    store, opened = application.store, closed - timedelta(days=10)
    row, _ = store.claim_record(tracker="jira", kind="nonconformity", cause=cause, effect_key=f"e-{cause}",
                                sources=["SUP-1"], detail={"rule": "sla breach", "cause": cause,
                                                           "containment": f"restarted after {cause}"},
                                action_due=opened + timedelta(days=30), review_due=None, now=opened,
                                lease=timedelta(minutes=5))
    store.record_created(row.id, target_id=issue.id, target_key=issue.key,
                         target_url=f"{fake.url}/browse/{issue.key}", next_check=None, now=opened)
    store.record_state(row.id, "closed", None, closed, outcome={
        "root_cause": f"root of {cause}", "corrective_action": f"fixed {cause}", "result": "no recurrence"})
    return issue.key


def linked_keys(issue: Any) -> list[tuple[str, str]]:
    """(link type, other issue's key) of each link an issue shows (through the library)."""
    return sorted((link.type.name, (getattr(link, "outwardIssue", None) or link.inwardIssue).key)
                  for link in issue.fields.issuelinks)


def test_the_review_in_jira_links_its_lessons_and_keeps_its_decisions(service):
    fake, application = service
    client = fake.client()
    now = application.clock()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = (first - timedelta(days=1)).strftime("%Y-%m")  # the report's period: the previous month
    year = int(month[:4])  # the register's year: the last reviewed month's
    title = f"Quality indicators {month}"
    early = closed_nonconformity(fake, application, "vpn drops", datetime(year, 1, 15, 9, tzinfo=UTC))

    for minute in (0, 1):  # published twice in the month (a second firing, or a re-run)
        assert application.enqueue_scheduled("monthly report and review", now.replace(minute=minute))
        work(application)
        if minute == 0:
            [report] = [i for i in client.search_issues("project = QA") if i.fields.summary == title]
            [decisions] = [client.issue(key) for _, key in linked_keys(client.issue(report.key))
                           if client.issue(key).fields.summary == f"Decisions of the review {title}"]
            assert "Decisions taken, with their owner and date" in decisions.fields.description
            decisions.update(fields={"description": MEETING})  # the meeting writes its decisions
            late = closed_nonconformity(fake, application, "mail backlog", datetime(year, 1, 20, 9, tzinfo=UTC))

    rows = application.store.outbox_rows(action="publish_report")
    assert [r["state"] for r in rows] == ["done", "done"], rows
    issues = client.search_issues("project = QA ORDER BY created ASC", maxResults=50)
    by_summary: dict[str, list[str]] = {}
    for issue in issues:
        by_summary.setdefault(issue.fields.summary, []).append(issue.key)
    # one report, one register for the year, one decisions issue: published again, none duplicated
    [report_key] = by_summary[title]
    [lessons_key] = by_summary[f"Lessons learned {year}"]
    [decisions_key] = by_summary[f"Decisions of the review {title}"]
    assert decisions_key == decisions.key
    assert all(r["outcome"] == f"report published: {fake.url}/browse/{report_key}" for r in rows)
    assert fake.unsupported_jql == []  # each issue was found again by its label, as Jira would

    report = client.issue(report_key)
    text = report.fields.description
    assert "h2. Support process review" in text and "h3. Indicators month by month" in text
    assert "||Indicator||Target||" in text and "|breaches|<= 5|" in text
    assert f"[Lessons learned {year}|{fake.url}/browse/{lessons_key}]" in text
    assert f"[Decisions of the review {title}|{fake.url}/browse/{decisions_key}]" in text
    assert "fixed vpn drops" not in text  # the register is on its own issue, not in the report
    assert linked_keys(report) == sorted([("Relates", lessons_key), ("Relates", decisions_key)])

    # the decisions issue is left as the meeting wrote it
    assert client.issue(decisions_key).fields.description == MEETING
    # the register was written again: the nonconformity closed since is in it too
    register = client.issue(lessons_key).fields.description
    assert register.startswith(f"h3. Lessons learned {year}")
    assert "||Record||Cause||What caused it||Correction||Corrective action||Effectiveness||Closed||" in register
    for key, cause, day in ((early, "vpn drops", 15), (late, "mail backlog", 20)):
        assert (f"|[{key}|{fake.url}/browse/{key}]|sla breach|root of {cause}|restarted after {cause}|"
                f"fixed {cause}|no recurrence|{year}-01-{day}|") in register

