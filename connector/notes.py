"""Several rules' notes on one ticket written as one note.

Redmine takes one note per save and Jira one comment per request, and each note is a
notification to everyone watching the ticket. So the notes of the same visibility that
ticketwarden writes to a ticket at one time become paragraphs of one note, in the order the
rules planned them; the outbox still holds, applies and audits each rule's effect on its own.

A retried write must not repeat a note an earlier attempt wrote: a note counts as written
when one of ticketwarden's own notes on the ticket holds it as whole paragraphs, alone or
beside others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

SEPARATOR = "\n\n"


def joined(bodies: Sequence[str]) -> str:
    """One note made of these notes, each its own paragraph(s)."""
    return SEPARATOR.join(body.strip() for body in bodies)


def holds(note: str, body: str) -> bool:
    """Whether `note` (one we wrote) carries `body` as whole paragraphs."""
    note, body = note.strip(), body.strip()
    if not body:
        return False
    return (note == body or note.startswith(body + SEPARATOR) or note.endswith(SEPARATOR + body)
            or SEPARATOR + body + SEPARATOR in note)


def unwritten(bodies: Sequence[str], own_notes: Iterable[str]) -> list[bool]:
    """For each body, whether none of our own notes holds it yet."""
    notes = list(own_notes)
    return [not any(holds(note, body) for note in notes) for body in bodies]


def to_write(bodies: Sequence[str], first_attempt: bool, own_notes: Callable[[], Iterable[str]]) -> list[bool]:
    """For each body, whether to write it: all on a first attempt; on a retry (an earlier
    attempt may have reached the tracker), those none of our own notes holds yet, read from
    the tracker only then."""
    if first_attempt or not bodies:
        return [True] * len(bodies)
    return unwritten(bodies, own_notes())
