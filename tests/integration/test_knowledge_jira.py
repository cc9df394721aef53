"""The knowledge base against the fake Jira: an article is an issue of the knowledge project,
created once per key (found again by its marker label), brought up to date when another
incident with the same cause is solved, and labelled for its product (the index: a JQL filter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.fakejira.model import IssueType, Project
from tests.integration.jira_service import serve, work
from ticketwarden.service import Application

ARTICLE = IssueType("10008", "Article", "A knowledge-base article.")
RULES = """
version: 1
fields:
  cause: {jira: customfield_10052}
  product: {jira: customfield_10051}
rules:
  - name: knowledge article
    on: [ticket.updated]
    if: [project = SUP, status changed_to Done, cause is not empty]
    then:
      - knowledge_article:
          project: KB
          key: "{{ ticket.fields.cause }}"
          cause: "{{ ticket.fields.cause }}"
          product: "{{ ticket.fields.product }}"
          solution: "Restart the {{ ticket.fields.product }} sync job."
"""


@pytest.fixture(params=["Cloud", "Server"])
def service(request, tmp_path, database_url) -> Iterator[tuple[FakeJira, Application]]:
    for fake in checked_fake_jira(request.param):
        fake.state.issue_types.append(ARTICLE)
        fake.state.projects["KB"] = Project("10003", "KB", "Knowledge", "business", fake.state.users["agent"],
                                            [ARTICLE, *fake.state.projects["QA"].issue_types[-1:]])
        for application in serve(fake, RULES, tmp_path, database_url, "kb-secret"):
            yield fake, application


def solve(fake: FakeJira, application: Application, summary: str) -> str:
    issue = fake.create_issue("SUP", summary, issuetype="Incident", reporter="customer", emit=True,
                              **{"customfield_10051": "platform", "customfield_10052": "stale sync token"})
    work(application)
    fake.transition(issue.key, "Done", resolution="Done")
    work(application)
    return issue.key


def test_an_article_issue_created_once_then_updated(service):
    fake, application = service
    first = solve(fake, application, "Orders missing after sync")
    [article] = [i for i in fake.state.issues.values() if i.project.key == "KB"]
    assert article.issue_type.name == "Article" and article.summary == "Orders missing after sync"
    assert "kb-platform" in article.labels
    description = fake.issue_json(article.key)["fields"]["description"]
    assert "h2. Cause\n\nstale sync token" in description and "Restart the platform sync job." in description
    assert f"* {first} (" in description

    second = solve(fake, application, "Sync lost yesterday's orders")
    articles = [i for i in fake.state.issues.values() if i.project.key == "KB"]
    assert [a.key for a in articles] == [article.key]  # updated, not duplicated
    description = fake.issue_json(article.key)["fields"]["description"]
    assert f"* {first} (" in description and f"* {second} (" in description
    assert articles[0].summary == "Orders missing after sync"  # the first ticket's title stays
    rows = application.store.outbox_rows(action="knowledge_article")
    assert [r["state"] for r in rows] == ["done", "done"]
    assert all(r["outcome"].endswith(f"{fake.url}/browse/{article.key} ({n} source ticket(s))")
               for n, r in enumerate(rows, start=1))
