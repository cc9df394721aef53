"""Named roles (`roles:`): who holds them, how conditions test them, and what the loader refuses."""

import textwrap

import pytest

from rules.conditions import Facts, evaluate_condition
from rules.errors import RulebookInvalid
from rules.model import Person
from rules.people import NamedRole, StaffDefinition
from rules.rulebook import load_rulebook
from tests.helpers import T0, event, ticket

BOARD = Person("9", "cora", "Cora Board", groups=("Change-Board",), roles=("Manager",))
AGENT = Person("6", "alice", "Alice Agent", roles=("Manager",))
CUSTOMER = Person("7", "carol", "Carol Customer", email="carol@acme.example")


def load(text: str, name: str = "book.yaml"):
    return load_rulebook([(name, textwrap.dedent(text))])


def errors_of(text: str) -> list[str]:
    with pytest.raises(RulebookInvalid) as caught:
        load(text)
    return [str(error) for error in caught.value.errors]


BOOK = """
    version: 1
    staff: {roles: [Manager]}
    roles:
      approver:
        description: the change board
        groups: [change-board]
        logins: [ceo]
    rules:
      - name: board only
        on: [ticket.updated]
        if: [ACTOR_ROLE]
        then: [{comment: {body: decided}}]
"""


def holds(condition: str, actor: Person) -> bool:
    book = load(BOOK.replace("ACTOR_ROLE", condition))
    facts = Facts(ticket(), event(actor=actor), T0, {}, book.staff.roles_of)
    return evaluate_condition(book.rules[0].conditions[0], facts)[0]


def test_a_person_holds_staff_or_customer_and_each_named_role_of_theirs():
    staff = StaffDefinition.from_section({"roles": ["Manager"]},
                                         [NamedRole.from_section("approver", {"groups": ["change-board"]})])
    assert staff.roles_of(BOARD) == ["staff", "approver"]  # groups compare case-insensitively
    assert staff.roles_of(AGENT) == ["staff"]
    assert staff.roles_of(CUSTOMER) == ["customer"]
    assert staff.roles_of(None) is None
    assert staff.role_of(BOARD) == "staff"  # the staff/customer answer is unchanged


def test_named_roles_without_a_staff_section():
    staff = StaffDefinition.from_section(None, [NamedRole.from_section("approver", {"logins": ["Cora"]})])
    assert staff.roles_of(BOARD) == ["approver"]
    assert staff.roles_of(AGENT) is None  # nobody is classified as staff or customer


@pytest.mark.parametrize("condition, actor, expected", [
    ("actor_role = approver", BOARD, True),
    ("actor_role = approver", AGENT, False),
    ("actor_role = staff", BOARD, True),        # a board member is staff too
    ("actor_role != approver", AGENT, True),
    ("actor_role != approver", BOARD, False),
    ("actor_role in (approver, customer)", CUSTOMER, True),
    ("actor_role = approver", Person("1", "ceo", "The CEO"), True),  # by login
])
def test_conditions_test_named_roles(condition, actor, expected):
    assert holds(condition, actor) is expected


def test_an_unknown_role_is_a_load_error_at_its_line_with_a_suggestion():
    assert errors_of(BOOK.replace("ACTOR_ROLE", "actor_role = aprover")) == [
        "book.yaml:12: rules → 0 → if → 0: unknown role 'aprover': did you mean 'approver'? "
        "(declared: staff, customer, approver)"]


def test_without_the_section_a_named_role_is_unknown():
    text = BOOK.replace("ACTOR_ROLE", "author_role = approver").replace(
        "    roles:\n      approver:\n        description: the change board\n"
        "        groups: [change-board]\n        logins: [ceo]\n", "")
    assert errors_of(text) == ["book.yaml:7: rules → 0 → if → 0: unknown role 'approver' "
                               "(declared: staff, customer)"]


def test_role_definitions_are_checked():
    text = """
        version: 1
        roles:
          staff: {groups: [x]}
          approver: {groups: [change-board], team: [x]}
          "change board": {logins: [cora]}
          watcher: {description: names nobody}
    """
    assert errors_of(text) == [
        "book.yaml:4: roles → staff: 'staff' is a built-in role, from the `staff` section: name your role otherwise",
        "book.yaml:5: roles → approver → team: unknown key (expected one of: description, logins, groups, roles, "
        "email_domains)",
        "book.yaml:6: roles → change board: role name 'change board' must be a word (letters, digits, _ and -)",
        "book.yaml:7: roles → watcher: role 'watcher' names nobody: give its logins, groups, roles or email_domains"]


def test_a_role_is_defined_once_across_the_files_of_a_rulebook():
    first = ("a.yaml", "version: 1\nroles:\n  approver: {groups: [change-board]}\n")
    second = ("b.yaml", "version: 1\nroles:\n  approver: {logins: [cora]}\n")
    with pytest.raises(RulebookInvalid) as caught:
        load_rulebook([first, second])
    assert [str(e) for e in caught.value.errors] == [
        "b.yaml:3: roles → approver: role 'approver' is defined twice (first at a.yaml:3)"]


def test_an_sla_stop_condition_may_name_a_role():
    book = load("""
        version: 1
        roles: {approver: {groups: [change-board]}}
        calendars: {office: {timezone: UTC, hours: 24x7}}
        sla:
          decision: {calendar: office, stop: [actor_role = approver], targets: [{target: 5bd}]}
    """)
    assert book.sla["decision"].stop[0].values == ("approver",)
