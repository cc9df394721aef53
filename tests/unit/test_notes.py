"""Several notes written as one (connector.notes): each stays whole paragraphs of the note, so
a retry can tell which are written already."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.notes import holds, joined, unwritten

# A note's own text: lines of printable characters, maybe with blank lines inside.
paragraph = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(str.strip) \
    .filter(bool)
body = st.lists(paragraph, min_size=1, max_size=3).map("\n\n".join)


def test_notes_are_paragraphs_in_their_order():
    assert joined(["Checked the logs.", "  Premium plan.\n"]) == "Checked the logs.\n\nPremium plan."


@given(st.lists(body, min_size=1, max_size=5))
def test_a_joined_note_holds_each_of_its_notes(bodies):
    note = joined(bodies)
    assert all(holds(note, each) for each in bodies)
    assert unwritten(bodies, ["unrelated", note]) == [False] * len(bodies)


def test_part_of_a_paragraph_is_not_held():
    note = joined(["Step one done.", "Step two done."])
    assert not holds(note, "Step one")
    assert not holds(note, "done.")
    assert not holds(note, "")
    assert holds(note, "Step two done.")
    assert unwritten(["Step one done.", "Step three done."], [note]) == [False, True]
    assert unwritten(["Step one done."], []) == [True]
