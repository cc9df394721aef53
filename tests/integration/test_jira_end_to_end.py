"""The Jira path end to end: the fake Jira (real `jira` library, OpenAPI-checked traffic) sends
signed webhooks to the real HTTP server; the worker decides with the rules and writes back;
Jira's webhooks about our own writes come back and stop at the loop guard."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connector.jira_payloads import parse_time
from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.integration.jira_service import serve, work
from ticketwarden import migrate
from ticketwarden.config import Settings
from ticketwarden.service import Application, build
from ticketwarden.store import create_db_engine

SECRET = "jira-e2e-secret"
RULES = """
version: 1
fields:
  origin: {jira: customfield_10050, values: [unknown, internal, customer, third_party]}
  triage: {jira: "Triage"}
staff: {groups: [support-staff]}
rules:
  - name: triage new incidents
    on: [ticket.created]
    if: [project = SUP, tracker = Incident]
    then:
      - set: {origin: unknown, triage: "received {{ event.occurred_at | iso }}"}
      - comment: {private: true, body: "ticketwarden: incident {{ ticket.key }} received."}
  - name: origin classified
    on: [ticket.updated]
    if: [origin changed_to internal, actor_role = staff]
    then:
      - transition: {status: In Progress, comment: "Taken: our own failure.", private: true}
      - link: {to: "{{ (ticket.labels or [''])[0] }}", relation: relates}
"""


@pytest.fixture(params=["Cloud", "Server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    """Jira Cloud (accountId, enhanced search) and Data Center (name/key, classic search)."""
    yield from checked_fake_jira(request.param, webhook_duplicates=True)


@pytest.fixture
def service(fake: FakeJira, tmp_path, database_url) -> Iterator[Application]:
    yield from serve(fake, RULES, tmp_path, database_url, SECRET)


def test_webhook_round_trip_with_the_loop_guard(fake: FakeJira, service: Application):
    issue = fake.create_issue("SUP", "VPN down for ACME", issuetype="Incident", reporter="customer", emit=True)
    # Each delivery came twice (Jira's duplicate): one stored event.
    keys = [row["dedup_key"] for row in service.store.inbox_rows(source="jira")]
    assert keys == [f"jira:issue:{issue.id}:created"]
    work(service)
    state = fake.issue_json(issue.key)
    assert state["fields"]["customfield_10050"]["value"] == "unknown"
    me = fake.api_user
    comments = [c for c in state["fields"]["comment"]["comments"]
                if c["author"].get("accountId", c["author"].get("name")) in (me.account_id, me.name)]
    assert [c["body"] for c in comments] == [f"ticketwarden: incident {issue.key} received."]
    assert [c.internal for c in fake.issue(issue.key).comments] == [True]  # a JSM internal comment
    # Jira announced our own writes: they were stored and stopped at the loop guard.
    decisions = [a["detail"] for a in service.store.audit_rows(str(issue.id)) if a["kind"] == "decision"]
    assert len(decisions) >= 2
    assert {d["ignored"] for d in decisions[1:]} == {"change made by ticketwarden itself (loop guard)"}
    assert len([row for row in service.store.outbox_rows()]) == 2  # nothing written twice


def test_a_staff_classification_transitions_and_links(fake: FakeJira, service: Application):
    earlier = fake.create_issue("SUP", "Earlier outage", issuetype="Incident", reporter="customer")
    issue = fake.create_issue("SUP", "Core switch down", issuetype="Incident", reporter="customer",
                              labels=[earlier.key])
    fake.edit(issue.key, author="agent", **{"Failure origin": "internal"})
    work(service)
    state = fake.issue_json(issue.key)
    assert state["fields"]["status"]["name"] == "In Progress"
    links = state["fields"]["issuelinks"]
    assert [(link["type"]["name"], (link.get("outwardIssue") or link.get("inwardIssue"))["key"]) for link in links] \
        == [("Relates", earlier.key)]
    notes = [c["body"] for c in state["fields"]["comment"]["comments"]]
    assert notes == ["Taken: our own failure."]
    trace = next(a["detail"] for a in service.store.audit_rows(str(issue.id)) if a["kind"] == "decision")
    matched = [r for r in trace["rules"] if r["matched"]]
    assert [r["rule"] for r in matched] == ["origin classified"]
    assert matched[0]["conditions"][1] == {"condition": "actor_role = staff", "result": True, "actual": "staff",
                                           "depth": 0}


def test_polling_finds_what_no_webhook_announced(fake: FakeJira, service: Application):
    issue = fake.create_issue("SUP", "Silent printer", issuetype="Incident", reporter="customer")
    [poller] = service.pollers
    since = parse_time(fake.issue_json(issue.key)["fields"]["created"]) - timedelta(seconds=1)
    service.store.set_value(poller.state_name, since.isoformat(), since)
    assert poller.poll_once() >= 1
    assert {row["ticket"] for row in service.store.inbox_rows(source="jira")} == {f"jira:{issue.id}"}
    work(service)
    assert fake.issue_json(issue.key)["fields"]["customfield_10050"]["value"] == "unknown"
    assert poller.poll_once() == 0 or all(
        d["ignored"] for d in [a["detail"] for a in service.store.audit_rows(str(issue.id))
                               if a["kind"] == "decision"][1:])


def test_jira_errors_are_reported_and_rate_limits_retried(fake: FakeJira, service: Application):
    issue = fake.create_issue("SUP", "Rate limited", issuetype="Incident", reporter="customer")
    fake.edit(issue.key, author="agent", **{"Failure origin": "internal"})
    service.worker.process_inbox()
    fake.fail_next(20, status=429, retry_after=0, path_contains="/transitions")  # beyond the library's retries
    service.worker.apply_outbox()
    rows = service.store.outbox_rows(ticket_id=str(issue.id))
    assert rows and any(r["state"] == "pending" and "429" in (r["last_error"] or "") for r in rows)
    # Later the limit is gone: the retries write each effect once. (The link had no target, no
    # label: it was never planned, and the trace says why.)
    with fake._faults_lock:
        fake._faults.clear()
    later = type(service.worker)(service.store, service.connectors, service.rules,
                                 clock=lambda: service.clock() + timedelta(hours=1))
    while later.apply_outbox():
        pass
    states = {r["action"]: (r["state"], r["last_error"]) for r in service.store.outbox_rows(ticket_id=str(issue.id))}
    assert states == {"transition": ("done", None)}
    trace = next(a["detail"] for a in service.store.audit_rows(str(issue.id)) if a["kind"] == "decision")
    assert {"action": "link", "outcome": "error: link: the other ticket is empty", "key": ""} in \
        next(r for r in trace["rules"] if r["rule"] == "origin classified")["actions"]
    assert fake.issue_json(issue.key)["fields"]["status"]["name"] == "In Progress"


def test_a_429_pauses_every_call_to_jira_for_its_retry_after(fake: FakeJira, service: Application):
    """Jira says "wait two minutes": the refused effect is retried no sooner, and meanwhile the
    worker does not knock again (the next effect fails at once without a request)."""
    first = fake.create_issue("SUP", "Rate limited one", issuetype="Incident", reporter="customer")
    second = fake.create_issue("SUP", "Rate limited two", issuetype="Incident", reporter="customer")
    for issue in (first, second):
        fake.edit(issue.key, author="agent", **{"Failure origin": "internal"})
    service.worker.process_inbox()
    fake.fail_next(1, status=429, retry_after=120)
    before = len(fake.requests)
    now = service.clock()
    one_at_a_time = type(service.worker)(service.store, service.connectors, service.rules, clock=service.clock,
                                         concurrency=1)  # so which request comes first is known
    assert one_at_a_time.apply_outbox() == 2
    assert len(fake.requests) == before + 1  # one request refused; none after it
    rows = service.store.outbox_rows(state="pending")
    assert rows and all("429" in row["last_error"] or "wait" in row["last_error"] for row in rows)
    assert all(row["available_at"] >= now + timedelta(seconds=120) for row in rows), \
        [(row["last_error"], row["available_at"]) for row in rows]


@pytest.mark.parametrize("comment_first", [False, True], ids=["transition-first", "comment-first"])
def test_a_transition_with_a_comment_counts_the_comment_once(fake: FakeJira, service: Application,
                                                             comment_first: bool):
    """Jira sends a transition's comment inside jira:issue_updated and again as comment_created."""
    import json

    issue = fake.create_issue("SUP", "Pair in two shapes", issuetype="Incident", reporter="customer")
    raw_issue = fake.issue_json(issue.key)
    agent = {"accountId": fake.users["agent"].account_id, "displayName": "Alice Agent",
             "emailAddress": fake.users["agent"].email}
    comment = {"id": "90001", "self": f"{fake.url}/rest/api/2/issue/{issue.id}/comment/90001", "author": agent,
               "body": "Moving on.", "created": "2026-03-02T09:00:00.000+0000"}
    transition = {"timestamp": 1772442000000, "webhookEvent": "jira:issue_updated",
                  "issue_event_type_name": "issue_generic", "user": agent, "issue": raw_issue, "comment": comment,
                  "changelog": {"id": "90002", "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                                                           "from": "1", "fromString": "To Do", "to": "3",
                                                           "toString": "In Progress"}]}}
    own = {"timestamp": 1772442000000, "webhookEvent": "comment_created", "comment": comment, "issue": raw_issue}
    new = []
    for body in ([own, transition] if comment_first else [transition, own]):
        stored, _ = service.store.store_delivery(source="jira", shape="cloud", dedup_key=_key(body), path="-",
                                                 headers={}, body=json.dumps(body), now=service.clock())
        new.append(stored)
        service.worker.process_inbox()
    # The transition handled first claims the comment: its own delivery is then a duplicate.
    assert new == ([True, True] if comment_first else [True, False])
    decisions = [a["detail"] for a in service.store.audit_rows(str(issue.id)) if a["kind"] == "decision"]
    commented = [d for d in decisions if "ticket.commented" in d["triggers"]]
    assert len(commented) == 1
    assert any("ticket.updated" in d["triggers"] for d in decisions)


def _key(body: dict) -> str:
    from connector.jira_payloads import classify

    return classify(body).dedup_key


def test_jira_refusals_are_permanent_and_say_why(fake: FakeJira):
    from connector.errors import TrackerError
    from connector.jira import JiraConnector
    from rules.model import Effect

    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    issue = fake.create_issue("SUP", "Refusals", issuetype="Incident", reporter="customer")
    with pytest.raises(TrackerError) as nowhere:
        connector.apply(Effect("k1", "transition", "jira", issue.id, "r", {"status": "Nowhere"}), True)
    assert not nowhere.value.transient and "leads to 'Nowhere' (available: " in str(nowhere.value)
    with pytest.raises(TrackerError) as bad_option:
        connector.apply(Effect("k2", "set", "jira", issue.id, "r",
                               {"standard": {}, "custom": {"customfield_10050": "sideways"}}), True)
    assert not bad_option.value.transient and bad_option.value.status == 400
    assert "customfield_10050" in str(bad_option.value)  # Jira's own `errors` are in the message
    fake.unavailable_next(10)
    with pytest.raises(TrackerError) as down:
        connector.apply(Effect("k3", "comment", "jira", issue.id, "r", {"body": "x", "private": False}), True)
    assert down.value.transient and down.value.status == 503


def test_creating_an_issue_happens_once_per_key(fake: FakeJira):
    from connector.jira import JiraConnector, creation_label

    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    first = connector.create_issue("escalate-SUP-1", "DEV", "Bug", "[SUP-1] VPN down", "From support",
                                   {"customfield_10050": "internal"}, due_date="2026-12-01")
    again = connector.create_issue("escalate-SUP-1", "DEV", "Bug", "[SUP-1] VPN down", "From support")
    assert first.new and not again.new
    assert (first.id, first.key, first.url) == (again.id, again.key, again.url) and first.key.startswith("DEV-")
    assert first.url == f"{fake.url}/browse/{first.key}"
    created = fake.issue_json(first.key)
    assert created["fields"]["labels"] == [creation_label("escalate-SUP-1")]
    assert created["fields"]["duedate"] == "2026-12-01"
    assert created["fields"]["customfield_10050"]["value"] == "internal"
    assert len([i for i in fake.state.issues.values() if i.key.startswith("DEV-")]) == 1


def test_creating_is_never_re_sent_by_the_library(fake: FakeJira):
    """POST /issue goes out once per call: a failure comes back to the outbox, whose retry looks
    for the marker first (the library re-sending after a broken connection could create two)."""
    from connector.errors import TrackerError
    from connector.jira import JiraConnector

    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    connector.fields()  # the field list is read before the fault below
    fake.unavailable_next(1, retry_after=1, path_contains="/issue")  # the library would retry this
    with pytest.raises(TrackerError) as refused:
        connector.create_issue("once-SUP-9", "DEV", "Bug", "[SUP-9] Sync stalls")
    assert refused.value.transient and refused.value.status == 503
    created = connector.create_issue("once-SUP-9", "DEV", "Bug", "[SUP-9] Sync stalls")
    assert created.new and [i.key for i in fake.state.issues.values() if i.summary == "[SUP-9] Sync stalls"] == [
        created.key]


def test_staff_by_jira_project_role(fake: FakeJira, tmp_path, database_url):
    """`staff: {roles: [...]}` names Jira project roles, as it names Redmine's."""
    rules = tmp_path / "roles.yaml"
    rules.write_text(textwrap.dedent("""
        version: 1
        fields: {origin: {jira: customfield_10050}}
        staff: {roles: [Service Desk Team]}
        rules:
          - name: who changed it
            on: [ticket.updated]
            then: [{comment: {private: true, body: "{{ event.actor }} is staff"}}]
            if: [actor_role = staff, author_role = customer]
    """))
    migrate.upgrade(create_db_engine(database_url))
    email, token = fake.basic_auth()
    application = build(Settings(database_url=database_url, rules=(str(rules),), jira_url=fake.url, jira_user=email,
                                 jira_api_token=token), environ={})
    issue = fake.create_issue("SUP", "Roles", issuetype="Incident", reporter="customer")
    body = {"timestamp": 1772442000000, "webhookEvent": "jira:issue_updated", "issue": fake.issue_json(issue.key),
            "user": {"accountId": fake.users["agent"].account_id, "name": fake.users["agent"].name,
                     "key": fake.users["agent"].key, "displayName": "Alice Agent"},
            "changelog": {"id": "91001", "items": [{"field": "labels", "fieldtype": "jira", "fieldId": "labels",
                                                     "from": None, "fromString": "", "to": None, "toString": "vip"}]}}
    import json

    application.store.store_delivery(source="jira", shape="cloud", dedup_key=_key(body), path="-", headers={},
                                     body=json.dumps(body), now=application.clock())
    application.worker.process_inbox()
    trace = next(a["detail"] for a in application.store.audit_rows(str(issue.id)) if a["kind"] == "decision")
    assert [(c["condition"], c["result"], c["actual"]) for c in trace["rules"][0]["conditions"]] == [
        ("actor_role = staff", True, "staff"), ("author_role = customer", True, "customer")]
    application.store.engine.dispose()


def test_labels_priority_and_several_trackers_at_once(fake: FakeJira, tmp_path, database_url, redmine_env):
    """`set` writes Jira labels and priority; one service watches a Redmine and a Jira at once."""
    from rules.model import Effect

    migrate.upgrade(create_db_engine(database_url))
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nrules: []\n")
    email, token = fake.basic_auth()
    application = build(Settings(database_url=database_url, rules=(str(rules),), jira_url=fake.url, jira_user=email,
                                 jira_api_token=token, redmine_url=redmine_env["REDMINE_URL"],
                                 redmine_api_key=redmine_env["REDMINE_API_KEY"]), environ={})
    assert sorted(application.connectors) == ["jira", "redmine"]
    assert sorted(p.connector.kind for p in application.pollers) == ["jira", "redmine"]
    issue = fake.create_issue("SUP", "Labels", issuetype="Incident", reporter="customer")
    outcome = application.connectors["jira"].apply(
        Effect("k", "set", "jira", issue.id, "r", {"standard": {"labels": "vip, network", "priority": "High"},
                                                     "custom": {}}), True)
    fields = fake.issue_json(issue.key)["fields"]
    assert outcome == "set labels, priority"
    assert sorted(fields["labels"]) == ["network", "vip"] and fields["priority"]["name"] == "High"
    application.store.engine.dispose()


# -- Jira Cloud and Data Center as they are: no e-mail addresses, multi-value fields, people by id, JSM SLAs --------

def _serving(fake: FakeJira, rules: str, tmp_path, database_url: str) -> Iterator[Application]:
    yield from serve(fake, rules, tmp_path, database_url, SECRET)


def _our_notes(fake: FakeJira, key: str) -> list[str]:
    me = fake.api_user
    return [c.text for c in fake.issue(key).comments if c.author is me]


def _rules_notes(fake: FakeJira, key: str) -> list[str]:
    """Each rule's note: the paragraphs of our comments (notes of one visibility written at
    one time are one comment, connector.notes)."""
    return [part for text in _our_notes(fake, key) for part in text.split("\n\n")]


@pytest.fixture
def example(fake: FakeJira, tmp_path, database_url) -> Iterator[Application]:
    """The shipped Jira example rulebook, served."""
    from tests.conftest import ROOT

    yield from _serving(fake, (ROOT / "examples" / "rulebooks" / "jira-support.yaml").read_text(), tmp_path,
                        database_url)


def test_the_example_tells_staff_by_group_and_role_where_jira_sends_no_email(fake: FakeJira, example: Application):
    """Jira Cloud's people carry no e-mail address: the example rulebook still knows the agent's
    public reply for staff (group support-staff, role Service Desk Team), and the customer's not."""
    issue = fake.create_issue("SUP", "VPN down", issuetype="Incident", reporter="customer", emit=True)
    work(example)
    fake.comment(issue.key, "Is anyone there?", author="customer")
    work(example)
    states = {row.clock.policy: row.state for row in example.store.clocks_for("jira", issue.id)}
    assert states["first-response"] == "running"
    fake.comment(issue.key, "Looking into it.", author="agent")
    work(example)
    author = fake.deliveries[-1].payload["comment"]["author"]
    assert ("emailAddress" in author) is (not fake.cloud)  # Cloud hides it
    states = {row.clock.policy: row.state for row in example.store.clocks_for("jira", issue.id)}
    assert states["first-response"] == "met"


MULTI_RULES = """
version: 1
rules:
  - {name: vip came, on: [ticket.updated], if: [labels added vip], then: [{comment: {body: vip came}}]}
  - name: API beside Web
    on: [ticket.updated]
    if: [category added API, category contains Web, not: [category added Web]]
    then: [{comment: {body: API joined Web}}]
  - {name: Web went, on: [ticket.updated], if: [category removed Web], then: [{comment: {body: Web went}}]}
  - {name: by login, on: [ticket.updated], if: [assignee changed_to alice], then: [{comment: {body: by login}}]}
  - name: by account
    on: [ticket.updated]
    if: ["assignee changed_to 557058:alice-agent"]
    then: [{comment: {body: by account}}]
  - {name: by key, on: [ticket.updated], if: [assignee changed_to JIRAUSER10001], then: [{comment: {body: by key}}]}
  - name: by name
    on: [ticket.updated]
    if: [assignee changed_to "Alice Agent"]
    then: [{comment: {body: by name}}]
"""


def test_labels_components_and_people_change_as_jira_reports_them(fake: FakeJira, tmp_path, database_url):
    """Labels come joined with spaces, components one changelog item per value (`components` on
    Cloud, `Component` on Data Center), the assignee by accountId (Cloud) or user key (Data
    Center): the rules see sets and people all the same."""
    for application in _serving(fake, MULTI_RULES, tmp_path, database_url):
        issue = fake.create_issue("SUP", "Checkout fails", issuetype="Incident", labels=["network"],
                                  components=["Web"])
        fake.edit(issue.key, author="agent", update={"labels": [{"add": "vip"}],
                                                     "components": [{"add": {"name": "API"}}]})
        work(application)
        assert _our_notes(fake, issue.key) == ["vip came\n\nAPI joined Web"]  # one comment, in rule order
        fake.edit(issue.key, author="agent", update={"components": [{"remove": {"name": "Web"}}]})
        work(application)
        assert _rules_notes(fake, issue.key)[2:] == ["Web went"]
        fake.edit(issue.key, author="agent", assignee="agent")
        work(application)
        by = ["by account", "by name"] if fake.cloud else ["by key", "by login", "by name"]
        assert sorted(_rules_notes(fake, issue.key)[3:]) == by
        items = [item for delivery in fake.deliveries if "changelog" in delivery.payload
                 for item in delivery.payload["changelog"]["items"]]
        assert {item["field"] for item in items} >= {"labels", "components" if fake.cloud else "Component"}


def _resolution_sla(breached: bool) -> dict:
    """Jira Service Management's "Time to resolution" as it shows it on the issue."""
    def moment(ms: int) -> dict:
        return {"iso8601": "", "jira": "", "friendly": "", "epochMillis": ms}

    start, hour = 1772442000000, 3_600_000
    elapsed = 9 * hour if breached else hour
    return {"id": "2", "name": "Time to resolution", "_links": {"self": "https://jsm.invalid/sla/2"},
            "completedCycles": [],
            "ongoingCycle": {"startTime": moment(start), "breachTime": moment(start + 8 * hour), "breached": breached,
                             "paused": False, "withinCalendarHours": True,
                             "goalDuration": {"millis": 8 * hour, "friendly": "8h"},
                             "elapsedTime": {"millis": elapsed, "friendly": ""},
                             "remainingTime": {"millis": 8 * hour - elapsed, "friendly": ""}},
            "slaDisplayFormat": "NEW_SLA_FORMAT"}


JSM_RULES = """
version: 1
staff: {groups: [support-staff], roles: [Service Desk Team]}
rules:
  - name: customer writes past JSM's goal
    on: [ticket.commented]
    if: [actor_role = customer, jsm.time_to_resolution = breached]
    then:
      - comment:
          private: true
          body: >-
            past JSM's goal of {{ jsm.time_to_resolution.goal }} ({{ jsm['Time to resolution'].ongoing.remaining }})
"""


def test_rules_act_on_jira_service_management_slas(fake: FakeJira, tmp_path, database_url):
    for application in _serving(fake, JSM_RULES, tmp_path, database_url):
        issue = fake.create_issue("SUP", "Printer jam", issuetype="Incident", reporter="customer")
        fake.set_service_sla(issue.key, _resolution_sla(breached=False))
        fake.comment(issue.key, "Any news?", author="customer")
        work(application)
        assert _our_notes(fake, issue.key) == []
        fake.set_service_sla(issue.key, _resolution_sla(breached=True))
        fake.comment(issue.key, "Still jammed.", author="customer")
        fake.comment(issue.key, "On my way.", author="agent")
        work(application)
        assert _our_notes(fake, issue.key) == ["past JSM's goal of 8h (-1h)"]


def test_a_delivery_without_timestamp_is_dated_when_it_was_received(fake: FakeJira):
    """Some deliveries carry no `timestamp`: the event takes the time the delivery came, never 1970."""
    from datetime import UTC, datetime

    from connector.jira import JiraConnector
    from tests.fakejira.model import Event

    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    issue = fake.create_issue("SUP", "Timeless", issuetype="Incident", reporter="customer")
    comment = fake.comment(issue.key, "No time on this one.", author="customer")
    body = fake.view("2").webhook(Event("updated", "issue_commented", fake.issue(issue.key), comment.author,
                                        comment.created, comment=comment))
    del body["timestamp"]
    received = datetime(2026, 3, 2, 9, 0, 7, tzinfo=UTC)
    event = connector.read(body, received_at=received).event
    assert event.occurred_at == received
    event = connector.read(body).event  # the time of receipt unknown: the comment's own
    assert event.occurred_at == parse_time(body["comment"]["created"])


def test_history_undoes_component_changes(fake: FakeJira):
    """Backfill reads an issue's past from its changelog: components one item per value."""
    from connector.jira import JiraConnector

    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    issue = fake.create_issue("SUP", "Past", issuetype="Incident", components=["Web"])
    fake.edit(issue.key, author="agent", update={"components": [{"add": {"name": "API"}}]})
    fake.edit(issue.key, author="agent", update={"components": [{"remove": {"name": "Web"}}]})
    steps = connector.history(issue.id)
    assert [sorted(ticket.categories) for _, ticket in steps] == [["Web"], ["API", "Web"], ["API"]]
    assert [(c.field, c.added, c.removed) for event, _ in steps[1:] for c in event.changes] == [
        ("category", ("API",), ()), ("category", (), ("Web",))]


def test_the_worker_dates_a_delivery_without_timestamp_when_it_came(fake: FakeJira, tmp_path, database_url):
    """Through the inbox: the moment the delivery was stored is the event's time, as rules see it."""
    import json
    from datetime import timedelta

    from connector.jira_payloads import classify
    from tests.fakejira.model import Event
    from tests.helpers import MovableClock

    rules = """
    version: 1
    rules:
      - name: note the time
        on: [ticket.commented]
        then: [{comment: {private: true, body: "seen at {{ event.occurred_at | iso }}"}}]
    """
    clock = MovableClock()
    clock.offset = timedelta(days=3)  # far from the comment's own time: which time is used shows
    issue = fake.create_issue("SUP", "Timeless", issuetype="Incident", reporter="customer")
    comment = fake.comment(issue.key, "No time on this one.", author="customer")  # before any webhook is set up
    body = fake.view("2").webhook(Event("updated", "issue_commented", fake.issue(issue.key), comment.author,
                                        comment.created, comment=comment))
    del body["timestamp"]
    for application in serve(fake, rules, tmp_path, database_url, SECRET, clock=clock):
        delivery = classify(body)
        received = clock().replace(microsecond=0)
        application.store.store_delivery(source="jira", shape=delivery.shape, dedup_key=delivery.dedup_key,
                                         path="/webhooks/jira", headers={}, body=json.dumps(body), now=received)
        work(application)
        bodies = [c["body"] for c in fake.issue_json(issue.key)["fields"]["comment"]["comments"]
                  if str(c["body"]).startswith("seen at")]
        assert bodies == [f"seen at {received.isoformat()}"]
