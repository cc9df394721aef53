"""Redmine payload shapes -> the shared Ticket / Event model. Pure: no HTTP here.

Three shapes arrive, all stored raw in the inbox and normalised here:
- the redmine_webhook plugin: {"payload": {"action": "opened"|"updated", "issue", "journal", "url"}}
- Redmine 7 core webhooks: {"type": "issue.created"|"issue.updated"|"issue.deleted",
  "timestamp", "data": {"issue", "journal"}}
- the reconciliation poller: {"poll": {"action": "created"|"updated", "issue", "journal"}},
  with the issue and journal as GET /issues/:id.json returns them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.errors import PayloadError, UnknownReference, reads_deliveries
from rules.changes import of_details
from rules.model import Change, Comment, Event, Person, Ticket

KIND = "redmine"

_ATTRIBUTE_FIELDS = {
    "status_id": "status", "tracker_id": "tracker", "priority_id": "priority",
    "assigned_to_id": "assignee", "project_id": "project", "category_id": "category",
    "fixed_version_id": "version", "parent_id": "parent",
}


@dataclass(frozen=True)
class Delivery:
    """What the intake needs to know about a delivery before storing it."""

    shape: str  # "plugin" | "core" | "poll"
    action: str  # "created" | "updated" | "deleted"
    issue_id: int
    journal_id: int | None
    dedup_key: str


@dataclass(frozen=True)
class Vocabulary:
    """Names for the ids a Redmine payload carries. Fetched and cached by the connector."""

    statuses: Mapping[str, str] = field(default_factory=dict)
    closed_statuses: frozenset[str] = frozenset()
    trackers: Mapping[str, str] = field(default_factory=dict)
    priorities: Mapping[str, str] = field(default_factory=dict)
    projects: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id -> (identifier, name)
    users: Mapping[str, Person] = field(default_factory=dict)

    def name(self, table: str, ident: Any) -> str:
        mapping: Mapping[str, Any] = getattr(self, table)
        key = str(ident)
        if key not in mapping:
            raise UnknownReference(f"unknown {table[:-1]} id {key}")
        value = mapping[key]
        return str(value[0] if isinstance(value, tuple) else value)

    def status_is_closed(self, name: str) -> bool:
        return name in self.closed_statuses


class _Echo(Mapping[str, Any]):
    """Names every id by itself (a project by itself twice: identifier and name)."""

    def __init__(self, pairs: bool = False):
        self._pairs = pairs

    def __getitem__(self, key: str) -> Any:
        return (key, key) if self._pairs else key

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, key: object) -> bool:
        return True


def _any_names() -> Vocabulary:
    """A vocabulary for reading a delivery for its shape alone, without the tracker's names."""
    return Vocabulary(statuses=_Echo(), trackers=_Echo(), priorities=_Echo(), projects=_Echo(pairs=True))


@reads_deliveries
def accepted(body: Any) -> Delivery:
    """What the intake takes: a known shape (`classify`) whose event and issue can be read
    (names aside, which need the tracker): what is stored can be processed."""
    delivery = classify(body)
    names = _any_names()
    event_from_body(body, names)
    issue, _ = parts(body)
    if isinstance(issue, dict):
        ticket_from_issue(issue, names, "")
    return delivery


def dedup_key(issue_id: int, action: str, journal_id: int | None, extra: str = "") -> str:
    """The key that makes webhook, poll and replay deliveries of one happening the same event."""
    if journal_id is not None:
        return f"redmine:issue:{issue_id}:journal:{journal_id}"
    if action == "updated":
        return f"redmine:issue:{issue_id}:updated:{extra}"
    return f"redmine:issue:{issue_id}:{action}"


@reads_deliveries
def classify(body: Any) -> Delivery:
    """Recognise a delivery's shape; raise PayloadError with a reason a sender can act on."""
    if not isinstance(body, dict):
        raise PayloadError("expected a JSON object")
    if "payload" in body:
        return _classify_plugin(body["payload"])
    if "type" in body and "data" in body:
        return _classify_core(body)
    if "poll" in body:
        return _classify_poll(body["poll"])
    raise PayloadError("unknown Redmine payload: expected a redmine_webhook plugin `payload` "
                       "or a Redmine core webhook with `type` and `data`")


def _issue_id(issue: Any, where: str) -> int:
    if not isinstance(issue, dict):
        raise PayloadError(f"{where}: missing `issue` object")
    ident = issue.get("id")
    if not isinstance(ident, int) or isinstance(ident, bool) or ident <= 0:
        raise PayloadError(f"{where}: `issue.id` must be a positive integer")
    return ident


def _journal_id(journal: Any, where: str) -> int | None:
    if journal is None:
        return None
    if not isinstance(journal, dict) or not isinstance(journal.get("id"), int):
        raise PayloadError(f"{where}: `journal.id` must be an integer")
    return int(journal["id"])


def _classify_plugin(payload: Any) -> Delivery:
    if not isinstance(payload, dict):
        raise PayloadError("payload: expected an object")
    action = payload.get("action")
    if action not in ("opened", "updated"):
        raise PayloadError("payload.action: expected `opened` or `updated`")
    issue_id = _issue_id(payload.get("issue"), "payload")
    journal_id = _journal_id(payload.get("journal"), "payload") if action == "updated" else None
    normalized = "created" if action == "opened" else "updated"
    updated_on = str(payload["issue"].get("updated_on", ""))
    return Delivery("plugin", normalized, issue_id, journal_id,
                    dedup_key(issue_id, normalized, journal_id, updated_on))


_CORE_TYPES = {"issue.created": "created", "issue.updated": "updated", "issue.deleted": "deleted"}


def _classify_core(body: dict[str, Any]) -> Delivery:
    action = _CORE_TYPES.get(body.get("type"))  # type: ignore[arg-type]
    if action is None:
        raise PayloadError(f"type: unsupported event type {body.get('type')!r} "
                           f"(expected one of {', '.join(_CORE_TYPES)})")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PayloadError("data: expected an object")
    issue_id = _issue_id(data.get("issue"), "data")
    journal_id = _journal_id(data.get("journal"), "data") if action == "updated" else None
    extra = str(data["issue"].get("updated_on") or body.get("timestamp", ""))
    return Delivery("core", action, issue_id, journal_id, dedup_key(issue_id, action, journal_id, extra))


def _classify_poll(poll: Any) -> Delivery:
    if not isinstance(poll, dict) or poll.get("action") not in ("created", "updated"):
        raise PayloadError("poll.action: expected `created` or `updated`")
    issue_id = _issue_id(poll.get("issue"), "poll")
    journal_id = _journal_id(poll.get("journal"), "poll")
    return Delivery("poll", poll["action"], issue_id, journal_id,
                    dedup_key(issue_id, poll["action"], journal_id, str(poll["issue"].get("updated_on"))))


def parts(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The issue and journal objects of any shape."""
    if "payload" in body:
        return body["payload"]["issue"], body["payload"].get("journal")
    if "data" in body:
        return body["data"]["issue"], body["data"].get("journal")
    return body["poll"]["issue"], body["poll"].get("journal")


def parse_time(value: Any) -> datetime | None:
    """Redmine timestamps (`2026-11-22T01:44:59Z`, with or without milliseconds) as aware UTC."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def person(raw: Any, vocabulary: Vocabulary | None = None) -> Person | None:
    """A Person from the plugin's user objects or REST's {id, name}."""
    if not isinstance(raw, dict) or raw.get("id") is None:
        return None
    ident = str(raw["id"])
    name = raw.get("name") or " ".join(
        part for part in (raw.get("firstname"), raw.get("lastname")) if part)
    login = raw.get("login", "")
    if vocabulary and ident in vocabulary.users and not login:
        known = vocabulary.users[ident]
        return Person(ident, known.login, name or known.name)
    return Person(ident, login, name)


@reads_deliveries
def custom_fields(issue: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Custom field values by name, and names -> ids, from either shape."""
    values: dict[str, Any] = {}
    ids: dict[str, str] = {}
    for item in issue.get("custom_field_values") or []:
        name = item.get("custom_field_name")
        values[name] = item.get("value")
        ids[name] = str(item.get("custom_field_id"))
    for item in issue.get("custom_fields") or []:
        name = item.get("name")
        values[name] = item.get("value")
        ids[name] = str(item.get("id"))
    return values, ids


@reads_deliveries
def ticket_from_issue(issue: Mapping[str, Any], vocabulary: Vocabulary, base_url: str) -> Ticket:
    """A Ticket from an issue object of any shape."""
    project = issue.get("project") or {}
    identifier = project.get("identifier")
    project_name = project.get("name", "")
    if not identifier:
        identifier, project_name = vocabulary.projects.get(str(project.get("id")), ("", project_name))
        if not identifier:
            raise UnknownReference(f"unknown project id {project.get('id')}")
    status = (issue.get("status") or {}).get("name", "")
    values, ids = custom_fields(issue)
    ident = str(issue["id"])
    return Ticket(
        tracker_kind=KIND, id=ident, key=f"#{ident}",
        url=f"{base_url.rstrip('/')}/issues/{ident}" if base_url else str(issue.get("url", "")),
        project=identifier, project_name=project_name,
        tracker=(issue.get("tracker") or {}).get("name", ""), status=status,
        priority=(issue.get("priority") or {}).get("name", ""),
        subject=issue.get("subject", "") or "", description=issue.get("description", "") or "",
        author=person(issue.get("author"), vocabulary),
        assignee=person(issue.get("assignee") or issue.get("assigned_to"), vocabulary),
        created=parse_time(issue.get("created_on")), updated=parse_time(issue.get("updated_on")),
        closed=parse_time(issue.get("closed_on")),
        is_closed=vocabulary.status_is_closed(status),
        categories=tuple(name for name in [(issue.get("category") or {}).get("name")] if name),
        custom_fields=values, custom_field_ids=ids,
    )


@reads_deliveries
def event_from_body(body: dict[str, Any], vocabulary: Vocabulary, received_at: datetime | None = None) -> Event:
    """The Event of a stored delivery. Ids in journal details become names via the vocabulary.
    `received_at` (when the delivery came) dates a delivery that carries no time of its own."""
    delivery = classify(body)
    undated = received_at or _unknown_time()
    issue, journal = parts(body)
    event_id = delivery.dedup_key
    if delivery.action == "deleted":
        return Event(event_id, KIND, str(delivery.issue_id), frozenset(),
                     parse_time(body.get("timestamp")) or undated)
    if delivery.action == "created":
        return Event(event_id, KIND, str(delivery.issue_id), frozenset({"ticket.created"}),
                     parse_time(issue.get("created_on")) or undated,
                     actor=person(issue.get("author"), vocabulary))
    if journal is None:  # an update delivered without its journal says nothing we can act on
        return Event(event_id, KIND, str(delivery.issue_id), frozenset(),
                     parse_time(issue.get("updated_on")) or undated)
    cf_values, cf_ids = custom_fields(issue)
    cf_names = {ident: name for name, ident in cf_ids.items()}
    changes = tuple(
        change for detail in journal.get("details") or []
        if (change := _change(detail, vocabulary, cf_names)) is not None
    )
    # A multi-value custom field's journal has one detail per value added or removed: one change of the set.
    changes = of_details(changes, {f"cf:{name}": value for name, value in cf_values.items() if isinstance(value, list)})
    notes = journal.get("notes") or ""
    comment = Comment(notes, bool(journal.get("private_notes"))) if notes.strip() else None
    triggers: set[str] = set()
    if changes:
        triggers.add("ticket.updated")
    if comment:
        triggers.add("ticket.commented")
    status = next((c for c in changes if c.field == "status"), None)
    if status is not None:
        was_closed = status.old is not None and vocabulary.status_is_closed(status.old)
        now_closed = status.new is not None and vocabulary.status_is_closed(status.new)
        if now_closed and not was_closed:
            triggers.add("ticket.closed")
        elif was_closed and not now_closed:
            triggers.add("ticket.reopened")
    actor = person(journal.get("author") or journal.get("user"), vocabulary)
    return Event(event_id, KIND, str(delivery.issue_id), frozenset(triggers),
                 parse_time(journal.get("created_on")) or undated, actor, changes, comment)


@reads_deliveries
def split_save_parts(journal_id: int, journals: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The journals that one save split off before this one, oldest first.

    Redmine (Journal#split_private_notes) records a save that changes fields and adds a
    private note as two journals: the changes first (no notes), then the private note (no
    details), by the same user at the same second. The redmine_webhook plugin posts only the
    second, so the changes would wait for the next poll; the worker takes them in with it.
    """
    this = next((j for j in journals if j.get("id") == journal_id), None)
    if this is None or not this.get("private_notes") or not (this.get("notes") or "").strip() \
            or this.get("details"):
        return []
    author, at = _journal_user(this), _second(this.get("created_on"))
    earlier = sorted((j for j in journals if isinstance(j.get("id"), int) and j["id"] < journal_id),
                     key=lambda j: int(j["id"]))
    return [j for j in earlier[-1:]  # the journal saved just before, and only if it is the other half
            if j.get("details") and not (j.get("notes") or "").strip()
            and _journal_user(j) == author and _second(j.get("created_on")) == at]


def _journal_user(journal: Mapping[str, Any]) -> Any:
    return (journal.get("user") or journal.get("author") or {}).get("id")


def _second(value: Any) -> datetime | None:
    parsed = parse_time(value)
    return parsed.replace(microsecond=0) if parsed is not None else None


def _unknown_time() -> datetime:
    """Only offline, for a delivery with no time and no moment of arrival (an old file)."""
    return datetime(1970, 1, 1, tzinfo=UTC)


_TABLES = {"status": "statuses", "tracker": "trackers", "priority": "priorities", "project": "projects"}


def _change(detail: Mapping[str, Any], vocabulary: Vocabulary, cf_names: Mapping[str, str]) -> Change | None:
    prop = detail.get("property")
    key = str(detail.get("prop_key") or detail.get("name") or "")
    old = detail.get("old_value")
    new = detail.get("value", detail.get("new_value"))
    if prop == "cf":
        name = cf_names.get(key, key)
        return Change(f"cf:{name}", _text(old), _text(new), field_id=key)
    if prop != "attr":
        return None  # attachments and relations are not field changes
    name = _ATTRIBUTE_FIELDS.get(key, key)
    table = _TABLES.get(name)
    if table:
        old = vocabulary.name(table, old) if old not in (None, "") else None
        new = vocabulary.name(table, new) if new not in (None, "") else None
    elif name == "assignee":
        old = _user_name(old, vocabulary)
        new = _user_name(new, vocabulary)
    return Change(name, _text(old), _text(new))


def _user_name(ident: Any, vocabulary: Vocabulary) -> str | None:
    if ident in (None, ""):
        return None
    known = vocabulary.users.get(str(ident))
    return (known.login or known.name) if known else str(ident)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


@reads_deliveries
def history(issue: Mapping[str, Any], vocabulary: Vocabulary) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """An issue's life as poll-shaped deliveries, each with the issue as it was just after it.

    GET /issues/:id?include=journals gives the issue as it is now and every journal with its
    details' old and new values: undoing the journals from the newest gives the issue as it was
    created, and redoing them one by one gives it as it was after each.
    """
    journals = sorted(issue.get("journals") or [], key=lambda j: (str(j.get("created_on")), j.get("id", 0)))
    state = copy.deepcopy({key: value for key, value in issue.items() if key != "journals"})
    after: list[dict[str, Any]] = []
    for journal in reversed(journals):
        after.append(copy.deepcopy(state))
        for detail in journal.get("details") or []:
            _restore(state, detail, detail.get("old_value"), vocabulary)
    after.reverse()
    created = state
    created["updated_on"] = created.get("created_on")
    created["closed_on"] = None if not vocabulary.status_is_closed((created.get("status") or {}).get("name", "")) \
        else created.get("closed_on")
    steps = [({"poll": {"action": "created", "issue": created, "journal": None}}, created)]
    for journal, snapshot in zip(journals, after, strict=True):
        snapshot["updated_on"] = journal.get("created_on")
        if not vocabulary.status_is_closed((snapshot.get("status") or {}).get("name", "")):
            snapshot["closed_on"] = None
        steps.append(({"poll": {"action": "updated", "issue": snapshot, "journal": journal}}, snapshot))
    return steps


_SNAPSHOT_ATTRIBUTES = {"status_id": ("status", "statuses"), "tracker_id": ("tracker", "trackers"),
                        "priority_id": ("priority", "priorities"), "project_id": ("project", "projects")}


def _restore(state: dict[str, Any], detail: Mapping[str, Any], value: Any, vocabulary: Vocabulary) -> None:
    """Set one field of an issue snapshot to `value` (a journal detail's old or new value)."""
    prop, key = detail.get("property"), str(detail.get("name") or detail.get("prop_key") or "")
    if prop == "cf":
        for item in state.get("custom_fields") or []:
            if str(item.get("id")) == key:
                item["value"] = value
        return
    if prop != "attr":
        return
    if key in _SNAPSHOT_ATTRIBUTES:
        name, table = _SNAPSHOT_ATTRIBUTES[key]
        if value in (None, ""):
            state.pop(name, None)
            return
        label = getattr(vocabulary, table).get(str(value), "")
        state[name] = {"id": int(value), "name": label[1] if isinstance(label, tuple) else label}
        if table == "projects" and isinstance(label, tuple):
            state[name]["identifier"] = label[0]
    elif key == "assigned_to_id":
        if value in (None, ""):
            state.pop("assigned_to", None)
        else:
            known = vocabulary.users.get(str(value))
            state["assigned_to"] = {"id": int(value), "name": known.name if known else str(value)}
    elif key in ("subject", "description"):
        state[key] = value or ""
    elif key == "category_id":
        state.pop("category", None) if value in (None, "") else state.update(category={"id": int(value)})
