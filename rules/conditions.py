"""Conditions: `field op value` strings, parsed once at load and evaluated against a ticket.

Grammar (one condition per string; a rule's list of conditions is an implicit AND):

    field = value | != | < | <= | > | >= | ~= regex
    field in (a, b, "c d")      field not in (a, b)
    field is empty              field is not empty
    field changed               field changed_to value     field changed_from value

Comparisons are case-insensitive for text; `<`/`>` compare numbers or ISO dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rules.model import Event, Ticket

STANDARD_FIELDS = (
    "project", "tracker", "type", "status", "priority", "assignee", "author",
    "subject", "description", "created", "updated", "actor",
)
CHANGE_NAMES = {"type": "tracker"}

_HEAD = re.compile(r"^\s*(?P<field>[A-Za-z_][\w.]*)\s*(?P<rest>.*?)\s*$", re.S)
_OPERATOR = re.compile(
    r"^(?P<op>is\s+not\s+empty|is\s+empty|not\s+in|in|changed_to|changed_from|changed"
    r"|~=|!=|<=|>=|=|<|>)(?P<value>.*)$",
    re.S,
)


class ConditionSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    """A parsed condition. `custom` is the logical custom-field name when the field is one."""

    text: str
    field: str
    op: str
    values: tuple[str, ...]
    custom: bool
    pattern: re.Pattern[str] | None = None


def parse_condition(text: str, custom_fields: Mapping[str, Any]) -> Condition:
    """Parse one condition; raise ConditionSyntaxError with an admin-readable reason."""
    head = _HEAD.match(text)
    if not head:
        raise ConditionSyntaxError(f"cannot read condition {text!r}: expected `field operator value`")
    name, rest = head["field"], head["rest"]
    custom = name in custom_fields
    if not custom and name not in STANDARD_FIELDS:
        known = ", ".join(sorted(set(STANDARD_FIELDS) | set(custom_fields)))
        raise ConditionSyntaxError(f"unknown field {name!r} (known: {known})")
    match = _OPERATOR.match(rest)
    if not match:
        raise ConditionSyntaxError(f"unknown operator in {text!r}")
    op = " ".join(match["op"].split())
    raw = match["value"].strip()
    if match["value"][:1] in ("=", "<", ">", "~", "!"):
        raise ConditionSyntaxError(f"unknown operator {op + match['value'].split()[0]!r} in {text!r}")
    if op in ("is empty", "is not empty", "changed"):
        if raw:
            raise ConditionSyntaxError(f"`{op}` takes no value, got {raw!r}")
        return Condition(text, name, op, (), custom)
    if op in ("in", "not in"):
        if not (raw.startswith("(") and raw.endswith(")")):
            raise ConditionSyntaxError(f"`{op}` needs a list in parentheses, e.g. (a, b)")
        values = tuple(_split_list(raw[1:-1]))
        if not values:
            raise ConditionSyntaxError(f"`{op}` needs at least one value")
        return Condition(text, name, op, values, custom)
    value = _unquote(raw)
    if not value and not raw:
        raise ConditionSyntaxError(f"`{op}` needs a value")
    pattern = None
    if op == "~=":
        try:
            pattern = re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ConditionSyntaxError(f"invalid regular expression {value!r}: {exc}") from exc
    return Condition(text, name, op, (value,), custom, pattern)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _split_list(body: str) -> list[str]:
    items, current, quote = [], "", ""
    for char in body:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ",":
            items.append(current.strip())
            current = ""
        else:
            current += char
    if quote:
        raise ConditionSyntaxError("unterminated quote in list")
    if current.strip():
        items.append(current.strip())
    return [item for item in items if item]


def ticket_values(ticket: Ticket, event: Event, name: str, custom_ref: str | None) -> list[str] | None:
    """Every text form a field may be matched by (an id, a login, a name); None when empty."""
    if custom_ref is not None:
        return _as_values(ticket.custom_field(custom_ref))
    getters: dict[str, Callable[[], Any]] = {
        "project": lambda: [ticket.project, ticket.project_name],
        "tracker": lambda: ticket.tracker,
        "type": lambda: ticket.tracker,
        "status": lambda: ticket.status,
        "priority": lambda: ticket.priority,
        "subject": lambda: ticket.subject,
        "description": lambda: ticket.description,
        "created": lambda: ticket.created,
        "updated": lambda: ticket.updated,
        "assignee": lambda: _person(ticket.assignee),
        "author": lambda: _person(ticket.author),
        "actor": lambda: _person(event.actor),
    }
    return _as_values(getters[name]())


def _person(person: Any) -> list[str] | None:
    if person is None:
        return None
    return [value for value in (person.id, person.login, person.name) if value]


def _as_values(value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, datetime):
        return [value.isoformat()]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if item not in (None, "")] or None
    return [str(value)]


def _same(left: str, right: str) -> bool:
    return left.casefold() == right.casefold()


def _ordered(left: str, right: str) -> tuple[Any, Any] | None:
    for convert in (float, _as_datetime):
        try:
            return convert(left), convert(right)
        except (TypeError, ValueError):
            continue
    return None


def _as_datetime(text: str) -> datetime:
    """ISO dates and times; a value without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def evaluate_condition(condition: Condition, ticket: Ticket, event: Event, custom_ref: str | None) -> bool:
    """True when the condition holds for this ticket and triggering event."""
    op = condition.op
    if op.startswith("changed"):
        return _evaluate_change(condition, event, custom_ref)
    values = ticket_values(ticket, event, condition.field, custom_ref)
    if op == "is empty":
        return values is None
    if op == "is not empty":
        return values is not None
    if values is None:
        return op in ("!=", "not in")
    if op == "=":
        return any(_same(value, condition.values[0]) for value in values)
    if op == "!=":
        return not any(_same(value, condition.values[0]) for value in values)
    if op == "in":
        return any(_same(value, wanted) for value in values for wanted in condition.values)
    if op == "not in":
        return not any(_same(value, wanted) for value in values for wanted in condition.values)
    if op == "~=":
        assert condition.pattern is not None
        return any(condition.pattern.search(value) for value in values)
    pairs = [_ordered(value, condition.values[0]) for value in values]
    return any(pair is not None and _ORDER_OPS[op](*pair) for pair in pairs)


def _evaluate_change(condition: Condition, event: Event, custom_ref: str | None) -> bool:
    if custom_ref is not None:
        change = event.change_of_custom(custom_ref)
    else:
        change = event.change_of(CHANGE_NAMES.get(condition.field, condition.field))
    if change is None:
        return False
    if condition.op == "changed":
        return True
    side = change.new if condition.op == "changed_to" else change.old
    return side is not None and _same(side, condition.values[0])
