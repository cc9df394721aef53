"""Rulebook loading: YAML text in, a validated Rulebook out, or every error at once.

Takes (file name, text) pairs so it stays pure; reading a directory is the application's job.
All files of one rulebook share one namespace: rule, field, calendar and SLA names are unique
across them, and references between them (an SLA's calendar, a rule's channel) are checked.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules.actions import ACTIONS, ActionSpec, CompileContext, context_reads
from rules.calendar import BusinessCalendar
from rules.conditions import ConditionContext, ConditionSyntaxError, Group, Node, parse_condition
from rules.context import Where
from rules.cron import CronError, parse_cron
from rules.durations import BusinessDays, DurationError, format_duration, parse_duration, parse_span
from rules.errors import RulebookInvalid, RuleError
from rules.interactions import report_cycles
from rules.messages import LOCALES, MESSAGES, Messages, placeholders
from rules.people import BUILT_IN_ROLES, NamedRole, StaffDefinition
from rules.redaction import DEFAULT as DEFAULT_REDACTION
from rules.redaction import Redactor, compile_redaction
from rules.schema import (
    CALENDAR,
    DEFAULT_ORIGINS,
    FIELD,
    HOLIDAYS,
    INDICATORS,
    MEASURE,
    MEASURE_WINDOWS,
    ORIGIN,
    ROLE,
    ROLE_NAME_PATTERN,
    RULE,
    SCALE,
    SLA,
    STAFF,
    TARGET,
    TOP_LEVEL,
    TRACKER_KINDS,
    TRIGGERS,
    VOCABULARY,
    WEEKDAYS,
    check_options,
    read_options,
)
from rules.source import MappingNode, SequenceNode, YamlSyntaxError, parse_yaml, tab_lines, without_tabs
from rules.suggest import did_you_mean
from rules.templates import READS_NOTHING, Reads

DEFAULT_CHAIN_LIMIT = 10
TRIGGER_SETS = 256  # distinct event trigger sets whose triggered rules a rulebook keeps
TRACKER_KINDS_KEPT = 16  # tracker kinds whose field references a rulebook keeps
TICKET_FIELDS_FOR_SCHEDULE = ("actor", "actor_role", "comment", "comment_visibility", "sla.policy")


@dataclass(frozen=True)
class CompiledAction:
    spec: ActionSpec
    compiled: Any
    line: int


@dataclass(frozen=True)
class Measure:
    """A measured rule's window and grouping: it runs once per group of incidents."""

    window: timedelta | None  # None: a calendar month (see `month`)
    month: str | None  # previous_month | this_month
    by: str


@dataclass(frozen=True)
class OriginPolicy:
    """The failure-origin field and its controlled vocabulary (value -> meaning)."""

    field: str
    values: Mapping[str, str]
    internal: tuple[str, ...] = ("internal",)
    unclassified: tuple[str, ...] = ("unknown",)

    def classified(self, value: str | None) -> bool:
        return bool(value) and str(value).casefold() not in {v.casefold() for v in self.unclassified}

    def is_internal(self, value: str | None) -> bool:
        return bool(value) and str(value).casefold() in {v.casefold() for v in self.internal}


@dataclass(frozen=True)
class Indicators:
    """What counts: which tickets are customer-reported incidents, and who their team and
    customer are."""

    incidents: tuple[Node, ...] = ()
    team: str | None = None  # logical field
    customer: str = "author"  # author | project | a logical field
    first_response: str | None = None  # SLA policies timing first response and resolution
    resolution: str | None = None
    targets: Mapping[str, str] = field(default_factory=dict)  # figure -> ">= 95%": the review's targets


def measure_names(origin: OriginPolicy | None) -> tuple[str, ...]:
    """The names a measured rule's conditions and templates may use."""
    names = ["group", "incidents", "closed", "breached", "breached_share"]
    if origin is not None:
        names += ["internal", "internal_share", "unclassified", "unclassified_share"]
        for value in origin.values:
            names += [f"origin.{value}", f"share.{value}"]
    return tuple(names)


@dataclass(frozen=True)
class Rule:
    name: str
    triggers: frozenset[str]
    conditions: tuple[Node, ...]
    actions: tuple[CompiledAction, ...]
    file: str
    line: int
    enabled: bool = True
    description: str = ""
    schedules: tuple[str, ...] = ()
    measure: Measure | None = None

    @functools.cached_property
    def reads(self) -> Reads:
        """What of the template context (the ticket, the event, the SLA clocks, ...) planning
        the rule's actions may read, worked out once: what the rule cannot read is not made."""
        reads = READS_NOTHING
        for action in self.actions:
            reads |= context_reads(action.spec, action.compiled)
        return reads


@dataclass(frozen=True)
class Calendar:
    """A business calendar's declaration (its arithmetic lives with the SLA engine)."""

    name: str
    timezone: str
    hours: Mapping[str, tuple[tuple[time, time], ...]] | None  # weekday -> ranges; None = 24x7
    country: str | None = None
    subdivision: str | None = None
    dates: tuple[date, ...] = ()
    yearly: tuple[tuple[int, int], ...] = ()
    working_days: tuple[date, ...] = ()  # holidays of the country's list that are worked here
    special: tuple[tuple[date, tuple[tuple[time, time], ...]], ...] = ()  # that day's own hours
    special_yearly: tuple[tuple[tuple[int, int], tuple[tuple[time, time], ...]], ...] = ()  # (month, day)


@dataclass(frozen=True)
class Target:
    conditions: tuple[Node, ...]
    target: timedelta | BusinessDays
    calendar: str | None = None  # its own calendar; None: the policy's


@dataclass(frozen=True)
class Scale:
    """Tickets whose conditions hold get their target multiplied by `factor`."""

    conditions: tuple[Node, ...]
    factor: float


@dataclass(frozen=True)
class SlaPolicy:
    name: str
    calendar: str
    applies: tuple[Node, ...]
    start: tuple[Node, ...]
    pause: tuple[Node, ...]
    stop: tuple[Node, ...]
    targets: tuple[Target, ...]
    warn_fraction: float | None
    warn_before: timedelta | None
    reopen: str
    target_change: str
    description: str = ""
    quiet_hours: str | None = None
    scale: tuple[Scale, ...] = ()
    since: str = "applies"  # with no start conditions: "applies" (when it starts to apply) or "created"

    def calendar_of(self, choice: int | None) -> str:
        """The calendar a target runs on: its own, else the policy's."""
        if choice is not None and 0 <= choice < len(self.targets):
            return self.targets[choice].calendar or self.calendar
        return self.calendar


@dataclass(frozen=True)
class Rulebook:
    rules: tuple[Rule, ...]
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    locale: str = "en"
    files: tuple[str, ...] = ()
    version: str = ""
    vocabulary: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    field_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    staff: StaffDefinition = field(default_factory=StaffDefinition)
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    sla: Mapping[str, SlaPolicy] = field(default_factory=dict)
    chain_limit: int = DEFAULT_CHAIN_LIMIT
    origin: OriginPolicy | None = None
    indicators: Indicators = field(default_factory=Indicators)
    messages: Messages = field(default_factory=Messages)
    redaction: Redactor = DEFAULT_REDACTION  # what is hidden in what leaves a ticket (rules.redaction)
    # What loads but will likely not do what its author means, each at its file:line.
    warnings: tuple[RuleError, ...] = ()

    def field_refs(self, tracker_kind: str) -> dict[str, str | None]:
        """Logical field name -> this tracker's field reference (name or id), None if unmapped.
        Asked for several times an event: each tracker kind's is worked out once, and a copy
        given (the caller may change its own)."""
        refs = self._field_refs.get(tracker_kind)
        if refs is None:
            refs = {name: mapped.get(tracker_kind) for name, mapped in self.fields.items()}
            if len(self._field_refs) < TRACKER_KINDS_KEPT:
                self._field_refs[tracker_kind] = refs
        return dict(refs)

    @functools.cached_property
    def _field_refs(self) -> dict[str, dict[str, str | None]]:
        """`field_refs`' answers so far, by tracker kind."""
        return {}

    def origin_ref(self, tracker_kind: str) -> str | None:
        """This tracker's field holding the failure origin (None: origin not tracked or unmapped)."""
        return self.field_refs(tracker_kind).get(self.origin.field) if self.origin else None

    @property
    def calendar_zones(self) -> dict[str, str]:
        """Calendar name -> time zone (a copy: the caller may change its own)."""
        return dict(self._calendar_zones)

    @functools.cached_property
    def _calendar_zones(self) -> dict[str, str]:
        """`calendar_zones`, worked out once: every rule planned reads them."""
        return {name: calendar.timezone for name, calendar in self.calendars.items()}

    def rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def triggered(self, triggers: AbstractSet[str]) -> tuple[bool, ...]:
        """Whether each rule (in file order) is triggered by an event with these triggers. Asked
        for every event and chained change, of a handful of trigger sets: each set's answer is
        kept on the rulebook (at most TRIGGER_SETS of them; an immutable rulebook never changes it)."""
        key = triggers if isinstance(triggers, frozenset) else frozenset(triggers)
        known = self._triggered
        hits = known.get(key)
        if hits is None:
            hits = tuple(not rule.triggers.isdisjoint(key) for rule in self.rules)
            if len(known) < TRIGGER_SETS:
                known[key] = hits
        return hits

    @functools.cached_property
    def _triggered(self) -> dict[frozenset[str], tuple[bool, ...]]:
        """`triggered`'s answers so far (a new rulebook, `replace`d or loaded, starts empty)."""
        return {}


def rulebook_version(sources: Sequence[tuple[str, str]]) -> str:
    """A content hash naming this exact rulebook in audit records."""
    digest = hashlib.sha256()
    for name, text in sources:
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:12]


@dataclass
class _Merged:
    """Sections gathered across the files of one rulebook, before rules are compiled."""

    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    field_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    vocabulary: dict[str, tuple[str, ...]] = field(default_factory=dict)
    staff: dict[str, list[str]] = field(default_factory=dict)
    calendars: dict[str, tuple[Where, Any]] = field(default_factory=dict)
    slas: dict[str, tuple[Where, Any]] = field(default_factory=dict)
    locale: str | None = None
    chain_limit: int = DEFAULT_CHAIN_LIMIT
    once: dict[str, tuple[Where, Any]] = field(default_factory=dict)  # origin, indicators
    staff_by_email: Where | None = None  # where `staff: email_domains` is first given
    roles: dict[str, tuple[Where, Any]] = field(default_factory=dict)  # named roles


def load_rulebook(sources: Sequence[tuple[str, str]], channels: Iterable[str] | None = None,
                  environment_errors: bool = True) -> Rulebook:
    """Validate and compile one rulebook from its files; raise RulebookInvalid with all errors.

    `channels` are the notify channels configured where the rulebook will run; None when
    unknown (rule tests, replay), in which case channel names are not checked. What depends on
    the environment (channels) is an error where the rulebook runs (`serve`), and a warning
    with `environment_errors=False` (`check`, which may run elsewhere).
    """
    errors: list[RuleError] = []
    warnings: list[RuleError] = []
    documents = _parse_documents(sources, errors, warnings)
    merged = _Merged()
    for where, document in documents:
        _merge_sections(where, document, merged)

    origin = _compile_origin(merged)
    calendars = {name: calendar for name, (where, raw) in merged.calendars.items()
                 if (calendar := _compile_calendar(name, where, raw)) is not None}
    named_roles = _compile_roles(merged)
    condition_context = ConditionContext(
        custom_fields=merged.fields, vocabulary=merged.vocabulary, field_values=merged.field_values,
        sla_policies=tuple(merged.slas), roles=tuple(merged.roles),
        calendars={name: BusinessCalendar.from_calendar(calendar) for name, calendar in calendars.items()})
    indicators = _compile_indicators(merged, condition_context)
    messages = _compile_messages(merged)
    redaction = _compile_redaction(merged, messages)
    policies = {name: policy for name, (where, raw) in merged.slas.items()
                if (policy := _compile_sla(name, where, raw, merged, condition_context)) is not None}
    book = CompileContext(
        field_names=sorted(merged.fields), vocabulary=merged.vocabulary, field_values=merged.field_values,
        channels=frozenset(c.casefold() for c in channels) if channels is not None else None,
        environment_errors=environment_errors,
        calendar_zones={name: c.timezone for name, c in calendars.items()}, calendars=calendars,
        locale=merged.locale or "en", messages=messages)

    rules: list[Rule] = []
    seen_names: dict[str, str] = {}
    for where, document in documents:
        raw_rules = document.get("rules", [])
        rules_where = where.child(document, "rules")
        if not isinstance(raw_rules, list):
            rules_where.error("expected a list of rules")
            continue
        for index, raw in enumerate(raw_rules):
            rule = _compile_rule(rules_where.child(raw_rules, index), raw, condition_context, book, seen_names,
                                 measure_names(origin))
            if rule is not None:
                rules.append(rule)

    staff = StaffDefinition.from_section(merged.staff, named_roles)
    report_cycles(rules, staff, errors, warnings)
    if errors:
        order = {name: index for index, (name, _) in enumerate(sources)}
        raise RulebookInvalid(sorted(errors, key=lambda error: (order.get(error.file, 0), error.line)))
    return Rulebook(
        rules=tuple(rules), fields=merged.fields, locale=merged.locale or "en",
        files=tuple(name for name, _ in sources), version=rulebook_version(sources),
        vocabulary=merged.vocabulary, field_values=merged.field_values,
        staff=staff, calendars=calendars, sla=policies,
        chain_limit=merged.chain_limit, origin=origin, indicators=indicators, messages=messages,
        redaction=redaction, warnings=(*_staff_warnings(merged), *warnings))


def _staff_warnings(merged: _Merged) -> tuple[RuleError, ...]:
    """Staff told apart by e-mail alone, in a rulebook that may run on Jira: Jira Cloud sends no
    e-mail addresses (people carry an accountId), so there nobody would ever be staff, and a
    staff reply would never stop a first-response clock. A rulebook whose fields are mapped for
    Redmine only is left alone."""
    where = merged.staff_by_email
    if where is None or any(merged.staff.get(key) for key in ("logins", "groups", "roles")):
        return ()
    if merged.fields and not any("jira" in refs for refs in merged.fields.values()):
        return ()
    return (RuleError(where.file, where.line, where.path,
                      "staff are told apart by e-mail domain alone, and Jira Cloud sends no e-mail "
                      "addresses: on Jira Cloud nobody would be staff. Add `groups` or `roles` (Jira "
                      "groups, project roles such as Service Desk Team; Redmine roles), or `logins` "
                      "(Jira Cloud accountIds)"),)


def _parse_documents(sources: Sequence[tuple[str, str]], errors: list[RuleError],
                     warnings: list[RuleError] | None = None) -> list[tuple[Where, MappingNode]]:
    warnings = [] if warnings is None else warnings
    documents = []
    for file_name, text in sources:
        where = Where(file_name, 1, (), errors)
        tabbed = tab_lines(text)
        for line in tabbed:
            errors.append(RuleError(file_name, line, (), "indented with a tab: YAML needs spaces, not tabs "
                                                         "(set your editor to insert spaces)"))
        try:
            document = without_tabs(text) if tabbed else parse_yaml(text)  # the file's other mistakes too
        except YamlSyntaxError as exc:
            if not tabbed:
                errors.append(RuleError(file_name, exc.line, (), f"YAML syntax error: {exc.message}"))
            continue
        if document is None:
            where.error("the file is empty")
        elif not isinstance(document, MappingNode):
            Where(file_name, getattr(document, "line", 1), (), errors).error(
                "a rule file must be a mapping with `version` and `rules`")
        else:
            documents.append((Where(file_name, document.line, (), errors, warnings), document))
    return documents


# -- sections ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def _without_extensions(document: MappingNode) -> MappingNode:
    """Top-level keys starting with `x-` hold YAML anchors to reuse (`<<: *base`): ignored."""
    if not any(str(key).startswith("x-") for key in document):
        return document
    kept = MappingNode({key: value for key, value in document.items() if not str(key).startswith("x-")})
    kept.line, kept.key_lines = document.line, document.key_lines
    return kept


def _merge_sections(where: Where, document: MappingNode, merged: _Merged) -> None:
    read_options(TOP_LEVEL, _without_extensions(document), where)
    if "locale" in document and document["locale"] in TOP_LEVEL["locale"].choices:
        if merged.locale is not None and merged.locale != document["locale"]:
            where.child(document, "locale").error(
                f"locale {document['locale']!r} differs from {merged.locale!r} set in another file")
        merged.locale = document["locale"]
    if "chain_limit" in document:
        limit = document["chain_limit"]
        if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 100:
            merged.chain_limit = limit
        else:
            where.child(document, "chain_limit").error("expected a whole number from 1 to 100")
    _collect_fields(where, document, merged)
    _collect_roles(where, document, merged)
    for section in ("origin", "indicators", "messages", "redaction"):
        if section in document:
            if section in merged.once:
                first = merged.once[section][0]
                where.child(document, section).error(
                    f"section {section!r} is defined twice (first at {first.file}:{first.line})")
            else:
                merged.once[section] = (where.child(document, section), document[section])
    for section, options in (("vocabulary", VOCABULARY), ("staff", STAFF)):
        if section in document:
            values = read_options(options, document[section], where.child(document, section)) or {}
            target: dict[str, Any] = merged.vocabulary if section == "vocabulary" else merged.staff
            for key, items in values.items():
                if items and key in options:
                    target[key] = tuple(dict.fromkeys([*target.get(key, ()), *map(str, items)]))
            if section == "staff" and values.get("email_domains") and merged.staff_by_email is None:
                here = where.child(document, section)
                merged.staff_by_email = here.child(document[section], "email_domains")
    for section, store in (("calendars", merged.calendars), ("sla", merged.slas)):
        raw = document.get(section)
        if raw is None:
            continue
        here = where.child(document, section)
        if not isinstance(raw, dict):
            noun = "calendar" if section == "calendars" else "policy"
            here.error(f"expected a mapping of {noun} name → definition")
            continue
        for name, definition in raw.items():
            if name in store:
                here.child(raw, name).error(f"{section[:-1] if section == 'calendars' else 'SLA policy'} "
                                            f"{name!r} is defined twice")
            else:
                store[name] = (here.child(raw, name), definition)


def _collect_fields(where: Where, document: MappingNode, merged: _Merged) -> None:
    raw = document.get("fields")
    if raw is None:
        return
    fields_where = where.child(document, "fields")
    if not isinstance(raw, dict):
        fields_where.error("expected a mapping of logical name → tracker field")
        return
    for name, refs in raw.items():
        here = fields_where.child(raw, name)
        if name in merged.fields:
            here.error(f"field {name!r} is defined twice in this rulebook")
            continue
        if not re.match(r"^[A-Za-z_]\w*$", str(name)):
            here.error(f"field name {name!r} must be a word (letters, digits, _)")
            continue
        if isinstance(refs, (str, int)) and not isinstance(refs, bool):
            merged.fields[name] = {kind: str(refs) for kind in TRACKER_KINDS}
            continue
        options = check_options(FIELD, refs, here) if isinstance(refs, dict) else None
        if options is None:
            if not isinstance(refs, dict):
                here.error("expected a tracker field name or id, or a mapping {redmine: ..., jira: ...}")
            continue
        mapped = {kind: str(options[kind]) for kind in TRACKER_KINDS if options.get(kind) not in (None, "")}
        if not mapped:
            here.error("map the field for at least one tracker (redmine or jira)")
            continue
        merged.fields[name] = mapped
        if options.get("values"):
            merged.field_values[name] = tuple(map(str, options["values"]))


def _collect_roles(where: Where, document: MappingNode, merged: _Merged) -> None:
    """`roles`: name -> who holds it; names are unique across the rulebook's files."""
    raw = document.get("roles")
    if raw is None:
        return
    here = where.child(document, "roles")
    if not isinstance(raw, dict):
        here.error("expected a mapping of role name → {logins, groups, roles, email_domains}")
        return
    for name, definition in raw.items():
        item = here.child(raw, name)
        if name in merged.roles:
            first = merged.roles[name][0]
            item.error(f"role {name!r} is defined twice (first at {first.file}:{first.line})")
        elif str(name).casefold() in BUILT_IN_ROLES:
            item.error(f"{name!r} is a built-in role, from the `staff` section: name your role otherwise")
        elif not re.match(ROLE_NAME_PATTERN, str(name)):
            item.error(f"role name {name!r} must be a word (letters, digits, _ and -)")
        else:
            merged.roles[str(name)] = (item, definition)


def _compile_roles(merged: _Merged) -> tuple[NamedRole, ...]:
    """The named roles; one that names nobody would never hold, so it is an error."""
    roles = []
    for name, (where, raw) in merged.roles.items():
        options = check_options(ROLE, raw, where)
        if options is None:
            continue
        if not any(options[key] for key in ("logins", "groups", "roles", "email_domains")):
            where.error(f"role {name!r} names nobody: give its logins, groups, roles or email_domains")
            continue
        roles.append(NamedRole.from_section(name, options))
    return tuple(roles)


def _compile_origin(merged: _Merged) -> OriginPolicy | None:
    """The failure-origin policy: from an `origin` section, or the defaults when the rulebook
    maps a field called `origin`. Its vocabulary becomes the field's allowed values."""
    if "origin" not in merged.once:
        if "origin" not in merged.fields:
            return None
        if "origin" in merged.field_values:  # the field lists its own values: they are the vocabulary
            return OriginPolicy("origin", {v: DEFAULT_ORIGINS.get(v, "") for v in merged.field_values["origin"]})
        merged.field_values["origin"] = tuple(DEFAULT_ORIGINS)
        return OriginPolicy("origin", dict(DEFAULT_ORIGINS))
    where, raw = merged.once["origin"]
    before = len(where.errors)
    options = read_options(ORIGIN, raw, where)
    if options is None:
        return None
    name = str(options["field"])
    if name not in merged.fields:
        (where.child(raw, "field") if "field" in raw else where).error(
            f"origin field {name!r} is not declared in `fields`")
    values = options["values"]
    if not isinstance(values, dict) or not values:
        values = dict(DEFAULT_ORIGINS)
        where.child(raw, "values").error("expected a mapping of value -> meaning, with at least one value")
    values = {str(value): str(meaning or "") for value, meaning in values.items()}
    folded = {value.casefold() for value in values}
    for key in ("internal", "unclassified"):
        items = options[key] if isinstance(options[key], list) else []
        for index, item in enumerate(items):
            if str(item).casefold() not in folded:
                where.child(raw, key).child(items, index).error(
                    f"{item!r} is not one of the origin values ({', '.join(values)})")
    declared = merged.field_values.get(name)
    if declared and {v.casefold() for v in declared} != folded:
        where.child(raw, "values").error(
            f"the origin values differ from those declared on field {name!r} ({', '.join(declared)})")
    if len(where.errors) > before:
        return None
    merged.field_values[name] = tuple(values)
    return OriginPolicy(name, values, tuple(map(str, options["internal"])), tuple(map(str, options["unclassified"])))


def _compile_redaction(merged: _Merged, messages: Messages) -> Redactor:
    """What is hidden in what leaves a ticket, its markers in the rulebook's language: passwords
    and tokens unless a `redaction` section says otherwise."""
    locale = merged.locale or "en"
    if "redaction" not in merged.once:
        return DEFAULT_REDACTION if locale == "en" and not messages.overrides else \
            compile_redaction(Where("", 1), {}, locale, messages) or DEFAULT_REDACTION
    where, raw = merged.once["redaction"]
    return compile_redaction(where, raw, locale, messages) or DEFAULT_REDACTION


def _compile_messages(merged: _Merged) -> Messages:
    """The rulebook's own wording: known languages and message names, the same placeholders."""
    if "messages" not in merged.once:
        return Messages()
    where, raw = merged.once["messages"]
    if not isinstance(raw, dict):
        where.error("expected a mapping of language -> {message name: text}")
        return Messages()
    overrides: dict[str, dict[str, str]] = {}
    for language, texts in raw.items():
        here = where.child(raw, language)
        if language not in LOCALES:
            here.error(f"unknown language {language!r} (expected one of: {', '.join(LOCALES)})")
            continue
        if not isinstance(texts, dict):
            here.error("expected a mapping of message name -> text")
            continue
        for name, text in texts.items():
            item = here.child(texts, name)
            if name not in MESSAGES["en"]:
                close = ", ".join(n for n in MESSAGES["en"] if n.split(".")[0] == str(name).split(".")[0]) or \
                    "see docs/messages.md"
                item.error(f"unknown message {name!r} (known: {close})")
            elif not isinstance(text, str) or not text.strip():
                item.error("expected a non-empty text")
            elif placeholders(text) != placeholders(MESSAGES["en"][name]):
                wanted = ", ".join(f"{{{p}}}" for p in sorted(placeholders(MESSAGES["en"][name]))) or "none"
                item.error(f"the text must use exactly the placeholders {wanted}")
            else:
                overrides.setdefault(str(language), {})[str(name)] = text
    return Messages(overrides)


def _compile_indicators(merged: _Merged, context: ConditionContext) -> Indicators:
    team = "team" if "team" in merged.fields else None
    timers: dict[str, str | None] = {key: str(INDICATORS[key].default) if INDICATORS[key].default in merged.slas
                                     else None for key in ("first_response", "resolution")}
    if "indicators" not in merged.once:
        return Indicators(team=team, first_response=timers["first_response"], resolution=timers["resolution"])
    where, raw = merged.once["indicators"]
    options = read_options(INDICATORS, raw, where)
    if options is None:
        return Indicators(team=team, first_response=timers["first_response"], resolution=timers["resolution"])
    for key in timers:
        if key in raw:
            timers[key] = str(options[key])
            if timers[key] not in merged.slas:
                where.child(raw, key).error(f"SLA policy {timers[key]!r} is not defined in `sla`")
    incidents = _compile_conditions(where.child(raw, "incidents"), raw.get("incidents"), context)
    if "team" in raw:
        team = str(options["team"])
        if team not in merged.fields:
            where.child(raw, "team").error(f"team field {team!r} is not declared in `fields`")
    customer = str(options["customer"])
    if customer not in ("author", "project") and customer not in merged.fields:
        where.child(raw, "customer").error(
            f"customer must be `author`, `project` or a field declared in `fields`; got {customer!r}")
    targets = _compile_indicator_targets(where.child(raw, "targets"), options.get("targets") or {}, merged)
    return Indicators(incidents, team, customer, timers["first_response"], timers["resolution"], targets)


REPORT_FIGURES = ("incidents", "internal", "internal_rate", "unclassified", "unclassified_rate", "breaches",
                  "first_response_median_hours", "first_response_p90_hours", "resolution_median_hours",
                  "resolution_p90_hours", "escalations", "nonconformities_opened", "nonconformities_closed",
                  "nonconformities_overdue", "observations_opened", "observations_closed", "observations_overdue",
                  "satisfaction_answers", "satisfaction_average")
# An indicator target: a comparison and a number, a percentage or not (`>= 95%`, `<= 5`).
INDICATOR_TARGET = re.compile(r"^\s*(?P<op><=|>=|<|>|=)\s*(?P<value>-?\d+(?:\.\d+)?)\s*%?\s*$")


def _compile_indicator_targets(where: Where, raw: Any, merged: _Merged) -> dict[str, str]:
    """`targets: {breaches: "<= 5", sla_compliance.resolution: ">= 95%"}`: figures the monthly
    review says are met or missed."""
    if not isinstance(raw, dict):
        where.error("expected a mapping of figure: target such as \">= 95%\"")
        return {}
    known = [*REPORT_FIGURES, *(f"sla_compliance.{policy}" for policy in merged.slas)]
    targets = {}
    for name, wanted in raw.items():
        here = where.child(raw, name)
        if name not in known:
            here.error(f"unknown figure {name!r}{did_you_mean(str(name), known)} (figures: {', '.join(known)})")
        elif not isinstance(wanted, (str, int, float)) or not INDICATOR_TARGET.match(str(wanted)):
            here.error(f"target {wanted!r}: expected a comparison and a number, such as \">= 95%\" or \"<= 5\"")
        else:
            targets[str(name)] = str(wanted)
    return targets


_RANGE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def _compile_calendar(name: str, where: Where, raw: Any) -> Calendar | None:
    before = len(where.errors)
    options = read_options(CALENDAR, raw, where)
    if options is None:
        return None
    if options["timezone"] is not None:
        try:
            ZoneInfo(str(options["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            zone = str(options["timezone"])
            where.child(raw, "timezone").error(f"unknown time zone {zone!r}{did_you_mean(zone, _zone_names())} "
                                               f"(use an IANA name such as Europe/Madrid)")
    errors_before = len(where.errors)
    hours = _compile_hours(where.child(raw, "hours"), options["hours"]) if options["hours"] is not None else None
    hours_invalid = len(where.errors) > errors_before  # a bad range: "no working time" would only repeat it
    holidays = options.get("holidays") or {}
    country = subdivision = None
    dates: list[date] = []
    yearly: list[tuple[int, int]] = []
    working_days: list[date] = []
    if "holidays" in raw:
        here = where.child(raw, "holidays")
        checked = check_options(HOLIDAYS, holidays, here) or {}
        country, subdivision = checked.get("country"), checked.get("subdivision")
        _check_country(here, holidays, country, subdivision)
        for index, text in enumerate(checked.get("dates") or []):
            try:
                dates.append(date.fromisoformat(str(text)))
            except ValueError:
                here.child(holidays, "dates").error(f"item {index}: expected a date YYYY-MM-DD, got {text!r}")
        for index, text in enumerate(checked.get("yearly") or []):
            match = re.match(r"^(\d\d)-(\d\d)$", str(text))
            try:
                if not match:
                    raise ValueError
                date(2000, int(match[1]), int(match[2]))  # a leap year: 02-29 is allowed
                yearly.append((int(match[1]), int(match[2])))
            except ValueError:
                here.child(holidays, "yearly").error(f"item {index}: expected MM-DD, got {text!r}")
        for index, text in enumerate(checked.get("except") or []):
            try:
                working_days.append(date.fromisoformat(str(text)))
            except ValueError:
                here.child(holidays, "except").error(f"item {index}: expected a date YYYY-MM-DD, got {text!r}")
    special, special_yearly = _compile_special(where.child(raw, "special"), options["special"]) \
        if options.get("special") is not None else ({}, {})
    if hours is not None and "hours" in raw and not any(hours.values()) and not hours_invalid \
            and not any(ranges for ranges in (*special.values(), *special_yearly.values())):
        where.child(raw, "hours").error(f"calendar {name!r} has no working time: give at least one weekday "
                                        f"HH:MM-HH:MM ranges (or use `24x7`)")
    if len(where.errors) > before:
        return None
    return Calendar(name, str(options["timezone"]), hours, country, subdivision, tuple(dates), tuple(yearly),
                    tuple(working_days), tuple(special.items()), tuple(special_yearly.items()))


def _check_country(where: Where, raw: Any, country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision is not None:
            where.child(raw, "subdivision").error("a subdivision needs a country")
        return
    import holidays as holiday_data  # data only: which countries and subdivisions exist

    supported = holiday_data.list_supported_countries()
    if country not in supported:
        where.child(raw, "country").error(f"unknown country {country!r} for holidays (use an ISO code)")
    elif subdivision is not None and subdivision not in supported[country]:
        where.child(raw, "subdivision").error(
            f"unknown subdivision {subdivision!r} of {country} (known: {', '.join(supported[country])})")


def _compile_hours(where: Where, raw: Any) -> dict[str, tuple[tuple[time, time], ...]] | None:
    if raw == "24x7":
        return None
    if not isinstance(raw, dict) or not raw:
        where.error("expected `24x7` or a mapping of weekday → list of HH:MM-HH:MM")
        return {}
    hours: dict[str, tuple[tuple[time, time], ...]] = {}
    for spec, ranges in raw.items():
        here = where.child(raw, spec)
        days = _weekdays(str(spec))
        if days is None:
            here.error(f"unknown day {spec!r} (use mon..sun or a range such as mon-fri)")
            continue
        parsed = _compile_ranges(here, ranges, repr(spec))
        if parsed is None:
            continue
        for day in days:
            if day in hours:
                here.error(f"{day} has hours twice")
            hours[day] = tuple(parsed)
    return hours


def _compile_ranges(here: Where, ranges: Any, label: str) -> tuple[tuple[time, time], ...] | None:
    """A list of HH:MM-HH:MM ranges (in order, not overlapping), or None after reporting why."""
    items = [ranges] if isinstance(ranges, str) else ranges
    if not isinstance(items, list):
        here.error("expected a list of HH:MM-HH:MM ranges")
        return None
    parsed: list[tuple[time, time]] = []
    for text in items:
        match = _RANGE.match(str(text))
        if not match or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3]) > 24 \
                or int(match[4]) > 59 or (int(match[3]) == 24 and int(match[4]) != 0):
            here.error(f"malformed range {text!r} (expected HH:MM-HH:MM, e.g. 09:00-13:00)")
            continue
        start = time(int(match[1]), int(match[2]))
        end = time.max if match[3] == "24" else time(int(match[3]), int(match[4]))
        if end <= start:
            here.error(f"range {text!r} ends before it starts")
            continue
        parsed.append((start, end))
    parsed.sort()
    for (_, first_end), (second_start, _) in itertools.pairwise(parsed):
        if second_start < first_end:
            here.error(f"ranges overlap in {label}")
    return tuple(parsed)


def _compile_special(where: Where, raw: Any) -> tuple[dict[date, tuple[tuple[time, time], ...]],
                                                      dict[tuple[int, int], tuple[tuple[time, time], ...]]]:
    """`special`: a date (YYYY-MM-DD, that day) or a day of the year (MM-DD, every year) -> its
    own working hours, an empty list for none: they replace the weekday's hours and holidays."""
    dated: dict[date, tuple[tuple[time, time], ...]] = {}
    yearly: dict[tuple[int, int], tuple[tuple[time, time], ...]] = {}
    if not isinstance(raw, dict):
        where.error("expected a mapping of YYYY-MM-DD (or MM-DD, every year) → list of HH:MM-HH:MM")
        return dated, yearly
    for key, ranges in raw.items():
        here = where.child(raw, key)
        text = str(key)
        parsed = _compile_ranges(here, ranges, repr(text))
        try:
            if re.match(r"^\d{4}-\d\d-\d\d$", text):
                day = date.fromisoformat(text)
                if parsed is not None:
                    dated[day] = parsed
                continue
            match = re.match(r"^(\d\d)-(\d\d)$", text)
            if not match:
                raise ValueError
            date(2000, int(match[1]), int(match[2]))
            if parsed is not None:
                yearly[(int(match[1]), int(match[2]))] = parsed
        except ValueError:
            here.error(f"expected a date YYYY-MM-DD or a day of the year MM-DD, got {text!r}")
    return dated, yearly


def _weekdays(spec: str) -> list[str] | None:
    first, _, last = spec.lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        return None
    start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    return list(WEEKDAYS[start:end + 1]) if start <= end else None


def _compile_sla(name: str, where: Where, raw: Any, merged: _Merged, context: ConditionContext) -> SlaPolicy | None:
    before = len(where.errors)
    options = read_options(SLA, raw, where)
    if options is None:
        return None
    for key in ("calendar", "quiet_hours"):
        if options[key] is not None and options[key] not in merged.calendars:
            likely = did_you_mean(options[key], merged.calendars)
            where.child(raw, key).error(f"undefined calendar {options[key]!r} used in sla {name!r}{likely}")
    conditions = {key: _compile_conditions(where.child(raw, key), options[key], context)
                  for key in ("applies", "start", "pause", "stop") if key in raw or options[key] is not None}
    targets = _compile_targets(where.child(raw, "targets"), options["targets"], context, merged, name) \
        if options["targets"] is not None else ()
    scale = _compile_scale(where.child(raw, "scale"), options["scale"], context)
    fraction, before_due = _compile_warn_at(where.child(raw, "warn_at"), options["warn_at"])
    _warn_early_warning(where.child(raw, "warn_at"), before_due, targets)
    if len(where.errors) > before:
        return None
    return SlaPolicy(name, options["calendar"], conditions.get("applies", ()), conditions.get("start", ()),
                     conditions.get("pause", ()), conditions.get("stop", ()), targets, fraction, before_due,
                     options["reopen"], options["target_change"], options["description"], options["quiet_hours"],
                     scale, options["since"])


def _compile_targets(where: Where, raw: Any, context: ConditionContext, merged: _Merged,
                     policy: str) -> tuple[Target, ...]:
    if not isinstance(raw, list) or not raw:
        where.error("expected a list of {when: conditions, target: duration}, the last without `when`")
        return ()
    targets = []
    for index, item in enumerate(raw):
        here = where.child(raw, index)
        options = check_options(TARGET, item, here)
        if options is None:
            continue
        try:
            span = parse_span(options["target"])
        except DurationError as exc:
            here.child(item, "target").error(str(exc))
            continue
        if span == timedelta(0) or span == BusinessDays(0):
            here.child(item, "target").error("a target must be longer than zero")
            continue
        if isinstance(span, timedelta) and re.search(r"\d\s*d", str(options["target"])):
            days = int(span.total_seconds() // 86400)
            here.child(item, "target").warn(
                f"target {options['target']!r}: `d` is 24 hours of working time (three days of an 8-hour calendar), "
                f"not a working day; write `{days}bd` for {days} working day{'s' if days != 1 else ''}, or hours to "
                f"keep it (`{int(span.total_seconds() // 3600)}h`)")
        if options["calendar"] is not None and options["calendar"] not in merged.calendars:
            likely = did_you_mean(options["calendar"], merged.calendars)
            here.child(item, "calendar").error(f"undefined calendar {options['calendar']!r} used in sla "
                                               f"{policy!r}{likely}")
            continue
        when = _compile_conditions(here.child(item, "when"), options["when"], context)
        targets.append(Target(when, span, options["calendar"]))
    if isinstance(raw[-1], dict) and raw[-1].get("when"):
        where.child(raw, len(raw) - 1).error("the last target is the default: it takes no `when`")
    return tuple(targets)


def _warn_early_warning(where: Where, before_due: timedelta | None, targets: Sequence[Target]) -> None:
    """A warning `before_due` that is as long as a target is due the moment its clock starts."""
    if before_due is None:
        return
    for index, target in enumerate(targets):
        if isinstance(target.target, timedelta) and before_due >= target.target:
            where.warn(f"warn_at {format_duration(before_due, 'h')} before due is as long as target {index} "
                       f"({format_duration(target.target, 'h')}) or longer, so its warning comes as the clock starts: "
                       f"warn closer to the due time, or use a percentage (80%)")
            return


def _compile_scale(where: Where, raw: Any, context: ConditionContext) -> tuple[Scale, ...]:
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        where.error("expected a list of {when: conditions, factor: number}")
        return ()
    scales = []
    for index, item in enumerate(raw):
        here = where.child(raw, index)
        options = check_options(SCALE, item, here)
        if options is None:
            continue
        if not 0 < options["factor"] <= 100:
            here.child(item, "factor").error(f"factor {options['factor']!r} must be above 0 (0.5 halves the target)")
            continue
        scales.append(Scale(_compile_conditions(here.child(item, "when"), options["when"], context),
                            float(options["factor"])))
    return tuple(scales)


def _compile_warn_at(where: Where, raw: Any) -> tuple[float | None, timedelta | None]:
    text = str(raw).strip()
    match = re.match(r"^(\d+(?:\.\d+)?)%$", text)
    if match:
        fraction = float(match[1]) / 100
        if not 0 < fraction < 1:
            where.error(f"warn_at {text!r} must be between 0% and 100%")
        return fraction, None
    try:
        return None, parse_duration(text)
    except DurationError:
        where.error(f"warn_at {text!r}: expected a percentage (80%) or a duration before due (1h)")
        return None, None


# -- rules ------------------------------------------------------------------------------------

def _compile_rule(where: Where, raw: Any, context: ConditionContext, book: CompileContext,
                  seen: dict[str, str], measures: tuple[str, ...] = ()) -> Rule | None:
    before = len(where.errors)
    if not isinstance(raw, dict):
        where.error("a rule must be a mapping with name, on, if, then")
        return None
    options = read_options(RULE, raw, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        if "name" in raw:
            where.child(raw, "name").error("expected a non-empty name")
        name = f"<rule at line {where.line}>"
    elif name in seen:
        where.child(raw, "name").error(f"duplicate rule name {name!r} (first defined at {seen[name]})")
    else:
        seen[name] = f"{where.file}:{where.line}"
    triggers, schedules = _compile_triggers(where, raw)
    measure = _compile_measure(where.child(raw, "measure"), raw["measure"]) if "measure" in raw else None
    if "measure" in raw:  # measured, even when the measure itself has errors: check the rest as such
        context = dataclasses.replace(context, measures=measures)
        book = dataclasses.replace(book, measured=True)
        if triggers or not schedules:
            where.child(raw, "on").error("a measured rule runs on a schedule only: on: [{schedule: cron}]")
    conditions = _compile_conditions(where.child(raw, "if"), raw.get("if"), context) if "if" in raw else ()
    actions = _compile_actions(where, raw, book)
    if schedules and not triggers:
        _check_scheduled(where, raw, conditions if "measure" not in raw else (), actions)
    if len(where.errors) > before or options is None:
        return None
    return Rule(name, triggers, conditions, actions, where.file, where.line,
                bool(options["enabled"]), str(options["description"]), schedules, measure)


def _compile_measure(where: Where, raw: Any) -> Measure | None:
    options = read_options(MEASURE, raw, where)
    if options is None:
        return None
    window = str(options["window"])
    duration = None
    if window not in MEASURE_WINDOWS:
        try:
            duration = parse_duration(window)
        except DurationError as exc:
            where.child(raw, "window").error(f"{exc}; or one of: {', '.join(MEASURE_WINDOWS)}")
            return None
    if "\0errors" in options:
        return None
    return Measure(duration, None if duration else window, str(options["by"]))


def _check_scheduled(where: Where, raw: Mapping[str, Any], conditions: tuple[Node, ...],
                     actions: tuple[CompiledAction, ...]) -> None:
    """A rule run only by a schedule has no ticket: it may not read or write one."""
    if conditions:
        where.child(raw, "if").error("a rule run only on a schedule has no ticket to test conditions on")
    for action in actions:
        if action.spec.needs_ticket:
            where.child(raw, "then").error(
                f"`{action.spec.name}` needs a ticket, and a rule run only on a schedule has none")


def _compile_triggers(where: Where, raw: Mapping[str, Any]) -> tuple[frozenset[str], tuple[str, ...]]:
    if "on" not in raw:
        return frozenset(), ()
    value = raw["on"]
    here = where.child(raw, "on")
    items = value if isinstance(value, list) else [value]
    if not items:
        here.error("expected at least one trigger")
    triggers, schedules = set(), []
    for index, trigger in enumerate(items):
        item_where = here.child(items, index) if isinstance(value, list) else here
        if isinstance(trigger, dict):
            schedule = _compile_schedule(item_where, trigger)
            if schedule:
                schedules.append(schedule)
        elif trigger not in TRIGGERS:
            item_where.error(f"unknown trigger {trigger!r}{did_you_mean(str(trigger), TRIGGERS)} "
                             f"(expected one of: {', '.join(TRIGGERS)}, "
                             f"or {{schedule: cron}})")
        else:
            triggers.add(trigger)
    return frozenset(triggers), tuple(schedules)


def _compile_schedule(where: Where, trigger: Mapping[str, Any]) -> str | None:
    if set(trigger) != {"schedule"} or not isinstance(trigger["schedule"], str):
        where.error("a schedule trigger is {schedule: \"minute hour day month weekday\"}")
        return None
    cron = trigger["schedule"]
    try:
        parse_cron(cron)
    except CronError as exc:
        where.child(trigger, "schedule").error(str(exc))
        return None
    return cron


def _compile_conditions(where: Where, value: Any, context: ConditionContext) -> tuple[Node, ...]:
    if value is None:
        return ()
    items = _rejoin_flow_items(value) if isinstance(value, list) else [value]
    nodes = []
    for index, item in enumerate(items):
        node = _compile_node(where.child(items, index) if isinstance(value, list) else where, item, context)
        if node is not None:
            nodes.append(node)
    return tuple(nodes)


def _rejoin_flow_items(items: list[Any]) -> list[Any]:
    """`[tracker in (Incident, Support)]` is one condition to the admin, but YAML's inline
    list splits it at the comma: glue the pieces back while a parenthesis is open."""
    if not getattr(items, "flow", False):
        return items
    joined: SequenceNode = SequenceNode()
    joined.line, joined.item_lines, joined.flow = items.line, [], True  # type: ignore[attr-defined]
    for item, line in zip(items, items.item_lines, strict=True):  # type: ignore[attr-defined]
        previous = joined[-1] if joined else None
        if isinstance(previous, str) and isinstance(item, str) and previous.count("(") > previous.count(")"):
            joined[-1] = f"{previous}, {item}"
            continue
        joined.append(item)
        joined.item_lines.append(line)
    return joined


def _compile_node(where: Where, item: Any, context: ConditionContext) -> Node | None:
    if isinstance(item, str):
        try:
            return parse_condition(item, context)
        except ConditionSyntaxError as exc:
            where.error(str(exc))
            return None
    if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("any", "all", "not"):
        (kind, children), = item.items()
        here = where.child(item, kind)
        if children in (None, [], ""):
            here.error(f"`{kind}` needs at least one condition")
            return None
        nodes = _compile_conditions(here, children, context)
        return Group(kind, nodes)
    where.error("expected a condition such as `status = Feedback`, or a group {any|all|not: ...}")
    return None


def _compile_actions(where: Where, raw: Mapping[str, Any], book: CompileContext) -> tuple[CompiledAction, ...]:
    if "then" not in raw:
        return ()
    value = raw["then"]
    here = where.child(raw, "then")
    if not isinstance(value, list) or not value:
        here.error("expected a non-empty list of actions")
        return ()
    actions = []
    for index, item in enumerate(value):
        item_where = here.child(value, index)
        if not isinstance(item, dict) or len(item) != 1:
            item_where.error(f"each action is a mapping with one key: {', '.join(ACTIONS)}")
            continue
        (action_name, options), = item.items()
        spec = ACTIONS.get(action_name)
        if spec is None:
            item_where.error(f"unknown action {action_name!r}{did_you_mean(str(action_name), ACTIONS)} "
                             f"(expected one of: {', '.join(ACTIONS)})")
            continue
        compiled = spec.check(options, item_where.child(item, action_name), book)
        if compiled is not None:
            actions.append(CompiledAction(spec, compiled, item_where.line))
    return tuple(actions)
