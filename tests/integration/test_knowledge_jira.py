"""The knowledge base against the fake Jira: an article is an issue of the knowledge project,
created once per key (found again by its marker label), brought up to date when another
incident with the same cause is solved, and labelled for its product (the index: a JQL filter).
What an agent writes in the description around the generated part stays; each source ticket
gets one internal comment linking to the article."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rules.knowledge import BEGIN, END
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


def linking_comments(fake: FakeJira, key: str) -> list:
    return [c for c in fake.issue(key).comments
            if c.author is fake.api_user and "knowledge base article" in c.text]


def test_an_article_issue_created_once_then_updated(service):
    fake, application = service
    first = solve(fake, application, "Orders missing after sync")
    [article] = [i for i in fake.state.issues.values() if i.project.key == "KB"]
    assert article.issue_type.name == "Article" and article.summary == "Orders missing after sync"
    assert "kb-platform" in article.labels
    description = fake.issue_json(article.key)["fields"]["description"]
    assert "h2. Cause\n\nstale sync token" in description and "Restart the platform sync job." in description
    assert f"* {first} (" in description
    assert description.startswith(f"_{BEGIN}: ") and description.rstrip().endswith(f"_{END}_")
    link = f"[{article.key}: Orders missing after sync|{fake.url}/browse/{article.key}]"
    [note] = linking_comments(fake, first)
    assert note.internal
    assert note.text == f"This ticket is one of the source tickets of the knowledge base article {link}."

    # An agent writes in the article's description, above and below the generated part.
    fake.edit(article.key, author="agent",
              description=f"h1. Read first\n\nCheck the queue depth too.\n\n{description.strip()}\n\n"
                          "h2. Agent notes\n\nHappens after upgrades.\n")
    work(application)

    second = solve(fake, application, "Sync lost yesterday's orders")
    articles = [i for i in fake.state.issues.values() if i.project.key == "KB"]
    assert [a.key for a in articles] == [article.key]  # updated, not duplicated
    description = fake.issue_json(article.key)["fields"]["description"]
    assert f"* {first} (" in description and f"* {second} (" in description
    assert description.startswith("h1. Read first\n\nCheck the queue depth too.\n\n")
    assert description.rstrip().endswith("h2. Agent notes\n\nHappens after upgrades.")
    assert description.count(BEGIN) == 1 and description.count(END) == 1
    assert articles[0].summary == "Orders missing after sync"  # the first ticket's title stays
    [note] = linking_comments(fake, second)
    assert note.internal and link in note.text
    assert len(linking_comments(fake, first)) == 1
    rows = application.store.outbox_rows(action="knowledge_article")
    assert [r["state"] for r in rows] == ["done", "done"]
    assert all(r["outcome"].endswith(f"{fake.url}/browse/{article.key} ({n} source ticket(s)); noted on {key}")
               for n, (r, key) in enumerate(zip(rows, (first, second), strict=True), start=1))

    # The agent rewrites the description without the markers: it is not clobbered, the
    # generated part goes below what they wrote.
    fake.edit(article.key, author="agent", description="Our own summary of the fix.")
    work(application)
    third = solve(fake, application, "Orders gone again after sync")
    description = fake.issue_json(article.key)["fields"]["description"]
    assert description.startswith("Our own summary of the fix.\n\n_" + BEGIN)
    assert f"* {third} (" in description and description.count(BEGIN) == 1
    assert "its markers were gone" in application.store.outbox_rows(action="knowledge_article")[-1]["outcome"]
    assert [len(linking_comments(fake, key)) for key in (first, second, third)] == [1, 1, 1]
