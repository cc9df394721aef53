"""Pure parts of escalations, quality records and measures: the ISO 10.2 record's text, the
lifecycle's moments, measure windows and figures, and what the two actions plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.engine import evaluate, evaluate_scheduled
from rules.measures import Group, measure, window
from rules.records import OVERDUE, REMINDER, REVIEW_DUE, due_markers, next_check, record_description, reminders
from rules.rulebook import Measure, load_rulebook
from tests.helpers import T0, event, ticket

DUE = datetime(2026, 4, 1, 12, tzinfo=UTC)
REVIEW = DUE + timedelta(days=60)


def test_reminders_fire_in_order_and_once():
    owed = reminders(DUE, REVIEW, timedelta(days=3))
    assert owed == [(REMINDER, DUE - timedelta(days=3)), (OVERDUE, DUE), (REVIEW_DUE, REVIEW)]
    assert due_markers(owed, (), DUE - timedelta(days=4)) == []
    assert next_check(owed, ()) == DUE - timedelta(days=3)
    assert due_markers(owed, (), DUE - timedelta(days=1)) == [REMINDER]
    assert next_check(owed, (REMINDER,)) == DUE
    assert due_markers(owed, (REMINDER,), DUE) == [OVERDUE]
    assert due_markers(owed, (REMINDER, OVERDUE), REVIEW) == [REVIEW_DUE]
    assert next_check(owed, (REMINDER, OVERDUE, REVIEW_DUE)) is None


def test_a_stale_reminder_is_not_sent_once_the_action_is_overdue():
    owed = reminders(DUE, REVIEW, timedelta(days=3))
    assert due_markers(owed, (), DUE + timedelta(days=1)) == [OVERDUE]  # the service was down
    assert next_check(owed, (OVERDUE,)) == REVIEW


def test_no_dates_no_reminders():
    assert reminders(None, None, timedelta(days=3)) == []
    assert reminders(DUE, None, None) == [(OVERDUE, DUE)]


@pytest.mark.parametrize("locale, words", [
    ("en", ["Nonconformity (ISO 9001:2015 10.2)", "h3. Description and evidence",
            "h3. Root-cause analysis (five whys)", "h3. Corrective action", "h3. Effectiveness review",
            "* Due: 2026-04-01", "* Owner: agent", "#42 (http://t/42)", "Clause concerned: 8.5.5"]),
    ("es", ["No conformidad (ISO 9001:2015 10.2)", "h3. Descripción y evidencia",
            "h3. Análisis de causa raíz (cinco porqués)", "h3. Revisión de eficacia", "* Responsable: agent"]),
])
def test_the_record_holds_every_part_of_iso_10_2(locale, words):
    text = record_description({"kind": "nonconformity", "clause": "8.5.5", "severity": "major", "owner": "agent",
                               "sources": [{"key": "#42", "url": "http://t/42"}], "rule": "breach",
                               "opened": T0.isoformat(), "description": "Missed.", "action_due": DUE.isoformat(),
                               "review_due": REVIEW.isoformat()}, locale)
    for word in words:
        assert word in text
    assert text.count("# ") >= 5  # five whys


def test_measure_windows():
    now = datetime(2026, 4, 15, 9, tzinfo=UTC)
    assert window(Measure(timedelta(days=30), None, "team"), now) == (now - timedelta(days=30), now, "2026-04")
    assert window(Measure(None, "previous_month", "team"), now) == (
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "2026-03")
    assert window(Measure(None, "this_month", "team"), datetime(2026, 12, 31, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "2026-12")


BOOK = """
version: 1
fields: {origin: "Failure origin", team: Team}
indicators: {incidents: [project = support]}
rules:
  - name: share
    on: [{schedule: "0 9 * * *"}]
    measure: {window: 30d, by: team}
    if: [incidents >= 5, internal_share > 20%]
    then:
      - nonconformity: {kind: observation, project: quality, cause: "share-{{ group }}-{{ window.month }}",
                        subject: "{{ group }}: {{ measure.internal_share }}%
                                  ({{ measure['origin.customer'] }} customer)"}
  - name: escalate
    on: [ticket.updated]
    if: [origin changed_to internal]
    then:
      - escalate: {project: development, copy: [team], note: "Escalated as {{ development.key }}."}
"""


def row(team: str, origin: str | None, n: int, **extra) -> dict:
    return {"tracker": "redmine", "ticket_id": str(n), "key": f"#{n}", "url": f"u/{n}", "team": team,
            "origin": origin, "incident": True, "breaches": 0, "closed_at": None, **extra}


def test_figures_per_group():
    book = load_rulebook([("b.yaml", BOOK)])
    rows = [row("network", "internal", 1), row("network", "unknown", 2), row("network", None, 3, breaches=2),
            row("network", "customer", 4), row("support", "customer", 5), row("support", "x", 6, incident=False)]
    network, support = measure(book, book.rules[0].measure, rows)
    assert (network.name, support.name) == ("network", "support")
    assert network.values["incidents"] == 4 and network.values["internal"] == 1
    assert network.values["internal_share"] == 25.0 and network.values["unclassified"] == 2
    assert network.values["origin.customer"] == 1 and network.values["share.customer"] == 25.0
    assert network.values["breached"] == 1 and network.values["breached_share"] == 25.0
    assert network.sources == [{"id": "1", "key": "#1", "url": "u/1"}]
    assert support.values["incidents"] == 1  # a ticket that is not an incident is not counted


def test_a_measured_rule_plans_per_group_over_the_threshold():
    book = load_rulebook([("b.yaml", BOOK)])
    over = Group("redmine", "network", {"group": "network", "incidents": 5, "internal_share": 40.0,
                                        "origin.customer": 3}, [{"id": "1", "key": "#1", "url": "u/1"}])
    under = Group("redmine", "support", {"group": "support", "incidents": 9, "internal_share": 20.0,
                                         "origin.customer": 7}, [])
    few = Group("redmine", "apps", {"group": "apps", "incidents": 4, "internal_share": 100.0,
                                    "origin.customer": 0}, [])
    decision = evaluate_scheduled(book, "share", T0, T0, [over, under, few], {"month": "2026-03"})
    [effect] = decision.effects
    assert effect.tracker_kind == "redmine" and effect.params["cause"] == "share-network-2026-03"
    assert effect.params["subject"] == "network: 40.0% (3 customer)"
    assert [s["key"] for s in effect.params["sources"]] == ["#1"]
    assert [r.rule for r in decision.rules] == ["share [redmine network]", "share [redmine support]",
                                               "share [redmine apps]"]
    assert [r.matched for r in decision.rules] == [True, False, False]


def test_escalate_plans_the_new_issue_and_a_note_naming_it():
    book = load_rulebook([("b.yaml", BOOK)])
    from rules.model import Change

    changed = event(changes=(Change("cf:Failure origin", "unknown", "internal", "1"),))
    decision = evaluate(book, changed, ticket(custom_fields={"Failure origin": "internal", "Team": "network"}), T0)
    [effect] = [e for e in decision.effects if e.action == "escalate"]
    params = effect.params
    assert params["subject"] == "[#42] VPN down for ACME" and params["fields"] == {"Team": "network"}
    assert "Support ticket: #42 (http://redmine.test/issues/42)" in params["description"]
    assert params["source"] == {"id": "42", "key": "#42", "url": "http://redmine.test/issues/42"}
    assert "\x00development.key\x00" in params["note"]  # filled in once the issue exists


def test_escalate_writes_its_default_texts_in_the_rulebook_language():
    rule = "rules:\n  - name: defect\n    on: [ticket.updated]\n    then: [{escalate: {project: development}}]\n"

    def escalated(head: str) -> dict:
        [effect] = evaluate(load_rulebook([("b.yaml", "version: 1\n" + head + rule)]), event(), ticket(), T0).effects
        return dict(effect.params)

    english, spanish = escalated(""), escalated("locale: es\n")
    assert "Support ticket: #42 (http://redmine.test/issues/42)\nCustomer: " in english["description"]
    assert english["note"] == "Escalated to development: \x00development.key\x00 (\x00development.url\x00)."
    assert "Incidencia de soporte: #42 (http://redmine.test/issues/42)\nCliente: " in spanish["description"]
    assert "Prioridad: Normal" in spanish["description"]
    assert spanish["note"] == "Escalada a desarrollo: \x00development.key\x00 (\x00development.url\x00)."
    reworded = escalated("messages:\n  en:\n    escalate.note: \"Now with development as {key}, see {url}\"\n")
    assert reworded["note"] == "Now with development as \x00development.key\x00, see \x00development.url\x00"


def test_a_published_report_is_titled_in_the_rulebook_language():
    rule = ("locale: es\nrules:\n  - name: monthly\n    on: [{schedule: \"0 6 1 * *\"}]\n"
            "    then: [{publish_report: {tracker: redmine, project: quality}}]\n")
    book = load_rulebook([("b.yaml", "version: 1\n" + rule)])
    [effect] = evaluate_scheduled(book, "monthly", DUE, DUE).effects
    assert effect.params["title"] == "Indicadores de calidad 2026-03"


def test_a_rulebook_words_its_own_texts():
    book = load_rulebook([("b.yaml", BOOK.replace("rules:\n", (
        "locale: es\nmessages:\n  es:\n    record.to_fill: \"(pendiente)\"\n"
        "    escalate.again: \"Otra vez desde {key}: {url}\"\nrules:\n"), 1))])
    assert book.messages.text("es", "record.to_fill") == "(pendiente)"
    assert book.messages.text("en", "record.to_fill") == "(to fill in)"  # only the words given change
    from rules.model import Change

    changed = event(changes=(Change("cf:Failure origin", "unknown", "internal", "1"),))
    decision = evaluate(book, changed, ticket(custom_fields={"Failure origin": "internal", "Team": "network"}), T0)
    [effect] = [e for e in decision.effects if e.action == "escalate"]
    assert effect.params["again_note"] == "Otra vez desde #42: http://redmine.test/issues/42"
    text = record_description({"kind": "observation"}, "es", book.messages)
    assert "Observación (ISO 9001:2015 10.2)" in text and "* Acciones: (pendiente)" in text


RECORD_DAYS = """
version: 1
calendars:
  office: {timezone: UTC, hours: {mon-fri: ["09:00-17:00"]}}
rules:
  - name: record
    on: [ticket.created]
    then:
      - nonconformity: {project: quality, subject: s, cause: "c-{{ ticket.key }}", due: 10bd, review_after: 30d,
                        calendar: office}
"""


def test_a_records_due_date_in_business_days_counts_working_days_of_its_calendar():
    """Created on a Friday at 10:00: 10 business days later is the second Friday after, 10:00;
    the review is 30 calendar days after that."""
    friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
    decision = evaluate(load_rulebook([("r.yaml", RECORD_DAYS)]), event("ticket.created"), ticket(), friday)
    [effect] = decision.effects
    assert effect.params["action_due"] == datetime(2026, 12, 11, 10, tzinfo=UTC).isoformat()
    assert effect.params["review_due"] == datetime(2027, 1, 10, 10, tzinfo=UTC).isoformat()


@pytest.mark.parametrize(("options", "message"), [
    ("due: 10bd", "due 10bd counts business days: name the calendar they are counted on (`calendar: NAME`)"),
    ("due: 10bd, calendar: nowhere", "undefined calendar 'nowhere' (defined: office)"),
])
def test_business_days_without_a_calendar_are_a_load_error(options, message):
    from rules.errors import RulebookInvalid

    text = RECORD_DAYS.replace("due: 10bd, review_after: 30d,\n                        calendar: office", options)
    with pytest.raises(RulebookInvalid) as raised:
        load_rulebook([("r.yaml", text)])
    assert message in str(raised.value)


def test_what_people_wrote_in_a_closed_record_is_read_back_in_either_language():
    from rules.records import record_outcome

    for locale, whys, actions, result in (("en", "# Why? (to fill in)", "* Actions: (to fill in)",
                                           "* Result: (to fill in)"),
                                          ("es", "# ¿Por qué? (a completar)", "* Acciones: (a completar)",
                                           "* Resultado: (a completar)")):
        skeleton = record_description({"kind": "nonconformity", "sources": []}, locale)
        assert record_outcome(skeleton) == {}  # nothing filled in yet
        filled = skeleton.replace(whys, "# The disk filled up", 1).replace(whys, "# Nobody watched it", 1) \
            .replace(actions, actions.split(":")[0] + ": alert at 80% full\n  and rotate the logs daily") \
            .replace(result, result.split(":")[0] + ": no outage in 60 days")
        assert record_outcome(filled) == {"root_cause": "The disk filled up; Nobody watched it",
                                          "corrective_action": "alert at 80% full and rotate the logs daily",
                                          "result": "no outage in 60 days"}
    assert record_outcome("a description someone rewrote entirely") == {}


REWORDED = """
version: 1
locale: es
messages:
  es:
    record.root_cause: "Causa raíz"
    record.why: "¿Por qué? (pendiente)"
    record.corrective_action: "Acción tomada"
    record.actions: "Qué se hizo"
    record.effectiveness: "Verificación"
    record.result: "Conclusión"
    record.to_fill: "(pendiente)"
"""
FILLED = {"root_cause": "El disco se llenó; Nadie lo vigilaba",
          "corrective_action": "alertar al 80% y rotar los registros", "result": "sin cortes en 60 días"}


def _filled(skeleton: str, why: str, actions: str, result: str, to_fill: str) -> str:
    return skeleton.replace(f"# {why}", "# El disco se llenó", 1).replace(f"# {why}", "# Nadie lo vigilaba", 1) \
        .replace(f"* {actions}: {to_fill}", f"* {actions}: alertar al 80% y rotar los registros") \
        .replace(f"* {result}: {to_fill}", f"* {result}: sin cortes en 60 días")


def test_a_closed_record_is_read_back_with_the_headings_the_rulebook_reworded():
    from rules.records import record_outcome

    book = load_rulebook([("b.yaml", REWORDED)])
    skeleton = record_description({"kind": "nonconformity", "sources": []}, "es", book.messages)
    assert "h3. Causa raíz" in skeleton and "* Qué se hizo: (pendiente)" in skeleton
    assert record_outcome(skeleton, book.messages, "es") == {}  # the reworded "(pendiente)" is not an answer
    filled = _filled(skeleton, "¿Por qué? (pendiente)", "Qué se hizo", "Conclusión", "(pendiente)")
    assert record_outcome(filled, book.messages, "es") == FILLED
    assert record_outcome(filled) == {}  # the catalogue's own headings are not in it
    # a record opened before the rulebook reworded its headings is still read
    before = _filled(record_description({"kind": "nonconformity", "sources": []}, "es"),
                     "¿Por qué? (a completar)", "Acciones", "Resultado", "(a completar)")
    assert record_outcome(before, book.messages, "es") == FILLED


def test_closing_a_record_keeps_what_people_wrote_under_the_rulebooks_headings(tmp_path, sqlite_store):
    from rules.model import Change
    from ticketwarden.records import RecordKeeper
    from ticketwarden.rulefiles import RulebookHolder

    path = tmp_path / "rules.yaml"
    path.write_text(REWORDED)
    holder = RulebookHolder([path])
    assert holder.reload() == []
    book = holder.current
    assert book is not None
    record, _ = sqlite_store.claim_record(
        tracker="redmine", kind="nonconformity", cause="disk", effect_key="e1", sources=["42"], detail={},
        action_due=None, review_due=None, now=T0, lease=timedelta(minutes=5))
    record = sqlite_store.record_created(record.id, target_id="90", target_key="#90", target_url="u/90",
                                         next_check=None, now=T0)
    description = _filled(record_description({"kind": "nonconformity", "sources": []}, "es", book.messages),
                          "¿Por qué? (pendiente)", "Qué se hizo", "Conclusión", "(pendiente)")
    keeper = RecordKeeper(sqlite_store, lambda: T0, rules=holder)
    closing = event(changes=(Change("status", "Open", "Closed"),), event_id="redmine:issue:90:journal:3")
    assert keeper.on_event(closing, ticket(id="90", key="#90", status="Closed", is_closed=True,
                                           description=description), [record]) == []
    closed = sqlite_store.record("redmine", "nonconformity", "disk")
    assert closed is not None and closed.state == "closed"
    assert closed.detail["outcome"] == FILLED
