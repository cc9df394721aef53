"""A scheduled rule publishes the indicators into the tracker: a Redmine wiki page of the
quality project (with the HTML report attached), a Jira issue in QA; publishing the same
period again brings the same page or issue up to date instead of adding another."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.integration.jira_service import serve, work
from tests.integration.redmine_service import settle
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import create_db_engine

RULES = """
version: 1
fields:
  origin: {redmine: "Failure origin", jira: customfield_10050}
  team: {redmine: "Team", jira: customfield_10051}
indicators:
  incidents: [tracker = Incident, subject ~= "RUN"]  # this run's only: the sandbox holds other tests' tickets
rules:
  - name: monthly report
    on: [{schedule: "0 6 1 * *"}]
    then:
      - publish_report: {tracker: TRACKER, project: PROJECT, window: this_month, by: team,
                         title: "Quality indicators {{ window.month }} RUN"}
"""


@pytest.mark.redmine
def test_a_wiki_page_in_redmine(tmp_path, database_url, redmine_env):
    run = datetime.now().strftime("%H%M%S%f")
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES).replace("TRACKER", "redmine").replace("PROJECT", "quality")
                     .replace("RUN", run))
    migrate.upgrade(create_db_engine(database_url))
    application = build(Settings(database_url=database_url, rules=(str(rules),), poll_overlap=0,
                                 redmine_url=redmine_env["REDMINE_URL"],
                                 redmine_api_key=redmine_env["REDMINE_API_KEY"]), environ={})
    redmine = SandboxRedmine(redmine_env)
    created = redmine.create_incident(f"Counted in the report {run}", fields={"Team": "network",
                                                                             "Failure origin": "internal"})
    [poller] = application.pollers
    from connector.redmine_payloads import parse_time

    at = parse_time(created["created_on"])
    application.store.set_value(poller.state_name, at.isoformat(), at)
    settle(application)
    month = application.clock().strftime("%Y-%m")
    page = f"Quality_indicators_{month}_{run}"
    for minute in (0, 1):  # published twice in the month: the same page, up to date
        if minute:
            redmine.create_incident(f"Counted later {run}", fields={"Team": "network"})
            settle(application)
        assert application.enqueue_scheduled("monthly report", application.clock().replace(minute=minute))
        settle(application)
        [row] = [r for r in application.store.outbox_rows(action="publish_report")][minute:minute + 1]
        assert row["state"] == "done" and row["outcome"].endswith(f"/projects/quality/wiki/{page}")
    wiki = requests.get(f"{redmine.url}/projects/quality/wiki/{page}.json", params={"include": "attachments"},
                        headers={"X-Redmine-API-Key": redmine_env["SANDBOX_PERSON_API_KEY"]}, timeout=30).json()
    text = wiki["wiki_page"]["text"]
    assert text.startswith("h2. Quality indicators")
    assert "|_. Figure |_. network |_. total |" in text and "| incidents | 2 | 2 |" in text
    assert wiki["wiki_page"]["version"] == 2
    [attachment] = wiki["wiki_page"]["attachments"]
    assert attachment["filename"] == f"{page}.html" and attachment["content_type"] == "text/html"
    html = requests.get(attachment["content_url"], timeout=30,
                        headers={"X-Redmine-API-Key": redmine_env["SANDBOX_PERSON_API_KEY"]}).text
    assert 'data-chart="trend"' in html and "<script" not in html
    application.store.engine.dispose()


@pytest.fixture
def jira_service(tmp_path, database_url) -> Iterator[tuple[FakeJira, Application]]:
    for fake in checked_fake_jira("Server"):
        rules = textwrap.dedent(RULES).replace("TRACKER", "jira").replace("PROJECT", "QA").replace("RUN", "")
        for application in serve(fake, rules, tmp_path, database_url, "publish-secret"):
            yield fake, application


def test_an_issue_in_jira(jira_service):
    fake, application = jira_service
    fake.create_issue("SUP", "Counted", issuetype="Incident", reporter="customer", emit=True,
                      **{"customfield_10051": "platform", "Failure origin": "customer"})
    work(application)
    for minute in (0, 1):
        assert application.enqueue_scheduled("monthly report", application.clock().replace(minute=minute))
        work(application)
    reports = [i for i in fake.state.issues.values() if i.project.key == "QA"]
    assert len(reports) == 1 and reports[0].summary.startswith("Quality indicators ")
    description = fake.issue_json(reports[0].key)["fields"]["description"]
    assert "||Figure||platform||total||" in description and "|incidents|1|1|" in description
    rows = application.store.outbox_rows(action="publish_report")
    assert [r["state"] for r in rows] == ["done", "done"]
    assert all(r["outcome"] == f"report published: {fake.url}/browse/{reports[0].key}" for r in rows)
