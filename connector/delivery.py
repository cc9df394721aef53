"""What a connector reads out of one delivery before deciding whether the tracker must be asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.model import Event


@dataclass(frozen=True)
class Delivered:
    """A delivery's event and the ticket as the delivery itself showed it.

    `issue` is the tracker's own issue object from the body, or None when the body cannot be
    decided on alone (no issue in it, or a Redmine private note whose save the tracker split:
    the other half is only in the journals). `changed_at` is the tracker's time of the issue's
    last change (Redmine `updated_on`, Jira `updated`): the worker compares it with the newest
    state it has seen of the ticket, and asks the tracker only when the delivery may be stale.
    """

    event: Event
    issue: dict[str, Any] | None = None
    changed_at: datetime | None = None


def without_history(issue: dict[str, Any]) -> dict[str, Any]:
    """The issue without its history (Redmine's journals): the state to decide on and keep."""
    return {key: value for key, value in issue.items() if key != "journals"}
