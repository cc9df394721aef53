"""The Redmine connector: the only code that speaks Redmine's REST API (through python-redmine).

Reads issues, their journals and the names behind ids; applies planned effects. Every write
carries `X-Skip-Webhooks` so the redmine_webhook plugin does not echo our own changes back.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from redminelib import Redmine
from redminelib import exceptions as rm
from redminelib.engines.sync import SyncEngine

from connector import notes
from connector.delivery import Delivered, without_history
from connector.errors import Created, Polled, TrackerError, UnknownReference, WrittenText
from connector.http import PooledSession, environment_once
from connector.ratelimit import RateLimit
from connector.redmine_payloads import (
    KIND,
    Vocabulary,
    classify,
    custom_fields,
    event_from_body,
    history,
    parse_time,
    parts,
    split_save_parts,
    ticket_from_issue,
)
from rules.model import Effect, Event, Person, Ticket

log = logging.getLogger(__name__)
T = TypeVar("T")
MEMBERS_TTL = 300.0  # seconds a project's member list is trusted
LAYOUT_TTL = 300.0  # seconds an issue's project and custom fields are trusted for a write
# The rule language's relation names -> Redmine's relation_type values.
_RELATIONS = {"duplicated_by": "duplicated", "blocked_by": "blocked"}
# Ends the description of an issue ticketwarden creates; found again by a text filter.
MARKER_PREFIX = "ticketwarden-ref: "


def _engine_with_timeout(timeout: float, url: str) -> type[SyncEngine]:
    class TimeoutEngine(SyncEngine):  # type: ignore[misc]  # python-redmine ships no type hints
        @staticmethod
        def create_session(**params: Any) -> requests.Session:
            session = PooledSession(timeout)
            for name, value in params.items():
                if name == "headers":
                    session.headers.update(value)
                else:
                    setattr(session, name, value)
            return environment_once(session, url)

    return TimeoutEngine


def _note_of(effect: Effect) -> str | None:
    """The note an effect writes (a comment, or a transition's comment), if any."""
    if effect.action == "comment":
        return str(effect.params["body"])
    if effect.action == "transition" and effect.params.get("comment"):
        return str(effect.params["comment"])
    return None


def wiki_title(title: str) -> str:
    """A title Redmine accepts for a wiki page: spaces become underscores, and the characters
    its titles refuse (, . / ? ; : |) are left out."""
    cleaned = re.sub(r"[,./?;:|]", "", "_".join(title.split()))
    return cleaned[:255] or "Report"


def format_filter_time(moment: datetime) -> str:
    """Redmine's filters accept exactly `YYYY-MM-DDTHH:MM:SSZ` (isoformat() gets a 422)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Layout:
    """What a write to an issue needs to know of it: its project, and the custom fields its
    project and tracker give it (name and id -> id). Learnt from every issue read."""

    project_id: str
    fields: dict[str, int]

    @classmethod
    def of(cls, issue: dict[str, Any]) -> Layout:
        _, ids = custom_fields(issue)
        fields = {name: int(ident) for name, ident in ids.items()} | {ident: int(ident) for ident in ids.values()}
        return cls(str((issue.get("project") or {}).get("id")), fields)


def project_members(memberships: Iterable[dict[str, Any]], group_users: dict[str, list[dict[str, Any]]],
                    logins: dict[str, str]) -> dict[str, Person]:
    """The people of a project's memberships (GET /projects/:id/memberships.json) by user id: each
    with their login, their roles in the project and the groups they are members through (what
    staff and named roles look at). A group's membership names the group, not its users:
    `group_users` are each member group's users by the group's id; Redmine lists them one by one
    as well, with the group's roles marked inherited."""
    members: dict[str, Person] = {}
    groups: dict[str, list[str]] = {}

    def add(user: dict[str, Any], roles: Iterable[str], group: str | None = None) -> None:
        ident = str(user["id"])
        known = members.get(ident)
        if group is not None:
            groups.setdefault(ident, []).append(group)
        members[ident] = Person(ident, logins.get(ident, ""), (known.name if known else "") or user.get("name", ""),
                                "", tuple(dict.fromkeys(groups.get(ident, ()))),
                                tuple(dict.fromkeys((known.roles if known else ()) + tuple(roles))))

    for membership in memberships:
        roles = [str(role["name"]) for role in membership.get("roles", [])]
        if membership.get("user"):
            add(membership["user"], roles)
        elif membership.get("group"):
            group = membership["group"]
            for user in group_users.get(str(group["id"]), []):
                add(user, roles, str(group.get("name", "")))
    return members


# Effects one PUT /issues/:id.json can carry together (fields, status, assignee and one note).
MERGEABLE = frozenset({"set", "comment", "transition", "assign"})


class RedmineConnector:
    kind = KIND

    def __init__(self, url: str, api_key: str, *, timeout: float = 15.0, rate: float = 0.0):
        self.url = url.rstrip("/")
        self._redmine = Redmine(
            self.url, key=api_key, engine=_engine_with_timeout(timeout, self.url),
            requests={"headers": {"X-Skip-Webhooks": "1", "User-Agent": "ticketwarden"}},
        )
        self._vocabulary: Vocabulary | None = None
        self._service_user: Person | None = None
        self._member_cache: dict[str, tuple[float, dict[str, Person]]] = {}
        self._layouts: dict[str, tuple[float, Layout]] = {}
        self._limit = RateLimit(rate)
        self._logins: dict[str, str] = {}

    # -- reading -----------------------------------------------------------------------------

    def service_user(self) -> Person:
        """The API user ticketwarden acts as; its own changes never trigger rules."""
        if self._service_user is None:
            raw = self._call(lambda: self._redmine.user.get("current").raw())
            name = " ".join(p for p in (raw.get("firstname"), raw.get("lastname")) if p)
            self._service_user = Person(str(raw["id"]), raw.get("login", ""), name)
        return self._service_user

    def vocabulary(self, refresh: bool = False) -> Vocabulary:
        """Names behind the ids in journals (statuses, trackers, priorities, projects)."""
        if self._vocabulary is None or refresh:
            self._vocabulary = self._call(self._fetch_vocabulary)
        return self._vocabulary

    def _fetch_vocabulary(self) -> Vocabulary:
        statuses = list(self._redmine.issue_status.all().values())
        trackers = list(self._redmine.tracker.all().values())
        priorities = list(self._redmine.enumeration.filter(resource="issue_priorities").values())
        projects = list(self._redmine.project.all().values())
        return Vocabulary(
            statuses={str(s["id"]): s["name"] for s in statuses},
            closed_statuses=frozenset(s["name"] for s in statuses if s.get("is_closed")),
            trackers={str(t["id"]): t["name"] for t in trackers},
            priorities={str(p["id"]): p["name"] for p in priorities},
            projects={str(p["id"]): (p["identifier"], p["name"]) for p in projects},
        )

    def fetch_issue(self, issue_id: int | str, journals: bool = True) -> dict[str, Any] | None:
        """The issue as GET /issues/:id.json returns it, with its journals unless told not to
        (a long history is most of the answer); None when gone."""
        include = ["journals"] if journals else []
        try:
            issue = self._call(lambda: dict(self._redmine.issue.get(int(issue_id), include=include).raw()))
        except TrackerError as exc:
            if exc.status == 404:
                return None
            raise
        self._learn(issue)
        return issue

    def _learn(self, issue: dict[str, Any]) -> None:
        if issue.get("id") is not None and issue.get("project"):
            self._layouts[str(issue["id"])] = (time.monotonic(), Layout.of(issue))

    def _layout(self, issue_id: str, wanted: Iterable[str] = ()) -> Layout:
        """The issue's project and custom fields, as last read (a while), or read now: also when
        the last reading lacks a field that is wanted (it may have been enabled since, and a
        delivery may list only the fields that had values then)."""
        cached = self._layouts.get(issue_id)
        if cached and time.monotonic() - cached[0] < LAYOUT_TTL and all(ref in cached[1].fields for ref in wanted):
            return cached[1]
        if self.fetch_issue(issue_id, journals=False) is None:
            raise TrackerError(f"issue {issue_id} not found", transient=False, status=404)
        return self._layouts[issue_id][1]

    def issues_updated_since(self, since: datetime) -> list[dict[str, Any]]:
        """Issues of every status updated at or after `since`, oldest first."""
        flt = ">=" + format_filter_time(since)
        return self._call(lambda: [
            dict(issue) for issue in self._redmine.issue.filter(
                updated_on=flt, status_id="*", sort="updated_on").values()
        ])

    def read(self, body: dict[str, Any], received_at: datetime | None = None) -> Delivered:
        """The delivery's event, and its issue when the delivery alone is enough to decide on.

        A private note's delivery is not: Redmine may have split its save, and the other half
        (the field changes) is found only among the issue's journals (see split_save_parts).
        """
        event = self._event(body, received_at)
        issue, journal = parts(body)
        if not event.triggers or not isinstance(issue, dict) or "project" not in issue \
                or (journal or {}).get("private_notes"):
            return Delivered(event)
        return Delivered(event, without_history(issue), parse_time(issue.get("updated_on")))

    def changed_at(self, issue: dict[str, Any]) -> datetime | None:
        return parse_time(issue.get("updated_on"))

    def fetch(self, ticket_id: str, journals: bool = False) -> dict[str, Any] | None:
        """The issue as Redmine has it now; its journals only when asked (a split save may hide
        in them), since a long history is most of the answer."""
        return self.fetch_issue(ticket_id, journals=journals)

    def decided_on(self, event: Event, issue: dict[str, Any] | None, body: dict[str, Any]
                   ) -> tuple[Event, Ticket | None]:
        """The event and the ticket to decide on, from `issue` (delivered, seen or fetched):
        people with their logins and roles, and the split-off half of a save when the issue
        carries its journals."""
        if issue is None:
            return event, None
        ticket, members = self._ticket_of(issue)
        event = dataclasses.replace(event, actor=self._known(event.actor, members),
                                    parts=tuple(self._split_save_parts(body, issue)) if "journals" in issue else ())
        return event, ticket

    def _event(self, body: dict[str, Any], received_at: datetime | None = None) -> Event:
        """The Event of a delivery, with the names behind its ids read again once when one is new."""
        try:
            return event_from_body(body, self.vocabulary(), received_at)
        except UnknownReference:
            return event_from_body(body, self.vocabulary(refresh=True), received_at)

    def _split_save_parts(self, body: dict[str, Any], issue: dict[str, Any]) -> list[Event]:
        """Events of the journals that the delivery's save split off before it (see
        split_save_parts): a status change saved with a private note arrives as the note alone."""
        _, journal = parts(body)
        if not journal or not isinstance(journal.get("id"), int):
            return []
        bare = without_history(issue)
        return [self._event({"poll": {"action": "updated", "issue": bare, "journal": dict(part)}})
                for part in split_save_parts(journal["id"], issue.get("journals") or [])]

    def ticket(self, ticket_id: str) -> Ticket | None:
        """The ticket as Redmine has it now (None when it is gone)."""
        issue = self.fetch_issue(ticket_id, journals=False)
        return self.ticket_of(issue) if issue is not None else None

    def ticket_of(self, issue: dict[str, Any]) -> Ticket:
        """A stored issue object (delivered or fetched) as the ticket rules see."""
        return self._ticket_of(issue)[0]

    def _ticket_of(self, issue: dict[str, Any]) -> tuple[Ticket, dict[str, Person]]:
        """The issue as a Ticket whose people carry their logins and project roles, and those members."""
        self._learn(issue)
        members = self._members_of(issue)
        return self._with_people(self.ticket_from(issue), members), members

    def _members_of(self, issue: dict[str, Any]) -> dict[str, Person]:
        """The members of the issue's project; none (with a warning) when the API user may not see them."""
        try:
            return self._members(str((issue.get("project") or {}).get("id")))
        except TrackerError as exc:
            if exc.transient:
                raise
            log.warning("cannot read the members of project %s (%s): staff roles unknown for this event",
                        (issue.get("project") or {}).get("name"), exc)
            return {}

    def _with_people(self, ticket: Ticket, members: dict[str, Person]) -> Ticket:
        return dataclasses.replace(ticket, author=self._known(ticket.author, members),
                                   assignee=self._known(ticket.assignee, members))

    # -- people ------------------------------------------------------------------------------

    def _members(self, project_id: str) -> dict[str, Person]:
        """Members of a project with login, roles and groups (what staff rules look at), cached a while."""
        cached = self._member_cache.get(project_id)
        if cached and time.monotonic() - cached[0] < MEMBERS_TTL:
            return cached[1]
        memberships = self._call(lambda: list(
            self._redmine.project_membership.filter(project_id=int(project_id)).values()))
        group_users = {str(m["group"]["id"]): self._group_users(str(m["group"]["id"]))
                       for m in memberships if m.get("group")}
        ids = [str(m["user"]["id"]) for m in memberships if m.get("user")] + \
            [str(user["id"]) for users in group_users.values() for user in users]
        members = project_members(memberships, group_users, {ident: self._login_of(ident) for ident in ids})
        self._member_cache[project_id] = (time.monotonic(), members)
        return members

    def _group_users(self, group_id: str) -> list[dict[str, Any]]:
        """The users of a group that is a member of a project (GET /groups/:id.json?include=users,
        which Redmine answers for a group the API user can see); none, with a warning, when it
        may not see them."""
        try:
            raw = self._call(lambda: self._redmine.group.get(int(group_id), include=["users"]).raw())
        except TrackerError as exc:
            if exc.transient:
                raise
            log.warning("cannot read the users of Redmine group %s (%s): rules see nobody in it", group_id, exc)
            return []
        return [dict(user) for user in raw.get("users") or []]

    def _login_of(self, user_id: str) -> str:
        if user_id not in self._logins:
            try:
                raw = self._call(lambda: self._redmine.user.get(int(user_id)).raw())
                self._logins[user_id] = str(raw.get("login", ""))
            except TrackerError as exc:
                if exc.transient:
                    raise
                self._logins[user_id] = ""  # not visible to the API user: match by name only
        return self._logins[user_id]

    @staticmethod
    def _known(person: Person | None, members: dict[str, Person]) -> Person | None:
        """The person with what the project knows of them (login, roles, groups), when a member."""
        if person is None or person.id not in members:
            return person
        member = members[person.id]
        return dataclasses.replace(person, login=person.login or member.login, name=person.name or member.name,
                                   roles=member.roles, groups=tuple(dict.fromkeys(person.groups + member.groups)))

    def resolve_user(self, project_id: str, wanted: str) -> int:
        """A user id from an id, login or display name, among the members of the project."""
        if wanted.isdigit():
            return int(wanted)
        for member in self._members(project_id).values():
            if member.matches(wanted):
                return int(member.id)
        raise TrackerError(f"no member of project {project_id} is called {wanted!r}", transient=False)

    def snapshot(self, body: dict[str, Any]) -> tuple[Event, Ticket | None]:
        """The Event of a delivery and the ticket as the delivery itself showed it (for replays:
        the ticket as it was then, not as it is now). Reads only the names behind ids."""
        event = self._event(body)
        issue, _ = parts(body)
        if not event.triggers or "project" not in issue:
            return event, None
        return event, self.ticket_from(issue)

    def ticket_from(self, issue: dict[str, Any]) -> Ticket:
        try:
            return ticket_from_issue(issue, self.vocabulary(), self.url)
        except UnknownReference:
            return ticket_from_issue(issue, self.vocabulary(refresh=True), self.url)

    def poll(self, since: datetime, overlap: timedelta) -> Iterator[Polled]:
        """Poll-shaped deliveries for everything that happened since `since` (minus overlap).

        Our own journals are included: rules ignore them (the loop guard), but SLA clocks must
        follow every change, ours too (a rule moving a ticket to Feedback pauses its clock).
        """
        floor = since - overlap
        for summary in self.issues_updated_since(floor):
            issue = self.fetch_issue(summary["id"])
            if issue is None:
                continue
            journals = issue.pop("journals", []) or []
            created = parse_time(issue.get("created_on"))
            updated = parse_time(issue.get("updated_on"))
            bodies = []
            if created is not None and created >= floor:
                bodies.append({"poll": {"action": "created", "issue": issue, "journal": None}})
            for journal in journals:
                at = parse_time(journal.get("created_on"))
                if at is not None and at >= floor:
                    bodies.append({"poll": {"action": "updated", "issue": issue, "journal": journal}})
            for body in bodies:
                delivery = classify(body)
                yield Polled(delivery.shape, delivery.dedup_key, body, updated, str(delivery.issue_id))

    # -- history (backfill) --------------------------------------------------------------------

    def past_ticket_ids(self, since: datetime) -> list[str]:
        """Issues created at or after `since`, in any status, oldest first."""
        flt = ">=" + format_filter_time(since)
        return self._call(lambda: [str(issue["id"]) for issue in self._redmine.issue.filter(
            created_on=flt, status_id="*", sort="created_on").values("id")])

    def history(self, ticket_id: str) -> list[tuple[Event, Ticket]]:
        """The issue's life, read from its journals: each happening with the issue as it was
        just after it (people's project roles as they are now)."""
        issue = self.fetch_issue(ticket_id)
        if issue is None:
            return []
        members = self._members_of(issue)
        steps = []
        vocabulary = self.vocabulary()
        for body, snapshot in history(issue, vocabulary):
            event = event_from_body(body, vocabulary)
            steps.append((dataclasses.replace(event, actor=self._known(event.actor, members)),
                          self._with_people(self.ticket_from(snapshot), members)))
        return steps

    # -- writing -----------------------------------------------------------------------------

    def apply(self, effect: Effect, first_attempt: bool) -> str:
        """Write one effect; returns what was done. Raises TrackerError."""
        if effect.action in MERGEABLE:
            return self.apply_together([effect], first_attempt)[0]
        appliers: dict[str, Callable[[Effect, bool], str]] = {
            "add_watcher": self._apply_watcher, "link": self._apply_link}
        applier = appliers.get(effect.action)
        if applier is None:
            raise TrackerError(f"action {effect.action!r} is not supported by Redmine", transient=False)
        return applier(effect, first_attempt)

    def mergeable(self, effects: list[Effect]) -> bool:
        """Whether these effects on one issue can be one PUT: fields, status and assignee, and
        notes of one visibility (Redmine takes one note per save: they become one note, see
        connector.notes)."""
        privacy = {bool(effect.params.get("private")) for effect in effects if _note_of(effect) is not None}
        return all(e.action in MERGEABLE for e in effects) and len(privacy) <= 1 \
            and len({e.ticket_id for e in effects}) == 1

    def apply_together(self, effects: list[Effect], first_attempt: bool) -> list[str]:
        """Write effects on one issue as ONE save (see `mergeable`); one outcome per effect.

        The save is atomic in Redmine, and a note is the one part that is not naturally
        idempotent: on a retry (the previous attempt may have reached Redmine before failing)
        a note that one of our own notes already holds is left out, and the rest is saved again.
        """
        issue_id = effects[0].ticket_id
        layout = self._layout(issue_id, [ref for effect in effects for ref in effect.params.get("custom", {})])
        changes: dict[str, Any] = {}
        custom: dict[int, Any] = {}
        outcomes = [self._plan_write(effect, layout, changes, custom) for effect in effects]
        if custom:
            changes["custom_fields"] = [{"id": ident, "value": value} for ident, value in custom.items()]
        noting = [(n, str(_note_of(effect))) for n, effect in enumerate(effects) if _note_of(effect) is not None]
        wanted = notes.to_write([body for _, body in noting], first_attempt, lambda: self._own_notes(issue_id))
        for (n, _), write in zip(noting, wanted, strict=True):
            if not write and effects[n].action == "comment":
                outcomes[n] = "note already written (an earlier attempt reached Redmine)"
        unsent = [(n, body) for (n, body), write in zip(noting, wanted, strict=True) if write]
        if unsent:
            changes.update(notes=notes.joined([body for _, body in unsent]),
                           private_notes=bool(effects[unsent[0][0]].params.get("private")))
        if changes:
            self._call(lambda: self._redmine.issue.update(int(issue_id), **changes))
        return outcomes

    def _plan_write(self, effect: Effect, layout: Layout, changes: dict[str, Any], custom: dict[int, Any]) -> str:
        """Add one effect's part to a save; returns what it will have done."""
        if effect.action == "set":
            for name, value in effect.params.get("standard", {}).items():
                changes.update(self._standard_change(name, value, layout.project_id))
            for ref, value in effect.params.get("custom", {}).items():
                custom[self._custom_field_id(layout, effect.ticket_id, ref)] = value or ""
            names = sorted(effect.params.get("standard", {})) + sorted(effect.params.get("custom", {}))
            return f"set {', '.join(names)}"
        if effect.action == "transition":
            changes.update(self._standard_change("status", effect.params["status"]))
            return f"status set to {effect.params['status']}"
        if effect.action == "assign":
            change = self._standard_change("assignee", effect.params["to"], layout.project_id)
            changes.update(change)
            return "unassigned" if change["assigned_to_id"] == "" else f"assigned to user {change['assigned_to_id']}"
        return "private note added" if effect.params.get("private") else "public note added"

    def _standard_change(self, name: str, value: Any, project_id: str = "") -> dict[str, Any]:
        if name in ("status", "priority"):
            table = "statuses" if name == "status" else "priorities"
            ident = self._id_for(table, value)
            return {f"{name}_id": int(ident)}
        if name == "labels":
            raise TrackerError("Redmine issues have no labels: map a custom field in `fields` instead",
                               transient=False)
        if name == "assignee":
            nobody = not value or str(value).casefold() == "nobody"
            return {"assigned_to_id": "" if nobody else self.resolve_user(project_id, str(value))}
        return {name: value or ""}

    def _apply_watcher(self, effect: Effect, first_attempt: bool) -> str:
        user_id = self.resolve_user(self._layout(effect.ticket_id).project_id, str(effect.params["user"]))
        self._call(lambda: self._redmine.engine.request(
            "post", f"{self.url}/issues/{int(effect.ticket_id)}/watchers.json", data={"user_id": user_id}))
        return f"user {user_id} watches"

    def _apply_link(self, effect: Effect, first_attempt: bool) -> str:
        other = int(str(effect.params["to"]).lstrip("#"))
        name = str(effect.params.get("relation", "relates"))
        relation = _RELATIONS.get(name, name)
        existing = self._call(lambda: list(self._redmine.issue_relation.filter(
            issue_id=int(effect.ticket_id)).values()))
        for item in existing:  # a relation is unique in Redmine: an existing one is success
            if {item.get("issue_id"), item.get("issue_to_id")} == {int(effect.ticket_id), other}:
                return f"already related to #{other} ({item.get('relation_type')})"
        self._call(lambda: self._redmine.issue_relation.create(
            issue_id=int(effect.ticket_id), issue_to_id=other, relation_type=relation))
        return f"related to #{other} ({relation})"

    def create_issue(self, marker: str, project: str, issue_type: str, summary: str, description: str = "",
                     fields: dict[str, Any] | None = None, assignee: str | None = None,
                     due_date: str | None = None) -> Created:
        """Create an issue once per `marker`. The marker ends the description, and an issue of the
        project carrying it is looked for first, so a retry after a lost answer finds the issue
        instead of creating another. Custom fields are set by name once the issue exists (the
        API user need not be an administrator to learn their ids)."""
        line = f"{MARKER_PREFIX}{marker}"
        found = self._call(lambda: list(self._redmine.issue.filter(
            project_id=project, status_id="*", description=f"~{line}", limit=1).values()))
        if found:
            issue = found[0]
            return Created(str(issue["id"]), f"#{issue['id']}", f"{self.url}/issues/{issue['id']}", new=False)
        project_id = self._id_for("projects", project)
        values: dict[str, Any] = {
            "project_id": int(project_id), "tracker_id": int(self._id_for("trackers", issue_type)),
            "subject": summary[:255], "description": f"{description}\n\n{line}".strip()}
        if assignee:
            values["assigned_to_id"] = self.resolve_user(project_id, assignee)
        if due_date:
            values["due_date"] = due_date[:10]
        created = self._call(lambda: self._redmine.issue.create(**values))
        ident = str(created.id)
        if fields:
            self._set_new_issue_fields(ident, fields)
        return Created(ident, f"#{ident}", f"{self.url}/issues/{ident}")

    def _set_new_issue_fields(self, ident: str, fields: dict[str, Any]) -> None:
        """Custom fields of an issue just created. One its project or tracker lacks is left out
        with a warning: the issue exists (and its description holds everything), so refusing
        the whole effect would only lose the link and notes that follow."""
        layout = self._layout(ident, fields)
        custom = []
        for ref, value in fields.items():
            try:
                custom.append({"id": self._custom_field_id(layout, ident, ref), "value": value})
            except TrackerError as exc:
                log.warning("issue %s created without field %r: %s", ident, ref, exc)
        if custom:
            self._call(lambda: self._redmine.issue.update(int(ident), custom_fields=custom))

    def publish_page(self, project: str, title: str, text: str,
                     attachment: tuple[str, bytes] | None = None, comments: str = "ticketwarden report",
                     version: int | None = None) -> str:
        """Write a wiki page of `project` (created, or replaced by a new version), with one file
        attached in place of an older one of the same name. Returns the page's address. With
        `version` (the one `read_page` saw), Redmine refuses the write (409) when the page has
        changed since."""
        page = wiki_title(title)
        uploads = []
        if attachment is not None:
            name, content = attachment
            for old in self._page_attachments(project, page):
                if old.get("filename") == name:
                    old_id = int(old["id"])
                    try:
                        self._call(lambda: self._redmine.attachment.delete(old_id))  # noqa: B023 - called at once
                    except TrackerError as exc:
                        if exc.transient:
                            raise
                        log.warning("cannot replace attachment %s of wiki page %s: %s", name, page, exc)
            uploads.append({"path": io.BytesIO(content), "filename": name, "content_type": "text/html"})
        extra: dict[str, Any] = {"uploads": uploads} if uploads else {}  # python-redmine cannot send `uploads: None`
        if version is not None:
            extra["version"] = version
        self._call(lambda: self._redmine.wiki_page.update(page, project_id=project, text=text,
                                                          comments=comments, **extra))
        return f"{self.url}/projects/{project}/wiki/{page}"

    def read_page(self, project: str, title: str) -> WrittenText | None:
        """A wiki page of `project` as it stands (None when there is none): its text, its version,
        and whether ticketwarden's user wrote that version."""
        page = wiki_title(title)
        try:
            found = self._call(lambda: self._redmine.wiki_page.get(page, project_id=project).raw())
        except TrackerError as exc:
            if exc.status == 404:
                return None
            raise
        author = str((found.get("author") or {}).get("id") or "")
        version = found.get("version")
        return WrittenText(str(found.get("text") or ""), author == self.service_user().id,
                           f"{self.url}/projects/{project}/wiki/{page}", int(version) if version else None)

    def create_page_once(self, project: str, title: str, text: str) -> str:
        """Create a wiki page unless it exists: a page people write on after us (a review's
        decisions) is never overwritten. Returns the page's address."""
        page = wiki_title(title)
        try:
            self._call(lambda: self._redmine.wiki_page.get(page, project_id=project).raw())
        except TrackerError as exc:
            if exc.status != 404:
                raise
            self._call(lambda: self._redmine.wiki_page.update(page, project_id=project, text=text,
                                                              comments="ticketwarden review"))
        return f"{self.url}/projects/{project}/wiki/{page}"

    def _page_attachments(self, project: str, page: str) -> list[dict[str, Any]]:
        try:
            found = self._call(lambda: self._redmine.wiki_page.get(page, project_id=project,
                                                                   include=["attachments"]).raw())
        except TrackerError as exc:
            if exc.status == 404:
                return []
            raise
        return list(found.get("attachments") or [])

    def _id_for(self, table: str, name: Any) -> str:
        for refresh in (False, True):
            mapping = getattr(self.vocabulary(refresh=refresh), table)
            for ident, label in mapping.items():
                label = label[0] if isinstance(label, tuple) else label
                if str(label).casefold() == str(name).casefold():
                    return str(ident)
        raise TrackerError(f"Redmine has no {table[:-1]} named {name!r}", transient=False)

    @staticmethod
    def _custom_field_id(layout: Layout, issue_id: str, ref: str) -> int:
        if ref in layout.fields:
            return layout.fields[ref]
        raise TrackerError(
            f"issue {issue_id} has no custom field {ref!r} (is it enabled for its "
            f"project and tracker?)", transient=False)

    def _own_notes(self, issue_id: str) -> list[str]:
        """The notes ticketwarden's own user wrote on an issue."""
        issue = self.fetch_issue(issue_id)
        me = self.service_user().id
        return [str(j.get("notes") or "") for j in (issue or {}).get("journals") or []
                if str((j.get("user") or {}).get("id")) == me and j.get("notes")]

    # -- errors ------------------------------------------------------------------------------

    def _call(self, operation: Callable[[], T]) -> T:
        """Run a python-redmine call; translate its failures into TrackerError."""
        self._limit.acquire("Redmine")
        try:
            return operation()
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TrackerError(f"Redmine unreachable: {type(exc).__name__}", transient=True) from exc
        except rm.ValidationError as exc:
            raise TrackerError(f"Redmine refused the change: {exc}", transient=False, status=422) from exc
        except rm.ResourceNotFoundError as exc:
            raise TrackerError("not found in Redmine", transient=False, status=404) from exc
        except rm.ForbiddenError as exc:
            raise TrackerError("Redmine forbids this to the API user", transient=False, status=403) from exc
        except rm.ConflictError as exc:  # a conditional write to something changed since it was read
            raise TrackerError("Redmine refused a write to a changed page", transient=True, status=409) from exc
        except rm.AuthError as exc:
            raise TrackerError("Redmine rejected the API key", transient=True, status=401) from exc
        except rm.ServerError as exc:
            raise TrackerError("Redmine answered 500", transient=True, status=500) from exc
        except rm.UnknownError as exc:
            status = exc.status_code
            raise TrackerError(f"Redmine answered {status}", transient=status == 429 or status >= 500,
                               status=status) from exc
        except rm.BaseRedmineError as exc:
            raise TrackerError(f"Redmine error: {exc}", transient=False) from exc
