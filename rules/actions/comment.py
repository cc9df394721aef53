"""`comment`: add a note to the ticket, public or private, from a template."""

from __future__ import annotations

from rules.actions import ActionSpec
from rules.schema import Option

OPTIONS = {
    "body": Option("template", required=True, doc="text of the note"),
    "private": Option("bool", default=False, doc="private note: visible to staff only"),
}

SPEC = ActionSpec(
    name="comment", summary="Add a public or private note to the ticket.", options=OPTIONS,
    example='- comment: {private: true, body: "Waiting for the customer since {{ event.occurred_at | iso }}"}',
)
