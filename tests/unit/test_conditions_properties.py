"""Property tests of the condition parser and evaluator."""

from hypothesis import given
from hypothesis import strategies as st

from rules.conditions import ConditionContext, Facts, evaluate_condition, parse_condition
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
