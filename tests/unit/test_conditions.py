import pytest

from rules.conditions import ConditionSyntaxError, evaluate_condition, parse_condition
from rules.model import Change, Person
from tests.helpers import event, ticket

FIELDS = {"origin": {"redmine": "Failure origin"}, "team": {"redmine": "2"}}
REFS = {"origin": "Failure origin", "team": "2"}


def holds(text: str, the_ticket=None, the_event=None) -> bool:
    condition = parse_condition(text, FIELDS)
    ref = REFS.get(condition.field) if condition.custom else None
    return evaluate_condition(condition, the_ticket or ticket(), the_event or event(), ref)


@pytest.mark.parametrize("text, expected", [
    ("status = New", True),
    ("status = new", True),                      # names compare case-insensitively
    ("status != New", False),
    ("status = Feedback", False),
    ("project = support", True),                 # identifier
    ("project = Support", True),                 # or name
    ("tracker in (Bug, Incident)", True),
    ("type in (Bug, Feature)", False),
    ("priority not in (High, Urgent)", True),
    ('subject ~= "vpn\\s+down"', True),
    ("subject ~= ^ACME", False),
    ("origin = unknown", True),
    ("team = network", True),                    # custom field referenced by id
    ("origin is not empty", True),
    ("assignee = agent", True),                  # login
    ("assignee = Alice Agent", True),            # display name
    ("assignee = 6", True),                      # id
    ("author = agent", False),
    ("actor = agent", True),
    ("created >= 2026-03-01", True),
    ("created < 2026-03-01T00:00:00+00:00", False),
    ('status in ("In Progress", New)', True),
])
def test_field_conditions(text, expected):
    assert holds(text) is expected


def test_empty_fields():
    the_ticket = ticket(assignee=None, custom_fields={"Failure origin": ""}, custom_field_ids={"Failure origin": "1"})
    assert holds("assignee is empty", the_ticket)
    assert holds("origin is empty", the_ticket)
    assert not holds("origin = unknown", the_ticket)
    assert holds("origin != unknown", the_ticket)
    assert holds("origin not in (internal)", the_ticket)


def test_change_conditions():
    the_event = event(changes=(Change("status", "New", "Feedback"),
                               Change("cf:Failure origin", "unknown", "internal", field_id="1")))
    assert holds("status changed", the_event=the_event)
    assert holds("status changed_to Feedback", the_event=the_event)
    assert holds("status changed_from new", the_event=the_event)
    assert not holds("status changed_to Closed", the_event=the_event)
    assert not holds("priority changed", the_event=the_event)
    assert holds("origin changed_to internal", the_event=the_event)
    assert not holds("team changed", the_event=the_event)


def test_custom_change_matched_by_id():
    the_event = event(changes=(Change("cf:Team", "support", "network", field_id="2"),))
    assert holds("team changed_from support", the_event=the_event)


def test_actor_absent():
    the_event = event()
    object.__setattr__(the_event, "actor", None)
    assert holds("actor is empty", the_event=the_event)
    assert not holds("actor = agent", the_event=the_event)


@pytest.mark.parametrize("text, message", [
    ("statuz = New", "unknown field 'statuz'"),
    ("status", "unknown operator"),
    ("status == New", "unknown operator"),
    ("status in New, Closed", "needs a list in parentheses"),
    ("status in ()", "at least one value"),
    ("status is empty please", "takes no value"),
    ("subject ~= ((", "invalid regular expression"),
    ("status =", "needs a value"),
    ('status in ("New, Closed)', "unterminated quote"),
])
def test_syntax_errors(text, message):
    with pytest.raises(ConditionSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(text, FIELDS)


def test_person_matching():
    person = Person("6", "agent", "Alice Agent")
    assert person.matches("AGENT") and person.matches("alice agent") and person.matches("6")
    assert not person.matches("bob")
