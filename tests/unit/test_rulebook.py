"""Loading rulebooks: what the folders of rule files (test_rulebook_files) do not show."""

import textwrap
from datetime import timedelta

import pytest

from rules.errors import RulebookInvalid
from rules.rulebook import load_rulebook
from tests.conftest import EXAMPLE_RULEBOOK


def load(text: str, name: str = "book.yaml"):
    return load_rulebook([(name, textwrap.dedent(text))])


def test_example_rulebook_loads():
    book = load_rulebook([(str(EXAMPLE_RULEBOOK), EXAMPLE_RULEBOOK.read_text())])
    assert [rule.name for rule in book.rules][:3] == [
        "triage new incidents", "waiting for customer", "origin classified"]
    assert book.fields["origin"] == {"redmine": "Failure origin", "jira": "customfield_10050"}
    assert book.field_refs("redmine")["team"] == "Team"


def test_on_is_a_key_not_a_boolean():
    book = load("""
        version: 1
        rules:
          - name: r
            on: ticket.created
            then: [{comment: {body: hi}}]
    """)
    assert book.rules[0].triggers == frozenset({"ticket.created"})


def test_inline_lists_keep_conditions_with_commas_whole():
    book = load("""
        version: 1
        rules:
          - name: r
            on: [ticket.created]
            if: [project = support, tracker in (Incident, Service request), priority = High]
            then: [{comment: {body: hi}}]
    """)
    assert [c.text for c in book.rules[0].conditions] == [
        "project = support", "tracker in (Incident, Service request)", "priority = High"]
    assert book.rules[0].conditions[1].values == ("Incident", "Service request")


def test_the_version_is_a_content_hash():
    text = "version: 1\nrules: []\n"
    first, same = load(text), load(text)
    other = load(text + "# a comment changes the content\n")
    assert first.version == same.version != other.version and len(first.version) == 12


def test_a_directory_is_one_rulebook_with_shared_names():
    first = ("a.yaml", "version: 1\nfields:\n  origin: Failure origin\n"
                       "calendars:\n  office: {timezone: UTC, hours: 24x7}\nrules:\n"
                       "  - name: one\n    on: [ticket.created]\n    then: [{set: {origin: unknown}}]\n")
    second = ("b.yaml", "version: 1\nsla:\n  resolution: {calendar: office, stop: [status = Closed], "
                        "targets: [{target: 3d}]}\nrules:\n  - name: two\n    on: [ticket.updated]\n"
                        "    if: [origin changed]\n    then: [{comment: {body: x}}]\n")
    book = load_rulebook([first, second])
    assert [rule.name for rule in book.rules] == ["one", "two"]
    assert book.files == ("a.yaml", "b.yaml")
    assert book.sla["resolution"].calendar == "office"  # a reference across files
    clash = ("c.yaml", "version: 1\ncalendars:\n  office: {timezone: UTC, hours: 24x7}\nrules:\n"
                       "  - name: one\n    on: [ticket.created]\n    then: [{comment: {body: x}}]\n")
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([first, clash])
    assert [str(e) for e in caught.value.errors] == [
        "c.yaml:3: calendars → office: calendar 'office' is defined twice",
        "c.yaml:5: rules → 0 → name: duplicate rule name 'one' (first defined at a.yaml:7)"]


def test_compiled_sections():
    book = load("""
        version: 1
        staff: {logins: [agent]}
        calendars:
          office:
            timezone: Europe/Madrid
            hours: {mon-fri: ["09:00-14:00", "15:00-18:00"], sat: "10:00-13:00"}
            holidays: {country: ES, subdivision: MD, dates: [2026-12-24], yearly: ["12-31"]}
        sla:
          resolution:
            calendar: office
            stop: [status = Closed]
            targets: [{when: priority = Urgent, target: 4h}, {target: 1d12h}]
            warn_at: 75%
        rules: []
    """)
    office = book.calendars["office"]
    assert office.hours["mon"][1][0].hour == 15 and office.hours["sat"][0][1].hour == 13 and "sun" not in office.hours
    assert (office.country, office.subdivision, office.yearly) == ("ES", "MD", ((12, 31),))
    policy = book.sla["resolution"]
    assert [t.target.total_seconds() for t in policy.targets] == [4 * 3600, 36 * 3600]
    assert (policy.warn_fraction, policy.reopen, policy.target_change) == (0.75, "new_cycle", "keep_elapsed")
    assert book.staff.logins == frozenset({"agent"})


STAFF_BY_EMAIL = """
    version: 1
    fields:
      origin: {FIELD}
    staff:
      email_domains: [example.com]
    rules: []
"""


@pytest.mark.parametrize("field, warned", [
    ("{jira: customfield_10050}", True),                       # mapped for Jira
    ("{redmine: Failure origin, jira: customfield_10050}", True),
    ("Failure origin", True),                                  # the short form maps every tracker
    ("{redmine: Failure origin}", False),                      # Redmine only: e-mail addresses are there
])
def test_staff_by_email_alone_is_a_warning_where_the_rulebook_may_run_on_jira(field, warned):
    book = load(STAFF_BY_EMAIL.replace("{FIELD}", field))
    assert [(w.file, w.line, w.path) for w in book.warnings] == ([("book.yaml", 6, ("staff", "email_domains"))]
                                                                if warned else [])
    if warned:
        assert "Jira Cloud sends no e-mail addresses" in str(book.warnings[0])
        assert str(book.warnings[0]).startswith("book.yaml:6: staff → email_domains: ")


def test_staff_by_groups_or_roles_is_no_warning_with_or_without_email_domains():
    for extra in ("groups: [support-staff]", "roles: [Service Desk Team]", "logins: ['557058:alice']"):
        book = load(f"""
            version: 1
            staff:
              email_domains: [example.com]
              {extra}
            rules: []
        """)
        assert book.warnings == (), extra
    assert load("version: 1\nrules: []\n").warnings == ()


def test_a_target_in_days_loads_with_a_warning_that_d_is_not_a_working_day():
    source = ("version: 1\ncalendars: {o: {timezone: UTC, hours: {mon-fri: [\"09:00-17:00\"]}}}\n"
              "sla:\n  resolution:\n    calendar: o\n    stop: [status = Closed]\n"
              "    targets: [{when: priority = High, target: 1d}, {target: 30h}]\n"
              "rules:\n  - {name: n, on: [ticket.created], then: [{comment: {body: hi}}]}\n")
    book = load_rulebook([("d.yaml", source)])
    assert [str(warning) for warning in book.warnings] == [
        "d.yaml:7: sla → resolution → targets → 0 → target: target '1d': `d` is 24 hours of working time "
        "(three days of an 8-hour calendar), not a working day; write `1bd` for 1 working day, or hours to keep "
            "it (`24h`)"]
    assert book.sla["resolution"].targets[0].target == timedelta(hours=24)  # what it means, unchanged
