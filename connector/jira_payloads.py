"""Jira payload shapes -> the shared Ticket / Event model. Pure: no HTTP here.

Webhook envelopes (Cloud and Server/Data Center): `webhookEvent` (jira:issue_created,
jira:issue_updated, jira:issue_deleted, comment_created, comment_updated, ...),
`issue_event_type_name`, `user`, `issue` (as GET /issue returns it), `changelog {id, items}`,
`comment`. Server/DC items have no `fieldId`, and a DC `comment_created` may carry no `issue`
(the issue id is in `comment.self`). The reconciliation poller stores
{"poll": {"issue": ..., "changelog": ... | null, "comment": ... | null}}.

Every delivery gets a key from what it is about (issue created, changelog id, comment id), not
from the delivery, so Jira's retries, the comment_created + jira:issue_updated pair of one
comment, and the poller's view of the same happening are one event.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.errors import PayloadError, reads_deliveries
from rules.changes import fold, split_values
from rules.model import Change, Comment, Event, Person, SlaCycle, Ticket, TrackerSla

KIND = "jira"
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
COMMENT_EVENTS = ("comment_created", "comment_updated", "comment_deleted")
# Standard fields whose changes rules know by another name (keys in lower case: a Cloud item's
# fieldId, else its field name). Components are `components` on Cloud and `Component` on Data
# Center, fix versions `fixVersions` and `Fix Version`.
_FIELDS = {"status": "status", "priority": "priority", "assignee": "assignee", "summary": "subject",
           "description": "description", "issuetype": "tracker", "project": "project", "labels": "labels",
           "reporter": "author", "resolution": "resolution", "duedate": "due_date", "components": "category",
           "component": "category", "fixversions": "fix_versions", "fix version": "fix_versions"}
# Multi-value standard fields, and how a changelog side joins their values (None: with spaces).
_JOINED = {"labels": None, "category": ",", "fix_versions": ","}
_PEOPLE = ("assignee", "author")
_ID_LIST = re.compile(r"^\[(.*)\]$")  # `from` / `to` of a multi-value field: "[10000, 10001]"
_COMMENT_ISSUE = re.compile(r"/issue/(\d+)/comment/")


@dataclass(frozen=True)
class Delivery:
    shape: str  # "cloud" | "server" | "poll"
    action: str  # created | updated | commented | deleted | ignored
    issue_id: str
    dedup_key: str


@reads_deliveries
def accepted(body: Any, identifier: str | None = None) -> Delivery:
    """What the intake takes: a known shape (`classify`) whose event and issue can be read
    (field names aside, which need the tracker): what is stored can be processed."""
    delivery = classify(body, identifier)
    event_from_body(body, identifier=identifier)
    issue = body.get("issue") or (body.get("poll") or {}).get("issue")
    if isinstance(issue, dict) and isinstance(issue.get("fields"), dict):
        ticket_from_issue(issue, "")
    return delivery


@reads_deliveries
def classify(body: Any, identifier: str | None = None) -> Delivery:
    """Recognise a delivery; raise PayloadError with a reason a sender can act on."""
    if not isinstance(body, dict):
        raise PayloadError("expected a JSON object")
    if "poll" in body:
        return _classify_poll(body["poll"])
    event = body.get("webhookEvent")
    if not isinstance(event, str):
        raise PayloadError("unknown Jira payload: expected `webhookEvent`")
    shape = "cloud" if _has_field_ids(body) else "server"
    if event in ISSUE_EVENTS:
        issue_id = _issue_id(body.get("issue"), "issue")
        if event == "jira:issue_created":
            return Delivery(shape, "created", issue_id, f"jira:issue:{issue_id}:created")
        if event == "jira:issue_deleted":
            return Delivery(shape, "deleted", issue_id, f"jira:issue:{issue_id}:deleted")
        return Delivery(shape, "updated", issue_id, _update_key(body, issue_id, identifier))
    if event in COMMENT_EVENTS:
        comment = body.get("comment")
        if not isinstance(comment, dict) or not comment.get("id"):
            raise PayloadError("comment: missing `comment.id`")
        issue_id = comment_issue_id(body)
        action = "commented" if event == "comment_created" else "ignored"
        suffix = "" if event == "comment_created" else f":{event.split('_')[1]}:{comment.get('updated', '')}"
        return Delivery(shape, action, issue_id, f"jira:issue:{issue_id}:comment:{comment['id']}{suffix}")
    raise PayloadError(f"webhookEvent: unsupported event {event!r} (expected one of "
                       f"{', '.join(ISSUE_EVENTS + COMMENT_EVENTS)})")


def _has_field_ids(body: Mapping[str, Any]) -> bool:
    items = (body.get("changelog") or {}).get("items") or []
    return any("fieldId" in item for item in items) or "accountId" in (body.get("user") or {})


def _issue_id(issue: Any, where: str) -> str:
    if not isinstance(issue, dict) or not str(issue.get("id", "")).isdigit():
        raise PayloadError(f"{where}: missing `issue.id`")
    return str(issue["id"])


@reads_deliveries
def comment_issue_id(body: Mapping[str, Any]) -> str:
    """The issue of a comment event: `issue.id`, or (Data Center) from `comment.self`."""
    if isinstance(body.get("issue"), dict) and str(body["issue"].get("id", "")).isdigit():
        return str(body["issue"]["id"])
    match = _COMMENT_ISSUE.search(str((body.get("comment") or {}).get("self", "")))
    if not match:
        raise PayloadError("comment event without `issue`, and `comment.self` names no issue")
    return match[1]


def _update_key(body: Mapping[str, Any], issue_id: str, identifier: str | None) -> str:
    """A comment's pair (issue_updated + comment_created) shares the comment's key; a change
    is keyed by its changelog; anything else by the delivery identifier (same across retries)."""
    changelog = body.get("changelog") or {}
    comment = body.get("comment") or {}
    if changelog.get("id") and changelog.get("items"):
        return f"jira:issue:{issue_id}:changelog:{changelog['id']}"
    if comment.get("id"):
        return f"jira:issue:{issue_id}:comment:{comment['id']}"
    if identifier:
        return f"jira:issue:{issue_id}:delivery:{identifier}"
    return f"jira:issue:{issue_id}:updated:{(body.get('issue') or {}).get('fields', {}).get('updated', '')}"


def _classify_poll(poll: Any) -> Delivery:
    if not isinstance(poll, dict):
        raise PayloadError("poll: expected an object")
    issue_id = _issue_id(poll.get("issue"), "poll.issue")
    if poll.get("changelog"):
        return Delivery("poll", "updated", issue_id, f"jira:issue:{issue_id}:changelog:{poll['changelog']['id']}")
    if poll.get("comment"):
        return Delivery("poll", "commented", issue_id, f"jira:issue:{issue_id}:comment:{poll['comment']['id']}")
    return Delivery("poll", "created", issue_id, f"jira:issue:{issue_id}:created")


# -- model --------------------------------------------------------------------------------------

def parse_time(value: Any) -> datetime | None:
    """Jira times (`2024-12-29T08:41:23.303+0530`), or epoch milliseconds, as aware datetimes."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:  # past what a datetime holds
            raise PayloadError(f"time {value!r} is out of range (epoch milliseconds expected)") from exc
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def person(raw: Any) -> Person | None:
    """Cloud users have `accountId` (and no e-mail address, unless their privacy settings show
    it); Server/DC users `name` (the login) and `key`, and some Data Center payloads only `self`
    (`.../rest/api/2/user?username=jdoe`), which then names them."""
    if not isinstance(raw, dict):
        return None
    query = parse_qs(urlsplit(str(raw.get("self") or "")).query)
    account = raw.get("accountId") or (query.get("accountId") or [""])[0]
    login = raw.get("name") or (query.get("username") or [""])[0]
    ident = account or raw.get("key") or (query.get("key") or [""])[0] or login
    if not ident:
        return None
    return Person(str(ident), str(login or account), str(raw.get("displayName") or ""),
                  str(raw.get("emailAddress") or ""))


# Atlassian Document Format nodes that hold blocks (each its own line) rather than inline text.
_BLOCKS = frozenset({"doc", "paragraph", "heading", "blockquote", "codeBlock", "bulletList", "orderedList",
                     "listItem", "panel", "rule", "table", "tableRow", "tableHeader", "tableCell", "mediaSingle",
                     "mediaGroup", "expand", "nestedExpand", "taskList", "taskItem", "decisionList",
                     "decisionItem", "blockCard", "embedCard"})


def text_of(value: Any) -> str:
    """Plain text of a v2 string or a v3 Atlassian Document Format node: each paragraph, list
    item and hard break on its own line, and mentions as `@Display Name` (a rule may look
    for who was asked)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _adf_text(value)
    if isinstance(value, list):
        return "".join(text_of(item) for item in value)
    return str(value)


def _adf_text(node: Mapping[str, Any]) -> str:
    """One document node as text: blocks on lines of their own, inline nodes run together."""
    kind, attrs = node.get("type"), node.get("attrs") or {}
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        name = str(attrs.get("text") or attrs.get("displayName") or attrs.get("id") or "")
        return name if name.startswith("@") else f"@{name}"
    if kind in ("emoji", "status"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    children = [child for child in node.get("content") or [] if isinstance(child, dict)]
    if kind in ("bulletList", "orderedList"):
        first = int(attrs.get("order") or 1)
        marks = [f"{first + index}. " if kind == "orderedList" else "- " for index in range(len(children))]
        return "\n".join(mark + _adf_text(child).replace("\n", "\n  ") for mark, child in zip(marks, children,
                                                                                             strict=True))
    joiner = "\n" if any(child.get("type") in _BLOCKS for child in children) else ""
    return joiner.join(_adf_text(child) for child in children)


def field_value(value: Any) -> Any:
    """A custom field's value as rules compare it: option values, user names, lists of those."""
    if isinstance(value, list):
        return [field_value(item) for item in value]
    if isinstance(value, dict):
        for key in ("value", "name", "displayName", "key"):
            if key in value:
                return value[key]
        return None
    return value


@reads_deliveries
def ticket_from_issue(issue: Mapping[str, Any], base_url: str, field_names: Mapping[str, str] | None = None,
                      ) -> Ticket:
    """A Ticket from an issue as GET /issue (or a webhook) shows it.

    `field_names` maps custom field ids to names (from GET /field); without it custom fields
    are known by id only (`fields` in the rulebook accepts ids).
    """
    fields = issue.get("fields") or {}
    names = field_names or {}
    present = [ident for ident in fields if ident.startswith("customfield_")]
    counts = Counter(names.get(ident, ident) for ident in present)
    custom: dict[str, Any] = {}
    ids: dict[str, str] = {}
    for ident in present:
        # Jira's field names are not unique (every Cloud site has a built-in "Team"): a name
        # shared by several fields names none of them, and each is known by its id alone.
        name = names.get(ident, ident)
        key = name if counts[name] == 1 else ident
        custom[key] = field_value(fields[ident])
        ids[key] = ident
    participants: tuple[Person, ...] = ()
    for ident, label in names.items():
        if label == "Request participants" and isinstance(fields.get(ident), list):
            participants = tuple(p for p in (person(user) for user in fields[ident]) if p is not None)
    slas = tuple(sla for ident in present if (sla := tracker_sla(fields[ident], ident)) is not None)
    status = fields.get("status") or {}
    project = fields.get("project") or {}
    key = str(issue.get("key", issue.get("id")))
    return Ticket(
        tracker_kind=KIND, id=str(issue["id"]), key=key, url=f"{base_url.rstrip('/')}/browse/{key}",
        project=str(project.get("key", "")), project_name=str(project.get("name", "")),
        tracker=str((fields.get("issuetype") or {}).get("name", "")), status=str(status.get("name", "")),
        priority=str((fields.get("priority") or {}).get("name", "")), subject=str(fields.get("summary") or ""),
        description=text_of(fields.get("description")), author=person(fields.get("reporter")),
        assignee=person(fields.get("assignee")), created=parse_time(fields.get("created")),
        updated=parse_time(fields.get("updated")), closed=parse_time(fields.get("resolutiondate")),
        is_closed=(status.get("statusCategory") or {}).get("key") == "done",
        labels=tuple(str(label) for label in fields.get("labels") or ()), participants=participants,
        categories=_names(fields.get("components")), fix_versions=_names(fields.get("fixVersions")),
        custom_fields=custom, custom_field_ids=ids, tracker_slas=slas,
    )


def _names(items: Any) -> tuple[str, ...]:
    """The names of components or versions as an issue lists them."""
    return tuple(str(item["name"]) for item in items or () if isinstance(item, dict) and item.get("name"))


def tracker_sla(value: Any, field_id: str = "") -> TrackerSla | None:
    """A Jira Service Management SLA field's value (`{"id", "name", "ongoingCycle",
    "completedCycles"}`, times as `{"epochMillis", "iso8601", ...}`, durations as `{"millis",
    "friendly"}`); None for any other value."""
    if not isinstance(value, dict) or not value.get("name") or \
            not ({"ongoingCycle", "completedCycles"} & set(value)):
        return None
    completed = tuple(cycle for raw in value.get("completedCycles") or [] if (cycle := _cycle(raw)) is not None)
    return TrackerSla(str(value["name"]), _cycle(value.get("ongoingCycle")), completed, field_id)


def _cycle(raw: Any) -> SlaCycle | None:
    if not isinstance(raw, dict):
        return None
    calendar = raw.get("withinCalendarHours")
    return SlaCycle(start=_sla_time(raw.get("startTime")), stop=_sla_time(raw.get("stopTime")),
                    breach_at=_sla_time(raw.get("breachTime")), breached=raw.get("breached") is True,
                    paused=raw.get("paused") is True, within_calendar_hours=calendar if isinstance(calendar, bool)
                    else None, goal=_millis(raw.get("goalDuration")), elapsed=_millis(raw.get("elapsedTime")),
                    remaining=_millis(raw.get("remainingTime")))


def _sla_time(raw: Any) -> datetime | None:
    if isinstance(raw, dict):
        return parse_time(raw.get("epochMillis")) or parse_time(raw.get("iso8601"))
    return parse_time(raw)


def _millis(raw: Any) -> timedelta | None:
    value = raw.get("millis") if isinstance(raw, dict) else raw
    return timedelta(milliseconds=value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _change(item: Mapping[str, Any], field_names: Mapping[str, str], fields: Mapping[str, Any]) -> Change:
    """One changelog item as a Change; `fields` (the issue after it) tells which custom fields
    hold several values or a person."""
    field_id = str(item.get("fieldId") or "")
    name = str(item.get("field") or field_id)
    old, new = _display(item, "from"), _display(item, "to")
    if field_id.startswith("customfield_") or item.get("fieldtype") == "custom":
        if not field_id:  # Server/DC items name the field only: find its id when the name is unique
            ids = [ident for ident, label in field_names.items() if label == name]
            field_id = ids[0] if len(ids) == 1 else ""
        label = f"cf:{field_names.get(field_id, name) if field_id else name}"
        current = fields.get(field_id) if field_id else None
        if isinstance(current, list) or _ID_LIST.match(str(item.get("from") or item.get("to") or "")):
            return _values_change(label, item, ",", field_id)
        if _is_user(current):
            return _people_change(label, item, field_id)
        return Change(label, _text(old), _text(new), field_id=field_id)
    standard = _FIELDS.get((field_id or name).lower(), (field_id or name).lower())
    if standard in _JOINED:
        return _values_change(standard, item, _JOINED[standard])
    if standard in _PEOPLE:
        return _people_change(standard, item)
    return Change(standard, _text(old), _text(new))


def _display(item: Mapping[str, Any], side: str) -> Any:
    """A side's display text (`fromString`), else its raw value (`from`)."""
    text = item.get(f"{side}String")
    return text if text is not None else item.get(side)


def _values_change(field: str, item: Mapping[str, Any], separator: str | None, field_id: str = "") -> Change:
    """A multi-value field's item: the values each side joins, compared by id where the item
    lists ids in the same order as the names (so a renamed option is not a new value)."""
    before, after = _side_values(item, "from", separator), _side_values(item, "to", separator)
    keys_before, keys_after = {key for key, _ in before}, {key for key, _ in after}
    return Change(field, _text(_display(item, "from")), _text(_display(item, "to")), field_id,
                  added=tuple(value for key, value in after if key not in keys_before),
                  removed=tuple(value for key, value in before if key not in keys_after))


def _side_values(item: Mapping[str, Any], side: str, separator: str | None) -> list[tuple[str, str]]:
    """(id or name, name) of each value a side joins."""
    names = split_values(_text(_display(item, side)), separator)
    raw = str(item.get(side) or "")
    listed = _ID_LIST.match(raw)
    ids = split_values(listed[1], ",") if listed else ((raw,) if raw and item.get(f"{side}String") else ())
    keys = ids if len(ids) == len(names) else names
    return list(zip(keys, names, strict=True))


def _is_user(value: Any) -> bool:
    """A user picker's value: a user object (Cloud `accountId`, Server `/user?username=`)."""
    return isinstance(value, dict) and ("accountId" in value or "/user?" in str(value.get("self") or ""))


def _people_change(field: str, item: Mapping[str, Any], field_id: str = "") -> Change:
    """A change of who holds a field: Cloud items give accountIds in `from` / `to` (and a
    fieldId), Data Center items user keys or logins; the names are the display names."""
    cloud = bool(item.get("fieldId"))
    old, new = _change_person(item, "from", cloud), _change_person(item, "to", cloud)
    return Change(field, _text(_display(item, "from")), _text(_display(item, "to")), field_id,
                  old_person=old, new_person=new)


def _change_person(item: Mapping[str, Any], side: str, cloud: bool) -> Person | None:
    ident = _text(item.get(side))
    if ident is None:
        return None
    return Person(ident, ident if cloud else "", str(item.get(f"{side}String") or ""))


def _current_values(fields: Mapping[str, Any], field_names: Mapping[str, str]) -> dict[str, list[str]]:
    """Each multi-value field's values on the issue after the change (to show whole sets)."""
    current = {"labels": [str(label) for label in fields.get("labels") or []],
               "category": list(_names(fields.get("components"))),
               "fix_versions": list(_names(fields.get("fixVersions")))}
    for ident, value in fields.items():
        if ident.startswith("customfield_") and isinstance(value, list):
            current[f"cf:{field_names.get(ident, ident)}"] = [str(field_value(item)) for item in value]
    return current


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _moment(body: Mapping[str, Any], received_at: datetime | None) -> datetime:
    """When it happened: the webhook's `timestamp` (the poller's changelog or comment time),
    else when ticketwarden received it, else the comment's or the issue's own time."""
    poll = body.get("poll")
    source = poll if isinstance(poll, dict) else body
    fields = (source.get("issue") or {}).get("fields") or {}
    comment, changelog = source.get("comment") or {}, source.get("changelog") or {}
    stated = parse_time(changelog.get("created") or comment.get("created") or fields.get("created")) if poll \
        else parse_time(body.get("timestamp"))
    moment = stated or received_at or parse_time(comment.get("created")) or parse_time(fields.get("updated")) \
        or parse_time(fields.get("created"))
    if moment is None:
        raise PayloadError("the delivery says nothing of when it happened (no `timestamp`) and its time of "
                           "receipt is unknown")
    return moment


def _envelope(body: Mapping[str, Any]) -> tuple[Any, Any, Person | None, Mapping[str, Any]]:
    """A webhook's or a poll's changelog, comment, actor and issue fields."""
    if "poll" in body:
        poll = body["poll"]
        changelog, comment = poll.get("changelog"), poll.get("comment")
        fields = (poll.get("issue") or {}).get("fields") or {}
        return changelog, comment, person((changelog or {}).get("author") or (comment or {}).get("author")
                                          or fields.get("reporter")), fields
    changelog, comment = body.get("changelog"), body.get("comment")
    fields = (body.get("issue") or {}).get("fields") or {}
    return changelog, comment, person(body.get("user") or (comment or {}).get("author")), fields


@reads_deliveries
def event_from_body(body: Mapping[str, Any], field_names: Mapping[str, str] | None = None,
                    identifier: str | None = None, received_at: datetime | None = None) -> Event:
    """The Event of a stored delivery (webhook or poll). `received_at`, when ticketwarden
    received it, is its time if Jira sent none (`timestamp`), never the epoch."""
    delivery = classify(body, identifier)
    names = field_names or {}
    changelog, comment, actor, fields = _envelope(body)
    at = _moment(body, received_at)
    if delivery.action in ("deleted", "ignored"):
        return Event(delivery.dedup_key, KIND, delivery.issue_id, frozenset(), at, actor)
    if delivery.action == "created":
        return Event(delivery.dedup_key, KIND, delivery.issue_id, frozenset({"ticket.created"}), at, actor)
    changes = fold([_change(item, names, fields) for item in (changelog or {}).get("items") or []],
                   _current_values(fields, names))
    note = None
    if comment and comment.get("id"):
        private = bool(comment.get("visibility")) or _internal(comment)
        note = Comment(text_of(comment.get("body")), private, f"jira:issue:{delivery.issue_id}:comment:{comment['id']}")
    triggers: set[str] = set()
    if changes:
        triggers.add("ticket.updated")
    if note is not None and note.text.strip():
        triggers.add("ticket.commented")
    status = next((c for c in changes if c.field == "status"), None)
    if status is not None and "resolution" in {c.field for c in changes}:
        resolution = next(c for c in changes if c.field == "resolution")
        if resolution.new and not resolution.old:
            triggers.add("ticket.closed")
        elif resolution.old and not resolution.new:
            triggers.add("ticket.reopened")
    return Event(delivery.dedup_key, KIND, delivery.issue_id, frozenset(triggers), at, actor, changes, note)


def _internal(comment: Mapping[str, Any]) -> bool:
    """Jira Service Management marks internal comments with the `sd.public.comment` property."""
    for prop in comment.get("properties") or []:
        if prop.get("key") == "sd.public.comment":
            return (prop.get("value") or {}).get("internal") is True
    return comment.get("jsdPublic") is False


@reads_deliveries
def history(issue: Mapping[str, Any], categories: Mapping[str, str], field_names: Mapping[str, str]
            ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """An issue's life as poll-shaped deliveries (its creation, each changelog entry, each
    comment, in time order), each with the issue as it was just after it.

    GET /issue?expand=changelog gives the issue as it is now and every change with its old and
    new values: undoing the changes from the newest gives the issue as created. `categories`
    maps status names to their category keys (`done` closes), `field_names` field ids to names.
    """
    histories = sorted((issue.get("changelog") or {}).get("histories") or [], key=lambda h: str(h.get("created")))
    state = copy.deepcopy({key: value for key, value in issue.items() if key != "changelog"})
    by_name = _ids_by_name(field_names)
    after: list[dict[str, Any]] = []
    for entry in reversed(histories):
        after.append(copy.deepcopy(state))
        for item in entry.get("items") or []:
            _restore(state.setdefault("fields", {}), item, "from", categories, by_name)
    after.reverse()
    steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    created = state
    steps.append((str((created.get("fields") or {}).get("created")), {"poll": {"issue": created, "changelog": None,
                                                                             "comment": None}}, created))
    for entry, snapshot in zip(histories, after, strict=True):
        steps.append((str(entry.get("created")), {"poll": {"issue": snapshot, "changelog": entry, "comment": None}},
                      snapshot))
    moments = [(parse_time(entry.get("created")), snapshot) for entry, snapshot in zip(histories, after, strict=True)]
    for comment in ((issue.get("fields") or {}).get("comment") or {}).get("comments") or []:
        at = parse_time(comment.get("created"))
        snapshot = created
        for moment, candidate in moments:
            if at is not None and moment is not None and moment <= at:
                snapshot = candidate
        steps.append((str(comment.get("created")), {"poll": {"issue": snapshot, "changelog": None,
                                                             "comment": comment}}, snapshot))
    steps.sort(key=lambda step: parse_time(step[0]) or datetime(1970, 1, 1, tzinfo=UTC))
    return [(body, snapshot) for _, body, snapshot in steps]


def _ids_by_name(field_names: Mapping[str, str]) -> dict[str, str]:
    """Field name -> id, for names only one field has (Server/DC changelogs name fields)."""
    counts: dict[str, int] = {}
    for name in field_names.values():
        counts[name] = counts.get(name, 0) + 1
    return {name: ident for ident, name in field_names.items() if counts[name] == 1}


def _restore(fields: dict[str, Any], item: Mapping[str, Any], side: str, categories: Mapping[str, str],
             by_name: Mapping[str, str]) -> None:
    """Set one field of an issue snapshot to a changelog item's old (`from`) or new (`to`) value."""
    text, raw = item.get(f"{side}String"), item.get(side)
    name = str(item.get("field") or "")
    ident = str(item.get("fieldId") or by_name.get(name) or name.lower())
    if ident == "status":
        fields["status"] = {"name": text, "statusCategory": {"key": categories.get(str(text), "indeterminate")}} \
            if text else None
    elif ident in ("priority", "resolution", "issuetype"):
        fields[ident] = {"name": text} if text else None
    elif ident == "assignee":
        fields["assignee"] = {"accountId": raw, "name": raw, "displayName": text} if raw else None
    elif ident in ("summary", "description"):
        fields[ident] = text or ""
    elif ident == "labels":
        fields["labels"] = str(text or "").split()
    elif _FIELDS.get(ident.lower()) in ("category", "fix_versions"):
        _restore_names(fields, "components" if _FIELDS[ident.lower()] == "category" else "fixVersions", item, side)
    elif ident == "duedate":
        fields["duedate"] = raw
    elif ident.startswith("customfield_"):
        current = fields.get(ident)
        fields[ident] = ({"value": text} if text else None) if isinstance(current, dict) or current is None \
            else (text or None)


def _restore_names(fields: dict[str, Any], key: str, item: Mapping[str, Any], side: str) -> None:
    """Components or versions as they were on `side` of an item (one per value or joined)."""
    other = "to" if side == "from" else "from"
    gone = set(split_values(_text(_display(item, other)), ","))
    names = [name for name in _names(fields.get(key)) if name not in gone]
    names += [name for name in split_values(_text(_display(item, side)), ",") if name not in names]
    fields[key] = [{"name": name} for name in names]
