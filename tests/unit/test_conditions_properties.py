"""Property tests of the condition parser and evaluator."""

from hypothesis import given
from hypothesis import strategies as st

from rules.changes import of_details, set_change, split_values
from rules.conditions import ConditionContext, Facts, evaluate_condition, parse_condition
from rules.model import Change
from rules.people import StaffDefinition
from tests.helpers import T0, event, ticket

CONTEXT = ConditionContext(custom_fields={"origin": {}})
FIELDS = st.sampled_from(["status", "priority", "tracker", "subject", "project", "origin"])
# Values as admins write them: words with spaces, without quotes, parentheses or commas.
VALUES = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -_./:"),
                 min_size=1, max_size=20).map(str.strip).filter(bool)


def facts(status: str, origin: str) -> Facts:
    the_ticket = ticket(status=status, custom_fields={"Failure origin": origin},
                        custom_field_ids={"Failure origin": "1"})
    return Facts(the_ticket, event(), T0, {"origin": "Failure origin"}, StaffDefinition().role_of)


@given(FIELDS, st.sampled_from(["=", "!=", "~=", "<", ">="]), VALUES)
def test_a_written_condition_parses_back_to_its_parts(field, op, value):
    quoted = f'"{value}"'
    condition = parse_condition(f"{field} {op} {quoted}", CONTEXT)
    assert (condition.field, condition.op, condition.values) == (field, op, (value,))
    assert condition.custom == (field == "origin")


@given(FIELDS, st.lists(VALUES, min_size=1, max_size=5))
def test_lists_keep_every_item(field, values):
    text = f"{field} in (" + ", ".join(f'"{v}"' for v in values) + ")"
    assert parse_condition(text, CONTEXT).values == tuple(values)


@given(VALUES, VALUES, st.lists(VALUES, min_size=1, max_size=4))
def test_operators_agree_with_each_other(status, origin, candidates):
    here = facts(status, origin)
    listed = ", ".join(f'"{c}"' for c in candidates)

    def holds(text: str) -> bool:
        return evaluate_condition(parse_condition(text, CONTEXT), here)[0]

    is_in = holds(f"status in ({listed})")
    assert is_in == any(holds(f'status = "{c}"') for c in candidates)
    assert holds(f"status not in ({listed})") == (not is_in)
    for candidate in candidates:
        assert holds(f'origin != "{candidate}"') == (not holds(f'origin = "{candidate}"'))
    assert holds(f'status = "{status.casefold()}"')  # case-insensitive


# -- multi-value fields are sets ------------------------------------------------------------------

LABELS = st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=3), max_size=6, unique=True)


def label_facts(before: list[str], after: list[str], change: Change) -> Facts:
    return Facts(ticket(labels=tuple(after)), event(changes=(change,)), T0, {}, StaffDefinition().role_of)


@given(LABELS, LABELS, st.text(alphabet="abcdefgh", min_size=1, max_size=3))
def test_added_removed_contains_and_changed_to_are_set_operations(before, after, value):
    """Whatever the tracker's text, a value `added` is one after and not before, `removed`
    one before and not after; `changed_to` and `changed_from` say the same on a set, and
    `contains` is membership of the values after."""
    joined = set_change("labels", split_values(" ".join(before), None), split_values(" ".join(after), None),
                        old=" ".join(before) or None, new=" ".join(after) or None)
    here = label_facts(before, after, joined)

    def holds(op: str) -> bool:
        return evaluate_condition(parse_condition(f"labels {op} {value}", CONTEXT), here)[0]

    came, went = value in after and value not in before, value in before and value not in after
    if joined.of_values:
        assert holds("added") == holds("changed_to") == came
        assert holds("removed") == holds("changed_from") == went
    assert holds("contains") == (value in after)
    assert not (holds("added") and holds("removed"))


@given(LABELS, st.lists(st.sampled_from(["add", "remove"]), min_size=1, max_size=6), LABELS)
def test_reports_one_per_value_add_up_to_the_whole_change(before, verbs, values):
    """Redmine (one journal detail per value) and Jira's components (one changelog item per
    value) end as the same change as one report of both whole sets."""
    after = list(before)
    reports = []
    for verb, value in zip(verbs, values, strict=False):
        if verb == "add" and value not in after:
            after.append(value)
            reports.append(Change("cf:Modules", None, value))
        elif verb == "remove" and value in after:
            after.remove(value)
            reports.append(Change("cf:Modules", value, None))
    folded = of_details(reports, {"cf:Modules": after})
    whole = set_change("cf:Modules", before, after)
    if not reports:
        assert folded == ()
        return
    [change] = folded
    assert set(change.added) == set(whole.added) and set(change.removed) == set(whole.removed)
    assert set(split_values(change.new, ",")) == set(after)
    assert set(split_values(change.old, ",")) == set(before)
