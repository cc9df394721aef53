"""The fake Jira, driven by the real `jira` library: what later connector tests will lean on.

Each test gets a fresh site (fixtures from tests.fakejira.fixtures) whose every request and
response is checked against Atlassian's OpenAPI document; the fixture fails the test at
teardown if anything disagreed, beyond the allow-list in tests/fakejira/openapi.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from jira import JIRA, JIRAError

from connector.jira_payloads import classify, event_from_body
from tests.fakejira import FakeJira, signature
from tests.fakejira.fixtures import checked_fake_jira
from tests.fakejira.render import View
from webhooks.signatures import verify_signature

SECRET = "webhook-secret"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The fake's clock, moved by the test (issue times drive JQL `updated` searches)."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


class HookReceiver:
    """A loopback HTTP server standing in for ticketwarden's webhook endpoint: keeps the raw
    body and headers of every POST, and answers with `script` statuses first, then 200."""

    def __init__(self, script: tuple[int, ...] = ()):
        self.script = list(script)
        self.hits: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hits.append((dict(self.headers), body))
                self.send_response(receiver.script.pop(0) if receiver.script else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/jira"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.hits]

    def events(self) -> list[tuple[str, str | None]]:
        return [(b["webhookEvent"], b.get("issue_event_type_name")) for b in self.bodies()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_jira() -> Iterator[FakeJira]:
    yield from checked_fake_jira()


@pytest.fixture
def fake_jira_dc() -> Iterator[FakeJira]:
    yield from checked_fake_jira("Server")


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    hook = HookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def jira(fake_jira: FakeJira) -> JIRA:
    return JIRA(server=fake_jira.url, basic_auth=fake_jira.basic_auth())


def raw(fake: FakeJira, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request the `jira` library would not make (v3 bodies, malformed input)."""
    return requests.request(method, fake.url + path, auth=fake.basic_auth(), timeout=10, **kwargs)


def changes(issue: Any) -> list[list[tuple[str, Any, Any]]]:
    return [[(i.field, i.fromString, i.toString) for i in h.items] for h in issue.changelog.histories]


# -- site and authentication --------------------------------------------------------------------------

def test_cloud_site_answers_the_library_with_basic_auth_and_pat(fake_jira: FakeJira, jira: JIRA) -> None:
    assert jira.server_info()["deploymentType"] == "Cloud" and jira._is_cloud
    me = jira.myself()
    assert me["accountId"] == fake_jira.api_user.account_id and "name" not in me
    with_pat = JIRA(server=fake_jira.url, token_auth=fake_jira.personal_token)
    assert with_pat.myself()["displayName"] == "Ticketwarden Bot"

    with pytest.raises(JIRAError) as denied:
        JIRA(server=fake_jira.url, basic_auth=(fake_jira.api_user.email, "wrong"), max_retries=0)
    assert denied.value.status_code == 401
    with pytest.raises(JIRAError) as denied:
        JIRA(server=fake_jira.url, token_auth="not-the-token", max_retries=0)
    assert denied.value.status_code == 401


def test_reference_data_matches_what_rulebooks_name(fake_jira: FakeJira, jira: JIRA) -> None:
    fields = {f["id"]: f for f in jira.fields()}
    assert fields["customfield_10050"]["name"] == "Failure origin"
    assert fields["customfield_10050"]["schema"]["type"] == "option"
    assert fields["customfield_10052"]["schema"]["type"] == "string"
    assert fields["customfield_10055"]["schema"]["type"] == "date"
    assert [f for f in fields if fields[f]["name"] == "Team"] == ["customfield_10001", "customfield_10051"]
    assert {p.key for p in jira.projects()} == {"SUP", "DEV", "QA"}
    assert [p.name for p in jira.priorities()] == ["Highest", "High", "Medium", "Low"]
    assert {s.name: s.statusCategory.key for s in jira.statuses()} == {
        "To Do": "new", "In Progress": "indeterminate", "Waiting for customer": "indeterminate", "Done": "done"}
    assert {t.name for t in jira.issue_types()} == {"Incident", "Bug", "Task", "Nonconformity", "Observation"}
    assert [t.name for t in jira.project("SUP", expand="issueTypes").issueTypes] == ["Incident", "Task"]
    assert [u.accountId for u in jira.search_users(query="alice")] == [fake_jira.users["agent"].account_id]


# -- issues -------------------------------------------------------------------------------------------

def test_create_then_get_by_key_and_by_id(fake_jira: FakeJira, jira: JIRA) -> None:
    created = jira.create_issue(project="SUP", summary="VPN down for ACME", issuetype="Incident",
                                description="Since 08:00", priority={"name": "High"},
                                customfield_10050={"value": "unknown"})

    by_key, by_id = jira.issue(created.key), jira.issue(created.id)
    assert created.key == "SUP-1" and by_key.id == by_id.id == created.id
    assert by_id.fields.summary == "VPN down for ACME" and by_id.fields.description == "Since 08:00"
    assert by_id.fields.status.name == "To Do" and by_id.fields.status.statusCategory.key == "new"
    assert by_id.fields.priority.name == "High" and by_id.fields.reporter.accountId == fake_jira.api_user.account_id
    assert by_id.fields.customfield_10050.value == "unknown" and by_id.fields.customfield_10052 is None
    assert jira.issue(created.key, fields="summary").raw["fields"] == {"summary": "VPN down for ACME"}
    # v3 shows text bodies as Atlassian Documents
    v3 = raw(fake_jira, "GET", f"/rest/api/3/issue/{created.key}").json()
    assert v3["fields"]["description"]["type"] == "doc" and v3["self"].endswith(f"/rest/api/3/issue/{created.id}")

    with pytest.raises(JIRAError) as missing:
        jira.issue("SUP-999")
    assert missing.value.status_code == 404 and "does not exist" in missing.value.text
    with pytest.raises(JIRAError) as refused:
        jira.create_issue(project="SUP", summary="wrong type", issuetype={"name": "Bug"})
    assert refused.value.status_code == 400 and "valid issue type" in refused.value.text


def test_update_custom_fields_and_labels_keeps_a_changelog(fake_jira: FakeJira, jira: JIRA) -> None:
    issue = jira.create_issue(project="SUP", summary="Printer on fire", issuetype={"name": "Incident"},
                              labels=["vip"])

    issue.update(fields={"customfield_10050": {"value": "internal"}, "customfield_10052": "checked the logs",
                         "customfield_10055": "2026-03-05", "customfield_10053": "2026-03-05T17:00:00.000+0000"},
                 notify=False)
    issue.update(update={"labels": [{"add": "network"}, {"remove": "vip"}]})
    issue.update(fields={"customfield_10054": {"value": "running"}})

    again = jira.issue(issue.key, expand="changelog")
    assert again.fields.labels == ["network"] and again.fields.customfield_10050.value == "internal"
    assert again.fields.customfield_10055 == "2026-03-05" and again.fields.customfield_10054.value == "running"
    assert changes(again) == [
        [("Failure origin", None, "internal"), ("Triage", None, "checked the logs"),
         ("SLA due", None, "2026-03-05"), ("SLA due at", None, "2026-03-05T17:00:00.000+0000")],
        [("labels", "vip", "network")],
        [("SLA status", None, "running")],
    ]
    item = again.raw["changelog"]["histories"][0]["items"][0]
    assert item == {"field": "Failure origin", "fieldtype": "custom", "fieldId": "customfield_10050",
                    "from": None, "fromString": None, "to": "10301", "toString": "internal"}
    author = again.changelog.histories[0].author
    assert author.accountId == fake_jira.api_user.account_id
    assert fake_jira.issue(issue.key).custom["customfield_10050"] == "10301"

    with pytest.raises(JIRAError) as refused:
        issue.update(fields={"customfield_10050": {"value": "aliens"}})
    assert refused.value.status_code == 400 and "Option value 'aliens' is not valid" in refused.value.text
    with pytest.raises(JIRAError) as refused:
        issue.update(fields={"status": {"name": "Done"}})
    assert "cannot be set" in refused.value.text


def test_comments_public_internal_and_restricted(fake_jira: FakeJira, jira: JIRA) -> None:
    issue = jira.create_issue(project="SUP", summary="Mail bounces", issuetype={"name": "Incident"})

    public = jira.add_comment(issue.key, "We are on it")
    internal = jira.add_comment(issue.key, "Customer's MX is wrong", is_internal=True)
    restricted = jira.add_comment(issue.key, "Escalate?", visibility={"type": "role", "value": "Administrators"})

    listed = {c.id: c.raw for c in jira.comments(issue.key)}
    assert [c["body"] for c in listed.values()] == ["We are on it", "Customer's MX is wrong", "Escalate?"]
    assert listed[public.id]["jsdPublic"] is True and "visibility" not in listed[public.id]
    assert listed[internal.id]["jsdPublic"] is False
    assert listed[restricted.id]["visibility"] == {"type": "role", "value": "Administrators"}
    assert listed[public.id]["author"]["accountId"] == fake_jira.api_user.account_id
    assert fake_jira.issue(issue.key).comments[1].internal

    # v3 takes (and returns) Atlassian Documents, and refuses plain strings; v2 refuses documents
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text",
                                                                                       "text": "From v3"}]}]}
    answer = raw(fake_jira, "POST", f"/rest/api/3/issue/{issue.key}/comment", json={"body": doc})
    assert answer.status_code == 201 and answer.json()["body"] == doc
    assert jira.comments(issue.key)[-1].body == "From v3"
    refused = raw(fake_jira, "POST", f"/rest/api/3/issue/{issue.key}/comment", json={"body": "plain"})
    assert refused.status_code == 400 and "Atlassian Document" in refused.json()["errors"]["comment"]
    assert raw(fake_jira, "POST", f"/rest/api/2/issue/{issue.key}/comment", json={"body": doc}).status_code == 400
    with pytest.raises(JIRAError, match="Comment body can not be empty"):
        jira.add_comment(issue.key, "")


def test_transition_needs_its_required_resolution(fake_jira: FakeJira, jira: JIRA) -> None:
    issue = jira.create_issue(project="SUP", summary="Disk full", issuetype={"name": "Incident"})

    offered = {t["name"]: t for t in jira.transitions(issue.key, expand="transitions.fields")}
    assert set(offered) == {"Start progress", "Wait for customer", "Resolve"}
    assert offered["Resolve"]["to"]["name"] == "Done"
    assert offered["Resolve"]["fields"]["resolution"]["required"] is True
    with pytest.raises(JIRAError) as refused:
        jira.transition_issue(issue.key, "Resolve")
    assert refused.value.status_code == 400 and "Resolution is required." in str(refused.value)
    assert jira.issue(issue.key).fields.status.name == "To Do"

    jira.transition_issue(issue.key, offered["Start progress"]["id"])  # by id: the library sends it as a number
    jira.transition_issue(issue.key, "Resolve", fields={"resolution": {"name": "Done"}})
    done = jira.issue(issue.key, expand="changelog")
    assert done.fields.status.name == "Done" and done.fields.resolution.name == "Done"
    assert done.fields.resolutiondate is not None
    assert changes(done) == [[("status", "To Do", "In Progress")],
                             [("resolution", None, "Done"), ("status", "In Progress", "Done")]]
    jira.transition_issue(issue.key, "To Do")
    assert jira.issue(issue.key).fields.resolution is None
    assert any(m.why.startswith("POST transitions") for m, _ in fake_jira.allowed)


def test_link_two_issues_by_link_type_name(fake_jira: FakeJira, jira: JIRA) -> None:
    incident = jira.create_issue(project="SUP", summary="Checkout fails", issuetype={"name": "Incident"})
    bug = jira.create_issue(project="DEV", summary="Null price", issuetype={"name": "Bug"})

    jira.create_issue_link("Blocks", bug.key, incident.key)

    (on_bug,) = jira.issue(bug.key).raw["fields"]["issuelinks"]
    (on_incident,) = jira.issue(incident.key).raw["fields"]["issuelinks"]
    assert on_bug["type"]["name"] == "Blocks" and on_bug["outwardIssue"]["key"] == incident.key  # bug blocks incident
    assert on_incident["inwardIssue"]["key"] == bug.key  # incident is blocked by bug
    assert on_bug["outwardIssue"]["fields"]["status"]["name"] == "To Do"
    assert [t.name for t in jira.issue_link_types()] == ["Blocks", "Cloners", "Duplicate", "Relates"]
    assert any(m.why.startswith("POST /issueLink") for m, _ in fake_jira.allowed)  # the library's comment: null
    with pytest.raises(JIRAError) as refused:
        jira.create_issue_link("Causes", bug.key, incident.key)
    assert refused.value.status_code == 404


def test_assign_and_watch_by_account_id(fake_jira: FakeJira, jira: JIRA) -> None:
    issue = jira.create_issue(project="SUP", summary="Phone line dead", issuetype={"name": "Incident"})
    agent = fake_jira.users["agent"]

    jira.assign_issue(issue.key, "alice")  # the library looks the user up, then sends {"accountId"}
    assert jira.issue(issue.key).fields.assignee.accountId == agent.account_id
    jira.add_watcher(issue.key, "alice")
    watchers = jira.watchers(issue.key)
    assert watchers.watchCount == 1 and watchers.watchers[0].accountId == agent.account_id
    jira.assign_issue(issue.key, None)
    assert jira.issue(issue.key).fields.assignee is None
    assert changes(jira.issue(issue.key, expand="changelog")) == [[("assignee", None, "Alice Agent")],
                                                                  [("assignee", "Alice Agent", None)]]


# -- search -------------------------------------------------------------------------------------------

def _five_issues(fake: FakeJira, clock: Clock) -> list[str]:
    keys = []
    for n in range(5):
        keys.append(fake.create_issue("SUP", f"Incident {n}", created=clock.now).key)
        clock.tick(10)
    fake.create_issue("DEV", "Not in SUP", issuetype="Bug", created=clock.now)
    return keys


def test_enhanced_search_pages_with_next_page_token() -> None:
    clock = Clock()
    with FakeJira(clock=clock) as fake:
        keys = _five_issues(fake, clock)
        jira = fake.client()
        jql = 'updated >= "2026/03/02 09:15" AND project = SUP ORDER BY updated ASC'

        first = jira.enhanced_search_issues(jql, maxResults=2, fields="summary,updated")
        assert [i.key for i in first] == keys[2:4] and first.nextPageToken
        second = jira.enhanced_search_issues(jql, maxResults=2, nextPageToken=first.nextPageToken, fields="summary")
        assert [i.key for i in second] == keys[4:] and second.nextPageToken is None

        as_json = jira.enhanced_search_issues("project = SUP ORDER BY updated ASC", maxResults=3, json_result=True,
                                              use_post=True, expand="changelog", fields=["*all"])
        assert [i["key"] for i in as_json["issues"]] == keys[:3] and as_json["isLast"] is False
        assert "changelog" in as_json["issues"][0] and "comment" in as_json["issues"][0]["fields"]
        everything = jira.enhanced_search_issues("project = SUP", maxResults=0)
        assert len(everything) == 5
        clock.tick(5)
        recent = jira.search_issues('updated >= "-30m" ORDER BY updated ASC', json_result=True)  # the poller's query
        assert [i["key"] for i in recent["issues"]] == [*keys[3:], "DEV-1"]
        with pytest.raises(JIRAError, match="Unbounded JQL"):
            jira.enhanced_search_issues("ORDER BY updated")
        fake.assert_no_problems()


def test_classic_search_pages_with_start_at_and_total() -> None:
    clock = Clock()
    with FakeJira(clock=clock, deployment="Server") as fake:
        keys = _five_issues(fake, clock)
        jira = fake.client(token=True)

        page = jira.search_issues("project = SUP ORDER BY created ASC", startAt=2, maxResults=2)
        assert [i.key for i in page] == keys[2:4] and page.total == 5 and page.startAt == 2
        assert [i.key for i in jira.search_issues("project = SUP ORDER BY key ASC", maxResults=False)] == keys
        posted = jira.search_issues("project = SUP AND updated >= '2026-03-02 09:35'", use_post=True,
                                    json_result=True)
        assert [i["key"] for i in posted["issues"]] == keys[4:] and posted["total"] == 1
        assert fake.unsupported_jql == []
        fake.assert_no_problems()


# -- faults -------------------------------------------------------------------------------------------

def test_429_with_retry_after_is_retried_by_the_library(fake_jira: FakeJira, jira: JIRA) -> None:
    issue = fake_jira.create_issue("SUP", "Slow VPN")
    fake_jira.fail_next(1, status=429, retry_after=1)

    started = time.monotonic()
    assert jira.issue(issue.key).fields.summary == "Slow VPN"

    assert time.monotonic() - started >= 1.0  # it waited as told
    tried = [(s.method, s.status) for s in fake_jira.requests if s.path.endswith(f"/issue/{issue.key}")]
    assert tried == [("GET", 429), ("GET", 200)]

    fake_jira.unavailable_next(1)  # 503 without Retry-After: the library gives up at once
    with pytest.raises(JIRAError) as failed:
        jira.issue(issue.key)
    assert failed.value.status_code == 503


# -- webhooks -----------------------------------------------------------------------------------------

def test_webhooks_are_signed_and_identified(fake_jira: FakeJira, jira: JIRA, receiver: HookReceiver) -> None:
    fake_jira.register_webhook(receiver.url, secret=SECRET)

    issue = jira.create_issue(project="SUP", summary="Website down", issuetype={"name": "Incident"})
    issue.update(fields={"customfield_10050": {"value": "customer"}})
    jira.assign_issue(issue.key, "alice")
    jira.transition_issue(issue.key, "Start progress")

    assert receiver.events() == [("jira:issue_created", "issue_created"), ("jira:issue_updated", "issue_updated"),
                                 ("jira:issue_updated", "issue_assigned"), ("jira:issue_updated", "issue_generic")]
    for headers, body in receiver.hits:
        verify_signature(body, headers["X-Hub-Signature"], SECRET)  # the project's own check
        assert headers["X-Hub-Signature"] == signature(body, SECRET)
        assert headers["Content-Type"] == "application/json" and headers["X-Atlassian-Webhook-Flow"] == "Primary"
        assert "X-Atlassian-Webhook-Retry" not in headers
    identifiers = [h["X-Atlassian-Webhook-Identifier"] for h, _ in receiver.hits]
    assert len(set(identifiers)) == len(identifiers)

    created, updated, assigned, moved = receiver.bodies()
    assert created["issue"]["key"] == issue.key and created["user"]["accountId"] == fake_jira.api_user.account_id
    assert isinstance(created["timestamp"], int)
    assert updated["changelog"]["items"] == [{"field": "Failure origin", "fieldtype": "custom",
                                              "fieldId": "customfield_10050", "from": None, "fromString": None,
                                              "to": "10302", "toString": "customer"}]
    assert updated["issue"]["fields"]["customfield_10050"]["value"] == "customer"
    assert assigned["changelog"]["items"][0]["to"] == fake_jira.users["agent"].account_id
    assert moved["changelog"]["items"][0]["toString"] == "In Progress"
    assert moved["issue"]["fields"]["status"]["name"] == "In Progress"
    event = event_from_body(moved, {"customfield_10050": "Failure origin"}, identifiers[3])
    assert [(c.field, c.old, c.new) for c in event.changes] == [("status", "To Do", "In Progress")]


def test_a_comment_fires_the_pair_that_is_one_event(fake_jira: FakeJira, receiver: HookReceiver) -> None:
    fake_jira.register_webhook(receiver.url, secret=SECRET)
    issue = fake_jira.create_issue("SUP", "Cannot log in")  # seeding: no webhook

    comment = fake_jira.comment(issue.key, "Still broken!", author="customer")

    assert sorted(receiver.events(), key=str) == [("comment_created", None), ("jira:issue_updated",
                                                                              "issue_commented")]
    (h1, b1), (h2, b2) = receiver.hits
    assert h1["X-Atlassian-Webhook-Identifier"] != h2["X-Atlassian-Webhook-Identifier"]
    bodies = [json.loads(b1), json.loads(b2)]
    assert {b["comment"]["id"] for b in bodies} == {comment.id}
    assert all(b["comment"]["author"]["accountId"] == "qm:carol-customer" for b in bodies)
    keys = {classify(b, h["X-Atlassian-Webhook-Identifier"]).dedup_key for (h, _), b in zip(receiver.hits, bodies,
                                                                                             strict=True)}
    assert keys == {f"jira:issue:{issue.id}:comment:{comment.id}"}  # one happening for ticketwarden


def test_retries_keep_the_identifier_and_duplicates_repeat_it(receiver: HookReceiver) -> None:
    receiver.script = [500, 429]
    with FakeJira(webhook_duplicates=True) as fake:
        fake.register_webhook(receiver.url)
        fake.create_issue("SUP", "Flaky receiver", emit=True)

        attempts = [(d.status, d.retry, d.duplicate) for d in fake.deliveries]
        assert attempts == [(500, 0, False), (429, 1, False), (200, 2, False), (200, 0, True)]
        identifiers = {h["X-Atlassian-Webhook-Identifier"] for h, _ in receiver.hits}
        assert len(identifiers) == 1 and len({body for _, body in receiver.hits}) == 1
        assert [h.get("X-Atlassian-Webhook-Retry") for h, _ in receiver.hits] == [None, "1", "2", None]
        assert "X-Hub-Signature" not in receiver.hits[0][0]  # no secret, no signature
        fake.assert_no_problems()


def test_queued_webhooks_wait_for_flush(receiver: HookReceiver) -> None:
    with FakeJira(webhook_mode="queue", webhook_retries=0) as fake:
        fake.register_webhook(receiver.url, secret=SECRET, events={"comment_created"})
        issue = fake.create_issue("SUP", "Later", emit=True)
        fake.comment(issue.key, "one")
        fake.comment(issue.key, "two")
        assert receiver.hits == [] and fake.webhooks.pending == 2

        fake.flush()
        assert [b["comment"]["body"] for b in receiver.bodies()] == ["one", "two"]
        assert fake.webhooks.pending == 0
        fake.assert_no_problems()


def test_people_acting_in_jira_announce_their_changes(receiver: HookReceiver) -> None:
    with FakeJira(clock=Clock(), time_zone="Europe/Madrid") as fake:
        fake.register_webhook(receiver.url, secret=SECRET)
        issue = fake.create_issue("SUP", "Printer jam", priority="Low", **{"Failure origin": "unknown"})
        assert fake.issue_json(issue.key)["fields"]["created"] == "2026-03-02T10:00:00.000+0100"  # Jira's format

        fake.edit(issue.key, author="agent", labels=["hardware"], **{"Failure origin": "customer"})
        fake.transition(issue.key, "Done", author="agent", resolution="Done")

        edited, resolved = receiver.bodies()
        assert {b["user"]["accountId"] for b in (edited, resolved)} == {fake.users["agent"].account_id}
        assert [i["field"] for i in edited["changelog"]["items"]] == ["labels", "Failure origin"]
        assert [(i["field"], i["toString"]) for i in resolved["changelog"]["items"]] == [("resolution", "Done"),
                                                                                         ("status", "Done")]
        assert resolved["issue"]["fields"]["resolution"]["name"] == "Done"
        fake.assert_no_problems()


def test_server_dc_shapes(fake_jira_dc: FakeJira, receiver: HookReceiver) -> None:
    fake_jira_dc.register_webhook(receiver.url, secret=SECRET)
    jira = JIRA(server=fake_jira_dc.url, token_auth=fake_jira_dc.personal_token)
    assert jira.server_info()["deploymentType"] == "Server" and not jira._is_cloud
    issue = jira.create_issue(project="SUP", summary="Badge reader", issuetype={"name": "Incident"})

    jira.assign_issue(issue.key, "alice")  # the library sends {"name": "alice"} to Server
    jira.add_watcher(issue.key, "alice")
    issue.update(fields={"customfield_10050": {"value": "internal"}})
    jira.add_comment(issue.key, "On site tomorrow")

    shown = jira.issue(issue.key, expand="changelog")
    assert shown.fields.assignee.name == "alice" and shown.fields.assignee.key == "JIRAUSER10001"
    assert "accountId" not in shown.raw["fields"]["assignee"]
    assert jira.watchers(issue.key).watchers[0].name == "alice"
    item = shown.raw["changelog"]["histories"][0]["items"][0]
    assert "fieldId" not in item and item["to"] == "JIRAUSER10001"
    bodies = receiver.bodies()
    assert [b["webhookEvent"] for b in bodies][:3] == ["jira:issue_created", "jira:issue_updated",
                                                       "jira:issue_updated"]
    assert "changelog" not in bodies[0] and bodies[0]["user"]["name"] == "ticketwarden"
    assert all("fieldId" not in i for b in bodies for i in (b.get("changelog") or {}).get("items", []))
    event = event_from_body(bodies[2], {"customfield_10050": "Failure origin"})
    assert [(c.field, c.old, c.new) for c in event.changes] == [("cf:Failure origin", None, "internal")]


# -- the checker itself -------------------------------------------------------------------------------

def test_the_openapi_check_catches_what_the_document_forbids(fake_jira: FakeJira,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    issue = fake_jira.create_issue("SUP", "Checked")
    raw(fake_jira, "POST", "/rest/api/2/issue", json={"fields": "not an object"})
    raw(fake_jira, "GET", "/rest/api/2/search/jql", params={"jql": "project = SUP", "maxResults": "many"})
    raw(fake_jira, "GET", f"/rest/api/2/issue/{issue.key}/worklog")  # not served by the fake
    # a fake that drifts from Jira's shapes is caught too (here: a numeric id where Jira sends a string)
    shown = View.issue_type
    monkeypatch.setattr(View, "issue_type", lambda view, kind: {**shown(view, kind), "id": int(kind.id)})
    raw(fake_jira, "GET", "/rest/api/3/issuetype")

    found = [(p.direction, p.where) for p in fake_jira.problems]
    assert ("request", "body.fields") in found and ("request", "query.maxResults") in found
    assert ("response", "body.0.id") in found
    assert any("does not serve" in p.message for p in fake_jira.problems)
    with pytest.raises(AssertionError, match="problem"):
        fake_jira.assert_no_problems()
    fake_jira.problems.clear()  # seen: the fixture's own check must pass
