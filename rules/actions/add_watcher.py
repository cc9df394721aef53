"""`add_watcher`: add a person to the ticket's watchers."""

from __future__ import annotations

from rules.actions import ActionSpec
from rules.schema import Option

OPTIONS = {"user": Option("template", required=True, doc="user id, login or display name")}

SPEC = ActionSpec(
    name="add_watcher", summary="Add a watcher to the ticket.", options=OPTIONS,
    example="- add_watcher: {user: quality.manager}",
)
