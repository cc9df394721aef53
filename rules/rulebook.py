"""Rulebook loading: YAML text in, a validated Rulebook out, or every error at once.

Takes (file name, text) pairs so it stays pure; reading a directory is the application's job.
All files of one rulebook share one namespace: rule names and field names are unique across
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.actions import ACTIONS, ActionSpec, CompileContext
from rules.conditions import Condition, ConditionSyntaxError, parse_condition
from rules.context import Where
from rules.errors import RulebookInvalid, RuleError
from rules.model import TRIGGERS
from rules.source import MappingNode, YamlSyntaxError, parse_yaml

SUPPORTED_VERSIONS = (1,)
TRACKER_KINDS = ("redmine", "jira")
TOP_LEVEL_KEYS = ("version", "locale", "fields", "rules")
LOCALES = ("en", "es")
RULE_KEYS = ("name", "description", "on", "if", "then", "enabled")


@dataclass(frozen=True)
class CompiledAction:
    spec: ActionSpec
    compiled: Any
    line: int


@dataclass(frozen=True)
class Rule:
    name: str
    triggers: frozenset[str]
    conditions: tuple[Condition, ...]
    actions: tuple[CompiledAction, ...]
    file: str
    line: int
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True)
class Rulebook:
    rules: tuple[Rule, ...]
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    locale: str = "en"
    files: tuple[str, ...] = ()

    def field_refs(self, tracker_kind: str) -> dict[str, str | None]:
        """Logical field name -> this tracker's field reference (name or id), None if unmapped."""
        return {name: refs.get(tracker_kind) for name, refs in self.fields.items()}


def load_rulebook(sources: Sequence[tuple[str, str]]) -> Rulebook:
    """Validate and compile one rulebook from its files; raise RulebookInvalid with all errors."""
    errors: list[RuleError] = []
    documents: list[tuple[Where, MappingNode]] = []
    for file_name, text in sources:
        where = Where(file_name, 1, (), errors)
        try:
            document = parse_yaml(text)
        except YamlSyntaxError as exc:
            errors.append(RuleError(file_name, exc.line, (), f"YAML syntax error: {exc.message}"))
            continue
        if document is None:
            where.error("the file is empty")
            continue
        if not isinstance(document, MappingNode):
            where.error("a rule file must be a mapping with `version` and `rules`")
            continue
        documents.append((where, document))

    fields: dict[str, dict[str, str]] = {}
    locale = "en"
    for where, document in documents:
        _check_top_level(where, document)
        _collect_fields(where, document, fields)
        if "locale" in document:
            locale = _check_locale(where.child(document, "locale"), document["locale"]) or locale

    book = CompileContext(field_names=sorted(fields))
    rules: list[Rule] = []
    seen_names: dict[str, str] = {}
    for where, document in documents:
        raw_rules = document.get("rules", [])
        rules_where = where.child(document, "rules")
        if not isinstance(raw_rules, list):
            rules_where.error("expected a list of rules")
            continue
        for index, raw in enumerate(raw_rules):
            rule = _compile_rule(rules_where.child(raw_rules, index), raw, fields, book, seen_names)
            if rule is not None:
                rules.append(rule)

    if errors:
        raise RulebookInvalid(errors)
    return Rulebook(tuple(rules), fields, locale, tuple(name for name, _ in sources))


def _check_top_level(where: Where, document: MappingNode) -> None:
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            where.child(document, key).error(
                f"unknown section (expected one of: {', '.join(TOP_LEVEL_KEYS)})")
    if "version" not in document:
        where.error("missing `version` (use `version: 1`)")
    elif document["version"] not in SUPPORTED_VERSIONS:
        where.child(document, "version").error(
            f"unsupported version {document['version']!r} (supported: 1)")


def _check_locale(where: Where, value: Any) -> str | None:
    if value not in LOCALES:
        where.error(f"unknown locale {value!r} (supported: {', '.join(LOCALES)})")
        return None
    return str(value)


def _collect_fields(where: Where, document: MappingNode, fields: dict[str, dict[str, str]]) -> None:
    raw = document.get("fields")
    if raw is None:
        return
    fields_where = where.child(document, "fields")
    if not isinstance(raw, dict):
        fields_where.error("expected a mapping of logical name → tracker field")
        return
    for name, refs in raw.items():
        here = fields_where.child(raw, name)
        if name in fields:
            here.error(f"field {name!r} is defined twice in this rulebook")
            continue
        if isinstance(refs, (str, int)) and not isinstance(refs, bool):
            fields[name] = {kind: str(refs) for kind in TRACKER_KINDS}
            continue
        if not isinstance(refs, dict) or not refs:
            here.error("expected a tracker field name or id, or a mapping {redmine: ..., jira: ...}")
            continue
        mapped: dict[str, str] = {}
        for kind, ref in refs.items():
            if kind not in TRACKER_KINDS:
                here.child(refs, kind).error(f"unknown tracker (expected: {', '.join(TRACKER_KINDS)})")
            elif not isinstance(ref, (str, int)) or isinstance(ref, bool) or ref == "":
                here.child(refs, kind).error("expected a field name or id")
            else:
                mapped[kind] = str(ref)
        fields[name] = mapped


def _compile_rule(
    where: Where, raw: Any, fields: Mapping[str, Any], book: CompileContext, seen: dict[str, str]
) -> Rule | None:
    before = len(where.errors)
    if not isinstance(raw, dict):
        where.error("a rule must be a mapping with name, on, if, then")
        return None
    for key in raw:
        if key not in RULE_KEYS:
            where.child(raw, key).error(f"unknown key (expected one of: {', '.join(RULE_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        where.error("missing `name` (every rule needs a unique name)")
        name = f"<rule at line {where.line}>"
    elif name in seen:
        where.child(raw, "name").error(f"duplicate rule name {name!r} (first defined at {seen[name]})")
    else:
        seen[name] = f"{where.file}:{where.line}"
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        where.child(raw, "enabled").error("expected true or false")
    description = raw.get("description", "")
    if not isinstance(description, str):
        where.child(raw, "description").error("expected text")
    triggers = _compile_triggers(where, raw)
    conditions = _compile_conditions(where, raw, fields)
    actions = _compile_actions(where, raw, book)
    if len(where.errors) > before:
        return None
    return Rule(name, triggers, conditions, actions, where.file, where.line,
                bool(enabled), str(description))


def _compile_triggers(where: Where, raw: Mapping[str, Any]) -> frozenset[str]:
    if "on" not in raw:
        where.error(f"missing `on` (one or more of: {', '.join(TRIGGERS)})")
        return frozenset()
    value = raw["on"]
    here = where.child(raw, "on")
    items = value if isinstance(value, list) else [value]
    triggers = set()
    for index, trigger in enumerate(items):
        item_where = here.child(items, index) if isinstance(value, list) else here
        if trigger not in TRIGGERS:
            item_where.error(f"unknown trigger {trigger!r} (expected one of: {', '.join(TRIGGERS)})")
        else:
            triggers.add(trigger)
    if not items:
        here.error("expected at least one trigger")
    return frozenset(triggers)


def _compile_conditions(where: Where, raw: Mapping[str, Any], fields: Mapping[str, Any]) -> tuple[Condition, ...]:
    value = raw.get("if", [])
    if value is None:
        return ()
    here = where.child(raw, "if")
    items = value if isinstance(value, list) else [value]
    conditions = []
    for index, text in enumerate(items):
        item_where = here.child(items, index) if isinstance(value, list) else here
        if not isinstance(text, str):
            item_where.error("expected a condition such as `status = Feedback`")
            continue
        try:
            conditions.append(parse_condition(text, fields))
        except ConditionSyntaxError as exc:
            item_where.error(str(exc))
    return tuple(conditions)


def _compile_actions(where: Where, raw: Mapping[str, Any], book: CompileContext) -> tuple[CompiledAction, ...]:
    if "then" not in raw:
        where.error("missing `then` (a list of actions)")
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
            item_where.error(f"unknown action {action_name!r} (expected one of: {', '.join(ACTIONS)})")
            continue
        compiled = spec.compile(options, item_where.child(item, action_name), book)
        if compiled is not None:
            actions.append(CompiledAction(spec, compiled, item_where.line))
    return tuple(actions)
