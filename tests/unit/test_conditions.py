from datetime import timedelta

import pytest

from rules.conditions import ConditionContext, ConditionSyntaxError, Facts, evaluate_condition, parse_condition
from rules.model import Change, Comment, Person
from rules.people import StaffDefinition
from tests.helpers import T0, event, ticket

FIELDS = {"origin": {"redmine": "Failure origin"}, "team": {"redmine": "2"}}
REFS = {"origin": "Failure origin", "team": "2"}
CONTEXT = ConditionContext(custom_fields=FIELDS)
STAFF = StaffDefinition.from_section({"logins": ["agent"]})


def facts(the_ticket=None, the_event=None, now=T0) -> Facts:
    return Facts(the_ticket or ticket(), the_event or event(), now, REFS, STAFF.role_of)


def holds(text: str, the_ticket=None, the_event=None, now=T0) -> bool:
    condition = parse_condition(text, CONTEXT)
    return evaluate_condition(condition, facts(the_ticket, the_event, now))[0]


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
        parse_condition(text, CONTEXT)


def test_person_matching():
    person = Person("6", "agent", "Alice Agent")
    assert person.matches("AGENT") and person.matches("alice agent") and person.matches("6")
    assert not person.matches("bob")


def test_age_compares_durations():
    assert holds("age > 2d", now=T0 + timedelta(days=3))
    assert not holds("age > 2d", now=T0 + timedelta(days=1))
    assert holds("age <= 1h30m", now=T0 + timedelta(minutes=90))
    result = evaluate_condition(parse_condition("age >= 1d", CONTEXT), facts(now=T0 + timedelta(hours=30)))
    assert result == (True, "1d 6h")


def test_roles_of_actor_and_author():
    assert holds("actor_role = staff")  # the actor's login is in staff.logins
    assert holds("author_role = customer")
    nobody = Facts(ticket(), event(), T0, REFS, StaffDefinition().role_of)
    assert evaluate_condition(parse_condition("actor_role is empty", CONTEXT), nobody)[0]


def test_staff_by_group_role_and_domain():
    staff = StaffDefinition.from_section({"groups": ["Support"], "roles": ["Manager"], "email_domains": ["@acme.test"]})
    assert staff.role_of(Person("1", groups=("support",))) == "staff"
    assert staff.role_of(Person("2", roles=("Manager",))) == "staff"
    assert staff.role_of(Person("3", email="ann@ACME.test")) == "staff"
    assert staff.role_of(Person("4", email="bob@customer.test")) == "customer"
    assert staff.role_of(None) is None


def test_comment_fields():
    public = event("ticket.commented", comment=Comment("Please try again"))
    private = event("ticket.commented", comment=Comment("internal", private=True))
    assert holds("comment_visibility = public", the_event=public)
    assert holds("comment_visibility = private", the_event=private)
    assert holds("comment ~= try again", the_event=public)
    assert holds("comment is empty", the_event=event("ticket.updated"))


def test_labels():
    assert holds("labels in (vpn, network)", the_ticket=ticket(labels=("VPN", "acme")))
    assert holds("labels is empty")


def test_category_and_components():
    assert holds("category = Hosting", the_ticket=ticket(categories=("Hosting",)))
    assert holds("category in (billing, hosting)", the_ticket=ticket(categories=("Network", "Hosting")))
    assert not holds("category = Hosting")
    assert holds("category is empty")


def test_related_facts_of_development_and_record_events():
    the_event = event(related={"development": {"status": "Rejected", "resolved": "yes"}})
    assert holds("development.status = Rejected", the_event=the_event)
    assert holds("development.resolved = yes", the_event=the_event)
    assert not holds("development.status = Rejected")
    assert holds("record.kind is empty")


def test_measures_and_percentages():
    context = ConditionContext(measures=("incidents", "internal_share"))
    measures = {"incidents": 5, "internal_share": 40.0}
    for text, expected in [("incidents >= 5", True), ("internal_share > 20%", True), ("internal_share > 40", False),
                           ("internal_share <= 40%", True)]:
        condition = parse_condition(text, context)
        the_facts = Facts(ticket(), event(), T0, REFS, STAFF.role_of, measures=measures)
        assert evaluate_condition(condition, the_facts)[0] is expected, text
    with pytest.raises(ConditionSyntaxError, match="unknown measure 'status'"):
        parse_condition("status = New", context)


def test_the_trace_shows_the_values_compared():
    condition = parse_condition("status in (Feedback, Closed)", CONTEXT)
    assert evaluate_condition(condition, facts()) == (False, "New")
    changed = event(changes=(Change("status", "New", "Feedback"),))
    assert evaluate_condition(parse_condition("status changed_to Feedback", CONTEXT), facts(the_event=changed)) \
        == (True, "New → Feedback")
    assert evaluate_condition(parse_condition("assignee = bob", CONTEXT), facts()) == (False, "6 | agent | Alice Agent")


def test_groups_any_all_not():
    from rules.conditions import ConditionTrace, Group, evaluate

    def cond(text):
        return parse_condition(text, CONTEXT)

    both = Group("all", (cond("priority = Normal"), cond("origin = unknown")))
    tree = (Group("any", (cond("status = Closed"), both)),
            Group("not", (cond("tracker = Bug"),)))
    trace: list[ConditionTrace] = []
    assert evaluate(tree, facts(), trace)
    assert [(t.text, t.result, t.depth) for t in trace] == [
        ("any:", True, 0), ("status = Closed", False, 1), ("all:", True, 1), ("priority = Normal", True, 2),
        ("origin = unknown", True, 2), ("not:", True, 0), ("tracker = Bug", False, 1)]
    assert not evaluate((Group("not", (cond("status = New"),)),), facts())


VOCABULARY = ConditionContext(
    custom_fields={"origin": {}}, vocabulary={"statuses": ("New", "Feedback"), "priorities": ("Normal", "Urgent")},
    field_values={"origin": ("internal", "customer")}, sla_policies=("first-response",))


@pytest.mark.parametrize("text, message", [
    ("status = Feedbak", "unknown status 'Feedbak': did you mean 'Feedback'? (declared: New, Feedback)"),
    ("status changed_to Closed", "unknown status 'Closed'"),
    ("priority in (Normal, Critical)", "unknown priority 'Critical'"),
    ("origin = vendor", "unknown value of origin 'vendor' (declared: internal, customer)"),
    ("actor_role = boss", "unknown role 'boss' (declared: staff, customer)"),
    ("comment_visibility = secret", "unknown visibility 'secret'"),
    ("sla.policy = resolution", "unknown SLA policy 'resolution' (declared: first-response)"),
    ("age > soon", "malformed duration 'soon'"),
    ("age = 2d", "`age` compares with <, <=, > or >="),
])
def test_values_that_can_never_match_are_refused(text, message):
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text, VOCABULARY)
    assert message in str(caught.value)


def test_declared_values_are_case_insensitive_and_regex_is_free():
    parse_condition("status = feedback", VOCABULARY)
    parse_condition("status ~= ^Feed", VOCABULARY)
    parse_condition("origin in (Internal, customer)", VOCABULARY)


def test_sla_state_of_a_declared_policy():
    context = ConditionContext(sla_policies=("first-response", "resolution"))
    condition = parse_condition("sla.first-response = breached", context)
    breached = Facts(ticket(), event(), T0, REFS, STAFF.role_of, {"first-response": "breached"})
    assert evaluate_condition(condition, breached) == (True, "breached")
    assert evaluate_condition(condition, facts())[0] is False  # no clock: empty
    assert evaluate_condition(parse_condition("sla.resolution is empty", context), breached)[0]
    with pytest.raises(ConditionSyntaxError, match="unknown SLA state 'late'"):
        parse_condition("sla.resolution = late", context)
    with pytest.raises(ConditionSyntaxError, match=r"unknown field 'sla.response'.*sla.first-response"):
        parse_condition("sla.response = met", context)


def test_customers_by_place_in_the_ticket():
    """Jira Service Management: the reporter and request participants are customers."""
    jsm = StaffDefinition.from_section({"customers": ["reporter", "request_participants"]})
    carol, dave, alice = Person("c1", "carol"), Person("d1", "dave"), Person("a1", "alice")
    request = ticket(author=carol, participants=(dave,))
    assert [jsm.role_of(p, request) for p in (carol, dave, alice)] == ["customer", "customer", "staff"]
    assert jsm.role_of(alice, None) == "staff"
    mixed = StaffDefinition.from_section({"customers": ["reporter"], "email_domains": ["acme.test"]})
    assert mixed.role_of(Person("x", email="x@acme.test"), ticket(author=Person("x"))) == "customer"
    assert mixed.role_of(Person("y", email="y@acme.test"), request) == "staff"
    assert mixed.role_of(Person("z", email="z@else.test"), request) == "customer"
    the_event = event("ticket.commented", actor=dave, comment=Comment("any news?"))
    facts_jsm = Facts(request, the_event, T0, REFS, jsm.role_of)
    assert evaluate_condition(parse_condition("actor_role = customer", CONTEXT), facts_jsm) == (True, "customer")
    assert evaluate_condition(parse_condition("author_role = customer", CONTEXT), facts_jsm)[0]


def test_jira_request_participants_reach_the_ticket():
    from connector.jira_payloads import ticket_from_issue

    issue = {"id": "1", "key": "SUP-1", "fields": {
        "summary": "x", "status": {"name": "Open", "statusCategory": {"key": "new"}}, "project": {"key": "SUP"},
        "customfield_10200": [{"accountId": "p1", "displayName": "Pat"}, {"name": "sam", "key": "JIRAUSER7"}]}}
    ticket_ = ticket_from_issue(issue, "https://jira.test", {"customfield_10200": "Request participants"})
    assert [p.id for p in ticket_.participants] == ["p1", "JIRAUSER7"]
