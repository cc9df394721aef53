"""Records against the fake Jira, end to end: a development issue created once per escalated
incident and kept in step with it, a nonconformity once per cause whatever replays or races
there are, and one observation a month for a team whose share of internal-origin incidents is
too high.

The fake Jira (real `jira` library, OpenAPI-checked traffic) sends signed webhooks to the real
HTTP server; the worker drains inbox and outbox; the application clock moves for the SLA.
Every scenario runs on Jira Cloud and Server/DC, with SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from connector.errors import TrackerError
from connector.jira import JiraConnector, creation_label
from rules.model import Effect
from tests.fakejira import FakeJira
from tests.fakejira.fixtures import checked_fake_jira
from tests.fakejira.model import Issue
from tests.helpers import MovableClock
from tests.integration.jira_service import serve, work
from ticketwarden.records import RecordKeeper, marker
from ticketwarden.service import Application
from ticketwarden.store import Store, create_db_engine
from ticketwarden.store import outbox as outbox_table
from ticketwarden.worker import Worker

SECRET = "jira-records-secret"
ORIGIN, TEAM = "customfield_10050", "customfield_10051"
ISO_CLAUSE, REVIEW_DUE = "customfield_10056", "customfield_10058"
MEASURED = "internal-origin share per team"
RULES = """
version: 1
vocabulary:
  projects: [SUP, DEV, QA]
fields:
  origin: {jira: customfield_10050}
  team: {jira: customfield_10051}
  iso_clause: {jira: customfield_10056}
  review_due: {jira: customfield_10058}
origin:
  field: origin
  values:
    internal: our own product, service or people caused the failure
    customer: the customer caused it
    third_party: a supplier caused it
    infrastructure: hosting or network caused it
    unknown: not classified yet
indicators:
  incidents: [project = SUP, tracker = Incident]
  team: team
staff: {groups: [support-staff]}
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    applies: [project = SUP, tracker = Incident]
    calendar: always
    stop: [status = Done]
    targets: [{target: 1m}]
rules:
  - name: escalate internal defects
    on: [ticket.updated]
    if: [project = SUP, origin changed_to internal, actor_role = staff]
    then:
      - escalate:
          project: DEV
          tracker: Bug
          copy: [origin, team]
          note: "ticketwarden: escalated to development as {{ development.key }} ({{ development.url }})."
  - name: development done
    on: [development.resolved]
    then:
      - comment:
          private: true
          body: >-
            ticketwarden: development issue {{ development.key }} is {{ development.status }}; please confirm the fix.
  - name: internal breach opens a nonconformity
    on: [sla.breached]
    if: [project = SUP, sla.resolution = breached, origin = internal]
    then:
      - nonconformity:
          project: QA
          cause: "resolution-breach-{{ ticket.key }}"
          subject: "Resolution SLA breached on {{ ticket.key }} (internal origin)"
          description: "{{ ticket.key }} missed its resolution target; its failure origin is internal."
          clause: "10.2"
          severity: major
          record_fields: {clause: iso_clause, review_due: review_due}
          note: "ticketwarden: nonconformity {{ record.key }} opened for this breach ({{ record.url }})."
  - name: internal-origin share per team
    on: [{schedule: "0 9 * * *"}]
    measure: {window: 30d, by: team}
    if: [incidents >= 5, internal_share > 20%]
    then:
      - nonconformity:
          kind: observation
          project: QA
          cause: "internal-share-{{ group }}-{{ window.month }}"
          subject: >-
            Team {{ group }}: {{ measure.internal_share }}% of incidents of internal origin ({{ window.month }})
          description: >-
            {{ measure.internal }} of the {{ measure.incidents }} incidents of team {{ group }} were internal.
          clause: "9.1.1"
          record_fields: {clause: iso_clause}
"""


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(params=["Cloud", "Server"])
def fake(request: pytest.FixtureRequest, clock: MovableClock) -> Iterator[FakeJira]:
    """Jira Cloud (accountId, enhanced search) and Data Center (name/key, classic search), on the
    application's clock; every webhook is delivered twice, as Jira sometimes does."""
    yield from checked_fake_jira(request.param, webhook_duplicates=True, clock=clock)


@pytest.fixture
def service(fake: FakeJira, clock: MovableClock, tmp_path, database_url) -> Iterator[Application]:
    yield from serve(fake, RULES, tmp_path, database_url, SECRET, clock)


# -- helpers -------------------------------------------------------------------------------------

def issues_in(fake: FakeJira, project: str) -> list[Issue]:
    return sorted((i for i in fake.state.issues.values() if i.project.key == project), key=lambda i: int(i.id))


def own_comments(fake: FakeJira, key: str) -> list[str]:
    """What ticketwarden (the API user) wrote on an issue."""
    return [c.text for c in fake.issue(key).comments if c.author is fake.api_user]


def linked_keys(fake: FakeJira, key: str) -> list[tuple[str, str]]:
    """(link type, other issue's key) of each link of an issue."""
    return [(link.type.name, other.key) for link, _, other in fake.state.links_of(fake.issue(key))]


def outbox(application: Application, action: str) -> list[dict[str, Any]]:
    return [row for row in application.store.outbox_rows() if row["action"] == action]


def effect_of(row: dict[str, Any]) -> Effect:
    return Effect(row["effect_key"], row["action"], row["tracker"], row["ticket_id"], row["rule"],
                  json.loads(row["params"]))


def escalated(fake: FakeJira, service: Application) -> tuple[Issue, Issue]:
    """An incident of team network that the agent classifies as internal, and its DEV issue."""
    incident = fake.create_issue("SUP", "VPN drops every hour", issuetype="Incident", reporter="customer",
                                 emit=True, **{TEAM: "network", "Failure origin": "unknown"})
    work(service)
    assert issues_in(fake, "DEV") == []  # created as unknown: nothing to escalate yet
    fake.edit(incident.key, author="agent", **{"Failure origin": "internal"})
    work(service)
    [development] = issues_in(fake, "DEV")
    return incident, development


# -- 1. escalation -------------------------------------------------------------------------------

def test_an_internal_defect_is_escalated_once(fake: FakeJira, service: Application):
    incident, dev = escalated(fake, service)
    label = creation_label(marker("jira", "development", incident.id))
    assert label.startswith("tw-")
    assert dev.issue_type.name == "Bug" and dev.labels == [label]
    assert dev.summary == f"[{incident.key}] VPN drops every hour"
    fields = fake.issue_json(dev.key)["fields"]
    assert fields[ORIGIN]["value"] == "internal" and fields[TEAM]["value"] == "network"  # copied
    assert f"Support ticket: {incident.key} ({fake.url}/browse/{incident.key})" in fields["description"]
    assert linked_keys(fake, incident.key) == [("Relates", dev.key)]
    note = f"ticketwarden: escalated to development as {dev.key} ({fake.url}/browse/{dev.key})."
    assert own_comments(fake, incident.key) == [note]
    assert [c.internal for c in fake.issue(incident.key).comments] == [True]  # an internal (agent-only) note
    [record] = service.store.all_records("development")
    assert (record.state, record.target_key, record.sources) == ("open", dev.key, (incident.id,))

    # Classified away and back: escalated again, into the same DEV issue, which is told so.
    fake.edit(incident.key, author="agent", **{"Failure origin": "customer"})
    work(service)
    fake.edit(incident.key, author="agent", **{"Failure origin": "internal"})
    work(service)
    assert issues_in(fake, "DEV") == [dev]
    assert own_comments(fake, dev.key) == [f"Escalated again from {incident.key} ({fake.url}/browse/{incident.key})."]
    assert own_comments(fake, incident.key) == [note]
    assert linked_keys(fake, incident.key) == [("Relates", dev.key)]
    rows = outbox(service, "escalate")
    assert [(row["state"], row["outcome"]) for row in rows] == [
        ("done", f"escalated to {dev.key}"), ("done", f"already escalated to {dev.key}: noted there")]
    assert len(service.store.all_records("development")) == 1
    # The escalation was decided on the agent's own change: the origin history says who.
    assert [(h.new, h.by_kind) for h in service.store.origin_history("jira", incident.id)][-3:] == [
        ("internal", "person"), ("customer", "person"), ("internal", "person")]


def test_a_customer_changing_the_origin_escalates_nothing(fake: FakeJira, service: Application):
    """The rule asks for staff: the same change by the reporter creates no development issue."""
    incident = fake.create_issue("SUP", "Printer jam", issuetype="Incident", reporter="customer")
    fake.edit(incident.key, author="customer", **{"Failure origin": "internal"})
    work(service)
    assert issues_in(fake, "DEV") == [] and service.store.all_records() == []


# -- 2. keeping in step --------------------------------------------------------------------------

def test_the_development_issue_done_comes_back_to_the_support_ticket(fake: FakeJira, service: Application):
    incident, dev = escalated(fake, service)
    note = own_comments(fake, incident.key)

    fake.transition(dev.key, "In Progress", author="agent")  # updated, not resolved: no comment
    work(service)
    related = [row["dedup_key"] for row in service.store.inbox_rows(source="related")]
    assert len(related) == 1 and related[0].startswith(f"development:jira:{incident.id}:")
    assert own_comments(fake, incident.key) == note

    fake.transition(dev.key, "Done", author="agent", resolution="Done")
    work(service)
    assert len(service.store.inbox_rows(source="related")) == 2
    done = f"ticketwarden: development issue {dev.key} is Done; please confirm the fix."
    assert own_comments(fake, incident.key) == [*note, done]
    assert fake.issue(incident.key).comments[-1].internal
    related_decisions = [a["detail"] for a in service.store.audit_rows(incident.id) if a["kind"] == "decision"
                         and a["detail"]["event"].startswith("development:")]
    assert [sorted(d["triggers"]) for d in related_decisions] == [
        ["development.updated"], ["development.resolved", "development.updated"]]
    assert [[r["rule"] for r in d["rules"] if r["matched"]] for d in related_decisions] == [[], ["development done"]]
    done_event = [row for row in service.store.inbox_rows(source="related")][-1]
    assert '"resolution": "Done"' in done_event["body"] and '"status": "Done"' in done_event["body"]
    assert own_comments(fake, dev.key) == []  # nothing written back on the development issue


# -- 3. nonconformity once per cause -------------------------------------------------------------

def breach(fake: FakeJira, service: Application, clock: MovableClock, subject: str) -> Issue:
    """An internal-origin incident whose 1-minute resolution SLA breaches: the sweep queues the
    breach and the worker decides it (effects planned, not applied)."""
    incident = fake.create_issue("SUP", subject, issuetype="Incident", reporter="customer", emit=True,
                                 **{TEAM: "platform", "Failure origin": "internal"})
    work(service)
    assert [row.state for row in service.store.clocks_for("jira", incident.id)] == ["running"]
    clock.offset += timedelta(minutes=2)
    before = len(outbox(service, "nonconformity"))
    assert service.sweep_sla() >= 1
    assert f"sla:jira:{incident.id}:resolution:1:sla.breached" in {
        row["dedup_key"] for row in service.store.inbox_rows(source="sla")}
    while service.worker.process_inbox():
        pass
    assert len(outbox(service, "nonconformity")) == before + 1
    return incident


def test_an_internal_breach_opens_one_nonconformity(fake: FakeJira, service: Application, clock: MovableClock):
    incident = breach(fake, service, clock, "Billing export fails")
    work(service)
    [record_issue] = issues_in(fake, "QA")
    cause = f"resolution-breach-{incident.key}"
    assert record_issue.issue_type.name == "Nonconformity"
    assert record_issue.labels == [creation_label(marker("jira", "nonconformity", cause))]
    assert record_issue.summary == f"Resolution SLA breached on {incident.key} (internal origin)"
    fields = fake.issue_json(record_issue.key)["fields"]
    description = fields["description"]
    for heading in ("Nonconformity (ISO 9001:2015 10.2), opened by ticketwarden", "h3. Description and evidence",
                    "h3. Containment / correction", "h3. Root-cause analysis (five whys)",
                    "h3. Corrective action", "h3. Effectiveness review"):
        assert heading in description
    assert "* Clause concerned: 10.2" in description and "* Severity: major" in description
    assert f"* Source tickets: {incident.key} ({fake.url}/browse/{incident.key})" in description
    assert f"{incident.key} missed its resolution target" in description
    [record] = service.store.all_records("nonconformity")
    assert (record.cause, record.target_key, record.sources) == (cause, record_issue.key, (incident.id,))
    assert record.action_due is not None and record.review_due is not None
    assert fields[ISO_CLAUSE] == "10.2"
    assert fields[REVIEW_DUE] == record.review_due.date().isoformat()
    assert fields["duedate"] == record.action_due.date().isoformat()
    assert linked_keys(fake, incident.key) == [("Relates", record_issue.key)]
    note = f"ticketwarden: nonconformity {record_issue.key} opened for this breach " \
        f"({fake.url}/browse/{record_issue.key})."
    assert own_comments(fake, incident.key) == [note]

    # The breach comes again (a replayed SLA event): the same cause, so no second record.
    [breached] = service.store.inbox_rows(source="sla", dedup_key=f"sla:jira:{incident.id}:resolution:1:sla.breached")
    service.store.store_delivery(source="sla", shape=breached["shape"], dedup_key=breached["dedup_key"] + ":again",
                                 path=breached["path"], headers={}, body=breached["body"], now=clock())
    work(service)
    rows = outbox(service, "nonconformity")
    assert len(rows) == 2 and rows[0]["effect_key"] != rows[1]["effect_key"]
    assert [row["state"] for row in rows] == ["done", "done"]
    assert rows[1]["outcome"] == f"nonconformity {record_issue.key} exists for cause {cause!r}: 0 more ticket(s) linked"

    # The first effect forced through again, as a retry would: found, not created; nothing doubled.
    outcome = service.worker.records.apply(effect_of(rows[0]), service.connectors["jira"], first_attempt=False)
    assert outcome == f"nonconformity {record_issue.key} opened for cause {cause!r}, 1 ticket(s) linked"
    assert issues_in(fake, "QA") == [record_issue]
    assert own_comments(fake, incident.key) == [note]
    assert linked_keys(fake, incident.key) == [("Relates", record_issue.key)]
    assert len(service.store.all_records("nonconformity")) == 1

    # Another incident breaching opens its own record (the cause names the ticket).
    other = breach(fake, service, clock, "Invoices doubled")
    work(service)
    assert [i.summary for i in issues_in(fake, "QA")] == [
        record_issue.summary, f"Resolution SLA breached on {other.key} (internal origin)"]


class SlowCreation(JiraConnector):
    """A Jira that takes a while to create an issue: two workers that both got as far as
    creating would both find no marker and both create."""

    def __init__(self, *args: Any, entered: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.entered = entered

    def create_issue(self, marker: str, *args: Any, **kwargs: Any) -> Any:
        self.entered.append(marker)
        time.sleep(0.5)
        return super().create_issue(marker, *args, **kwargs)


def test_the_reminders_follow_a_due_date_moved_in_jira(fake: FakeJira, service: Application, clock: MovableClock):
    """People move the corrective action's due date on the record: overdue comes then, not before."""
    breach(fake, service, clock, "Exports time out")
    work(service)
    [record] = service.store.all_records("nonconformity")
    assert record.action_due is not None
    later = (record.action_due + timedelta(days=30)).date()
    fake.edit(str(record.target_key), author="agent", duedate=later.isoformat())
    work(service)
    moved = service.store.record("jira", "nonconformity", record.cause)
    assert moved is not None and moved.action_due is not None and moved.action_due.date() == later

    def owed() -> list[str]:
        return sorted(row["dedup_key"].rsplit(":", 1)[1] for row in service.store.inbox_rows(source="related")
                      if row["dedup_key"].startswith(f"record:jira:{record.id}:"))

    clock.offset += timedelta(days=31)  # past the first due date: nothing is owed any more
    service.sweep_sla()
    assert owed() == []
    clock.offset += timedelta(days=27)  # three days before the new one: the reminder
    service.sweep_sla()
    assert owed() == ["reminder"]
    clock.offset += timedelta(days=4)
    service.sweep_sla()
    service.sweep_sla()
    assert owed() == ["overdue", "reminder"]


def test_racing_workers_and_a_dead_one_leave_one_record(fake: FakeJira, service: Application, clock: MovableClock,
                                                        database_url):
    incident = breach(fake, service, clock, "Login loops")
    # The breach replayed before anything was applied: two effects, one cause, both pending.
    [breached] = service.store.inbox_rows(source="sla", dedup_key=f"sla:jira:{incident.id}:resolution:1:sla.breached")
    service.store.store_delivery(source="sla", shape=breached["shape"], dedup_key=breached["dedup_key"] + ":again",
                                 path=breached["path"], headers={}, body=breached["body"], now=clock())
    while service.worker.process_inbox():
        pass
    pending = outbox(service, "nonconformity")
    assert [row["state"] for row in pending] == ["pending", "pending"]
    # A ticket's effects are claimed together; one cause reached from two tickets is what two
    # workers can hold at once: the second effect is moved to another ticket of the same cause.
    with service.store.engine.begin() as conn:
        conn.execute(sa.update(outbox_table).where(outbox_table.c.id == pending[1]["id"])
                     .values(ticket_id=f"{incident.id}-twin"))

    # Two workers in two "processes" (own store and engine, own Jira client) take one each at once.
    entered: list[str] = []
    stores = [Store(create_db_engine(database_url)) for _ in range(2)]
    email, token = fake.basic_auth()
    workers = [Worker(store, {"jira": SlowCreation(fake.url, user=email, api_token=token, entered=entered)},
                      service.rules, clock=clock) for store in stores]
    start = threading.Barrier(len(workers))
    taken: list[int] = []

    def run(worker: Worker) -> None:
        start.wait()
        taken.append(worker.apply_outbox(limit=1))

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert taken == [1, 1]
    cause = f"resolution-breach-{incident.key}"
    assert entered == [marker("jira", "nonconformity", cause)]  # only one worker went on to create
    [record_issue] = issues_in(fake, "QA")
    rows = {row["state"]: row for row in outbox(service, "nonconformity")}
    assert sorted(rows) == ["done", "pending"]
    assert rows["done"]["outcome"].startswith(f"nonconformity {record_issue.key} opened for cause")
    assert "is being created by another worker" in rows["pending"]["last_error"]

    # The loser's retry comes later and finds the record.
    clock.offset += timedelta(hours=1)
    work(service)
    assert [row["state"] for row in outbox(service, "nonconformity")] == ["done", "done"]
    assert issues_in(fake, "QA") == [record_issue]
    assert len(own_comments(fake, incident.key)) == 1
    for store in stores:
        store.engine.dispose()

    # A worker died after Jira created the issue, before the store knew: its claim lapses and
    # the next worker finds the issue by its marker instead of creating another.
    params = {**effect_of(rows["done"]).params, "cause": "crashed-cause", "sources": [], "note": ""}
    connector = service.connectors["jira"]
    dead, mine = service.store.claim_record(tracker="jira", kind="nonconformity", cause="crashed-cause",
                                            effect_key="dead-worker", sources=[], detail={}, action_due=None,
                                            review_due=None, now=clock(), lease=timedelta(minutes=5))
    assert mine and dead.state == "creating"
    orphan = connector.create_issue(marker("jira", "nonconformity", "crashed-cause"), project="QA",
                                    issue_type="Nonconformity", summary="Created just before the crash")
    keeper = RecordKeeper(service.store, clock)
    heir = Effect("heir-effect", "nonconformity", "jira", "", "internal breach opens a nonconformity", params)
    with pytest.raises(TrackerError) as waiting:
        keeper.apply(heir, connector, first_attempt=True)  # the dead worker's lease still runs
    assert waiting.value.transient
    clock.offset += timedelta(minutes=6)
    assert keeper.apply(heir, connector, first_attempt=True) == \
        f"nonconformity {orphan.key} opened for cause 'crashed-cause'"
    assert [i.key for i in issues_in(fake, "QA")] == [record_issue.key, orphan.key]
    crashed = service.store.record("jira", "nonconformity", "crashed-cause")
    assert crashed is not None and (crashed.state, crashed.target_key) == ("open", orphan.key)


# -- 4. the monthly observation ------------------------------------------------------------------

def test_a_team_above_the_internal_share_gets_one_observation_a_month(fake: FakeJira, service: Application,
                                                                      clock: MovableClock):
    teams = {  # team -> origins of its incidents this month
        "network": ["internal", "internal", "customer", "third_party", "unknown"],  # 5, 40%: observed
        "servicedesk": ["internal", "customer", "customer", "customer", "infrastructure"],  # 20%: not above
        "field": ["internal", "internal", "internal"],  # all internal, but only 3 incidents
    }
    created: dict[str, list[Issue]] = {}
    for team, origins in teams.items():
        for number, origin in enumerate(origins):
            created.setdefault(team, []).append(fake.create_issue(
                "SUP", f"{team} incident {number}", issuetype="Incident", reporter="customer", emit=True,
                **{TEAM: team, "Failure origin": origin}))
    work(service)
    facts = service.store.facts_between(clock() - timedelta(days=1), clock() + timedelta(minutes=1))
    assert sorted((row["team"], row["origin"]) for row in facts) == sorted(
        (team, origin) for team, origins in teams.items() for origin in origins)
    assert all(row["incident"] for row in facts)

    first = clock() + timedelta(minutes=1)
    second = first + timedelta(minutes=1)
    if second.month != first.month:  # keep both firings in one month
        first, second = second, second + timedelta(minutes=1)
    month = first.strftime("%Y-%m")
    assert service.enqueue_scheduled(MEASURED, first)
    work(service)
    assert service.enqueue_scheduled(MEASURED, second)
    assert not service.enqueue_scheduled(MEASURED, second)  # one firing a minute, whoever fires it
    work(service)

    [observation] = issues_in(fake, "QA")
    assert observation.issue_type.name == "Observation"
    assert observation.summary == f"Team network: 40.0% of incidents of internal origin ({month})"
    cause = f"internal-share-network-{month}"
    assert observation.labels == [creation_label(marker("jira", "observation", cause))]
    fields = fake.issue_json(observation.key)["fields"]
    assert fields[ISO_CLAUSE] == "9.1.1"
    assert "Observation (ISO 9001:2015 10.2), opened by ticketwarden" in fields["description"]
    assert "2 of the 5 incidents of team network were internal." in fields["description"]
    internal = [i for i, origin in zip(created["network"], teams["network"], strict=True) if origin == "internal"]
    assert sorted(key for _, key in linked_keys(fake, observation.key)) == sorted(i.key for i in internal)
    [record] = service.store.all_records("observation")
    assert record.cause == cause and sorted(record.sources) == sorted(i.id for i in internal)

    rows = outbox(service, "nonconformity")
    assert [row["state"] for row in rows] == ["done", "done"]
    assert rows[0]["outcome"] == f"observation {observation.key} opened for cause {cause!r}, 2 ticket(s) linked"
    assert rows[1]["outcome"] == f"observation {observation.key} exists for cause {cause!r}: 0 more ticket(s) linked"
    # The teams under a threshold were measured and passed over, each firing.
    traces = [a["detail"] for a in service.store.audit_rows("-") if a["kind"] == "decision"]
    assert len(traces) == 2
    for trace in traces:
        matched = {r["rule"]: r["matched"] for r in trace["rules"]}
        assert matched == {f"{MEASURED} [jira field]": False, f"{MEASURED} [jira network]": True,
                           f"{MEASURED} [jira servicedesk]": False}


# -- the connector's part in creating once -------------------------------------------------------

def test_an_assignment_lost_after_the_creation_is_made_by_the_retry(fake: FakeJira):
    """Jira created the issue but the assignment after it failed: the retry finds the issue by
    its marker and still assigns it."""
    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    agent = fake.users["agent"]
    who = agent.account_id if fake.cloud else agent.name
    fake.fail_next(1, status=500, retry_after=None, path_contains="/assignee")
    with pytest.raises(TrackerError) as lost:
        connector.create_issue("assign-once", "DEV", "Bug", "[SUP-9] Lost assignment", assignee=who)
    assert lost.value.transient
    [dev] = issues_in(fake, "DEV")
    assert dev.assignee is None
    again = connector.create_issue("assign-once", "DEV", "Bug", "[SUP-9] Lost assignment", assignee=who)
    assert (again.new, again.key) == (False, dev.key)
    assert issues_in(fake, "DEV") == [dev] and dev.assignee is agent


def test_a_subject_on_several_lines_becomes_one_summary_line(fake: FakeJira):
    """Jira refuses a summary with a line break (a `subject: |` block in a rule): it is made one line."""
    email, token = fake.basic_auth()
    connector = JiraConnector(fake.url, user=email, api_token=token)
    created = connector.create_issue("multi-line", "QA", "Observation", "Team network:\n40.0% internal\n",
                                     "Two lines\nof description")
    issue = fake.issue(created.key)
    assert issue.summary == "Team network: 40.0% internal"
    assert issue.description == "Two lines\nof description"
