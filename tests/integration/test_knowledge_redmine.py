"""The knowledge base against the sandbox Redmine: a resolved incident drafts a wiki article in
the knowledge project, lists it on its product's index page and gets a private note linking to
it; a new incident with the same words gets a private note suggesting it; resolved with the same
cause, it joins the article (one page, a new version) instead of drafting another, and what an
agent wrote on the page around the generated part stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests
import sqlalchemy as sa

from connector.errors import TrackerError
from connector.redmine import RedmineConnector, wiki_title
from rules.knowledge import BEGIN, END
from rules.model import Effect
from tests.helpers import MovableClock
from tests.integration.redmine_service import serve, settle, start_incident
from tests.integration.sandbox import SandboxRedmine
from ticketwarden.service import Application
from ticketwarden.store import named_values

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


def edit_wiki(redmine: SandboxRedmine, page: str, text: str) -> None:
    """The agent saves the page in the wiki."""
    requests.put(f"{redmine.url}/projects/knowledge/wiki/{page}.json", timeout=30,
                 headers={"X-Redmine-API-Key": redmine.person_key},
                 json={"wiki_page": {"text": text, "comments": "agent's notes"}}).raise_for_status()


def linking_notes(redmine: SandboxRedmine, issue_id: int) -> list[dict]:
    return [note for note in redmine.notes_by(redmine.issue(issue_id), "ticketwarden service")
            if "knowledge base article" in note["notes"]]


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
    assert text.startswith(f"<!-- {BEGIN}: ") and text.rstrip().endswith(f"<!-- {END} -->")
    assert "\n\nh2. Problem\n\n" + subject in text
    assert "h2. Cause\n\n" + cause in text and "h2. Solution\n\nRenewed the portal certificate." in text
    assert "* Product: applications" in text and "* Version: 4.2" in text
    assert f"* #{first['id']} ({redmine.url}/issues/{first['id']})" in text
    index = wiki(redmine, wiki_title("Knowledge base - applications"))
    assert f"[[{page}|{subject}]] (1 ticket(s))" in index["text"]
    [link] = linking_notes(redmine, first["id"])
    assert link["private_notes"]
    assert link["notes"] == ("This ticket is one of the source tickets of the knowledge base article "
                             f"[[knowledge:{page}|{subject}]].")

    # An agent writes on the page, above and below the generated part.
    edited = f"h1. Read first\n\nCheck the load balancer too.\n\n{text.strip()}\n\nh2. Agent notes\n\nSeen on 4.1.\n"
    edit_wiki(redmine, page, edited)
    article = wiki(redmine, page)

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
    assert again["text"].replace("\r\n", "\n").startswith("h1. Read first\n\nCheck the load balancer too.\n\n")
    assert again["text"].replace("\r\n", "\n").rstrip().endswith("h2. Agent notes\n\nSeen on 4.1.")
    assert again["text"].count(BEGIN) == 1 and again["text"].count(END) == 1
    [link] = linking_notes(redmine, second["id"])
    assert link["private_notes"] and f"[[knowledge:{page}|{subject}]]" in link["notes"]
    assert len(linking_notes(redmine, first["id"])) == 1
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
    assert rows[1]["outcome"].endswith(f"(2 source ticket(s)); noted on #{second['id']}")

    # A retry of the second ticket's effect, as if the worker had died after its note and before
    # remembering it: the article is as it was (no new version), the note is not written twice.
    with application.store.engine.begin() as conn:
        conn.execute(sa.delete(named_values).where(named_values.c.name.like("kb-noted:%")))
    row = rows[1]
    effect = Effect(row["effect_key"], row["action"], row["tracker"], row["ticket_id"], row["rule"],
                    json.loads(row["params"]))
    application.worker.knowledge.apply(effect, application.connectors["redmine"], first_attempt=False)
    assert wiki(redmine, page)["version"] == again["version"]
    assert len(linking_notes(redmine, second["id"])) == 1

    # Resolved once more (reopened, solved again): the ticket is a source already, no second note.
    redmine.update(second["id"], status="In Progress")
    settle(application)
    redmine.update(second["id"], status="Resolved", notes="Same fix, again.")
    settle(application)
    assert len(application.store.outbox_rows(action="knowledge_article")) == 3
    assert len(linking_notes(redmine, second["id"])) == 1

    # An agent rewrites the page without the markers: it is not clobbered, the generated part
    # goes below what they wrote.
    edit_wiki(redmine, page, "h1. Rewritten by the team\n\nOur own words.\n")
    outcome = application.worker.knowledge.apply(effect, application.connectors["redmine"], first_attempt=False)
    assert "its markers were gone from the page" in outcome
    kept = wiki(redmine, page)["text"].replace("\r\n", "\n")
    assert kept.startswith("h1. Rewritten by the team\n\nOur own words.\n\n<!-- " + BEGIN)
    assert f"* #{second['id']} (" in kept and kept.count(BEGIN) == 1


def test_a_page_write_names_the_version_it_read(service, redmine_env):
    """A person saving the page between ticketwarden's read and its write is not overwritten:
    Redmine refuses the stale write, and ticketwarden reads the page again."""
    redmine = SandboxRedmine(redmine_env)
    connector = RedmineConnector(redmine.url, redmine.service_key)
    title = f"Version check {datetime.now().strftime('%H%M%S%f')}"
    connector.publish_page("knowledge", title, "first", comments="test")
    read = connector.read_page("knowledge", title)
    assert read is not None and read.ours and read.text == "first" and read.version == 1
    edit_wiki(redmine, wiki_title(title), "a person's text")
    edited = connector.read_page("knowledge", title)
    assert edited is not None and not edited.ours and edited.version == 2
    with pytest.raises(TrackerError) as refused:
        connector.publish_page("knowledge", title, "stale", comments="test", version=read.version)
    assert refused.value.status == 409 and refused.value.transient
    assert wiki(redmine, wiki_title(title))["text"] == "a person's text"
    assert connector.read_page("knowledge", "No such page here") is None
