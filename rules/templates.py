"""Templates for notes and field values: sandboxed Jinja2, strict about undefined names.

Every template is compiled and dry-rendered when the rulebook loads, against a sample ticket,
so `{{ ticket.subjet }}` fails at load time with file:line instead of at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import StrictUndefined, TemplateError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from rules import jsm
from rules.durations import format_duration
from rules.model import Change, Comment, Event, Person, Ticket

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


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


def compile_template(text: str) -> Template:
    """Compile a template; raises jinja2.TemplateError on a syntax error."""
    return _ENV.from_string(text)


def render(template: Template, context: Mapping[str, Any]) -> str:
    return str(template.render(**context))


def template_context(
    ticket: Ticket,
    event: Event,
    field_refs: Mapping[str, str | None],
    now: datetime,
    rule: str,
    calendar_zones: Mapping[str, str] | None = None,
    sla: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a template may use. `field_refs` maps logical field names to this tracker's refs.
    `extra` adds names of a measured rule (`measure`, `group`, `window`)."""
    fields = {name: (ticket.custom_field(ref) if ref else None) for name, ref in field_refs.items()}
    return {
        "ticket": {
            "id": ticket.id, "key": ticket.key, "url": ticket.url, "subject": ticket.subject,
            "description": ticket.description, "project": ticket.project,
            "project_name": ticket.project_name, "tracker": ticket.tracker, "type": ticket.tracker,
            "status": ticket.status, "priority": ticket.priority, "labels": list(ticket.labels),
            "categories": list(ticket.categories), "fix_versions": list(ticket.fix_versions),
            "author": _person_name(ticket.author), "assignee": _person_name(ticket.assignee),
            "created": ticket.created, "updated": ticket.updated, "fields": fields,
        },
        "event": {
            "id": event.id, "triggers": sorted(event.triggers), "actor": _person_name(event.actor),
            "occurred_at": event.occurred_at,
            "changes": [{"field": c.field, "old": c.old, "new": c.new, "added": list(c.added),
                         "removed": list(c.removed)} for c in event.changes],
            "comment": event.comment.text if event.comment else "",
            "sla_policy": event.sla_policy or "",
        },
        "rule": rule,
        "now": now,
        "calendar_zones": dict(calendar_zones or {}),
        "sla": {**dict(EMPTY_SLA), **dict((sla or {}).get(event.sla_policy or "", {})),
                "policies": dict(sla or {})},
        "development": {**EMPTY_RELATED["development"], **dict(event.related.get("development", {}))},
        "record": {**EMPTY_RELATED["record"], **dict(event.related.get("record", {}))},
        "survey": {**EMPTY_RELATED["survey"], **dict(event.related.get("survey", {}))},
        "jsm": jsm.views(ticket.tracker_slas),
        **dict(extra or {}),
    }


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


def dry_render(template: Template, field_names: list[str],
               calendar_zones: Mapping[str, str] | None = None, measured: bool = False) -> str | None:
    """Render against the sample ticket (and sample measures, for a measured rule); the error
    message, or None when it renders."""
    context = template_context(SAMPLE_TICKET, SAMPLE_EVENT, {name: None for name in field_names},
                               _SAMPLE_TIME, "sample rule", calendar_zones, SAMPLE_SLA,
                               {"jsm": jsm.SampleViews(), **(SAMPLE_MEASURED if measured else {})})
    try:
        render(template, context)
    except TemplateError as exc:
        return f"template error: {exc}"
    except Exception as exc:  # noqa: BLE001 - any failure of an admin's template is a load error
        return f"template error: {type(exc).__name__}: {exc}"
    return None


__all__ = ["TemplateError", "compile_template", "dry_render", "render", "template_context"]
