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
from rules.durations import DURATION_PATTERN, DURATION_TEXT, SPAN_PATTERN
from rules.suggest import did_you_mean

TRIGGERS = (
    "ticket.created", "ticket.updated", "ticket.commented", "ticket.closed", "ticket.reopened",
    "sla.started", "sla.warning", "sla.breached", "sla.met",
    "development.updated", "development.resolved",
    "record.reminder", "record.overdue", "record.review_due", "survey.answered",
)
LOCALES = ("en", "es")
TRACKER_KINDS = ("redmine", "jira")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Text forms as the JSON Schema gives them to editors (the loader checks the same forms itself).
DATE_PATTERN = r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$"
DAY_OF_YEAR_PATTERN = r"^(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$"
RANGE_PATTERN = r"^(?:[01]\d|2[0-3]):[0-5]\d-(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$"
WARN_AT_PATTERN = rf"^\s*(?:\d+(?:\.\d+)?%|{DURATION_TEXT})\s*$"
_DATES = {"items": {"type": "string", "pattern": DATE_PATTERN}}


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
    schema: Mapping[str, Any] | None = None  # more JSON Schema for editors (a pattern, bounds); not read here


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


# Keys other tools use for ours: the closest spelling would mislead (`when` is not `then`).
_ALIASES = {"when": "if", "conditions": "if", "condition": "if", "actions": "then", "do": "then",
            "trigger": "on", "triggers": "on", "events": "on", "true": "on"}


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
            likely = f": did you mean {_ALIASES[key]!r}?" if _ALIASES.get(key) in options \
                else did_you_mean(str(key), options)
            where.child(value, key).error(f"unknown key{likely} (expected one of: "
                                          f"{', '.join(options)}){hint}")
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
    "labels": Option("list", doc="labels (Jira) conditions and actions may use; when given, others are errors"),
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
ROLE = {
    "description": Option("text", default="", doc="what the role may do"),
    "logins": Option("list", default=[], doc="logins of its holders (Jira Cloud: accountIds)"),
    "groups": Option("list", default=[], doc="groups whose members hold it (e.g. `change-board`)"),
    "roles": Option("list", default=[], doc="project roles that give it (Redmine roles, Jira project roles)"),
    "email_domains": Option("list", default=[], doc="e-mail domains of its holders (not on Jira Cloud)"),
}
HOLIDAYS = {
    "country": Option("text", doc="ISO country code for the `holidays` package", example="AR",
                      schema={"pattern": r"^[A-Z]{2,3}$"}),
    "subdivision": Option("text", doc="state or province code", example="B"),
    "dates": Option("list", default=[], doc="extra holidays, YYYY-MM-DD", schema=_DATES),
    "yearly": Option("list", default=[], doc="holidays every year, MM-DD",
                     schema={"items": {"type": "string", "pattern": DAY_OF_YEAR_PATTERN}}),
    "except": Option("list", default=[], doc="days of the country's list that are worked here, YYYY-MM-DD "
                     "(an optional or bridge holiday)", schema=_DATES),
}
CALENDAR = {
    "timezone": Option("text", required=True, doc="IANA time zone", example="America/Argentina/Buenos_Aires"),
    "hours": Option("hours", required=True,
                    doc="`24x7`, or weekday (or range such as mon-fri) -> list of HH:MM-HH:MM"),
    "holidays": Option("section:holidays", doc="days without working hours"),
    "special": Option("mapping", doc="days with hours of their own: YYYY-MM-DD (that day) or MM-DD (every "
                      "year) -> list of HH:MM-HH:MM, `[]` for none; they replace the weekday's hours and holidays",
                      example='{"12-24": ["09:00-13:00"], "2026-12-05": ["09:00-13:00"]}',
                      schema={"propertyNames": {"type": "string", "pattern": f"{DATE_PATTERN}|{DAY_OF_YEAR_PATTERN}"},
                              "additionalProperties": {"$ref": "#/$defs/ranges"}}),
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
                     example="0.5", schema={"exclusiveMinimum": 0, "maximum": 100}),
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
    "warn_at": Option("text", default="80%", doc="a fraction of the target (80%) or a duration before due (1h)",
                      schema={"pattern": WARN_AT_PATTERN}),
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
                         "third-party, infrastructure, unknown)", schema={"minProperties": 1}),
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
    "targets": Option("mapping", default={}, doc="figure -> target the monthly review checks, such as "
                      "`sla_compliance.resolution: \">= 95%\"` or `breaches: \"<= 5\"`",
                      example='{"sla_compliance.resolution": ">= 95%"}'),
}
REDACTION = {
    "patterns": Option("list", default=["passwords", "tokens"],
                       doc="built-in kinds to hide: `passwords`, `tokens` (or `secrets`), `emails`, `credit_cards`; "
                           "`[]` hides none of them",
                       schema={"items": {"enum": ["passwords", "tokens", "secrets", "emails", "credit_cards"]}}),
    "custom": Option("mapping", default={}, doc="your own: name -> regular expression (a group named `secret` "
                                               "hides only that part)", example='{contract: "CT-\\d{8}"}',
                     schema={"propertyNames": {"pattern": r"^[A-Za-z_][\w-]*$"},
                             "additionalProperties": {"type": "string", "minLength": 1}}),
    "replacement": Option("text", doc="what a hidden value becomes; `{name}` names the kind (default: "
                                      "`[redacted: {name}]`, in Spanish `[oculto: {name}]`)"),
}
MEASURE_WINDOWS = ("previous_month", "this_month")
WINDOW_PATTERN = rf"^(?:{'|'.join(MEASURE_WINDOWS)})$|^\s*{DURATION_TEXT}\s*$"
REPORT_GROUPS = ("team", "customer", "priority", "month")  # a report's columns: one per group
MEASURE_GROUPS = ("team", "customer", "priority", "origin", "project", "all")
MEASURE = {
    "window": Option("text", default="30d", doc="incidents created in the last DURATION before the run "
                                                "(30d), or `previous_month` / `this_month`",
                     schema={"pattern": WINDOW_PATTERN}),
    "by": Option("enum", default="team", choices=MEASURE_GROUPS,
                 doc="one evaluation of the rule per group (`all`: one for everything)"),
}
RULE = {
    "name": Option("text", required=True, doc="unique name; part of every effect's idempotency key",
                   schema={"pattern": r"\S"}),
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
    "chain_limit": Option("int", default=10, doc="how many times rules may react to each other's changes",
                          schema={"minimum": 1, "maximum": 100}),
    "fields": Option("fields", default={}, doc="logical field name -> tracker field"),
    "vocabulary": Option("section:vocabulary", doc="names conditions and actions may use"),
    "staff": Option("section:staff", doc="who counts as staff (everyone else is a customer)"),
    "roles": Option("roles", default={}, doc="roles of your own by name (an `approver`), held by logins, groups, "
                                             "project roles or e-mail domains; conditions test them as "
                                             "`actor_role = approver`"),
    "calendars": Option("calendars", default={}, doc="business calendars by name"),
    "sla": Option("slas", default={}, doc="SLA policies by name"),
    "origin": Option("section:origin", doc="failure origin: its field and controlled vocabulary"),
    "indicators": Option("section:indicators", doc="what measures and reports count"),
    "redaction": Option("section:redaction", doc="customer property: what is hidden in what ticketwarden copies out "
                                                 "of a ticket (default: passwords and tokens)"),
    "messages": Option("mapping", default={}, doc="your own wording of ticketwarden's texts: language -> "
                                                 "message name -> text (docs/messages.md lists them)"),
    "rules": Option("rules", default=[], doc="the rules, in order"),
}
SECTIONS: dict[str, Mapping[str, Option]] = {
    "field": FIELD, "vocabulary": VOCABULARY, "staff": STAFF, "role": ROLE, "holidays": HOLIDAYS,
    "calendar": CALENDAR, "target": TARGET, "scale": SCALE, "sla": SLA, "rule": RULE, "rulebook": TOP_LEVEL,
    "origin": ORIGIN, "indicators": INDICATORS, "measure": MEASURE, "redaction": REDACTION,
}


# -- JSON Schema ------------------------------------------------------------------------------

# A condition: a field, then an operator and what it takes, as rules.conditions reads them.
_CONDITION_REST = (
    r"\s+(?:is\s+not\s+empty|is\s+empty|changed)\s*$",
    r"\s+(?:not\s+)?in\s*\(\s*[^\s)]",
    r"\s+(?:changed_to|changed_from)(?![=<>~!])\s*\S",
    r"\s+(?:contains|added|removed)\s+\S",
    r"\s*(?:~=|!=|<=|>=|=|<|>)(?![=<>~!])\s*\S",
)
CONDITION_PATTERN = rf"^\s*[A-Za-z_][^\s=<>~!(]*(?:{'|'.join(_CONDITION_REST)})"
# YAML splits `[tracker in (Incident, Support)]` at the comma and the loader glues the pieces
# back, so after a list's first item a piece without an operator passes too.
CONDITION_PIECE_PATTERN = rf"{CONDITION_PATTERN}|^\s*[^\s=<>~!][^=<>~!]*$"
CRON_PATTERN = r"^\s*[0-9A-Za-z*/,-]+(?:\s+[0-9A-Za-z*/,-]+){4}\s*$"
FIELD_NAME_PATTERN = r"^[A-Za-z_](?:\w|[^\x00-\x7f])*$"
_FIELD_NAME = {"type": "string", "pattern": FIELD_NAME_PATTERN}
ROLE_NAME_PATTERN = r"^[A-Za-z_][\w-]*$"  # `approver`, `change-manager`: a value conditions can compare
GROUPS = ("any", "all", "not")


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the rule file format, for editors.

    As strict as the loader can be without the tracker, and built so that a mistake is reported
    at its own key: an action is a mapping whose one key picks that action's schema (not one
    of several alternatives, which could only say that none matched), and the same goes for a
    condition group. Editors that read draft-07 (the YAML language server) ignore only
    `prefixItems`, which makes them laxer about a list's first condition, never stricter.
    """
    defs: dict[str, Any] = {name: _object(options) for name, options in SECTIONS.items()}
    defs["field"]["anyOf"] = [{"required": [kind], "properties": {kind: {"minLength": 1}}}
                              for kind in TRACKER_KINDS]
    defs["rulebook"]["properties"]["messages"].update(_messages())
    defs["rulebook"]["patternProperties"] = {"^x-": {"description": "ignored: a place for YAML anchors to reuse"}}
    defs["rule"]["allOf"] = _scheduled_rule()
    defs.update(_condition_defs())
    defs.update(_trigger_defs())
    defs["range"] = {"type": "string", "pattern": RANGE_PATTERN, "examples": ["09:00-13:00"],
                     "patternErrorMessage": "a range HH:MM-HH:MM, such as 09:00-13:00"}
    defs["ranges"] = {"type": ["string", "array"], "pattern": RANGE_PATTERN, "items": {"$ref": "#/$defs/range"},
                      "patternErrorMessage": "a range HH:MM-HH:MM, such as 09:00-13:00"}
    defs["action"] = _action_def()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ticketwarden.invalid/schema/rulebook.schema.json",
        "title": "ticketwarden rulebook",
        "$ref": "#/$defs/rulebook",
        "$defs": defs,
    }


def _condition(pattern: str, types: tuple[str, ...] = ("string", "object")) -> dict[str, Any]:
    """A condition string or a group {any|all|not: ...}: one schema, each keyword applying to
    its own type, so a wrong condition is reported as such (not as a failed alternative)."""
    return {
        "type": list(types),
        "description": "`field operator value` (e.g. `status = Feedback`), or a group any / all / not",
        "examples": ["status = Feedback", "priority in (High, Urgent)"],
        "pattern": pattern,
        "patternErrorMessage": "a condition `field operator value`: = != < <= > >= ~= in (...) not in (...) "
                               "is empty, is not empty, changed, changed_to, changed_from, contains, added, removed",
        "minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": list(GROUPS)},
        "properties": {group: {"$ref": "#/$defs/group"} for group in GROUPS},
    }


def _condition_defs() -> dict[str, Any]:
    """`condition`, a list's later items (`condition_piece`), `conditions` (one, a list, or
    none) and a group's `group` (one, or a list of at least one)."""
    in_list = {"prefixItems": [{"$ref": "#/$defs/condition"}], "items": {"$ref": "#/$defs/condition_piece"}}
    return {
        "condition": _condition(CONDITION_PATTERN),
        "condition_piece": _condition(CONDITION_PIECE_PATTERN),
        "conditions": {**_condition(CONDITION_PATTERN, ("string", "object", "array", "null")), **in_list},
        "group": {**_condition(CONDITION_PATTERN, ("string", "object", "array")), **in_list, "minItems": 1},
    }


def _trigger_defs() -> dict[str, Any]:
    schedule = {"type": "object", "additionalProperties": False, "required": ["schedule"],
                "properties": {"schedule": {"type": "string", "pattern": CRON_PATTERN, "examples": ["0 9 * * mon-fri"],
                                            "description": "cron: minute hour day month weekday, UTC",
                                            "patternErrorMessage": "five cron fields: minute hour day month weekday"}}}
    trigger = {"anyOf": [{"type": "string", "enum": list(TRIGGERS)}, {"$ref": "#/$defs/schedule"}]}
    return {"schedule": schedule, "trigger": trigger,
            "triggers": {"anyOf": [{"$ref": "#/$defs/trigger"},
                                   {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/trigger"}}]}}


def _scheduled_rule() -> list[dict[str, Any]]:
    """What the loader refuses in a rule run only on a schedule, reported at the key concerned:
    a measured rule runs on a schedule only; with no ticket, a rule tests no conditions (a
    measured rule tests its measures) and takes only actions that need no ticket."""
    from rules.actions import ACTIONS

    schedules_only = {"anyOf": [{"$ref": "#/$defs/schedule"},
                                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/schedule"}}]}
    scheduled = {"required": ["on"], "properties": {"on": {"anyOf": [
        {"type": "object"}, {"type": "array", "minItems": 1, "items": {"type": "object"}}]}}}
    ticketless = [name for name, spec in ACTIONS.items() if not spec.needs_ticket]
    return [
        {"if": {"required": ["measure"]}, "then": {"properties": {"on": schedules_only}}},
        {"if": scheduled, "then": {"properties": {"then": {"items": {"propertyNames": {"enum": ticketless}}}}}},
        {"if": {**scheduled, "not": {"required": ["measure"]}},
         "then": {"properties": {"if": {"type": ["array", "null"], "maxItems": 0}}}},
    ]


def _action_def() -> dict[str, Any]:
    """An action: a mapping with one key, the action's name, whose value that action's schema
    checks; a mistake inside it is reported at the action's key."""
    from rules.actions import ACTIONS

    return {
        "type": "object", "description": "an action: a mapping with one key, the action's name",
        "minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": list(ACTIONS)},
        "properties": {name: _action(spec.summary, spec.options) for name, spec in ACTIONS.items()},
    }


def _action(summary: str, options: Mapping[str, Option] | None) -> dict[str, Any]:
    if options is None:  # `set`: logical or standard field -> value
        from rules.actions.set_fields import STANDARD_DOCS

        value = {"type": ["string", "number", "boolean", "null"]}
        return {"type": "object", "description": summary, "minProperties": 1,
                "propertyNames": _FIELD_NAME,
                "properties": {name: {**value, "description": doc} for name, doc in STANDARD_DOCS.items()},
                "additionalProperties": value}
    schema = {**_object(options), "description": summary}
    if not schema["required"]:  # every option has a default: the action may stand bare (`- survey:`)
        schema["type"] = ["object", "null"]
    return schema


def _messages() -> dict[str, Any]:
    """`messages`: language -> message name -> a non-empty text."""
    from rules.messages import MESSAGES

    text = {"type": "string", "pattern": r"\S"}
    return {"propertyNames": {"enum": list(LOCALES)}, "additionalProperties": {
        "type": "object", "propertyNames": {"enum": list(MESSAGES["en"])}, "additionalProperties": text}}


def _weekday_keys() -> str:
    """`mon`, `Mon-Fri`: a weekday, or a range of them that runs forward (in any case)."""
    def any_case(day: str) -> str:
        return "".join(f"[{char}{char.upper()}]" for char in day)

    days = [any_case(day) for day in WEEKDAYS]
    return "^(?:" + "|".join(f"{day}(?:-(?:{'|'.join(days[index:])}))?" for index, day in enumerate(days)) + ")$"


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
        "duration": {"type": "string", "pattern": DURATION_PATTERN,
                     "patternErrorMessage": "a duration such as 90s, 45m, 4h, 1h30m, 3d, 2w"},
        "span": {"type": "string", "pattern": SPAN_PATTERN,
                 "patternErrorMessage": "a duration such as 4h or 1h30m, or business days such as 3bd"},
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
        "roles": {"type": "object", "propertyNames": {"type": "string", "pattern": ROLE_NAME_PATTERN,
                                                      "not": {"enum": ["staff", "customer"]}},
                  "additionalProperties": {"$ref": "#/$defs/role"}},
        "fields": {"type": "object", "propertyNames": _FIELD_NAME, "additionalProperties": {
            "anyOf": [{"type": ["string", "integer"]}, {"$ref": "#/$defs/field"}]}},
        "hours": {"anyOf": [{"type": "string", "const": "24x7"}, {"type": "object", "minProperties": 1,
                                                "propertyNames": {"type": "string", "pattern": _weekday_keys()},
                                                "additionalProperties": {"$ref": "#/$defs/ranges"}}]},
    }
    if option.type == "enum":
        schema: dict[str, Any] = {"enum": list(option.choices)}
    elif option.type.startswith("section:"):
        schema = {"$ref": f"#/$defs/{option.type.split(':', 1)[1]}"}
    else:
        schema = dict(simple[option.type])
    schema.update(option.schema or {})
    if option.doc:
        schema["description"] = option.doc
    if option.default not in (None, [], {}):
        schema["default"] = option.default
    return schema
