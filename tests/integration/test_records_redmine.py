"""Failure origin, escalation and quality records end to end against the sandbox Redmine.

A person classifies and moves tickets through Redmine's REST API; the poller and the worker
do the rest. Each test checks what Redmine holds afterwards: exactly one development issue or
record per cause, linked, with the notes the rules write, however often the cause recurs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connector.errors import TrackerError
from connector.redmine import RedmineConnector
from connector.redmine_payloads import parse_time
from rules.model import Effect
from tests.helpers import MovableClock
from tests.integration.redmine_service import serve, settle
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import migrate
from ticketwarden.explain import explain
from ticketwarden.records import RecordKeeper, marker
from ticketwarden.service import Application
from ticketwarden.store import Store, create_db_engine

pytestmark = pytest.mark.redmine

RULES = """
version: 1
vocabulary:
  statuses: [New, In Progress, Resolved, Feedback, Closed, Rejected, Waiting for customer, Needs development]
  projects: [support, development, quality]
fields:
  origin: {redmine: "Failure origin"}
  team: {redmine: "Team"}
  iso_clause: {redmine: "ISO clause"}
  review_due: {redmine: "Review due"}
indicators:
  incidents: [project = support, tracker = Incident]
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    applies: [project = support, tracker = Incident]
    calendar: always
    stop: [status in (Resolved, Closed)]
    targets: [{target: 30m}]
rules:
  - name: classify from the subject
    on: [ticket.created]
    if: [project = support, subject ~= \\bmodem\\b]
    then: [{set: {origin: infrastructure}}]
  - name: escalate internal defects
    on: [ticket.updated]
    if: [project = support, origin = internal, status changed_to "Needs development"]
    then:
      - escalate:
          project: development
          tracker: Bug
          copy: [origin]
          waiting_status: Waiting for customer
          note: "Escalated as {{ development.key }} ({{ development.url }})."
  - name: development resolved
    on: [development.resolved]
    then:
      - comment: {private: true, body: "Development {{ development.key }} is {{ development.status }}."}
  - name: internal breach
    on: [sla.breached, ticket.updated]
    if:
      - project = support
      - sla.resolution = breached
      - origin = internal
      - any: [sla.policy = resolution, origin changed_to internal]
    then:
      - nonconformity:
          project: quality
          cause: "breach-{{ ticket.key }}"
          subject: "Resolution breached on {{ ticket.key }}"
          description: "{{ ticket.key }} missed its resolution target."
          clause: "8.5.5"
          owner: agent
          record_fields: {clause: iso_clause, review_due: review_due}
          note: "Nonconformity {{ record.key }} opened."
  - name: overdue
    on: [record.overdue]
    then:
      - comment: {body: "Overdue: {{ record.kind }} {{ record.key }} was due {{ record.action_due[:10] }}."}
  - name: internal share per team
    on: [{schedule: "0 9 * * *"}]
    measure: {window: 30d, by: team}
    if: [incidents >= 5, internal_share > 20%]
    then:
      - nonconformity:
          kind: observation
          project: quality
          cause: "share-{{ group }}-{{ window.month }}-{{ rule_run }}"
          subject: "Team {{ group }}: {{ measure.internal_share }}% internal ({{ window.month }})"
"""


@pytest.fixture
def service(tmp_path, database_url, redmine_env) -> Iterator[tuple[Application, MovableClock]]:
    # Records are once per cause across the whole sandbox, which outlives a test's database:
    # each run gets causes of its own.
    run = datetime.now().strftime("%H%M%S%f")
    yield from serve(RULES.replace("{{ rule_run }}", run), tmp_path, database_url, redmine_env)


def start(application: Application, redmine: SandboxRedmine, subject: str, **options) -> dict:
    created = redmine.create_incident(subject, **options)
    [poller] = application.pollers
    at = parse_time(created["created_on"])
    application.store.set_value(poller.state_name, at.isoformat(), at)
    settle(application)
    return created


def development_issues(redmine: SandboxRedmine, support_id: int) -> list[dict]:
    return [i for i in redmine.issues("development") if i["subject"].startswith(f"[#{support_id}]")]


def related_ids(redmine: SandboxRedmine, issue_id: int) -> set[int]:
    return {r["issue_to_id"] if r["issue_id"] == issue_id else r["issue_id"] for r in redmine.relations(issue_id)}


def test_escalation_once_linked_noted_and_followed_back(service, redmine_env):
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    incident = start(application, redmine, "Totals wrong on invoices (escalation)")
    redmine.update(incident["id"], status="Needs development", fields={"Failure origin": "internal"})
    settle(application)

    [bug] = development_issues(redmine, incident["id"])
    assert bug["tracker"]["name"] == "Bug"
    assert redmine.custom_field(bug, "Failure origin") == "internal"
    assert f"/issues/{incident['id']}" in bug["description"] and "ticketwarden-ref: tw" in bug["description"]
    assert related_ids(redmine, incident["id"]) == {bug["id"]}
    support = redmine.issue(incident["id"])
    assert support["status"]["name"] == "Waiting for customer"
    [note] = [j for j in redmine.notes_by(support, "ticketwarden service") if j["notes"].startswith("Escalated")]
    assert note["notes"] == f"Escalated as #{bug['id']} ({redmine.url}/issues/{bug['id']})." and note["private_notes"]

    # Escalated again: no second issue, a note on the existing one.
    redmine.update(incident["id"], status="In Progress")
    settle(application)
    redmine.update(incident["id"], status="Needs development")
    settle(application)
    assert [i["id"] for i in development_issues(redmine, incident["id"])] == [bug["id"]]
    again = redmine.notes_by(redmine.issue(bug["id"]), "ticketwarden service")
    assert [j["notes"] for j in again] == [f"Escalated again from #{incident['id']} ({redmine.url}/issues/"
                                           f"{incident['id']})."]

    # Development resolves it: the support ticket hears of it.
    redmine.update(bug["id"], status="Resolved", notes="Rounding fixed in 4.2.1")
    settle(application)
    notes = [j["notes"] for j in redmine.notes_by(redmine.issue(incident["id"]), "ticketwarden service")]
    assert f"Development #{bug['id']} is Resolved." in notes
    [record] = application.store.all_records(kind="development")
    assert (record.target_id, record.sources) == (str(bug["id"]), (str(incident["id"]),))


def test_classification_from_the_subject(service, redmine_env):
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    incident = start(application, redmine, "Office modem keeps rebooting (classification)")
    assert redmine.custom_field(redmine.issue(incident["id"]), "Failure origin") == "infrastructure"
    [change] = application.store.origin_history("redmine", str(incident["id"]))
    assert (change.old, change.new, change.by_kind, change.by) == (None, "infrastructure", "rule",
                                                                   "classify from the subject")
    shown = explain(application.store, str(incident["id"]))
    after = shown[shown.index("failure origin:") + 1]
    assert after.endswith("empty → infrastructure by rule 'classify from the subject'")


def quality_records(redmine: SandboxRedmine, subject: str) -> list[dict]:
    return [i for i in redmine.issues("quality") if i["subject"] == subject]


def test_an_internal_breach_opens_one_nonconformity_however_often_it_recurs(service, redmine_env):
    application, clock = service
    redmine = SandboxRedmine(redmine_env)
    incident = start(application, redmine, "Portal login loops (nonconformity)", fields={"Failure origin": "internal"})
    clock.offset = timedelta(minutes=31)
    application.sweep_sla()
    settle(application)

    subject = f"Resolution breached on #{incident['id']}"
    [record] = quality_records(redmine, subject)
    assert record["tracker"]["name"] == "Nonconformity" and record["assigned_to"]["name"] == "Alice Agent"
    assert redmine.custom_field(record, "ISO clause") == "8.5.5"
    assert redmine.custom_field(record, "Review due") > record["due_date"]  # review after the action
    for heading in ("h3. Description and evidence", "h3. Root-cause analysis (five whys)",
                    "h3. Corrective action", "h3. Effectiveness review"):
        assert heading in record["description"]
    assert f"#{incident['id']} ({redmine.url}/issues/{incident['id']})" in record["description"]
    assert record["due_date"] is not None
    assert related_ids(redmine, incident["id"]) == {record["id"]}
    noted = [j for j in redmine.notes_by(redmine.issue(incident["id"]), "ticketwarden service")
             if j["notes"].startswith("Nonconformity")]
    assert [j["notes"] for j in noted] == [f"Nonconformity #{record['id']} opened."]

    # The same cause again (origin changed away and back while breached): no second record, no
    # second note; and replaying the breach's own inbox event decides nothing new.
    redmine.update(incident["id"], fields={"Failure origin": "unknown"})
    settle(application)
    redmine.update(incident["id"], fields={"Failure origin": "internal"})
    settle(application)
    [breach] = [row for row in application.store.inbox_rows(source="sla")
                if row["dedup_key"] == f"sla:redmine:{incident['id']}:resolution:1:sla.breached"]
    import sqlalchemy as sa

    from ticketwarden.store import inbox
    with application.store.engine.begin() as conn:
        conn.execute(sa.update(inbox).where(inbox.c.id == breach["id"]).values(state="pending"))
    settle(application)
    assert [r["id"] for r in quality_records(redmine, subject)] == [record["id"]]
    noted = [j for j in redmine.notes_by(redmine.issue(incident["id"]), "ticketwarden service")
             if j["notes"].startswith("Nonconformity")]
    assert len(noted) == 1
    nonconformity_effects = [row for row in application.store.outbox_rows(action="nonconformity")
                             if row["ticket_id"] == str(incident["id"])]
    assert len(nonconformity_effects) == 2 and all(row["state"] == "done" for row in nonconformity_effects)

    # Its lifecycle: a reminder three days before the corrective action is due, then overdue, once.
    stored = application.store.record("redmine", "nonconformity", f"breach-#{incident['id']}")
    assert stored is not None

    def reminders() -> list[str]:
        return sorted(row["dedup_key"].rsplit(":", 1)[1] for row in application.store.inbox_rows(source="related")
                      if row["dedup_key"].startswith(f"record:redmine:{stored.id}:"))

    clock.offset = timedelta(days=28)
    application.sweep_sla()
    assert reminders() == ["reminder"]
    clock.offset = timedelta(days=31)
    application.sweep_sla()
    application.sweep_sla()
    settle(application)
    assert reminders() == ["overdue", "reminder"]
    overdue = [j["notes"] for j in redmine.notes_by(redmine.issue(record["id"]), "ticketwarden service")
               if j["notes"].startswith("Overdue")]
    assert overdue == [f"Overdue: nonconformity #{record['id']} was due {record['due_date']}."]

    # `ticketwarden records` lists it with its source and dates.
    from click.testing import CliRunner

    from ticketwarden.cli import main
    listed = CliRunner().invoke(main, ["records", "--kind", "nonconformity", "--open",
                                       "--database-url", application.settings.database_url])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"nonconformity #{record['id']} [open] cause 'breach-#{incident['id']}' from {incident['id']}, "
        f"action due {record['due_date']}, review due {redmine.custom_field(record, 'Review due')}"]

    # explain shows the origin's history, with who changed it.
    lines = "\n".join(explain(application.store, str(incident["id"])))
    assert "failure origin:" in lines
    assert "internal → unknown by Alice Agent" in lines or "internal → unknown by agent" in lines


def test_two_workers_racing_for_one_cause_create_one_record(database_url, redmine_env):
    """Two processes apply two effects of the same cause at once: one issue, both effects done."""
    migrate.upgrade(create_db_engine(database_url))
    redmine = SandboxRedmine(redmine_env)
    incident = redmine.create_incident("Race for one record")
    cause = f"race-{datetime.now().strftime('%H%M%S%f')}"
    subject = f"Race {cause}"
    params = {"kind": "nonconformity", "project": "quality", "tracker": "Nonconformity", "cause": cause,
              "subject": subject, "description": "Raced.", "fields": {}, "owner": None,
              "action_due": "", "review_due": "", "remind_before": 0, "relation": "relates",
              "sources": [{"id": str(incident["id"]), "key": f"#{incident['id']}", "url": ""}], "note": "",
              "private": True, "record": {}}
    outcomes: list[str] = []
    failures: list[Exception] = []
    barrier = threading.Barrier(2)

    def apply(number: int) -> None:
        store = Store(create_db_engine(database_url))
        keeper = RecordKeeper(store, lambda: datetime.now().astimezone())
        connector = RedmineConnector(redmine_env["REDMINE_URL"], redmine_env["REDMINE_API_KEY"])
        effect = Effect(f"effect-{number}-{cause}", "nonconformity", "redmine", str(incident["id"]), "race", params)
        barrier.wait()
        for attempt in range(1, 20):
            try:
                outcomes.append(keeper.apply(effect, connector, attempt == 1))
                return
            except TrackerError as exc:
                if not exc.transient:
                    failures.append(exc)
                    return
                threading.Event().wait(0.5)

    threads = [threading.Thread(target=apply, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures and len(outcomes) == 2, (outcomes, failures)
    assert len(quality_records(redmine, subject)) == 1
    assert sum("opened for cause" in outcome for outcome in outcomes) == 1
    found = RedmineConnector(redmine_env["REDMINE_URL"], redmine_env["REDMINE_API_KEY"]).create_issue(
        marker("redmine", "nonconformity", cause), "quality", "Nonconformity", subject)
    assert not found.new  # the marker finds it: a retry after a lost answer creates nothing


def test_one_observation_per_team_and_month(service, redmine_env):
    application, _ = service
    redmine = SandboxRedmine(redmine_env)
    first = None
    for n, (team, origin) in enumerate([("network", "internal"), ("network", "internal"), ("network", "customer"),
                                        ("network", "customer"), ("network", "third-party"),
                                        ("applications", "internal"), ("applications", "customer"),
                                        ("applications", "customer"), ("applications", "customer"),
                                        ("applications", "customer")]):
        created = redmine.create_incident(f"Measured incident {n}", fields={"Team": team, "Failure origin": origin})
        first = first or created
    [poller] = application.pollers
    at = parse_time(first["created_on"])
    application.store.set_value(poller.state_name, at.isoformat(), at)
    settle(application)

    rule = "internal share per team"
    now = application.clock()
    assert application.enqueue_scheduled(rule, now)
    assert application.enqueue_scheduled(rule, now + timedelta(hours=1))  # the next day's run, same month
    settle(application)
    month = now.strftime("%Y-%m")
    mine = [i for i in redmine.issues("quality") if i["subject"].startswith("Team ") and month in i["subject"]
            and i["created_on"] >= first["created_on"]]
    network = [i for i in mine if i["subject"].startswith("Team network: 40.0% internal")]
    assert len(network) == 1 and network[0]["tracker"]["name"] == "Observation"
    assert not [i for i in mine if i["subject"].startswith("Team applications")]  # 20% is not above 20%
    linked = related_ids(redmine, network[0]["id"])
    internal = {i["id"] for i in redmine.issues("support", **{"subject": "~Measured incident"})
                if redmine.custom_field(i, "Failure origin") == "internal"
                and redmine.custom_field(i, "Team") == "network" and i["created_on"] >= first["created_on"]}
    assert internal and linked == internal


def test_a_field_the_tracker_lacks_does_not_stop_the_creation(redmine_env, caplog):
    """The record is in the description anyway: a field its tracker lacks is left out, loudly."""
    connector = RedmineConnector(redmine_env["REDMINE_URL"], redmine_env["REDMINE_API_KEY"])
    token = datetime.now().strftime("%H%M%S%f")
    created = connector.create_issue(f"fields{token}", "quality", "Observation", f"Fields {token}", "Record.",
                                     {"ISO clause": "9.1.1", "SLA status": "met"}, due_date="2026-12-31")
    issue = connector.fetch_issue(created.id) or {}
    assert {f["name"]: f.get("value") for f in issue["custom_fields"]}["ISO clause"] == "9.1.1"
    assert "SLA status" not in {f["name"] for f in issue["custom_fields"]}
    assert issue["due_date"] == "2026-12-31" and issue["tracker"]["name"] == "Observation"
    assert "created without field 'SLA status'" in caplog.text


def test_a_retry_after_a_lost_answer_finds_the_issue_instead_of_creating_another(database_url, redmine_env):
    """The first attempt's creation reached Redmine but its answer was lost: the retry waits for
    the tracker's search to show it, then finds it by its marker and carries on from there."""
    migrate.upgrade(create_db_engine(database_url))
    store = Store(create_db_engine(database_url))
    redmine = SandboxRedmine(redmine_env)
    connector = RedmineConnector(redmine_env["REDMINE_URL"], redmine_env["REDMINE_API_KEY"])
    incident = redmine.create_incident("Lost answer")
    cause = f"lost-{datetime.now().strftime('%H%M%S%f')}"
    params = {"kind": "observation", "project": "quality", "tracker": "Observation", "cause": cause,
              "subject": f"Lost {cause}", "description": "Record.", "fields": {}, "owner": None, "action_due": "",
              "review_due": "", "remind_before": 0, "relation": "relates", "note": "Record {0}.",
              "sources": [{"id": str(incident["id"]), "key": f"#{incident['id']}", "url": ""}],
              "private": True, "record": {}}
    effect = Effect(f"lost-{cause}", "nonconformity", "redmine", str(incident["id"]), "lost", params)
    start = datetime.now().astimezone()
    elapsed = [timedelta(0)]
    keeper = RecordKeeper(store, lambda: start + elapsed[0])
    # Attempt 1 claimed the cause and created the issue; then its answer was lost.
    store.claim_record(tracker="redmine", kind="observation", cause=cause, effect_key=effect.key,
                       sources=[str(incident["id"])], detail={}, action_due=None, review_due=None, now=start,
                       lease=timedelta(minutes=5))
    connector.create_issue(marker("redmine", "observation", cause), "quality", "Observation", f"Lost {cause}")
    elapsed[0] = timedelta(seconds=5)
    with pytest.raises(TrackerError, match="search has caught up") as early:
        keeper.apply(effect, connector, first_attempt=False)
    assert early.value.transient
    elapsed[0] = timedelta(seconds=31)
    assert "opened for cause" in keeper.apply(effect, connector, first_attempt=False)
    [record] = quality_records(redmine, f"Lost {cause}")
    assert related_ids(redmine, incident["id"]) == {record["id"]}
    assert store.record("redmine", "observation", cause).target_id == str(record["id"])


def test_a_closed_nonconformity_brings_what_people_wrote_into_the_lessons_learned(service, redmine_env):
    """The quality team fills in the record's skeleton in Redmine (the whys, the actions, the
    effectiveness review's result) and closes it: the register of lessons learned has it."""
    from ticketwarden.review import build_review

    application, clock = service
    redmine = SandboxRedmine(redmine_env)
    incident = start(application, redmine, "Reports time out (lessons)", fields={"Failure origin": "internal"})
    clock.offset = timedelta(minutes=31)
    application.sweep_sla()
    settle(application)
    [record] = quality_records(redmine, f"Resolution breached on #{incident['id']}")
    description = record["description"] \
        .replace("# Why? (to fill in)", "# The report query had no index", 1) \
        .replace("* Actions: (to fill in)", "* Actions: index added; slow queries alert") \
        .replace("* Result: (to fill in)", "* Result: no timeout in 60 days")
    redmine.update(record["id"], description=description)
    clock.offset = timedelta(days=2)
    redmine.update(record["id"], status="Closed")
    settle(application)
    stored = application.store.record("redmine", "nonconformity", f"breach-#{incident['id']}")
    assert stored is not None and stored.state == "closed"
    assert stored.detail["outcome"] == {"root_cause": "The report query had no index",
                                        "corrective_action": "index added; slow queries alert",
                                        "result": "no timeout in 60 days"}
    now = application.clock()
    first_of_next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=1)
    review = build_review(application.store, application.rules.current, first_of_next_month, 1, now)
    [lesson] = [x for x in review.lessons if x.key == f"#{record['id']}"]
    assert (lesson.cause, lesson.corrective_action, lesson.result) == (
        "The report query had no index", "index added; slow queries alert", "no timeout in 60 days")
