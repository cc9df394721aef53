"""The support process review: trends month by month, targets met or missed, the worst tickets
by SLA overrun, records per cause (a Pareto), the year's lessons learned; from the store on both
databases, by `ticketwarden review`, and published into Redmine beside the monthly report, with
a decisions page the report never overwrites."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner

from rules.rulebook import load_rulebook
from rules.sla import BREACHED, STARTED, STOPPED, Clock, Transition
from tests.integration.redmine_service import settle
from tests.integration.sandbox import SandboxRedmine
from ticketwarden import migrate
from ticketwarden.cli import main
from ticketwarden.config import Settings
from ticketwarden.review import build_review, month_bounds, render_review
from ticketwarden.service import build
from ticketwarden.sla import SlaBook
from ticketwarden.store import Store, create_db_engine

RULES = """
version: 1
indicators:
  targets: {breaches: "<= 1", sla_compliance.resolution: ">= 90%"}
calendars:
  always: {timezone: UTC, hours: 24x7}
sla:
  resolution:
    calendar: always
    stop: [status = Closed]
    targets: [{target: 4h}]
rules:
  - name: acknowledge
    on: [ticket.created]
    then:
      - comment: {body: hi}
"""
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def facts(ticket: str, created: datetime) -> dict[str, object]:
    return {"tracker": "redmine", "ticket_id": ticket, "key": f"#{ticket}", "url": f"http://r/issues/{ticket}",
            "project": "support", "type": "Incident", "status": "Closed", "priority": "Normal", "team": "network",
            "customer": "acme", "origin": "internal", "incident": True, "created_at": created, "closed_at": None}


def resolved(store: Store, book: SlaBook, ticket: str, created: datetime, hours: float) -> None:
    """A ticket created at `created` whose 4-hour resolution clock stopped after `hours`."""
    clock = Clock("redmine", ticket, "resolution", 1, (Transition(STARTED, created, timedelta(hours=4), "started", 0),))
    if hours > 4:
        clock = clock.with_transition(Transition(BREACHED, created + timedelta(hours=4)))
    clock = clock.with_transition(Transition(STOPPED, created + timedelta(hours=hours)))
    store.backfill_ticket("redmine", ticket, [book.row(clock, NOW, 0)], [], facts(ticket, created), NOW)


def record(store: Store, cause: str, rule: str, opened: datetime, closed: bool) -> None:
    row, _ = store.claim_record(tracker="redmine", kind="nonconformity", cause=cause, effect_key=f"e-{cause}",
                                sources=["7"], detail={"rule": rule, "cause": cause,
                                                       "containment": f"restarted after {cause}"},
                                action_due=opened + timedelta(days=30), review_due=None, now=opened,
                                lease=timedelta(minutes=5))
    store.record_created(row.id, target_id=cause, target_key=f"#{cause}", target_url=f"http://r/issues/{cause}",
                         next_check=None, now=opened)
    if closed:
        store.record_state(row.id, "closed", None, opened + timedelta(days=20),
                           outcome={"root_cause": f"root of {cause}", "corrective_action": f"fixed {cause}",
                                    "result": "no recurrence"})


def test_month_bounds():
    assert month_bounds(datetime(2026, 11, 15, tzinfo=UTC), 3) == [
        datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC)]
    assert month_bounds(datetime(2027, 1, 31, tzinfo=UTC), 2)[0] == datetime(2026, 12, 1, tzinfo=UTC)


def test_the_review_from_the_store(store):
    rulebook = load_rulebook([("r.yaml", RULES)])
    book = SlaBook(rulebook)
    # October: two tickets in time; November: one in time, two late (one by 6 h, one by 1 h)
    resolved(store, book, "1", datetime(2026, 10, 5, 9, tzinfo=UTC), 2)
    resolved(store, book, "2", datetime(2026, 10, 6, 9, tzinfo=UTC), 3)
    resolved(store, book, "3", datetime(2026, 11, 2, 9, tzinfo=UTC), 1)
    resolved(store, book, "4", datetime(2026, 11, 3, 9, tzinfo=UTC), 10)
    resolved(store, book, "5", datetime(2026, 11, 4, 9, tzinfo=UTC), 5)
    record(store, "a", "sla breach", datetime(2026, 3, 1, tzinfo=UTC), closed=True)
    record(store, "b", "sla breach", datetime(2026, 6, 1, tzinfo=UTC), closed=False)
    record(store, "c", "internal share", datetime(2026, 9, 1, tzinfo=UTC), closed=True)
    record(store, "d", "sla breach", datetime(2025, 3, 1, tzinfo=UTC), closed=True)  # closed in 2025

    review = build_review(store, rulebook, NOW, 3, NOW)
    assert review.months == ("2026-09", "2026-10", "2026-11")
    assert review.trends["incidents"] == [0, 2, 3]
    assert review.trends["breaches"] == [0, 0, 2]
    assert [(c.figure, c.value, c.met) for c in review.targets] == [
        ("breaches", 2.0, False), ("sla_compliance.resolution", pytest.approx(33.3, abs=0.1), False)]
    assert [(o.ticket_id, o.over_hours) for o in review.worst] == [("4", 6.0), ("5", 1.0)]
    # a Pareto: the most frequent cause first, with the cumulative share
    assert [(c.category, c.open, c.closed, c.cumulative_share) for c in review.causes] == [
        ("sla breach", 1, 2, 75.0), ("internal share", 0, 1, 100.0)]
    assert [(lesson.key, lesson.category, lesson.cause, lesson.correction, lesson.corrective_action, lesson.result)
            for lesson in review.lessons] == [
        ("#a", "sla breach", "root of a", "restarted after a", "fixed a", "no recurrence"),
        ("#c", "internal share", "root of c", "restarted after c", "fixed c", "no recurrence")]
    text = render_review(review, "text")
    assert "missed" in text and "Lessons learned 2026" in text and "fixed a" in text


def test_the_review_command(tmp_path, database_url):
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    engine = create_db_engine(database_url)
    migrate.upgrade(engine)
    store = Store(engine)
    resolved(store, SlaBook(load_rulebook([("r.yaml", RULES)])), "9", datetime(2026, 11, 2, 9, tzinfo=UTC), 7)
    engine.dispose()
    result = CliRunner().invoke(main, ["review", "--to", "2026-12-01", "--months", "2", "--rules", str(rules),
                                       "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert "2026-10" in result.output and "2026-11" in result.output
    assert "redmine:9" in result.output and "3" in result.output  # 3 business hours over the 4 h target
    assert "missed" in result.output  # one breach: `<= 1` is met, compliance 0% is not


PUBLISH = """
version: 1
indicators:
  incidents: [tracker = Incident, subject ~= "RUN"]
  targets: {breaches: "<= 5"}
rules:
  - name: monthly report
    on: [{schedule: "0 6 1 * *"}]
    then:
      - publish_report: {tracker: redmine, project: quality, window: this_month, review: 6,
                         title: "Quality indicators {{ window.month }} RUN"}
"""


@pytest.mark.redmine
def test_the_review_is_published_beside_the_report_and_its_decisions_are_kept(tmp_path, database_url, redmine_env):
    run = datetime.now().strftime("%H%M%S%f")
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(PUBLISH).replace("RUN", run))
    migrate.upgrade(create_db_engine(database_url))
    application = build(Settings(database_url=database_url, rules=(str(rules),), poll_overlap=0,
                                 redmine_url=redmine_env["REDMINE_URL"],
                                 redmine_api_key=redmine_env["REDMINE_API_KEY"]), environ={})
    redmine = SandboxRedmine(redmine_env)
    headers = {"X-Redmine-API-Key": redmine_env["SANDBOX_PERSON_API_KEY"]}
    month = application.clock().strftime("%Y-%m")
    page = f"Quality_indicators_{month}_{run}"
    decisions = f"Decisions_of_the_review_Quality_indicators_{month}_{run}"
    for minute in (0, 1):
        assert application.enqueue_scheduled("monthly report", application.clock().replace(minute=minute))
        settle(application)
        if minute == 0:  # the meeting writes its decisions; publishing again must keep them
            requests.put(f"{redmine.url}/projects/quality/wiki/{decisions}.json", headers=headers, timeout=30,
                         json={"wiki_page": {"text": "h2. Decisions\n\n* raise staffing (owner: Ana)"}}
                         ).raise_for_status()
    rows = application.store.outbox_rows(action="publish_report")
    assert [r["state"] for r in rows] == ["done", "done"], rows
    text = requests.get(f"{redmine.url}/projects/quality/wiki/{page}.json", headers=headers,
                        timeout=30).json()["wiki_page"]["text"]
    year = application.clock().year if application.clock().month > 1 else application.clock().year - 1
    assert "h2. Support process review" in text and "h3. Indicators month by month" in text
    assert f"[[Lessons learned {year}]]" in text
    assert f"[[Decisions of the review Quality indicators {month} {run}]]" in text
    assert "|_. Indicator |_. Target |" in text and "| breaches | <= 5 |" in text
    kept = requests.get(f"{redmine.url}/projects/quality/wiki/{decisions}.json", headers=headers,
                        timeout=30).json()["wiki_page"]
    assert "raise staffing (owner: Ana)" in kept["text"]
    lessons = requests.get(f"{redmine.url}/projects/quality/wiki/Lessons_learned_{year}.json", headers=headers,
                           timeout=30)
    assert lessons.status_code == 200 and f"h3. Lessons learned {year}" in lessons.json()["wiki_page"]["text"]
    [attachment] = requests.get(f"{redmine.url}/projects/quality/wiki/{page}.json", headers=headers, timeout=30,
                                params={"include": "attachments"}).json()["wiki_page"]["attachments"]
    html = requests.get(attachment["content_url"], headers=headers, timeout=30).text
    assert 'id="review"' in html and 'data-chart="pareto"' in html
    application.store.engine.dispose()
