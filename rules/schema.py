"""The shape of a rulebook, declared once.

The loader validates against these declarations and `json_schema()` turns the same
declarations into a JSON Schema for editors, so the two can never disagree. Behaviour that
needs more than a shape (conditions, templates, cross-references) is checked by the loader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.context import Where
from rules.durations import DURATION_PATTERN, SPAN_PATTERN

TRIGGERS = (
    "ticket.created", "ticket.updated", "ticket.commented", "ticket.closed", "ticket.reopened",
    "sla.started", "sla.warning", "sla.breached", "sla.met",
    "development.updated", "development.resolved",
    "record.reminder", "record.overdue", "record.review_due", "survey.answered",
)
LOCALES = ("en", "es")
TRACKER_KINDS = ("redmine", "jira")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Option:
    """One key of a mapping: its type, whether it is required, its default, what it means.

    Types: text, template, bool, int, list (of text), mapping, duration, enum (with
    `choices`), conditions, triggers, actions, and `section:NAME` for a nested declaration.
    """

    type: str
    required: bool = False
    default: Any = None
    doc: str = ""
    choices: tuple[Any, ...] = ()
    example: str = ""


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "text": lambda v: isinstance(v, str),
    "template": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "mapping": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list) and all(isinstance(i, (str, int)) for i in v),
    "duration": lambda v: isinstance(v, str),
    "span": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "text-or-list": lambda v: isinstance(v, (str, list)),
}


def check_options(options: Mapping[str, Option], value: Any, where: Where) -> dict[str, Any] | None:
    """Validate a mapping against its declaration and fill defaults; None when anything is wrong.

    Only the shape is checked here (keys, types, choices); conditions, durations and
    templates are checked by whoever uses the value.
    """
    result = read_options(options, value, where)
    return result if result is not None and not result.pop("\0errors", False) else None


def read_options(options: Mapping[str, Option], value: Any, where: Where) -> dict[str, Any] | None:
    """Like check_options, but keeps going: every error is recorded, wrong values become their
    defaults, and the mapping comes back (None only when `value` is not a mapping), so the
    caller can go on checking the rest and report every error at once."""
    if not isinstance(value, dict):
        where.error(f"expected a mapping with keys: {', '.join(options)}")
        return None
    ok = True
    result: dict[str, Any] = {}
    for key in value:
        if key not in options:
            hint = ("; a comma inside an inline {...} or [...] ends the value there: write a condition "
                    "with a list in block style" if str(key).endswith(")") else "")
            where.child(value, key).error(f"unknown key (expected one of: {', '.join(options)}){hint}")
            ok = False
    for key, option in options.items():
        if key not in value:
            if option.required:
                where.error(f"missing required key {key!r}")
                ok = False
            result[key] = option.default
            continue
        item = value[key]
        here = where.child(value, key)
        if option.type == "enum" and item not in option.choices:
            here.error(f"expected one of: {', '.join(map(str, option.choices))}; got {item!r}")
            ok, item = False, option.default
        elif option.type in _TYPE_CHECKS and not _TYPE_CHECKS[option.type](item):
            here.error(f"expected {_TYPE_NAMES.get(option.type, option.type)}, got {_kind(item)}")
            ok, item = False, option.default
        result[key] = item
    if not ok:
        result["\0errors"] = True
    return result


_TYPE_NAMES = {"list": "a list of text", "mapping": "a mapping", "text-or-list": "text or a list",
               "bool": "true or false", "int": "a whole number", "template": "text (a template)",
               "duration": "a duration such as 4h", "span": "a duration such as 4h, or business days such as 3bd",
               "number": "a number"}


def _kind(value: Any) -> str:
    for kind, name in ((bool, "true/false"), (dict, "a mapping"), (list, "a list"), (str, "text"),
                       (int, "a number"), (float, "a number"), (type(None), "nothing")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


# -- sections ---------------------------------------------------------------------------------

FIELD = {
    "redmine": Option("text", doc="Redmine custom field name or id", example='"Failure origin"'),
    "jira": Option("text", doc="Jira field id (customfield_N) or name", example="customfield_10050"),
    "values": Option("list", doc="the field's controlled vocabulary; conditions and `set` may use only these"),
}
VOCABULARY = {
    "statuses": Option("list", doc="status names conditions and actions may use"),
    "closed_statuses": Option("list", doc="which of them close a ticket"),
    "priorities": Option("list", doc="priority names"),
    "trackers": Option("list", doc="tracker / issue type names"),
    "projects": Option("list", doc="project identifiers or keys"),
}
STAFF = {
    "logins": Option("list", default=[], doc="logins of staff members (Jira Cloud: accountIds)"),
    "groups": Option("list", default=[], doc="groups whose members are staff"),
    "roles": Option("list", default=[], doc="project roles that make a member staff (Redmine roles, Jira project "
                                            "roles such as Service Desk Team)"),
    "email_domains": Option("list", default=[], doc="e-mail domains of staff (not on Jira Cloud, whose people carry "
                                                    "no e-mail address: `check` warns)"),
    "customers": Option("list", default=[], doc="always customers: `reporter` (the ticket's author) and/or "
                                                "`request_participants` (Jira Service Management); alone, "
                                                "it makes everyone else staff"),
}
HOLIDAYS = {
    "country": Option("text", doc="ISO country code for the `holidays` package", example="AR"),
    "subdivision": Option("text", doc="state or province code", example="B"),
    "dates": Option("list", default=[], doc="extra holidays, YYYY-MM-DD"),
    "yearly": Option("list", default=[], doc="holidays every year, MM-DD"),
    "except": Option("list", default=[], doc="days of the country's list that are worked here, YYYY-MM-DD "
                     "(an optional or bridge holiday)"),
}
CALENDAR = {
    "timezone": Option("text", required=True, doc="IANA time zone", example="America/Argentina/Buenos_Aires"),
    "hours": Option("hours", required=True,
                    doc="`24x7`, or weekday (or range such as mon-fri) -> list of HH:MM-HH:MM"),
    "holidays": Option("section:holidays", doc="days without working hours"),
    "special": Option("mapping", doc="days with hours of their own: YYYY-MM-DD (that day) or MM-DD (every "
                      "year) -> list of HH:MM-HH:MM, `[]` for none; they replace the weekday's hours and holidays",
                      example='{"12-24": ["09:00-13:00"], "2026-12-05": ["09:00-13:00"]}'),
}
TARGET = {
    "when": Option("conditions", default=[], doc="conditions choosing this target; none = default"),
    "target": Option("span", required=True, doc="working time allowed (`4h`, `1h30m`), or business days "
                     "(`3bd`: the same point of the working day three working days later)", example="4h"),
    "calendar": Option("text", doc="a calendar of its own for this target (urgent tickets on a 24x7 "
                       "calendar, say); default: the policy's", example="always"),
}
SCALE = {
    "when": Option("conditions", required=True, doc="tickets whose target is scaled"),
    "factor": Option("number", required=True, doc="multiplies the chosen target (0.5: half as long)",
                     example="0.5"),
}
SLA = {
    "description": Option("text", default="", doc="what the policy promises"),
    "applies": Option("conditions", default=[], doc="which tickets get this clock"),
    "calendar": Option("text", required=True, doc="name of a calendar"),
    "start": Option("conditions", default=[], doc="when the clock starts; none = at creation"),
    "pause": Option("conditions", default=[], doc="while these hold, the clock stands still"),
    "stop": Option("conditions", required=True, doc="when these hold, the clock is met"),
    "targets": Option("targets", required=True, doc="first matching target wins; the last needs no `when`"),
    "scale": Option("scales", default=[], doc="the first whose conditions hold multiplies the target "
                    "(VIP customers: `factor: 0.5`)"),
    "since": Option("enum", default="applies", choices=("applies", "created"),
                    doc="with no `start`: the clock starts when the policy starts to apply (`applies`: at "
                        "creation if it applied then), or always at the ticket's creation (`created`)"),
    "warn_at": Option("text", default="80%", doc="a fraction of the target (80%) or a duration before due (1h)"),
    "reopen": Option("enum", default="new_cycle", choices=("new_cycle", "continue"),
                     doc="what reopening does: a new clock cycle, or continue the last one"),
    "target_change": Option("enum", default="keep_elapsed", choices=("keep_elapsed", "restart"),
                            doc="when the target changes: keep elapsed time, or start over"),
    "quiet_hours": Option("text", doc="a calendar whose working time warnings wait for (breaches are "
                                      "recorded on time)", example="ba-office"),
}
DEFAULT_ORIGINS = {
    "internal": "our own product, service or people caused the failure (a nonconformity candidate)",
    "customer": "the customer's use, data, configuration or environment caused it",
    "third-party": "a supplier or another vendor's product or service caused it",
    "infrastructure": "hosting, network or platform outside the product caused it",
    "unknown": "not classified yet",
}
ORIGIN = {
    "field": Option("text", default="origin", doc="logical field (in `fields`) that holds the failure origin"),
    "values": Option("mapping", default=DEFAULT_ORIGINS,
                     doc="the controlled vocabulary: value -> its meaning (default: internal, customer, "
                         "third-party, infrastructure, unknown)"),
    "internal": Option("list", default=["internal"], doc="values that are failures of our own making"),
    "unclassified": Option("list", default=["unknown"],
                           doc="values that mean not classified yet (an empty field is unclassified too)"),
}
INDICATORS = {
    "incidents": Option("conditions", default=[],
                        doc="which tickets are customer-reported incidents; none = every ticket"),
    "team": Option("text", default="team", doc="logical field that names a ticket's team"),
    "customer": Option("text", default="author",
                       doc="who the customer is: `author`, `project`, or a logical field"),
    "first_response": Option("text", default="first-response",
                             doc="the SLA policy whose clock measures time to first response"),
    "resolution": Option("text", default="resolution", doc="the SLA policy whose clock measures time to resolution"),
}
MEASURE_WINDOWS = ("previous_month", "this_month")
REPORT_GROUPS = ("team", "customer", "priority", "month")  # a report's columns: one per group
MEASURE_GROUPS = ("team", "customer", "priority", "origin", "project", "all")
MEASURE = {
    "window": Option("text", default="30d", doc="incidents created in the last DURATION before the run "
                                                "(30d), or `previous_month` / `this_month`"),
    "by": Option("enum", default="team", choices=MEASURE_GROUPS,
                 doc="one evaluation of the rule per group (`all`: one for everything)"),
}
RULE = {
    "name": Option("text", required=True, doc="unique name; part of every effect's idempotency key"),
    "description": Option("text", default="", doc="what the rule is for"),
    "on": Option("triggers", required=True, doc="events that run the rule"),
    "if": Option("conditions", default=[], doc="all must hold"),
    "then": Option("actions", required=True, doc="actions, in order"),
    "enabled": Option("bool", default=True, doc="false keeps the rule but never runs it"),
    "measure": Option("section:measure", doc="a scheduled rule run once per group over measures "
                                             "(its conditions test the measures)"),
}
TOP_LEVEL = {
    "version": Option("enum", required=True, choices=(1,), doc="format version"),
    "locale": Option("enum", default="en", choices=LOCALES, doc="language of the texts ticketwarden writes"),
    "chain_limit": Option("int", default=10, doc="how many times rules may react to each other's changes"),
    "fields": Option("fields", default={}, doc="logical field name -> tracker field"),
    "vocabulary": Option("section:vocabulary", doc="names conditions and actions may use"),
    "staff": Option("section:staff", doc="who counts as staff (everyone else is a customer)"),
    "calendars": Option("calendars", default={}, doc="business calendars by name"),
    "sla": Option("slas", default={}, doc="SLA policies by name"),
    "origin": Option("section:origin", doc="failure origin: its field and controlled vocabulary"),
    "indicators": Option("section:indicators", doc="what measures and reports count"),
    "messages": Option("mapping", default={}, doc="your own wording of ticketwarden's texts: language -> "
                                                 "message name -> text (docs/messages.md lists them)"),
    "rules": Option("rules", default=[], doc="the rules, in order"),
}
SECTIONS: dict[str, Mapping[str, Option]] = {
    "field": FIELD, "vocabulary": VOCABULARY, "staff": STAFF, "holidays": HOLIDAYS,
    "calendar": CALENDAR, "target": TARGET, "scale": SCALE, "sla": SLA, "rule": RULE, "rulebook": TOP_LEVEL,
    "origin": ORIGIN, "indicators": INDICATORS, "measure": MEASURE,
}


# -- JSON Schema ------------------------------------------------------------------------------

def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the rule file format, for editors."""
    from rules.actions import ACTIONS

    defs: dict[str, Any] = {name: _object(options) for name, options in SECTIONS.items()}
    defs["condition"] = {
        "description": "`field op value`, or a group any / all / not",
        "anyOf": [
            {"type": "string", "examples": ["status = Feedback", "priority in (High, Urgent)"]},
            {"type": "object", "properties": {"any": {"$ref": "#/$defs/conditions"}}, "required": ["any"],
             "additionalProperties": False},
            {"type": "object", "properties": {"all": {"$ref": "#/$defs/conditions"}}, "required": ["all"],
             "additionalProperties": False},
            {"type": "object", "properties": {"not": {"$ref": "#/$defs/conditions"}}, "required": ["not"],
             "additionalProperties": False},
        ],
    }
    defs["range"] = {"type": "string", "pattern": r"^\d\d:\d\d-\d\d:\d\d$", "examples": ["09:00-13:00"]}
    defs["conditions"] = {"anyOf": [{"$ref": "#/$defs/condition"},
                                    {"type": "array", "items": {"$ref": "#/$defs/condition"}}]}
    trigger = {"anyOf": [{"enum": list(TRIGGERS)},
                         {"type": "object", "properties": {"schedule": {
                             "type": "string", "description": "cron expression: minute hour day month weekday"}},
                          "required": ["schedule"], "additionalProperties": False}]}
    defs["triggers"] = {"anyOf": [trigger, {"type": "array", "items": trigger, "minItems": 1}]}
    defs["action"] = {"oneOf": [
        {"type": "object", "description": spec.summary, "additionalProperties": False, "required": [name],
         "properties": {name: _object(spec.options) if spec.options is not None else {
             "type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}}}
        for name, spec in ACTIONS.items()
    ]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ticketwarden.invalid/schema/rulebook.schema.json",
        "title": "ticketwarden rulebook",
        "$ref": "#/$defs/rulebook",
        "$defs": defs,
    }


def _object(options: Mapping[str, Option]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [key for key, option in options.items() if option.required],
        "properties": {key: _property(option) for key, option in options.items()},
    }


def _property(option: Option) -> dict[str, Any]:
    simple: dict[str, dict[str, Any]] = {
        "text": {"type": "string"}, "template": {"type": "string"}, "bool": {"type": "boolean"},
        "int": {"type": "integer"}, "mapping": {"type": "object"},
        "list": {"type": "array", "items": {"type": ["string", "integer"]}},
        "duration": {"type": "string", "pattern": DURATION_PATTERN},
        "span": {"type": "string", "pattern": SPAN_PATTERN},
        "number": {"type": "number"},
        "scales": {"type": "array", "items": {"$ref": "#/$defs/scale"}},
        "text-or-list": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "conditions": {"$ref": "#/$defs/conditions"},
        "triggers": {"$ref": "#/$defs/triggers"},
        "actions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/action"}},
        "targets": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/target"}},
        "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
        "calendars": {"type": "object", "additionalProperties": {"$ref": "#/$defs/calendar"}},
        "slas": {"type": "object", "additionalProperties": {"$ref": "#/$defs/sla"}},
        "fields": {"type": "object", "additionalProperties": {
            "anyOf": [{"type": ["string", "integer"]}, {"$ref": "#/$defs/field"}]}},
        "hours": {"anyOf": [{"const": "24x7"}, {"type": "object", "additionalProperties": {"anyOf": [
            {"$ref": "#/$defs/range"}, {"type": "array", "items": {"$ref": "#/$defs/range"}}]}}]},
    }
    if option.type == "enum":
        schema: dict[str, Any] = {"enum": list(option.choices)}
    elif option.type.startswith("section:"):
        schema = {"$ref": f"#/$defs/{option.type.split(':', 1)[1]}"}
    else:
        schema = dict(simple[option.type])
    if option.doc:
        schema["description"] = option.doc
    if option.default not in (None, [], {}):
        schema["default"] = option.default
    return schema
