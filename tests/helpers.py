"""Plain-value builders for tests of the pure layers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rules.model import Change, Comment, Event, Person, Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ticket(**overrides: Any) -> Ticket:
    values: dict[str, Any] = dict(
        tracker_kind="redmine", id="42", key="#42", url="http://redmine.test/issues/42",
        project="support", project_name="Support", tracker="Incident", status="New",
        priority="Normal", subject="VPN down for ACME", description="Since 08:00",
        author=Person("7", "carol", "Carol Customer"), assignee=Person("6", "agent", "Alice Agent"),
        created=T0, updated=T0,
        custom_fields={"Failure origin": "unknown", "Team": "network", "Triage": None},
        custom_field_ids={"Failure origin": "1", "Team": "2", "Triage": "6"},
    )
    values.update(overrides)
    return Ticket(**values)


def event(*triggers: str, changes: tuple[Change, ...] = (), comment: Comment | None = None,
          actor: Person | None = None, event_id: str = "redmine:issue:42:journal:1",
          related: dict[str, dict[str, str]] | None = None) -> Event:
    return Event(event_id, "redmine", "42", frozenset(triggers or ("ticket.updated",)), T0,
                 actor or Person("6", "agent", "Alice Agent"), changes, comment, related=related or {})


class MovableClock:
    """An application clock: the wall clock plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        from ticketwarden.clock import utcnow

        return utcnow() + self.offset
