"""Quality records, pure parts: the ISO 9001 10.2 record's text and the dates its lifecycle
watches (reminder before the corrective action is due, overdue, effectiveness review due).

A record (a nonconformity or an observation) is an issue in the quality project. Its parts go
into tracker fields where the rulebook maps them and, always, into a structured description,
so a tracker without those fields still holds the whole record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rules.messages import DEFAULT, LOCALES, Messages

# Lifecycle markers, in the order they normally fire.
REMINDER, OVERDUE, REVIEW_DUE = "reminder", "overdue", "review_due"
TRIGGER_OF = {REMINDER: "record.reminder", OVERDUE: "record.overdue", REVIEW_DUE: "record.review_due"}
# Record parts that can be written to tracker fields (option `record_fields`).
RECORD_PARTS = ("clause", "severity", "owner", "action_due", "review_due", "containment", "sources", "cause")


def record_description(parts: Mapping[str, Any], locale: str = "en", messages: Messages = DEFAULT) -> str:
    """The whole record as text: tracker wiki markup that Redmine (Textile) and Jira (wiki
    markup) both render as headings, and that reads well as plain text."""
    def text(key: str, **values: Any) -> str:
        return messages.text(locale, key, **values)

    kind = text("record.kind." + str(parts.get("kind", "nonconformity")))
    sources = ", ".join(f"{s.get('key')} ({s.get('url')})" if s.get("url") else str(s.get("key"))
                        for s in parts.get("sources", []) or []) or "-"
    lines = [
        text("record.heading", kind=kind),
        "",
        f"* {text('record.clause')}: {parts.get('clause') or '-'}",
        f"* {text('record.severity')}: {parts.get('severity') or '-'}",
        f"* {text('record.sources')}: {sources}",
        f"* {text('record.opened_by')}: {parts.get('rule') or '-'} ({_day(parts.get('opened'))})",
        "",
        f"h3. {text('record.description')}",
        "",
        str(parts.get("description") or "-"),
        "",
        f"h3. {text('record.containment')}",
        "",
        str(parts.get("containment") or text("record.to_fill")),
        "",
        f"h3. {text('record.root_cause')}",
        "",
        *[f"# {text('record.why')}" for _ in range(5)],
        "",
        f"h3. {text('record.corrective_action')}",
        "",
        f"* {text('record.owner')}: {parts.get('owner') or text('record.to_assign')}",
        f"* {text('record.due')}: {_day(parts.get('action_due'))}",
        f"* {text('record.actions')}: {text('record.to_fill')}",
        "",
        f"h3. {text('record.effectiveness')}",
        "",
        f"* {text('record.due')}: {_day(parts.get('review_due'))}",
        f"* {text('record.result')}: {text('record.to_fill')}",
    ]
    return "\n".join(lines)


def record_outcome(description: str, messages: Messages = DEFAULT, locale: str | None = None) -> dict[str, str]:
    """What people wrote in a closed record's skeleton (`record_description`): the root cause
    (the answered whys), the corrective actions and the effectiveness review's result, for the
    lessons-learned register. The skeleton is read with the headings it was written with: the
    rulebook's `messages` (its `locale` first), then the catalogue's own wording (a record
    opened before the rulebook reworded them), in either language; parts still "(to fill in)"
    are left out."""
    sections = _sections((description or "").splitlines())
    locales = [*([locale] if locale in LOCALES else []), *(name for name in LOCALES if name != locale)]
    catalogues = [messages, DEFAULT] if messages.overrides else [messages]
    for catalogue in catalogues:
        for language in locales:
            found = _outcome(sections, catalogue, language)
            if found is not None:
                return found
    return {}


def _outcome(sections: Mapping[str, list[str]], messages: Messages, locale: str) -> dict[str, str] | None:
    """The filled-in parts of a skeleton whose headings are `messages`' in `locale` (None when
    the skeleton has none of them)."""
    def text(key: str) -> str:
        return messages.text(locale, key).strip()

    if text("record.corrective_action") not in sections and text("record.root_cause") not in sections:
        return None
    unfilled = {text("record.to_fill"), text("record.why"), "-", ""}
    whys = [line.strip().lstrip("#*").strip() for line in sections.get(text("record.root_cause"), [])
            if line.strip().startswith(("#", "*"))]
    found = {
        "root_cause": "; ".join(why for why in whys if why not in unfilled),
        "corrective_action": _item(sections.get(text("record.corrective_action"), []), text("record.actions")),
        "result": _item(sections.get(text("record.effectiveness"), []), text("record.result")),
    }
    return {part: value for part, value in found.items() if value and value not in unfilled}


def _sections(lines: list[str]) -> dict[str, list[str]]:
    """The lines under each `h3.` heading (Textile and Jira markup alike) or `### ` heading."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        heading = stripped[4:].strip() if stripped.startswith("h3. ") else \
            stripped[4:].strip() if stripped.startswith("### ") else None
        if heading is not None:
            current = sections.setdefault(heading, [])
        elif current is not None and stripped:
            current.append(line.rstrip())
    return sections


def _item(lines: list[str], label: str) -> str:
    """`* Label: value` and its indented continuation lines, as one text."""
    found: list[str] = []
    for line in lines:
        item = line.strip().lstrip("*").strip()
        if item.startswith(f"{label}:"):
            found = [item[len(label) + 1:].strip()]
        elif found and line[:1].isspace() and not line.strip().startswith(("*", "#")):
            found.append(line.strip())
        elif found:
            break
    return " ".join(part for part in found if part)


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)[:10] if value else "-"


def reminders(action_due: datetime | None, review_due: datetime | None,
              remind_before: timedelta | None) -> list[tuple[str, datetime]]:
    """The moments a record's lifecycle events are owed, earliest first."""
    owed: list[tuple[str, datetime]] = []
    if action_due is not None:
        if remind_before:
            owed.append((REMINDER, action_due - remind_before))
        owed.append((OVERDUE, action_due))
    if review_due is not None:
        owed.append((REVIEW_DUE, review_due))
    return sorted(owed, key=lambda item: item[1])


def due_markers(owed: Sequence[tuple[str, datetime]], fired: Iterable[str], now: datetime) -> list[str]:
    """Markers whose moment has come and that have not fired yet.

    A reminder whose overdue moment has also passed is not sent any more: the overdue event
    says more (a service down for a week does not send a stale "due in 3 days").
    """
    done = set(fired)
    due = [marker for marker, at in owed if at <= now and marker not in done]
    if OVERDUE in due or OVERDUE in done:
        due = [marker for marker in due if marker != REMINDER]
    return due


def next_check(owed: Sequence[tuple[str, datetime]], fired: Iterable[str]) -> datetime | None:
    """When the sweep must look at the record next (None: nothing more is owed)."""
    done = set(fired)
    pending = [at for marker, at in owed if marker not in done and not (marker == REMINDER and OVERDUE in done)]
    return min(pending) if pending else None
