"""The knowledge base against the sandbox Redmine: a resolved incident drafts a wiki article in
the knowledge project and lists it on its product's index page; a new incident with the same
words gets a private note suggesting it; resolved with the same cause, it joins the article
(one page, a new version) instead of drafting another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from connector.redmine import wiki_title
from tests.helpers import MovableClock
from tests.integration.redmine_service import serve, settle, start_incident
from tests.integration.sandbox import SandboxRedmine
from ticketwarden.service import Application

pytestmark = pytest.mark.redmine

RULES = """
version: 1
fields:
  cause: {redmine: "External reference"}
  product: {redmine: "Team"}
rules:
  - name: knowledge article
    on: [ticket.updated]
    if: [project = support, status changed_to Resolved, cause is not empty]
    then:
      - knowledge_article:
          project: knowledge
          key: "{{ ticket.fields.cause }}"
          title: "{{ ticket.subject }}"
          cause: "{{ ticket.fields.cause }}"
          product: "{{ ticket.fields.product }}"
          version: "4.2"
  - name: suggest articles
    on: [ticket.created]
    if: [project = support]
    then:
      - suggest_articles: {project: knowledge, limit: 3}
"""


def ensure_knowledge_project(redmine: SandboxRedmine) -> None:
    """The knowledge project with its wiki, the service user a member (sandboxes set up before
    it was part of sandbox/redmine_setup.rb lack it)."""
    admin = {"X-Redmine-API-Key": redmine.admin_key}
    if requests.get(f"{redmine.url}/projects/knowledge.json", headers=admin, timeout=30).status_code == 200:
        return
    requests.post(f"{redmine.url}/projects.json", headers=admin, timeout=30, json={"project": {
        "name": "Knowledge", "identifier": "knowledge", "is_public": True,
        "enabled_module_names": ["issue_tracking", "wiki"]}}).raise_for_status()
    roles = requests.get(f"{redmine.url}/roles.json", headers=admin, timeout=30).json()["roles"]
    manager = next(role["id"] for role in roles if role["name"] == "Manager")
    for user_id in (redmine.service_user()["id"], redmine._request("GET", "/users/current.json").json()["user"]["id"]):
        requests.post(f"{redmine.url}/projects/knowledge/memberships.json", headers=admin, timeout=30,
                      json={"membership": {"user_id": user_id, "role_ids": [manager]}}).raise_for_status()


@pytest.fixture
def service(tmp_path, database_url, redmine_env) -> Iterator[tuple[Application, MovableClock]]:
    ensure_knowledge_project(SandboxRedmine(redmine_env))
    yield from serve(RULES, tmp_path, database_url, redmine_env)


def wiki(redmine: SandboxRedmine, page: str) -> dict:
    response = requests.get(f"{redmine.url}/projects/knowledge/wiki/{page}.json", timeout=30,
                            headers={"X-Redmine-API-Key": redmine.person_key})
    response.raise_for_status()
    return dict(response.json()["wiki_page"])


def test_an_article_drafted_suggested_and_joined_not_duplicated(service, redmine_env):
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    run = datetime.now().strftime("%H%M%S%f")
    cause = f"portal-cert-{run}"
    subject = f"Portal login rejects certificate {run}"
    first = start_incident(application, redmine, subject, fields={"Team": "applications"})
    redmine.update(first["id"], status="Resolved", notes="Renewed the portal certificate.",
                   fields={"External reference": cause})
    settle(application)

    page = wiki_title(subject)
    article = wiki(redmine, page)
    text = article["text"]
    assert text.startswith("h2. Problem\n\n" + subject)
    assert "h2. Cause\n\n" + cause in text and "h2. Solution\n\nRenewed the portal certificate." in text
    assert "* Product: applications" in text and "* Version: 4.2" in text
    assert f"* #{first['id']} ({redmine.url}/issues/{first['id']})" in text
    index = wiki(redmine, wiki_title("Knowledge base - applications"))
    assert f"[[{page}|{subject}]] (1 ticket(s))" in index["text"]

    # A new incident with the same words: a private note suggests the article.
    second = start_incident(application, redmine, f"Certificate rejected at portal login {run}",
                            fields={"Team": "applications"})
    [note] = redmine.notes_by(redmine.issue(second["id"]), "ticketwarden service")
    assert note["private_notes"]
    assert note["notes"] == (f"Knowledge base articles that may help:\n\n* {subject}: "
                             f"{redmine.url}/projects/knowledge/wiki/{page}")

    # Resolved with the same cause: the same article, now with both tickets, not a second one.
    redmine.update(second["id"], status="Resolved", notes="Same fix.", fields={"External reference": cause})
    settle(application)
    again = wiki(redmine, page)
    assert again["version"] == article["version"] + 1
    assert f"* #{first['id']} (" in again["text"] and f"* #{second['id']} (" in again["text"]
    assert "h2. Solution\n\nRenewed the portal certificate." in again["text"]
    titles = [p["title"] for p in requests.get(f"{redmine.url}/projects/knowledge/wiki/index.json", timeout=30,
                                               headers={"X-Redmine-API-Key": redmine.person_key}).json()["wiki_pages"]]
    assert [t for t in titles if run in t] == [page]
    index = wiki(redmine, wiki_title("Knowledge base - applications"))
    assert f"[[{page}|{subject}]] (2 ticket(s))" in index["text"]
    [article_row] = application.store.articles("redmine", "knowledge")
    assert [s["id"] for s in article_row.sources] == [str(first["id"]), str(second["id"])]
    rows = application.store.outbox_rows(action="knowledge_article")
    assert [r["state"] for r in rows] == ["done", "done"]
    assert rows[0]["outcome"].startswith("knowledge article drafted: ")
    assert rows[1]["outcome"].startswith("knowledge article updated: ")
