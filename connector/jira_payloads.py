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
from datetime import UTC, datetime
from typing import Any

from connector.errors import PayloadError
from rules.model import Change, Comment, Event, Person, Ticket

KIND = "jira"
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
COMMENT_EVENTS = ("comment_created", "comment_updated", "comment_deleted")
# Standard fields whose changes rules know by another name.
_FIELDS = {"status": "status", "priority": "priority", "assignee": "assignee", "summary": "subject",
           "description": "description", "issuetype": "tracker", "project": "project", "labels": "labels",
           "reporter": "author", "resolution": "resolution", "duedate": "due_date", "components": "components"}
_COMMENT_ISSUE = re.compile(r"/issue/(\d+)/comment/")


@dataclass(frozen=True)
class Delivery:
    shape: str  # "cloud" | "server" | "poll"
    action: str  # created | updated | commented | deleted | ignored
    issue_id: str
    dedup_key: str


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
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def person(raw: Any) -> Person | None:
    """Cloud users have `accountId`; Server/DC users `name` (the login) and `key`."""
    if not isinstance(raw, dict):
        return None
    ident = raw.get("accountId") or raw.get("key") or raw.get("name")
    if not ident:
        return None
    return Person(str(ident), str(raw.get("name") or raw.get("accountId") or ""), str(raw.get("displayName", "")),
                  str(raw.get("emailAddress", "")))


def text_of(value: Any) -> str:
    """Plain text of a v2 string or a v3 Atlassian Document Format node."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        parts = [text_of(child) for child in value.get("content", [])]
        joiner = "\n" if value.get("type") in ("doc",) else ""
        return joiner.join(parts)
    if isinstance(value, list):
        return "".join(text_of(item) for item in value)
    return str(value)


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
        categories=tuple(str(c.get("name")) for c in fields.get("components") or () if c.get("name")),
        custom_fields=custom, custom_field_ids=ids,
    )


def _change(item: Mapping[str, Any], field_names: Mapping[str, str]) -> Change:
    field_id = str(item.get("fieldId") or "")
    name = str(item.get("field") or field_id)
    old = item.get("fromString") if item.get("fromString") is not None else item.get("from")
    new = item.get("toString") if item.get("toString") is not None else item.get("to")
    if field_id.startswith("customfield_") or item.get("fieldtype") == "custom":
        if not field_id:  # Server/DC items name the field only: find its id when the name is unique
            ids = [ident for ident, label in field_names.items() if label == name]
            field_id = ids[0] if len(ids) == 1 else ""
        label = field_names.get(field_id, name) if field_id else name
        return Change(f"cf:{label}", _text(old), _text(new), field_id=field_id)
    standard = _FIELDS.get(field_id or name.lower(), (field_id or name).lower())
    return Change(standard, _text(old), _text(new))


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def event_from_body(body: Mapping[str, Any], field_names: Mapping[str, str] | None = None,
                    identifier: str | None = None) -> Event:
    """The Event of a stored delivery (webhook or poll)."""
    delivery = classify(body, identifier)
    names = field_names or {}
    if "poll" in body:
        poll = body["poll"]
        changelog, comment = poll.get("changelog"), poll.get("comment")
        actor = person((changelog or {}).get("author") or (comment or {}).get("author") or
                       ((poll.get("issue") or {}).get("fields") or {}).get("reporter"))
        at = parse_time((changelog or {}).get("created") or (comment or {}).get("created") or
                        ((poll.get("issue") or {}).get("fields") or {}).get("created"))
    else:
        changelog, comment = body.get("changelog"), body.get("comment")
        actor = person(body.get("user") or (comment or {}).get("author"))
        at = parse_time(body.get("timestamp")) or parse_time((comment or {}).get("created"))
    at = at or datetime(1970, 1, 1, tzinfo=UTC)
    if delivery.action in ("deleted", "ignored"):
        return Event(delivery.dedup_key, KIND, delivery.issue_id, frozenset(), at, actor)
    if delivery.action == "created":
        return Event(delivery.dedup_key, KIND, delivery.issue_id, frozenset({"ticket.created"}), at, actor)
    changes = tuple(_change(item, names) for item in (changelog or {}).get("items") or [])
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
    elif ident == "duedate":
        fields["duedate"] = raw
    elif ident.startswith("customfield_"):
        current = fields.get(ident)
        fields[ident] = ({"value": text} if text else None) if isinstance(current, dict) or current is None \
            else (text or None)
