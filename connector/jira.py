"""The Jira connector: the only code that speaks Jira's REST API (through the `jira` library).

Works with Jira Cloud (e-mail + API token) and Server/Data Center (a personal access token, or
user + password). The client is built on first use, so a Jira that is down at start delays
work instead of stopping the service; every failure becomes a TrackerError saying whether a
retry can help (429 and 5xx can; Jira's `errorMessages` / `errors` are kept in the message).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError

from connector import notes
from connector.delivery import Delivered
from connector.errors import Created, Polled, TrackerError, WrittenText
from connector.http import environment_once
from connector.jira_payloads import (
    KIND,
    classify,
    event_from_body,
    parse_time,
    person,
    text_of,
    ticket_from_issue,
)
from connector.jira_payloads import history as issue_history
from connector.ratelimit import RateLimit
from rules.model import Effect, Event, Person, Ticket

log = logging.getLogger(__name__)
T = TypeVar("T")
GROUPS_TTL = 300.0  # seconds a user's groups are trusted
# The rule language's relation names -> Jira link type names and which side this ticket is.
LINK_TYPES = {"relates": ("Relates", True), "blocks": ("Blocks", True), "blocked_by": ("Blocks", False),
              "duplicates": ("Duplicate", True), "duplicated_by": ("Duplicate", False),
              "precedes": ("Relates", True), "follows": ("Relates", False),
              "copied_to": ("Cloners", True), "copied_from": ("Cloners", False)}


class JiraConnector:
    kind = KIND

    def __init__(self, url: str, *, user: str = "", api_token: str = "", personal_token: str = "",
                 timeout: float = 15.0, private_visibility: str = "", rate: float = 0.0):
        """`private_visibility`: how private notes are written. Empty: as Jira Service Management
        internal comments (`sd.public.comment`); `role:NAME` or `group:NAME`: restricted."""
        self.url = url.rstrip("/")
        self._auth = {"token_auth": personal_token} if personal_token else {"basic_auth": (user, api_token)}
        self._timeout = timeout
        self._visibility = private_visibility
        self._lock = threading.Lock()
        self._jira: JIRA | None = None
        self._creator: JIRA | None = None
        self._fields: list[dict[str, Any]] | None = None
        self._me: Person | None = None
        self._groups: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._roles: dict[str, tuple[float, dict[str, set[str]]]] = {}
        self._people: dict[str, Person] = {}  # people changelogs name by id, as Jira tells who they are
        self._limit = RateLimit(rate)  # shared by every call to this Jira, so a 429 slows them all

    # -- plumbing ----------------------------------------------------------------------------

    def _client(self) -> JIRA:
        with self._lock:
            if self._jira is None:
                # No retries inside the library: they wait out Retry-After in the calling thread,
                # whatever our timeout says; a refused call is retried by the inbox or outbox.
                self._jira = self._call(lambda: JIRA(server=self.url, timeout=self._timeout, max_retries=0,
                                                     **self._auth))
                environment_once(self._jira._session, self.url)
            return self._jira

    def _creating_client(self) -> JIRA:
        """A client that never re-sends by itself: the library retries a request after a broken
        connection, which for POST /issue may create a second issue. Creation is retried by the
        outbox instead, which looks for the issue's marker first."""
        with self._lock:
            if self._creator is None:
                self._creator = self._call(lambda: JIRA(server=self.url, timeout=self._timeout, max_retries=0,
                                                        get_server_info=False,
                                                        **self._auth))
                environment_once(self._creator._session, self.url)
            return self._creator

    @property
    def cloud(self) -> bool:
        return bool(self._client()._is_cloud)

    def _call(self, operation: Callable[[], T]) -> T:
        self._limit.acquire("Jira")
        try:
            return operation()
        except JIRAError as exc:
            status = exc.status_code
            transient = status is None or status == 429 or status >= 500
            wait = _retry_after(exc)
            if wait is not None:
                self._limit.pause(wait)
            raise TrackerError(f"Jira answered {status}: {_jira_message(exc)}", transient=transient,
                               status=status, retry_after=wait) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TrackerError(f"Jira unreachable: {type(exc).__name__}", transient=True) from exc

    def fields(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._fields is None or refresh:
            self._fields = self._call(lambda: self._client().fields())
        return self._fields

    def field_names(self) -> dict[str, str]:
        """Custom field id -> name (names are not unique in Jira; ids are)."""
        return {f["id"]: f["name"] for f in self.fields() if str(f.get("id", "")).startswith("customfield_")}

    def _field(self, ref: str) -> dict[str, Any]:
        for refresh in (False, True):
            matches = [f for f in self.fields(refresh) if f["id"] == ref] or \
                [f for f in self.fields() if f.get("name") == ref]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise TrackerError(f"several Jira fields are called {ref!r}: map it by id "
                                   f"({', '.join(f['id'] for f in matches)})", transient=False)
        raise TrackerError(f"Jira has no field {ref!r}", transient=False)

    # -- reading -----------------------------------------------------------------------------

    def service_user(self) -> Person:
        if self._me is None:
            me = self._call(lambda: self._client().myself())
            found = person(me)
            self._me = found or Person(str(me.get("accountId") or me.get("key") or me.get("name")))
        return self._me

    def fetch_issue(self, issue_id: str, expand: str | None = None) -> dict[str, Any] | None:
        try:
            return dict(self._call(lambda: self._client().issue(issue_id, expand=expand).raw))
        except TrackerError as exc:
            if exc.status == 404:
                return None
            raise

    def ticket(self, ticket_id: str) -> Ticket | None:
        issue = self.fetch_issue(ticket_id)
        if issue is None:
            return None
        ticket = ticket_from_issue(issue, self.url, self.field_names())
        return dataclasses.replace(ticket, author=self._with_groups(ticket.author),
                                   assignee=self._with_groups(ticket.assignee))

    def read(self, body: dict[str, Any], received_at: datetime | None = None) -> Delivered:
        """The delivery's event, and its issue when it carries the whole issue: an issue's
        own events and polls do; a comment's event carries only a few of its fields."""
        event = event_from_body(body, self.field_names(), received_at=received_at)
        issue = body.get("issue") if str(body.get("webhookEvent", "")).startswith("jira:issue_") \
            else (body.get("poll") or {}).get("issue")
        fields = issue.get("fields") if isinstance(issue, dict) else None
        if not event.triggers or not isinstance(fields, dict) or not fields.get("updated") \
                or "project" not in fields:
            return Delivered(event)
        return Delivered(event, issue, parse_time(fields.get("updated")))

    def changed_at(self, issue: dict[str, Any]) -> datetime | None:
        return parse_time((issue.get("fields") or {}).get("updated"))

    def fetch(self, ticket_id: str, journals: bool = False) -> dict[str, Any] | None:
        """The issue as Jira has it now (its changelog is never needed to decide)."""
        return self.fetch_issue(ticket_id)

    def ticket_of(self, issue: dict[str, Any]) -> Ticket:
        """An issue object (delivered, stored or fetched) as the ticket rules see."""
        return self._with_people(ticket_from_issue(issue, self.url, self.field_names()))

    def decided_on(self, event: Event, issue: dict[str, Any] | None, body: dict[str, Any]
                   ) -> tuple[Event, Ticket | None]:
        """The event and the ticket to decide on, from `issue` (delivered, seen or fetched)."""
        if issue is None:
            return dataclasses.replace(event, actor=self._with_groups(event.actor)), None
        ticket = self.ticket_of(issue)
        return self._with_change_people(
            dataclasses.replace(event, actor=self._person(event.actor, ticket.project)), ticket), ticket

    def _with_change_people(self, event: Event, ticket: Ticket) -> Event:
        """The people a change names (by accountId on Cloud, by user key on Data Center) with
        their logins and names, so `assignee changed_to jdoe` holds whichever Jira names them by."""
        known = {ref: who for who in (ticket.assignee, ticket.author, event.actor) if who is not None
                 for ref in (who.id, who.login) if ref}
        changes = tuple(dataclasses.replace(change, old_person=self._resolved(change.old_person, known),
                                            new_person=self._resolved(change.new_person, known))
                        if change.old_person or change.new_person else change for change in event.changes)
        return dataclasses.replace(event, changes=changes)

    def _resolved(self, who: Person | None, known: dict[str, Person]) -> Person | None:
        """Someone a changelog names by id alone, as the ticket knows them or Jira tells (GET /user)."""
        if who is None or who.id in known:
            return known.get(who.id) if who is not None else None
        cached = self._people.get(who.id)
        if cached is None:
            params = {"accountId": who.id} if self.cloud else {"key": who.id}
            try:
                found: Any = self._call(lambda: self._client()._get_json("user", params=params))
                cached = person(found) or who
            except TrackerError as exc:
                if exc.transient:
                    raise
                cached = who  # not visible to ticketwarden's account: known by id and display name
            self._people[who.id] = cached
        return dataclasses.replace(cached, name=cached.name or who.name)

    def _person(self, who: Person | None, project: str) -> Person | None:
        """Someone with their Jira groups and their roles in the project (what staff rules look at)."""
        return self._with_roles(self._with_groups(who), project)

    def _with_people(self, ticket: Ticket) -> Ticket:
        return dataclasses.replace(ticket, author=self._person(ticket.author, ticket.project),
                                   assignee=self._person(ticket.assignee, ticket.project))

    def _with_roles(self, who: Person | None, project: str) -> Person | None:
        """The person with their roles in the project (staff rules may name project roles)."""
        if who is None or not project:
            return who
        members = self._role_members(project)
        roles = tuple(name for name, ids in members.items() if who.id in ids or (who.login and who.login in ids))
        return dataclasses.replace(who, roles=roles) if roles else who

    def _role_members(self, project: str) -> dict[str, set[str]]:
        """Project role name -> ids (accountId, or name on Server) of its user actors, cached a while."""
        cached = self._roles.get(project)
        if cached is not None and time.monotonic() - cached[0] < GROUPS_TTL:
            return cached[1]
        members: dict[str, set[str]] = {}
        try:
            client = self._client()
            urls: Any = self._call(lambda: client._get_json(f"project/{project}/role"))
            for name, url in urls.items():
                path = f"project/{project}/role/{str(url).rstrip('/').rsplit('/', 1)[1]}"
                role: Any = self._call(lambda path=path: client._get_json(path))  # type: ignore[misc]
                actors = [a for a in role.get("actors") or [] if a.get("type") == "atlassian-user-role-actor"]
                members[name] = {str((a.get("actorUser") or {}).get("accountId") or a.get("name")) for a in actors}
        except TrackerError as exc:
            if exc.transient:
                raise
            log.warning("cannot read the roles of project %s (%s): staff roles unknown", project, exc)
        self._roles[project] = (time.monotonic(), members)
        return members

    def _with_groups(self, who: Person | None) -> Person | None:
        """The person with their Jira groups (GET /user?expand=groups), cached a while."""
        if who is None:
            return None
        cached = self._groups.get(who.id)
        if cached is None or time.monotonic() - cached[0] > GROUPS_TTL:
            by = "accountId" if self.cloud else ("username" if who.login else "key")
            ref = who.id if self.cloud else (who.login or who.id)
            try:
                found: Any = self._call(lambda: self._client()._get_json("user", params={by: ref, "expand": "groups"}))
                names = tuple(item["name"] for item in (found.get("groups") or {}).get("items") or [])
            except TrackerError as exc:
                if exc.transient:
                    raise
                names = ()  # not visible to ticketwarden's account: no groups to go by
            cached = (time.monotonic(), names)
            self._groups[who.id] = cached
        return dataclasses.replace(who, groups=cached[1]) if cached[1] else who

    def snapshot(self, body: dict[str, Any]) -> tuple[Event, Ticket | None]:
        """The Event and the ticket as the delivery showed it (for replays)."""
        event = event_from_body(body, self.field_names())
        issue = body.get("issue") or (body.get("poll") or {}).get("issue")
        if not event.triggers or not issue or "fields" not in issue:
            return event, None
        return event, ticket_from_issue(issue, self.url, self.field_names())

    def poll(self, since: datetime, overlap: timedelta) -> Iterator[Polled]:
        """Happenings since `since` (minus overlap): creations, changelog entries, comments.

        JQL times are read in the Jira user's time zone, so the query asks relative to Jira's
        own clock (`updated >= "-Nm"`) and the exact cut is made here on the returned times.
        """
        from ticketwarden.clock import utcnow  # wall time only for the width of the window

        floor = since - overlap
        minutes = max(1, math.ceil((utcnow() - floor).total_seconds() / 60) + 1)
        jql = f'updated >= "-{minutes}m" ORDER BY updated ASC'
        for issue in self._search(jql):
            fields = issue.get("fields") or {}
            updated = parse_time(fields.get("updated"))
            bodies: list[dict[str, Any]] = []
            created = parse_time(fields.get("created"))
            if created is not None and created >= floor:
                bodies.append({"poll": {"issue": issue, "changelog": None, "comment": None}})
            for history in (issue.get("changelog") or {}).get("histories") or []:
                at = parse_time(history.get("created"))
                if at is not None and at >= floor and created is not None and at > created:
                    bodies.append({"poll": {"issue": issue, "changelog": history, "comment": None}})
            for comment in (fields.get("comment") or {}).get("comments") or []:
                at = parse_time(comment.get("created"))
                if at is not None and at >= floor:
                    bodies.append({"poll": {"issue": issue, "changelog": None, "comment": comment}})
            for body in bodies:
                delivery = classify(body)
                yield Polled(delivery.shape, delivery.dedup_key, body, updated, str(delivery.issue_id))

    def _search(self, jql: str) -> Iterator[dict[str, Any]]:
        client = self._client()
        if self.cloud and hasattr(client, "enhanced_search_issues"):
            token: str | None = None
            while True:
                page: Any = self._call(lambda token=token: client.enhanced_search_issues(  # type: ignore[misc]
                    jql, nextPageToken=token, maxResults=50, fields="*all", expand="changelog", json_result=True))
                yield from page.get("issues", [])
                token = page.get("nextPageToken")
                if not token or page.get("isLast", True):
                    return
        start = 0
        while True:
            result: Any = self._call(lambda start=start: client.search_issues(  # type: ignore[misc]
                jql, startAt=start, maxResults=50, fields="*all", expand="changelog", json_result=True))
            issues = result.get("issues", [])
            yield from issues
            start += len(issues)
            if not issues or start >= result.get("total", 0):
                return

    # -- history (backfill) --------------------------------------------------------------------

    def past_ticket_ids(self, since: datetime) -> list[str]:
        """Issues created at or after `since`, oldest first (relative JQL, as the poller asks)."""
        from ticketwarden.clock import utcnow  # wall time only for the width of the window

        minutes = max(1, math.ceil((utcnow() - since).total_seconds() / 60) + 1)
        ids = []
        for issue in self._search(f'created >= "-{minutes}m" ORDER BY created ASC'):
            created = parse_time((issue.get("fields") or {}).get("created"))
            if created is not None and created >= since:
                ids.append(str(issue["id"]))
        return ids

    def history(self, ticket_id: str) -> list[tuple[Event, Ticket]]:
        """The issue's life, read from its changelog and comments: each happening with the issue
        as it was just after it (people's groups and roles as they are now)."""
        issue = self.fetch_issue(ticket_id, expand="changelog")
        if issue is None:
            return []
        statuses: Any = self._call(lambda: self._client().statuses())
        categories = {str(s.name): str(getattr(getattr(s, "statusCategory", None), "key", "")) for s in statuses}
        names = self.field_names()
        steps = []
        for body, snapshot in issue_history(issue, categories, names):
            event = event_from_body(body, names)
            ticket = self._with_people(ticket_from_issue(snapshot, self.url, names))
            steps.append((dataclasses.replace(event, actor=self._person(event.actor, ticket.project)), ticket))
        return steps

    # -- writing -----------------------------------------------------------------------------

    def apply(self, effect: Effect, first_attempt: bool) -> str:
        appliers: dict[str, Callable[[Effect, bool], str]] = {
            "set": self._apply_set, "comment": self._apply_comment, "transition": self._apply_transition,
            "assign": self._apply_assign, "add_watcher": self._apply_watcher, "link": self._apply_link}
        applier = appliers.get(effect.action)
        if applier is None:
            raise TrackerError(f"action {effect.action!r} is not supported by Jira", transient=False)
        return applier(effect, first_attempt)

    def _apply_comment(self, effect: Effect, first_attempt: bool) -> str:
        return self.apply_together([effect], first_attempt)[0]

    def _apply_set(self, effect: Effect, first_attempt: bool) -> str:
        standard = effect.params.get("standard", {})
        if "status" in standard:
            self._transition_to(effect.ticket_id, str(standard["status"]))
        if "assignee" in standard:
            self._assign(effect.ticket_id, standard["assignee"])
        fields: dict[str, Any] = {}
        outcome = self._plan_fields(effect, fields)
        if fields:
            self._edit(effect.ticket_id, fields)
        return outcome

    def _edit(self, issue_id: str, fields: dict[str, Any]) -> None:
        """PUT /issue/{id}: one request (the library's Issue.update reads the issue before and after)."""
        client = self._client()
        url = client._get_url(f"issue/{issue_id}")
        body = json.dumps({"fields": fields})
        self._call(lambda: client._session.put(url, params={"notifyUsers": "false"}, data=body))

    def mergeable(self, effects: list[Effect]) -> bool:
        """Effects on one issue written as one edit plus one comment: field changes (not status
        or assignee, which take requests of their own) and comments of one visibility, which
        become one comment (see connector.notes) written after the edit."""
        privacy = {bool(effect.params.get("private")) for effect in effects if effect.action == "comment"}
        fields_only = all(e.action == "set" and not {"status", "assignee"} & set(e.params.get("standard", {}))
                          for e in effects if e.action != "comment")
        return fields_only and len(privacy) <= 1 and len({effect.ticket_id for effect in effects}) == 1

    def apply_together(self, effects: list[Effect], first_attempt: bool) -> list[str]:
        """One edit with every field the `set` effects change, then the comments as one (see
        `mergeable`); on a retry, comments an earlier attempt wrote are left out."""
        fields: dict[str, Any] = {}
        planned = {effect.key: self._plan_fields(effect, fields) for effect in effects if effect.action == "set"}
        if fields:
            self._edit(effects[0].ticket_id, fields)
        commenting = [effect for effect in effects if effect.action == "comment"]
        if commenting:
            private = bool(commenting[0].params.get("private"))
            bodies = [str(effect.params["body"]) for effect in commenting]
            missing = notes.to_write(bodies, first_attempt, lambda: self._own_comments(effects[0].ticket_id))
            if any(missing):
                unsent = [body for body, wanted in zip(bodies, missing, strict=True) if wanted]
                self._comment(effects[0].ticket_id, notes.joined(unsent), private)
            for effect, written in zip(commenting, missing, strict=True):
                planned[effect.key] = ("comment already present (earlier attempt reached Jira)" if not written
                                       else "internal comment added" if private else "public comment added")
        return [planned[effect.key] for effect in effects]

    def _plan_fields(self, effect: Effect, fields: dict[str, Any]) -> str:
        """Add a `set`'s field changes to an edit (status and assignee are written apart)."""
        done = []
        for name, value in effect.params.get("standard", {}).items():
            fields.update(_standard_field(name, value))
            done.append(name)
        for ref, value in effect.params.get("custom", {}).items():
            field = self._field(ref)
            fields[field["id"]] = _field_value(field, value)
            done.append(field.get("name", ref))
        return f"set {', '.join(done)}"

    def _comment(self, issue_id: str, body: str, private: bool) -> None:
        if private and self._visibility:
            kind, _, value = self._visibility.partition(":")
            self._call(lambda: self._client().add_comment(issue_id, body, visibility={"type": kind, "value": value}))
        else:
            self._call(lambda: self._client().add_comment(issue_id, body, is_internal=private))

    def _own_comments(self, issue_id: str) -> list[str]:
        """The comments ticketwarden's own user wrote on an issue."""
        me = self.service_user().id
        comments = self._call(lambda: self._client().comments(issue_id))
        return [text_of(getattr(c, "body", "")).strip() for c in comments
                if (person(c.raw.get("author")) or Person("")).id == me]

    def _apply_transition(self, effect: Effect, first_attempt: bool) -> str:
        name = str(effect.params["status"])
        self._transition_to(effect.ticket_id, name)
        if effect.params.get("comment"):
            comment = str(effect.params["comment"])
            if notes.to_write([comment], first_attempt, lambda: self._own_comments(effect.ticket_id))[0]:
                self._comment(effect.ticket_id, comment, bool(effect.params.get("private")))
        return f"moved to {name}"

    def _transition_to(self, issue_id: str, status: str) -> None:
        """Take the transition that leads to `status` (or is named so), filling a required
        resolution with Done; other required fields without defaults are an error naming them."""
        client = self._client()
        issue = self.fetch_issue(issue_id)
        if issue is None:
            raise TrackerError(f"issue {issue_id} not found", transient=False, status=404)
        if ((issue.get("fields") or {}).get("status") or {}).get("name", "").casefold() == status.casefold():
            return
        transitions = self._call(lambda: client.transitions(issue_id, expand="transitions.fields"))
        chosen = next((t for t in transitions if (t.get("to") or {}).get("name", "").casefold() == status.casefold()),
                      None) or next((t for t in transitions if t.get("name", "").casefold() == status.casefold()), None)
        if chosen is None:
            names = ", ".join(f"{t.get('name')} -> {(t.get('to') or {}).get('name')}" for t in transitions)
            raise TrackerError(f"no transition of {issue_id} leads to {status!r} (available: {names})",
                               transient=False)
        fields: dict[str, Any] = {}
        missing = []
        for field_id, spec in (chosen.get("fields") or {}).items():
            if not spec.get("required") or spec.get("hasDefaultValue"):
                continue
            if field_id == "resolution":
                allowed = [v.get("name") for v in spec.get("allowedValues") or []]
                fields["resolution"] = {"name": "Done" if "Done" in allowed or not allowed else allowed[0]}
            else:
                missing.append(spec.get("name", field_id))
        if missing:
            raise TrackerError(f"transition {chosen.get('name')!r} requires {', '.join(missing)}", transient=False)
        self._call(lambda: client.transition_issue(issue_id, str(chosen["id"]), fields=fields or None))

    def create_issue(self, marker: str, project: str, issue_type: str, summary: str, description: str = "",
                     fields: dict[str, Any] | None = None, assignee: str | None = None,
                     due_date: str | None = None) -> Created:
        """Create an issue once per `marker`: one carrying the marker's label is looked for
        first, so a retry after a lost answer finds it instead of creating another (and still
        assigns it when the assignment after the creation is what failed)."""
        label = creation_label(marker)
        found: Any = self._call(lambda: self._client().search_issues(
            f'project = "{project}" AND labels = "{label}"', maxResults=1, fields="summary,assignee",
            json_result=True))
        if found.get("issues"):
            issue = found["issues"][0]
            if assignee and not (issue.get("fields") or {}).get("assignee"):
                self._assign(str(issue["key"]), assignee)
            return Created(str(issue["id"]), str(issue["key"]), f"{self.url}/browse/{issue['key']}", new=False)
        # Jira refuses a summary with a line break (a multi-line subject template): one line.
        payload: dict[str, Any] = {"project": {"key": project}, "issuetype": {"name": issue_type},
                                   "summary": " ".join(summary.split())[:255], "description": description,
                                   "labels": [label]}
        if due_date:
            payload["duedate"] = due_date[:10]
        for ref, value in (fields or {}).items():
            field = self._field(ref)
            payload[field["id"]] = _field_value(field, value)
        created = self._call(lambda: self._creating_client().create_issue(fields=payload))
        if assignee:
            self._assign(str(created.key), assignee)
        return Created(str(created.id), str(created.key), f"{self.url}/browse/{created.key}")

    def publish_issue(self, marker: str, project: str, issue_type: str, summary: str, description: str,
                      labels: Sequence[str] = ()) -> str:
        """An issue holding a report or an article: created once per `marker` (a period, an
        article's key), brought up to date when published again; `labels` are added (an
        article's product index). Returns its address."""
        created = self.create_issue(marker, project, issue_type, summary, description)
        if not created.new:
            self._call(lambda: self._client().issue(created.key, fields="summary").update(
                fields={"summary": " ".join(summary.split())[:255], "description": description}, notify=False))
        if labels:
            client = self._client()
            body = json.dumps({"update": {"labels": [{"add": label} for label in labels]}})
            self._call(lambda: client._session.put(client._get_url(f"issue/{created.key}"),
                                                   params={"notifyUsers": "false"}, data=body))
        return created.url

    def link_issues(self, key: str, others: Sequence[str], type_name: str = "Relates") -> list[str]:
        """Link issue `key` (the inward side) to each of `others` unless a link of `type_name`
        already joins the two, so publishing again adds none (a report to its review's lessons
        and decisions issues). Returns the keys newly linked."""
        issue: Any = self._call(lambda: self._client().issue(key, fields="issuelinks").raw)
        added = []
        for other in others:
            if other != key and not _linked(issue, other, type_name):
                self._call(lambda other=other: self._client().create_issue_link(  # type: ignore[misc]
                    type_name, key, other))
                added.append(other)
        return added

    def read_published(self, marker: str, project: str) -> WrittenText | None:
        """The description of the issue `publish_issue` keeps for `marker` (None before it is
        created), and whether ticketwarden wrote it: nobody else has changed the description
        since the issue was created (its changelog)."""
        label = creation_label(marker)
        found: Any = self._call(lambda: self._client().search_issues(
            f'project = "{project}" AND labels = "{label}"', maxResults=1, fields="summary", json_result=True))
        if not found.get("issues"):
            return None
        key = str(found["issues"][0]["key"])
        issue = self.fetch_issue(key, expand="changelog")
        if issue is None:
            return None
        me, ours = self.service_user().id, True
        histories = (issue.get("changelog") or {}).get("histories") or []
        for history in sorted(histories, key=lambda h: t.timestamp() if (t := parse_time(h.get("created"))) else 0.0):
            if any("description" in (item.get("fieldId"), item.get("field")) for item in history.get("items") or []):
                ours = (person(history.get("author")) or Person("")).id == me
        description = text_of((issue.get("fields") or {}).get("description"))
        return WrittenText(description, ours, f"{self.url}/browse/{key}")

    def _assign(self, issue_id: str, user: Any) -> None:
        target = None if not user or str(user).casefold() == "nobody" else str(user)
        self._call(lambda: self._client().assign_issue(issue_id, target))

    def _apply_assign(self, effect: Effect, first_attempt: bool) -> str:
        self._assign(effect.ticket_id, effect.params["to"])
        return f"assigned to {effect.params['to']}"

    def _apply_watcher(self, effect: Effect, first_attempt: bool) -> str:
        client = self._client()
        user = self._call(lambda: client._get_user_id(str(effect.params["user"])))
        self._call(lambda: client.add_watcher(effect.ticket_id, user))
        return f"{effect.params['user']} watches"

    def _apply_link(self, effect: Effect, first_attempt: bool) -> str:
        type_name, this_is_inward = LINK_TYPES.get(str(effect.params.get("relation", "relates")), ("Relates", True))
        this = self.fetch_issue(effect.ticket_id)
        if this is None:
            raise TrackerError(f"issue {effect.ticket_id} not found", transient=False, status=404)
        other = str(effect.params["to"])
        if _linked(this, other, type_name):
            return f"already linked to {other} ({type_name})"
        inward, outward = (this["key"], other) if this_is_inward else (other, this["key"])
        self._call(lambda: self._client().create_issue_link(type_name, inward, outward))
        return f"linked to {other} ({type_name})"


def _linked(issue: dict[str, Any], other: str, type_name: str) -> bool:
    """Whether the issue (as GET /issue shows it) has a link of `type_name` to `other` (key or id)."""
    for link in (issue.get("fields") or {}).get("issuelinks") or []:
        linked = link.get("outwardIssue") or link.get("inwardIssue") or {}
        if other in (linked.get("key"), linked.get("id")) and (link.get("type") or {}).get("name") == type_name:
            return True
    return False


def creation_label(marker: str) -> str:
    """The label an issue we create carries, so a retry finds it instead of creating another."""
    return f"tw-{marker[:40]}"


def _field_value(field: dict[str, Any], value: Any) -> Any:
    """A value in the shape the field's schema wants (options by value, users by id)."""
    if value in (None, ""):
        return None
    schema = field.get("schema") or {}
    kind, items = schema.get("type"), schema.get("items")
    if kind == "option":
        return {"value": value}
    if kind == "array" and items == "option":
        return [{"value": item} for item in (value if isinstance(value, list) else [value])]
    if kind == "array":
        return value if isinstance(value, list) else [value]
    if kind == "number":
        return float(value)
    if kind == "datetime":  # Jira wants 2026-03-02T21:00:00.000+0000, not ISO's +00:00
        moment = parse_time(value)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000%z") if moment else value
    if kind == "date":
        return str(value)[:10]
    if kind == "user":
        return {"accountId": value}
    return value


def _standard_field(name: str, value: Any) -> dict[str, Any]:
    """A standard field's part of an edit (status and assignee are not edits in Jira)."""
    if name == "priority":
        return {"priority": {"name": value}}
    if name == "subject":
        return {"summary": value or ""}
    if name == "description":
        return {"description": value or ""}
    if name == "labels":  # the whole set, comma- or space-separated
        return {"labels": [label for label in str(value or "").replace(",", " ").split() if label]}
    return {}


def _retry_after(exc: JIRAError) -> float | None:
    """Seconds from a refusal's Retry-After header (a number of seconds, as Jira sends it)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _jira_message(exc: JIRAError) -> str:
    """Jira's own words: `errorMessages` and `errors` from the response body."""
    response = getattr(exc, "response", None)
    try:
        data = response.json() if response is not None else {}
    except ValueError:
        data = {}
    parts = list(data.get("errorMessages") or [])
    parts += [f"{field}: {message}" for field, message in (data.get("errors") or {}).items()]
    return "; ".join(parts) or str(exc.text or exc)
