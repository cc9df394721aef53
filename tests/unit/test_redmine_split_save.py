"""Redmine's split save (Journal#split_private_notes): the changes and the private note of one
save are two journals; the note's delivery takes the changes in."""

from datetime import UTC, datetime

import pytest

from connector.redmine_payloads import split_save_parts
from rules.model import Change, Comment, Event, Person

USER = {"id": 5, "name": "Alice Agent"}
CHANGES = {"id": 41, "user": USER, "notes": "", "private_notes": False, "created_on": "2026-11-22T10:00:07Z",
           "details": [{"property": "attr", "name": "status_id", "old_value": "2", "new_value": "4"}]}
NOTE = {"id": 42, "user": USER, "notes": "Asked for the export.", "private_notes": True,
        "created_on": "2026-11-22T10:00:07Z", "details": []}


def test_the_note_of_a_split_save_finds_the_changes_saved_with_it():
    earlier = {**CHANGES, "id": 40, "created_on": "2026-11-22T09:00:00Z"}
    assert split_save_parts(42, [earlier, NOTE, CHANGES]) == [CHANGES]


@pytest.mark.parametrize("note, changes", [
    ({**NOTE, "private_notes": False}, CHANGES),                                  # a public note is never split
    ({**NOTE, "details": CHANGES["details"]}, CHANGES),                            # the note carries its changes
    ({**NOTE, "notes": ""}, CHANGES),                                             # no note at all
    (NOTE, {**CHANGES, "user": {"id": 6, "name": "Bob"}}),                         # someone else's save
    (NOTE, {**CHANGES, "created_on": "2026-11-22T10:00:05Z"}),                     # another moment
    (NOTE, {**CHANGES, "notes": "A note of its own."}),                            # a journal of its own
], ids=["public", "note-with-details", "no-note", "other-user", "other-time", "own-note"])
def test_anything_else_is_not_a_split_save(note, changes):
    assert split_save_parts(note["id"], [changes, note]) == []


def test_an_event_including_its_parts_is_the_whole_save():
    at = datetime(2026, 11, 22, 10, 0, 7, tzinfo=UTC)
    actor = Person("5", "alice", "Alice Agent")
    change = Event("redmine:issue:7:journal:41", "redmine", "7", frozenset({"ticket.updated", "ticket.closed"}), at,
                   actor, (Change("status", "In Progress", "Closed"),))
    note = Event("redmine:issue:7:journal:42", "redmine", "7", frozenset({"ticket.commented"}), at, actor,
                 comment=Comment("Closing, see the log.", private=True), parts=(change,))
    whole = note.including(note.parts)
    assert whole.id == note.id and whole.comment == note.comment
    assert whole.triggers == {"ticket.updated", "ticket.closed", "ticket.commented"}
    assert whole.changes == change.changes and whole.parts == (change,)
    alone = note.including([])
    assert alone.triggers == note.triggers and alone.changes == () and alone.parts == ()
