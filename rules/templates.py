"""Templates for notes and field values: sandboxed Jinja2, strict about undefined names.

Every template is compiled and dry-rendered when the rulebook loads, against a sample ticket,
so `{{ ticket.subjet }}` fails at load time with file:line instead of at 3 a.m.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from jinja2 import StrictUndefined, TemplateError, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from rules import jsm
from rules.durations import format_duration
from rules.model import Change, Comment, Event, Person, Ticket


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with a quicker way to the lookup templates make most (`ticket.key`, a key
    of a plain dict that no dict attribute shadows): the sandbox tries an attribute first and
    takes the key once that fails, raising and catching an error every time, for the same
    answer."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_DICT_ATTRIBUTES = frozenset(dir(dict))
_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _isoformat(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@pass_context
def _localtime(context: Context, value: Any, zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A time in a calendar's time zone (by calendar name) or in an IANA zone."""
    zones: Mapping[str, str] = context.get("calendar_zones", {})
    name = zones.get(zone, zone)
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TemplateError(f"unknown calendar or time zone {zone!r}") from exc
    if isinstance(value, str) and value:
        try:  # related facts (`record.action_due`, ...) carry times as ISO text
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise TemplateError(f"localtime needs a time, got {value!r}") from exc
    if not isinstance(value, datetime):
        raise TemplateError(f"localtime needs a time, got {type(value).__name__}")
    return value.astimezone(tz).strftime(fmt)


def _duration(value: Any) -> str:
    """Seconds or a timedelta as `1h 30m`."""
    if isinstance(value, timedelta):
        return format_duration(value)
    try:
        return format_duration(float(value))
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"duration needs seconds or a time span, got {value!r}") from exc


_ENV.filters["iso"] = _isoformat
_ENV.filters["localtime"] = _localtime
_ENV.filters["duration"] = _duration
FILTERS = {"iso": "a time as ISO 8601", "localtime(zone)": "a time in a calendar's (or IANA) time zone",
           "duration": "seconds or a time span as `1h 30m`"}

Template = Any  # jinja2.Template; kept opaque to callers


@dataclass(frozen=True)
class Reads:
    """What of the template context (`template_context`) a template may read: the names it
    looks up (None: any); the keys of `ticket` and of `event` it reads (None: any); of `sla`,
    the clock of the event's policy (`sla.due`) and the clocks of the policies it names
    (`sla.policies.resolution.due`; None: any). Making the context and deriving the clocks in
    it are much of what an event costs, and most templates read little of them."""

    names: frozenset[str] | None = frozenset()
    sla_event: bool = False
    sla_policies: frozenset[str] | None = frozenset()
    ticket_keys: frozenset[str] | None = frozenset()
    event_keys: frozenset[str] | None = frozenset()

    def __or__(self, other: Reads) -> Reads:
        return Reads(_union(self.names, other.names), self.sla_event or other.sla_event,
                     _union(self.sla_policies, other.sla_policies), _union(self.ticket_keys, other.ticket_keys),
                     _union(self.event_keys, other.event_keys))


def _union(one: frozenset[str] | None, other: frozenset[str] | None) -> frozenset[str] | None:
    """Both sets (None, any, with either)."""
    return None if one is None or other is None else one | other


READS_NOTHING, READS_ANYTHING = Reads(), Reads(None, True, None, None, None)


class _Compiled(jinja2.Template):
    """A compiled template that knows from its syntax tree when it is plain text (no
    expression, tag or comment): rendering it then gives the same text whatever the context,
    so `render` returns that text without making a render context each event. It also knows
    what of the context it reads."""

    plain: str | None = None  # what it renders to, when plain text
    reads: Reads = READS_ANYTHING


_ENV.template_class = _Compiled


@lru_cache(maxsize=4096)
def compile_template(text: str) -> Template:
    """Compile a template; raises jinja2.TemplateError on a syntax error. A compiled template
    is immutable, so rules that share a text (a common note) share one: compiling is most of a
    large rulebook's load.

    Its globals are the environment's, copied into a plain dict: jinja keeps them as a ChainMap
    over the environment's, which every render walked twice (nothing changes them once loaded)."""
    tree = _parsed(text)
    template = _ENV.from_string(tree)
    assert isinstance(template, _Compiled)
    template.globals = dict(template.globals)
    if _is_plain(tree):
        template.plain = str(template.render())
    template.reads = _reads(tree)
    return template


def _is_plain(tree: nodes.Template) -> bool:
    """Nothing but text: no name, filter, tag or comment that could read the context."""
    return all(isinstance(node, nodes.Output) and all(isinstance(part, nodes.TemplateData) for part in node.nodes)
               for node in tree.body)


@lru_cache(maxsize=4096)
def _parsed(text: str) -> nodes.Template:
    """A template's syntax tree, read once for both the name check and the compile."""
    return _ENV.parse(text)


def _reads(tree: nodes.Template) -> Reads:
    """What of the context a template reads: the names jinja looks up in it, and of `ticket`,
    `event` and `sla` what their lookups name. A template that brings in others reads anything."""
    if any(tree.find_all(_OTHER_TEMPLATES)):
        return READS_ANYTHING
    names = frozenset(meta.find_undeclared_variables(tree))
    lookups: list[Any] = list(tree.find_all((nodes.Getattr, nodes.Getitem)))
    outer = {id(lookup.node): lookup for lookup in lookups}
    sla = _paths(tree, "sla", outer) if "sla" in names else []
    if sla is None or any(not path or path == ["policies"] for path in sla):
        sla_event, policies = True, None
    else:
        sla_event = any(path[0] != "policies" for path in sla)
        policies = frozenset(path[1] for path in sla if path[0] == "policies")
    return Reads(names, sla_event, policies, _first_keys(tree, "ticket", outer), _first_keys(tree, "event", outer))


def _first_keys(tree: nodes.Template, name: str, outer: Mapping[int, Any]) -> frozenset[str] | None:
    """The keys of `name` a template reads (None: any)."""
    paths = _paths(tree, name, outer)
    if paths is None or not all(paths):
        return None
    return frozenset(path[0] for path in paths)


def _paths(tree: nodes.Template, name: str, outer: Mapping[int, Any]) -> list[list[str]] | None:
    """The keys each use of `name` in a template looks up in turn (`sla.policies.resolution`:
    policies, resolution), as far as they are constant keys no dict attribute shadows; None
    when the template binds the name itself (set, for, with, a parameter)."""
    paths = []
    for found in tree.find_all(nodes.Name):
        if found.name != name:
            continue
        if found.ctx != "load":
            return None
        path, lookup = [], outer.get(id(found))
        while (key := _plain_key(lookup)) is not None:
            path.append(key)
            lookup = outer.get(id(lookup))
        paths.append(path)
    return paths


_OTHER_TEMPLATES = (nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)


def _plain_key(lookup: nodes.Node | None) -> str | None:
    """The key a lookup reads of a dict, when it is a constant that no dict attribute shadows."""
    if isinstance(lookup, nodes.Getattr):
        key = lookup.attr
    elif isinstance(lookup, nodes.Getitem) and isinstance(lookup.arg, nodes.Const) \
            and isinstance(lookup.arg.value, str):
        key = lookup.arg.value
    else:
        return None
    return None if hasattr(dict, key) or key.startswith("_") else key


def render(template: Template, context: Mapping[str, Any]) -> str:
    """The template rendered; plain text (`_Compiled.plain`) needs no render context."""
    plain: str | None = getattr(template, "plain", None)
    if plain is not None:
        return plain
    return str(template.render(context))


def template_context(
    ticket: Ticket,
    event: Event,
    field_refs: Mapping[str, str | None],
    now: datetime,
    rule: str,
    calendar_zones: Mapping[str, str] | None = None,
    sla: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
    names: Collection[str] | None = None,
    ticket_keys: Collection[str] | None = None,
    event_keys: Collection[str] | None = None,
) -> dict[str, Any]:
    """The names a template may use. `field_refs` maps logical field names to this tracker's refs.
    `extra` adds names of a measured rule (`measure`, `group`, `window`). The ticket text is as
    it is here; an action that writes outside the ticket gets it redacted (rules.redaction).
    `names`: only those of ticket, event, sla, development, record, survey and jsm are made
    (None: all), and of `ticket` and `event` only the `ticket_keys` and `event_keys`, for
    templates known to read no others (`Reads`)."""
    wanted = _MADE_NAMES if names is None else names
    context: dict[str, Any] = {}
    if "ticket" in wanted:
        context["ticket"] = _ticket_names(ticket, field_refs, _MADE_KEYS if ticket_keys is None else ticket_keys)
    if "event" in wanted:
        context["event"] = _event_names(event, _MADE_KEYS if event_keys is None else event_keys)
    context["rule"] = rule
    context["now"] = now
    context["calendar_zones"] = dict(calendar_zones or {})
    if "sla" in wanted:
        context["sla"] = {**dict(EMPTY_SLA), **dict((sla or {}).get(event.sla_policy or "", {})),
                          "policies": dict(sla or {})}
    for related, empty in EMPTY_RELATED.items():
        if related in wanted:
            context[related] = {**empty, **dict(event.related.get(related, {}))}
    if "jsm" in wanted:
        context["jsm"] = jsm.views(ticket.tracker_slas)
    context.update(extra or {})
    return context


_MADE_NAMES = frozenset({"ticket", "event", "sla", "development", "record", "survey", "jsm"})


# What takes more than reading an attribute to make, of `ticket` and `event`: made when asked for.
_MADE_KEYS = frozenset({"labels", "categories", "fix_versions", "author", "assignee", "fields",
                        "triggers", "actor", "changes"})


def _ticket_names(ticket: Ticket, field_refs: Mapping[str, str | None], keys: Collection[str]) -> dict[str, Any]:
    """`ticket` in a template. Of what takes more than reading an attribute (`_MADE_KEYS`), only
    the `keys` asked for are made; the others are left out, as no template reads them."""
    names: dict[str, Any] = {
        "id": ticket.id, "key": ticket.key, "url": ticket.url, "subject": ticket.subject,
        "description": ticket.description, "project": ticket.project,
        "project_name": ticket.project_name, "tracker": ticket.tracker, "type": ticket.tracker,
        "status": ticket.status, "priority": ticket.priority,
    }
    if "labels" in keys:
        names["labels"] = list(ticket.labels)
    if "categories" in keys:
        names["categories"] = list(ticket.categories)
    if "fix_versions" in keys:
        names["fix_versions"] = list(ticket.fix_versions)
    if "author" in keys:
        names["author"] = _person_name(ticket.author)
    if "assignee" in keys:
        names["assignee"] = _person_name(ticket.assignee)
    names["created"], names["updated"] = ticket.created, ticket.updated
    if "fields" in keys:
        names["fields"] = {name: (ticket.custom_field(ref) if ref else None) for name, ref in field_refs.items()}
    return names


def _event_names(event: Event, keys: Collection[str]) -> dict[str, Any]:
    """`event` in a template; as `_ticket_names`, only the `keys` asked for of what takes more."""
    names: dict[str, Any] = {"id": event.id}
    if "triggers" in keys:
        names["triggers"] = sorted(event.triggers)
    if "actor" in keys:
        names["actor"] = _person_name(event.actor)
    names["occurred_at"] = event.occurred_at
    if "changes" in keys:
        names["changes"] = [{"field": c.field, "old": c.old, "new": c.new, "added": list(c.added),
                             "removed": list(c.removed)} for c in event.changes]
    names["comment"] = event.comment.text if event.comment else ""
    names["sla_policy"] = event.sla_policy or ""
    return names


def _person_name(person: Person | None) -> str:
    return (person.name or person.login or person.id) if person else ""


_SAMPLE_TIME = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
# What `sla` holds in a template: the clock of the event's policy (empty for other events).
EMPTY_SLA = {"policy": "", "cycle": 0, "state": "", "calendar": "", "target": "", "elapsed": "", "remaining": "",
             "due": "", "due_local": "", "due_date": "", "warn": "", "warn_local": ""}
SAMPLE_SLA = {"resolution": {"policy": "resolution", "cycle": 1, "state": "running", "calendar": "office",
                             "target": "4h", "elapsed": "1h", "remaining": "3h", "due": "2026-01-05T13:30:00+00:00",
                             "due_local": "2026-01-05 13:30 UTC", "due_date": "2026-01-05",
                             "warn": "2026-01-05T12:42:00+00:00",
                             "warn_local": "2026-01-05 12:42 UTC"}}
EMPTY_RELATED: dict[str, dict[str, str]] = {
    "development": dict.fromkeys(("key", "url", "status", "previous_status", "resolved", "resolution"), ""),
    "record": dict.fromkeys(("kind", "cause", "key", "url", "owner", "action_due", "review_due", "reminder"), ""),
    "survey": {"score": "", "comment": "", "url": ""},
}
SAMPLE_RELATED = {
    "development": {"key": "#9", "url": "https://tracker.invalid/issues/9", "status": "Resolved",
                    "previous_status": "In Progress", "resolved": "yes", "resolution": ""},
    "record": {"kind": "nonconformity", "cause": "sample", "key": "#8", "url": "https://tracker.invalid/issues/8",
               "owner": "agent", "action_due": "2026-02-04T09:30:00+00:00",
               "review_due": "2026-04-05T09:30:00+00:00", "reminder": "reminder"},
    "survey": {"score": "2", "comment": "Slow answers.", "url": "https://ticketwarden.invalid/survey/sample"},
}


class _SampleMeasures(dict[str, Any]):
    """Any measure name renders (as 0) in a dry render: the names are checked with the conditions."""

    def __missing__(self, key: str) -> int:
        return 0


SAMPLE_MEASURED = {"measure": _SampleMeasures(group="support"), "group": "support",
                   "window": {"start": _SAMPLE_TIME, "end": _SAMPLE_TIME, "month": "2026-01", "label": "30d"}}
SAMPLE_TICKET = Ticket(
    tracker_kind="sample", id="1", key="#1", url="https://tracker.invalid/issues/1",
    project="support", project_name="Support", tracker="Incident", status="New",
    priority="Normal", subject="Sample subject", description="Sample description",
    author=Person("2", "customer", "Sample Customer"), assignee=Person("3", "agent", "Sample Agent"),
    created=_SAMPLE_TIME, updated=_SAMPLE_TIME,
)
SAMPLE_EVENT = Event(
    id="sample:1", tracker_kind="sample", ticket_id="1",
    triggers=frozenset({"ticket.updated", "ticket.commented"}), occurred_at=_SAMPLE_TIME,
    actor=Person("3", "agent", "Sample Agent"),
    changes=(Change("status", "New", "Feedback"),), comment=Comment("Sample note"), sla_policy="resolution",
    related=SAMPLE_RELATED,
)


def _sample_context(field_names: list[str], calendar_zones: Mapping[str, str] | None,
                    measured: bool) -> dict[str, Any]:
    return _shared_sample_context(tuple(field_names), tuple(sorted((calendar_zones or {}).items())), measured)


@lru_cache(maxsize=64)
def _shared_sample_context(field_names: tuple[str, ...], calendar_zones: tuple[tuple[str, str], ...],
                           measured: bool) -> dict[str, Any]:
    """The sample context of a rulebook's dry renders, built once per rulebook (renders only read it)."""
    return template_context(SAMPLE_TICKET, SAMPLE_EVENT, {name: None for name in field_names},
                            _SAMPLE_TIME, "sample rule", dict(calendar_zones), SAMPLE_SLA,
                            {"jsm": jsm.SampleViews(), **(SAMPLE_MEASURED if measured else {})})


def unknown_names(text: str, field_names: list[str], calendar_zones: Mapping[str, str] | None = None,
                  measured: bool = False) -> list[str]:
    """Every name, attribute and filter of a template that does not exist, each with the likely
    one (`ticket.prioirty`: did you mean `ticket.priority`?): all of them at once, where
    rendering would stop at the first with the template engine's own words."""
    return list(_unknown_names(text, tuple(field_names), tuple(sorted((calendar_zones or {}).items())), measured))


@lru_cache(maxsize=4096)
def _unknown_names(text: str, field_names: tuple[str, ...], calendar_zones: tuple[tuple[str, str], ...],
                   measured: bool) -> tuple[str, ...]:
    tree = _parsed(text)
    context = _sample_context(list(field_names), dict(calendar_zones), measured)
    binders: list[Any] = list(tree.find_all((nodes.For, nodes.Assign, nodes.AssignBlock)))
    targets = [binder.target for binder in binders]
    local = {name.name for target in targets
             for name in (target, *target.find_all(nodes.Name)) if isinstance(name, nodes.Name)}
    local |= {argument.name for macro in tree.find_all(nodes.Macro) for argument in macro.args}
    local |= {"loop", "caller", "varargs", "kwargs", *_ENV.globals}
    problems: list[str] = []
    for used in tree.find_all(nodes.Filter):
        if used.name not in _ENV.filters:
            problems.append(f"unknown filter `{used.name}`{_did_you_mean(used.name, _ENV.filters)}")
    for lookup in _outermost_lookups(tree):
        path = _lookup_path(lookup)
        if path is None or path[0] in local:
            continue
        problem = _resolve(path, context)
        if problem and problem not in problems:
            problems.append(problem)
    return tuple(problems)


def _outermost_lookups(tree: nodes.Node) -> list[nodes.Node]:
    """The `a.b.c` chains of a template, each once (its longest form)."""
    lookups: list[Any] = list(tree.find_all((nodes.Getattr, nodes.Getitem)))
    inner = {id(lookup.node) for lookup in lookups}
    return [node for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name))
            if id(node) not in inner and not (isinstance(node, nodes.Name) and node.ctx != "load")]


def _lookup_path(node: Any) -> list[str] | None:
    """`ticket.fields.origin` as ["ticket", "fields", "origin"]; None for what is not a plain chain."""
    path: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            path.append(node.arg.value)
        elif isinstance(node, nodes.Name):
            path.append(node.name)
            return path[::-1]
        else:
            return None
        node = node.node


def _resolve(path: list[str], context: Mapping[str, Any]) -> str | None:
    """None when the chain exists in the sample context; else what is unknown, and a suggestion."""
    value: Any = context
    for depth, name in enumerate(path):
        if type(value) is not dict:
            return None  # a method of a text or list, any measure, a JSM view: not checked here
        if name not in value:
            known = ".".join(path[:depth + 1])
            parent = ".".join(path[:depth])
            hint = _did_you_mean(name, value, prefix=f"{parent}." if parent else "")
            listed = "" if hint or not parent else f" ({parent} has: {', '.join(sorted(map(str, value)))})"
            return f"unknown name `{known}`{hint}{listed}"
        value = value[name]
    return None


def _did_you_mean(name: str, known: Iterable[Any], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1, cutoff=0.6)
    return f": did you mean `{prefix}{close[0]}`?" if close else ""


def clear_caches() -> None:
    """Forget compiled templates and their name checks (a benchmark's cold load)."""
    compile_template.cache_clear()
    _parsed.cache_clear()
    _unknown_names.cache_clear()
    _shared_sample_context.cache_clear()


def dry_render(template: Template, field_names: list[str],
               calendar_zones: Mapping[str, str] | None = None, measured: bool = False) -> str | None:
    """Render against the sample ticket (and sample measures, for a measured rule); the error
    message, or None when it renders."""
    context = _sample_context(field_names, calendar_zones, measured)
    try:
        render(template, context)
    except TemplateError as exc:
        return f"template error: {exc}"
    except Exception as exc:  # noqa: BLE001 - any failure of an admin's template is a load error
        return f"template error: {type(exc).__name__}: {exc}"
    return None


__all__ = ["Reads", "TemplateError", "compile_template", "dry_render", "render", "template_context", "unknown_names"]
