"""One Ticket / Event model shared by every tracker.

Connectors translate tracker payloads into these values; rules only ever see these values, so
one rulebook serves Redmine and Jira alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Person:
    """Someone acting on a tracker. `id` is the tracker's own id, as a string."""

    id: str
    login: str = ""
    name: str = ""
    email: str = ""
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # roles in the ticket's project, where the tracker tells

    def matches(self, value: str) -> bool:
        """A person matches their id, login or display name (case-insensitive)."""
        wanted = value.casefold()
        return wanted in {self.id.casefold(), self.login.casefold(), self.name.casefold()}


@dataclass(frozen=True)
class SlaCycle:
    """One cycle of an SLA the tracker times itself: when it started (and stopped, once
    completed), when it breaches, whether it did, and its goal, elapsed and remaining time
    (remaining is negative past the breach)."""

    start: datetime | None = None
    stop: datetime | None = None
    breach_at: datetime | None = None
    breached: bool = False
    paused: bool = False
    within_calendar_hours: bool | None = None
    goal: timedelta | None = None
    elapsed: timedelta | None = None
    remaining: timedelta | None = None


@dataclass(frozen=True)
class TrackerSla:
    """An SLA the tracker keeps itself (Jira Service Management's SLA fields, such as "Time to
    resolution"): rules may act on it besides ticketwarden's own clocks."""

    name: str
    ongoing: SlaCycle | None = None
    completed: tuple[SlaCycle, ...] = ()
    field_id: str = ""


@dataclass(frozen=True)
class Ticket:
    """A snapshot of a ticket as a rule sees it.

    `custom_fields` is keyed by the tracker's field name; `custom_field_ids` maps the same names
    to the tracker's ids, so a rulebook may reference a field by either.
    """

    tracker_kind: str
    id: str
    key: str
    url: str
    project: str
    project_name: str
    tracker: str
    status: str
    priority: str
    subject: str
    description: str = ""
    author: Person | None = None
    assignee: Person | None = None
    created: datetime | None = None
    updated: datetime | None = None
    closed: datetime | None = None
    is_closed: bool = False
    labels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # Redmine's category, Jira's components
    fix_versions: tuple[str, ...] = ()  # Jira's fix versions
    participants: tuple[Person, ...] = ()  # Jira Service Management request participants
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    custom_field_ids: Mapping[str, str] = field(default_factory=dict)
    tracker_slas: tuple[TrackerSla, ...] = ()  # SLAs the tracker times itself (Jira Service Management)

    def before(self, changes: Sequence[Change]) -> Ticket:
        """The ticket as it was before `changes` (what an event changed), as far as they tell:
        plain fields take their old value, people their old person, multi-value fields lose
        what came and regain what went, custom fields their old value."""
        values: dict[str, Any] = {}
        custom = dict(self.custom_fields)
        for change in reversed(changes):
            if change.field.startswith("cf:"):
                custom[change.field[3:]] = change.old
            elif change.field in _PLAIN_FIELDS:
                values[change.field] = change.old or ""
            elif change.field == "project":
                values["project"] = values["project_name"] = change.old or ""
            elif change.field in ("assignee", "author"):
                values[change.field] = change.old_person or (Person("", name=change.old) if change.old else None)
            elif change.field in _MULTI_FIELDS and change.of_values:
                attribute = _MULTI_FIELDS[change.field]
                current = values.get(attribute, getattr(self, attribute))
                values[attribute] = tuple(v for v in current if v not in change.added) + tuple(change.removed)
        return dataclasses.replace(self, custom_fields=custom, **values)

    def custom_field(self, reference: str) -> Any:
        """The value of a custom field referenced by name or id (None when absent)."""
        if reference in self.custom_fields:
            return self.custom_fields[reference]
        for name, field_id in self.custom_field_ids.items():
            if field_id == reference:
                return self.custom_fields.get(name)
        return None


_PLAIN_FIELDS = ("status", "priority", "tracker", "subject", "description")
_MULTI_FIELDS = {"labels": "labels", "category": "categories", "components": "categories",
                 "fix_versions": "fix_versions"}


@dataclass(frozen=True)
class Change:
    """One field changed by the triggering event.

    `field` is a standard field name (status, priority, assignee, tracker, subject, ...) or
    `cf:<tracker field name>` for custom fields. Values are display values (names, not ids).

    A multi-value field (labels, components, multi-selects) also says which values came and
    which went, since trackers report it as one joined text or as one detail per value; a
    field holding a person carries the people, so they match by id, login or display name.
    """

    field: str
    old: str | None
    new: str | None
    field_id: str = ""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    old_person: Person | None = None
    new_person: Person | None = None

    @property
    def of_values(self) -> bool:
        """A change of a multi-value field: values came or went."""
        return bool(self.added or self.removed)


@dataclass(frozen=True)
class Comment:
    text: str
    private: bool = False
    key: str = ""  # the inbox key of a delivery about this comment alone, where the tracker sends one


@dataclass(frozen=True)
class Event:
    """Something that happened to a ticket.

    `id` is stable across deliveries of the same happening (webhook, poll, replay), so it is
    the basis of every idempotency key. `triggers` is the set of rule triggers it fires: a
    journal that changes the status and adds a note is both ticket.updated and
    ticket.commented.
    """

    id: str
    tracker_kind: str
    ticket_id: str
    triggers: frozenset[str]
    occurred_at: datetime
    actor: Person | None = None
    changes: tuple[Change, ...] = ()
    comment: Comment | None = None
    sla_policy: str | None = None
    # Facts about another issue the event is about: {"development": {...}} when a development
    # issue this ticket was escalated to changed; {"record": {...}} for a record's reminders.
    related: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Other happenings of the same save that the tracker recorded (and delivers) apart: Redmine
    # splits a change with a private note into a journal of changes and one of the note.
    parts: tuple[Event, ...] = ()
    # A reopen that undoes a close a rule refused ("no closing without an origin" sending it
    # back): the clocks continue their cycle instead of starting a new one.
    close_refused: bool = False

    def including(self, parts: Sequence[Event]) -> Event:
        """This event as one save with `parts` (earlier journals of it): their changes and
        triggers join this event's; `parts` records which were taken in, to be claimed."""
        if not parts:
            return dataclasses.replace(self, parts=())
        changes = tuple(change for part in parts for change in part.changes) + self.changes
        triggers = frozenset().union(self.triggers, *(part.triggers for part in parts))
        return dataclasses.replace(self, changes=changes, triggers=triggers, parts=tuple(parts))

    def change_of(self, field_name: str) -> Change | None:
        for change in self.changes:
            if change.field == field_name:
                return change
        return None

    def change_of_custom(self, reference: str) -> Change | None:
        """The change of a custom field referenced by tracker name or id."""
        for change in self.changes:
            if change.field == f"cf:{reference}" or (change.field_id and change.field_id == reference):
                return change
        return None


@dataclass(frozen=True)
class Effect:
    """A change to write back to the tracker, planned by a rule.

    `key` is the idempotency key (ticket, rule, event, action): the store records it once and
    the connector applies it once, however often the event is delivered.
    """

    key: str
    action: str
    tracker_kind: str
    ticket_id: str
    rule: str
    params: Mapping[str, Any]
