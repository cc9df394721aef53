"""`ticketwarden inspect FILE...`: what ticketwarden sees in a recorded delivery, read offline.

A delivery is read the way the worker reads it, through the connectors' payload code, but with
nothing from a tracker: the names behind ids, the closed statuses and the people are only what
the delivery itself says. What it does not say is listed as notes (inspect) or refused
(`replay --offline`, which must not guess), never fetched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector import jira_payloads, redmine_payloads
from connector.errors import PayloadError, UnknownReference
from rules.model import Event, Person, Ticket
from rules.people import StaffDefinition

_SINGULAR = {"statuses": "status", "trackers": "tracker", "priorities": "priority", "projects": "project"}
_READ_ERRORS = (PayloadError, KeyError, TypeError, ValueError, AttributeError)


class NotADelivery(ValueError):
    """A file that holds no delivery ticketwarden recognises; the message says why."""


class MissingInDelivery(ValueError):
    """The delivery lacks something only its tracker could say (the name behind an id...)."""


@dataclass(frozen=True)
class Recorded:
    """A delivery as recorded in a file: its body and, when kept, the request's headers."""

    path: str
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class OfflineView:
    """A delivery read without any tracker: its event, the ticket as it shows it (None when it
    carries no snapshot), and what it does not say."""

    tracker: str
    shape: str
    event: Event
    ticket: Ticket | None
    ticket_id: str
    ticket_key: str | None
    notes: list[str] = field(default_factory=list)
    project_known: bool = True


def read_recorded(path: str) -> Recorded:
    """A file holding a raw body, or a recorded request `{"body": ..., "headers": ...}` (its
    body may be kept as text in `raw_body`, as for bodies that are not JSON)."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise NotADelivery(f"cannot read it: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotADelivery(f"not JSON ({exc})") from exc
    headers: Mapping[str, str] = {}
    body = document
    if isinstance(document, dict) and ("body" in document or "raw_body" in document):
        headers = document.get("headers") or {}
        body = document["body"] if "body" in document else _parsed(document["raw_body"])
    if not isinstance(body, dict):
        raise NotADelivery("the body is not a JSON object")
    return Recorded(path, body, headers)


def _parsed(text: Any) -> Any:
    try:
        return json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise NotADelivery(f"the recorded body is not JSON ({exc})") from exc


def tracker_of(body: Mapping[str, Any]) -> str:
    """Which tracker sent a delivery, by its shape alone. Both have a poll shape: Redmine's
    says what happened (`action`), Jira's does not."""
    if "webhookEvent" in body:
        return jira_payloads.KIND
    if "payload" in body or ("type" in body and "data" in body):
        return redmine_payloads.KIND
    if "poll" in body:
        poll = body["poll"]
        return redmine_payloads.KIND if isinstance(poll, dict) and "action" in poll else jira_payloads.KIND
    raise NotADelivery("neither a Redmine nor a Jira delivery (unknown Redmine payload: expected a redmine_webhook "
                       "plugin `payload` or a Redmine core webhook with `type` and `data`; unknown Jira payload: "
                       "expected `webhookEvent`)")


def offline_view(body: dict[str, Any], headers: Mapping[str, str] | None = None, strict: bool = False
                 ) -> OfflineView:
    """The delivery as the worker would read it, from the delivery alone. `strict`: a name it
    does not give is an error (MissingInDelivery) rather than an id shown as is."""
    tracker = tracker_of(body)
    try:
        if tracker == redmine_payloads.KIND:
            return _redmine_view(body, strict)
        return _jira_view(body, _identifier(headers or {}))
    except UnknownReference as exc:
        raise MissingInDelivery(str(exc)) from exc
    except _READ_ERRORS as exc:
        title = "Redmine" if tracker == redmine_payloads.KIND else "Jira"
        raise NotADelivery(f"{exc} (read as a {title} delivery)") from exc


def _identifier(headers: Mapping[str, str]) -> str | None:
    """Jira's delivery id (the same across its retries), part of some events' keys."""
    return next((str(v) for k, v in headers.items() if k.lower() == "x-atlassian-webhook-identifier"), None)


# -- Redmine ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _DeliveryNames(redmine_payloads.Vocabulary):
    """The names a Redmine delivery itself gives (the issue's status, tracker, priority, project
    and people); an id it does not name is recorded, and kept as is unless `strict`."""

    open_statuses: frozenset[str] = frozenset()
    strict: bool = False
    unnamed: list[str] = field(default_factory=list)

    def name(self, table: str, ident: Any) -> str:
        try:
            return super().name(table, ident)
        except UnknownReference:
            self.unnamed.append(f"{_SINGULAR.get(table, table)} id {ident}")
            if self.strict:
                raise UnknownReference(f"the delivery does not name {self.unnamed[-1]} (Redmine journals give "
                                       f"ids, the names come from Redmine)") from None
            return str(ident)

    def knows_if_closed(self, status: str | None) -> bool:
        return status is None or status in self.closed_statuses or status in self.open_statuses


def _named(issue: Mapping[str, Any], key: str) -> dict[str, str]:
    value = issue.get(key) or {}
    return {str(value["id"]): str(value["name"])} if value.get("id") is not None and value.get("name") else {}


def _delivery_names(issue: Mapping[str, Any], journal: Mapping[str, Any] | None, strict: bool) -> _DeliveryNames:
    """A vocabulary of what one delivery names: its issue's own status (closed or not, when it
    says so), tracker, priority, project (by identifier) and the people it shows."""
    status = issue.get("status") or {}
    project = issue.get("project") or {}
    people = [issue.get("author"), issue.get("assignee") or issue.get("assigned_to"), *(issue.get("watchers") or [])]
    if journal:
        people += [journal.get("author"), journal.get("user")]
    users = {p.id: p for p in (redmine_payloads.person(raw) for raw in people) if p is not None}
    return _DeliveryNames(
        statuses=_named(issue, "status"), trackers=_named(issue, "tracker"), priorities=_named(issue, "priority"),
        closed_statuses=frozenset([status["name"]] if status.get("is_closed") is True and "name" in status else []),
        open_statuses=frozenset([status["name"]] if status.get("is_closed") is False and "name" in status else []),
        projects={str(project["id"]): (str(project["identifier"]), str(project.get("name", "")))}
        if project.get("identifier") and project.get("id") is not None else {},
        users=users, strict=strict)


def _redmine_view(body: dict[str, Any], strict: bool) -> OfflineView:
    delivery = redmine_payloads.classify(body)
    issue, journal = redmine_payloads.parts(body)
    names = _delivery_names(issue, journal, strict)
    event = redmine_payloads.event_from_body(body, names)
    view = OfflineView(redmine_payloads.KIND, delivery.shape, event, None, str(delivery.issue_id),
                       f"#{delivery.issue_id}")
    view.notes += [f"the delivery does not name {what}: shown as the id" for what in dict.fromkeys(names.unnamed)]
    status = event.change_of("status")
    unsure = [repr(name) for name in (status.old, status.new) if not names.knows_if_closed(name)] if status else []
    if unsure:
        view.notes.append(f"the delivery does not say whether status {' or '.join(unsure)} is a closed one: taken "
                          f"as open in telling ticket.closed and ticket.reopened")
    if "project" not in issue:
        view.notes.append("the delivery carries no snapshot of the ticket, only its id")
        return view
    view.ticket = redmine_payloads.ticket_from_issue(issue, _with_project(names, issue, view, strict),
                                                     _redmine_base(body))
    return view


def _with_project(names: _DeliveryNames, issue: Mapping[str, Any], view: OfflineView,
                  strict: bool) -> _DeliveryNames:
    """Redmine core webhooks name the project by id and name, not by the identifier rules compare."""
    project = issue.get("project") or {}
    if project.get("identifier") or str(project.get("id")) in names.projects:
        return names
    what = f"project {project.get('id')} ({project.get('name', '')!r})"
    if strict:
        raise UnknownReference(f"the delivery gives {what} without its identifier, which rules compare "
                               f"(Redmine core webhooks name projects by id and name)")
    view.project_known = False
    view.notes.append(f"the delivery gives {what} without its identifier")
    placeholder = (str(project.get("id")), str(project.get("name", "")))
    return dataclasses.replace(names, projects={**names.projects, str(project.get("id")): placeholder})


def _redmine_base(body: Mapping[str, Any]) -> str:
    """The Redmine's address, when the delivery says it (the plugin sends the issue's URL)."""
    url = str((body.get("payload") or {}).get("url") or "")
    return url.rsplit("/issues/", 1)[0] if "/issues/" in url else ""


# -- Jira ---------------------------------------------------------------------------------------

def _jira_view(body: dict[str, Any], identifier: str | None) -> OfflineView:
    delivery = jira_payloads.classify(body, identifier)
    event = jira_payloads.event_from_body(body, {}, identifier)
    issue = body.get("issue") or (body.get("poll") or {}).get("issue")
    key = str(issue["key"]) if isinstance(issue, dict) and issue.get("key") else None
    view = OfflineView(jira_payloads.KIND, delivery.shape, event, None, delivery.issue_id, key)
    for change in event.changes:
        if change.field.startswith("cf:") and not change.field_id:
            view.notes.append(f"the change of {change.field[3:]!r} names the custom field but not its id (Jira "
                              f"Data Center): rules that map the field by id do not see it")
    if not isinstance(issue, dict) or "fields" not in issue:
        view.notes.append("the delivery carries no snapshot of the issue, only its id")
        return view
    base = str(issue.get("self", "")).split("/rest/api/", 1)[0]
    view.ticket = jira_payloads.ticket_from_issue(issue, base)
    return view


# -- people -------------------------------------------------------------------------------------

def unknowable(staff: StaffDefinition, person: Person) -> list[str]:
    """What the rulebook tells staff by that this person, as a delivery shows them, lacks."""
    missing = [what for what, used in (("groups", staff.groups), ("roles", staff.roles)) if used]
    if staff.logins and not person.login:
        missing.append("login")
    if staff.email_domains and not person.email:
        missing.append("e-mail address")
    return missing


def role_of(staff: StaffDefinition, person: Person, ticket: Ticket | None) -> str | None:
    """`staff` or `customer` when the rulebook can tell from what the delivery shows, else None:
    the same answer whatever the person's unseen groups, roles, login or e-mail would be."""
    role = staff.role_of(person, ticket)
    domain = next(iter(staff.email_domains), "")
    as_staff = dataclasses.replace(person, groups=tuple(staff.groups) or person.groups,
                                   roles=tuple(staff.roles) or person.roles,
                                   login=person.login or next(iter(staff.logins), ""),
                                   email=person.email or (f"someone@{domain}" if domain else ""))
    return role if role == staff.role_of(as_staff, ticket) else None


# -- the command --------------------------------------------------------------------------------

def inspect_files(paths: Iterable[str], staff: StaffDefinition | None = None
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """What each file shows, and an error line for each file that is not a delivery."""
    shown: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in paths:
        try:
            recorded = read_recorded(path)
            shown.append(describe(path, offline_view(recorded.body, recorded.headers), staff))
        except (NotADelivery, MissingInDelivery) as exc:
            errors.append(f"{path}: not a recognised delivery: {exc}")
    return shown, errors


def describe(path: str, view: OfflineView, staff: StaffDefinition | None) -> dict[str, Any]:
    """The JSON object `inspect` prints for one delivery."""
    event = view.event
    notes = list(view.notes)
    comment = event.comment
    return {
        "file": path, "tracker": view.tracker, "shape": view.shape, "event": event.id,
        "at": event.occurred_at.isoformat(), "kind": sorted(event.triggers),
        "ticket": _ticket(view),
        "actor": _actor(event.actor, view.ticket, staff, notes),
        "changes": [dataclasses.asdict(change) for change in event.changes],
        "comment": {"text": comment.text, "visibility": "private" if comment.private else "public"}
        if comment is not None else None,
        "notes": notes,
    }


def _ticket(view: OfflineView) -> dict[str, Any]:
    ticket = view.ticket
    if ticket is None:
        return {"id": view.ticket_id, "key": view.ticket_key}
    return {"id": ticket.id, "key": ticket.key, "project": ticket.project if view.project_known else None,
            "tracker": ticket.tracker, "status": ticket.status, "priority": ticket.priority,
            "subject": ticket.subject, "custom_fields": dict(ticket.custom_fields)}


def _actor(person: Person | None, ticket: Ticket | None, staff: StaffDefinition | None,
           notes: list[str]) -> dict[str, Any] | None:
    if person is None:
        return None
    shown: dict[str, Any] = {"id": person.id, "login": person.login, "name": person.name}
    if person.email:
        shown["email"] = person.email
    if staff is None or not staff.configured:
        return shown
    role = role_of(staff, person, ticket)
    if role is not None:
        shown["role"] = role
    else:
        notes.append(f"staff or customer: the rulebook tells by {' and '.join(unknowable(staff, person))}, "
                     f"which the delivery does not show for this person")
    return shown
